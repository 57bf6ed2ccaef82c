import { QueryBuilder } from '../../querybuilder/query-builder.js';
import { normaliseUuidPrefix } from '../../orm/loaders.js';
import { badParameter, HttpRequestError, HttpStatus } from '../http-error.js';
import type { WebContext } from '../context.js';

const UUID_PREFIX = /^[0-9a-f-]{4,36}$/i;

/**
 * The pk of the one entity `identifier` names: a pk (digits), else a uuid or a uuid prefix of at least 4 characters,
 * as the path segment of aiida-core's REST API. No match: 404; several: 400 (an ambiguous prefix).
 */
export async function resolveIdentifier(
  context: WebContext,
  entityType: string,
  identifier: string,
  baseFilters: Record<string, unknown> = {},
  what = 'node',
): Promise<number> {
  const query = (filters: Record<string, unknown>): QueryBuilder =>
    new QueryBuilder({ backend: context.storage })
      .append(entityType, { tag: 'e', filters: { ...baseFilters, ...filters }, project: ['id'] })
      .limit(2);
  if (/^\d{1,15}$/.test(identifier)) {
    const rows = await query({ id: Number(identifier) }).all({ flat: true });
    const [pk] = rows;
    if (typeof pk === 'number') return pk;
  }
  if (!UUID_PREFIX.test(identifier) && entityType !== 'user') {
    if (/^\d+$/.test(identifier)) throw notFound(what, identifier);
    throw badParameter('id', `\`${identifier}\` is neither a pk nor a uuid (or a prefix of one)`);
  }
  if (entityType === 'user') throw notFound(what, identifier);
  const rows = await query({ uuid: { like: `${normaliseUuidPrefix(identifier)}%` } }).all({ flat: true });
  if (rows.length === 0) throw notFound(what, identifier);
  if (rows.length > 1)
    throw badParameter('id', `the uuid prefix \`${identifier}\` names more than one ${what}`);
  const [pk] = rows;
  if (typeof pk !== 'number') throw notFound(what, identifier);
  return pk;
}

function notFound(what: string, identifier: string): HttpRequestError {
  return new HttpRequestError(HttpStatus.NOT_FOUND, `no ${what} with pk or uuid \`${identifier}\``, 'id');
}
