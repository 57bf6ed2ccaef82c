/**
 * Storage and ORM benchmark (plain tsx script): `tsx bench/storage.ts [--single 10000] [--batch 100000]
 * [--count 100000] [--skip-postgres]`.
 *
 * For SQLite (`core.sqlite_dos`, WAL, synchronous=NORMAL) and PostgreSQL (`core.psql_dos`, a fresh database on
 * 127.0.0.1:5432 dropped afterwards) it prints each figure beside a raw-SQL baseline doing the same work in the
 * same run (better-sqlite3 / pg prepared statements writing the same rows), the ratio between the two, and
 * aiida-core's published figures:
 * - storing `Int` nodes one `store()` at a time (each its own transaction) — aiida-core: 14 ms per node;
 * - storing a batch with `Node.storeMany` (multi-row inserts in one transaction) — nodes per second;
 * - counting nodes with an attribute filter through the QueryBuilder — aiida-core: 6.3 ms to count 10,000 nodes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { Int, Node } from '../src/orm.js';
import { QueryBuilder } from '../src/querybuilder/query-builder.js';
import type { StorageBackend } from '../src/storage/backend.js';
import { setDefaultStorage } from '../src/storage/context.js';
import { PsqlDosStorage, type PsqlDosConfig } from '../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../src/storage/sqlite/sqlite-dos.js';

const AIIDA_STORE_ONE_INT_MS = 14;
const AIIDA_COUNT_10K_MS = 6.3;

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const SINGLE = argument('single', 10_000);
const BATCH = argument('batch', 100_000);
const COUNT = argument('count', 100_000);
const SKIP_POSTGRES = process.argv.includes('--skip-postgres');

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

interface Row {
  readonly what: string;
  readonly ours: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly aiida: string;
}

const rows: Row[] = [];

/** One SQLite `store()`, in µs, for the PostgreSQL section's cross-backend ratio. */
let sqliteStoreMicros: number | undefined;

function report(
  what: string,
  oursMs: number,
  baselineMs: number,
  oursText: string,
  baselineText: string,
  aiida: string,
): void {
  rows.push({
    what,
    ours: oursText,
    baseline: baselineText,
    ratio: `${fmt(oursMs / baselineMs, 2)}x`,
    aiida,
  });
  console.log(
    `${what}: ours ${oursText} | raw SQL ${baselineText} | ratio ${fmt(oursMs / baselineMs, 2)}x | ${aiida}`,
  );
}

/** A node row as the ORM writes it, for the raw baselines. */
function rawRow(userId: number, value: number, now: string): unknown[] {
  return [
    randomUUID(),
    'data.core.int.Int.',
    null,
    '',
    '',
    now,
    now,
    JSON.stringify({ value }),
    '{}',
    '{}',
    null,
    userId,
  ];
}

const INSERT_SQL =
  'INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras, repository_metadata, dbcomputer_id, user_id)';

async function ormStoreOneByOne(count: number): Promise<number> {
  const { ms } = await time(async () => {
    for (let i = 0; i < count; i += 1) await new Int(i).store();
  });
  return ms;
}

async function ormStoreMany(count: number): Promise<number> {
  const { ms } = await time(async () => {
    for (let start = 0; start < count; start += 10_000) {
      await Node.storeMany(
        Array.from({ length: Math.min(10_000, count - start) }, (_, i) => new Int(start + i)),
      );
    }
  });
  return ms;
}

async function ormCount(threshold: number): Promise<{ ms: number; n: number }> {
  const qb = () => new QueryBuilder().append(Int, { filters: { 'attributes.value': { '>=': threshold } } });
  await qb().count();
  const runs = 5;
  let n = 0;
  const { ms } = await time(async () => {
    for (let i = 0; i < runs; i += 1) n = await qb().count();
  });
  return { ms: ms / runs, n };
}

async function defaultUserId(storage: StorageBackend): Promise<number> {
  const { User } = await import('../src/orm.js');
  return (await User.getDefault({ storage })).pk!;
}

