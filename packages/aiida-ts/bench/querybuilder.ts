/**
 * QueryBuilder benchmark (plain tsx script): `tsx bench/querybuilder.ts [--runs 7] [--dialect sqlite|postgres]`.
 *
 * On a `core.sqlite_dos`-like SQLite file and on a fresh PostgreSQL database (127.0.0.1:5432, user postgres) it
 * loads 100,000 Int nodes, 10,000 Float nodes and a 10-level, 10,000-node provenance tree, then times, as the
 * median of several runs after a warm-up:
 * - `count` of the Int nodes with an attribute filter (`attributes.value > 50000`), target < 100 ms on SQLite;
 * - `withAncestors`: every descendant of the tree's root (9,999 rows), target < 200 ms;
 * - projecting 10,000 attribute values (aiida-core: 63 ms);
 * - counting 10,000 nodes (aiida-core: 6.3 ms);
 * - streaming 100,000 ids with `iterall`.
 * Each QueryBuilder figure is printed beside the same query written as raw SQL and run on the driver directly,
 * with the ratio; the PostgreSQL figures are also compared with SQLite's (target within 2×).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { QueryBuilder } from '../src/querybuilder.js';
import {
  createPostgresDatabase,
  createPostgresPool,
  createSchema,
  dropPostgresDatabase,
  MemoryRepositoryBackend,
  openSqliteDatabase,
  PostgresStorageBackend,
  postgresDialect,
  SqliteStorageBackend,
  sqliteDialect,
  type Database,
  type PsqlDosConfig,
  type StorageBackend,
} from '../src/storage.js';

const INTS = 100_000;
const FLOATS = 10_000;
const TREE_LEVELS = 10;
const TREE_NODES = 10_000;

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const RUNS = Number(argument('runs', '7'));
const ONLY = argument('dialect', 'both');

/** What the raw baseline runs: the driver with one statement. */
interface Raw {
  all(text: string, params?: readonly unknown[]): Promise<unknown[]>;
  iterate(text: string, onRow: () => void): Promise<void>;
  close(): Promise<void>;
}

interface Setup {
  readonly name: 'sqlite' | 'postgres';
  readonly backend: StorageBackend;
  readonly raw: Raw;
  close(): Promise<void>;
}

async function openSqlite(folder: string): Promise<Setup> {
  const file = join(folder, 'database.sqlite');
  const native = openSqliteDatabase({ filepath: file });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
  await db.transaction().execute((trx) => createSchema(trx, sqliteDialect));
  const backend = new SqliteStorageBackend({
    entryPoint: 'core.sqlite_dos',
    native,
    repository: new MemoryRepositoryBackend(),
    location: file,
  });
  const reader: BetterSqlite3.Database = openSqliteDatabase({ filepath: file, readonly: true });
  const raw: Raw = {
    all: (text, params = []) =>
      Promise.resolve(
        reader
          .prepare(text)
          .raw()
          .all(...params),
      ),
    iterate: (text, onRow) => {
      for (const _row of reader.prepare(text).raw().iterate()) onRow();
      return Promise.resolve();
    },
    close: () => {
      reader.close();
      return Promise.resolve();
    },
  };
  return { name: 'sqlite', backend, raw, close: () => backend.close() };
}

async function openPostgres(): Promise<Setup> {
  const config: PsqlDosConfig = {
    database_engine: 'postgresql_psycopg',
    database_hostname: '127.0.0.1',
    database_port: 5432,
    database_username: 'postgres',
    database_password: '',
    database_name: `aiida_qb_bench_${randomUUID().slice(0, 8)}`,
    repository_uri: 'file:///tmp/unused',
  };
  await createPostgresDatabase(config);
  const options = {
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    password: '',
    database: config.database_name,
  };
  const pool = createPostgresPool(options);
  await new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    .transaction()
    .execute((trx) => createSchema(trx, postgresDialect));
  const backend = new PostgresStorageBackend({
    entryPoint: 'core.psql_dos',
    pool,
    repository: new MemoryRepositoryBackend(),
    location: config.database_name,
  });
  const client = new pg.Client(options);
  await client.connect();
  client.on('error', () => undefined);
  const raw: Raw = {
    all: async (text, params = []) =>
      (await client.query({ text, values: [...params], rowMode: 'array' })).rows,
    iterate: async (text, onRow) => {
      // the same server-side cursor the QueryBuilder uses, through the driver
      await client.query('begin read only');
      await client.query(`declare raw_cursor no scroll cursor for ${text}`);
      for (;;) {
        const { rows } = await client.query({ text: 'fetch forward 1000 from raw_cursor', rowMode: 'array' });
        for (const _row of rows) onRow();
        if (rows.length < 1000) break;
      }
      await client.query('commit');
    },
    close: () => client.end(),
  };
  return {
    name: 'postgres',
    backend,
    raw,
    close: async () => {
      await backend.close();
      await dropPostgresDatabase(config);
    },
  };
}

