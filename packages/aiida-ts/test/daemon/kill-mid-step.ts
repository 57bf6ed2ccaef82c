/**
 * The sequence the SIGKILL tests share: a worker OS process that hangs at a chosen point of a step, SIGKILLed there,
 * and a surviving in-process worker that must finish the process.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { waitFor } from '@aiida-ts/test-services';
import { Runner } from '../../src/engine.js';
import {
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { tempFolder } from '../storage/helpers.js';
import { HANG_ENV } from './fixtures.js';
import { openSharedStorage, spawnWorker, type SharedStorage } from './services.js';

/** The environment of a worker that hangs at {@link HANG_ENV}'s points, writing to `file`. */
export const hangEnv = (file: string): Record<string, string> => ({ [HANG_ENV]: file });

/** What {@link useKilledMidStep} gives the tests of a `describe`. */
export interface KilledMidStep {
  /** The storage shared by the test and the workers. */
  shared(): SharedStorage;
  /**
   * Spawns a worker that hangs where `hang` makes it (the environment variable it is given names a file, where the
   * worker writes the pk of the process whose step hangs), submits `launch` to it, SIGKILLs it there and starts a
   * surviving in-process worker; the process must finish, and `check` looks at its end.
   */
  killedMidStep(
    hang: (file: string) => Record<string, string>,
    launch: (runner: Runner) => Promise<ProcessNode>,
    check: (done: ProcessNode, runner: Runner, survivor: DaemonWorkerHandle) => Promise<void>,
  ): Promise<void>;
}

/** Sets up a shared storage on `backend` for the enclosing `describe` and gives the kill sequence on it. */
export function useKilledMidStep(backend: 'sqlite' | 'psql'): KilledMidStep {
  let shared: SharedStorage;
  let folder: { folder: string; cleanup: () => Promise<void> };
  let hangs = 0;

  beforeAll(async () => {
    shared = await openSharedStorage(backend);
    setDefaultStorage(shared.storage);
    folder = await tempFolder('aiida-ts-daemon-hang-');
  });
  afterAll(async () => {
    setDefaultStorage(null);
    await shared?.cleanup();
    await folder?.cleanup();
  });

  async function killedMidStep(
    hang: (file: string) => Record<string, string>,
    launch: (runner: Runner) => Promise<ProcessNode>,
    check: (done: ProcessNode, runner: Runner, survivor: DaemonWorkerHandle) => Promise<void>,
  ): Promise<void> {
    const { storage } = shared;
    const hangFile = path.join(folder.folder, `hang-${++hangs}`);
    const doomed = spawnWorker({ storage: shared.spec, broker: null, slots: 4 }, hang(hangFile));
    await doomed.ready;
    const runner = new Runner({ storage, pollInterval: 0.05, ownership: new RunnerOwnership(storage) });
    try {
      const node = await launch(runner);
      await waitFor(
        'the worker to hang',
        () => existsSync(hangFile) && readFileSync(hangFile, 'utf8') === String(node.pk),
        { timeoutMs: 30_000, intervalMs: 20 },
      );
      await doomed.kill();
      expect((await doomed.exited).signal).toBe('SIGKILL');
      await using survivor = await startDaemonWorker(undefined, {
        storage,
        communicator: null,
        slots: 4,
        leaseTtlMs: 2_000,
      });
      const done = await runner.getProcessFuture(node.pk!);
      expect(done.processState, String(done.exception)).toBe('finished');
      await check(done, runner, survivor);
    } finally {
      await runner.close();
      await doomed.kill();
    }
  }

  return { shared: () => shared, killedMidStep };
}
