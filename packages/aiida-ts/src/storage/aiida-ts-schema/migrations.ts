import { sql, type Kysely } from 'kysely';
import { DialectName, type SqlDialect } from '../dialect.js';
import type { Database } from '../schema.js';
import { createDaemonTables } from './daemon-tables.js';
import { createRepositoryEpochTable } from './repository-epoch-table.js';

/** The physical column types of the aiida-ts tables in one dialect. */
export interface AiidaTsColumnTypes {
  /** An auto-incrementing integer primary key whose values only grow (never reused). */
  readonly serialKey: string;
  readonly integer: string;
  /** Epoch milliseconds. */
  readonly bigint: string;
  readonly text: string;
  /** A short indexed string (names, keys). */
  readonly name: string;
}

/** The column types of `dialect`. */
export function aiidaTsColumnTypes(dialect: SqlDialect): AiidaTsColumnTypes {
  return dialect.name === DialectName.POSTGRES
    ? {
        serialKey: 'SERIAL PRIMARY KEY',
        integer: 'INTEGER',
        bigint: 'BIGINT',
        text: 'TEXT',
        name: 'VARCHAR(1024)',
      }
    : {
        // AUTOINCREMENT: ids never come back after the newest row is deleted, so `id` order is arrival order
        serialKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
        integer: 'INTEGER',
        bigint: 'INTEGER',
        text: 'TEXT',
        name: 'VARCHAR(1024)',
      };
}

/** One step of the aiida-ts schema history (never of aiida-core's: that is `alembic_version`'s). */
export interface AiidaTsMigration {
  /** `aiida_ts_NNNN`, numbered in order. */
  readonly version: string;
  readonly description: string;
  /** Runs inside the transaction that stamps the new version; DDL is transactional on both databases. */
  readonly up: (db: Kysely<Database>, dialect: SqlDialect) => Promise<void>;
}

async function run(db: Kysely<Database>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

/**
 * Every aiida-ts migration, oldest first. Adding tables (the daemon's leases, wake-ups, control requests, task
 * queue) is one more entry here, plus their interfaces in `schema.ts`. A profile is brought to the last entry
 * the first time a process writes to these tables.
 */
export const AIIDA_TS_MIGRATIONS: readonly AiidaTsMigration[] = [
  {
    version: 'aiida_ts_0001',
    description:
      'Coordination across processes: throttles, shared polls, job slots with limits per computer and quotas',
    up: async (db, dialect) => {
      const t = aiidaTsColumnTypes(dialect);
      await run(db, [
        `CREATE TABLE aiida_ts_pool (
          name ${t.name} NOT NULL PRIMARY KEY,
          max_jobs ${t.integer},
          description ${t.text} NOT NULL DEFAULT '',
          created_at ${t.bigint} NOT NULL
        )`,
        `CREATE TABLE aiida_ts_quota_member (
          quota ${t.name} NOT NULL,
          computer_uuid ${t.name} NOT NULL,
          PRIMARY KEY (quota, computer_uuid)
        )`,
        `CREATE INDEX ix_aiida_ts_quota_member_computer ON aiida_ts_quota_member (computer_uuid)`,
        `CREATE TABLE aiida_ts_throttle (
          key ${t.name} NOT NULL PRIMARY KEY,
          last_used ${t.bigint} NOT NULL
        )`,
        `CREATE TABLE aiida_ts_poll (
          key ${t.name} NOT NULL PRIMARY KEY,
          value ${t.text},
          polled_at ${t.bigint},
          poller ${t.name},
          poll_started_at ${t.bigint},
          lease_until ${t.bigint}
        )`,
        `CREATE TABLE aiida_ts_owner (
          id ${t.name} NOT NULL PRIMARY KEY,
          host ${t.name} NOT NULL,
          pid ${t.integer} NOT NULL,
          process_start ${t.name} NOT NULL,
          expires_at ${t.bigint} NOT NULL
        )`,
        `CREATE TABLE aiida_ts_slot_request (
          id ${t.serialKey},
          holder ${t.integer} NOT NULL UNIQUE,
          pools ${t.text} NOT NULL,
          state VARCHAR(16) NOT NULL,
          owner ${t.name},
          requested_at ${t.bigint} NOT NULL,
          granted_at ${t.bigint}
        )`,
        `CREATE INDEX ix_aiida_ts_slot_request_state ON aiida_ts_slot_request (state, id)`,
        `CREATE TABLE aiida_ts_slot (
          pool ${t.name} NOT NULL,
          holder ${t.integer} NOT NULL,
          PRIMARY KEY (pool, holder)
        )`,
        `CREATE INDEX ix_aiida_ts_slot_holder ON aiida_ts_slot (holder)`,
      ]);
    },
  },
  {
    version: 'aiida_ts_0002',
    description:
      'The daemon: workers and runners (aiida_ts_worker), process leases and runnable records (aiida_ts_task), control requests (aiida_ts_control)',
    up: (db, dialect) => createDaemonTables(db, aiidaTsColumnTypes(dialect)),
  },
  {
    version: 'aiida_ts_0003',
    description:
      'The repository epoch (aiida_ts_repository_epoch): full maintenance counts its runs, node writes with files check it in their insert',
    up: async (db, dialect) => {
      // on PostgreSQL, a lock that conflicts with full maintenance's (SHARE on db_dbnode): a maintenance run that
      // began before the table existed, and so increments no epoch, ends before the table is committed, hence before
      // any writer reads the epoch and checks its objects (see repository-epoch.ts)
      if (dialect.name === DialectName.POSTGRES)
        await sql`LOCK TABLE db_dbnode IN ROW EXCLUSIVE MODE`.execute(db);
      await createRepositoryEpochTable(db, aiidaTsColumnTypes(dialect));
    },
  },
];

/** The aiida-ts schema version this code reads and writes. */
export const AIIDA_TS_SCHEMA_HEAD: string = AIIDA_TS_MIGRATIONS[AIIDA_TS_MIGRATIONS.length - 1]!.version;
