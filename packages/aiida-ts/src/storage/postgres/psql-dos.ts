import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { pgDriver } from './pg-driver.js';
import { z } from 'zod';
import {
  CorruptStorageError,
  DatabaseUnavailableError,
  IncompatibleStorageSchemaError,
  isAiidaError,
  StorageMigrationError,
} from '../../errors.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import {
  StorageEntryPoint,
  type InitialiseOptions,
  type MigrationReport,
  type OpenOptions,
  type StoragePlugin,
} from '../backend.js';
import { getContainerRepositoryFactory, type ContainerRepositoryFactory } from '../container-repository.js';
import { postgresDialect } from '../dialect.js';
import {
  createSchema,
  incompatibleSchemaError,
  migrateSchema,
  readSchemaVersion,
  SCHEMA_VERSION_HEAD,
} from '../migrations.js';
import { ensurePostgresIndexes, postgresIndexesPresent } from '../performance-indexes.js';
import { REPOSITORY_UUID_KEY, type Database } from '../schema.js';
import { parseStorageConfig } from '../storage-config.js';
import { createPostgresPool, PostgresStorageBackend } from './postgres-backend.js';

/** `storage.config` of a `core.psql_dos` profile, with aiida-core's keys and defaults. */
export const PsqlDosConfigSchema = z.object({
  database_engine: z.string().default('postgresql_psycopg'),
  database_hostname: z.string().min(1).default('localhost'),
  database_port: z.coerce.number().int().min(1).max(65535).default(5432),
  database_username: z.string().min(1),
  database_password: z.string().default(''),
  database_name: z.string().min(1),
  /** `file:///absolute/folder`; the container is its `container` subfolder, as in aiida-core. */
  repository_uri: z
    .string()
    .refine((value) => value.startsWith('file://'), 'must start with `file://`')
    .refine(
      (value) => value.startsWith('file://') && path.isAbsolute(fileURLToPath(value)),
      'must be an absolute path',
    ),
});
export type PsqlDosConfig = z.infer<typeof PsqlDosConfigSchema>;

/** Options of {@link PsqlDosStorage}. */
export interface PsqlDosStorageOptions {
  readonly createRepository?: ContainerRepositoryFactory;
  /** Connection pool size of each open storage. */
  readonly poolSize?: number;
}

/** The folder of the container of a `core.psql_dos` profile. */
export function psqlDosContainerFolder(config: PsqlDosConfig): string {
  return path.join(fileURLToPath(config.repository_uri), 'container');
}

