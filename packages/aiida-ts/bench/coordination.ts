/**
 * Coordination benchmark (plain tsx script): `tsx bench/coordination.ts [--count 500] [--skip-postgres]`.
 *
 * For SQLite (`core.sqlite_dos`) and PostgreSQL (`core.psql_dos`, a fresh database on 127.0.0.1:5432 dropped
 * afterwards), measures what the limits that hold across processes cost, each beside a baseline doing the same
 * row updates in bare transactions through the raw driver (better-sqlite3 / pg) in the same run:
 * - `throttle(key, 0)` (a use recorded, never waiting) vs a bare transaction updating the key's row;
 * - `acquireSlots` + `releaseSlots` on a pool with room (one grant and one release) vs two bare transactions
 *   inserting and deleting the slot's row;
 * - the same under contention: 8 coordinators (as 8 processes would) × 25 holders on a cap of 3, total time per
 *   grant, against the uncontended acquire + release.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { createCoordinator } from '../src/engine/coordination/coordinator.js';
import { CalcJobNode } from '../src/orm/nodes/process/calcjob.js';
import { Node } from '../src/orm/nodes/node.js';
import type { StorageBackend } from '../src/storage/backend.js';
import { ensureAiidaTsSchema } from '../src/storage/aiida-ts-schema/schema-state.js';
import { PsqlDosStorage, type PsqlDosConfig } from '../src/storage/postgres/psql-dos.js';
import { SQLITE_DOS_DATABASE_FILENAME, SqliteDosStorage } from '../src/storage/sqlite/sqlite-dos.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const COUNT = argument('count', 500);
const SKIP_POSTGRES = process.argv.includes('--skip-postgres');

/** Microseconds per operation of `fn` run `n` times one after the other. */
async function perOperation(n: number, fn: (i: number) => unknown): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i += 1) await fn(i);
  return ((performance.now() - start) * 1000) / n;
}

interface Row {
  readonly backend: string;
  readonly what: string;
  readonly ours: number;
  readonly baseline: number;
  readonly baselineName: string;
}
const rows: Row[] = [];

async function holders(storage: StorageBackend, n: number): Promise<number[]> {
  const nodes = await Node.storeMany(
    Array.from({ length: n }, () => new CalcJobNode(undefined, { storage })),
    { storage },
  );
  return nodes.map((node) => node.pk!);
}

/** The measurements shared by both backends; `bare` runs the baseline statements through the raw driver. */
async function measure(
  backend: string,
  storage: StorageBackend,
  bare: {
    throttle(key: string): Promise<void> | void;
    insertSlot(pool: string, holder: number): Promise<void> | void;
    deleteSlot(pool: string, holder: number): Promise<void> | void;
  },
): Promise<void> {
  await ensureAiidaTsSchema(storage);
  const coordinator = createCoordinator(storage);
  try {
    // warm up statement caches, connections and the JIT on both sides
    await perOperation(200, () => coordinator.throttle('warm', 0));
    await perOperation(200, () => bare.throttle('warm-bare'));

    const throttle = await perOperation(COUNT, () => coordinator.throttle('transport-open:bench', 0));
    const throttleBare = await perOperation(COUNT, () => bare.throttle('transport-open:bare'));
    rows.push({
      backend,
      what: 'throttle (no wait)',
      ours: throttle,
      baseline: throttleBare,
      baselineName: 'bare UPDATE tx',
    });

    const pool = `computer:${randomUUID()}`;
    await coordinator.setLimit(pool, 1_000_000);
    const pks = await holders(storage, COUNT);
    const slots = await perOperation(COUNT, async (i) => {
      await coordinator.acquireSlots(pks[i]!, [pool]);
      await coordinator.releaseSlots(pks[i]!);
    });
    const slotsBare = await perOperation(COUNT, async (i) => {
      await bare.insertSlot(`${pool}-bare`, pks[i]!);
      await bare.deleteSlot(`${pool}-bare`, pks[i]!);
    });
    rows.push({
      backend,
      what: 'acquireSlots + releaseSlots',
      ours: slots,
      baseline: slotsBare,
      baselineName: 'bare INSERT tx + DELETE tx',
    });

    // contention: 8 coordinators (8 processes' worth) × 25 holders, a cap of 3
    const capped = `computer:${randomUUID()}`;
    await coordinator.setLimit(capped, 3);
    const contenders = Array.from({ length: 8 }, () =>
      createCoordinator(storage, { maxPollMs: 50, sweepIntervalMs: 1_000 }),
    );
    const queued = await holders(storage, 8 * 25);
    const start = performance.now();
    await Promise.all(
      contenders.map((contender, c) =>
        Promise.all(
          queued.slice(c * 25, (c + 1) * 25).map(async (holder) => {
            await contender.acquireSlots(holder, [capped]);
            await contender.releaseSlots(holder);
          }),
        ),
      ),
    );
    const contended = ((performance.now() - start) * 1000) / queued.length;
    await Promise.all(contenders.map((contender) => contender.close()));
    rows.push({
      backend,
      what: '8 × 25 holders on a cap of 3, per grant',
      ours: contended,
      baseline: slots,
      baselineName: 'uncontended acquire + release',
    });
  } finally {
    await coordinator.close();
  }
}

