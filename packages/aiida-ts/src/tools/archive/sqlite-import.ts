import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { IntegrityError } from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { DialectName, type SqlDialect } from '../../storage/dialect.js';
import { DB_DBNODE_INSERT_COLUMNS, type Database } from '../../storage/schema.js';
import { insertConstraintError } from '../../storage/sqlite/sqlite-errors.js';

/** The archive's node rows in the profile's encoding, written into the archive's own (private) database. */
const STAGED_NODES = 'aiida_import_node';

/** `YYYY-MM-DD HH:MM:SS.ffffff`, how a SQLite profile stores a timestamp, as a GLOB pattern. */
const SQLITE_TIMESTAMP_GLOB =
  '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].' + '[0-9]'.repeat(6);

/** A column of a new `db_dbnode` row: the staged table holds exactly these, beside the archive's `id`. */
type NodeColumn = (typeof DB_DBNODE_INSERT_COLUMNS)[number];

/** The staged table's columns, in {@link DB_DBNODE_INSERT_COLUMNS}'s order, as `CREATE TABLE` declares them. */
const STAGED_DECLARATIONS = DB_DBNODE_INSERT_COLUMNS.map(
  (column) => `${column} ${column.endsWith('_id') ? 'INTEGER' : 'TEXT'}`,
).join(', ');

/** Makes every attached database's name distinct: two imports into one storage may run at once. */
let attachments = 0;

/**
 * Writes the archive's node rows, converted to what the profile stores (lowercase uuids, timestamps in the profile's
 * encoding, the `extras` and `attributes` of new nodes as `columns` computes them, empty strings for missing labels),
 * into a table of the archive's database, so that a SQLite profile can insert the new ones with one
 * `INSERT … SELECT`. Runs on the archive's connection before the profile's transaction starts (once the profile
 * reads the attached file inside its transaction, the archive's connection can no longer write it). A timestamp
 * that is not one is staged as NULL: {@link invalidStagedTimestamps} finds it.
 */
export function stageNodes(
  db: BetterSqlite3.Database,
  dialect: SqlDialect,
  columns: { readonly extras: string; readonly attributes: string },
): void {
  db.function('aiida_import_timestamp', { deterministic: true }, (value: unknown) => {
    // NULL and blobs are no timestamps; numbers go through as text, as the paged insert takes them
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') return null;
    try {
      return dialect.encodeTimestamp(String(value));
    } catch {
      return null;
    }
  });
  const timestamp = (column: string): string =>
    dialect.name === DialectName.SQLITE
      ? // already the SQLite profile's form (naive UTC with microseconds, a date and time that exist): kept as it is,
        // without a call into JavaScript per value
        `CASE WHEN typeof(${column}) = 'text' AND ${column} GLOB '${SQLITE_TIMESTAMP_GLOB}' AND ` +
        `strftime('%Y-%m-%d %H:%M:%S', substr(${column}, 1, 19)) = substr(${column}, 1, 19) THEN ${column} ` +
        `ELSE aiida_import_timestamp(${column}) END`
      : `aiida_import_timestamp(${column})`;
  // every column of a new node, from the archive's row (a column added to the list fails to compile here)
  const staged: Record<NodeColumn, string> = {
    uuid: 'lower(uuid)',
    node_type: 'node_type',
    process_type: 'process_type',
    label: "coalesce(label, '')",
    description: "coalesce(description, '')",
    ctime: timestamp('ctime'),
    mtime: timestamp('mtime'),
    attributes: columns.attributes,
    extras: columns.extras,
    repository_metadata: "coalesce(repository_metadata, '{}')",
    dbcomputer_id: 'dbcomputer_id',
    user_id: 'user_id',
  };
  db.exec(
    `DROP TABLE IF EXISTS ${STAGED_NODES};` +
      `CREATE TABLE ${STAGED_NODES} (id INTEGER PRIMARY KEY, ${STAGED_DECLARATIONS});` +
      `INSERT INTO ${STAGED_NODES} SELECT id, ${DB_DBNODE_INSERT_COLUMNS.map((column) => staged[column]).join(', ')} ` +
      'FROM db_dbnode',
  );
}

/** The archive nodes whose raw `ctime` or `mtime` (the first bad one) {@link stageNodes} could not convert. */
export function invalidStagedTimestamps(db: BetterSqlite3.Database): { id: number; value: unknown }[] {
  return db
    .prepare(
      `SELECT n.id AS id, CASE WHEN s.ctime IS NULL THEN n.ctime ELSE n.mtime END AS value FROM ${STAGED_NODES} s ` +
        'JOIN db_dbnode n ON n.id = s.id WHERE s.ctime IS NULL OR s.mtime IS NULL ORDER BY n.id',
    )
    .all() as { id: number; value: unknown }[];
}

