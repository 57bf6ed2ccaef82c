import { createHash } from 'node:crypto';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Config } from '../../src/config.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-integrity-');
afterAll(() => sandbox.cleanup());
const { verdi, base, configDir } = sandbox;

const STORE = `
import { SinglefileData } from 'aiida-ts/orm';
const out = [];
for (const [name, text] of process.argv.slice(2).map((arg) => arg.split('='))) {
  const node = await (await SinglefileData.fromString(text, name)).store();
  out.push({ pk: node.pk, key: node.repository.getFileKeys()[0] });
}
console.log(JSON.stringify(out));
`;

interface Stored {
  readonly pk: number;
  readonly key: string;
}

let container = '';

async function store(...files: string[]): Promise<Stored[]> {
  const script = join(base, 'store.ts');
  await writeFile(script, STORE);
  const result = await verdi(['run', script, ...files]);
  expect(result.code, describeResult(result)).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '[]') as Stored[];
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

beforeAll(async () => {
  const created = await verdi(['presto', '--profile-name', 'integrity']);
  expect(created.code, describeResult(created)).toBe(0);
  const filepath = Config.fromFile(join(configDir, 'config.json')).getProfile('integrity').storageConfig[
    'filepath'
  ] as string;
  container = join(filepath, 'container');
});

describe('verdi storage integrity, info --detailed and maintain --full on a damaged repository (status stays a quick look)', () => {
  // Fourteen `verdi` processes in one case: a generous bound, not a speed expectation.
  it(
    'report what is lost or corrupt, name the nodes, and exit with 1; full maintenance changes nothing',
    { timeout: 120_000 },
    async () => {
      const [packedSound, packedCorrupt] = await store(
        'a.txt=sound and packed',
        'b.txt=packed, then damaged',
      );
      const packed = await verdi(['storage', 'maintain', '--force']);
      expect(packed.code, describeResult(packed)).toBe(0);
      const [lost] = await store('c.txt=loose, then deleted');

      const sound = await verdi(['storage', 'integrity']);
      expect(sound.code, describeResult(sound)).toBe(0);
      expect(sound.stdout).toContain('Success: no problems found.');

      // flip a byte of b.txt in its pack, delete c.txt's loose file
      const index = new Database(join(container, 'packs.idx'), { readonly: true });
      const row = index
        .prepare('SELECT pack_id, "offset" FROM db_object WHERE hashkey = ?')
        .get(packedCorrupt!.key) as { pack_id: number; offset: number };
      index.close();
      const packFile = join(container, 'packs', String(row.pack_id));
      const handle = await open(packFile, 'r+');
      await handle.write(Buffer.from('X'), 0, 1, row.offset + 2);
      await handle.close();
      await rm(join(container, 'loose', lost!.key.slice(0, 2), lost!.key.slice(2)));

      const report = await verdi(['storage', 'integrity']);
      expect(report.code, describeResult(report)).toBe(1);
      expect(report.stderr).toMatch(
        new RegExp(
          `Error: object ${packedCorrupt!.key} is corrupt \\(pack .*packs/${row.pack_id} at offset ${row.offset}\\).*node\\(s\\) ${packedCorrupt!.pk} refer to it`,
        ),
      );
      expect(report.stderr).toContain(
        `Error: object ${lost!.key} is missing: node(s) ${lost!.pk} refer to it`,
      );
      expect(report.stderr).toContain('Critical: the storage has 2 integrity problem(s)');
      expect(report.stderr).not.toContain(packedSound!.key);

      const json = await verdi(['storage', 'integrity', '--json']);
      expect(json.code).toBe(1);
      expect(json.json()).toMatchObject({
        ok: false,
        hashes: true,
        checked: { nodesWithFiles: 3 },
        problems: expect.arrayContaining([
          expect.objectContaining({ kind: 'corrupt-object', nodes: [packedCorrupt!.pk] }),
          expect.objectContaining({ kind: 'missing-object', nodes: [lost!.pk] }),
        ]),
      });

      // the structural check (no hashing) of `storage info --detailed` finds the lost file too
      const detailed = await verdi(['storage', 'info', '--detailed']);
      expect(detailed.code, describeResult(detailed)).toBe(1);
      expect(detailed.stdout).toContain('Nodes:');
      expect(detailed.stderr).toContain(`Error: object ${lost!.key} is missing`);
      expect(detailed.stdout + detailed.stderr).not.toContain(packedCorrupt!.key);

      // `verdi status` and plain `storage info` read no node's files (as aiida-core's: they answer at once at any
      // size); status still says the storage is reachable and at its schema version
      const status = await verdi(['status']);
      expect(status.code, describeResult(status)).toBe(0);
      expect(status.stdout).toMatch(/✔ storage: +core\.sqlite_dos at .*schema version main_0002/);
      const info = await verdi(['storage', 'info']);
      expect(info.code, describeResult(info)).toBe(0);
      expect(info.stdout).toContain('Nodes:');

      const before = await sha256(packFile);
      const full = await verdi(['storage', 'maintain', '--full', '--force']);
      expect(full.code, describeResult(full)).toBe(1);
      expect(full.stderr).toContain('full maintenance changed nothing');
      expect(full.stderr).toContain(packedCorrupt!.key);
      expect(full.stdout).not.toContain('Success');
      expect(await sha256(packFile)).toBe(before);
    },
  );
});
