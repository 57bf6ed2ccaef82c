import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { AiidaError, IntegrityError } from '../../errors.js';
import { settle } from '../../repository/object-key.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import type { ProfileAccessPort, StorageEntryPoint, TransactionOptions } from '../backend.js';
import { sqliteDialect } from '../dialect.js';
import type { Database } from '../schema.js';
import { SqlStorageBackend, type BulkTable } from '../sql-backend.js';
import { registerSqliteFunctions } from './functions.js';
import { HeldConnectionDialect, type HeldConnectionDriver } from './held-connection.js';
import { sqliteFailure } from './sqlite-file.js';
import { insertConstraintError, sqliteCode } from './sqlite-errors.js';

/** Options of {@link openSqliteDatabase}. */
export interface SqliteConnectionOptions {
  /** A file path, or `:memory:`. */
  readonly filepath: string;
  /** How long one statement waits for another process's write lock before `SQLITE_BUSY` (ms). Default 5000. */
  readonly busyTimeoutMs?: number;
  readonly readonly?: boolean;
}

/**
 * How many index entries `ANALYZE` reads per index when `PRAGMA optimize` refreshes the planner's statistics
 * (`PRAGMA analysis_limit`; SQLite's documentation suggests 100 to 1000). It keeps a refresh to about a millisecond
 * whatever the size of the database, at the price of approximate counts, which is all the planner needs.
 */
export const SQLITE_ANALYSIS_LIMIT = 1000;

/**
 * `PRAGMA optimize` mask: run ANALYZE where it helps (0x02) on every table, not only the tables this connection
 * has queried (0x10000), as SQLite recommends when a connection opens and after large changes.
 */
const OPTIMIZE_ALL_TABLES = 0x10002;

/** How long `PRAGMA optimize` waits for another process's write lock before skipping this round (ms). */
const OPTIMIZE_BUSY_TIMEOUT_MS = 100;

/** Options of {@link optimizeSqliteDatabase}. */
export interface OptimizeSqliteOptions {
  /**
   * Check every table (after opening, initialising, migrating or a large batch), not only the tables this
   * connection queried (enough before closing). Default false.
   */
  readonly allTables?: boolean;
}

/**
 * Runs `PRAGMA optimize`: SQLite analyses the tables whose statistics are missing or no longer match their size
 * (a tenfold change) and otherwise does nothing (microseconds). Without statistics the planner can pick a poor
 * index, e.g. `db_dblink.type` instead of `input_id` when walking links. Never throws and never waits long:
 * statistics only guide the planner, so a connection busy with a query, a read-only one, or a database another
 * process is writing just skips this round. Resolves to whether it ran.
 */
export function optimizeSqliteDatabase(
  db: BetterSqlite3.Database,
  options: OptimizeSqliteOptions = {},
): boolean {
  if (!db.open || db.readonly) return false;
  let busyTimeout: unknown;
  try {
    busyTimeout = db.pragma('busy_timeout', { simple: true });
    db.pragma(`busy_timeout = ${OPTIMIZE_BUSY_TIMEOUT_MS}`);
    db.pragma(options.allTables === true ? `optimize = ${OPTIMIZE_ALL_TABLES}` : 'optimize');
    return true;
  } catch {
    // SQLITE_BUSY from another process's write lock, or a statement of ours still iterating: try next time
    return false;
  } finally {
    if (typeof busyTimeout === 'number') db.pragma(`busy_timeout = ${busyTimeout}`);
  }
}

/**
 * Opens a better-sqlite3 handle configured as every aiida-ts SQLite profile needs: WAL journal (readers never
 * block the writer, so daemon workers can share the file), `synchronous=NORMAL` (durable at checkpoints, fast
 * commits), a busy timeout, foreign keys on, case-sensitive LIKE (as aiida-core), a bounded `analysis_limit`
 * for {@link optimizeSqliteDatabase}, and the JSON helper functions.
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
    db.pragma(`analysis_limit = ${SQLITE_ANALYSIS_LIMIT}`);
    registerSqliteFunctions(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** The column names of each prepared read, asked of SQLite once. */
const columnNames = new WeakMap<BetterSqlite3.Statement, readonly string[]>();

/**
 * The rows of a read as objects by column name (a later column of the same name wins, as in better-sqlite3's own
 * objects), made here from the rows read as arrays: better-sqlite3 builds its objects property by property in
 * C++, which costs more than the query itself for a few dozen rows of a wide table (40 nodes of 15 columns:
 * 145 µs that way against 104 µs this way).
 */
