import { ProcessState, WorkChainWaiting } from 'plumpy-ts';
import type { StorageBackend } from '../../storage/backend.js';
import type { EngineProcessInstance } from '../processes/instantiate.js';
import { countActive } from './task-table.js';

/** Why and until when a parked process waits. */
export interface ParkCondition {
  /** The processes it waits for (it is woken when the last one terminates). */
  readonly waitingFor: readonly number[] | null;
  /** It is woken at this time (epoch ms), if set. */
  readonly wakeAt: number | null;
  /** It is paused: woken when played. */
  readonly paused: boolean;
}

/** The key of the method by which a process class says it may be parked while it waits (a timer). */
export const PARK_UNTIL = Symbol.for('aiida-ts.daemon.parkUntil');

/**
 * Implemented by a process that can be unloaded while waiting and reloaded from its checkpoint later, e.g. a CalcJob
 * waiting for its next scheduler poll: `[PARK_UNTIL]()` returns when to wake it, or undefined when it cannot be
 * parked now (a transfer is in progress).
 */
export interface ParkableProcess {
  [PARK_UNTIL](): Date | undefined;
}

function isParkable(process: object): process is ParkableProcess {
  return typeof (process as Partial<ParkableProcess>)[PARK_UNTIL] === 'function';
}

/** The pks of the child processes a work chain waits for now (none for other processes). */
export function awaitedBy(process: EngineProcessInstance): number[] {
  if (process.hasTerminated() || process.state !== ProcessState.WAITING) return [];
  const state = process.stateObject;
  if (!(state instanceof WorkChainWaiting)) return [];
  return state.pending.map((awaitable) => Number(awaitable.pid)).filter((pk) => Number.isInteger(pk));
}

/**
 * Whether the process can be parked now, and on what: a paused process; a work chain waiting for child processes
 * only (when at least one of them is still running: otherwise it is about to go on); a process that says when it
 * wants to be woken. Anything else (a step in progress, a wait on a plain promise) stays loaded.
 */
export async function parkConditionOf(
  process: EngineProcessInstance,
  storage: StorageBackend,
): Promise<ParkCondition | undefined> {
  if (process.hasTerminated()) return undefined;
  if (process.paused) return { waitingFor: null, wakeAt: null, paused: true };
  if (process.state !== ProcessState.WAITING) return undefined;
  const state = process.stateObject;
  if (state instanceof WorkChainWaiting) {
    const pending = state.pending;
    if (pending.length === 0) return undefined;
    const pks = pending.map((awaitable) => Number(awaitable.pid));
    if (pks.some((pk) => !Number.isInteger(pk))) return undefined;
    if ((await countActive(storage.executor(), storage, pks)) === 0) return undefined;
    return { waitingFor: pks, wakeAt: null, paused: false };
  }
  if (isParkable(process)) {
    const until = process[PARK_UNTIL]();
    if (until !== undefined) return { waitingFor: null, wakeAt: until.getTime(), paused: false };
  }
  return undefined;
}
