import type { Kysely } from 'kysely';
import { LeaseLostError } from '../errors.js';
import type { WriteStatement } from '../storage/backend.js';
import type { Database } from '../storage/schema.js';

/** One write of a process node (see `NodeWriter`), as a {@link WriteGuard} sees it. */
export interface GuardedWrite {
  /** The pk of the process node written. */
  readonly pk: number;
  /** The write seals the node: the process has terminated. */
  readonly terminal: boolean;
  /** The write carries a new checkpoint. */
  readonly checkpoint: boolean;
}

/**
 * Takes part in every write of a process's node (its state, checkpoint, outputs, links and log records), inside
 * the write's transaction: `before` may refuse it (the fence of a daemon lease: the process belongs to someone else
 * now, `LeaseLostError`) and `after` adds what goes with it (the lease released with the terminal state). The
 * engine knows only this port; the daemon implements it (`src/engine/daemon/lease.ts`).
 */
export interface WriteGuard {
  /** Whether this write needs a transaction of its own (a fence check must share one with the write). */
  transactional(write: GuardedWrite): boolean;
  before(db: Kysely<Database>, write: GuardedWrite): Promise<void>;
  after(db: Kysely<Database>, write: GuardedWrite): Promise<void>;
  /**
   * What `before` and `after` do, as statements to run in the same statement as the write (PostgreSQL's one-statement
   * writes: one round trip and one commit instead of a transaction's four or more), the check marked `required` so
   * that nothing of the write is kept when it fails; undefined when this write needs `before` and `after` in a
   * transaction. May throw what `before` would (a refusal decided without the database).
   */
  statements(write: GuardedWrite): readonly WriteStatement[] | undefined;
  /** The write is committed (what must not happen before, e.g. telling a broker a parent may run). */
  committed(write: GuardedWrite): void;
  /**
   * The guard of a process run inside a step of this one (a process function, a nested `run`): its writes pass the
   * same check and own nothing (its end releases nothing of this process).
   */
  inherited(): WriteGuard;
}

/**
 * Whether `error` is, or was caused by, a write refused because the process's lease was lost (a child's failure that
 * only says its parent's lease is gone, a provenance write wrapping the refusal): the process did not fail, it is not
 * this runner's any more, so nothing of that failure may be recorded on its node.
 */
export function isLeaseLost(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    if (current instanceof LeaseLostError) return true;
    seen.add(current);
  }
  return false;
}
