import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompiledQuery, sql, type Insertable, type Kysely } from 'kysely';
import {
  IntegrityError,
  InvalidOperationError,
  MissingObjectsError,
  StorageIntegrityError,
} from '../errors.js';
import type { IntegrityCheckOptions } from '../repository/integrity.js';
import { collectObjectKeys, settle } from '../repository/object-key.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from '../repository/repository-backend.js';
import type {
  BatchLink,
  CommitOptions,
  ProfileAccessPort,
  StorageBackend,
  StorageEntryPoint,
  StorageInfo,
  TransactionOptions,
  WriteStatement,
} from './backend.js';
import { nowTimestamp, type SqlDialect } from './dialect.js';
import { checkStorageIntegrity, type StorageIntegrityReport } from './integrity.js';
import { bumpRepositoryEpoch } from './aiida-ts-schema/repository-epoch.js';
import { readSchemaVersion, SCHEMA_VERSION_HEAD } from './migrations.js';
import type { Database, NewDbLink, NewDbNode, TableName } from './schema.js';

/** Everything a concrete SQL backend hands to {@link SqlStorageBackend}. */
export interface SqlStorageBackendOptions {
  readonly entryPoint: StorageEntryPoint;
  readonly dialect: SqlDialect;
  readonly db: Kysely<Database>;
  readonly repository: RepositoryBackend;
  /** Where the data lives, for messages and `verdi storage info` (no password). */
  readonly location: string;
  readonly defaultUserEmail?: string | null;
  /** The profile's access control (see `OpenOptions.profileAccess`). */
  readonly profileAccess?: ProfileAccessPort | undefined;
}

interface TransactionScope {
  readonly trx: Kysely<Database>;
  savepoints: number;
}

const DEFAULT_RETRIES = 8;

/** Writes one `db_dbsetting` (its key is unique), keeping the description of an existing row. */
const SETTING_UPSERT =
  'INSERT INTO db_dbsetting (key, val, description, time) VALUES ($1, $2, $3, $4) ' +
  'ON CONFLICT (key) DO UPDATE SET val = excluded.val, time = excluded.time';

export type BulkTable = Exclude<TableName, 'alembic_version'>;

/** The object keys the `repository_metadata` of node rows about to be written refer to. */
export function objectKeysOfRows(rows: readonly NewDbNode[]): Set<string> {
  const keys = new Set<string>();
  for (const row of rows) {
    const metadata: unknown = row.repository_metadata;
    // encoded JSON text (both dialects encode before inserting); a row without a file has no `"k"` anywhere
    if (typeof metadata === 'string') {
      if (metadata.includes('"k"')) collectObjectKeys(JSON.parse(metadata), keys);
    } else {
      collectObjectKeys(metadata, keys);
    }
  }
  return keys;
}

/** The link rows of a batch, once its nodes have their ids (`ids`, in row order). */
export function resolveBatchLinks(links: readonly BatchLink[], ids: readonly number[]): NewDbLink[] {
  return links.map((link) => {
    const input = link.inputIndex === undefined ? link.inputId : ids[link.inputIndex];
    const output = ids[link.outputIndex];
    if (input === undefined || output === undefined) {
      throw new IntegrityError(
        `link '${link.label}' names no stored source or no node of the batch (${ids.length} nodes)`,
      );
    }
    return { input_id: input, output_id: output, label: link.label, type: link.type };
  });
}

/**
 * What the SQLite and PostgreSQL backends share: the transaction scope carried by `AsyncLocalStorage` (so nested
 * calls join the open transaction instead of waiting for a connection they hold themselves), retries of transient
 * conflicts, settings, info and node deletion. Subclasses say how a transaction begins, which errors are
 * transient, and how to insert many rows fast.
 */
export abstract class SqlStorageBackend implements StorageBackend {
  readonly entryPoint: StorageEntryPoint;
  readonly dialect: SqlDialect;
  readonly repository: RepositoryBackend;
  readonly location: string;
  defaultUserEmail: string | null;
  protected readonly db: Kysely<Database>;
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  readonly #profileAccess: ProfileAccessPort | undefined;
  /** Tracked writes still running, by what they write (see trackWrite). */
  readonly #writes = new Map<Promise<unknown>, string>();
  readonly #closeHooks = new Set<() => Promise<void>>();
  readonly #dialectStatements = new Map<string, string>();
  #closing: Promise<void> | undefined;
  #closed = false;

  protected constructor(options: SqlStorageBackendOptions) {
    this.entryPoint = options.entryPoint;
    this.dialect = options.dialect;
    this.db = options.db;
    this.repository = options.repository;
    this.location = options.location;
    this.defaultUserEmail = options.defaultUserEmail ?? null;
    this.#profileAccess = options.profileAccess;
  }

