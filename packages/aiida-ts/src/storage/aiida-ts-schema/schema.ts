import type { ColumnType, Generated, Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { AiidaTsControlTable, AiidaTsTaskTable, AiidaTsWorkerTable } from './daemon-tables.js';

/**
 * The tables aiida-ts keeps beside aiida-core's in a profile's database, all named `aiida_ts_*`. They carry their
 * own version stamp ({@link AiidaTsSchemaVersionTable}) and migrations (see `migrations.ts`), so aiida-core's
 * `alembic_version` and its tables stay exactly as aiida-core writes them and aiida-core still opens the profile.
 *
 * Times in these tables are milliseconds since the Unix epoch (`BIGINT`), taken from the database's clock on
 * PostgreSQL (so every machine sharing the database agrees) and from the machine's clock on SQLite (every process
 * sharing an SQLite file runs on one machine). PostgreSQL hands `BIGINT` back as a string: read them with
 * `Number(...)`.
 *
 * To add tables: add their interfaces to {@link AiidaTsDatabase} and one entry to `AIIDA_TS_MIGRATIONS`.
 */

/** Milliseconds since the epoch: a number to write, a number or a decimal string (PostgreSQL) when read. */
export type EpochMsColumn = ColumnType<number | string, number, number>;
/** A nullable {@link EpochMsColumn}. */
export type NullableEpochMsColumn = ColumnType<number | string | null, number | null, number | null>;

/** `aiida_ts_schema_version`: one row, the aiida-ts schema version of the profile (`aiida_ts_0001`, …). */
export interface AiidaTsSchemaVersionTable {
  version: string;
}

/**
 * `aiida_ts_pool`: a pool of job slots and its limit. `computer:<uuid>` is a computer's cap on queued jobs,
 * `quota:<name>` a named quota shared by the computers of {@link AiidaTsQuotaMemberTable}. A computer pool without
 * a row (or any pool with a NULL limit) is unlimited.
 */
export interface AiidaTsPoolTable {
  name: string;
  max_jobs: number | null;
  description: string;
  created_at: EpochMsColumn;
}

/** `aiida_ts_quota_member`: the computers (by uuid) that count against a quota. */
export interface AiidaTsQuotaMemberTable {
  quota: string;
  computer_uuid: string;
}

/**
 * `aiida_ts_throttle`: per key, the time of the latest use granted or reserved by `Coordinator.throttle` (a future
 * time while callers wait for their turn).
 */
export interface AiidaTsThrottleTable {
  key: string;
  last_used: EpochMsColumn;
}

/**
 * `aiida_ts_poll`: the latest result of each `Coordinator.sharedPoll` key, and who is polling now (a lease, so a
 * poller that died is replaced).
 */
export interface AiidaTsPollTable {
  key: string;
  /** JSON text of the latest result, or NULL before the first successful poll. */
  value: string | null;
  /** When the poll that produced `value` started. */
  polled_at: NullableEpochMsColumn;
  /** The coordinator running a poll now (`aiida_ts_owner.id`), or NULL. */
  poller: string | null;
  /** When the running poll started (results of polls older than a caller's `notBefore` are not accepted). */
  poll_started_at: NullableEpochMsColumn;
  lease_until: NullableEpochMsColumn;
}

/**
 * `aiida_ts_owner`: one row per live coordinator (an OS process using the profile), kept alive by heartbeats while
 * it waits. A waiting request whose owner expired (or whose process is gone, when it ran on this machine) is
 * dropped, so a killed process never blocks a queue.
 */
export interface AiidaTsOwnerTable {
  id: string;
  /** The machine (hostname, boot id and pid namespace) the process runs on. */
  host: string;
  pid: number;
  /** When the process started, as the OS tells it (so a reused pid is not taken for the same process). */
  process_start: string;
  expires_at: EpochMsColumn;
}

/** The states of a row of {@link AiidaTsSlotRequestTable}. */
export const SlotRequestState = { WAITING: 'waiting', GRANTED: 'granted' } as const;
export type SlotRequestState = (typeof SlotRequestState)[keyof typeof SlotRequestState];

/**
 * `aiida_ts_slot_request`: one request for job slots per holder (a process node's pk), served oldest `id` first.
 * A granted request keeps its slots (rows of {@link AiidaTsSlotTable}) until released or reclaimed.
 */
export interface AiidaTsSlotRequestTable {
  id: Generated<number>;
  holder: number;
  /** JSON array of pool names. */
  pools: string;
  state: SlotRequestState;
  /** The coordinator keeping a waiting request alive (`aiida_ts_owner.id`). */
  owner: string | null;
  requested_at: EpochMsColumn;
  granted_at: NullableEpochMsColumn;
}

/** `aiida_ts_slot`: one granted slot of a holder in a pool; usage of a pool is its row count. */
export interface AiidaTsSlotTable {
  pool: string;
  holder: number;
}

/**
 * `aiida_ts_repository_epoch`: one row (`id` 1), incremented by every full maintenance run; node writes with files
 * compare it in their insert (see `repository-epoch.ts`).
 */
export interface AiidaTsRepositoryEpochTable {
  id: number;
  /** A decimal string when read on PostgreSQL (`BIGINT`). */
  epoch: number | string;
}

/** Every aiida-ts table, for `Kysely<AiidaTsDatabase>`. */
export interface AiidaTsDatabase {
  aiida_ts_schema_version: AiidaTsSchemaVersionTable;
  aiida_ts_pool: AiidaTsPoolTable;
  aiida_ts_quota_member: AiidaTsQuotaMemberTable;
  aiida_ts_throttle: AiidaTsThrottleTable;
  aiida_ts_poll: AiidaTsPollTable;
  aiida_ts_owner: AiidaTsOwnerTable;
  aiida_ts_slot_request: AiidaTsSlotRequestTable;
  aiida_ts_slot: AiidaTsSlotTable;
  aiida_ts_worker: AiidaTsWorkerTable;
  aiida_ts_task: AiidaTsTaskTable;
  aiida_ts_control: AiidaTsControlTable;
  aiida_ts_repository_epoch: AiidaTsRepositoryEpochTable;
}

/** A handle that reaches aiida-core's tables and aiida-ts's. */
export type AiidaTsKysely = Kysely<Database & AiidaTsDatabase>;

/**
 * The same handle typed with the aiida-ts tables too. Only the type changes (what Kysely's `withTables` does),
 * without the copy `withTables` makes: a copy starts with empty caches, and this runs once per coordination
 * transaction.
 */
export function withAiidaTsTables(db: Kysely<Database>): AiidaTsKysely {
  return db as unknown as AiidaTsKysely;
}
