/**
 * Builds (or reuses) the profile of one size for the scale benchmark: a real aiida-ts profile made with
 * `verdi presto` (so every command opens it as users' profiles), then filled by batched multi-row inserts straight
 * into aiida-core's tables and by appending the repository objects to a pack of the disk-objectstore container.
 * Built profiles are cached on disk, keyed by backend and size: a rerun only checks the `facts.json` marker.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { sqliteDialect, postgresDialect } from '../../src/storage/dialect.js';
import {
  COLUMNS,
  GROUPS,
  generate,
  type GraphFacts,
  type GraphSink,
  type GraphTable,
  type RepoObject,
  type Row,
} from './graph.js';

export type Backend = 'sqlite' | 'postgres';

/** A built profile: where its configuration is and what the graph holds. */
export interface BuiltProfile {
  readonly backend: Backend;
  readonly size: number;
  /** The `AIIDA_TS_PATH` of the profile's configuration. */
  readonly configDir: string;
  readonly profileName: string;
  /** SQLite: the storage folder; PostgreSQL: the connection settings. */
  readonly storage: Record<string, unknown>;
  readonly facts: GraphFacts;
  readonly buildSeconds: number;
}

export const CACHE_ROOT = process.env.AIIDA_TS_SCALE_CACHE ?? join(homedir(), '.cache', 'aiida-ts', 'scale');
const VERDI = join(import.meta.dirname, '..', '..', 'dist', 'cmdline', 'verdi.js');
const ROWS_PER_STATEMENT = 200;

function sizeLabel(size: number): string {
  const exponent = Math.log10(size);
  return Number.isInteger(exponent) ? `1e${exponent}` : String(size);
}

