import { Kysely, SqliteDialect } from 'kysely';
import { z } from 'zod';
import { StorageMigrationError } from '../../errors.js';
import { StorageEntryPoint, type MigrationReport, type OpenOptions, type StoragePlugin } from '../backend.js';
import { sqliteDialect } from '../dialect.js';
import { MemoryRepositoryBackend } from '../memory-repository.js';
import { createSchema, SCHEMA_VERSION_HEAD } from '../migrations.js';
import { REPOSITORY_UUID_KEY, type Database } from '../schema.js';
import { parseStorageConfig } from '../storage-config.js';
import { openSqliteDatabase, SqliteStorageBackend } from './sqlite-backend.js';

/** `storage.config` of a `core.sqlite_temp` profile; nothing is required. */
export const SqliteTempConfigSchema = z
  .object({
    /** Accepted for aiida-core compatibility; objects are kept in memory here. */
    sandbox_path: z.string().optional(),
    debug: z.boolean().optional(),
  })
  .default({});
export type SqliteTempConfig = z.infer<typeof SqliteTempConfigSchema>;

/**
 * `core.sqlite_temp`: a throw-away storage for tests and demos. An in-memory SQLite database and an in-memory
 * repository, created on `open()` and gone on `close()`. Every `open()` gives a new, empty, independent storage.
 */
export class SqliteTempStorage implements StoragePlugin<SqliteTempConfig> {
  readonly entryPoint = StorageEntryPoint.SQLITE_TEMP;

  parseConfig(config: unknown): SqliteTempConfig {
    return parseStorageConfig(SqliteTempConfigSchema, config ?? {}, this.entryPoint);
  }

  initialise(): Promise<void> {
    // nothing persists: open() creates the storage
    return Promise.resolve();
  }

  isInitialised(): Promise<boolean> {
    return Promise.resolve(true);
  }

  versionHead(): string {
    return SCHEMA_VERSION_HEAD;
  }

  versionProfile(): Promise<string | null> {
    return Promise.resolve(SCHEMA_VERSION_HEAD);
  }

  migrate(): Promise<MigrationReport> {
    return Promise.resolve({ from: SCHEMA_VERSION_HEAD, to: SCHEMA_VERSION_HEAD, applied: [] });
  }

  async open(config: SqliteTempConfig = {}, options: OpenOptions = {}): Promise<SqliteStorageBackend> {
    void config;
    const native = openSqliteDatabase({ filepath: ':memory:' });
    const repository = new MemoryRepositoryBackend();
    try {
      await repository.initialise();
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
      await db.transaction().execute(async (trx) => {
        await createSchema(trx, sqliteDialect);
        await trx
          .insertInto('db_dbsetting')
          .values({
            key: REPOSITORY_UUID_KEY,
            val: sqliteDialect.encodeJson(repository.uuid),
            description: 'Repository UUID',
            time: sqliteDialect.encodeTimestamp(new Date()),
          })
          .execute();
      });
    } catch (error) {
      native.close();
      await repository.close();
      throw new StorageMigrationError('could not create the temporary storage', { cause: error });
    }
    return new SqliteStorageBackend({
      entryPoint: this.entryPoint,
      native,
      repository,
      location: ':memory:',
      // aiida-core's temporary profiles default to this user
      defaultUserEmail: options.defaultUserEmail === undefined ? 'test@localhost' : options.defaultUserEmail,
      profileAccess: options.profileAccess,
    });
  }

  destroy(): Promise<void> {
    return Promise.resolve();
  }
}
