import { sql, type Expression, type SelectQueryBuilder } from 'kysely';
import { sqliteJsonPath, type SqlDialect } from '../../storage/dialect.js';
import type { WebContext } from '../context.js';
import {
  NODE_PROJECTION as NODE_COLUMNS,
  PROCESS_ATTRIBUTES,
  type ResourceDefinition,
} from './definitions.js';
import { fullTypeOf } from './filters.js';

/**
 * The rows of nodes the API shows (the node columns, `full_type` and, for processes, the process attributes), read
 * with one Kysely statement per call instead of through the QueryBuilder. The routes that send hundreds or thousands
 * of rows (a page of the process list, the graph around a node) spend most of their time decoding and reshaping:
 * the QueryBuilder decodes each row into `{tag: {field: value}}` with Date objects, which the API then renames and
 * serialises back to strings. Here each database row becomes the API's row in one pass, with times as the ISO
 * strings the API sends. Which rows to read is still decided by the QueryBuilder (the filters of the request).
 */

/** One row of a list: the projected fields by their API names (as listing.ts's `Row`). */
type Row = Record<string, unknown>;

/** A node as the database gives it, with the process attributes pulled out of the JSON column. */
type RawNodeRow = Record<string, unknown>;

/** `2026-12-07 02:49:46.123456` (SQLite's naive UTC) → `2026-12-07T02:49:46.123Z`, as `Date#toJSON` writes it. */
const SQLITE_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?$/;

/** A timestamp column as the ISO string the API sends (milliseconds, `Z`), the same text a Date would give. */
export function isoTime(dialect: SqlDialect, raw: unknown): string | null {
  if (raw === null || raw === undefined) return null;
  if (raw instanceof Date) return raw.toISOString();
  if (typeof raw === 'string') {
    const match = SQLITE_TIME.exec(raw);
    if (match !== null) return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
  }
  return new Date(dialect.decodeTimestamp(raw)).toISOString();
}

/** Which attributes a row shows, under which keys (`process_state` for `attributes.process_state`), on which nodes. */
export interface NodeRowShape {
  readonly attributes: readonly { readonly name: string; readonly key: string }[];
  /** `processes`: only process nodes show them (the graph, `/nodes/<id>`); `all`: every row, null when missing. */
  readonly attributesOn: 'all' | 'processes';
}

/** The shape of the graph's rows: a process shows its state, a data node only its node columns. */
export const GRAPH_ROW: NodeRowShape = {
  attributes: PROCESS_ATTRIBUTES.map((name) => ({ name, key: name })),
  attributesOn: 'processes',
};

/**
 * The shape of a node resource's rows when its projection is node columns and single attributes (the QueryBuilder
 * layout of `processes`, `calcjobs`, `codes`, `nodes`); null for anything else (`attributes=true`, other entities).
 */
export function rowShapeOf(definition: ResourceDefinition, project: readonly string[]): NodeRowShape | null {
  if (definition.entityType !== '') return null;
  const attributes: { name: string; key: string }[] = [];
  for (const [index, field] of project.entries()) {
    if (index < NODE_COLUMNS.length) {
      if (field !== NODE_COLUMNS[index]) return null;
    } else if (field.startsWith('attributes.') && !field.slice('attributes.'.length).includes('.')) {
      // the resource's own fields are named without the prefix, those a request adds keep it (as shapeRow does)
      const name = field.slice('attributes.'.length);
      attributes.push({ name, key: definition.projection.includes(field) ? name : field });
    } else return null;
  }
  return project.length < NODE_COLUMNS.length ? null : { attributes, attributesOn: 'all' };
}

function selectNodes<DB, TB extends keyof DB & string, O>(
  dialect: SqlDialect,
  shape: NodeRowShape,
  query: SelectQueryBuilder<DB, TB, O>,
  table: string,
): SelectQueryBuilder<DB, TB, O & RawNodeRow> {
  const column = (name: string): Expression<unknown> => sql.ref(`${table}.${name}`);
  const columns = NODE_COLUMNS.map((name) => sql<unknown>`${column(name)}`.as(name));
  if (dialect.name === 'sqlite' && shape.attributes.length > 1) {
    // SQLite: all the attributes in one call, as one JSON array (a missing key gives null, as `->` does), which is
    // parsed once per row: a page of 200 processes makes 200 calls and parses instead of 1,200 of each
    const paths = shape.attributes.map(({ name }) => sqliteJsonPath([name]));
    return query.select([
      ...columns,
      sql<unknown>`json_extract(${column('attributes')}, ${sql.join(paths)})`.as(ATTRIBUTE_ARRAY),
    ]);
  }
  return query.select([
    ...columns,
    ...shape.attributes.map(({ name }, index) =>
      dialect.jsonExtract(column('attributes'), [name]).as(`a${index}`),
    ),
  ]);
}