function presto(configDir: string, profileName: string, postgres: boolean): Record<string, unknown> {
  const args = [VERDI, 'presto', '--profile-name', profileName, '--no-broker'];
  if (postgres) args.push('--use-postgres', '--postgres-hostname', '127.0.0.1');
  const result = spawnSync(process.execPath, args, {
    env: { ...process.env, AIIDA_TS_PATH: configDir },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`verdi presto failed: ${result.stderr}${result.stdout}`);
  const config = JSON.parse(readFileSync(join(configDir, '.aiida-ts', 'config.json'), 'utf8')) as {
    profiles: Record<string, { storage: { config: Record<string, unknown> } }>;
  };
  const profile = config.profiles[profileName];
  if (profile === undefined) throw new Error(`verdi presto made no profile ${profileName}`);
  return profile.storage.config;
}

/** Appends objects to pack 0 of a container and indexes them in `packs.idx`, deduplicating repeated keys. */
class PackWriter {
  readonly #fd: number;
  readonly #index: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement;
  readonly #exists: BetterSqlite3.Statement;
  #offset = 0;
  // the graph repeats only a few constant objects: a small set of recent keys deduplicates them
  readonly #recent = new Set<string>();

  constructor(container: string) {
    this.#fd = openSync(join(container, 'packs', '0'), 'a');
    this.#index = new BetterSqlite3(join(container, 'packs.idx'));
    this.#index.pragma('journal_mode = WAL');
    this.#index.pragma('synchronous = OFF');
    this.#insert = this.#index.prepare(
      'INSERT INTO db_object (hashkey, compressed, size, "offset", length, pack_id) VALUES (?, 0, ?, ?, ?, 0)',
    );
    this.#exists = this.#index.prepare('SELECT 1 FROM db_object WHERE hashkey = ?');
    this.#index.exec('BEGIN');
  }

  add(object: RepoObject): void {
    if (this.#recent.has(object.key)) return;
    if (this.#recent.size > 1000) this.#recent.clear();
    this.#recent.add(object.key);
    if (this.#exists.get(object.key) !== undefined) return;
    writeSync(this.#fd, object.bytes);
    this.#insert.run(object.key, object.bytes.length, this.#offset, object.bytes.length);
    this.#offset += object.bytes.length;
  }

  close(): void {
    this.#index.exec('COMMIT');
    this.#index.close();
    closeSync(this.#fd);
  }
}

/** Buffers rows per table and writes them as multi-row INSERTs. */
abstract class BatchSink implements GraphSink {
  readonly #buffers = new Map<GraphTable, unknown[]>();
  readonly #pack: PackWriter;

  constructor(pack: PackWriter) {
    this.#pack = pack;
  }

  protected abstract insert(table: GraphTable, values: unknown[], rows: number): Promise<void> | void;

  async row(table: GraphTable, row: Row): Promise<void> {
    let buffer = this.#buffers.get(table);
    if (buffer === undefined) this.#buffers.set(table, (buffer = []));
    for (const value of row) buffer.push(value);
    if (buffer.length >= ROWS_PER_STATEMENT * COLUMNS[table].length) {
      this.#buffers.set(table, []);
      await this.insert(table, buffer, ROWS_PER_STATEMENT);
    }
  }

  object(object: RepoObject): void {
    this.#pack.add(object);
  }

  async flush(): Promise<void> {
    // nodes first: the other tables refer to them
    for (const table of Object.keys(COLUMNS) as GraphTable[]) {
      const buffer = this.#buffers.get(table) ?? [];
      this.#buffers.set(table, []);
      if (buffer.length > 0) await this.insert(table, buffer, buffer.length / COLUMNS[table].length);
    }
    this.#pack.close();
  }
}

function insertSql(table: GraphTable, rows: number, placeholder: (i: number) => string): string {
  const columns = COLUMNS[table];
  const tuples: string[] = [];
  let p = 0;
  for (let r = 0; r < rows; r++) tuples.push(`(${columns.map(() => placeholder(++p)).join(', ')})`);
  return `INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${tuples.join(', ')}`;
}

class SqliteSink extends BatchSink {
  readonly #db: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #pending = 0;

  constructor(db: BetterSqlite3.Database, pack: PackWriter) {
    super(pack);
    this.#db = db;
  }

  protected insert(table: GraphTable, values: unknown[], rows: number): void {
    const key = `${table}:${rows}`;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(insertSql(table, rows, () => '?'));
      this.#statements.set(key, statement);
    }
    statement.run(values);
    this.#pending += rows;
    if (this.#pending > 200_000) {
      this.#db.exec('COMMIT; BEGIN');
      this.#pending = 0;
    }
  }
}

class PostgresSink extends BatchSink {
  readonly #client: pg.Client;

  constructor(client: pg.Client, pack: PackWriter) {
    super(pack);
    this.#client = client;
  }

  protected async insert(table: GraphTable, values: unknown[], rows: number): Promise<void> {
    await this.#client.query({
      name: `${table}:${rows}`,
      text: insertSql(table, rows, (i) => `$${i}`),
      values,
    });
  }
}

/** The indexes of a table that are not constraints: dropped while loading, created again after (far faster). */
function sqliteLooseIndexes(db: BetterSqlite3.Database): string[] {
  return db
    .prepare(
      `SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('db_dbnode', 'db_dblink', 'db_dblog', 'db_dbgroup_dbnodes')`,
    )
    .pluck()
    .all() as string[];
}

async function buildSqlite(size: number, folder: string, started: number): Promise<BuiltProfile> {
  const configDir = join(folder, 'config');
  const profileName = `scale-${sizeLabel(size)}`;
  const storage = presto(configDir, profileName, false);
  const filepath = String(storage.filepath);
  const db = new BetterSqlite3(join(filepath, 'database.sqlite'));
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  db.pragma('foreign_keys = OFF');
  const indexes = sqliteLooseIndexes(db);
  const names = db
    .prepare(
      `SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('db_dbnode', 'db_dblink', 'db_dblog', 'db_dbgroup_dbnodes')`,
    )
    .pluck()
    .all() as string[];
  for (const name of names) db.exec(`DROP INDEX "${name}"`);
  const userId = db.prepare('SELECT id FROM db_dbuser ORDER BY id LIMIT 1').pluck().get() as number;
  const computerId = db.prepare('SELECT id FROM db_dbcomputer ORDER BY id LIMIT 1').pluck().get() as number;
  const now = Date.now();
  const groupIds: number[] = [];
  const insertGroup = db.prepare(
    `INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id) VALUES (?, ?, 'core', ?, '', '{}', ?)`,
  );
  for (let g = 0; g < GROUPS; g++)
    groupIds.push(
      Number(
        insertGroup.run(
          crypto.randomUUID(),
          `scale-group-${g}`,
          sqliteDialect.encodeTimestamp(new Date(now)),
          userId,
        ).lastInsertRowid,
      ),
    );
  const firstNodeId =
    ((db.prepare('SELECT coalesce(max(id), 0) FROM db_dbnode').pluck().get() as number) ?? 0) + 1;
  const sink = new SqliteSink(db, new PackWriter(join(filepath, 'container')));
  db.exec('BEGIN');
  const facts = await generate(
    size,
    {
      firstNodeId,
      userId,
      computerId,
      groupIds,
      endMs: now,
      time: (ms) => sqliteDialect.encodeTimestamp(new Date(ms)),
    },
    sink,
  );
  await sink.flush();
  db.exec('COMMIT');
  process.stdout.write(
    `  rows written in ${((performance.now() - started) / 1000).toFixed(1)} s; indexing\n`,
  );
  for (const statement of indexes) db.exec(statement);
  // approximate statistics, as the storage keeps them (SQLITE_ANALYSIS_LIMIT): a full ANALYZE reads every entry
  // of every index, minutes at 10^7 nodes, for counts the planner needs only roughly
  db.pragma('analysis_limit = 1000');
  db.exec('ANALYZE');
  db.pragma('journal_mode = WAL');
  db.close();
  return {
    backend: 'sqlite',
    size,
    configDir,
    profileName,
    storage,
    facts,
    buildSeconds: (performance.now() - started) / 1000,
  };
}

async function buildPostgres(size: number, folder: string, started: number): Promise<BuiltProfile> {
  const configDir = join(folder, 'config');
  const profileName = `scale_${sizeLabel(size)}`;
  const storage = presto(configDir, profileName, true);
  const client = new pg.Client({
    host: '127.0.0.1',
    port: Number(storage.database_port),
    user: String(storage.database_username),
    password: String(storage.database_password),
    database: String(storage.database_name),
  });
  await client.connect();
  try {
    const tables = `('db_dbnode', 'db_dblink', 'db_dblog', 'db_dbgroup_dbnodes')`;
    const { rows: indexRows } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ${tables} AND indexname NOT IN (SELECT conname FROM pg_constraint)`,
    );
    for (const row of indexRows) await client.query(`DROP INDEX "${row.indexname}"`);
    const userId = Number((await client.query('SELECT min(id) AS id FROM db_dbuser')).rows[0].id);
    const computerId = Number((await client.query('SELECT min(id) AS id FROM db_dbcomputer')).rows[0].id);
    const now = Date.now();
    const groupIds: number[] = [];
    for (let g = 0; g < GROUPS; g++) {
      const { rows } = await client.query(
        `INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id) VALUES ($1, $2, 'core', $3, '', '{}', $4) RETURNING id`,
        [crypto.randomUUID(), `scale-group-${g}`, postgresDialect.encodeTimestamp(new Date(now)), userId],
      );
      groupIds.push(Number(rows[0].id));
    }
    const firstNodeId = Number(
      (await client.query('SELECT coalesce(max(id), 0) + 1 AS id FROM db_dbnode')).rows[0].id,
    );
    const uri = String(storage.repository_uri).replace(/^file:\/\//, '');
    const sink = new PostgresSink(client, new PackWriter(join(uri, 'container')));
    await client.query('BEGIN');
    const facts = await generate(
      size,
      {
        firstNodeId,
        userId,
        computerId,
        groupIds,
        endMs: now,
        time: (ms) => postgresDialect.encodeTimestamp(new Date(ms)),
      },
      sink,
    );
    await sink.flush();
    await client.query('COMMIT');
    process.stdout.write(
      `  rows written in ${((performance.now() - started) / 1000).toFixed(1)} s; indexing\n`,
    );
    for (const row of indexRows) await client.query(row.indexdef);
    await client.query(`SELECT setval('db_dbnode_id_seq', (SELECT max(id) FROM db_dbnode))`);
    await client.query('VACUUM ANALYZE');
    return {
      backend: 'postgres',
      size,
      configDir,
      profileName,
      storage,
      facts,
      buildSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await client.end();
  }
}

/** The cached profile of `backend` and `size`, built first when missing (or when `rebuild`). */
export async function ensureProfile(backend: Backend, size: number, rebuild: boolean): Promise<BuiltProfile> {
  const folder = join(CACHE_ROOT, `${backend}-${sizeLabel(size)}`);
  const marker = join(folder, 'facts.json');
  if (!rebuild && existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as BuiltProfile;
  if (existsSync(folder)) await dropProfile(folder);
  mkdirSync(folder, { recursive: true });
  process.stdout.write(
    `building the ${backend} profile of ${size.toLocaleString('en')} nodes in ${folder}\n`,
  );
  const started = performance.now();
  const built =
    backend === 'sqlite'
      ? await buildSqlite(size, folder, started)
      : await buildPostgres(size, folder, started);
  writeFileSync(marker, JSON.stringify(built, null, 2));
  process.stdout.write(
    `  built ${built.facts.nodes.toLocaleString('en')} nodes, ${built.facts.links.toLocaleString('en')} links in ${built.buildSeconds.toFixed(1)} s\n`,
  );
  return built;
}

/** Removes a cached profile (its PostgreSQL database and role too). */
async function dropProfile(folder: string): Promise<void> {
  const config = join(folder, 'config', '.aiida-ts', 'config.json');
  if (existsSync(config)) {
    const data = JSON.parse(readFileSync(config, 'utf8')) as {
      profiles: Record<string, { storage: { backend: string; config: Record<string, unknown> } }>;
    };
    for (const profile of Object.values(data.profiles)) {
      if (profile.storage.backend !== 'core.psql_dos') continue;
      const admin = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${String(profile.storage.config.database_name)}"`);
        await admin.query(`DROP ROLE IF EXISTS "${String(profile.storage.config.database_username)}"`);
      } finally {
        await admin.end();
      }
    }
  }
  rmSync(folder, { recursive: true, force: true });
}
