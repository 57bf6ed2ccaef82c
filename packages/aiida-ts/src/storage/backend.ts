import type { Insertable, Kysely } from 'kysely';
import type { IntegrityCheckOptions } from '../repository/integrity.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from '../repository/repository-backend.js';
import type { SqlDialect } from './dialect.js';
import type { StorageIntegrityReport } from './integrity.js';
import type { Database, NewDbNode, TableName } from './schema.js';

/** The storage plugins aiida-ts ships, by aiida-core's entry point name (the profile's `storage.backend`). */
export const StorageEntryPoint = {
  SQLITE_DOS: 'core.sqlite_dos',
  PSQL_DOS: 'core.psql_dos',
  SQLITE_TEMP: 'core.sqlite_temp',
} as const;
export type StorageEntryPoint = (typeof StorageEntryPoint)[keyof typeof StorageEntryPoint];

/** Options of a write that commits (see {@link StorageBackend.transaction}, {@link StorageBackend.insertNodes}). */
export interface CommitOptions {
  /**
   * The commit need not have reached the disk when the write resolves: the caller makes a durable write after it
   * before anything outside the database relies on this one, and a database that commits in one ordered log
   * (PostgreSQL's write-ahead log) makes this one durable with that one. PostgreSQL then does not wait for the disk at
   * this commit (`synchronous_commit` off for the transaction; a few milliseconds per commit on an ordinary disk);
   * what it wrote is visible at once, as always, and a crash of the database server before the durable write loses it
   * as if it had never been made. SQLite ignores it (it commits durably).
   */
  readonly lazyCommit?: boolean;
}

/** Options of {@link StorageBackend.transaction}. */
export interface TransactionOptions extends CommitOptions {
  /**
   * How many times the whole transaction is re-run when the database reports a transient conflict (SQLite
   * `SQLITE_BUSY` after the busy timeout, PostgreSQL serialization failure or deadlock). Default 8.
   */
  readonly retries?: number;
}

/**
 * A link to store with {@link StorageBackend.insertNodes}: its target (and possibly its source) is a node of the
 * same batch, named by its index in the batch's rows.
 */
export interface BatchLink {
  /** The pk of a stored source node; or give {@link inputIndex}. */
  readonly inputId?: number;
  /** The index in the batch of the source node, when it is stored in the same batch. */
  readonly inputIndex?: number;
  /** The index in the batch of the target node. */
  readonly outputIndex: number;
  readonly label: string;
  readonly type: string;
}

/**
 * A statement that changes rows, as {@link StorageBackend.executeWrite} takes it: SQL both dialects understand, with
 * the placeholders `$1`, `$2`, … in ascending order (each once), and its parameters.
 */
export interface WriteStatement {
  readonly text: string;
  readonly parameters: readonly unknown[];
  /**
   * The statement must change a row: when it changes none, nothing of what it is run with (the other statements of
   * {@link StorageBackend.executeWrites}, the nodes of {@link StorageBackend.insertNodes}) is kept, and the write
   * rejects with the error this gives (a fence: the daemon's lease check, written in the same statement as the write
   * it guards on PostgreSQL).
   */
  readonly required?: () => Error;
}

/** Counts and facts for `verdi storage info`. */
export interface StorageInfo {
  readonly entryPoint: StorageEntryPoint;
  /** Where the data lives, without any password (a folder, or `postgresql://user@host:port/db`). */
  readonly location: string;
  readonly schemaVersion: string | null;
  readonly schemaVersionHead: string;
  readonly entities: {
    readonly Users: { readonly count: number };
    readonly Computers: { readonly count: number };
    readonly Nodes: {
      readonly count: number;
      readonly first_created?: string;
      readonly last_created?: string;
    };
    readonly Groups: { readonly count: number };
    readonly Comments: { readonly count: number };
    readonly Logs: { readonly count: number };
    readonly Links: { readonly count: number };
    /** With `detailed`: node counts per `node_type`. */
    readonly node_types?: Readonly<Record<string, number>>;
  };
  readonly repository: Readonly<Record<string, unknown>>;
}

/**
 * One open profile storage: a relational database (Kysely over SQLite or PostgreSQL) plus a file repository.
 * Every ORM and QueryBuilder call goes through one of these. All methods are safe to call from many concurrent
 * async tasks of one event loop; writes from several OS processes to one SQLite profile are serialised by SQLite
 * (WAL, busy timeout) and retried by {@link transaction}.
 */
export interface StorageBackend extends AsyncDisposable {
  readonly entryPoint: StorageEntryPoint;
  /** Where the data lives, for messages: the database file or server and the repository folder. */
  readonly location: string;
  readonly dialect: SqlDialect;
  /** The content-addressed object store holding node files (`repository_metadata` keys point into it). */
  readonly repository: RepositoryBackend;
  readonly isClosed: boolean;
  /** The email of the profile's default user (`default_user_email`); new entities belong to this user. */
  defaultUserEmail: string | null;

