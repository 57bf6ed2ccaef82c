import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { IntegrityError } from '../../errors.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import type { StorageEntryPoint } from '../backend.js';
import { postgresDialect } from '../dialect.js';
import type { Database } from '../schema.js';
import { SqlStorageBackend, type BulkTable } from '../sql-backend.js';

/** How to reach a PostgreSQL database (aiida-core's `database_*` keys, already validated). */
export interface PostgresConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Pool size; default 10. */
  readonly max?: number;
}

const TIMESTAMP_OIDS = new Set([1114, 1184]);

/**
 * A pg pool whose sessions run in UTC and hand timestamps back as text, so microseconds survive (a JS `Date`
 * keeps milliseconds only); the dialect decodes them.
 */
export function createPostgresPool(options: PostgresConnectionOptions): pg.Pool {
  const pool = new pg.Pool({
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    max: options.max ?? 10,
    options: '-c timezone=UTC',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
        TIMESTAMP_OIDS.has(oid)
          ? (value: string) => value
          : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
    },
  });
  // an idle client losing its connection must not crash the process; the next query reconnects
  pool.on('error', () => undefined);
  return pool;
}

/** Options of {@link PostgresStorageBackend}. */
export interface PostgresStorageBackendOptions {
  readonly entryPoint: StorageEntryPoint;
  readonly pool: pg.Pool;
  readonly repository: RepositoryBackend;
  readonly location: string;
  readonly defaultUserEmail?: string | null;
}

/** The PostgreSQL type of each column name of the schema, for the arrays of a bulk insert. */
const COLUMN_TYPES: Readonly<Record<string, string>> = {
  uuid: 'uuid',
  ctime: 'timestamptz',
  mtime: 'timestamptz',
  time: 'timestamptz',
  attributes: 'jsonb',
  extras: 'jsonb',
  repository_metadata: 'jsonb',
  metadata: 'jsonb',
  auth_params: 'jsonb',
  val: 'jsonb',
  enabled: 'boolean',
  id: 'integer',
  user_id: 'integer',
  dbcomputer_id: 'integer',
  aiidauser_id: 'integer',
  dbnode_id: 'integer',
  dbgroup_id: 'integer',
  input_id: 'integer',
  output_id: 'integer',
};

function columnType(column: string): string {
  return COLUMN_TYPES[column] ?? 'text';
}

const TABLES_WITH_UUID = new Set<BulkTable>([
  'db_dbnode',
  'db_dbcomputer',
  'db_dbgroup',
  'db_dbcomment',
  'db_dblog',
]);

function pgCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A profile storage on a PostgreSQL database and a repository. */
export class PostgresStorageBackend extends SqlStorageBackend {
  constructor(options: PostgresStorageBackendOptions) {
    super({
      entryPoint: options.entryPoint,
      dialect: postgresDialect,
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: options.pool }) }),
      repository: options.repository,
      location: options.location,
      defaultUserEmail: options.defaultUserEmail ?? null,
    });
  }

  protected beginStatement(): string {
    return 'BEGIN';
  }

  protected isTransient(error: unknown): boolean {
    const code = pgCode(error);
    // serialization_failure, deadlock_detected
    return code === '40001' || code === '40P01';
  }

  protected async closeDatabase(): Promise<void> {
    await this.db.destroy();
  }

  protected async insertMany(
    executor: Kysely<Database>,
    table: BulkTable,
    rows: readonly Record<string, unknown>[],
  ): Promise<number[]> {
    const columns = Object.keys(rows[0]!);
    const withUuid = TABLES_WITH_UUID.has(table);
    const ids: number[] = [];
    // one array parameter per column, unnested into rows: the statement stays small whatever the batch size, so
    // PostgreSQL parses it once per chunk and no 65535-parameter limit applies
    const chunkSize = 10_000;
    try {
      for (let start = 0; start < rows.length; start += chunkSize) {
        const chunk = rows.slice(start, start + chunkSize);
        const arrays = columns.map((column) => chunk.map((row) => row[column] ?? null));
        const casts = columns.map(
          (column) => sql`${arrays[columns.indexOf(column)]}::${sql.raw(columnType(column))}[]`,
        );
        const query = sql<{
          id: number;
          uuid?: string;
        }>`INSERT INTO ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))})
          SELECT * FROM unnest(${sql.join(casts)}) RETURNING id${withUuid ? sql`, uuid::text AS uuid` : sql``}`;
        const returned = (await query.execute(executor)).rows;
        if (withUuid) {
          const byUuid = new Map(returned.map((r) => [r.uuid, r.id]));
          for (const row of chunk) ids.push(byUuid.get(String(row['uuid']))!);
        } else {
          // serial ids of one insert are drawn in row order; RETURNING's own order is unspecified
          ids.push(...returned.map((r) => r.id).sort((a, b) => a - b));
        }
      }
    } catch (error) {
      if (pgCode(error).startsWith('23')) {
        throw new IntegrityError(`insert into ${table} violates a constraint: ${(error as Error).message}`, {
          cause: error,
        });
      }
      throw error;
    }
    return ids;
  }
}
