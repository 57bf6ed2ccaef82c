import { randomBytes } from 'node:crypto';
import { PostgresAdapter, sql, type CompiledQuery, type Kysely, type RawBuilder } from 'kysely';
import { QueryError } from '../errors.js';
import { PREPARED_STATEMENT_MARK } from '../storage/postgres/prepared-statements.js';
import type { Database } from '../storage/schema.js';
import type { QueryBackend } from './results.js';
import type { CompiledPlan, TableBounds } from './sql/compile.js';

type Row = Record<string, unknown>;

/** Runs a statement on the backend's current executor, wrapping database errors in {@link QueryError}. */
export async function runQuery(
  db: Kysely<Database>,
  query: RawBuilder<Row>,
  /** A statement of a shared plan, run again and again: PostgreSQL prepares it once per connection. */
  reused = false,
): Promise<Row[]> {
  try {
    return (await db.executeQuery(reused ? compiledOnce(db, query) : query.compile(db))).rows;
  } catch (error) {
    throw wrapDatabaseError(error);
  }
}

/** A backend that can run a read at once on its cached prepared statement (SQLite's single connection). */
interface ReadsNow {
  readNow(text: string, parameters: readonly unknown[], raw?: boolean): unknown[] | undefined;
}

function readsNow(backend: QueryBackend): backend is QueryBackend & ReadsNow {
  return typeof (backend as Partial<ReadsNow>).readNow === 'function';
}

/**
 * Runs a statement of a shared plan (see {@link runQuery}'s `reused`). On SQLite, when no other task's transaction
 * holds the connection, it runs at once on the cached prepared statement: Kysely's queueing for the connection and
 * its result wrapping cost more than a small query itself. With `raw`, rows may come as arrays in select-list
 * order (cheaper to make than objects; the decoder reads either).
 */
export function runPlanQuery(
  backend: QueryBackend,
  query: RawBuilder<Row>,
  raw: true,
): Promise<(Row | unknown[])[]>;
export function runPlanQuery(backend: QueryBackend, query: RawBuilder<Row>, raw?: false): Promise<Row[]>;
export function runPlanQuery(backend: QueryBackend, query: RawBuilder<Row>, raw = false): Promise<unknown[]> {
  if (readsNow(backend)) {
    // (the text rendered before: without asking the backend for its executor, which looks up the async context)
    const known = rendered.get(query);
    const compiled =
      known !== undefined && known.dialect === 'other'
        ? known.query
        : compiledOnce(backend.executor(), query);
    try {
      const rows = backend.readNow(compiled.sql, compiled.parameters, raw);
      if (rows !== undefined) return Promise.resolve(rows);
    } catch (error) {
      return Promise.reject(wrapDatabaseError(error));
    }
  }
  return runQuery(backend.executor(), query, true);
}

// The SQL text of each statement of a shared plan, rendered once per dialect: rendering walks Kysely's operation
// tree, which costs more than running a small query on SQLite.
const rendered = new WeakMap<RawBuilder<Row>, { dialect: string; query: CompiledQuery<Row> }>();

function compiledOnce(db: Kysely<Database>, query: RawBuilder<Row>): CompiledQuery<Row> {
  const adapter = db.getExecutor().adapter;
  const dialect = adapter instanceof PostgresAdapter ? 'postgres' : 'other';
  const known = rendered.get(query);
  if (known !== undefined && known.dialect === dialect) return known.query;
  const compiled = query.compile(db);
  // on PostgreSQL the connection prepares it once and reuses the plan (see PREPARED_STATEMENT_MARK)
  const reused: CompiledQuery<Row> =
    dialect === 'postgres' ? { ...compiled, sql: `${PREPARED_STATEMENT_MARK}${compiled.sql}` } : compiled;
  rendered.set(query, { dialect, query: reused });
  return reused;
}

