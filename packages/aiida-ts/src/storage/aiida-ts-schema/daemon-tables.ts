import { sql, type Generated, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { AiidaTsColumnTypes } from './migrations.js';
import type { EpochMsColumn, NullableEpochMsColumn } from './schema.js';

/**
 * The daemon's tables (migration `aiida_ts_0002`): who runs processes (`aiida_ts_worker`), which process is owned by
 * whom and in which state (`aiida_ts_task`, the lease and the runnable record in one row), and control requests
 * (`aiida_ts_control`). The provenance tables are aiida-core's and stay untouched; these rows only say who is
 * responsible for a process, never what it did.
 */

/** The kinds of rows of {@link AiidaTsWorkerTable}. */
export const WorkerKind = { DAEMON: 'daemon', RUNNER: 'runner' } as const;
export type WorkerKind = (typeof WorkerKind)[keyof typeof WorkerKind];

/**
 * `aiida_ts_worker`: one row per OS process that runs processes — a daemon worker, or the runner of a script or
 * `verdi run` — kept alive by heartbeats. `expires_at` is computed with the database's clock on PostgreSQL.
 */
export interface AiidaTsWorkerTable {
  id: string;
  kind: WorkerKind;
  /** The machine (hostname, boot id, pid namespace) the process runs on. */
  host: string;
  pid: number;
  /** The OS process's start time (clock ticks since boot), so a reused pid is not taken for it; '' if unknown. */
  start: string;
  /** How many processes it runs a step of at once (`daemon.worker_process_slots`; 0 for a runner). */
  slots: number;
  /** 1 when it takes tasks from a broker too. */
  broker: number;
  /** 1 once it stopped claiming (a graceful stop in progress). */
  stopping: number;
  started_at: EpochMsColumn;
  heartbeat_at: EpochMsColumn;
  expires_at: EpochMsColumn;
}

/** The states of a row of {@link AiidaTsTaskTable}. */
export const TaskState = { RUNNABLE: 'runnable', RUNNING: 'running', PARKED: 'parked' } as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Who may run the process of a row of {@link AiidaTsTaskTable}. */
export const TaskMode = {
  /** Any daemon worker: taken over from a dead owner. */
  DAEMON: 'daemon',
  /** The runner that made it (a script, `verdi run`): never taken over; a dead owner's process needs kill/repair. */
  LOCAL: 'local',
} as const;
export type TaskMode = (typeof TaskMode)[keyof typeof TaskMode];

/**
 * `aiida_ts_task`: one row per process that is not terminated and that a runner or the daemon is responsible for.
 * `runnable` rows wait for a worker; a `running` row is the lease of its `owner`, whose every write of the process
 * checks `epoch` (the fencing token, +1 on every claim) in the same transaction; a `parked` row waits, unloaded, for
 * the children in `waiting_for`, for `wake_at`, or to be played. The row is deleted with the write of the terminal
 * state.
 */
export interface AiidaTsTaskTable {
  process_id: number;
  state: TaskState;
  mode: TaskMode;
  owner: string | null;
  epoch: number;
  /** The caller that waits for this process (woken when it terminates). */
  parent_id: number | null;
  /** JSON array of the pks a parked process waits for. */
  waiting_for: string | null;
  /** A parked process wakes at this time (a timer), if set. */
  wake_at: NullableEpochMsColumn;
  /** 1 while parked because paused. */
  paused: number;
  /** The largest node pk when the last checkpoint was written: children above it belong to an interrupted step. */
  step_mark: number | null;
  /** Where the process class is defined (a file URL), imported by a worker that does not know the class. */
  module: string | null;
  enqueued_at: EpochMsColumn;
  claimed_at: NullableEpochMsColumn;
}

/** The states of a row of {@link AiidaTsControlTable}. */
export const ControlState = { PENDING: 'pending', DONE: 'done', FAILED: 'failed' } as const;
export type ControlState = (typeof ControlState)[keyof typeof ControlState];

/** `aiida_ts_control`: a pause, play or kill asked for a process, honoured by whoever runs it next. */
export interface AiidaTsControlTable {
  id: Generated<number>;
  process_id: number;
  intent: string;
  message: string | null;
  force: number;
  state: ControlState;
  result: string | null;
  requested_at: EpochMsColumn;
  done_at: NullableEpochMsColumn;
}

/** The DDL of migration `aiida_ts_0002`, with the column types `t` of the database's dialect. */
export async function createDaemonTables(db: Kysely<Database>, t: AiidaTsColumnTypes): Promise<void> {
  const statements = [
    `CREATE TABLE aiida_ts_worker (
      id ${t.name} NOT NULL PRIMARY KEY,
      kind VARCHAR(16) NOT NULL,
      host ${t.name} NOT NULL,
      pid ${t.integer} NOT NULL,
      start ${t.name} NOT NULL DEFAULT '',
      slots ${t.integer} NOT NULL,
      broker ${t.integer} NOT NULL DEFAULT 0,
      stopping ${t.integer} NOT NULL DEFAULT 0,
      started_at ${t.bigint} NOT NULL,
      heartbeat_at ${t.bigint} NOT NULL,
      expires_at ${t.bigint} NOT NULL
    )`,
    `CREATE TABLE aiida_ts_task (
      process_id ${t.integer} NOT NULL PRIMARY KEY,
      state VARCHAR(16) NOT NULL,
      mode VARCHAR(16) NOT NULL,
      owner ${t.name},
      epoch ${t.integer} NOT NULL DEFAULT 0,
      parent_id ${t.integer},
      waiting_for ${t.text},
      wake_at ${t.bigint},
      paused ${t.integer} NOT NULL DEFAULT 0,
      step_mark ${t.integer},
      module ${t.text},
      enqueued_at ${t.bigint} NOT NULL,
      claimed_at ${t.bigint}
    )`,
    `CREATE INDEX ix_aiida_ts_task_state ON aiida_ts_task (state, process_id)`,
    `CREATE INDEX ix_aiida_ts_task_owner ON aiida_ts_task (owner)`,
    `CREATE INDEX ix_aiida_ts_task_parent ON aiida_ts_task (parent_id)`,
    `CREATE TABLE aiida_ts_control (
      id ${t.serialKey},
      process_id ${t.integer} NOT NULL,
      intent VARCHAR(16) NOT NULL,
      message ${t.text},
      force ${t.integer} NOT NULL DEFAULT 0,
      state VARCHAR(16) NOT NULL,
      result ${t.text},
      requested_at ${t.bigint} NOT NULL,
      done_at ${t.bigint}
    )`,
    `CREATE INDEX ix_aiida_ts_control_state ON aiida_ts_control (state, process_id)`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}
