import { QueryBuilder } from '../../querybuilder/query-builder.js';
import type { WebContext } from '../context.js';
import { badParameter } from '../http-error.js';
import { MAX_PERPAGE } from './listing.js';

/** Limits on a posted query: deeper, longer or larger bodies are refused with a 400 before they reach the database. */
export const QUERY_LIMITS = { maxDepth: 12, maxPath: 10, maxKeys: 500, maxRows: MAX_PERPAGE } as const;

function checkShape(value: unknown, depth: number, counter: { keys: number }): void {
  if (depth > QUERY_LIMITS.maxDepth)
    throw badParameter('query', `nested deeper than ${QUERY_LIMITS.maxDepth} levels`);
  if (Array.isArray(value)) {
    counter.keys += value.length;
    for (const item of value) checkShape(item, depth + 1, counter);
  } else if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    counter.keys += keys.length;
    for (const key of keys) checkShape((value as Record<string, unknown>)[key], depth + 1, counter);
  }
  if (counter.keys > QUERY_LIMITS.maxKeys)
    throw badParameter('query', `more than ${QUERY_LIMITS.maxKeys} keys and items`);
}

/** A projected value as JSON: an ORM entity (from a `*` projection) becomes its identifying fields. */
function plain(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Date || Array.isArray(value))
    return value;
  const entity = value as {
    pk?: unknown;
    uuid?: unknown;
    nodeType?: unknown;
    label?: unknown;
    constructor: { name: string };
  };
  if (entity.constructor.name !== 'Object' && ('pk' in entity || 'uuid' in entity))
    return {
      id: entity.pk ?? null,
      uuid: entity.uuid ?? null,
      ...(typeof entity.nodeType === 'string' ? { node_type: entity.nodeType } : {}),
      ...(typeof entity.label === 'string' ? { label: entity.label } : {}),
      class: entity.constructor.name,
    };
  return value;
}

/**
 * Runs a query posted in aiida-core's query-dict layout (`QueryBuilder.as_dict()`: `path`, `filters`, `project`,
 * `order_by`, `limit`, `offset`) and answers, as aiida-core's `/querybuilder`, the projected rows of each tag:
 * `{tag: [{field: value}]}`. At most {@link QUERY_LIMITS.maxRows} rows; a malformed query is a 400.
 */
export async function runPostedQuery(
  context: WebContext,
  body: unknown,
): Promise<{ data: Record<string, Record<string, unknown>[]>; total: number }> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badParameter('query', 'the body must be a JSON object in the QueryBuilder dictionary layout');
  checkShape(body, 0, { keys: 0 });
  const path = (body as { path?: unknown }).path;
  if (!Array.isArray(path) || path.length === 0)
    throw badParameter('path', 'a non-empty list of vertices is required');
  if (path.length > QUERY_LIMITS.maxPath)
    throw badParameter('path', `longer than ${QUERY_LIMITS.maxPath} vertices`);
  const qb = QueryBuilder.fromDict(body, { backend: context.storage });
  const dict = qb.asDict();
  const limit = dict.limit === null ? QUERY_LIMITS.maxRows : Math.min(dict.limit, QUERY_LIMITS.maxRows);
  qb.limit(limit);
  const rows = await qb.dict();
  const data: Record<string, Record<string, unknown>[]> = {};
  for (const tag of Object.keys(dict.project)) data[tag] = [];
  for (const row of rows)
    for (const [tag, values] of Object.entries(row))
      (data[tag] ??= []).push(
        Object.fromEntries(Object.entries(values).map(([key, value]) => [key, plain(value)])),
      );
  return { data, total: rows.length };
}