/** A database error as a QueryError keeping the driver's message (and the original as `cause`). */
export function wrapDatabaseError(error: unknown): Error {
  if (error instanceof QueryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new QueryError(`The database rejected the query: ${message}`, { cause: error });
}

/**
 * Reads the result in batches of `batchSize` rows without holding the whole result in memory.
 * - PostgreSQL: a server-side cursor (`DECLARE … CURSOR` / `FETCH`). Inside a transaction of the backend it
 *   lives in that transaction, so the loop body can run statements in the same transaction between fetches;
 *   outside one it gets a connection of its own, in a read transaction kept until the iteration ends.
 * - SQLite: one statement per batch, so the single connection is free between batches (the loop body may write):
 *   keyset pagination on the ids of the joined rows where the query allows it, else LIMIT/OFFSET over a total
 *   order. Every batch leaves out rows added after the iteration began (ids above each table's highest id at
 *   the start), so storing nodes in the loop body neither repeats nor prolongs the iteration, as a cursor's
 *   snapshot would.
 */
export async function* fetchBatches(
  backend: QueryBackend,
  plan: CompiledPlan,
  batchSize: number,
): AsyncGenerator<(Row | unknown[])[]> {
  if (backend.dialect.name === 'postgres') {
    yield* postgresCursor(backend, plan.select, batchSize);
  } else {
    const bounds = await tableBounds(backend.executor(), plan.tables);
    if (plan.keyset !== undefined) yield* keysetBatches(backend, plan, batchSize, bounds);
    else yield* offsetBatches(backend, plan, batchSize, bounds);
  }
}

/** The highest id of each table now. */
async function tableBounds(db: Kysely<Database>, tables: readonly string[]): Promise<TableBounds> {
  const columns = tables.map(
    (table) => sql`(select coalesce(max(id), 0) from ${sql.table(table)}) as ${sql.id(table)}`,
  );
  const [row] = await runQuery(db, sql<Row>`select ${sql.join(columns)}`);
  return Object.fromEntries(tables.map((table) => [table, Number(row?.[table] ?? 0)]));
}

async function* postgresCursor(
  backend: QueryBackend,
  select: RawBuilder<Row>,
  batchSize: number,
): AsyncGenerator<Row[]> {
  const name = sql.id(`qb_cursor_${randomBytes(6).toString('hex')}`);
  const declare = sql`declare ${name} no scroll cursor for ${select}`;
  const fetch = sql<Row>`fetch forward ${sql.raw(String(batchSize))} from ${name}`;
  if (backend.inTransaction()) {
    const db = backend.executor();
    await runQuery(db, declare as RawBuilder<Row>);
    try {
      for (;;) {
        const rows = await runQuery(db, fetch);
        if (rows.length > 0) yield rows;
        if (rows.length < batchSize) break;
      }
    } finally {
      await sql`close ${name}`.execute(db).catch(() => undefined);
    }
    return;
  }
  // hold one pooled connection for the whole iteration: a cursor lives on its connection
  const held = holdConnection(backend.executor());
  const db = await held.connection;
  let committed = false;
  try {
    await runQuery(db, sql`begin read only`);
    await runQuery(db, declare as RawBuilder<Row>);
    for (;;) {
      const rows = await runQuery(db, fetch);
      if (rows.length > 0) yield rows;
      if (rows.length < batchSize) break;
    }
    await runQuery(db, sql`commit`);
    committed = true;
  } finally {
    if (!committed) await sql`rollback`.execute(db).catch(() => undefined);
    await held.release();
  }
}

/** Borrows one connection of `db` until `release()`, for statements that must share a session. */
function holdConnection(db: Kysely<Database>): {
  connection: Promise<Kysely<Database>>;
  release: () => Promise<void>;
} {
  let releaseCallback!: () => void;
  const released = new Promise<void>((resolve) => (releaseCallback = resolve));
  let gotConnection!: (connection: Kysely<Database>) => void;
  const got = new Promise<Kysely<Database>>((resolve) => (gotConnection = resolve));
  const done = db.connection().execute(async (connection) => {
    gotConnection(connection);
    await released;
  });
  // a failure to connect rejects `done` before `got` resolves
  const connection = Promise.race([got, done.then(() => got)]);
  return {
    connection,
    release: async () => {
      releaseCallback();
      await done;
    },
  };
}

async function* keysetBatches(
  backend: QueryBackend,
  plan: CompiledPlan,
  batchSize: number,
  bounds: TableBounds,
): AsyncGenerator<(Row | unknown[])[]> {
  const keys = plan.keyset!;
  let last: unknown[] | undefined;
  for (;;) {
    const after =
      last === undefined
        ? undefined
        : sql`(${sql.join(keys.map((k) => k.expr))}) > (${sql.join(last.map((value) => sql`${value}`))})`;
    const query = plan.build({
      where: after,
      orderBy: keys.map((k) => k.expr),
      limit: batchSize,
      offset: null,
      withKeyset: true,
      bounds,
    });
    // rows as arrays where the backend reads them at once (cheaper to make than objects): the keyset columns
    // come last
    const rows = await runPlanQuery(backend, query, true);
    if (rows.length > 0) {
      const final = rows[rows.length - 1]!;
      last = Array.isArray(final)
        ? final.slice(final.length - keys.length)
        : keys.map((k) => final[k.sqlAlias]);
      yield rows;
    }
    if (rows.length < batchSize) return;
  }
}

async function* offsetBatches(
  backend: QueryBackend,
  plan: CompiledPlan,
  batchSize: number,
  bounds: TableBounds,
): AsyncGenerator<(Row | unknown[])[]> {
  let position = 0;
  const limit = plan.limitOffset.limit;
  const start = plan.limitOffset.offset ?? 0;
  for (;;) {
    const remaining = limit === null ? batchSize : Math.min(batchSize, limit - position);
    if (remaining <= 0) return;
    const query = plan.build({
      orderBy: plan.batchOrder,
      limit: remaining,
      offset: start + position,
      bounds,
    });
    const rows = await runPlanQuery(backend, query, true);
    if (rows.length > 0) yield rows;
    position += rows.length;
    if (rows.length < remaining) return;
  }
}