/** Loads the benchmark data; returns the pk of the provenance tree's root. */
async function load(backend: StorageBackend): Promise<number> {
  const d = backend.dialect;
  const db = backend.executor();
  const user = await db
    .insertInto('db_dbuser')
    .values({ email: 'bench@aiida.localhost', first_name: '', last_name: '', institution: '' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const now = new Date();
  const node = (nodeType: string, attributes: Record<string, unknown>, label = '') => ({
    uuid: randomUUID(),
    node_type: nodeType,
    process_type: null,
    label,
    description: '',
    ctime: d.encodeTimestamp(now),
    mtime: d.encodeTimestamp(now),
    attributes: d.encodeJson(attributes),
    extras: d.encodeJson({}),
    repository_metadata: d.encodeJson({}),
    dbcomputer_id: null,
    user_id: user.id,
  });
  for (let start = 0; start < INTS; start += 10_000) {
    await backend.bulkInsert(
      'db_dbnode',
      Array.from({ length: 10_000 }, (_, i) => node('data.core.int.Int.', { value: start + i })),
    );
  }
  await backend.bulkInsert(
    'db_dbnode',
    Array.from({ length: FLOATS }, (_, i) => node('data.core.float.Float.', { value: i / 10 })),
  );
  // a tree of alternating data and calculation levels, linked as aiida's data provenance (input_calc, create)
  const perLevel = Math.ceil((TREE_NODES - 1) / (TREE_LEVELS - 1));
  const levels: number[][] = [
    await backend.bulkInsert('db_dbnode', [node('data.core.int.Int.', { value: -1 }, 'root')]),
  ];
  const links: { input_id: number; output_id: number; type: string; label: string }[] = [];
  for (let level = 1; level < TREE_LEVELS; level++) {
    const calc = level % 2 === 1;
    const count = Math.min(perLevel, TREE_NODES - levels.flat().length);
    const ids = await backend.bulkInsert(
      'db_dbnode',
      Array.from({ length: count }, () =>
        calc
          ? node('process.calculation.calcfunction.CalcFunctionNode.', { process_state: 'finished' })
          : node('data.core.int.Int.', { value: -level }),
      ),
    );
    const parents = levels[level - 1]!;
    ids.forEach((id, i) =>
      links.push({
        input_id: parents[i % parents.length]!,
        output_id: id,
        type: calc ? 'input_calc' : 'create',
        label: `l${i}`,
      }),
    );
    levels.push(ids);
  }
  await backend.bulkInsert('db_dblink', links);
  // the statistics a live database has (autovacuum on PostgreSQL; `PRAGMA optimize` on SQLite)
  await sql
    .raw(backend.dialect.name === 'postgres' ? 'vacuum analyze' : 'analyze')
    .execute(backend.executor());
  return levels[0]![0]!;
}

async function median(work: () => Promise<unknown>): Promise<number> {
  await work();
  await work();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

interface Figure {
  readonly query: string;
  readonly qb: number;
  readonly raw: number;
  readonly note: string;
}

async function run(setup: Setup, rootId: number): Promise<Figure[]> {
  const { backend, raw } = setup;
  const pg = setup.name === 'postgres';
  const qb = (): QueryBuilder => new QueryBuilder({ backend });
  const figures: Figure[] = [];
  const check = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want))
      throw new Error(`${setup.name} ${what}: got ${JSON.stringify(got)}, raw SQL ${JSON.stringify(want)}`);
  };

  // 1. count with an attribute filter over 100,000 nodes
  const countFilter = (): Promise<number> =>
    qb()
      .append('data.core.int.Int.', { filters: { 'attributes.value': { '>': 50_000 } } })
      .count();
  const countFilterRaw = pg
    ? `select count(*) from db_dbnode where node_type like 'data.core.int.%' and (attributes ->> 'value')::double precision > 50000`
    : `select count(*) from db_dbnode where node_type like 'data.core.int.%' and json_extract(attributes, '$.value') > 50000`;
  check(
    'count with a filter',
    await countFilter(),
    Number(
      (await raw.all(countFilterRaw))[0] instanceof Array
        ? ((await raw.all(countFilterRaw))[0] as unknown[])[0]
        : 0,
    ),
  );
  figures.push({
    query: `count of ${INTS.toLocaleString('en')} nodes with an attribute filter`,
    qb: await median(countFilter),
    raw: await median(() => raw.all(countFilterRaw)),
    note: 'target < 100 ms (SQLite)',
  });

  // 2. withAncestors over the 10-level tree
  const descendants = (): Promise<unknown[]> =>
    qb()
      .append('data.core.int.Int.', { tag: 'root', filters: { id: rootId } })
      .append('', { withAncestors: 'root', project: 'id' })
      .all({ flat: true });
  const types = `('create', 'input_calc')`;
  const linkType = pg ? 'type' : '+type';
  const descendantsRaw = `with recursive walk(id) as (select output_id from db_dblink where input_id = ${rootId} and ${linkType} in ${types} union all select l.output_id from walk join db_dblink as l on l.input_id = walk.id where ${linkType.replace('type', 'l.type')} in ${types}) select n.id from walk join db_dbnode as n on n.id = walk.id`;
  check('withAncestors count', (await descendants()).length, (await raw.all(descendantsRaw)).length);
  figures.push({
    query: `withAncestors: ${TREE_NODES - 1} descendants over ${TREE_LEVELS} levels`,
    qb: await median(descendants),
    raw: await median(() => raw.all(descendantsRaw)),
    note: 'target < 200 ms',
  });

  // 3. projecting 10,000 attribute values
  const project = (): Promise<unknown[]> =>
    qb().append('data.core.float.Float.', { project: 'attributes.value' }).all({ flat: true });
  const projectRaw = pg
    ? `select attributes -> 'value' from db_dbnode where node_type like 'data.core.float.%'`
    : `select json_extract(attributes, '$.value') from db_dbnode where node_type like 'data.core.float.%'`;
  check('projection size', (await project()).length, (await raw.all(projectRaw)).length);
  figures.push({
    query: `projecting ${FLOATS.toLocaleString('en')} attribute values`,
    qb: await median(project),
    raw: await median(() => raw.all(projectRaw)),
    note: 'aiida-core: 63 ms',
  });

  // 4. counting 10,000 nodes
  const count = (): Promise<number> => qb().append('data.core.float.Float.').count();
  const countRaw = `select count(*) from db_dbnode where node_type like 'data.core.float.%'`;
  check('count', await count(), FLOATS);
  figures.push({
    query: `counting ${FLOATS.toLocaleString('en')} nodes`,
    qb: await median(count),
    raw: await median(() => raw.all(countRaw)),
    note: 'aiida-core: 6.3 ms',
  });

  // 5. streaming every Int id
  const stream = async (): Promise<number> => {
    let n = 0;
    for await (const _row of qb()
      .append('data.core.int.Int.', { project: 'id' })
      .iterall({ batchSize: 1000 }))
      n += 1;
    return n;
  };
  const streamRaw = `select id from db_dbnode where node_type like 'data.core.int.%'`;
  let rawCount = 0;
  await raw.iterate(streamRaw, () => (rawCount += 1));
  check('streamed rows', await stream(), rawCount);
  figures.push({
    query: `iterall over ${rawCount.toLocaleString('en')} ids (batches of 1000)`,
    qb: await median(stream),
    raw: await median(() => raw.iterate(streamRaw, () => undefined)),
    note: pg ? 'server-side cursor' : 'keyset batches',
  });
  return figures;
}

