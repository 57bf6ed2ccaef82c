import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import {
  createPostgresDatabase,
  createPostgresPool,
  createSchema,
  dropPostgresDatabase,
  MemoryRepositoryBackend,
  PostgresStorageBackend,
  postgresDialect,
  SqliteTempStorage,
  type Database,
  type PsqlDosConfig,
  type StorageBackend,
} from '../../../src/storage.js';

/** The dialects every QueryBuilder suite runs on. */
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type TestDialect = (typeof DIALECTS)[number];

/** A storage for one test file, and how to throw it away. */
export interface TestStorage {
  readonly backend: StorageBackend;
  readonly dialect: TestDialect;
  close(): Promise<void>;
}

function postgresConfig(): PsqlDosConfig {
  return {
    database_engine: 'postgresql_psycopg',
    database_hostname: '127.0.0.1',
    database_port: 5432,
    database_username: 'postgres',
    database_password: '',
    database_name: `aiida_qb_test_${randomBytes(6).toString('hex')}`,
    repository_uri: 'file:///tmp/aiida-qb-test-unused',
  };
}

/**
 * Opens a fresh, empty storage: an in-memory SQLite `core.sqlite_temp`, or a new PostgreSQL database (on
 * 127.0.0.1:5432, user postgres) with the head schema, dropped again by `close()`.
 */
export async function openTestStorage(dialect: TestDialect): Promise<TestStorage> {
  if (dialect === 'sqlite') {
    const backend = await new SqliteTempStorage().open();
    return { backend, dialect, close: () => backend.close() };
  }
  const config = postgresConfig();
  await createPostgresDatabase(config);
  const pool = createPostgresPool({
    host: config.database_hostname,
    port: config.database_port,
    user: config.database_username,
    password: config.database_password,
    database: config.database_name,
  });
  try {
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await db.transaction().execute((trx) => createSchema(trx, postgresDialect));
  } catch (error) {
    await pool.end();
    await dropPostgresDatabase(config);
    throw error;
  }
  const backend = new PostgresStorageBackend({
    entryPoint: 'core.psql_dos',
    pool,
    repository: new MemoryRepositoryBackend(),
    location: `postgresql://postgres@127.0.0.1:5432/${config.database_name}`,
  });
  return {
    backend,
    dialect,
    close: async () => {
      await backend.close();
      await dropPostgresDatabase(config);
    },
  };
}

/**
 * The storage of the enclosing `describe` block: opened, and `seed` run on it, before its tests; closed after them.
 * Returns how to reach it from a test.
 */
export function storageForBlock(
  dialect: TestDialect,
  seed: (backend: StorageBackend) => Promise<void>,
): () => StorageBackend {
  let storage: TestStorage | undefined;
  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    await seed(storage.backend);
  }, 60_000);
  afterAll(async () => storage?.close());
  return () => {
    if (storage === undefined) throw new Error('the storage of this block is not open');
    return storage.backend;
  };
}

/** After rows were inserted with explicit ids, moves PostgreSQL's id sequences past them. */
export async function resetSequences(backend: StorageBackend): Promise<void> {
  if (backend.dialect.name !== 'postgres') return;
  const tables = [
    'db_dbuser',
    'db_dbcomputer',
    'db_dbauthinfo',
    'db_dbnode',
    'db_dbgroup',
    'db_dbgroup_dbnodes',
    'db_dblink',
    'db_dbcomment',
    'db_dblog',
  ];
  for (const table of tables) {
    await sql`select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${sql.table(table)}), 0) + 1, false)`.execute(
      backend.executor(),
    );
  }
}
