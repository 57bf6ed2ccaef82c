import { sql, type RawBuilder } from 'kysely';
import { DialectName, sqliteDialect } from '../../storage/dialect.js';
import type { StorageBackend } from '../../storage/backend.js';
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_JSON_COLUMNS,
  ARCHIVE_TIMESTAMP_COLUMNS,
  type ArchiveTable,
} from './archive-schema.js';

/** One row in the archive's encoding: JSON columns as JSON text, timestamps as naive-UTC text, booleans 0/1. */
export type ArchiveRow = Record<string, string | number | null>;

/**
 * The select list of `table` that reads a profile's row in the archive's encoding: JSON columns as their stored
 * text (PostgreSQL `jsonb::text`, which keeps `2.0` as written), uuids as text.
 */
function selectList(
  storage: StorageBackend,
  table: ArchiveTable,
  columns: readonly string[],
): RawBuilder<unknown> {
  const json = new Set(ARCHIVE_JSON_COLUMNS[table] ?? []);
  const postgres = storage.dialect.name === DialectName.POSTGRES;
  return sql.join(
    columns.map((column) => {
      if (postgres && (json.has(column) || column === 'uuid'))
        return sql`${sql.ref(column)}::text AS ${sql.ref(column)}`;
      return sql.ref(column);
    }),
  );
}

/** Converts the driver's values of one row to the archive's encoding, in place. */
function toArchiveEncoding(
  storage: StorageBackend,
  table: ArchiveTable,
  row: Record<string, unknown>,
): ArchiveRow {
  if (storage.dialect.name === DialectName.POSTGRES) {
    for (const column of ARCHIVE_TIMESTAMP_COLUMNS[table] ?? []) {
      const value = row[column];
      if (value !== null && value !== undefined) row[column] = sqliteDialect.encodeTimestamp(value as string);
    }
  }
  if (table === 'db_dbauthinfo') row['enabled'] = storage.dialect.decodeBool(row['enabled']) ? 1 : 0;
  return row as ArchiveRow;
}

/**
 * The rows of `table` whose `column` is one of `values`, in the archive's encoding, read in chunks of `chunkSize`
 * (a bounded `IN` list, as aiida-core's `filter_size`).
 */
export async function* selectProfileRows(
  storage: StorageBackend,
  table: ArchiveTable,
  column: string,
  values: readonly number[],
  chunkSize: number,
  columns: readonly string[] = ARCHIVE_COLUMNS[table],
): AsyncIterable<ArchiveRow[]> {
  const list = selectList(storage, table, columns);
  for (let start = 0; start < values.length; start += chunkSize) {
    const chunk = values.slice(start, start + chunkSize);
    const result = await sql<Record<string, unknown>>`SELECT ${list} FROM ${sql.table(table)} WHERE ${sql.ref(
      column,
    )} IN (${sql.join(chunk)}) ORDER BY ${sql.ref(columns[0] ?? 'id')}`.execute(storage.executor());
    yield result.rows.map((row) => toArchiveEncoding(storage, table, row));
  }
}

/** Every row of `table`, in the archive's encoding, in pages of `pageSize` ordered by id. */
export async function* selectAllProfileRows(
  storage: StorageBackend,
  table: ArchiveTable,
  pageSize: number,
  columns: readonly string[] = ARCHIVE_COLUMNS[table],
): AsyncIterable<ArchiveRow[]> {
  const list = selectList(storage, table, columns);
  for (let after = -1; ;) {
    const result = await sql<Record<string, unknown>>`SELECT ${list} FROM ${sql.table(
      table,
    )} WHERE id > ${after} ORDER BY id LIMIT ${pageSize}`.execute(storage.executor());
    if (result.rows.length > 0) yield result.rows.map((row) => toArchiveEncoding(storage, table, row));
    if (result.rows.length < pageSize) return;
    after = Number(result.rows[result.rows.length - 1]!['id']);
  }
}

/** The ids of every row of `table`, ascending. */
export async function allIds(storage: StorageBackend, table: ArchiveTable): Promise<number[]> {
  const result = await sql<{ id: number }>`SELECT id FROM ${sql.table(table)} ORDER BY id`.execute(
    storage.executor(),
  );
  return result.rows.map((row) => Number(row.id));
}

/** Distinct values of `select` over the rows of `table` whose `column` is one of `values`, chunked. */
export async function relatedIds(
  storage: StorageBackend,
  table: ArchiveTable,
  select: string,
  column: string,
  values: readonly number[],
  chunkSize: number,
): Promise<Set<number>> {
  const out = new Set<number>();
  for (let start = 0; start < values.length; start += chunkSize) {
    const chunk = values.slice(start, start + chunkSize);
    const result = await sql<{ v: number | null }>`SELECT DISTINCT ${sql.ref(select)} AS v FROM ${sql.table(
      table,
    )} WHERE ${sql.ref(column)} IN (${sql.join(chunk)})`.execute(storage.executor());
    for (const row of result.rows) if (row.v !== null) out.add(Number(row.v));
  }
  return out;
}
