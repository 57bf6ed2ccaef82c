import { sql, type Kysely } from 'kysely';
import type { StorageBackend } from '../../storage/backend.js';
import { DialectName } from '../../storage/dialect.js';
import type { Database } from '../../storage/schema.js';
import { ARCHIVE_COLUMNS, type ArchiveTable } from './archive-schema.js';

/** What an export takes from the profile: the ids of each kind of entity. */
export interface CollectedEntities {
  readonly nodes: number[];
  readonly groups: number[];
  readonly computers: number[];
  readonly users: number[];
  readonly authinfos: number[];
  readonly comments: number[];
  readonly logs: number[];
  /** For a selective export, the group→node pairs of the exported groups. */
  readonly groupNodes: [number, number][] | 'all';
  /** Every row of each table with ids is exported: the tables are read in pages, not by lists of ids. */
  readonly everything: boolean;
}

/** The rows of the tables without ids of their own that a copy wrote. */
export interface CopiedRelations {
  readonly link: number;
  readonly group_node: number;
}

/** Tells the caller how many rows of a table were copied. */
export type CopyProgress = (rows: number) => void;

/** Makes every attached database's name distinct: two exports of one storage may run at once. */
let attachments = 0;

/** The tables copied by id, in an order that satisfies their foreign keys, with the ids taken of each. */
const BY_ID: readonly (readonly [ArchiveTable, keyof CollectedEntities])[] = [
  ['db_dbuser', 'users'],
  ['db_dbcomputer', 'computers'],
  ['db_dbauthinfo', 'authinfos'],
  ['db_dbgroup', 'groups'],
  ['db_dbnode', 'nodes'],
  ['db_dbcomment', 'comments'],
  ['db_dblog', 'logs'],
];

/**
 * Copies the collected rows of a SQLite profile into the archive database at `dbPath` (its schema already made)
 * inside SQLite: the archive database is attached to the profile's connection and each table is copied by one
 * `INSERT … SELECT` over the ids collected (held in temporary tables of that connection, filled from one JSON
 * array each). No row passes through JavaScript, which made most of the database part of an export. A SQLite
 * profile stores every column as the archive does (JSON as text, timestamps as naive UTC text, uuids as text),
 * so the rows are the ones the paged copy writes; booleans are normalised to 0/1 as there.
 *
 * Resolves to null, having written nothing, when this does not apply: another backend, a transaction open in the
 * current context (SQLite cannot attach a database inside one), or a connection that cannot attach (read-only).
 * Links and group memberships are those between exported entities.
 */
export async function copyInSqlite(
  storage: StorageBackend,
  dbPath: string,
  collected: CollectedEntities,
  progress: CopyProgress,
): Promise<CopiedRelations | null> {
  if (storage.dialect.name !== DialectName.SQLITE || storage.inTransaction()) return null;
  const executor: Kysely<Database> = storage.executor();
  attachments += 1;
  const name = `aiida_export_${process.pid}_${attachments}`;
  const archive = sql.id(name);
  try {
    await sql`ATTACH DATABASE ${dbPath} AS ${archive}`.execute(executor);
  } catch {
    return null;
  }
  const temporary: string[] = [];
  const run = async (query: ReturnType<typeof sql>): Promise<number> =>
    Number((await query.execute(executor)).numAffectedRows ?? 0);
  /** A temporary table of `ids`, named after `what`. */
  const idTable = async (what: string, ids: readonly number[]): Promise<ReturnType<typeof sql.id>> => {
    const table = `${name}_${what}`;
    await run(sql`CREATE TEMP TABLE ${sql.id(table)} (id INTEGER PRIMARY KEY)`);
    temporary.push(table);
    await run(
      sql`INSERT OR IGNORE INTO temp.${sql.id(table)} (id) SELECT value FROM json_each(${JSON.stringify(ids)})`,
    );
    return sql.id('temp', table);
  };
  try {
    // the archive is a scratch file until it is zipped: no journal, no syncs (as the paged copy's own connection)
    await run(sql.raw(`PRAGMA "${name}".journal_mode = OFF`));
    await run(sql.raw(`PRAGMA "${name}".synchronous = OFF`));
    const nodes = await idTable('nodes', collected.nodes);
    const groups = await idTable('groups', collected.groups);
    for (const [table, kind] of BY_ID) {
      const ids = collected[kind] as number[];
      if (ids.length === 0) continue;
      const ref = kind === 'nodes' ? nodes : kind === 'groups' ? groups : await idTable(kind, ids);
      const columns = ARCHIVE_COLUMNS[table];
      const select = columns.map((column) =>
        table === 'db_dbauthinfo' && column === 'enabled'
          ? sql`(${sql.ref(column)} IN (1, '1')) AS ${sql.ref(column)}`
          : sql.ref(column),
      );
      progress(
        await run(
          sql`INSERT INTO ${sql.id(name, table)} (${sql.join(columns.map((column) => sql.ref(column)))}) SELECT ${sql.join(
            select,
          )} FROM main.${sql.id(table)} WHERE id IN (SELECT id FROM ${ref}) ORDER BY id`,
        ),
      );
    }
    const link = await run(
      sql`INSERT INTO ${sql.id(name, 'db_dblink')} (input_id, output_id, label, type) SELECT input_id, output_id, label, type FROM main.db_dblink WHERE input_id IN (SELECT id FROM ${nodes}) AND output_id IN (SELECT id FROM ${nodes}) ORDER BY id`,
    );
    const group_node =
      collected.groupNodes === 'all'
        ? await run(
            sql`INSERT INTO ${sql.id(name, 'db_dbgroup_dbnodes')} (dbgroup_id, dbnode_id) SELECT dbgroup_id, dbnode_id FROM main.db_dbgroup_dbnodes WHERE dbgroup_id IN (SELECT id FROM ${groups}) AND dbnode_id IN (SELECT id FROM ${nodes}) ORDER BY id`,
          )
        : await run(
            sql`INSERT INTO ${sql.id(name, 'db_dbgroup_dbnodes')} (dbgroup_id, dbnode_id) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${JSON.stringify(collected.groupNodes)}) ORDER BY key`,
          );
    return { link, group_node };
  } finally {
    for (const table of temporary) await run(sql`DROP TABLE temp.${sql.id(table)}`);
    await run(sql`DETACH DATABASE ${archive}`);
  }
}
