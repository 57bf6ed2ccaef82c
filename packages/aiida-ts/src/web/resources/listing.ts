import { QueryBuilder, type QueryDictRow } from '../../querybuilder/query-builder.js';
import type { WebContext } from '../context.js';
import { badParameter } from '../http-error.js';
import { booleanKey, integerKey, listKey, type ParsedQuery } from '../query-string.js';
import { RESOURCES, rowKey, type ResourceDefinition } from './definitions.js';
import { fullTypeOf, translateFilters, translateOrderBy } from './filters.js';
import { nodeRowsByPk, rowShapeOf } from './node-rows.js';
import { pageIds } from './page-ids.js';

/** Rows of a page when `perpage` is not given, and the most a page or `limit` may hold (aiida-core's). */
export const DEFAULT_PERPAGE = 20;
export const MAX_PERPAGE = 400;

/** One row of a list: the projected fields by their API names. */
export type Row = Record<string, unknown>;

/** A page of a list and where it sits in the whole. */
export interface Listing {
  readonly rows: Row[];
  readonly total: number;
  /** Set when the request asked for a page (`/page/N`). */
  readonly page: { readonly number: number; readonly perpage: number; readonly last: number } | null;
}

/** Extra filters and projections a route adds (the links of one node, say). */
export interface ListingExtras {
  /** Builds the query's first vertices before the listed one; the listed vertex gets tag `e`. */
  readonly prefix?: (qb: QueryBuilder) => QueryBuilder;
  readonly appendOptions?: Record<string, unknown>;
  readonly edgeProject?: readonly string[];
}

/** Turns a QueryBuilder row of the listed vertex into the API's row. */
export function shapeRow(definition: ResourceDefinition, values: Record<string, unknown>): Row {
  const row: Row = {};
  for (const [key, value] of Object.entries(values))
    row[definition.projection.includes(key) ? rowKey(key) : key] = value;
  if ('node_type' in row && typeof row['node_type'] === 'string')
    row['full_type'] = fullTypeOf(
      row['node_type'],
      typeof row['process_type'] === 'string' ? row['process_type'] : null,
    );
  return row;
}

/** Lists a resource as aiida-core's REST API: filters, `orderby`, `limit`/`offset` or `/page/N` with `perpage`. */
export async function listResource(
  context: WebContext,
  definition: ResourceDefinition,
  query: ParsedQuery,
  pageNumber: number | null,
  extras: ListingExtras = {},
): Promise<Listing> {
  const limit = integerKey(query, 'limit', { min: 0, max: MAX_PERPAGE });
  const offset = integerKey(query, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER });
  const perpage = integerKey(query, 'perpage', { min: 1, max: MAX_PERPAGE });
  if (pageNumber !== null && (limit !== undefined || offset !== undefined))
    throw badParameter('limit', 'pagination (/page/N) and limit/offset cannot be used together');
  if (pageNumber === null && perpage !== undefined)
    throw badParameter('perpage', 'only with pagination (/page/N)');
  const filters = { ...definition.baseFilters, ...translateFilters(query, definition.fields) };
  const project = [...definition.projection];
  if (definition.entityType === '') {
    const attributeKeys = listKey(query, 'attributes_filter');
    if (booleanKey(query, 'attributes') === true)
      project.push(
        ...(attributeKeys === undefined ? ['attributes'] : attributeKeys.map((key) => `attributes.${key}`)),
      );
    const extraKeys = listKey(query, 'extras_filter');
    if (booleanKey(query, 'extras') === true)
      project.push(...(extraKeys === undefined ? ['extras'] : extraKeys.map((key) => `extras.${key}`)));
  }
  const order = translateOrderBy(query, definition.fields, definition.defaultOrder);
  const build = (): QueryBuilder => {
    const qb =
      extras.prefix?.(new QueryBuilder({ backend: context.storage })) ??
      new QueryBuilder({ backend: context.storage });
    return qb.append(definition.entityType, {
      tag: 'e',
      filters,
      project,
      ...extras.appendOptions,
      ...(extras.edgeProject === undefined ? {} : { edgeProject: [...extras.edgeProject], edgeTag: 'edge' }),
    });
  };
  const total = await build().count();
  const qb = build().orderBy({ e: order });
  let page: Listing['page'] = null;
  if (pageNumber !== null) {
    const size = perpage ?? DEFAULT_PERPAGE;
    const last = Math.max(1, Math.ceil(total / size));
    if (pageNumber < 1 || pageNumber > last)
      throw badParameter('page', `page ${pageNumber} does not exist (pages 1 to ${last})`);
    qb.limit(size).offset((pageNumber - 1) * size);
    page = { number: pageNumber, perpage: size, last };
  } else {
    qb.limit(limit ?? MAX_PERPAGE);
    if (offset !== undefined) qb.offset(offset);
  }
  if (extras.prefix === undefined) {
    const shape = rowShapeOf(definition, project);
    if (shape !== null) {
      // the rows of a page of nodes straight into the API's layout (see node-rows.ts)
      const pks = await pageIds(context, definition, qb, total);
      return { rows: await nodeRowsByPk(context, shape, pks), total, page };
    }
  }
  const results =
    extras.prefix === undefined
      ? await pageInTwoSteps(context, definition, qb, project, total)
      : await qb.dict();
  const rows = results.map((result) => {
    const row = shapeRow(definition, result['e'] ?? {});
    const edge = result['edge'];
    if (edge !== undefined) {
      row['link_label'] = edge['label'];
      row['link_type'] = edge['type'];
    }
    return row;
  });
  return { rows, total, page };
}

/**
 * Runs a page of a plain list in two queries: the ids of the page (ordered, limited: an index covers it), then the
 * projected fields of just those rows. One query ordering wide rows makes the database sort every matching row with
 * its JSON (a 10,000-process list sorted by id: 30 ms on SQLite, against a few for the two queries).
 */
async function pageInTwoSteps(
  context: WebContext,
  definition: ResourceDefinition,
  qb: QueryBuilder,
  project: readonly string[],
  total: number,
): Promise<QueryDictRow[]> {
  const pks = await pageIds(context, definition, qb, total);
  if (pks.length === 0) return [];
  const rows = await new QueryBuilder({ backend: context.storage })
    .append(definition.entityType, { tag: 'e', filters: { id: { in: pks } }, project: [...project] })
    .dict();
  const byPk = new Map(rows.map((row) => [Number(row['e']?.['id']), row]));
  const ordered: QueryDictRow[] = [];
  for (const pk of pks) {
    const row = byPk.get(pk);
    if (row !== undefined) ordered.push(row);
  }
  return ordered;
}

/** The definition of a resource by name. */
export function resource(name: keyof typeof RESOURCES): ResourceDefinition {
  return RESOURCES[name];
}
