import type { Kysely } from 'kysely';
import { LeaseLostError } from '../../errors.js';
import type { StorageBackend, WriteStatement } from '../../storage/backend.js';
import { TaskState } from '../../storage/aiida-ts-schema/daemon-tables.js';
import type { Database } from '../../storage/schema.js';
import type { GuardedWrite, WriteGuard } from '../write-guard.js';
import { finishTask } from './task-table.js';

/** The fence of {@link DaemonLease.check}, as a plain statement (see `checkStatement`). */
const CHECK_WHERE = 'WHERE process_id = $1 AND owner = $2 AND epoch = $3 AND state = $4';
const CHECK = `UPDATE aiida_ts_task SET step_mark = step_mark ${CHECK_WHERE}`;
/** The same, also recording the largest node pk as the step mark (a checkpoint write). */
const CHECK_AND_MARK = `UPDATE aiida_ts_task SET step_mark = (SELECT max(id) FROM db_dbnode) ${CHECK_WHERE}`;

/** Options of {@link DaemonLease}. */
export interface DaemonLeaseOptions {
  /**
   * The row had no parent when it was claimed: the terminal write may then release it in its own statement (there is
   * no parent to wake), on condition that it still has none.
   */
  readonly parentless?: boolean;
}

/** What the holder of a lease hears about. */
export interface LeaseEvents {
  /** The lease turned out to be lost (a write was refused). */
  onLost?(lease: DaemonLease): void;
  /** The terminal write committed; `woken` is the parent it woke, if any. */
  onFinished?(lease: DaemonLease, woken: number | undefined): void;
  /**
   * Asked before every write: a reason to refuse it (the process failed only because the database could not be
   * reached: neither that state, nor its report, nor its end are recorded), so that the process is continued from
   * its last checkpoint instead.
   */
  refuseWrite?(lease: DaemonLease): string | undefined;
}

/**
 * The lease of a worker on one daemon process, and its fence: every write of the process's node (state, checkpoint,
 * outputs, links, log records) first updates the process's row where `owner` and `epoch` are still this lease's, in
 * the same transaction. When another worker has claimed the process since (the epoch moved on), nothing is updated,
 * the write is refused with {@link LeaseLostError} and rolled back: a worker that lost its lease can no longer write.
 * On PostgreSQL the update also locks the row until the write commits, so a takeover waits for a write that passed
 * the fence. A checkpoint write records the largest node pk (`step_mark`): the children of the step that follows are
 * above it. The terminal write deletes the row and wakes the parent.
 */
export class DaemonLease implements WriteGuard {
  readonly pk: number;
  readonly owner: string;
  readonly epoch: number;
  readonly #storage: StorageBackend;
  readonly #events: LeaseEvents;
  #lost = false;
  #abandoned = false;
  #givenUp = false;
  #woken: number | undefined;
  readonly #parentless: boolean;

  constructor(
    storage: StorageBackend,
    pk: number,
    owner: string,
    epoch: number,
    events: LeaseEvents = {},
    options: DaemonLeaseOptions = {},
  ) {
    this.#storage = storage;
    this.pk = pk;
    this.owner = owner;
    this.epoch = epoch;
    this.#events = events;
    this.#parentless = options.parentless === true;
  }

  transactional(): boolean {
    return true;
  }

  /** Whether a write found the lease lost. */
  get lost(): boolean {
    return this.#lost;
  }

  /** Whether a write was refused (see `LeaseEvents.refuseWrite`): the process is to be continued elsewhere. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /** Refuses every later write (the worker gave the process up: it is continued elsewhere from its checkpoint). */
  giveUp(): void {
    this.#givenUp = true;
  }

  /**
   * Checks (and, on PostgreSQL, locks) the lease in the storage's current transaction; `mark` also records the largest
   * node pk as the step mark. The same statement as {@link checkStatement}, run on its own.
   */
  async check(mark: boolean): Promise<void> {
    await this.#storage.executeWrites([this.checkStatement(mark)]);
  }

  /**
   * {@link check} as a statement to run with the write it guards (in the same statement or transaction): `required`,
   * so that nothing of that write is kept when the lease is lost.
   */
  checkStatement(mark: boolean): WriteStatement {
    this.#refuseIfGivenUp();
    return {
      text: mark ? CHECK_AND_MARK : CHECK,
      parameters: [this.pk, this.owner, this.epoch, TaskState.RUNNING],
      required: () => this.#lostNow(),
    };
  }

  #refuseIfGivenUp(): void {
    // Given up here (lost, or dropped at a stop or a missed heartbeat): refused without asking the database, for the
    // process's own writes and those of the processes run in its step alike — even when no other worker has claimed
    // it yet, so that nothing of a step this worker no longer stands behind gets recorded.
    if (this.#givenUp)
      throw new LeaseLostError(
        `process<${this.pk}>: not recorded (the process was given up here: it is continued from its checkpoint)`,
        this.pk,
      );
  }

  /** The check found the lease lost: every later write is refused here; the error to throw. */
  #lostNow(): LeaseLostError {
    this.#lost = true;
    this.#givenUp = true;
    this.#events.onLost?.(this);
    return new LeaseLostError(
      `process<${this.pk}> is no longer leased to ${this.owner} (epoch ${this.epoch}): the write was refused`,
      this.pk,
    );
  }

  #refuseIfAsked(): void {
    const refused = this.#events.refuseWrite?.(this);
    if (refused !== undefined) {
      this.#abandoned = true;
      throw new LeaseLostError(`process<${this.pk}>: not recorded (${refused})`, this.pk);
    }
  }

  async before(_db: Kysely<Database>, write: GuardedWrite): Promise<void> {
    this.#refuseIfAsked();
    await this.check(write.checkpoint && !write.terminal);
  }

  statements(write: GuardedWrite): readonly WriteStatement[] | undefined {
    // The terminal write releases the row; waking a parent reads the parent's row and its other children after
    // locking it, a transaction's work. Without a parent, the release is the check: the row is deleted only while the
    // lease holds (and only while it still has no parent, so that no parent can miss its wake-up).
    if (write.terminal && !this.#parentless) return undefined;
    this.#refuseIfAsked();
    if (!write.terminal) return [this.checkStatement(write.checkpoint)];
    this.#refuseIfGivenUp();
    return [
      {
        text: `DELETE FROM aiida_ts_task ${CHECK_WHERE} AND parent_id IS NULL`,
        parameters: [this.pk, this.owner, this.epoch, TaskState.RUNNING],
        required: () => this.#lostNow(),
      },
    ];
  }

  async after(db: Kysely<Database>, write: GuardedWrite): Promise<void> {
    if (write.terminal) this.#woken = await finishTask(db, this.#storage, this.pk);
  }

  committed(write: GuardedWrite): void {
    if (write.terminal) this.#events.onFinished?.(this, this.#woken);
  }

  inherited(): WriteGuard {
    return new InheritedGuard(this);
  }
}

/** The writes of a process run inside a step of a leased one: the same fence, nothing owned. */
class InheritedGuard implements WriteGuard {
  readonly #lease: DaemonLease;

  constructor(lease: DaemonLease) {
    this.#lease = lease;
  }

  transactional(): boolean {
    return true;
  }

  before(): Promise<void> {
    return this.#lease.check(false);
  }

  statements(): readonly WriteStatement[] {
    return [this.#lease.checkStatement(false)];
  }

  after(): Promise<void> {
    return Promise.resolve();
  }

  committed(): void {
    // nothing is owned
  }

  inherited(): WriteGuard {
    return this;
  }
}