  /**
   * A statement of {@link executeWrite} (placeholders `$1`, `$2`, … in order) as this dialect runs it: with its own
   * placeholders, and marked for preparing once per connection where the driver needs to be told.
   */
  protected abstract writeStatement(text: string): string;

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Runs a transaction-control statement (BEGIN, COMMIT, ROLLBACK) on the transaction's connection. */
  protected async runControl(connection: Kysely<Database>, statement: string): Promise<void> {
    await sql.raw(statement).execute(connection);
  }

  /**
   * The statement opening a transaction (SQLite takes the write lock at once); `lazyCommit`: its commit need not wait
   * for the disk (see `CommitOptions`).
   */
  protected abstract beginStatement(lazyCommit: boolean): string;
  /** Whether `error` is a conflict that goes away when the transaction is run again. */
  protected abstract isTransient(error: unknown): boolean;
  /** Whether `error` is the database refusing a row (unique, foreign key, not null, check). */
  protected abstract isConstraintViolation(error: unknown): boolean;
  protected abstract closeDatabase(): Promise<void>;
  /**
   * Inside a transaction, keeps every other writer of `db_dbnode` out until it ends (and waits for those in
   * flight): what full maintenance holds while it decides which objects are unreferenced and deletes them.
   */
  protected abstract lockOutNodeWrites(trx: Kysely<Database>): Promise<void>;
  /** Inserts `rows` (already encoded) with the current executor; resolves to their ids in row order. */
  protected abstract insertMany(
    executor: Kysely<Database>,
    table: BulkTable,
    rows: readonly Record<string, unknown>[],
  ): Promise<number[]>;

