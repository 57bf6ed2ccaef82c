/**
 * A `verdi presto` profile filled by the engine, for the tests of the data commands (`verdi node repo`, `verdi
 * process dump`, `verdi data …`): a `MultiplyAddWorkChain` that ran a calcfunction and an `ArithmeticAddCalculation`
 * job on localhost, plus data nodes with files.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { MultiplyAddWorkChain, runGetNode } from '../../src/engine.js';
import { getManager } from '../../src/engine/manager.js';
import { Computer, FolderData, InstalledCode, SinglefileData, type Node } from '../../src/orm.js';
import { verdiInProcess } from './verdi-in-process.js';
import { verdiSandbox } from './verdi-process.js';

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
export async function buildEngineProfile(
  sandbox: ReturnType<typeof verdiSandbox>,
): Promise<EngineProfile & { extra: undefined }>;
export async function buildEngineProfile<T>(
  sandbox: ReturnType<typeof verdiSandbox>,
  extra: (made: EngineProfile) => Promise<T>,
): Promise<EngineProfile & { extra: T }>;
export async function buildEngineProfile(
  sandbox: ReturnType<typeof verdiSandbox>,
  extra?: (made: EngineProfile) => Promise<unknown>,
): Promise<EngineProfile & { extra: unknown }> {
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

/** What {@link useEngineProfile} made: the sandbox `verdi` runs in, and the pks (once `beforeAll` has run). */
export interface EngineProfileFixture<T> {
  readonly sandbox: ReturnType<typeof verdiSandbox>;
  /** The pks made, and what `extra` returned; throws when asked before the profile was built. */
  readonly made: () => EngineProfile & { extra: T };
}

/**
 * The set-up every data-command test file shares: a sandbox named by `prefix`, the engine profile built in it
 * before the file's tests (with `extra`, when given), and the sandbox, the configuration folder and `HOME` put
 * back after them.
 */
export function useEngineProfile(prefix: string): EngineProfileFixture<undefined>;
export function useEngineProfile<T>(
  prefix: string,
  extra: (made: EngineProfile) => Promise<T>,
): EngineProfileFixture<T>;
export function useEngineProfile(
  prefix: string,
  extra?: (made: EngineProfile) => Promise<unknown>,
): EngineProfileFixture<unknown> {
  const sandbox = verdiSandbox(prefix);
  const previousHome = process.env['HOME'];
  let built: (EngineProfile & { extra: unknown }) | undefined;
  beforeAll(async () => {
    built =
      extra === undefined ? await buildEngineProfile(sandbox) : await buildEngineProfile(sandbox, extra);
  }, 120_000);
  afterAll(() => {
    process.env['HOME'] = previousHome;
    setConfigDir(undefined);
    sandbox.cleanup();
  });
  return {
    sandbox,
    made: () => {
      if (built === undefined)
        throw new Error(`the engine profile of ${prefix} was not built (beforeAll failed?)`);
      return built;
    },
  };
}