  /**
   * The database handle to use now: the transaction open in the current async context when there is one (so
   * nested calls join it and never wait on their own connection), else the shared handle.
   */
  executor(): Kysely<Database>;
  /** Whether the current async context is inside a {@link transaction} of this backend. */
  inTransaction(): boolean;
  /**
   * Runs `fn` inside one database transaction and commits, or rolls back everything when it throws. A call made
   * inside another transaction of this backend becomes a savepoint of it. On a transient conflict the whole
   * outermost transaction is run again (so `fn` must have no effects outside the database, or idempotent ones).
   * On SQLite the transaction takes the write lock at its start (`BEGIN IMMEDIATE`): keep `fn` short.
   */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Inserts many rows of one table with the fastest statement the dialect has and resolves to their new ids in
   * row order. Runs inside the current transaction, or its own one.
   */
  bulkInsert<T extends Exclude<TableName, 'alembic_version'>>(
    table: T,
    rows: readonly Insertable<Database[T]>[],
  ): Promise<number[]>;

  /**
   * Stores node rows and the links into them, all or nothing, and resolves to the nodes' new ids in row order:
   * what `Node.store()`, `storeAll()` and `Node.storeMany()` write. Runs inside the current transaction, or in as
   * few round trips as the database allows (on PostgreSQL one statement, committed durably before resolving).
   * `IntegrityError` (with the driver's error as `cause`) when a row breaks a constraint, e.g. a duplicate uuid.
   */
  insertNodes(
    nodes: readonly NewDbNode[],
    links: readonly BatchLink[],
    then?: readonly WriteStatement[],
    options?: CommitOptions,
  ): Promise<number[]>;

  /**
   * Runs one statement that changes rows, in the current transaction or on its own, and resolves to the number of
   * rows it changed. The text is SQL both dialects understand, with the placeholders `$1`, `$2`, … in ascending
   * order (each once). For the writes the ORM and the engine repeat with every process: the text is prepared once per
   * connection and reused, and no query is built or compiled per call.
   */
  executeWrite(text: string, parameters: readonly unknown[]): Promise<number>;

  /**
   * Runs one read and resolves to its rows, as the driver gives them (the same rows a Kysely query of the same text
   * gives): in the current transaction, else on its own. The text follows {@link executeWrite}'s rules (SQL both
   * dialects understand, `$1`, `$2`, … in ascending order, each once), and is prepared once per connection: for the
   * small reads the ORM repeats with every command (a node by pk, its links, its log count), where building and
   * compiling a query costs more than running it.
   */
  executeRead<R = Record<string, unknown>>(text: string, parameters: readonly unknown[]): Promise<R[]>;

  /**
   * Runs these statements (see {@link executeWrite}) in order, all or nothing, in the current transaction or in as
   * few round trips as the database allows (on PostgreSQL one statement: one round trip and one commit), and
   * resolves to the number of rows each changed.
   */
  executeWrites(statements: readonly WriteStatement[]): Promise<number[]>;

  /** The statement {@link setGlobalVariable} runs, to run it with others. */
  globalVariableWrite(key: string, value: unknown, description?: string): WriteStatement;

