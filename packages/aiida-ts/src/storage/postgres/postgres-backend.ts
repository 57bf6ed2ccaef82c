import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { pgDriver } from './pg-driver.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DatabaseUnavailableError, IntegrityError } from '../../errors.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import type {
  BatchLink,
  CommitOptions,
  ProfileAccessPort,
  StorageEntryPoint,
  WriteStatement,
} from '../backend.js';
import { postgresDialect } from '../dialect.js';
import { parseJsonKeepingFloats } from '../json-floats.js';
import { DB_DBNODE_INSERT_COLUMNS, type Database, type NewDbNode } from '../schema.js';
import { PREPARED_STATEMENT_MARK, prepareMarkedStatements } from './prepared-statements.js';
import { objectKeysOfRows, SqlStorageBackend, type BulkTable } from '../sql-backend.js';
import { isConnectUnavailable } from '../unavailable.js';
import { ensureAiidaTsSchema } from '../aiida-ts-schema/schema-state.js';
import {
  isRepositoryEpochChange,
  readRepositoryEpoch,
  readRepositoryEpochRow,
  repositoryEpochGuard,
} from '../aiida-ts-schema/repository-epoch.js';

/** How to reach a PostgreSQL database (aiida-core's `database_*` keys, already validated). */
export interface PostgresConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Pool size; default 10. */
  readonly max?: number;
  /** The profile the database belongs to, named when it cannot be reached. */
  readonly profileName?: string | undefined;
  /**
   * How long a new connection is tried again (with backoff) while the server refuses it, shuts down or starts up,
   * before queries fail with {@link DatabaseUnavailableError}. Default: `AIIDA_TS_DATABASE_RECONNECT_SECONDS`, else
   * 30 s; 0 tries once.
   */
  readonly reconnectTimeoutMs?: number;
}

/** The environment variable that bounds how long a lost database is waited for (seconds). */
export const DATABASE_RECONNECT_ENV = 'AIIDA_TS_DATABASE_RECONNECT_SECONDS';
const DEFAULT_RECONNECT_MS = 30_000;
const reconnectSecondsSchema = z.coerce.number().finite().nonnegative();

