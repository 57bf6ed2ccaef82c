import { sql } from 'kysely';
import { QueryBuilder } from '../../querybuilder/query-builder.js';
import type { FilterSpec, QueryDict } from '../../querybuilder/query-dict.js';
import type { WebContext } from '../context.js';
import type { ResourceDefinition } from './definitions.js';

/**
 * The ids of the rows of one page of a list, in order: the first of the two steps in which a page is read (the ids,
 * then the rows of just those ids; see listing.ts).
 *
 * On SQLite a list of nodes ordered by id is read by walking the primary key when the rows it keeps are dense
 * enough. SQLite's planner does not choose that walk by itself: the node types' prefix (`node_type GLOB
 * 'process.*'`, the filter of every process list) is a range on `node_type`'s index, and the planner, which knows
 * the index only from statistics sampled with `analysis_limit` (no `sqlite_stat4` histogram, see sqlite-backend.ts),
 * takes that range for a small part of the table. It reads every process id from that index and sorts them all for
 * `ORDER BY id DESC LIMIT 200` (5 ms at 10,000 processes, and it grows with the profile) where walking the table
 * backwards stops after the page (0.5 ms). With a full histogram it chooses the walk, but `PRAGMA optimize`'s
 * limited ANALYZE drops the histogram again. An id range that holds for every row (`-2^53 < id < 2^53`) tells the
 * planner the primary key narrows the search: it walks it in order and stops at the limit. The rows are the same
 * (the range excludes no id the API can send); only the plan changes.
 *
 * The walk reads rows the filters drop, so it is chosen only where it reads fewer rows than the index plan sorts:
 * the page's last row is at about `(offset + limit) × ids / matches` rows from the end, against `matches` entries
 * sorted, with a factor for a table row costing more than an index entry. A rare node type (the calcjobs of a
 * profile of data, say) keeps its index; PostgreSQL, whose planner has histograms, is left to choose.
 */
export async function pageIds(
  context: WebContext,
  definition: ResourceDefinition,
  qb: QueryBuilder,
  total: number,
): Promise<number[]> {
  const ids = await pageIdsQuery(context, definition, qb, total);
  return (await ids.all({ flat: true })).map(Number);
}

/** The query {@link pageIds} runs: the ids of the page `qb` reads, with the id range where the walk pays. */
export async function pageIdsQuery(
  context: WebContext,
  definition: ResourceDefinition,
  qb: QueryBuilder,
  total: number,
): Promise<QueryBuilder> {
  const dict = qb.asDict();
  const filters = dict.filters['e'] ?? {};
  const walk = await walksPrimaryKey(context, definition, dict.order_by, dict.limit, dict.offset, total);
  return new QueryBuilder({ backend: context.storage })
    .append(definition.entityType, {
      tag: 'e',
      filters: walk ? withWholeIdRange(filters) : filters,
      project: ['id'],
    })
    .orderBy(dict.order_by)
    .limit(dict.limit)
    .offset(dict.offset);
}

/** How much more a table row read and dropped costs than an index entry read and sorted (measured, rounded up). */
const ROW_COST = 4;

/** Whether the page's ids are read walking the primary key (see {@link pageIds}). */
async function walksPrimaryKey(
  context: WebContext,
  definition: ResourceDefinition,
  orderBy: QueryDict['order_by'],
  limit: number | null,
  offset: number | null,
  total: number,
): Promise<boolean> {
  if (context.storage.dialect.name !== 'sqlite' || definition.entityType !== '' || limit === null)
    return false;
  const fields = orderBy.flatMap((entry) => Object.values(entry).flat());
  if (fields.length !== 1 || Object.keys(fields[0] ?? {}).join() !== 'id') return false;
  if (total === 0) return false;
  // the largest id stands for the table's size (one step down the primary key, where count(*) reads it all)
  const row = await context.storage
    .executor()
    .selectFrom('db_dbnode')
    .select(sql<number | null>`max(id)`.as('last'))
    .executeTakeFirst();
  const last = context.storage.dialect.decodeInteger(row?.last ?? 0);
  const walked = ((offset ?? 0) + limit) * (last / total);
  return walked * ROW_COST <= total;
}

/** `filters` and an id range that every row is in, which lets SQLite's planner walk the primary key. */
function withWholeIdRange(filters: FilterSpec): FilterSpec {
  const range = { id: { and: [{ '>': -Number.MAX_SAFE_INTEGER }, { '<': Number.MAX_SAFE_INTEGER }] } };
  return Object.keys(filters).length === 0 ? range : { and: [filters, range] };
}