function readObjects(statement: BetterSqlite3.Statement, parameters: readonly unknown[]): unknown[] {
  let names = columnNames.get(statement);
  if (names === undefined) {
    names = statement.columns().map((column) => column.name);
    columnNames.set(statement, names);
  }
  const rows = readArrays(statement, parameters);
  const count = names.length;
  const out = new Array<Record<string, unknown>>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const object: Record<string, unknown> = {};
    for (let c = 0; c < count; c++) object[names[c]!] = row[c];
    out[r] = object;
  }
  return out;
}

/** The rows of a read as arrays in column order (the statement is shared with Kysely: raw only for this call). */
function readArrays(statement: BetterSqlite3.Statement, parameters: readonly unknown[]): unknown[][] {
  statement.raw(true);
  try {
    return statement.all(parameters) as unknown[][];
  } finally {
    statement.raw(false);
  }
}

/** What a statement gives, as Kysely reads it: the rows of a read as objects, a write's result otherwise. */
function readRows(statement: BetterSqlite3.Statement, parameters: readonly unknown[]): unknown[] {
  return statement.reader ? readObjects(statement, parameters) : statement.all(parameters);
}

/**
 * A better-sqlite3 handle for Kysely that reuses prepared statements: Kysely prepares every query afresh, and
 * preparing costs more than running a small insert.
 */
class CachingSqliteDatabase implements SqliteDatabase {
  readonly #native: BetterSqlite3.Database;
  readonly #cache = new Map<string, BetterSqlite3.Statement>();
  readonly #limit: number;
  readonly #mapError: (error: unknown) => Error;

  constructor(native: BetterSqlite3.Database, mapError: (error: unknown) => Error, limit = 256) {
    this.#native = native;
    this.#limit = limit;
    this.#mapError = mapError;
  }

  prepare(text: string): SqliteStatement {
    let statement: BetterSqlite3.Statement;
    try {
      statement = this.statement(text);
    } catch (error) {
      throw this.#mapError(error);
    }
    // SQLite finds a damaged page only when a statement reads it: say which file, not SQLite's bare message
    const guard = <T>(run: () => T): T => {
      try {
        return run();
      } catch (error) {
        throw this.#mapError(error);
      }
    };
    return {
      reader: statement.reader,
      all: (parameters) => guard(() => readRows(statement, parameters)),
      run: (parameters) => guard(() => statement.run(parameters)),
      iterate: (parameters) => {
        const rows = guard(() => statement.iterate(parameters));
        return {
          next: () => guard(() => rows.next()),
          return: (value?: unknown) => guard(() => rows.return?.(value) ?? { done: true, value }),
          [Symbol.iterator]() {
            return this;
          },
        } as IterableIterator<unknown>;
      },
    };
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
  /** The database file (undefined for an in-memory database), named when SQLite reports it damaged. */
  readonly databasePath?: string;
  readonly defaultUserEmail?: string | null;
  readonly profileAccess?: ProfileAccessPort | undefined;
}

/**
 * Rows written by {@link SqliteStorageBackend.bulkInsert} after which the statistics are refreshed: a large batch
 * at once, or the same number of single stores over a long-lived connection (SQLite's advice is to optimize
 * periodically there). A refresh that finds nothing to do costs microseconds.
 */
export const SQLITE_OPTIMIZE_AFTER_ROWS = 1000;

/**
 * A profile storage on one SQLite database (file or in memory) and a repository. It keeps the query planner's
 * statistics current with `PRAGMA optimize` (see {@link optimizeSqliteDatabase}): when it opens, after every
 * {@link SQLITE_OPTIMIZE_AFTER_ROWS} rows of bulk inserts (so after every large `storeMany`) and when it closes.
 */
export class SqliteStorageBackend extends SqlStorageBackend {
  readonly #statements: CachingSqliteDatabase;
  readonly #native: BetterSqlite3.Database;
  readonly #mapError: (error: unknown) => Error;
  #rowsSinceOptimize = 0;
  readonly #insertTexts = new Map<string, string>();
  readonly #driver: HeldConnectionDriver;
  /** A Kysely bound to the single connection (kept from the first `withConnection`: the connection never changes). */
  #bound: Kysely<Database> | undefined;

