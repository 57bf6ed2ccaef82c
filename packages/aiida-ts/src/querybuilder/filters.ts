import { QueryError } from '../errors.js';
import { describeColumns, resolveColumn, type ColumnKind, type TableModel } from './entities.js';
import type { FilterSpec } from './query-dict.js';

/**
 * The filter operators, with aiida-core's spelling. Any of them can be negated with a `!` prefix (`!==`, `!in`);
 * aiida's older `~` prefix is accepted too. `=>`/`=<` are aiida's aliases of `>=`/`<=`.
 */
export const FILTER_OPERATORS = [
  '==',
  '>',
  '<',
  '>=',
  '<=',
  'like',
  'ilike',
  'in',
  'contains',
  'has_key',
  'of_length',
  'longer',
  'shorter',
  'of_type',
  'and',
  'or',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** The operators that only make sense on JSON values (attributes, extras, metadata, …). */
export const JSON_ONLY_OPERATORS: readonly FilterOperator[] = [
  'contains',
  'has_key',
  'of_length',
  'longer',
  'shorter',
  'of_type',
];

/** The JSON type names `of_type` accepts (PostgreSQL's `jsonb_typeof`). */
export const JSON_TYPE_NAMES = ['object', 'array', 'string', 'number', 'boolean', 'null'] as const;
export type JsonTypeName = (typeof JSON_TYPE_NAMES)[number];

/** The logical keys a filter specification may hold next to field names. */
const LOGICAL_KEYS: Readonly<Record<string, { readonly op: 'and' | 'or'; readonly negated: boolean }>> = {
  and: { op: 'and', negated: false },
  or: { op: 'or', negated: false },
  '!and': { op: 'and', negated: true },
  '!or': { op: 'or', negated: true },
  '~and': { op: 'and', negated: true },
  '~or': { op: 'or', negated: true },
};

/** A comparison on one field: the operand is a column, or a value inside a JSON column. */
export interface FieldCondition {
  readonly kind: 'condition';
  /** The column name (aliases resolved). */
  readonly column: string;
  readonly columnKind: ColumnKind;
  /** The keys into the JSON column; empty for the column itself. */
  readonly jsonPath: readonly string[];
  readonly operator: Exclude<FilterOperator, 'and' | 'or'>;
  readonly negated: boolean;
  readonly value: unknown;
}

/** `and`/`or` of sub-filters, possibly negated. */
export interface LogicalFilter {
  readonly kind: 'and' | 'or';
  readonly negated: boolean;
  readonly children: readonly FilterNode[];
}

/** A parsed and checked filter, ready for SQL compilation. */
export type FilterNode = FieldCondition | LogicalFilter;

/** True for a plain object (an operator dictionary), false for arrays, Dates, null and scalars. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date)
    return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Splits `!==` into `==` and a negation flag; rejects unknown operators, listing the valid ones. */
export function parseOperator(raw: string, where: string): { operator: FilterOperator; negated: boolean } {
  let name = raw;
  let negated = false;
  if (name.startsWith('!') || name.startsWith('~')) {
    negated = true;
    name = name.slice(1);
  }
  if (name === '=>') name = '>=';
  if (name === '=<') name = '<=';
  if (!(FILTER_OPERATORS as readonly string[]).includes(name)) {
    throw new QueryError(
      `Unknown filter operator '${raw}' ${where}. Valid operators: ${FILTER_OPERATORS.join(', ')} ` +
        `(negate any with a '!' prefix, e.g. '!==', '!in')`,
    );
  }
  return { operator: name as FilterOperator, negated };
}

/** Describes a value for error messages without dumping huge objects. */
export function describeValue(value: unknown): string {
  if (value instanceof Date) return `Date ${Number.isNaN(value.getTime()) ? 'Invalid' : value.toISOString()}`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The JSON kinds of a value, as the type-aware JSON comparisons see it. */
export type JsonValueKind = 'number' | 'string' | 'boolean' | 'null' | 'array' | 'object';

/** The JSON kind of `value`, or `undefined` when JSON cannot hold it (functions, Dates, NaN, …). */
export function jsonKind(value: unknown): JsonValueKind | undefined {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? 'number' : undefined;
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (Array.isArray(value)) return value.every((v) => jsonKind(v) !== undefined) ? 'array' : undefined;
  if (isPlainObject(value))
    return Object.values(value).every((v) => jsonKind(v) !== undefined) ? 'object' : undefined;
  return undefined;
}

function fail(field: string, message: string): never {
  throw new QueryError(`Invalid filter on '${field}': ${message}`);
}

function checkScalarForColumn(field: string, kind: ColumnKind, operator: string, value: unknown): void {
  const ok =
    (kind === 'integer' && typeof value === 'number' && Number.isFinite(value)) ||
    ((kind === 'text' || kind === 'uuid') && typeof value === 'string') ||
    (kind === 'boolean' && typeof value === 'boolean') ||
    (kind === 'timestamp' && (value instanceof Date || typeof value === 'string'));
  if (!ok) {
    const expected = {
      integer: 'a number',
      text: 'a string',
      uuid: 'a uuid string',
      boolean: 'a boolean',
      timestamp: 'a Date or an ISO 8601 string',
      json: 'a JSON value',
      idpath: 'nothing',
    }[kind];
    fail(field, `operator '${operator}' expects ${expected}, got ${describeValue(value)}`);
  }
  if (value instanceof Date && Number.isNaN(value.getTime())) fail(field, 'the Date is invalid');
}

function checkColumnCondition(field: string, kind: ColumnKind, operator: string, value: unknown): void {
  if (kind === 'idpath') fail(field, "the recursive 'path' can be projected but not filtered on");
  switch (operator) {
    case '==':
      if (value !== null) checkScalarForColumn(field, kind, operator, value);
      return;
    case '>':
    case '<':
    case '>=':
    case '<=':
      checkScalarForColumn(field, kind, operator, value);
      return;
    case 'like':
    case 'ilike':
      if (typeof value !== 'string')
        fail(field, `operator '${operator}' expects a string pattern, got ${describeValue(value)}`);
      return;
    case 'in':
      if (!Array.isArray(value)) fail(field, `operator 'in' expects a list, got ${describeValue(value)}`);
      if (value.length === 0) fail(field, "operator 'in' got an empty list");
      for (const item of value) checkScalarForColumn(field, kind, operator, item);
      return;
    default:
      fail(
        field,
        `operator '${operator}' only applies to JSON values (attributes, extras, …); ` +
          `on a column use one of ==, >, <, >=, <=, like, ilike, in`,
      );
  }
}

function checkJsonCondition(field: string, operator: string, value: unknown): void {
  const kind = jsonKind(value);
  switch (operator) {
    case '==':
      if (kind === undefined) fail(field, `operator '==' expects a JSON value, got ${describeValue(value)}`);
      return;
    case '>':
    case '<':
    case '>=':
    case '<=':
      if (kind !== 'number' && kind !== 'string' && kind !== 'boolean') {
        fail(
          field,
          `operator '${operator}' on a JSON value expects a number, string or boolean, got ${describeValue(value)}`,
        );
      }
      return;
    case 'like':
    case 'ilike':
      if (kind !== 'string')
        fail(field, `operator '${operator}' expects a string pattern, got ${describeValue(value)}`);
      return;
    case 'in': {
      if (!Array.isArray(value)) fail(field, `operator 'in' expects a list, got ${describeValue(value)}`);
      if (value.length === 0) fail(field, "operator 'in' got an empty list");
      const kinds = new Set(value.map(jsonKind));
      const [only] = kinds;
      if (kinds.size > 1 || (only !== 'number' && only !== 'string' && only !== 'boolean')) {
        fail(
          field,
          `operator 'in' on a JSON value expects a list of numbers, strings or booleans (one type), got ${describeValue(value)}`,
        );
      }
      return;
    }
    case 'contains':
      if (kind === undefined)
        fail(field, `operator 'contains' expects a JSON value, got ${describeValue(value)}`);
      return;
    case 'has_key':
      if (typeof value !== 'string')
        fail(field, `operator 'has_key' expects a string key, got ${describeValue(value)}`);
      return;
    case 'of_length':
    case 'longer':
    case 'shorter':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        fail(field, `operator '${operator}' expects a non-negative integer, got ${describeValue(value)}`);
      }
      return;
    case 'of_type':
      if (!(JSON_TYPE_NAMES as readonly unknown[]).includes(value)) {
        fail(
          field,
          `operator 'of_type' expects one of ${JSON_TYPE_NAMES.join(', ')}, got ${describeValue(value)}`,
        );
      }
      return;
  }
}

function parseFieldOperators(
  model: TableModel,
  field: string,
  column: string,
  columnKind: ColumnKind,
  jsonPath: readonly string[],
  spec: unknown,
): FilterNode[] {
  const operators: Record<string, unknown> = isPlainObject(spec) ? spec : { '==': spec };
  const nodes: FilterNode[] = [];
  for (const [rawOperator, value] of Object.entries(operators)) {
    const { operator, negated } = parseOperator(rawOperator, `on '${field}'`);
    if (operator === 'and' || operator === 'or') {
      if (!Array.isArray(value)) fail(field, `'${rawOperator}' expects a list of operator dictionaries`);
      const children = value.map((item) => {
        if (!isPlainObject(item))
          fail(field, `'${rawOperator}' expects a list of operator dictionaries, got ${describeValue(item)}`);
        return {
          kind: 'and',
          negated: false,
          children: parseFieldOperators(model, field, column, columnKind, jsonPath, item),
        } as const;
      });
      nodes.push({ kind: operator, negated, children });
      continue;
    }
    if (columnKind === 'json') checkJsonCondition(field, operator, value);
    else checkColumnCondition(field, columnKind, operator, value);
    nodes.push({ kind: 'condition', column, columnKind, jsonPath, operator, negated, value });
  }
  return nodes;
}

/**
 * Parses a filter specification against the table it applies to, checking every field, operator and value.
 * Throws {@link QueryError} naming the first problem (an unknown field lists the valid ones).
 */
export function parseFilterSpec(model: TableModel, spec: FilterSpec, what: string): FilterNode {
  if (!isPlainObject(spec))
    throw new QueryError(`Filters for ${what} must be a dictionary, got ${describeValue(spec)}`);
  const children: FilterNode[] = [];
  for (const [key, value] of Object.entries(spec)) {
    const logical = LOGICAL_KEYS[key];
    if (logical !== undefined) {
      if (!Array.isArray(value))
        throw new QueryError(`Filter '${key}' of ${what} expects a list of filter dictionaries`);
      children.push({
        kind: logical.op,
        negated: logical.negated,
        children: value.map((item) => {
          if (!isPlainObject(item)) {
            throw new QueryError(
              `Filter '${key}' of ${what} expects a list of filter dictionaries, got ${describeValue(item)}`,
            );
          }
          return parseFilterSpec(model, item, what);
        }),
      });
      continue;
    }
    const [first = '', ...jsonPath] = key.split('.');
    const column = resolveColumn(model, first);
    if (column === undefined) {
      throw new QueryError(
        `Unknown field '${first}' in filters of ${what}. Valid fields: ${describeColumns(model)}`,
      );
    }
    const columnKind = model.columns[column]!;
    if (jsonPath.length > 0 && columnKind !== 'json') {
      throw new QueryError(
        `Field '${first}' of ${what} is not a JSON column, so '${key}' cannot reach into it`,
      );
    }
    if (jsonPath.some((part) => part === ''))
      throw new QueryError(`Empty key in the JSON path '${key}' of ${what}`);
    children.push(...parseFieldOperators(model, key, column, columnKind, jsonPath, value));
  }
  return { kind: 'and', negated: false, children };
}
