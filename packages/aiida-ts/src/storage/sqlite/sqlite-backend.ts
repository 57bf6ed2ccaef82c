import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { IntegrityError } from '../../errors.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import type { StorageEntryPoint } from '../backend.js';
import { sqliteDialect } from '../dialect.js';
import type { Database } from '../schema.js';
import { SqlStorageBackend, type BulkTable } from '../sql-backend.js';
import { registerSqliteFunctions } from './functions.js';

/** Options of {@link openSqliteDatabase}. */
export interface SqliteConnectionOptions {
  /** A file path, or `:memory:`. */
  readonly filepath: string;
  /** How long one statement waits for another process's write lock before `SQLITE_BUSY` (ms). Default 5000. */
  readonly busyTimeoutMs?: number;
  readonly readonly?: boolean;
}

/**
 * Opens a better-sqlite3 handle configured as every aiida-ts SQLite profile needs: WAL journal (readers never
 * block the writer, so daemon workers can share the file), `synchronous=NORMAL` (durable at checkpoints, fast
 * commits), a busy timeout, foreign keys on, case-sensitive LIKE (as aiida-core) and the JSON helper functions.
 */
export function openSqliteDatabase(options: SqliteConnectionOptions): BetterSqlite3.Database {
  const db = new BetterSqlite3(options.filepath, {
    timeout: options.busyTimeoutMs ?? 5000,
    readonly: options.readonly ?? false,
  });
  try {
    if (options.filepath !== ':memory:' && options.readonly !== true) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('case_sensitive_like = ON');
    registerSqliteFunctions(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * A better-sqlite3 handle for Kysely that reuses prepared statements: Kysely prepares every query afresh, and
 * preparing costs more than running a small insert.
 */
class CachingSqliteDatabase implements SqliteDatabase {
  readonly #native: BetterSqlite3.Database;
  readonly #cache = new Map<string, BetterSqlite3.Statement>();
  readonly #limit: number;

  constructor(native: BetterSqlite3.Database, limit = 256) {
    this.#native = native;
    this.#limit = limit;
  }

  prepare(text: string): SqliteStatement {
    return this.statement(text);
  }

  statement(text: string): BetterSqlite3.Statement {
    const cached = this.#cache.get(text);
    // a statement still iterating (a streamed select) cannot be reused, so that caller gets a fresh one
    if (cached !== undefined && !cached.busy) {
      this.#cache.delete(text);
      this.#cache.set(text, cached);
      return cached;
    }
    const statement = this.#native.prepare(text);
    if (cached === undefined) {
      this.#cache.set(text, statement);
      if (this.#cache.size > this.#limit) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
    }
    return statement;
  }

  close(): void {
    this.#cache.clear();
    this.#native.close();
  }
}

/** Options of {@link SqliteStorageBackend}. */
export interface SqliteStorageBackendOptions {
  readonly entryPoint: StorageEntryPoint;
  readonly native: BetterSqlite3.Database;
  readonly repository: RepositoryBackend;
  readonly location: string;
  readonly defaultUserEmail?: string | null;
}

function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A profile storage on one SQLite database (file or in memory) and a repository. */
export class SqliteStorageBackend extends SqlStorageBackend {
  readonly #statements: CachingSqliteDatabase;
  readonly #native: BetterSqlite3.Database;

  constructor(options: SqliteStorageBackendOptions) {
    const statements = new CachingSqliteDatabase(options.native);
    super({
      entryPoint: options.entryPoint,
      dialect: sqliteDialect,
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) }),
      repository: options.repository,
      location: options.location,
      defaultUserEmail: options.defaultUserEmail ?? null,
    });
    this.#statements = statements;
    this.#native = options.native;
  }

  protected beginStatement(): string {
    // take the write lock up front: a deferred transaction that reads first can fail with SQLITE_BUSY_SNAPSHOT
    // when it later writes, without waiting for the busy timeout
    return 'BEGIN IMMEDIATE';
  }

  protected override runControl(_connection: Kysely<Database>, statement: string): Promise<void> {
    // the caller holds Kysely's only connection: run the cached native statement without compiling a query
    try {
      this.#statements.statement(statement).run();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve();
  }

  protected isTransient(error: unknown): boolean {
    const code = sqliteCode(error);
    return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  }

  protected async closeDatabase(): Promise<void> {
    await this.db.destroy();
  }

  protected insertMany(
    _executor: Kysely<Database>,
    table: BulkTable,
    rows: readonly Record<string, unknown>[],
  ): Promise<number[]> {
    // runs inside a transaction holding Kysely's single connection, so the native handle is ours
    const columns = Object.keys(rows[0]!);
    const width = columns.length;
    const chunkSize = Math.max(1, Math.min(500, Math.floor(32_000 / width)));
    const placeholder = `(${columns.map(() => '?').join(', ')})`;
    const head = `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES `;
    const ids: number[] = [];
    try {
      for (let start = 0; start < rows.length; start += chunkSize) {
        const chunk = rows.slice(start, start + chunkSize);
        const statement = this.#statements.statement(
          `${head}${Array.from({ length: chunk.length }, () => placeholder).join(', ')}`,
        );
        const values: unknown[] = [];
        for (const row of chunk) {
          for (const column of columns) {
            const value = row[column];
            values.push(value === undefined ? null : typeof value === 'boolean' ? (value ? 1 : 0) : value);
          }
        }
        const { lastInsertRowid, changes } = statement.run(values);
        if (changes !== chunk.length)
          throw new IntegrityError(`insert into ${table} wrote ${changes} of ${chunk.length} rows`);
        // an INTEGER PRIMARY KEY takes max(rowid)+1 for each row in turn, and we hold the write lock: the rows of
        // one statement get consecutive ids ending at the last one
        const last = Number(lastInsertRowid);
        for (let k = chunk.length - 1; k >= 0; k -= 1) ids.push(last - k);
      }
    } catch (error) {
      if (sqliteCode(error).startsWith('SQLITE_CONSTRAINT')) {
        return Promise.reject(
          new IntegrityError(`insert into ${table} violates a constraint: ${(error as Error).message}`, {
            cause: error,
          }),
        );
      }
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve(ids);
  }

  /** A fresh copy of the database into `destination` (a consistent snapshot, while in use). */
  async backupDatabase(destination: string): Promise<void> {
    this.assertOpen();
    await this.#native.backup(destination);
  }
}
