/**
 * A `verdi presto` profile filled by the engine, for the tests of the data commands (`verdi node repo`, `verdi
 * process dump`, `verdi data …`): a `MultiplyAddWorkChain` that ran a calcfunction and an `ArithmeticAddCalculation`
 * job on localhost, plus data nodes with files.
 */
import { expect } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { MultiplyAddWorkChain, runGetNode } from '../../src/engine.js';
import { getManager } from '../../src/engine/manager.js';
import { Computer, FolderData, InstalledCode, SinglefileData, type Node } from '../../src/orm.js';
import { verdiInProcess } from './verdi-in-process.js';
import type { verdiSandbox } from './verdi-process.js';

/** The pks of what {@link buildEngineProfile} made. */
export interface EngineProfile {
  /** The `MultiplyAddWorkChain` run. */
  readonly workchain: number;
  /** The `multiply` calcfunction it called. */
  readonly multiply: number;
  /** The `ArithmeticAddCalculation` job it called. */
  readonly add: number;
  /** The job's `retrieved` FolderData. */
  readonly retrieved: number;
  /** A SinglefileData `notes.txt`. */
  readonly singlefile: number;
  /** A FolderData with a nested folder and a binary file. */
  readonly folder: number;
}

/** The bytes of `bin/blob.bin` in the folder node: every byte value, so that encodings cannot hide. */
export const BLOB = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/**
 * Makes a presto profile in `sandbox`, runs the engine on it and stores the data nodes, then unloads it: the test
 * then drives `verdi` on it (with {@link verdiInProcess}, whose configuration folder is the sandbox's).
 * `extra` runs while the profile is loaded (with the pks made so far), to store what one test file needs more.
 */
export async function buildEngineProfile<T = undefined>(
  sandbox: ReturnType<typeof verdiSandbox>,
  extra?: (made: EngineProfile) => Promise<T>,
): Promise<EngineProfile & { extra: T | undefined }> {
  setConfigDir(sandbox.configDir);
  // The job runs in a login shell: a HOME of the test's own keeps the machine user's start-up files out of it.
  process.env['HOME'] = sandbox.base;
  const created = await verdiInProcess(['presto']);
  expect(created.code, created.stderr).toBe(0);
  await loadProfile();
  try {
    const localhost = await Computer.get({ label: 'localhost' });
    await localhost.setProperties({ minimum_scheduler_poll_interval: 0.05 });
    const code = await new InstalledCode(
      { computer: localhost, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
      { label: 'bash' },
    ).store();
    const { node } = await runGetNode(MultiplyAddWorkChain, { x: 2, y: 3, z: 4, code });
    const called = await node.getCalled();
    const byType = (fragment: string): Node => {
      const found = called.find((child) => (child.processType ?? '').includes(fragment));
      if (found === undefined) throw new Error(`the work chain called no ${fragment}`);
      return found;
    };
    const add = byType('arithmetic.add');
    const retrieved = (await add.links.getOutgoing()).all().find((link) => link.linkLabel === 'retrieved');
    const notes = await SinglefileData.fromString('first line\nsecond line\n', 'notes.txt');
    await notes.store();
    const folder = new FolderData();
    await folder.base.repository.putObjectFromBuffer('top.txt', 'top\n');
    await folder.base.repository.putObjectFromBuffer('sub/inner.txt', 'inner\n');
    await folder.base.repository.putObjectFromBuffer('bin/blob.bin', BLOB);
    await folder.store();
    const made: EngineProfile = {
      workchain: node.pk!,
      multiply: byType('multiply').pk!,
      add: add.pk!,
      retrieved: retrieved?.node.pk ?? 0,
      singlefile: notes.pk!,
      folder: folder.pk!,
    };
    return { ...made, extra: extra === undefined ? undefined : await extra(made) };
  } finally {
    await getManager().close();
    await unloadProfile();
  }
}