  constructor(options: SqliteStorageBackendOptions) {
    const databasePath = options.databasePath;
    const mapError = (error: unknown): Error =>
      databasePath === undefined
        ? error instanceof Error
          ? error
          : new AiidaError(String(error), { cause: error })
        : sqliteFailure(error, databasePath, options.location);
    const statements = new CachingSqliteDatabase(options.native, mapError);
    const dialect = new HeldConnectionDialect({ database: statements });
    super({
      entryPoint: options.entryPoint,
      dialect: sqliteDialect,
      db: new Kysely<Database>({ dialect }),
      repository: options.repository,
      location: options.location,
      defaultUserEmail: options.defaultUserEmail ?? null,
      profileAccess: options.profileAccess,
    });
    this.#statements = statements;
    this.#driver = dialect.driver;
    this.#native = options.native;
    this.#mapError = mapError;
    // a long-lived connection starts with current statistics (SQLite's advice for connections that stay open)
    optimizeSqliteDatabase(this.#native, { allTables: true });
  }

  override transaction<T>(
    fn: (trx: Kysely<Database>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const nested = this.inTransaction();
    const result = super.transaction(fn, options);
    // no frame of its own: a nested transaction (a savepoint) is its parent's promise
    if (nested) return result;
    return result.then((value) =>
      this.#rowsSinceOptimize >= SQLITE_OPTIMIZE_AFTER_ROWS ? this.optimize().then(() => value) : value,
    );
  }

  protected override withConnection<T>(consumer: (connection: Kysely<Database>) => Promise<T>): Promise<T> {
    // when the connection is free, lock it at once instead of queueing through Kysely's layers
    const bound = this.#bound;
    if (bound !== undefined && this.#driver.tryAcquire() !== undefined) return this.#holding(bound, consumer);
    return super.withConnection((connection) => {
      this.#bound ??= connection;
      return consumer(connection);
    });
  }

  async #holding<T>(
    bound: Kysely<Database>,
    consumer: (connection: Kysely<Database>) => Promise<T>,
  ): Promise<T> {
    try {
      return await consumer(bound);
    } finally {
      this.#driver.release();
    }
  }

  /**
   * Refreshes the planner's statistics now (`PRAGMA optimize` over every table), once the connection is free of
   * other work. Resolves to whether it ran; it never fails (see {@link optimizeSqliteDatabase}).
   */
  async optimize(): Promise<boolean> {
    this.assertOpen();
    this.#rowsSinceOptimize = 0;
    // through Kysely's connection, so it waits for a transaction of another async task to finish first
    return this.db
      .connection()
      .execute(() => Promise.resolve(optimizeSqliteDatabase(this.#native, { allTables: true })));
  }

  protected beginStatement(): string {
    // (a lazy commit is a durable one here: see `CommitOptions`)
    // take the write lock up front: a deferred transaction that reads first can fail with SQLITE_BUSY_SNAPSHOT
    // when it later writes, without waiting for the busy timeout
    return 'BEGIN IMMEDIATE';
  }

  protected override runControl(_connection: Kysely<Database>, statement: string): Promise<void> {
    // the caller holds Kysely's only connection: run the cached native statement without compiling a query
    try {
      this.#statements.statement(statement).run();
    } catch (error) {
      return Promise.reject(this.#mapError(error));
    }
    return Promise.resolve();
  }

  protected writeStatement(text: string): string {
    // SQLite reads `$1` as a named parameter: plain `?` in the same (ascending) order
    let next = 1;
    return text.replace(/\$(\d+)/g, (_, digits: string) => {
      if (Number(digits) !== next)
        throw new AiidaError(`statement parameters must come in order $1, $2, …: ${text}`);
      next += 1;
      return '?';
    });
  }

  override executeWrite(text: string, parameters: readonly unknown[]): Promise<number> {
    // the cached native statement: inside a transaction this async context holds Kysely's only connection; outside
    // one, take that connection first so the write never joins another task's transaction
    const run = (): number => {
      try {
        return this.#statements.statement(this.dialectStatement(text)).run(parameters).changes;
      } catch (error) {
        // as a query through Kysely fails: the driver's error (named after the file when the file is damaged)
        throw this.#mapError(error);
      }
    };
    // not `async`: a write inside a transaction settles at once, without a frame of its own
    if (this.inTransaction())
      return settle(() => {
        this.assertOpen();
        return run();
      });
    return this.#writeAlone(run);
  }

  async #writeAlone(run: () => number): Promise<number> {
    this.assertOpen();
    return this.withConnection(() => Promise.resolve().then(run));
  }

  override async executeRead<R = Record<string, unknown>>(
    text: string,
    parameters: readonly unknown[],
  ): Promise<R[]> {
    // at once on the cached native statement, unless another task's transaction holds the connection
    const rows = this.readNow(this.dialectStatement(text), parameters);
    return rows === undefined ? super.executeRead<R>(text, parameters) : (rows as R[]);
  }

  protected lockOutNodeWrites(): Promise<void> {
    // every transaction here begins IMMEDIATE: holding one is holding SQLite's only write lock
    return Promise.resolve();
  }

  protected isTransient(error: unknown): boolean {
    const code = sqliteCode(error);
    return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  }

  protected isConstraintViolation(error: unknown): boolean {
    return sqliteCode(error).startsWith('SQLITE_CONSTRAINT');
  }

  protected async closeDatabase(): Promise<void> {
    // SQLite's advice for every connection: optimize just before closing (it analyses what this session used)
    await this.db.connection().execute(() => Promise.resolve(optimizeSqliteDatabase(this.#native)));
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
    const ids: number[] = [];
    this.#rowsSinceOptimize += rows.length;
    try {
      for (let start = 0; start < rows.length; start += chunkSize) {
        const end = Math.min(rows.length, start + chunkSize);
        const count = end - start;
        const statement = this.#statements.statement(this.#insertText(table, columns, count));
        // one array of the exact size, filled in place: the values of a chunk are thousands of slots
        const values: unknown[] = new Array<unknown>(count * width);
        let at = 0;
        for (let r = start; r < end; r += 1) {
          const row = rows[r]!;
          for (let c = 0; c < width; c += 1) {
            const value = row[columns[c]!];
            values[at++] = value === undefined ? null : typeof value === 'boolean' ? (value ? 1 : 0) : value;
          }
        }
        const { lastInsertRowid, changes } = statement.run(values);
        if (changes !== count)
          throw new IntegrityError(`insert into ${table} wrote ${changes} of ${count} rows`);
        // an INTEGER PRIMARY KEY takes max(rowid)+1 for each row in turn, and we hold the write lock: the rows of
        // one statement get consecutive ids ending at the last one
        const last = Number(lastInsertRowid);
        for (let k = count - 1; k >= 0; k -= 1) ids.push(last - k);
      }
    } catch (error) {
      return Promise.reject(insertConstraintError(table, error) ?? this.#mapError(error));
    }
    return Promise.resolve(ids);
  }

  /**
   * The text of a multi-row INSERT of `count` rows, kept by table, columns and count: a full chunk's text is tens of
   * kilobytes of placeholders, which building afresh (and hashing, to find the prepared statement) would cost every
   * chunk of every batch.
   */
  #insertText(table: BulkTable, columns: readonly string[], count: number): string {
    const key = `${table}\u0000${columns.join(',')}\u0000${count}`;
    let text = this.#insertTexts.get(key);
    if (text === undefined) {
      const placeholder = `(${columns.map(() => '?').join(', ')})`;
      text =
        `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ` +
        Array.from({ length: count }, () => placeholder).join(', ');
      if (this.#insertTexts.size >= 64) this.#insertTexts.clear();
      this.#insertTexts.set(key, text);
    }
    return text;
  }

  /**
   * Runs a read-only statement at once on the connection's cached prepared statement, without queueing for the
   * connection: SQLite runs it synchronously, so nothing can interleave. Returns `undefined` (the caller then goes
   * through Kysely, which waits its turn) when another task's transaction holds the connection, whose
   * uncommitted rows a read must not see. `raw`: rows as arrays in column order.
   */
  readNow(text: string, parameters: readonly unknown[], raw = false): unknown[] | undefined {
    this.assertOpen();
    if (this.#native.inTransaction && !this.inTransaction()) return undefined;
    try {
      const statement = this.#statements.statement(text);
      return raw ? readArrays(statement, parameters) : readRows(statement, parameters);
    } catch (error) {
      throw this.#mapError(error);
    }
  }

  /** A fresh copy of the database into `destination` (a consistent snapshot, while in use). */
  async backupDatabase(destination: string): Promise<void> {
    this.assertOpen();
    await this.#native.backup(destination);
  }
}
