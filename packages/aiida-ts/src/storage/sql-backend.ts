import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Insertable, type Kysely } from 'kysely';
import { IntegrityError, InvalidOperationError } from '../errors.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from '../repository/repository-backend.js';
import type {
  BatchLink,
  StorageBackend,
  StorageEntryPoint,
  StorageInfo,
  TransactionOptions,
} from './backend.js';
import type { SqlDialect } from './dialect.js';
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
}

interface TransactionScope {
  readonly trx: Kysely<Database>;
  savepoints: number;
}

const DEFAULT_RETRIES = 8;

export type BulkTable = Exclude<TableName, 'alembic_version'>;

/** Adds the object keys of aiida's `repository_metadata` (`{o: {name: {k: key} | {o: {…}}}}`) to `keys`. */
function collectObjectKeys(metadata: unknown, keys: Set<string>): void {
  if (typeof metadata !== 'object' || metadata === null) return;
  const entry = metadata as { k?: unknown; o?: unknown };
  if (typeof entry.k === 'string') keys.add(entry.k);
  if (typeof entry.o === 'object' && entry.o !== null) {
    for (const child of Object.values(entry.o)) collectObjectKeys(child, keys);
  }
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
  readonly #closeHooks = new Set<() => Promise<void>>();
  #closing: Promise<void> | undefined;
  #closed = false;

  protected constructor(options: SqlStorageBackendOptions) {
    this.entryPoint = options.entryPoint;
    this.dialect = options.dialect;
    this.db = options.db;
    this.repository = options.repository;
    this.location = options.location;
    this.defaultUserEmail = options.defaultUserEmail ?? null;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Runs a transaction-control statement (BEGIN, COMMIT, ROLLBACK) on the transaction's connection. */
  protected async runControl(connection: Kysely<Database>, statement: string): Promise<void> {
    await sql.raw(statement).execute(connection);
  }

  /** The statement opening a transaction (SQLite takes the write lock at once). */
  protected abstract beginStatement(): string;
  /** Whether `error` is a conflict that goes away when the transaction is run again. */
  protected abstract isTransient(error: unknown): boolean;
  /** Whether `error` is the database refusing a row (unique, foreign key, not null, check). */
  protected abstract isConstraintViolation(error: unknown): boolean;
  protected abstract closeDatabase(): Promise<void>;
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
        return await this.db.connection().execute(async (connection) => {
          await this.runControl(connection, this.beginStatement());
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

  async #savepoint<T>(scope: TransactionScope, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    scope.savepoints += 1;
    const name = `aiida_sp_${scope.savepoints}`;
    await sql.raw(`SAVEPOINT ${name}`).execute(scope.trx);
    try {
      const result = await fn(scope.trx);
      await sql.raw(`RELEASE SAVEPOINT ${name}`).execute(scope.trx);
      return result;
    } catch (error) {
      await sql.raw(`ROLLBACK TO SAVEPOINT ${name}`).execute(scope.trx);
      await sql.raw(`RELEASE SAVEPOINT ${name}`).execute(scope.trx);
      throw error;
    }
  }

  async bulkInsert<T extends BulkTable>(
    table: T,
    rows: readonly Insertable<Database[T]>[],
  ): Promise<number[]> {
    if (rows.length === 0) return [];
    const records = rows as readonly Record<string, unknown>[];
    if (this.inTransaction()) return this.insertMany(this.executor(), table, records);
    return this.transaction((trx) => this.insertMany(trx, table, records));
  }

  async insertNodes(nodes: readonly NewDbNode[], links: readonly BatchLink[]): Promise<number[]> {
    if (nodes.length === 0) return [];
    try {
      return await this.transaction(async () => {
        const ids = await this.bulkInsert('db_dbnode', nodes);
        if (links.length > 0) await this.bulkInsert('db_dblink', resolveBatchLinks(links, ids));
        return ids;
      });
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

  async getGlobalVariable(key: string): Promise<unknown> {
    const row = await this.executor()
      .selectFrom('db_dbsetting')
      .select('val')
      .where('key', '=', key)
      .executeTakeFirst();
    return row === undefined ? undefined : this.dialect.decodeJson(row.val);
  }

  async setGlobalVariable(key: string, value: unknown, description?: string): Promise<void> {
    const now = this.dialect.encodeTimestamp(new Date());
    const val = this.dialect.encodeJson(value);
    await this.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('db_dbsetting')
        .select('id')
        .where('key', '=', key)
        .executeTakeFirst();
      if (existing === undefined) {
        await trx
          .insertInto('db_dbsetting')
          .values({ key, val, description: description ?? '', time: now })
          .execute();
      } else {
        await trx
          .updateTable('db_dbsetting')
          .set(description === undefined ? { val, time: now } : { val, time: now, description })
          .where('id', '=', existing.id)
          .execute();
      }
    });
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
   * Repository maintenance (`verdi storage maintain`). Full maintenance (`live: false`, which needs exclusive use
   * of the profile) first deletes the objects no node refers to any more (left by deleted nodes and by stores that
   * failed after writing their files), as aiida-core does. Live maintenance leaves them: a process storing a node
   * at the same time writes its files before its database row, so they look unreferenced for a moment.
   */
  async maintain(options: MaintainOptions): Promise<MaintainReport> {
    this.assertOpen();
    if (options.live || options.deleteObjects !== undefined) return this.repository.maintain(options);
    return this.repository.maintain({ ...options, deleteObjects: await this.unreferencedObjectKeys() });
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
    // hooks first, while the database is still open (a coordinator withdraws its waiting requests)
    const hooks = [...this.#closeHooks];
    this.#closeHooks.clear();
    await Promise.allSettled(hooks.map((hook) => hook()));
    this.#closed = true;
    try {
      await this.closeDatabase();
    } finally {
      await this.repository.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