async function sqlite(): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-bench-coord-'));
  const plugin = new SqliteDosStorage();
  const config = plugin.parseConfig({ filepath: path.join(folder, 'storage') });
  try {
    await plugin.initialise(config);
    const storage = await plugin.open(config, { defaultUserEmail: 'bench@localhost' });
    await ensureAiidaTsSchema(storage);
    // the baseline: a second connection on the same file, WAL, same busy timeout, prepared statements
    const raw = new BetterSqlite3(path.join(config.filepath, SQLITE_DOS_DATABASE_FILENAME), {
      timeout: 5000,
    });
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    const begin = raw.prepare('BEGIN IMMEDIATE');
    const commit = raw.prepare('COMMIT');
    const inTx = (fn: () => void) => {
      begin.run();
      fn();
      commit.run();
    };
    const upsert = raw.prepare(
      'INSERT INTO aiida_ts_throttle (key, last_used) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used',
    );
    const insert = raw.prepare('INSERT INTO aiida_ts_slot (pool, holder) VALUES (?, ?)');
    const remove = raw.prepare('DELETE FROM aiida_ts_slot WHERE pool = ? AND holder = ?');
    try {
      await measure('core.sqlite_dos', storage, {
        throttle: (key) => inTx(() => upsert.run(key, Date.now())),
        insertSlot: (pool, holder) => inTx(() => insert.run(pool, holder)),
        deleteSlot: (pool, holder) => inTx(() => remove.run(pool, holder)),
      });
    } finally {
      raw.close();
      await storage.close();
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function postgres(): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-bench-coord-pg-'));
  const plugin = new PsqlDosStorage();
  const config: PsqlDosConfig = plugin.parseConfig({
    database_hostname: '127.0.0.1',
    database_port: 5432,
    database_username: 'postgres',
    database_password: '',
    database_name: `aiida_bench_${randomBytes(6).toString('hex')}`,
    repository_uri: pathToFileURL(path.join(folder, 'repository')).href,
  });
  try {
    await plugin.initialise(config);
    const storage = await plugin.open(config, { defaultUserEmail: 'bench@localhost' });
    await ensureAiidaTsSchema(storage);
    const client = new pg.Client({
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      database: config.database_name,
    });
    await client.connect();
    const inTx = async (text: string, values: unknown[]) => {
      await client.query('BEGIN');
      await client.query(text, values);
      await client.query('COMMIT');
    };
    try {
      await measure('core.psql_dos', storage, {
        throttle: (key) =>
          inTx(
            `INSERT INTO aiida_ts_throttle (key, last_used) VALUES ($1, (floor(extract(epoch from clock_timestamp()) * 1000))::bigint)
             ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used`,
            [key],
          ),
        insertSlot: (pool, holder) =>
          inTx('INSERT INTO aiida_ts_slot (pool, holder) VALUES ($1, $2)', [pool, holder]),
        deleteSlot: (pool, holder) =>
          inTx('DELETE FROM aiida_ts_slot WHERE pool = $1 AND holder = $2', [pool, holder]),
      });
    } finally {
      await client.end();
      await storage.close();
    }
  } finally {
    await plugin.destroy(config);
    await rm(folder, { recursive: true, force: true });
  }
}

await sqlite();
if (!SKIP_POSTGRES) await postgres();

const fmt = (micros: number) =>
  micros >= 1000 ? `${(micros / 1000).toFixed(2)} ms` : `${micros.toFixed(0)} µs`;
console.log(`\ncoordination across processes (${COUNT} operations each; lower is better)\n`);
console.log(
  [
    'backend'.padEnd(16),
    'operation'.padEnd(42),
    'ours'.padStart(10),
    'baseline'.padStart(10),
    'ratio'.padStart(7),
    '  baseline is',
  ].join(' '),
);
for (const row of rows) {
  console.log(
    [
      row.backend.padEnd(16),
      row.what.padEnd(42),
      fmt(row.ours).padStart(10),
      fmt(row.baseline).padStart(10),
      `${(row.ours / row.baseline).toFixed(2)}×`.padStart(7),
      ` ${row.baselineName}`,
    ].join(' '),
  );
}
