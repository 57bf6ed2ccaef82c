import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { sqliteJsonPath } from './dialect.js';
import type { Database } from './schema.js';

/**
 * Indexes aiida-ts adds to aiida-core's schema so the queries users type all day stay fast on large profiles.
 * aiida-core does not know them and does not mind them: they change no table, no constraint and not
 * `alembic_version`, so aiida-core opens, writes and migrates the profile as before (a migration that rebuilds a
 * table drops them; the next open by aiida-ts creates them again). Each is created when missing, each time a
 * profile is opened, by a statement that is a no-op once it exists.
 *
 * The attribute indexes are partial (`… IS NOT NULL`): only process nodes carry these attributes, so data nodes
 * cost nothing, and both planners use a partial index for any comparison with the indexed expression. The
 * QueryBuilder adds a plain comparison with the same expression beside its type-exact one (see
 * `INDEXED_ATTRIBUTES`), which is what lets the planner reach the index.
 */

/** Attribute keys of `db_dbnode.attributes` with an expression index (the `verdi process list` filters). */
export const INDEXED_ATTRIBUTES: ReadonlySet<string> = new Set(['process_state']);

// named after the table as aiida-core names its indexes, marked as aiida-ts's at the end
const indexName = (key: string): string => `ix_db_dbnode_attributes_${key}_aiida_ts`;

/** The SQLite expression of an indexed attribute, exactly as the index and the QueryBuilder write it. */
export function sqliteIndexedAttribute(column: string, key: string): string {
  return `json_extract(${column}, '${sqliteJsonPath([key])}')`;
}

/** The PostgreSQL expression of an indexed attribute, exactly as the index and the QueryBuilder write it. */
export function postgresIndexedAttribute(column: string, key: string): string {
  return `(${column} ->> '${key}')`;
}

function sqliteStatements(): string[] {
  return [...INDEXED_ATTRIBUTES].map((key) => {
    const expression = sqliteIndexedAttribute('attributes', key);
    return `CREATE INDEX IF NOT EXISTS ${indexName(key)} ON db_dbnode (${expression}) WHERE ${expression} IS NOT NULL`;
  });
}

function postgresStatements(): string[] {
  return [...INDEXED_ATTRIBUTES].map((key) => {
    const expression = postgresIndexedAttribute('attributes', key);
    return `CREATE INDEX IF NOT EXISTS ${indexName(key)} ON db_dbnode (${expression}) WHERE ${expression} IS NOT NULL`;
  });
}

/**
 * Creates the missing aiida-ts indexes of an SQLite profile and gathers their statistics. Checks the catalogue
 * first, so an open of a profile that has them costs one lookup. A read-only connection, or a database another
 * process is writing, is left as it is: the indexes only speed queries up, and the next open tries again.
 */
export function ensureSqliteIndexes(db: BetterSqlite3.Database): void {
  if (db.readonly) return;
  const names = [...INDEXED_ATTRIBUTES].map(indexName);
  const present = db
    .prepare(
      `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN (${names.map(() => '?').join(', ')})`,
    )
    .pluck()
    .get(...names);
  if (present === names.length) return;
  try {
    db.transaction(() => {
      for (const statement of sqliteStatements()) db.exec(statement);
    })();
    // where db_dbnode has statistics, the planner compares the new index with indexes it knows well: give it
    // statistics too (elsewhere `PRAGMA optimize` gathers them all when it first finds the table worth it)
    const hasStatistics =
      db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'`).get() !==
        undefined &&
      db.prepare(`SELECT 1 FROM sqlite_stat1 WHERE tbl = 'db_dbnode' LIMIT 1`).get() !== undefined;
    if (hasStatistics) for (const name of names) db.exec(`ANALYZE ${name}`);
  } catch {
    // SQLITE_BUSY or SQLITE_READONLY: queries stay correct without the index
  }
}

/**
 * An integer expression: how many of the aiida-ts indexes a PostgreSQL profile has (what
 * {@link ensurePostgresIndexes} is given, so that the storage's open asks it with its other checks).
 */
export function postgresIndexesPresent(): RawBuilder<number> {
  const names = [...INDEXED_ATTRIBUTES].map(indexName);
  return sql<number>`(SELECT count(*)::int FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN (${sql.join(names)}))`;
}

/**
 * Creates the missing aiida-ts indexes of a PostgreSQL profile (see {@link ensureSqliteIndexes}), unless `present`
 * (the value of {@link postgresIndexesPresent}, read when it is not given) says they are all there; a role that may
 * not create indexes leaves the profile as it is.
 */
export async function ensurePostgresIndexes(db: Kysely<Database>, present?: number): Promise<void> {
  let found = present;
  if (found === undefined) {
    const { rows } = await sql<{ n: number }>`SELECT ${postgresIndexesPresent()} AS n`.execute(db);
    found = rows[0]?.n ?? 0;
  }
  if (found === INDEXED_ATTRIBUTES.size) return;
  try {
    for (const statement of postgresStatements()) await sql.raw(statement).execute(db);
    await sql.raw('ANALYZE db_dbnode').execute(db);
  } catch {
    // insufficient privilege or a lock timeout: queries stay correct without the index
  }
}
