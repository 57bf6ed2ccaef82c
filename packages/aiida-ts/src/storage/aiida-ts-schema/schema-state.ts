import { sql, type Kysely } from 'kysely';
import { IncompatibleStorageSchemaError, StorageMigrationError } from '../../errors.js';
import type { StorageBackend } from '../backend.js';
import { DialectName, type SqlDialect } from '../dialect.js';
import type { Database } from '../schema.js';
import { AIIDA_TS_MIGRATIONS, AIIDA_TS_SCHEMA_HEAD } from './migrations.js';
import { withAiidaTsTables } from './schema.js';

/** Where the aiida-ts tables of a profile stand. */
export interface AiidaTsSchemaStatus {
  /** The profile's aiida-ts schema version, or null when the tables were never created. */
  readonly version: string | null;
  /** The version this code writes. */
  readonly head: string;
}

/**
 * The key of the PostgreSQL advisory lock held while the aiida-ts tables are created or migrated (any 64-bit
 * number; this one spells `aiidats`). On SQLite the transaction's write lock (`BEGIN IMMEDIATE`) serves.
 */
const SCHEMA_LOCK_KEY = 0x61696964617473n;

const VERSION_TABLE = 'aiida_ts_schema_version';

function versionIndex(version: string): number {
  return AIIDA_TS_MIGRATIONS.findIndex((migration) => migration.version === version);
}

function newerThanCode(version: string): IncompatibleStorageSchemaError {
  return new IncompatibleStorageSchemaError(
    `The aiida-ts tables of this profile are at version \`${version}\`, which this code does not know (it knows ` +
      `up to \`${AIIDA_TS_SCHEMA_HEAD}\`): they were written by a newer aiida-ts. Use that version (or newer) ` +
      'with this profile; the older code will not touch those tables.',
  );
}

/**
 * The aiida-ts schema version stamped in `db`, or null when the tables do not exist. Only reads: safe on a
 * profile that must not be written, and inside a PostgreSQL transaction (a missing table is checked for, never
 * queried).
 */
export async function readAiidaTsSchemaVersion(
  db: Kysely<Database>,
  dialect: SqlDialect,
): Promise<string | null> {
  const exists =
    dialect.name === DialectName.POSTGRES
      ? await sql<{
          n: number;
        }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ${VERSION_TABLE}`.execute(
          db,
        )
      : await sql<{
          n: number;
        }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${VERSION_TABLE}`.execute(
          db,
        );
  if ((exists.rows[0]?.n ?? 0) === 0) return null;
  const row = await withAiidaTsTables(db)
    .selectFrom('aiida_ts_schema_version')
    .select('version')
    .executeTakeFirst();
  return row?.version ?? null;
}

/** The aiida-ts schema version of the profile and of the code (reads only). */
export async function aiidaTsSchemaStatus(backend: StorageBackend): Promise<AiidaTsSchemaStatus> {
  return {
    version: await readAiidaTsSchemaVersion(backend.executor(), backend.dialect),
    head: AIIDA_TS_SCHEMA_HEAD,
  };
}

/** Backends whose aiida-ts tables are known to be at the head version (checked or created in this process). */
const ensured = new WeakMap<StorageBackend, Promise<void>>();

/**
 * Applies the migrations after `from` (all of them when null) and stamps each; runs in the caller's transaction.
 * Resolves to the versions applied.
 */
async function migrate(db: Kysely<Database>, dialect: SqlDialect, from: string | null): Promise<string[]> {
  const tables = withAiidaTsTables(db);
  if (from === null) {
    await sql.raw(`CREATE TABLE ${VERSION_TABLE} (version VARCHAR(64) NOT NULL PRIMARY KEY)`).execute(db);
  }
  const start = from === null ? 0 : versionIndex(from) + 1;
  const applied: string[] = [];
  for (const migration of AIIDA_TS_MIGRATIONS.slice(start)) {
    try {
      await migration.up(db, dialect);
    } catch (error) {
      throw new StorageMigrationError(
        `the aiida-ts migration ${migration.version} (${migration.description}) failed`,
        { cause: error },
      );
    }
    await tables.deleteFrom('aiida_ts_schema_version').execute();
    await tables.insertInto('aiida_ts_schema_version').values({ version: migration.version }).execute();
    applied.push(migration.version);
  }
  return applied;
}

/**
 * Makes sure the aiida-ts tables of the profile exist at the head version, creating or migrating them when they
 * do not, under a lock that holds across processes (PostgreSQL: an advisory lock; SQLite: the write lock of the
 * transaction), so concurrent first uses create them once. Call it before the first write to an aiida-ts table;
 * reads use {@link aiidaTsTablesReadable} instead, so that a profile that is only read is never written.
 * `alembic_version` and aiida-core's tables are never touched. Rejects with `IncompatibleStorageSchemaError` when
 * the profile's aiida-ts version is newer than this code. Checked once per open storage.
 */
export function ensureAiidaTsSchema(backend: StorageBackend): Promise<void> {
  const known = ensured.get(backend);
  if (known !== undefined) return known;
  // created inside a caller's transaction, the tables vanish when it rolls back: only remember a standalone result,
  // or tables found at the head (committed before that transaction began)
  const remember = !backend.inTransaction();
  const pending = (async (): Promise<boolean> => {
    const current = await readAiidaTsSchemaVersion(backend.executor(), backend.dialect);
    if (current === AIIDA_TS_SCHEMA_HEAD) return true;
    if (current !== null && versionIndex(current) < 0) throw newerThanCode(current);
    await backend.transaction(async (trx) => {
      if (backend.dialect.name === DialectName.POSTGRES) {
        await sql`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_KEY.toString()}::bigint)`.execute(trx);
      }
      // another process may have done it while this one waited for the lock
      const locked = await readAiidaTsSchemaVersion(trx, backend.dialect);
      if (locked === AIIDA_TS_SCHEMA_HEAD) return;
      if (locked !== null && versionIndex(locked) < 0) throw newerThanCode(locked);
      await migrate(trx, backend.dialect, locked);
    });
    return false;
  })();
  const done = pending.then(() => undefined);
  if (remember) {
    ensured.set(backend, done);
    done.catch(() => ensured.delete(backend));
  } else {
    pending.then(
      (found) => {
        if (found && !ensured.has(backend)) ensured.set(backend, Promise.resolve());
      },
      () => undefined,
    );
  }
  return done;
}

/**
 * Whether the aiida-ts tables of `since` (a version of `AIIDA_TS_MIGRATIONS`; default the first) can be read:
 * false when the profile has no aiida-ts tables yet or an older version (readers then use the defaults: nothing
 * is limited, nothing is in use). Never writes. Rejects with `IncompatibleStorageSchemaError` when the version is
 * newer than the code.
 */
export async function aiidaTsTablesReadable(
  backend: StorageBackend,
  since: string = AIIDA_TS_MIGRATIONS[0]!.version,
): Promise<boolean> {
  const known = ensured.get(backend);
  if (known !== undefined) {
    try {
      await known;
      return true;
    } catch {
      // the creation failed (and is forgotten): read the stamp as it is
    }
  }
  const current = await readAiidaTsSchemaVersion(backend.executor(), backend.dialect);
  if (current === null) return false;
  const index = versionIndex(current);
  if (index < 0) throw newerThanCode(current);
  const needed = versionIndex(since);
  if (needed < 0) throw new StorageMigrationError(`unknown aiida-ts schema version \`${since}\``);
  return index >= needed;
}