/** The archive's database attached to a SQLite profile's connection, for inserting rows with `INSERT … SELECT`. */
export interface AttachedArchive {
  /**
   * Inserts the staged nodes `fresh` (archive ids), their users and computers mapped by `users` and `computers`
   * (archive id → profile id; every one the nodes name must be there). Resolves to archive id → new profile id.
   */
  insertNodes(
    fresh: ReadonlySet<number>,
    users: ReadonlyMap<number, number>,
    computers: ReadonlyMap<number, number>,
  ): Promise<Map<number, number>>;
  /** Drops what {@link attachArchive} made and detaches the archive; after the transaction. */
  detach(): Promise<void>;
}

/**
 * Attaches the archive's database file to a SQLite profile's connection (ATTACH cannot run inside a transaction,
 * so this comes before the import's transaction and {@link AttachedArchive.detach} after it), with the temporary
 * tables the insert maps ids through. Resolves to null, having done nothing, for another backend, inside an open
 * transaction, or when the connection cannot attach.
 */
export async function attachArchive(storage: StorageBackend, file: string): Promise<AttachedArchive | null> {
  if (storage.dialect.name !== DialectName.SQLITE || storage.inTransaction()) return null;
  const executor: Kysely<Database> = storage.executor();
  attachments += 1;
  const name = `aiida_import_${process.pid}_${attachments}`;
  try {
    await sql`ATTACH DATABASE ${file} AS ${sql.id(name)}`.execute(executor);
  } catch {
    return null;
  }
  const users = `${name}_users`;
  const computers = `${name}_computers`;
  const fresh = `${name}_fresh`;
  const run = async (query: ReturnType<typeof sql>): Promise<void> => {
    await query.execute(storage.executor());
  };
  const detach = async (): Promise<void> => {
    for (const table of [users, computers, fresh]) await run(sql`DROP TABLE IF EXISTS temp.${sql.id(table)}`);
    await run(sql`DETACH DATABASE ${sql.id(name)}`);
  };
  try {
    for (const table of [users, computers])
      await run(
        sql`CREATE TEMP TABLE ${sql.id(table)} (archive_id INTEGER PRIMARY KEY, profile_id INTEGER NOT NULL)`,
      );
    await run(sql`CREATE TEMP TABLE ${sql.id(fresh)} (id INTEGER PRIMARY KEY)`);
  } catch (error) {
    await detach();
    throw error;
  }
  const fill = async (table: string, map: ReadonlyMap<number, number>): Promise<void> => {
    await run(
      sql`INSERT INTO temp.${sql.id(table)} (archive_id, profile_id) SELECT value ->> '$[0]', value ->> '$[1]' FROM json_each(${JSON.stringify([...map])})`,
    );
  };
  // the staged row's values, its user and computer mapped to the profile's ids
  const insertedValues = DB_DBNODE_INSERT_COLUMNS.map((column) =>
    column === 'user_id' ? 'u.profile_id' : column === 'dbcomputer_id' ? 'c.profile_id' : `s.${column}`,
  ).join(', ');
  return {
    async insertNodes(freshIds, userMap, computerMap) {
      await fill(users, userMap);
      await fill(computers, computerMap);
      await run(
        sql`INSERT INTO temp.${sql.id(fresh)} (id) SELECT value FROM json_each(${JSON.stringify([...freshIds])})`,
      );
      const staged = sql.id(name, STAGED_NODES);
      try {
        await run(
          sql`INSERT INTO main.db_dbnode (${sql.raw(DB_DBNODE_INSERT_COLUMNS.join(', '))}) SELECT ${sql.raw(insertedValues)} FROM ${staged} s JOIN temp.${sql.id(users)} u ON u.archive_id = s.user_id LEFT JOIN temp.${sql.id(computers)} c ON c.archive_id = s.dbcomputer_id WHERE s.id IN (SELECT id FROM temp.${sql.id(fresh)}) ORDER BY s.id`,
        );
      } catch (error) {
        throw insertConstraintError('db_dbnode', error) ?? error;
      }
      const rows = await sql<{
        archive: number;
        profile: number;
      }>`SELECT s.id AS archive, m.id AS profile FROM ${staged} s JOIN main.db_dbnode m ON m.uuid = s.uuid WHERE s.id IN (SELECT id FROM temp.${sql.id(fresh)})`.execute(
        storage.executor(),
      );
      const map = new Map<number, number>();
      for (const row of rows.rows) map.set(Number(row.archive), Number(row.profile));
      if (map.size !== freshIds.size)
        throw new IntegrityError(`insert into db_dbnode wrote ${map.size} of ${freshIds.size} nodes`);
      return map;
    },
    detach,
  };
}
