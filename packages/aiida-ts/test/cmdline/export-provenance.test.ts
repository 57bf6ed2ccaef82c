/**
 * `verdi node export-provenance PK --format prov-json|ro-crate -O PATH` on a `verdi presto` profile holding the
 * calcfunctions archive aiida-core 2.8 wrote (a workfunction calling calcfunctions) and a process still running.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { WorkChainNode } from '../../src/orm.js';
import { getStorage } from '../../src/storage/context.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { RoCrateMetadata } from '../../src/tools/provenance/ro-crate.js';
import { fixture } from '../tools/archive-support.js';
import {
  crateReferenceErrors,
  crateSchemaErrors,
  provJsonSchemaErrors,
} from '../tools/provenance-support.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';
import { verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-export-provenance-');
const show = (result: { code: number; stdout: string; stderr: string }) =>
  `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
const pk = { workfunction: 0, int: 0, running: 0 };

beforeAll(async () => {
  setConfigDir(sandbox.configDir);
  const created = await verdi(['presto']);
  expect(created.code, show(created)).toBe(0);
  await loadProfile();
  try {
    await importArchive(fixture('calcfunctions'), { createGroup: false });
    const db = getStorage().executor();
    const first = (type: string) =>
      db
        .selectFrom('db_dbnode')
        .select('id')
        .where('node_type', '=', type)
        .orderBy('id')
        .executeTakeFirstOrThrow();
    pk.workfunction = (await first('process.workflow.workfunction.WorkFunctionNode.')).id;
    pk.int = (await first('data.core.int.Int.')).id;
    const running = await new WorkChainNode().store();
    await running.setProcessState('running');
    pk.running = running.pk!;
  } finally {
    await unloadProfile();
  }
}, 60_000);
afterAll(() => {
  setConfigDir(undefined);
  sandbox.cleanup();
});

describe('verdi node export-provenance', () => {
  it('writes PROV-JSON valid against the published schema', async () => {
    const output = path.join(sandbox.base, 'workfunction.prov.json');
    const result = await verdi(['node', 'export-provenance', String(pk.workfunction), '-O', output]);
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toMatch(
      /PROV-JSON of WorkFunctionNode<\d+> written to `.*workfunction\.prov\.json`/,
    );
    const document = JSON.parse(await readFile(output, 'utf8')) as { activity: Record<string, unknown> };
    expect(provJsonSchemaErrors(document)).toEqual([]);
    expect(Object.keys(document.activity).length).toBeGreaterThan(1);
    // an existing file is not overwritten
    const again = await verdi(['node', 'export-provenance', String(pk.workfunction), '-O', output]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  it('writes a Workflow Run RO-Crate as a folder or a zip, with the repository files', async () => {
    const folder = path.join(sandbox.base, 'crate');
    const result = await verdi([
      'node',
      'export-provenance',
      String(pk.workfunction),
      '--format',
      'ro-crate',
      '-O',
      folder,
      '--json',
    ]);
    expect(result.code, show(result)).toBe(0);
    const summary = JSON.parse(result.stdout) as { container: string; files: string[] };
    expect(summary.container).toBe('folder');
    expect(summary.files.some((file) => file.endsWith('/source_file'))).toBe(true);
    const metadata = RoCrateMetadata.parse(
      JSON.parse(await readFile(path.join(folder, 'ro-crate-metadata.json'), 'utf8')),
    );
    expect(crateSchemaErrors(metadata, 'provenanceRunCrate')).toEqual([]);
    expect(crateReferenceErrors(metadata)).toEqual([]);
    // the process functions' source files (data nodes here are base types, without files)
    expect((await readdir(folder)).sort()).toEqual(['processes', 'ro-crate-metadata.json', 'workflow']);

    const zip = path.join(sandbox.base, 'crate.zip');
    const zipped = await verdi([
      'node',
      'export-provenance',
      String(pk.workfunction),
      '-F',
      'ro-crate',
      '-O',
      zip,
    ]);
    expect(zipped.code, show(zipped)).toBe(0);
    expect(zipped.stdout).toMatch(
      /RO-Crate of WorkFunctionNode<\d+> written to `.*crate\.zip` \(zip, \d+ files\)/,
    );
    expect((await readFile(zip)).subarray(0, 2).toString('latin1')).toBe('PK');
    const again = await verdi([
      'node',
      'export-provenance',
      String(pk.workfunction),
      '-F',
      'ro-crate',
      '-O',
      zip,
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  it('names a bad pk or a node that is no process (exit 2), and refuses a process still running', async () => {
    const missing = await verdi([
      'node',
      'export-provenance',
      '999999',
      '-O',
      path.join(sandbox.base, 'x.json'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('invalid value for PROCESS');
    expect(missing.stderr).toContain('999999');
    const data = await verdi([
      'node',
      'export-provenance',
      String(pk.int),
      '-O',
      path.join(sandbox.base, 'y.json'),
    ]);
    expect(data.code).toBe(2);
    expect(data.stderr).toContain(`node<${pk.int}> is a Int, not a process`);
    const format = await verdi([
      'node',
      'export-provenance',
      String(pk.workfunction),
      '-F',
      'xml',
      '-O',
      'z',
    ]);
    expect(format.code).toBe(2);
    const running = await verdi([
      'node',
      'export-provenance',
      String(pk.running),
      '-F',
      'ro-crate',
      '-O',
      path.join(sandbox.base, 'running'),
    ]);
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/WorkChainNode<\d+> \(.*state running\) is not sealed/);
    await expect(readdir(path.join(sandbox.base, 'running'))).rejects.toThrow(/ENOENT/);
  });
});
