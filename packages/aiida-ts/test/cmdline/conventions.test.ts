import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { printable } from '../../src/utils/printable.js';
import { CalcFunctionNode, Group, Str } from '../../src/orm.js';
import { verdiInProcess } from './verdi-in-process.js';

const base = mkdtempSync(join(tmpdir(), 'aiida-ts-conventions-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const verdi = verdiInProcess;

// a label that would clear the screen, set the window title and reorder the text after it
const EVIL = 'evil\u001b[2J\u001b]0;pwned\u0007\u202eroot\r\u009b31m';
const pk: Record<string, number> = {};

beforeAll(async () => {
  setConfigDir(join(base, '.aiida-ts'));
  expect((await verdi(['presto', '--profile-name', 'conventions'])).code).toBe(0);
  await loadProfile('conventions');
  try {
    pk.str = (await new Str('x', { label: EVIL, description: `about ${EVIL}` }).store()).pk!;
    const calc = new CalcFunctionNode(undefined, { label: 'calc' });
    calc.processType = 'fixture.evil';
    await calc.store();
    await calc.logs.report(`reporting ${EVIL}`);
    pk.calc = calc.pk!;
    await new Group({ label: `group ${EVIL}` }).store();
  } finally {
    await unloadProfile();
  }
});
afterAll(() => setConfigDir(undefined));

/** No raw control character of the label reached the output: only its visible escape. */
function expectShownNotObeyed(text: string): void {
  // eslint-disable-next-line no-control-regex -- the control characters are what must not be there
  expect(text).not.toMatch(/\u001b\[2J|\u001b\]|\u0007|\u202e|\r|\u009b/);
  expect(text).toContain(printable(EVIL));
}

describe('verdi prints data, never terminal commands hidden in it', () => {
  it('tables, node details, descriptions and process reports show escapes', async () => {
    for (const args of [
      ['group', 'list', '-a'],
      ['node', 'show', String(pk.str)],
      ['node', 'description', String(pk.str)],
      ['node', 'label', String(pk.str)],
      ['process', 'report', String(pk.calc)],
    ]) {
      const result = await verdi(args);
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
      expectShownNotObeyed(result.stdout);
    }
    // with colour on, verdi's own colours still pass, the label's sequences still do not
    const coloured = await verdi(['node', 'show', String(pk.str)], { FORCE_COLOR: '1' });
    expectShownNotObeyed(coloured.stdout);
    expect(printable('\u001b[2J\u001b[1mbold\u001b[22m', { colors: true })).toBe(
      '\\u001b[2J\u001b[1mbold\u001b[22m',
    );
  });

  it('identifiers typed on the command line are escaped in error messages too', async () => {
    const result = await verdi(['node', 'show', `${EVIL}-missing`]);
    expect(result.code).toBe(2);
    expectShownNotObeyed(result.stderr);
  });
});

describe('one exit code convention: an identifier that names nothing is a usage error (2), in every command', () => {
  it('says what was looked for, and exits with 2', async () => {
    const cases: [string[], string][] = [
      [
        ['node', 'show', '999999'],
        'invalid value for NODES: no node has pk 999999 or a uuid starting with `999999`',
      ],
      [
        ['node', 'show', 'abc'],
        'invalid value for NODES: no node has a uuid starting with `abc` or the label `abc`',
      ],
      [['node', 'attributes', 'nolabel'], 'invalid value for NODES: no node has the label `nolabel`'],
      [
        ['process', 'show', '999999'],
        'invalid value for PROCESSES: no node has pk 999999 or a uuid starting with `999999`',
      ],
      [
        ['process', 'report', String(pk.str)],
        `invalid value for PROCESSES: \`${pk.str}\` is node<${pk.str}> (Str), not a process`,
      ],
      [['process', 'list', '-G', 'nogroup'], 'invalid value for --group: no group found'],
      [['group', 'show', 'nogroup'], 'invalid value for GROUP: no group found'],
      [
        ['computer', 'show', 'nocomputer'],
        'invalid value for COMPUTER: no computer found with label, pk or uuid `nocomputer`',
      ],
      [['code', 'show', 'nocode'], 'invalid value for CODE: no code found'],
    ];
    for (const [args, message] of cases) {
      const result = await verdi(args);
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });
});
