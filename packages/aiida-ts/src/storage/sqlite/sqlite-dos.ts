import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import { z } from 'zod';
import {
  ConfigurationError,
  CorruptStorageError,
  IncompatibleStorageSchemaError,
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
import { sqliteDialect } from '../dialect.js';
import {
  createSchema,
  incompatibleSchemaError,
  migrateSchema,
  readSchemaVersion,
  SCHEMA_VERSION_HEAD,
} from '../migrations.js';
import { ensureSqliteIndexes } from '../performance-indexes.js';
import { REPOSITORY_UUID_KEY, type Database } from '../schema.js';
import { parseStorageConfig } from '../storage-config.js';
import { openSqliteDatabase, optimizeSqliteDatabase, SqliteStorageBackend } from './sqlite-backend.js';
import { assertSqliteFileIntact, sqliteFailure } from './sqlite-file.js';

/** The database file inside a `core.sqlite_dos` folder (aiida-core's `FILENAME_DATABASE`). */
export const SQLITE_DOS_DATABASE_FILENAME = 'database.sqlite';
/** The disk-objectstore container inside a `core.sqlite_dos` folder (aiida-core's `FILENAME_CONTAINER`). */
export const SQLITE_DOS_CONTAINER_FOLDER = 'container';

/** `storage.config` of a `core.sqlite_dos` profile: the folder holding the database and the container. */
export const SqliteDosConfigSchema = z.object({
  filepath: z
    .string()
    .min(1, 'must name a folder')
    .transform((value) => path.resolve(value)),
});
export type SqliteDosConfig = z.infer<typeof SqliteDosConfigSchema>;

/** Options of {@link SqliteDosStorage}. */
export interface SqliteDosStorageOptions {
  /** How to open the container; default: the repository module's disk-objectstore backend. */
  readonly createRepository?: ContainerRepositoryFactory;
  /** Busy timeout of each statement (ms). */
  readonly busyTimeoutMs?: number;
}

/**
 * Runs `fn` on a short-lived Kysely handle of the profile's database (for migrations and version checks). With
 * `optimize`, refreshes the planner's statistics after `fn` succeeded (after creating or migrating the schema).
 */
async function withDatabase<T>(
  filepath: string,
  fn: (db: Kysely<Database>) => Promise<T>,
  options: { readonly optimize?: boolean } = {},
): Promise<T> {
  const native = openSqliteDatabase({ filepath });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
  try {
    const result = await fn(db);
    if (options.optimize === true) optimizeSqliteDatabase(native, { allTables: true });
    return result;
  } finally {
    await db.destroy();
  }
}

/**
 * `core.sqlite_dos`: the embedded default storage. An SQLite database `database.sqlite` and a disk-objectstore
 * `container` in one folder, no services needed. Several OS processes (daemon workers, `verdi`) may use it at once.
 */
export class SqliteDosStorage implements StoragePlugin<SqliteDosConfig> {
  readonly entryPoint = StorageEntryPoint.SQLITE_DOS;
  readonly #options: SqliteDosStorageOptions;

  constructor(options: SqliteDosStorageOptions = {}) {
    this.#options = options;
  }

  parseConfig(config: unknown): SqliteDosConfig {
    return parseStorageConfig(SqliteDosConfigSchema, config, this.entryPoint);
  }

  #databasePath(config: SqliteDosConfig): string {
    return path.join(config.filepath, SQLITE_DOS_DATABASE_FILENAME);
  }

  #repository(config: SqliteDosConfig): RepositoryBackend {
    const factory = this.#options.createRepository ?? getContainerRepositoryFactory();
    return factory(path.join(config.filepath, SQLITE_DOS_CONTAINER_FOLDER));
  }

  async initialise(config: SqliteDosConfig, options: InitialiseOptions = {}): Promise<void> {
    try {
      await mkdir(config.filepath, { recursive: true });
    } catch (error) {
      throw new ConfigurationError(`\`${config.filepath}\` cannot be used for a core.sqlite_dos storage`, {
        cause: error,
      });
    }
    if ((await readdir(config.filepath)).length > 0) {
      throw new ConfigurationError(
        `\`${config.filepath}\` already exists but is not empty and cannot be used for a core.sqlite_dos storage.`,
      );
    }
    const repository = this.#repository(config);
    try {
      await repository.initialise();
      const uuid = repository.uuid;
      await withDatabase(
        this.#databasePath(config),
        async (db) => {
          await db.transaction().execute(async (trx) => {
            await createSchema(trx, sqliteDialect, options.schemaVersion);
            await trx
              .insertInto('db_dbsetting')
              .values({
                key: REPOSITORY_UUID_KEY,
                val: sqliteDialect.encodeJson(uuid),
                description: 'Repository UUID',
                time: sqliteDialect.encodeTimestamp(new Date()),
              })
              .execute();
          });
        },
        { optimize: true },
      );
    } finally {
      await repository.close();
    }
  }

  async isInitialised(config: SqliteDosConfig): Promise<boolean> {
    if (!existsSync(this.#databasePath(config))) return false;
    return (await this.versionProfile(config)) !== null;
  }

  /**
   * Runs `fn` on the profile's database after checking the file is whole (see `assertSqliteFileIntact`): a damaged
   * file is refused before anything opens it for writing, and SQLite's own corruption errors become
   * `CorruptStorageError` naming the file and how to restore it.
   */
  async #withCheckedDatabase<T>(
    config: SqliteDosConfig,
    fn: (db: Kysely<Database>) => Promise<T>,
    options: { readonly optimize?: boolean } = {},
  ): Promise<T> {
    const path = this.#databasePath(config);
    assertSqliteFileIntact(path, config.filepath);
    try {
      return await withDatabase(path, fn, options);
    } catch (error) {
      throw sqliteFailure(error, path, config.filepath);
    }
  }

  versionHead(): string {
    return SCHEMA_VERSION_HEAD;
  }

  async versionProfile(config: SqliteDosConfig): Promise<string | null> {
    if (!existsSync(this.#databasePath(config))) return null;
    return this.#withCheckedDatabase(config, (db) => readSchemaVersion(db, sqliteDialect));
  }

  async migrate(config: SqliteDosConfig): Promise<MigrationReport> {
    if (!existsSync(this.#databasePath(config))) {
      throw new StorageMigrationError(
        `storage is uninitialised, cannot migrate: no database at ${this.#databasePath(config)}`,
      );
    }
    return this.#withCheckedDatabase(
      config,
      async (db) => {
        const { from, applied } = await db.transaction().execute((trx) => migrateSchema(trx, sqliteDialect));
        return { from, to: SCHEMA_VERSION_HEAD, applied };
      },
      { optimize: true },
    );
  }

  async open(config: SqliteDosConfig, options: OpenOptions = {}): Promise<SqliteStorageBackend> {
    const databasePath = this.#databasePath(config);
    if (!existsSync(databasePath)) {
      throw new CorruptStorageError(
        `no core.sqlite_dos database at ${databasePath}: initialise the storage first`,
      );
    }
    assertSqliteFileIntact(databasePath, config.filepath);
    let native: ReturnType<typeof openSqliteDatabase>;
    try {
      native = openSqliteDatabase({
        filepath: databasePath,
        busyTimeoutMs: this.#options.busyTimeoutMs ?? 5000,
      });
    } catch (error) {
      throw sqliteFailure(error, databasePath, config.filepath);
    }
    let repository: RepositoryBackend | undefined;
    try {
      const version = await withNative(native, (db) => readSchemaVersion(db, sqliteDialect));
      if (version === null) {
        throw new IncompatibleStorageSchemaError(
          `The database ${databasePath} has no schema version: it is not an aiida-ts or aiida-core storage, or it ` +
            'was damaged.',
        );
      }
      if (version !== SCHEMA_VERSION_HEAD)
        throw incompatibleSchemaError(version, options.profileName ?? '<profile>');
      repository = this.#repository(config);
      await checkRepositoryUuid(native, repository);
      ensureSqliteIndexes(native);
    } catch (error) {
      native.close();
      await repository?.close();
      throw sqliteFailure(error, databasePath, config.filepath);
    }
    return new SqliteStorageBackend({
      entryPoint: this.entryPoint,
      native,
      repository,
      location: config.filepath,
      databasePath,
      defaultUserEmail: options.defaultUserEmail ?? null,
      profileAccess: options.profileAccess,
    });
  }

  async destroy(config: SqliteDosConfig): Promise<void> {
    await rm(config.filepath, { recursive: true, force: true });
  }
}

async function withNative<T>(
  native: ReturnType<typeof openSqliteDatabase>,
  fn: (db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  // a Kysely handle over the same native connection, not destroyed (that would close the connection)
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
  return fn(db);
}

/** Refuses a database and a container that do not belong together (aiida-core's `repository|uuid` check). */
async function checkRepositoryUuid(
  native: ReturnType<typeof openSqliteDatabase>,
  repository: RepositoryBackend,
): Promise<void> {
  await repository.initialise();
  const row = native.prepare(`SELECT val FROM db_dbsetting WHERE key = ?`).get(REPOSITORY_UUID_KEY) as
    { val: string | null } | undefined;
  if (row === undefined) throw new CorruptStorageError('The database has no repository UUID set.');
  const expected = sqliteDialect.decodeJson(row.val);
  if (expected !== repository.uuid) {
    throw new CorruptStorageError(
      `The database has a repository UUID configured to ${String(expected)} but the disk-objectstore's is ${String(repository.uuid)}.`,
    );
  }
}