function reconnectTimeoutMs(options: PostgresConnectionOptions): number {
  if (options.reconnectTimeoutMs !== undefined) return options.reconnectTimeoutMs;
  const raw = process.env[DATABASE_RECONNECT_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_RECONNECT_MS;
  const parsed = reconnectSecondsSchema.safeParse(raw);
  return parsed.success ? parsed.data * 1000 : DEFAULT_RECONNECT_MS;
}

/**
 * Makes `pool.connect()` (what Kysely calls for every query and transaction) try again with backoff (100 ms doubling
 * to 2 s) while a server that answered before is away, for at most the reconnect bound counted from the start of the outage, which all
 * callers share: once the bound has passed, each later attempt is tried once until one succeeds. Then it throws a
 * {@link DatabaseUnavailableError} naming the profile and the database, in one line.
 */
function reconnectWithBackoff(pool: pg.Pool, options: PostgresConnectionOptions): void {
  const boundMs = reconnectTimeoutMs(options);
  const connectOnce = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  let outageSince: number | undefined;
  // only a database that was there is waited for: one that never answered fails at once (`verdi status` stays quick)
  let connectedOnce = false;
  const where = `the database \`${options.database}\` (postgresql://${options.user}@${options.host}:${options.port})`;
  const connect = async (): Promise<pg.PoolClient> => {
    for (let delay = 100; ; delay = Math.min(2 * delay, 2_000)) {
      try {
        const client = await connectOnce();
        outageSince = undefined;
        connectedOnce = true;
        return client;
      } catch (error) {
        if (!connectedOnce || !isConnectUnavailable(error) || pool.ended) throw error;
        outageSince ??= Date.now();
        const waited = Date.now() - outageSince;
        if (waited >= boundMs) {
          const profile = options.profileName === undefined ? '' : ` of profile \`${options.profileName}\``;
          const failure = new DatabaseUnavailableError(
            `${where}${profile} could not be reached for ${Math.round(waited / 1000)} s: ${(error as Error).message}`,
            { cause: error },
          );
          // where in aiida-ts it was noticed is no help to the user: the message is the whole story
          failure.stack = `${failure.name}: ${failure.message}`;
          throw failure;
        }
        await sleep(Math.min(delay, boundMs - waited));
      }
    }
  };
  // the callback form (pg's own `pool.query`) is left as it is
  const patched = pool as unknown as { connect: (callback?: unknown) => unknown };
  const original = patched.connect.bind(pool);
  patched.connect = (callback?: unknown) => (callback === undefined ? connect() : original(callback));
}

const TIMESTAMP_OIDS = new Set([1114, 1184]);
// json and jsonb: parsed keeping where aiida-core wrote integral floats (`2.0`), which JSON.parse reads as ints.
const JSON_OIDS = new Set([114, 3802]);

/**
 * A pg pool whose sessions run in UTC and hand timestamps back as text, so microseconds survive (a JS `Date`
 * keeps milliseconds only; the dialect decodes them), and json/jsonb parsed keeping their integral floats.
 */
export function createPostgresPool(options: PostgresConnectionOptions): pg.Pool {
  const pool = new (pgDriver().Pool)({
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    max: options.max ?? 10,
    // idle connections do not keep Node running: a script (or `verdi run`) whose work is done, or whose steps await
    // what can never settle, lets the event loop drain, as on SQLite
    allowExitOnIdle: true,
    options: '-c timezone=UTC',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown => {
        if (TIMESTAMP_OIDS.has(oid)) return (value: string) => value;
        if (JSON_OIDS.has(oid)) return parseJsonKeepingFloats;
        return pgDriver().types.getTypeParser(oid, format) as unknown;
      }) as typeof pg.types.getTypeParser,
    },
  });
  // an idle client losing its connection must not crash the process; the next query reconnects
  pool.on('error', () => undefined);
  // nor a checked-out one between two statements (a server restart): the statement in progress, or the next one,
  // fails with the error instead
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    prepareMarkedStatements(client);
  });
  reconnectWithBackoff(pool, options);
  return pool;
}

