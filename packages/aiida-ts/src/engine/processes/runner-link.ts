import { PersistenceError, type Checkpoint, type Persister, type Pid } from 'plumpy-ts';
import type { ProcessRunner } from './process-runner.js';

const runners = new WeakMap<Persister, ProcessRunner>();

/** Remembers which runner a persister serves: a process loaded through it runs in that runner. */
export function linkPersister(persister: Persister, runner: ProcessRunner): void {
  runners.set(persister, runner);
}

/** The runner a process loaded through `persister` belongs to; a {@link PersistenceError} when there is none. */
export function runnerOfPersister(persister: Persister | undefined, saved: Checkpoint): ProcessRunner {
  const runner = persister === undefined ? undefined : runners.get(persister);
  if (runner === undefined) {
    throw new PersistenceError(
      'processes are continued through a runner (runner.continueProcess)',
      saved['pid'] as Pid,
    );
  }
  return runner;
}
