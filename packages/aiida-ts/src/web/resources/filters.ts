import type { FilterSpec } from '../../querybuilder/query-dict.js';
import { badParameter } from '../http-error.js';
import type { FilterField, FilterValue, ParsedQuery } from '../query-string.js';

/** The value type of a filterable field, which decides the operators it takes (aiida-core's table). */
export type FieldType = 'integer' | 'string' | 'datetime' | 'boolean' | 'float';

/** A field a resource can be filtered and ordered by, and the QueryBuilder path it maps to. */
export interface FieldSpec {
  readonly type: FieldType;
  /** The QueryBuilder field (`id`, `attributes.process_state`). */
  readonly path: string;
}

const OPERATOR_TO_QB: Record<FilterField['operator'], string> = {
  '=': '==',
  '!=': '!==',
  '>': '>',
  '<': '<',
  '>=': '>=',
  '<=': '<=',
  '=like=': 'like',
  '=ilike=': 'ilike',
  '=in=': 'in',
  '=notin=': '!in',
};

function checkType(key: string, type: FieldType, value: FilterValue): FilterValue {
  if (Array.isArray(value)) return value.map((item) => checkType(key, type, item));
  const ok =
    (type === 'integer' && typeof value === 'number' && Number.isInteger(value)) ||
    (type === 'float' && typeof value === 'number') ||
    (type === 'string' && typeof value === 'string') ||
    (type === 'boolean' && typeof value === 'boolean') ||
    (type === 'datetime' && value instanceof Date);
  if (!ok) {
    const shown = value instanceof Date ? value.toISOString() : JSON.stringify(value);
    throw badParameter(
      key,
      `expects ${type === 'string' ? 'a double-quoted string' : `a ${type}`}, got ${shown}`,
    );
  }
  return value;
}

/** aiida-core's `full_type` (`<node_type>|<process_type>`, `%` wildcards) as QueryBuilder filters. */
export function fullTypeFilters(text: string): FilterSpec {
  const value = text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
  const bar = value.indexOf('|');
  if (bar < 0) throw badParameter('full_type', `\`${value}\` is not of the form <node_type>|<process_type>`);
  const nodeType = value.slice(0, bar);
  const processType = value.slice(bar + 1);
  const filters: Record<string, unknown> = {};
  filters['node_type'] = nodeType.includes('%') ? { like: nodeType } : { '==': nodeType };
  if (processType === '') filters['process_type'] = { or: [{ '==': null }, { '==': '' }] };
  else if (processType !== '%')
    filters['process_type'] = processType.includes('%') ? { like: processType } : { '==': processType };
  return filters;
}

/** The `full_type` of a node row: `node_type|process_type`. */
export function fullTypeOf(nodeType: string, processType: string | null): string {
  return `${nodeType}|${processType ?? ''}`;
}

/** The filters of the query string as QueryBuilder filters on the fields `fields` allows; others are a 400. */
export function translateFilters(
  query: ParsedQuery,
  fields: Readonly<Record<string, FieldSpec>>,
): FilterSpec {
  const clauses: Record<string, unknown>[] = [];
  for (const field of query.filters) {
    const spec = fields[field.key];
    if (spec === undefined)
      throw badParameter(
        field.key,
        `unknown filter; this resource filters on ${Object.keys(fields).sort().join(', ')}`,
      );
    const op = OPERATOR_TO_QB[field.operator];
    const value = checkType(field.key, spec.type, field.value);
    if (spec.type === 'boolean' && op !== '==' && op !== '!==')
      throw badParameter(field.key, 'a boolean takes only = and !=');
    clauses.push({ [spec.path]: { [op]: value } });
  }
  const fullType = query.unique.full_type;
  if (typeof fullType === 'string') clauses.push(fullTypeFilters(fullType));
  if (clauses.length === 0) return {};
  if (clauses.length === 1) return clauses[0] ?? {};
  return { and: clauses };
}

/** `orderby=+id,-ctime` as QueryBuilder ordering; a field the resource does not have is a 400. */
export function translateOrderBy(
  query: ParsedQuery,
  fields: Readonly<Record<string, FieldSpec>>,
  fallback: Record<string, 'asc' | 'desc'>[],
): Record<string, 'asc' | 'desc'>[] {
  const text = query.unique.orderby;
  if (text === undefined) return fallback;
  if (typeof text !== 'string' || text === '') throw badParameter('orderby', 'empty');
  return text.split(',').map((item) => {
    const direction = item.startsWith('-') ? 'desc' : 'asc';
    const name = item.replace(/^[+-]/, '');
    const spec = fields[name];
    if (spec === undefined)
      throw badParameter(
        'orderby',
        `\`${name}\` is not a field of this resource (${Object.keys(fields).sort().join(', ')})`,
      );
    return { [spec.path]: direction };
  });
}
