import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/storage/backend.js';
import type { Database, NewDbLink, NewDbNode } from '../../src/storage/schema.js';
import { SQLITE_OPTIMIZE_AFTER_ROWS, SqliteStorageBackend } from '../../src/storage/sqlite/sqlite-backend.js';
import { SQLITE_DOS_DATABASE_FILENAME, SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { SqliteTempStorage } from '../../src/storage/sqlite/sqlite-temp.js';
import { sqliteDosConfig } from './helpers.js';

/** Another OS process holding the write lock of the SQLite file for `ms`: resolves `locked`, then `released`. */
function holdWriteLock(
  file: string,
  ms: number,
): { child: ChildProcess; locked: Promise<void>; released: Promise<void> } {
  const script = `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.prepare('BEGIN IMMEDIATE').run();
    console.log('locked');
    setTimeout(() => { db.prepare('COMMIT').run(); db.close(); console.log('released'); }, Number(process.argv[2]));
  `;
  const child = spawn(process.execPath, ['-e', script, file, String(ms)], {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const said = (word: string): Promise<void> =>
    new Promise((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(word)) resolve();
      });
      child.on('exit', (code) =>
        reject(new Error(`the lock holder exited (${String(code)}) before '${word}'`)),
      );
    });
  return { child, locked: said('locked'), released: said('released') };
}

async function statTables(db: Kysely<Database>): Promise<string[]> {
  const exists = await sql<{
    n: number;
  }>`select count(*) as n from sqlite_master where name = 'sqlite_stat1'`.execute(db);
  if (exists.rows[0]!.n === 0) return [];
  const rows = await sql<{ tbl: string }>`select distinct tbl from sqlite_stat1 order by tbl`.execute(db);
  return rows.rows.map((row) => row.tbl);
}

function statTablesOf(file: string): string[] {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const exists = db
      .prepare(`select count(*) as n from sqlite_master where name = 'sqlite_stat1'`)
      .get() as { n: number };
    if (exists.n === 0) return [];
    return (db.prepare('select distinct tbl from sqlite_stat1 order by tbl').all() as { tbl: string }[]).map(
      (r) => r.tbl,
    );
  } finally {
    db.close();
  }
}

async function newUser(storage: StorageBackend): Promise<number> {
  const [id] = await storage.bulkInsert('db_dbuser', [
    { email: `${randomUUID()}@test`, first_name: '', last_name: '', institution: '' },
  ]);
  return id!;
}

function nodes(storage: StorageBackend, userId: number, count: number): NewDbNode[] {
  const now = storage.dialect.encodeTimestamp(new Date());
  return Array.from({ length: count }, (_, i) => ({
    uuid: randomUUID(),
    node_type: i % 2 === 0 ? 'data.core.int.Int.' : 'process.calculation.calcfunction.CalcFunctionNode.',
    process_type: null,
    label: '',
    description: '',
    ctime: now,
    mtime: now,
    attributes: storage.dialect.encodeJson({ value: i }),
    extras: '{}',
    repository_metadata: '{}',
    dbcomputer_id: null,
    user_id: userId,
  }));
}

/** A provenance-like tree: every node has one parent, through `create` or `input_calc` links. */
function treeLinks(ids: readonly number[]): NewDbLink[] {
  return ids.slice(1).map((id, i) => ({
    input_id: ids[Math.floor(i / 3)]!,
    output_id: id,
    label: `l${i}`,
    type: i % 2 === 0 ? 'create' : 'input_calc',
  }));
}

/**
 * The plan of the recursive step of a descendants walk, as the QueryBuilder writes it but without its unary `+`
 * on `type` (the workaround for a planner without statistics, which walks by the index on `type`).
 */
async function recursiveStepPlan(db: Kysely<Database>): Promise<string> {
  const rows = await sql<{ detail: string }>`explain query plan
    with recursive walk(ancestor_id, descendant_id, depth) as (
      select l.input_id, l.output_id, 0 from db_dblink as l inner join db_dbnode as n on l.input_id = n.id
      where l.type in ('create', 'input_calc') and n.id = 5
      union all
      select w.ancestor_id, l.output_id, w.depth + 1 from walk as w inner join db_dblink as l on l.input_id = w.descendant_id
      where l.type in ('create', 'input_calc'))
    select * from walk`.execute(db);
  const details = rows.rows.map((row) => row.detail);
  return details.slice(details.indexOf('RECURSIVE STEP')).join('\n');
}