/** Options of {@link PostgresStorageBackend}. */
export interface PostgresStorageBackendOptions {
  readonly entryPoint: StorageEntryPoint;
  readonly pool: pg.Pool;
  readonly repository: RepositoryBackend;
  readonly location: string;
  readonly defaultUserEmail?: string | null;
  readonly profileAccess?: ProfileAccessPort | undefined;
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

/** The node columns {@link INSERT_NODES} writes, in its parameter order. */
const NODE_COLUMNS = DB_DBNODE_INSERT_COLUMNS;
const NODE_COLUMN_SET: ReadonlySet<string> = new Set(NODE_COLUMNS);

/** Batches up to this many nodes go in one statement; larger ones in a transaction of chunked inserts. */
const SINGLE_STATEMENT_NODES = 10_000;

/**
 * The statements that store nodes with their links in one round trip and one commit, instead of BEGIN, INSERT,
 * INSERT and COMMIT. Each is prepared once per connection (a named statement, so its text never changes) and runs
 * in autocommit: the statement is the transaction. The simplest one that fits is used, since the server's work
 * grows with the statement (measured on loopback: a plain insert ~290 µs, the general form ~370 µs, the
 * BEGIN/INSERT/COMMIT it replaces ~510 µs).
 */
const VALUES = NODE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ');

/** One node and no link: a plain insert. */
const INSERT_NODE = {
  name: 'aiida_ts_insert_node_v1',
  text: `INSERT INTO db_dbnode (${NODE_COLUMNS.join(', ')}) VALUES (${VALUES}) RETURNING id`,
} as const;

/** One node and links from stored nodes (a calculation's inputs, a created output): node and links together. */
const INSERT_NODE_WITH_LINKS = {
  name: 'aiida_ts_insert_node_links_v1',
  text: `WITH node AS (
  INSERT INTO db_dbnode (${NODE_COLUMNS.join(', ')}) VALUES (${VALUES}) RETURNING id
), links AS (
  INSERT INTO db_dblink (input_id, output_id, label, type)
  SELECT l.input_id, node.id, l.label, l.type
  FROM node, unnest($13::integer[], $14::text[], $15::text[]) AS l(input_id, label, type)
)
SELECT id FROM node`,
} as const;

/**
 * Any batch: one array parameter per column; positions (1-based, `WITH ORDINALITY`) tie each link to the nodes of
 * the batch, and the returned ids are matched back to positions through the unique uuids.
 */
const INSERT_NODES = {
  name: 'aiida_ts_insert_nodes_v1',
  text: `WITH batch AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
    $7::timestamptz[], $8::jsonb[], $9::jsonb[], $10::jsonb[], $11::integer[], $12::integer[])
    WITH ORDINALITY AS b(${NODE_COLUMNS.join(', ')}, position)
), inserted AS (
  INSERT INTO db_dbnode (${NODE_COLUMNS.join(', ')})
  SELECT ${NODE_COLUMNS.join(', ')} FROM batch ORDER BY position
  RETURNING id, uuid
), numbered AS (
  SELECT inserted.id, batch.position FROM inserted JOIN batch ON batch.uuid = inserted.uuid
), links AS (
  INSERT INTO db_dblink (input_id, output_id, label, type)
  SELECT coalesce(source.id, l.input_id), target.id, l.label, l.type
  FROM unnest($13::integer[], $14::bigint[], $15::bigint[], $16::text[], $17::text[])
    AS l(input_id, input_position, output_position, label, type)
  JOIN numbered AS target ON target.position = l.output_position
  LEFT JOIN numbered AS source ON source.position = l.input_position
)
SELECT id, position::integer AS position FROM numbered`,
} as const;

/**
 * `statements` as data-modifying common table expressions `write_1 AS (…)`, `write_2 AS (…)`, … of one statement,
 * their placeholders numbered on after the `offset` parameters already taken, and their parameters in that order.
 * PostgreSQL runs each exactly once, whether the statement reads it or not, all in the statement's transaction.
 */
function writeExpressions(
  statements: readonly WriteStatement[],
  offset: number,
): { readonly expressions: string[]; readonly values: unknown[]; readonly checks: string[] } {
  const values: unknown[] = [];
  let taken = offset;
  const expressions = statements.map((statement, index) => {
    const base = taken;
    const text = statement.text.replace(/\$(\d+)/g, (_, digits: string) => `$${base + Number(digits)}`);
    taken += statement.parameters.length;
    values.push(...statement.parameters);
    return `write_${index + 1} AS (${text} RETURNING 1)`;
  });
  return { expressions, values, checks: requiredChecks(statements) };
}

/** What a failed `required` check raises (see {@link requiredChecks}), followed by the statement's index. */
const REQUIRED_MARK = 'aiida-ts:required-write-changed-nothing:';

/**
 * For each `required` statement, an expression of the final SELECT that fails the whole statement when its write
 * changed no row (so nothing of it is kept): a text cast to integer that is valid only when there is a row. The
 * cast depends on the count, so the planner cannot fold it into a failure of every execution.
 */
function requiredChecks(statements: readonly WriteStatement[]): string[] {
  const checks: string[] = [];
  statements.forEach((statement, index) => {
    if (statement.required === undefined) return;
    const count = `(SELECT count(*) FROM write_${index + 1})`;
    checks.push(
      `CASE WHEN ${count} = 0 THEN ('${REQUIRED_MARK}${index} ' || ${count})::integer END AS required_${index + 1}`,
    );
  });
  return checks;
}

/** The error of the `required` statement whose check failed the statement, if that is why `error` happened. */
function requiredFailure(error: unknown, statements: readonly WriteStatement[]): Error | undefined {
  if (pgCode(error) !== '22P02' || !(error instanceof Error)) return undefined;
  const at = error.message.indexOf(REQUIRED_MARK);
  if (at < 0) return undefined;
  const index = Number.parseInt(error.message.slice(at + REQUIRED_MARK.length), 10);
  return statements[index]?.required?.();
}

/**
 * One of the node statements above with `expressions` run in it: added to its common table expressions (before the
 * final SELECT, which reads the same rows as before, and the `checks` besides), or, for the plain insert, around it.
 */
function withExpressions(text: string, expressions: readonly string[], checks: readonly string[]): string {
  const extra = checks.map((check) => `, ${check}`).join('');
  const more = expressions.map((expression) => `,\n${expression}`).join('');
  if (!text.startsWith('WITH ')) return `WITH node AS (${text})${more}\nSELECT id${extra} FROM node`;
  const at = text.lastIndexOf('\nSELECT ');
  const from = text.indexOf(' FROM ', at);
  return `${text.slice(0, at)}${more}${text.slice(at, from)}${extra}${text.slice(from)}`;
}

/**
 * A column of the final SELECT of a statement run on its own that makes its transaction commit without waiting for
 * the disk (see `CommitOptions`): `synchronous_commit` off until the end of the statement's own transaction, which
 * PostgreSQL reads when it commits, after the statement ran.
 */
const LAZY_COMMIT = `set_config('synchronous_commit', 'off', true) AS lazy_commit`;

/** Names of the prepared statements made by {@link withExpressions}, by text (few: one per shape of the writes). */
const composedNames = new Map<string, string>();
function composedName(text: string): string {
  let name = composedNames.get(text);
  if (name === undefined) {
    name = `aiida_ts_insert_nodes_with_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (composedNames.size >= 256) composedNames.clear();
    composedNames.set(text, name);
  }
  return name;
}

function pgCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A profile storage on a PostgreSQL database and a repository. */
export class PostgresStorageBackend extends SqlStorageBackend {
  readonly #pool: pg.Pool;
  /** {@link #repositoryEpoch}'s kept read. */
  #epoch: { value: string | null; at: number; read: Promise<string | null> } | undefined;

  constructor(options: PostgresStorageBackendOptions) {
    super({
      entryPoint: options.entryPoint,
      dialect: postgresDialect,
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: options.pool }) }),
      repository: options.repository,
      location: options.location,
      defaultUserEmail: options.defaultUserEmail ?? null,
      profileAccess: options.profileAccess,
    });
    this.#pool = options.pool;
  }

  protected beginStatement(lazyCommit: boolean): string {
    // one round trip for both (a statement without parameters goes as a simple query, which may hold several)
    return lazyCommit ? 'BEGIN; SET LOCAL synchronous_commit TO OFF' : 'BEGIN';
  }

  protected writeStatement(text: string): string {
    return `${PREPARED_STATEMENT_MARK}${text}`;
  }

  /**
   * Outside a transaction, several statements run as one (each a data-modifying common table expression): one
   * round trip and one commit instead of one each, and all or nothing.
   */
  override async executeWrites(statements: readonly WriteStatement[]): Promise<number[]> {
    if (statements.length <= 1 || this.inTransaction()) return super.executeWrites(statements);
    this.assertOpen();
    const { expressions, values, checks } = writeExpressions(statements, 0);
    const counts = statements.map((_, i) => `(SELECT count(*) FROM write_${i + 1})::integer AS c${i + 1}`);
    let result;
    try {
      result = await this.executor().executeQuery<Record<string, number>>(
        CompiledQuery.raw(
          `${PREPARED_STATEMENT_MARK}WITH ${expressions.join(',\n')}\nSELECT ${[...counts, ...checks].join(', ')}`,
          values,
        ),
      );
    } catch (error) {
      throw requiredFailure(error, statements) ?? error;
    }
    const row = result.rows[0];
    return statements.map((_, i) => Number(row?.[`c${i + 1}`] ?? 0));
  }

  /**
   * Nodes and their links in one statement; the statements `then` (the end state of the process that made the nodes,
   * say) run in that same statement, after them in effect: one round trip and one commit for all, all or nothing.
   */
  override async insertNodes(
    nodes: readonly NewDbNode[],
    links: readonly BatchLink[],
    then: readonly WriteStatement[] = [],
    options: CommitOptions = {},
  ): Promise<number[]> {
    if (
      nodes.length === 0 ||
      nodes.length > SINGLE_STATEMENT_NODES ||
      nodes.some((row) => Object.keys(row).some((key) => !NODE_COLUMN_SET.has(key)))
    ) {
      return super.insertNodes(nodes, links, then, options);
    }
    this.assertOpen();
    for (const link of links) {
      const inBatch = (index: number | undefined): boolean =>
        index !== undefined && Number.isInteger(index) && index >= 0 && index < nodes.length;
      if (
        !inBatch(link.outputIndex) ||
        (link.inputIndex === undefined ? link.inputId === undefined : !inBatch(link.inputIndex))
      ) {
        throw new IntegrityError(
          `link '${link.label}' names no stored source or no node of the batch (${nodes.length} nodes)`,
        );
      }
    }
    const single = nodes.length === 1 && links.every((link) => link.inputIndex === undefined);
    let statement: { readonly name: string; readonly text: string };
    let values: unknown[];
    if (single) {
      const row = nodes[0]!;
      values = NODE_COLUMNS.map((column) => row[column] ?? null);
      if (links.length === 0) {
        statement = INSERT_NODE;
      } else {
        statement = INSERT_NODE_WITH_LINKS;
        values.push(
          links.map((link) => link.inputId),
          links.map((link) => link.label),
          links.map((link) => link.type),
        );
      }
    } else {
      statement = INSERT_NODES;
      values = NODE_COLUMNS.map((column) => nodes.map((row) => row[column] ?? null));
      values.push(
        links.map((link) => (link.inputIndex === undefined ? (link.inputId ?? null) : null)),
        links.map((link) => (link.inputIndex === undefined ? null : link.inputIndex + 1)),
        links.map((link) => link.outputIndex + 1),
        links.map((link) => link.label),
        links.map((link) => link.type),
      );
    }
    const keys = objectKeysOfRows(nodes);
    // nodes with files, outside a transaction: their objects checked before one statement guarded by the repository
    // epoch read before the check (see repository-epoch.ts); null when the profile has no epoch yet
    let epoch = keys.size > 0 && !this.inTransaction() ? await this.#repositoryEpoch() : null;
    const guarded = epoch !== null;
    // a lazy commit of the statement on its own: said in the statement itself (one round trip)
    const lazy = options.lazyCommit === true && (keys.size === 0 || guarded) && !this.inTransaction();
    let epochAt = -1;
    if (then.length > 0 || lazy || guarded) {
      const writes = writeExpressions(then, values.length);
      const expressions = [...writes.expressions];
      const checks = [...writes.checks];
      values.push(...writes.values);
      if (guarded) {
        const guard = repositoryEpochGuard(values.length + 1);
        expressions.push(guard.expression);
        checks.push(guard.check);
        epochAt = values.length;
        values.push(epoch);
      }
      if (lazy) checks.push(LAZY_COMMIT);
      const text = withExpressions(statement.text, expressions, checks);
      statement = { name: composedName(text), text };
    }
    const idsOf = (rows: readonly { id: number; position?: number }[]): number[] => {
      if (single) return [rows[0]!.id];
      const ids = new Array<number>(nodes.length);
      for (const row of rows) ids[row.position! - 1] = row.id;
      return ids;
    };
    const asIntegrityError = (error: unknown): unknown =>
      requiredFailure(error, then) ??
      (this.isConstraintViolation(error)
        ? new IntegrityError(`insert into db_dbnode violates a constraint: ${(error as Error).message}`, {
            cause: error,
          })
        : error);
    // in a transaction: the same one statement on its connection (nodes and links together, one round trip)
    const inTransaction = async (): Promise<number[]> => {
      try {
        const result = await this.executor().executeQuery<{ id: number; position?: number }>(
          CompiledQuery.raw(`${PREPARED_STATEMENT_MARK}${statement.text}`, values),
        );
        return idsOf(result.rows);
      } catch (error) {
        throw asIntegrityError(error);
      }
    };
    // nodes with files without an epoch: a transaction that checks their objects after the insert, before it commits
    // (the insert's lock on db_dbnode keeps full maintenance out meanwhile; see referenceObjects)
    if (keys.size > 0 && !guarded) return this.referenceObjects(keys, inTransaction, options);
    // inside an open transaction: a savepoint around it, so that a refused batch leaves that transaction usable (a
    // failed statement aborts a PostgreSQL transaction), as on SQLite
    if (this.inTransaction()) return this.transaction(inTransaction);
    if (guarded) await this.assertObjectsPresent(keys);
    for (let attempt = 0; ; attempt += 1) {
      try {
        // autocommit: the statement is its own transaction, committed (durably, by the server's settings) on return
        const { rows } = await this.#pool.query<{ id: number; position?: number }>({ ...statement, values });
        return idsOf(rows);
      } catch (error) {
        if (this.isConstraintViolation(error)) throw asIntegrityError(error);
        const refused = requiredFailure(error, then);
        if (refused !== undefined) throw refused;
        if (guarded && isRepositoryEpochChange(error)) {
          // full maintenance ran since the epoch was read: read it again, then check the objects again (missing
          // ones throw MissingObjectsError, and the caller puts them back and stores again)
          // (one round trip: the table exists; the sooner the retry, the less likely another run lands before it)
          epoch = await readRepositoryEpochRow(this.db);
          this.#epoch = { value: epoch, at: Date.now(), read: Promise.resolve(epoch) };
          if (epoch === null) return this.referenceObjects(keys, inTransaction, options);
          values[epochAt] = epoch;
          await this.assertObjectsPresent(keys);
          continue;
        }
        if (attempt >= 8 || !this.isTransient(error)) throw error;
        await sleep(Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  /**
   * The repository epoch, read once and kept until a guarded insert finds it changed (full maintenance is rare); null
   * when the profile has none and its aiida-ts tables could not be made (see {@link #readOrCreateEpoch}): read again
   * after a minute.
   */
  #repositoryEpoch(): Promise<string | null> {
    const now = Date.now();
    if (this.#epoch === undefined || (this.#epoch.value === null && now - this.#epoch.at > 60_000)) {
      const read = this.#readOrCreateEpoch();
      const entry: { value: string | null; at: number; read: Promise<string | null> } = {
        value: null,
        at: now,
        read,
      };
      this.#epoch = entry;
      read.then(
        (value) => (entry.value = value),
        () => {
          if (this.#epoch === entry) this.#epoch = undefined;
        },
      );
    }
    return this.#epoch.read;
  }

  /**
   * The epoch, creating the aiida-ts tables first on a profile that has none or older ones (storing a node with files
   * is a write to the profile anyway): without the epoch every such store is a transaction, BEGIN, INSERT and COMMIT,
   * three round trips instead of one. Where they cannot be made (a database role that may not create tables, say)
   * null: stores then check their objects in their transaction, as before the epoch.
   */
  async #readOrCreateEpoch(): Promise<string | null> {
    const epoch = await readRepositoryEpoch(this.db, this.dialect);
    if (epoch !== null) return epoch;
    try {
      await ensureAiidaTsSchema(this);
    } catch {
      return null;
    }
    return readRepositoryEpoch(this.db, this.dialect);
  }

  protected async lockOutNodeWrites(trx: Kysely<Database>): Promise<void> {
    // SHARE conflicts with the ROW EXCLUSIVE lock every INSERT/UPDATE/DELETE takes: it waits for writers in flight
    // to commit and holds new ones until this transaction ends; readers are not affected
    await sql`LOCK TABLE db_dbnode IN SHARE MODE`.execute(trx);
  }

  protected isTransient(error: unknown): boolean {
    const code = pgCode(error);
    // serialization_failure, deadlock_detected
    return code === '40001' || code === '40P01';
  }

  protected isConstraintViolation(error: unknown): boolean {
    // class 23: integrity_constraint_violation
    return pgCode(error).startsWith('23');
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