function table(name: string, figures: readonly Figure[]): void {
  console.log(`\n${name}`);
  console.log(
    `${'query'.padEnd(52)} ${'QueryBuilder'.padStart(13)} ${'raw SQL'.padStart(10)} ${'ratio'.padStart(7)}  note`,
  );
  for (const f of figures) {
    console.log(
      `${f.query.padEnd(52)} ${`${f.qb.toFixed(1)} ms`.padStart(13)} ${`${f.raw.toFixed(1)} ms`.padStart(10)} ${`${(f.qb / f.raw).toFixed(2)}×`.padStart(7)}  ${f.note}`,
    );
  }
}

async function main(): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'aiida-qb-bench-'));
  const results = new Map<string, Figure[]>();
  try {
    const dialects = [
      { name: 'sqlite', open: () => openSqlite(folder) },
      { name: 'postgres', open: openPostgres },
    ].filter((d) => ONLY === 'both' || ONLY === d.name);
    for (const { open } of dialects) {
      const setup = await open();
      try {
        const started = performance.now();
        const rootId = await load(setup.backend);
        console.log(
          `${setup.name}: loaded ${(INTS + FLOATS + TREE_NODES).toLocaleString('en')} nodes in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        const figures = await run(setup, rootId);
        results.set(setup.name, figures);
        table(`${setup.name} (median of ${RUNS} runs)`, figures);
      } finally {
        await setup.raw.close();
        await setup.close();
      }
    }
    const sqlite = results.get('sqlite');
    const postgres = results.get('postgres');
    if (sqlite !== undefined && postgres !== undefined) {
      console.log('\nPostgreSQL against SQLite (QueryBuilder; target within 2×)');
      sqlite.forEach((f, i) =>
        console.log(`${f.query.padEnd(52)} ${`${(postgres[i]!.qb / f.qb).toFixed(2)}×`.padStart(7)}`),
      );
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