  protected assertOpen(): void {
    if (this.#closed) throw new InvalidOperationError(`the storage ${this.location} is closed`);
  }

  executor(): Kysely<Database> {
    this.assertOpen();
    return this.#scope.getStore()?.trx ?? this.db;
  }

  inTransaction(): boolean {
    return this.#scope.getStore() !== undefined;
  }

  async transaction<T>(
    fn: (trx: Kysely<Database>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    this.assertOpen();
    const scope = this.#scope.getStore();
    if (scope !== undefined) return this.#savepoint(scope, fn);
    const retries = options.retries ?? DEFAULT_RETRIES;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.withConnection(async (connection) => {
          await this.runControl(connection, this.beginStatement(options.lazyCommit === true));
          let result: T;
          try {
            result = await this.#scope.run({ trx: connection, savepoints: 0 }, () => fn(connection));
          } catch (error) {
            await this.runControl(connection, 'ROLLBACK').catch(() => undefined);
            throw error;
          }
          try {
            await this.runControl(connection, 'COMMIT');
          } catch (error) {
            await this.runControl(connection, 'ROLLBACK').catch(() => undefined);
            throw error;
          }
          return result;
        });
      } catch (error) {
        if (attempt >= retries || !this.isTransient(error)) throw error;
        // jittered exponential backoff so competing processes do not retry in lock step
        await sleep(Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  /**
   * Runs `consumer` holding one connection of the pool, as Kysely's `connection().execute` (a backend with a cheaper
   * way to hold its connection overrides it).
   */
  protected withConnection<T>(consumer: (connection: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.connection().execute(consumer);
  }

  async #savepoint<T>(scope: TransactionScope, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    scope.savepoints += 1;
    const name = `aiida_sp_${scope.savepoints}`;
    // control statements, as BEGIN and COMMIT: no query to build (SQLite runs its cached native statement)
    await this.runControl(scope.trx, `SAVEPOINT ${name}`);
    try {
      const result = await fn(scope.trx);
      await this.runControl(scope.trx, `RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await this.runControl(scope.trx, `ROLLBACK TO SAVEPOINT ${name}`);
      await this.runControl(scope.trx, `RELEASE SAVEPOINT ${name}`);
      throw error;
    }
  }

  // not `async`: inside a transaction this is the callee's promise, with no frame of its own (two per stored batch)
  bulkInsert<T extends BulkTable>(table: T, rows: readonly Insertable<Database[T]>[]): Promise<number[]> {
    if (rows.length === 0) return Promise.resolve([]);
    const records = rows as readonly Record<string, unknown>[];
    if (!this.inTransaction()) return this.transaction((trx) => this.insertMany(trx, table, records));
    // (`settle` hands back insertMany's own promise: a closed storage still rejects rather than throws)
    return settle(() => this.insertMany(this.executor(), table, records));
  }

  async insertNodes(
    nodes: readonly NewDbNode[],
    links: readonly BatchLink[],
    then: readonly WriteStatement[] = [],
    options: CommitOptions = {},
  ): Promise<number[]> {
    if (nodes.length === 0) {
      await this.executeWrites(then);
      return [];
    }
    const keys = objectKeysOfRows(nodes);
    try {
      return await this.transaction(async () => {
        const ids = await this.bulkInsert('db_dbnode', nodes);
        if (links.length > 0) await this.bulkInsert('db_dblink', resolveBatchLinks(links, ids));
        // after the insert: on PostgreSQL its lock on db_dbnode is what keeps full maintenance out until we commit
        if (keys.size > 0) await this.assertObjectsPresent(keys);
        for (const statement of then) await this.#executeRequired(statement);
        return ids;
      }, options);
    } catch (error) {
      // deferred foreign keys fail at COMMIT, outside bulkInsert's own wrapping
      if (!(error instanceof IntegrityError) && this.isConstraintViolation(error)) {
        throw new IntegrityError(
          `storing ${nodes.length} node(s) violates a constraint: ${(error as Error).message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async referenceObjects<T>(
    keys: Iterable<string>,
    write: () => Promise<T>,
    options: CommitOptions = {},
  ): Promise<T> {
    const wanted = new Set(keys);
    if (wanted.size === 0) return write();
    return this.transaction(async () => {
      const result = await write();
      await this.assertObjectsPresent(wanted);
      return result;
    }, options);
  }

  /** Throws `MissingObjectsError` naming those of `keys` the repository lacks. */
  protected async assertObjectsPresent(keys: ReadonlySet<string>): Promise<void> {
    const list = [...keys];
    const present = await this.repository.hasObjects(list);
    const missing = list.filter((_, index) => present[index] !== true);
    if (missing.length === 0) return;
    throw new MissingObjectsError(
      `${missing.length} repository object(s) to be referenced are gone (deleted by a full maintenance run meanwhile?): ` +
        `${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}; nothing was written`,
      missing,
    );
  }

  async executeWrite(text: string, parameters: readonly unknown[]): Promise<number> {
    const result = await this.executor().executeQuery(
      CompiledQuery.raw(this.dialectStatement(text), [...parameters]),
    );
    return Number(result.numAffectedRows ?? 0n);
  }

  async executeRead<R = Record<string, unknown>>(text: string, parameters: readonly unknown[]): Promise<R[]> {
    const result = await this.executor().executeQuery<R>(
      CompiledQuery.raw(this.dialectStatement(text), [...parameters]),
    );
    return result.rows;
  }

  async executeWrites(statements: readonly WriteStatement[]): Promise<number[]> {
    if (statements.length === 0) return [];
    const run = async (): Promise<number[]> => {
      const changed: number[] = [];
      for (const statement of statements) changed.push(await this.#executeRequired(statement));
      return changed;
    };
    return statements.length === 1 || this.inTransaction() ? run() : this.transaction(run);
  }

  /** Runs `statement`; one marked `required` that changed nothing throws its error (rolling back what it is run with). */
  async #executeRequired(statement: WriteStatement): Promise<number> {
    const changed = await this.executeWrite(statement.text, statement.parameters);
    if (changed === 0 && statement.required !== undefined) throw statement.required();
    return changed;
  }

  /** {@link executeWrite}'s text as this dialect runs it (kept: the same few texts come back all the time). */
  protected dialectStatement(text: string): string {
    let statement = this.#dialectStatements.get(text);
    if (statement === undefined) {
      statement = this.writeStatement(text);
      if (this.#dialectStatements.size >= 256) this.#dialectStatements.clear();
      this.#dialectStatements.set(text, statement);
    }
    return statement;
  }

  async getGlobalVariable(key: string): Promise<unknown> {
    const row = await this.executor()
      .selectFrom('db_dbsetting')
      .select('val')
      .where('key', '=', key)
      .executeTakeFirst();
    return row === undefined ? undefined : this.dialect.decodeJson(row.val);
  }

  async setGlobalVariable(key: string, value: unknown, description?: string): Promise<void> {
    // One statement (the key is unique): no transaction of its own, one round trip on PostgreSQL. The engine writes
    // `process|state_change|…` with the end of every process: a prepared statement, nothing compiled per call.
    const { text, parameters } = this.globalVariableWrite(key, value, description);
    await this.executeWrite(text, parameters);
  }

  globalVariableWrite(key: string, value: unknown, description?: string): WriteStatement {
    const now = this.dialect.encodeTimestamp(nowTimestamp());
    const text =
      description === undefined ? SETTING_UPSERT : `${SETTING_UPSERT}, description = excluded.description`;
    return { text, parameters: [key, this.dialect.encodeJson(value), description ?? '', now] };
  }

  async schemaVersion(): Promise<string | null> {
    return readSchemaVersion(this.executor(), this.dialect);
  }

  async getInfo(options: { readonly detailed?: boolean } = {}): Promise<StorageInfo> {
    const db = this.executor();
    const count = async (table: BulkTable): Promise<number> => {
      const row = await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      return this.dialect.decodeInteger(row.n);
    };
    const nodes = await db
      .selectFrom('db_dbnode')
      .select((eb) => [
        eb.fn.countAll().as('n'),
        eb.fn.min('ctime').as('first'),
        eb.fn.max('ctime').as('last'),
      ])
      .executeTakeFirstOrThrow();
    const nodeCount = this.dialect.decodeInteger(nodes.n);
    let nodeTypes: Record<string, number> | undefined;
    if (options.detailed === true) {
      const rows = await db
        .selectFrom('db_dbnode')
        .select((eb) => ['node_type', eb.fn.countAll().as('n')])
        .groupBy('node_type')
        .orderBy('node_type')
        .execute();
      nodeTypes = Object.fromEntries(rows.map((r) => [r.node_type, this.dialect.decodeInteger(r.n)]));
    }
    return {
      entryPoint: this.entryPoint,
      location: this.location,
      schemaVersion: await this.schemaVersion(),
      schemaVersionHead: SCHEMA_VERSION_HEAD,
      entities: {
        Users: { count: await count('db_dbuser') },
        Computers: { count: await count('db_dbcomputer') },
        Nodes:
          nodeCount === 0
            ? { count: 0 }
            : {
                count: nodeCount,
                first_created: this.dialect.decodeTimestamp(nodes.first),
                last_created: this.dialect.decodeTimestamp(nodes.last),
              },
        Groups: { count: await count('db_dbgroup') },
        Comments: { count: await count('db_dbcomment') },
        Logs: { count: await count('db_dblog') },
        Links: { count: await count('db_dblink') },
        ...(nodeTypes === undefined ? {} : { node_types: nodeTypes }),
      },
      repository: await this.repository.getInfo({ detailed: options.detailed ?? false }),
    };
  }

  /**
   * Repository maintenance (`verdi storage maintain`). Full maintenance (`live: false`) takes the profile for this
   * process alone (refusing while other processes use it, see `OpenOptions.profileAccess`), then deletes the objects
   * no node refers to any more (left by deleted nodes and by stores that failed after writing their files), as
   * aiida-core does, and packs, repacks and cleans. Live maintenance leaves unreferenced objects: a process storing a
   * node writes its files before its database row, so they look unreferenced for a moment.
   *
   * Deletion is safe even beside a writer the profile lock cannot see (another configuration folder on the same
   * storage, another host on the same PostgreSQL database): it runs in a transaction that keeps node writes out, and
   * every write that refers to objects checks them inside its own transaction ({@link referenceObjects}). A write
   * either committed before the deletion looked (its objects are referenced and kept) or checks after it deleted
   * (it finds its objects gone, rolls back and puts them again). `deleteObjects`, when given, only narrows the
   * deletion: a referenced key is never deleted.
   */
  async maintain(options: MaintainOptions): Promise<MaintainReport> {
    this.assertOpen();
    if (options.live) return this.repository.maintain(options);
    const hold =
      options.dryRun === true
        ? undefined
        : this.#profileAccess?.lockExclusive('verdi storage maintain --full');
    try {
      if (options.verify !== false) {
        const report = await this.checkIntegrity({ hashes: true });
        const errors = report.problems.filter((problem) => problem.severity === 'error');
        if (errors.length > 0) {
          throw new StorageIntegrityError(
            `the storage at ${this.location} has ${errors.length} integrity problem(s); full maintenance changed nothing. ` +
              'Restore the lost data from a backup (`verdi storage backup`) or remove the affected nodes, then run it again:\n' +
              errors.map((problem) => `  - ${problem.message}`).join('\n'),
            report.problems,
          );
        }
      }
      const deletion = await this.transaction(async (trx) => {
        if (options.dryRun !== true) {
          await this.lockOutNodeWrites(trx);
          // writers that checked their objects before this point now fail their insert (see repository-epoch.ts)
          await bumpRepositoryEpoch(trx, this.dialect);
        }
        let keys = await this.unreferencedObjectKeys();
        if (options.deleteObjects !== undefined) {
          const allowed = new Set(options.deleteObjects);
          keys = keys.filter((key) => allowed.has(key));
        }
        return this.repository.maintain({
          live: false,
          dryRun: options.dryRun ?? false,
          deleteObjects: keys,
          packLoose: false,
          repack: false,
          vacuum: false,
          cleanStorage: false,
        });
      });
      const rest = await this.repository.maintain({ ...options, deleteObjects: [] });
      return {
        looseObjectsPacked: rest.looseObjectsPacked,
        objectsDeleted: deletion.objectsDeleted,
        bytesFreed: deletion.bytesFreed + rest.bytesFreed,
        actions: [...deletion.actions, ...rest.actions],
      };
    } finally {
      hold?.release();
    }
  }

  checkIntegrity(options: IntegrityCheckOptions = {}): Promise<StorageIntegrityReport> {
    this.assertOpen();
    return checkStorageIntegrity(this, options);
  }

  /** The keys of repository objects that no node's `repository_metadata` names, in the repository's order. */
  async unreferencedObjectKeys(): Promise<string[]> {
    this.assertOpen();
    const referenced = new Set<string>();
    const empty = this.dialect.encodeJson({});
    // keyset pagination: bounded memory on large profiles, and no cursor held open across the whole table
    for (let after = 0; ;) {
      const rows = await this.executor()
        .selectFrom('db_dbnode')
        .select(['id', 'repository_metadata'])
        .where('id', '>', after)
        .where('repository_metadata', '!=', empty)
        .orderBy('id')
        .limit(10_000)
        .execute();
      for (const row of rows) collectObjectKeys(this.dialect.decodeJson(row.repository_metadata), referenced);
      if (rows.length < 10_000) break;
      after = rows[rows.length - 1]!.id;
    }
    const unreferenced: string[] = [];
    for await (const key of this.repository.listObjects()) if (!referenced.has(key)) unreferenced.push(key);
    return unreferenced;
  }

  async deleteNodesAndConnections(pks: readonly number[]): Promise<void> {
    if (pks.length === 0) return;
    await this.transaction(async (trx) => {
      // chunks keep PostgreSQL under its bound-parameter limit and SQLite under its variable limit
      for (let start = 0; start < pks.length; start += 10_000) {
        const chunk = pks.slice(start, start + 10_000);
        await trx
          .deleteFrom('db_dblink')
          .where((eb) => eb.or([eb('input_id', 'in', chunk), eb('output_id', 'in', chunk)]))
          .execute();
        await trx.deleteFrom('db_dbgroup_dbnodes').where('dbnode_id', 'in', chunk).execute();
        await trx.deleteFrom('db_dbcomment').where('dbnode_id', 'in', chunk).execute();
        await trx.deleteFrom('db_dblog').where('dbnode_id', 'in', chunk).execute();
        await trx.deleteFrom('db_dbnode').where('id', 'in', chunk).execute();
      }
    });
  }

  trackWrite<T>(what: string, write: () => Promise<T>): Promise<T> {
    this.assertOpen();
    let done = (): void => undefined;
    const settled = new Promise<void>((resolve) => (done = resolve));
    this.#writes.set(settled, what);
    // no handler is attached to the promise the caller gets: if nobody awaits it and it fails, Node reports the
    // unhandled rejection instead of the failure vanishing
    const running = (async () => {
      try {
        return await write();
      } finally {
        this.#writes.delete(settled);
        done();
      }
    })();
    return running;
  }

  onClose(hook: () => Promise<void>): () => void {
    this.#closeHooks.add(hook);
    return () => {
      this.#closeHooks.delete(hook);
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#writes.size > 0) {
      // nobody waited for these (a `node.extras.set()` without await, say): finish them rather than lose them
      const names = [...new Set(this.#writes.values())];
      process.emitWarning(
        `${this.#writes.size} write(s) were still running when the storage ${this.location} was closed ` +
          `(${names.slice(0, 5).join('; ')}${names.length > 5 ? '; …' : ''}); they were completed first. ` +
          'Await them (`await node.extras.set(…)`) so that their failures reach your code.',
        { type: 'UnawaitedWriteWarning', code: 'AIIDA_UNAWAITED_WRITE' },
      );
      await Promise.all(this.#writes.keys());
    }
    // hooks first, while the database is still open (a coordinator withdraws its waiting requests)
    const hooks = [...this.#closeHooks];
    this.#closeHooks.clear();
    await Promise.allSettled(hooks.map((hook) => hook()));
    this.#closed = true;
    try {
      await this.closeDatabase();
    } finally {
      try {
        await this.repository.close();
      } finally {
        this.#profileAccess?.release();
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