function connectionOptions(config: PsqlDosConfig, database = config.database_name) {
  return {
    host: config.database_hostname,
    port: config.database_port,
    user: config.database_username,
    password: config.database_password,
    database,
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Runs `fn` on a short-lived connection to `database` of the server (not pooled). */
async function withClient<T>(
  config: PsqlDosConfig,
  database: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new (pgDriver().Client)(connectionOptions(config, database));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the profile's database on the server when it is missing (connecting to the `postgres` database). */
export async function createPostgresDatabase(config: PsqlDosConfig): Promise<void> {
  await withClient(config, 'postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [config.database_name]);
    if (found.rowCount === 0) {
      await client.query(
        `CREATE DATABASE ${quoteIdentifier(config.database_name)} ENCODING 'UTF8' TEMPLATE template0`,
      );
    }
  });
}

/** Drops the profile's database, ending other sessions on it first. */
export async function dropPostgresDatabase(config: PsqlDosConfig): Promise<void> {
  await withClient(config, 'postgres', async (client) => {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [config.database_name],
    );
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(config.database_name)}`);
  });
}

/** What {@link PsqlDosStorage.open} checks in the database before it uses it. */
interface OpenState {
  /** `alembic_version`'s version, or null when there is no such table (or no row). */
  readonly version: string | null;
  /** The repository UUID's setting, or undefined when there is no such row, or no `db_dbsetting` to look in. */
  readonly repositoryUuid: { readonly val: unknown } | undefined;
  /** How many of aiida-ts's indexes the database has (see {@link postgresIndexesPresent}). */
  readonly indexes: number;
}

/**
 * What the open checks, in two round trips instead of four (every command pays for them): which of the tables it
 * reads exist, with the count of aiida-ts's indexes; then, when they exist, the version and the repository UUID.
 * A table that is missing is never queried (its absence means what it meant to {@link readSchemaVersion}).
 */
async function readOpenState(db: Kysely<Database>): Promise<OpenState> {
  const { rows } = await sql<{ alembic: number; settings: number; indexes: number }>`SELECT
    count(*) FILTER (WHERE table_name = 'alembic_version')::int AS alembic,
    count(*) FILTER (WHERE table_name = 'db_dbsetting')::int AS settings,
    ${postgresIndexesPresent()} AS indexes
    FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_name IN ('alembic_version', 'db_dbsetting')`.execute(db);
  const tables = rows[0] ?? { alembic: 0, settings: 0, indexes: 0 };
  if (tables.alembic === 0) return { version: null, repositoryUuid: undefined, indexes: tables.indexes };
  const uuid =
    tables.settings === 0
      ? sql`NULL::boolean AS has_uuid, NULL::jsonb AS uuid`
      : sql`EXISTS (SELECT 1 FROM db_dbsetting WHERE key = ${REPOSITORY_UUID_KEY}) AS has_uuid,
          (SELECT val FROM db_dbsetting WHERE key = ${REPOSITORY_UUID_KEY} LIMIT 1) AS uuid`;
  const found = await sql<{ version: string | null; has_uuid: boolean | null; uuid: unknown }>`SELECT
    (SELECT version_num FROM alembic_version LIMIT 1) AS version, ${uuid}`.execute(db);
  const row = found.rows[0];
  return {
    version: row?.version ?? null,
    repositoryUuid: row?.has_uuid === true ? { val: row.uuid } : undefined,
    indexes: tables.indexes,
  };
}

/** `core.psql_dos`: a PostgreSQL database plus a disk-objectstore container, for large or shared profiles. */
export class PsqlDosStorage implements StoragePlugin<PsqlDosConfig> {
  readonly entryPoint = StorageEntryPoint.PSQL_DOS;
  readonly #options: PsqlDosStorageOptions;

  constructor(options: PsqlDosStorageOptions = {}) {
    this.#options = options;
  }

  parseConfig(config: unknown): PsqlDosConfig {
    return parseStorageConfig(PsqlDosConfigSchema, config, this.entryPoint);
  }

  #repository(config: PsqlDosConfig): RepositoryBackend {
    const factory = this.#options.createRepository ?? getContainerRepositoryFactory();
    return factory(psqlDosContainerFolder(config));
  }

  async #withDatabase<T>(config: PsqlDosConfig, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const pool = createPostgresPool({ ...connectionOptions(config), max: 1 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  /** Creates the database when missing, then the schema and the container when the database has no schema. */
  async initialise(config: PsqlDosConfig, options: InitialiseOptions = {}): Promise<void> {
    await createPostgresDatabase(config);
    if ((await this.versionProfile(config)) !== null) return;
    const repository = this.#repository(config);
    try {
      await repository.initialise();
      const uuid = repository.uuid;
      await this.#withDatabase(config, (db) =>
        db.transaction().execute(async (trx) => {
          await createSchema(trx, postgresDialect, options.schemaVersion);
          await trx
            .insertInto('db_dbsetting')
            .values({
              key: REPOSITORY_UUID_KEY,
              val: postgresDialect.encodeJson(uuid),
              description: 'Repository UUID',
              time: postgresDialect.encodeTimestamp(new Date()),
            })
            .execute();
        }),
      );
    } finally {
      await repository.close();
    }
  }

  async isInitialised(config: PsqlDosConfig): Promise<boolean> {
    try {
      return (await this.versionProfile(config)) !== null;
    } catch (error) {
      // 3D000: invalid_catalog_name (the database does not exist)
      if ((error as { code?: unknown }).code === '3D000') return false;
      throw error;
    }
  }

  versionHead(): string {
    return SCHEMA_VERSION_HEAD;
  }

  async versionProfile(config: PsqlDosConfig): Promise<string | null> {
    return this.#withDatabase(config, (db) => readSchemaVersion(db, postgresDialect));
  }

  async migrate(config: PsqlDosConfig): Promise<MigrationReport> {
    return this.#withDatabase(config, async (db) => {
      const { from, applied } = await db.transaction().execute((trx) => migrateSchema(trx, postgresDialect));
      return { from, to: SCHEMA_VERSION_HEAD, applied };
    }).catch((error: unknown) => {
      if (error instanceof StorageMigrationError) throw error;
      throw new StorageMigrationError(
        `migration of ${config.database_name} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
  }

  async open(config: PsqlDosConfig, options: OpenOptions = {}): Promise<PostgresStorageBackend> {
    const pool = createPostgresPool({
      ...connectionOptions(config),
      max: this.#options.poolSize ?? 10,
      profileName: options.profileName,
    });
    let repository: RepositoryBackend | undefined;
    try {
      const probe = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      const state = await readOpenState(probe);
      const { version } = state;
      if (version === null) throw new IncompatibleStorageSchemaError('The database has no known version.');
      if (version !== SCHEMA_VERSION_HEAD)
        throw incompatibleSchemaError(version, options.profileName ?? '<profile>');
      repository = this.#repository(config);
      await repository.initialise();
      // without db_dbsetting the query fails with the server's words, as it always did
      const row =
        state.repositoryUuid ??
        (await probe
          .selectFrom('db_dbsetting')
          .select('val')
          .where('key', '=', REPOSITORY_UUID_KEY)
          .executeTakeFirst());
      if (row === undefined) throw new CorruptStorageError('The database has no repository UUID set.');
      const expected = postgresDialect.decodeJson(row.val);
      if (expected !== repository.uuid) {
        throw new CorruptStorageError(
          `The database has a repository UUID configured to ${String(expected)} but the disk-objectstore's is ${String(repository.uuid)}.`,
        );
      }
      await ensurePostgresIndexes(probe, state.indexes);
    } catch (error) {
      await pool.end();
      await repository?.close();
      if (isAiidaError(error)) throw error;
      // the server's own words (no such database, authentication failed, refused), with what could not be opened
      const profile = options.profileName === undefined ? '' : ` of profile \`${options.profileName}\``;
      const failure = new DatabaseUnavailableError(
        `the database \`${config.database_name}\` (postgresql://${config.database_username}@${config.database_hostname}:` +
          `${config.database_port})${profile} cannot be used: ${(error as Error).message}`,
        { cause: error },
      );
      failure.stack = `${failure.name}: ${failure.message}`;
      throw failure;
    }
    return new PostgresStorageBackend({
      entryPoint: this.entryPoint,
      pool,
      repository,
      location: `postgresql://${config.database_username}@${config.database_hostname}:${config.database_port}/${config.database_name}`,
      defaultUserEmail: options.defaultUserEmail ?? null,
      profileAccess: options.profileAccess,
    });
  }

  async destroy(config: PsqlDosConfig): Promise<void> {
    await dropPostgresDatabase(config);
    await rm(path.dirname(psqlDosContainerFolder(config)), { recursive: true, force: true });
  }
}