  /** The value stored under `key` in `db_dbsetting`, or `undefined`. */
  getGlobalVariable(key: string): Promise<unknown>;
  setGlobalVariable(key: string, value: unknown, description?: string): Promise<void>;
  /** The schema version the database is stamped with (`alembic_version`). */
  schemaVersion(): Promise<string | null>;
  getInfo(options?: { readonly detailed?: boolean }): Promise<StorageInfo>;
  /**
   * Maintenance of the repository (`verdi storage maintain`). `live: false` needs exclusive use of the profile (it
   * takes the profile's lock when the storage was opened for a profile, and refuses while other processes use it)
   * and also deletes the objects no node refers to ({@link unreferencedObjectKeys}). The deletion runs while no node
   * can be written (see {@link referenceObjects}), so it never deletes an object a node being stored refers to.
   * Full maintenance first checks the storage ({@link checkIntegrity}, with hashes unless `verify` is false) and
   * changes nothing when data is missing or corrupt: `StorageIntegrityError` lists the problems.
   */
  maintain(options: MaintainOptions): Promise<MaintainReport>;
  /**
   * Runs `write`, a database write that makes rows refer to the repository objects `keys`, in one transaction that
   * checks, after `write`, that every key is in the repository. Full maintenance deletes unreferenced objects under a
   * lock that excludes such transactions, so a row can never be committed pointing at an object it deleted:
   * `MissingObjectsError` (the write rolled back) names the keys that are gone; put them again and retry.
   */
  referenceObjects<T>(keys: Iterable<string>, write: () => Promise<T>, options?: CommitOptions): Promise<T>;
  /**
   * Checks the storage (`verdi storage integrity`): every object's content against its key (unless `hashes` is
   * false), objects nodes refer to but the repository lacks, objects no node refers to, the repository's own
   * structure, links and other rows naming rows that do not exist, uuids used twice. Reads only.
   */
  checkIntegrity(options?: IntegrityCheckOptions): Promise<StorageIntegrityReport>;
  /** The keys of repository objects that no node's `repository_metadata` names (left by deleted nodes). */
  unreferencedObjectKeys(): Promise<string[]>;
  /**
   * Deletes the nodes with every link touching them, their group memberships, comments and logs. Does not
   * follow provenance (see `deleteNodes` in the ORM for that) and does not delete repository objects.
   */
  deleteNodesAndConnections(pks: readonly number[]): Promise<void>;
  /**
   * Runs `write` (a write a caller may forget to await, such as `node.extras.set()` on a stored node) as a tracked
   * write: {@link close} waits for every tracked write still running, and says so with an `UnawaitedWriteWarning`
   * process warning naming them, instead of closing under them and losing them. `what` names the write
   * (`extras of node<5>`). Resolves or rejects as `write` does.
   */
  trackWrite<T>(what: string, write: () => Promise<T>): Promise<T>;
  /**
   * Runs `hook` when the storage closes, before the database does (for resources tied to the storage, such as the
   * engine's cross-process coordinator); the returned function unregisters it. Hooks may not reject the close.
   */
  onClose(hook: () => Promise<void>): () => void;
  /** Closes the database handles and the repository, after the tracked writes still running. Idempotent. */
  close(): Promise<void>;
}

/**
 * What a storage opened for a profile knows of the profile-level access control (the config layer's
 * `ProfileAccessManager`): a way to take the profile for this process alone, and the registration of this process as
 * a user of the profile, given back when the storage closes.
 */
export interface ProfileAccessPort {
  /**
   * Takes the profile for this process alone, or throws `LockingProfileError` naming the other processes using it
   * (`LockedProfileError` when another process holds it). `release()` gives it back.
   */
  lockExclusive(purpose: string): { release(): void };
  /** Gives back the registration this storage holds (called once, when the storage closes). */
  release(): void;
}

/** Options of {@link StoragePlugin.initialise}. */
export interface InitialiseOptions {
  /** Create the schema at this (older) version instead of the head: for tests of `migrate()`. */
  readonly schemaVersion?: string;
}

/** Options of {@link StoragePlugin.open}. */
export interface OpenOptions {
  readonly defaultUserEmail?: string | null;
  /** The profile's name, for messages such as "run `verdi -p <name> storage migrate`". */
  readonly profileName?: string;
  /**
   * The profile's access control: full maintenance takes the profile exclusively through it (and refuses while other
   * processes use the profile), and the storage gives back its registration when it closes.
   */
  readonly profileAccess?: ProfileAccessPort;
}

/** What {@link StoragePlugin.migrate} did. */
export interface MigrationReport {
  readonly from: string | null;
  readonly to: string;
  readonly applied: readonly string[];
}

/**
 * The static side of a storage plugin, keyed by entry point name in the storage factory. `Config` is the
 * profile's `storage.config` after validation by `configSchema`.
 */
export interface StoragePlugin<Config = unknown> {
  readonly entryPoint: StorageEntryPoint;
  /** Validates a profile's `storage.config` (aiida-core's keys); errors name the key. */
  parseConfig(config: unknown): Config;
  /** Creates an empty storage (schema at head, repository container, `repository|uuid` setting). */
  initialise(config: Config, options?: InitialiseOptions): Promise<void>;
  isInitialised(config: Config): Promise<boolean>;
  /** The schema version this code writes (`main_0002`, as aiida-core's head). */
  versionHead(): string;
  /** The schema version the profile's database is stamped with, or null when it has none. */
  versionProfile(config: Config): Promise<string | null>;
  /** Brings the profile's schema to the head version (`verdi storage migrate`). */
  migrate(config: Config): Promise<MigrationReport>;
  /**
   * Opens the storage. Rejects with `IncompatibleStorageSchemaError` ("run `verdi storage migrate`") when the
   * schema is older or newer than the code, and `CorruptStorageError` when the database and repository do not
   * belong together.
   */
  open(config: Config, options?: OpenOptions): Promise<StorageBackend>;
  /** Deletes the whole storage: database and repository. */
  destroy(config: Config): Promise<void>;
}