describe('SQLite planner statistics (PRAGMA optimize)', () => {
  it('are gathered after a large batch of bulk inserts, and then steer link walks to the input_id index', async () => {
    const storage = await new SqliteTempStorage().open();
    try {
      expect(storage).toBeInstanceOf(SqliteStorageBackend);
      const userId = await newUser(storage);
      const small = await storage.bulkInsert('db_dbnode', nodes(storage, userId, 10));
      expect(small).toHaveLength(10);
      // a small write leaves the statistics alone: nothing is analysed per store
      expect(await statTables(storage.executor())).not.toContain('db_dbnode');

      await storage.transaction(async () => {
        const ids = await storage.bulkInsert('db_dbnode', nodes(storage, userId, SQLITE_OPTIMIZE_AFTER_ROWS));
        await storage.bulkInsert('db_dblink', treeLinks(ids));
        // not inside the transaction: the batch is analysed once it committed
        expect(await statTables(storage.executor())).not.toContain('db_dbnode');
      });
      expect(await statTables(storage.executor())).toEqual(
        expect.arrayContaining(['db_dblink', 'db_dbnode']),
      );
      const step = await recursiveStepPlan(storage.executor());
      expect(step).toMatch(/SEARCH l USING INDEX \S*input_id/);
      expect(step).not.toMatch(/USING INDEX \S*type/);
    } finally {
      await storage.close();
    }
  });

  it('are refreshed when many single stores add up, and on demand with optimize()', async () => {
    const storage = await new SqliteTempStorage().open();
    try {
      const userId = await newUser(storage);
      for (let i = 0; i < SQLITE_OPTIMIZE_AFTER_ROWS / 100; i += 1) {
        await storage.bulkInsert('db_dbnode', nodes(storage, userId, 100));
      }
      expect(await statTables(storage.executor())).toContain('db_dbnode');
      // a tenfold growth makes the next refresh analyse again
      const before = await sql<{
        stat: string;
      }>`select stat from sqlite_stat1 where tbl = 'db_dbnode' limit 1`.execute(storage.executor());
      await storage.transaction(async () => {
        await storage.bulkInsert('db_dbnode', nodes(storage, userId, 9 * SQLITE_OPTIMIZE_AFTER_ROWS));
      });
      const after = await sql<{
        stat: string;
      }>`select stat from sqlite_stat1 where tbl = 'db_dbnode' limit 1`.execute(storage.executor());
      expect(Number(after.rows[0]!.stat.split(' ')[0])).toBeGreaterThan(
        Number(before.rows[0]!.stat.split(' ')[0]),
      );
      expect(await storage.optimize()).toBe(true);
    } finally {
      await storage.close();
    }
  });

  it('are written on close and after migrations of a core.sqlite_dos profile', async () => {
    const plugin = new SqliteDosStorage();
    const { config, cleanup } = await sqliteDosConfig();
    try {
      // migration: rows written at an old schema version get statistics when the schema is brought to the head
      await plugin.initialise(config, { schemaVersion: 'main_0001' });
      const file = path.join(config.filepath, SQLITE_DOS_DATABASE_FILENAME);
      const raw = new BetterSqlite3(file);
      const insert = raw.prepare(
        `insert into db_dbuser (email, first_name, last_name, institution) values (?, '', '', '')`,
      );
      raw.transaction(() => {
        for (let i = 0; i < 50; i += 1) insert.run(`user${i}@test`);
      })();
      raw.close();
      expect(statTablesOf(file)).not.toContain('db_dbuser');
      await plugin.migrate(config);
      expect(statTablesOf(file)).toContain('db_dbuser');

      // close: a session of a few single stores and queries leaves statistics for what it used
      const storage = await plugin.open(config, { defaultUserEmail: 'user0@test' });
      const userId = await newUser(storage);
      for (let i = 0; i < 20; i += 1) await storage.bulkInsert('db_dbnode', nodes(storage, userId, 1));
      await storage
        .executor()
        .selectFrom('db_dbnode')
        .select('id')
        .where('node_type', '=', 'data.core.int.Int.')
        .execute();
      expect(statTablesOf(file)).not.toContain('db_dbnode');
      await storage.close();
      expect(statTablesOf(file)).toContain('db_dbnode');
    } finally {
      await cleanup();
    }
  });

  it('never fail or stall a store while another process holds the write lock', async () => {
    // The profile's busy timeout is long; another OS process holds the write lock for 4 s. An optimize waiting as
    // long as the profile allows would get the lock once it is released and run; one that gives up after its own
    // short timeout reports that it did not run.
    const plugin = new SqliteDosStorage({ busyTimeoutMs: 60_000 });
    const { config, cleanup } = await sqliteDosConfig();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config);
      const userId = await newUser(storage);
      const holder = holdWriteLock(path.join(config.filepath, SQLITE_DOS_DATABASE_FILENAME), 4_000);
      try {
        await storage.bulkInsert('db_dbnode', nodes(storage, userId, SQLITE_OPTIMIZE_AFTER_ROWS - 1));
        await holder.locked;
        expect(await storage.optimize()).toBe(false);
        await holder.released;
        await storage.bulkInsert('db_dbnode', nodes(storage, userId, 1));
        expect(await statTables(storage.executor())).toContain('db_dbnode');
      } finally {
        holder.child.kill();
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });
});