async function benchSqlite(): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-bench-'));
  try {
    const plugin = new SqliteDosStorage();
    const ormConfig = plugin.parseConfig({ filepath: path.join(folder, 'orm') });
    const rawConfig = plugin.parseConfig({ filepath: path.join(folder, 'raw') });
    await plugin.initialise(ormConfig);
    await plugin.initialise(rawConfig);
    const storage = await plugin.open(ormConfig, { defaultUserEmail: 'bench@aiida.localhost' });
    setDefaultStorage(storage);
    const raw = new BetterSqlite3(path.join(rawConfig.filepath, 'database.sqlite'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw
      .prepare(
        `INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('bench@x', '', '', '')`,
      )
      .run();
    const rawUser = 1;
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '000');
    const insertOne = raw.prepare(`${INSERT_SQL} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`);
    const begin = raw.prepare('BEGIN IMMEDIATE');
    const commit = raw.prepare('COMMIT');

    console.log(`\n== SQLite (core.sqlite_dos, WAL, synchronous=NORMAL) ==`);
    const oursSingle = await ormStoreOneByOne(SINGLE);
    const { ms: rawSingle } = await time(() => {
      for (let i = 0; i < SINGLE; i += 1) {
        begin.run();
        insertOne.get(rawRow(rawUser, i, now));
        commit.run();
      }
    });
    report(
      `store ${SINGLE} Int one at a time`,
      oursSingle,
      rawSingle,
      `${fmt(oursSingle)} ms (${fmt((oursSingle * 1000) / SINGLE)} µs/node)`,
      `${fmt(rawSingle)} ms`,
      `aiida-core ${AIIDA_STORE_ONE_INT_MS} ms/node → ours ${fmt((AIIDA_STORE_ONE_INT_MS * SINGLE) / oursSingle, 0)}x faster`,
    );
    sqliteStoreMicros = (oursSingle * 1000) / SINGLE;

    const oursBatch = await ormStoreMany(BATCH);
    const { ms: rawBatch } = await time(() => {
      raw.transaction(() => {
        for (let i = 0; i < BATCH; i += 1) insertOne.get(rawRow(rawUser, i, now));
      })();
    });
    report(
      `storeMany ${BATCH} Int`,
      oursBatch,
      rawBatch,
      `${fmt(oursBatch)} ms (${fmt((BATCH / oursBatch) * 1000, 0)} nodes/s)`,
      `${fmt(rawBatch)} ms (${fmt((BATCH / rawBatch) * 1000, 0)} nodes/s)`,
      'target ≥ 50,000 nodes/s',
    );

    await topUp(COUNT + SINGLE + BATCH);
    const threshold = Math.floor(COUNT / 2);
    const ours = await ormCount(threshold);
    // the baseline counts in the same database as the ORM, so both see the same rows
    const sameDb = new BetterSqlite3(path.join(ormConfig.filepath, 'database.sqlite'), { readonly: true });
    const rawCount = sameDb.prepare(
      `SELECT count(*) AS n FROM db_dbnode WHERE node_type LIKE 'data.core.int.Int.%' AND json_type(attributes, '$."value"') IN ('integer', 'real') AND json_extract(attributes, '$."value"') >= ?`,
    );
    const runs = 5;
    let rawN = 0;
    const { ms: rawCountMs } = await time(() => {
      for (let i = 0; i < runs; i += 1) rawN = (rawCount.get(threshold) as { n: number }).n;
    });
    report(
      `count Int with attributes.value >= ${threshold} over ${(await storage.getInfo()).entities.Nodes.count} nodes → ${ours.n} (raw ${rawN})`,
      ours.ms,
      rawCountMs / runs,
      `${fmt(ours.ms, 2)} ms`,
      `${fmt(rawCountMs / runs, 2)} ms`,
      `aiida-core ${AIIDA_COUNT_10K_MS} ms per 10,000 nodes → ours ${fmt(ours.ms / (COUNT / 10_000), 2)} ms per 10,000`,
    );
    sameDb.close();
    raw.close();
    await storage.close();
    setDefaultStorage(null);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Brings the ORM storage to at least `total` Int nodes (for the count). */
async function topUp(total: number): Promise<void> {
  const { getStorage } = await import('../src/storage/context.js');
  const have = (await getStorage().getInfo()).entities.Nodes.count;
  if (have < total) await ormStoreMany(total - have);
}

async function benchPostgres(): Promise<void> {
  const plugin = new PsqlDosStorage();
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-bench-pg-'));
  const suffix = randomBytes(4).toString('hex');
  const config = (name: string): PsqlDosConfig =>
    plugin.parseConfig({
      database_hostname: '127.0.0.1',
      database_port: 5432,
      database_username: 'postgres',
      database_password: '',
      database_name: `aiida_bench_${name}_${suffix}`,
      repository_uri: pathToFileURL(path.join(folder, name)).href,
    });
  const ormConfig = config('orm');
  const rawConfig = config('raw');
  try {
    await plugin.initialise(ormConfig);
    await plugin.initialise(rawConfig);
    const storage = await plugin.open(ormConfig, { defaultUserEmail: 'bench@aiida.localhost' });
    setDefaultStorage(storage);
    await defaultUserId(storage);
    const raw = new pg.Client({
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      database: rawConfig.database_name,
    });
    await raw.connect();
    const rawUser = (
      await raw.query(
        `INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('bench@x', '', '', '') RETURNING id`,
      )
    ).rows[0].id as number;
    const now = new Date().toISOString();
    const insertOne = {
      name: 'insert_node',
      text: `${INSERT_SQL} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
    };

    console.log(`\n== PostgreSQL (core.psql_dos on 127.0.0.1:5432) ==`);
    const oursSingle = await ormStoreOneByOne(SINGLE);
    const { ms: rawSingle } = await time(async () => {
      for (let i = 0; i < SINGLE; i += 1) {
        await raw.query('BEGIN');
        await raw.query({ ...insertOne, values: rawRow(rawUser, i, now) });
        await raw.query('COMMIT');
      }
    });
    report(
      `store ${SINGLE} Int one at a time`,
      oursSingle,
      rawSingle,
      `${fmt(oursSingle)} ms (${fmt((oursSingle * 1000) / SINGLE)} µs/node)`,
      `${fmt(rawSingle)} ms`,
      `aiida-core ${AIIDA_STORE_ONE_INT_MS} ms/node → ours ${fmt((AIIDA_STORE_ONE_INT_MS * SINGLE) / oursSingle, 0)}x faster`,
    );
    // the least a durable insert can cost: one prepared statement in autocommit, one round trip and one commit
    const { ms: rawAutocommit } = await time(async () => {
      for (let i = 0; i < SINGLE; i += 1)
        await raw.query({ ...insertOne, values: rawRow(rawUser, SINGLE + i, now) });
    });
    report(
      `store ${SINGLE} Int one at a time, vs one autocommit INSERT per node`,
      oursSingle,
      rawAutocommit,
      `${fmt(oursSingle)} ms`,
      `${fmt(rawAutocommit)} ms`,
      'the floor for a durable per-node commit',
    );
    if (sqliteStoreMicros !== undefined) {
      const pgMicros = (oursSingle * 1000) / SINGLE;
      const ratio = `${fmt(pgMicros / sqliteStoreMicros, 2)}x`;
      rows.push({
        what: 'store() one at a time: PostgreSQL vs SQLite',
        ours: `${fmt(pgMicros)} µs/node`,
        baseline: `${fmt(sqliteStoreMicros)} µs/node (SQLite)`,
        ratio,
        aiida: 'same work; SQLite WAL synchronous=NORMAL, PostgreSQL synchronous_commit=on',
      });
      console.log(
        `store() one at a time: PostgreSQL ${fmt(pgMicros)} µs/node | SQLite ${fmt(sqliteStoreMicros)} µs/node | ratio ${ratio}`,
      );
    }

    const oursBatch = await ormStoreMany(BATCH);
    const { ms: rawBatch } = await time(async () => {
      await raw.query('BEGIN');
      for (let i = 0; i < BATCH; i += 1) await raw.query({ ...insertOne, values: rawRow(rawUser, i, now) });
      await raw.query('COMMIT');
    });
    report(
      `storeMany ${BATCH} Int`,
      oursBatch,
      rawBatch,
      `${fmt(oursBatch)} ms (${fmt((BATCH / oursBatch) * 1000, 0)} nodes/s)`,
      `${fmt(rawBatch)} ms (${fmt((BATCH / rawBatch) * 1000, 0)} nodes/s, one prepared insert per row)`,
      'target ≥ 50,000 nodes/s',
    );

    await topUp(COUNT + SINGLE + BATCH);
    await sql`ANALYZE`.execute(storage.executor());
    // the baseline counts in the same database as the ORM, so both see the same rows
    const sameDb = new pg.Client({
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      database: ormConfig.database_name,
    });
    await sameDb.connect();
    const threshold = Math.floor(COUNT / 2);
    const ours = await ormCount(threshold);
    const countQuery = {
      name: 'count_nodes',
      text: `SELECT count(*)::int AS n FROM db_dbnode WHERE node_type LIKE 'data.core.int.Int.%' AND jsonb_typeof(attributes -> 'value') = 'number' AND (attributes ->> 'value')::double precision >= $1`,
    };
    await sameDb.query({ ...countQuery, values: [threshold] });
    const runs = 5;
    let rawN = 0;
    const { ms: rawCountMs } = await time(async () => {
      for (let i = 0; i < runs; i += 1)
        rawN = (await sameDb.query({ ...countQuery, values: [threshold] })).rows[0].n as number;
    });
    report(
      `count Int with attributes.value >= ${threshold} over ${(await storage.getInfo()).entities.Nodes.count} nodes → ${ours.n} (raw ${rawN})`,
      ours.ms,
      rawCountMs / runs,
      `${fmt(ours.ms, 2)} ms`,
      `${fmt(rawCountMs / runs, 2)} ms`,
      `aiida-core ${AIIDA_COUNT_10K_MS} ms per 10,000 nodes → ours ${fmt(ours.ms / (COUNT / 10_000), 2)} ms per 10,000`,
    );
    await sameDb.end();
    await raw.end();
    await storage.close();
    setDefaultStorage(null);
  } finally {
    await plugin.destroy(ormConfig).catch(() => undefined);
    await plugin.destroy(rawConfig).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }
}

await benchSqlite();
if (!SKIP_POSTGRES) await benchPostgres();
console.log('\nsummary');
console.table(rows);
