/**
 * The options of `verdi archive create` run as the executable on a `verdi presto` profile holding two archives
 * aiida-core 2.8 wrote: compression levels, logs, comments and authentication information left out or in, and the
 * refusals. Each archive written is read back with Python's `zipfile` and `sqlite3`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectExit,
  pkOf,
  profileContents,
  pythonZip,
  readExpectedSummary,
  twoProfiles,
} from './archive-cli-support.js';
import { describeResult } from './verdi-process.js';

/** `presto` holds the fixtures; `second` is the profile an archive with authentication information goes into. */
const { sandbox, verdi, out, database, setup, cleanup } = twoProfiles(
  'aiida-ts-verdi-archive-create-options-',
  ['workchains', 'data_types'],
);
const outerOk = readExpectedSummary('workchains').nodes.find((node) => node.label === 'outer-ok')?.uuid ?? '';

beforeAll(setup, 60_000);
afterAll(cleanup);

describe('verdi archive create options', () => {
  it('--compress 0 stores the entries and --compress 9 deflates them', async () => {
    const stored = out('stored.aiida');
    const deflated = out('deflated.aiida');
    expectExit(await verdi(['archive', 'create', stored, '-G', 'data-types', '--compress', '0']), 0);
    expectExit(await verdi(['archive', 'create', deflated, '-G', 'data-types', '--compress', '9']), 0);
    const [storedZip, deflatedZip] = [pythonZip(stored), pythonZip(deflated)];
    expect(storedZip.compressTypes).toEqual([0]);
    expect(storedZip.metadata.compression).toBe(0);
    expect(deflatedZip.compressTypes).toEqual([8]);
    expect(deflatedZip.metadata.compression).toBe(9);
    expect(deflatedZip.db.nodes).toEqual(storedZip.db.nodes);
    expect(statSync(deflated).size).toBeLessThan(statSync(stored).size);
    for (const level of ['x', '10']) {
      const invalid = await verdi(['archive', 'create', out('invalid.aiida'), '--all', '--compress', level]);
      expect(invalid.code, describeResult(invalid)).toBe(2);
      expect(invalid.stderr).toContain('invalid value for --compress');
      expect(existsSync(out('invalid.aiida'))).toBe(false);
    }
  });

  it('--exclude-logs and --exclude-comments leave them out', async () => {
    const outer = String(pkOf(database(), outerOk));
    const withBoth = out('outer.aiida');
    expectExit(await verdi(['archive', 'create', withBoth, '-N', outer]), 0);
    const without = out('outer-bare.aiida');
    expectExit(
      await verdi(['archive', 'create', without, '-N', outer, '--exclude-logs', '--exclude-comments']),
      0,
    );
    const [full, bare] = [pythonZip(withBoth), pythonZip(without)];
    expect(full.db.logs).toBeGreaterThan(0);
    expect(full.db.comments).toBeGreaterThan(0);
    expect(bare.db.logs).toBe(0);
    expect(bare.db.comments).toBe(0);
    expect(bare.db.nodes).toEqual(full.db.nodes);
    expect(bare.metadata.creation_parameters.include_logs).toBe(false);
    expect(bare.metadata.creation_parameters.include_comments).toBe(false);
  });

  it('-Y writes a computer, with its authentication information only with --include-authinfos', async () => {
    const [bare, withAuth] = [out('computer.aiida'), out('computer-auth.aiida')];
    expectExit(await verdi(['archive', 'create', bare, '-Y', 'localhost']), 0);
    expectExit(await verdi(['archive', 'create', withAuth, '-Y', 'localhost', '--include-authinfos']), 0);
    expect(pythonZip(bare).db.authinfos).toBe(0);
    expect(pythonZip(bare).db.nodes).toEqual([]);
    expect(pythonZip(withAuth).db.authinfos).toBe(1);
    const second = database('second');
    const before = profileContents(second);
    const imported = await sandbox.verdi([
      '-p',
      'second',
      'archive',
      'import',
      '--include-authinfos',
      withAuth,
    ]);
    expectExit(imported, 0);
    expect(imported.stdout).toContain('Report: Adding 1 new authinfo(s)');
    const after = profileContents(second);
    // presto's localhost, new to `second`, whose own computer has the same label
    expect(imported.stdout).toContain('Report: Re-labelled 1 new Computer(s)');
    expect(after.computers).toEqual([...before.computers, ...profileContents(database()).computers].sort());
    expect(after.authinfos).toBe(before.authinfos + 1);
  });

  it('refuses to overwrite a file without --force, and an unknown node', async () => {
    const file = out('existing.aiida');
    expectExit(await verdi(['archive', 'create', file, '-G', 'data-types']), 0);
    const before = readFileSync(file);
    const refused = await verdi(['archive', 'create', file, '--all']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('already exists');
    expect(readFileSync(file)).toEqual(before);
    expectExit(await verdi(['archive', 'create', file, '--all', '--force']), 0);
    expect(pythonZip(file).db.nodes).toEqual(profileContents(database()).nodes);

    const unknown = await verdi(['archive', 'create', out('unknown.aiida'), '-N', '999999']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid value for NODES');
    expect(existsSync(out('unknown.aiida'))).toBe(false);
  });
});