/** The column of a raw row that holds the attributes as one JSON array (SQLite, more than one attribute). */
const ATTRIBUTE_ARRAY = 'attribute_values';

/** The API's row of a raw node row: the node columns, the attributes of `shape`, then `full_type`. */
function apiRow(dialect: SqlDialect, shape: NodeRowShape, raw: RawNodeRow): Row {
  const nodeType = String(raw['node_type']);
  const processType = raw['process_type'] === undefined ? null : (raw['process_type'] as string | null);
  const row: Row = {
    id: dialect.decodeInteger(raw['id']),
    uuid: String(raw['uuid']),
    node_type: nodeType,
    process_type: processType,
    label: raw['label'],
    description: raw['description'],
    ctime: isoTime(dialect, raw['ctime']),
    mtime: isoTime(dialect, raw['mtime']),
    user_id: dialect.decodeInteger(raw['user_id']),
    dbcomputer_id: raw['dbcomputer_id'] === null ? null : dialect.decodeInteger(raw['dbcomputer_id']),
  };
  if (shape.attributesOn === 'all' || nodeType.startsWith('process.')) {
    const values = ATTRIBUTE_ARRAY in raw ? dialect.decodeJson(raw[ATTRIBUTE_ARRAY]) : null;
    for (const [index, { key }] of shape.attributes.entries())
      row[key] = Array.isArray(values) ? (values[index] as unknown) : dialect.decodeJson(raw[`a${index}`]);
  }
  row['full_type'] = fullTypeOf(nodeType, processType);
  return row;
}

/** The rows of the nodes `pks`, in the order of `pks` (a pk with no node is left out). */
export async function nodeRowsByPk(
  context: WebContext,
  shape: NodeRowShape,
  pks: readonly number[],
): Promise<Row[]> {
  if (pks.length === 0) return [];
  const { dialect } = context.storage;
  const raw = await selectNodes(
    dialect,
    shape,
    context.storage
      .executor()
      .selectFrom('db_dbnode as n')
      .where('n.id', 'in', [...pks]),
    'n',
  ).execute();
  const byPk = new Map(raw.map((row) => [dialect.decodeInteger(row['id']), row]));
  const rows: Row[] = [];
  for (const pk of pks) {
    const found = byPk.get(pk);
    if (found !== undefined) rows.push(apiRow(dialect, shape, found));
  }
  return rows;
}

/** A node linked to another, with the link's label and type. */
export interface LinkedRow {
  readonly row: Row;
  readonly label: string;
  readonly type: string;
}

/**
 * The nodes linked into (`incoming`) or out of (`outgoing`) node `pk`, by pk, at most `limit` of them, and whether
 * there are more (one row past the limit is read to tell, so a neighbourhood that fits needs no count).
 */
export async function linkedRows(
  context: WebContext,
  pk: number,
  direction: 'incoming' | 'outgoing',
  limit: number,
): Promise<{ rows: LinkedRow[]; more: boolean }> {
  const { dialect } = context.storage;
  const [here, there] =
    direction === 'incoming' ? (['output_id', 'input_id'] as const) : (['input_id', 'output_id'] as const);
  const raw = await selectNodes(
    dialect,
    GRAPH_ROW,
    context.storage
      .executor()
      .selectFrom('db_dblink as l')
      .innerJoin('db_dbnode as n', 'n.id', `l.${there}`)
      .where(`l.${here}`, '=', pk)
      .select(['l.label as link_label', 'l.type as link_type'])
      .orderBy('n.id')
      .orderBy('l.id')
      .limit(limit + 1),
    'n',
  ).execute();
  const more = raw.length > limit;
  return {
    rows: raw.slice(0, limit).map((row) => ({
      row: apiRow(dialect, GRAPH_ROW, row),
      label: String(row.link_label),
      type: String(row.link_type),
    })),
    more,
  };
}

/** The number of links into or out of node `pk`. */
export async function linkCount(
  context: WebContext,
  pk: number,
  direction: 'incoming' | 'outgoing',
): Promise<number> {
  const row = await context.storage
    .executor()
    .selectFrom('db_dblink')
    .where(direction === 'incoming' ? 'output_id' : 'input_id', '=', pk)
    .select(sql<number>`count(*)`.as('count'))
    .executeTakeFirst();
  return context.storage.dialect.decodeInteger(row?.count ?? 0);
}
