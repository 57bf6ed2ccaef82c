import { badParameter } from './http-error.js';

/**
 * aiida-core's REST query-string syntax: `key<op>value` fields joined by `&`, where op is one of `=`, `!=`, `>`,
 * `<`, `>=`, `<=`, `=like=`, `=ilike=`, `=in=`, `=notin=`, strings are double-quoted (`""` for a quote), and
 * integers, floats, `true`/`false` and ISO dates (`2019-04-23T05:45+03:45`) are bare.
 */

/** A value of a filter field. */
export type FilterValue = string | number | boolean | Date | FilterValue[];

/** One `key<op>value` field of the query string. */
export interface FilterField {
  readonly key: string;
  readonly operator: FilterOperatorToken;
  readonly value: FilterValue;
}

/** The operators of a filter field. */
export type FilterOperatorToken =
  '=like=' | '=ilike=' | '=notin=' | '=in=' | '>=' | '<=' | '!=' | '=' | '>' | '<';

/** The keys that take one plain value and are not filters, as aiida-core's "unique filters". */
export const UNIQUE_KEYS = [
  'limit',
  'offset',
  'perpage',
  'orderby',
  'attributes',
  'attributes_filter',
  'extras',
  'extras_filter',
  'full_type',
  'download_format',
  'download',
  'filename',
  'tree_in_limit',
  'tree_out_limit',
  'token',
] as const;
export type UniqueKey = (typeof UNIQUE_KEYS)[number];

/** The parsed query string. */
export interface ParsedQuery {
  readonly unique: Partial<Record<UniqueKey, FilterValue>>;
  readonly filters: FilterField[];
}

const FIELD = /^([A-Za-z_][A-Za-z0-9_.]*)(=like=|=ilike=|=notin=|=in=|>=|<=|!=|=|>|<)(.*)$/s;
const DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?([+-]\d{2}(?::?\d{2})?|Z)?)?$/;

/** Longest query string accepted: a query that long is an accident or an attack. */
const MAX_QUERY_LENGTH = 8_192;
const MAX_LIST_LENGTH = 1_000;

function parseDate(text: string): Date | undefined {
  const match = DATE.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '0', zone = 'Z'] = match;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${frac.padEnd(3, '0').slice(0, 3)}${zone === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`}`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Splits a comma-separated list, keeping commas inside double-quoted strings. */
function splitList(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

/** One scalar value: a quoted string, a boolean, a number or a date; anything else names `key`. */
export function parseScalar(key: string, text: string): string | number | boolean | Date {
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    const inner = text.slice(1, -1);
    // a lone quote inside must be doubled, as aiida-core asks
    if (inner.replaceAll('""', '').includes('"'))
      throw badParameter(key, `unescaped double quote in ${text} (write "" for a quote)`);
    return inner.replaceAll('""', '"');
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^[-+]?\d+$/.test(text)) {
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw badParameter(key, `${text} is out of range`);
    return value;
  }
  if (/^[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  const date = parseDate(text);
  if (date !== undefined) return date;
  throw badParameter(
    key,
    `\`${text}\` is not a quoted string, a number, true/false or a date (YYYY-MM-DDTHH:MM:SS+HH:MM)`,
  );
}

function decode(part: string): string {
  try {
    // aiida-core's examples put a bare `%` (a LIKE wildcard) in URLs: a `%` that starts no escape stands for itself
    return decodeURIComponent(part.replaceAll('+', '%2B').replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
  } catch (error) {
    throw badParameter('query string', `\`${part}\` is not valid percent-encoding`, error);
  }
}

/** Parses a raw (still percent-encoded) query string in aiida-core's syntax. */
export function parseQueryString(raw: string): ParsedQuery {
  if (raw.length > MAX_QUERY_LENGTH)
    throw badParameter('query string', `longer than ${MAX_QUERY_LENGTH} characters`);
  const unique: Partial<Record<UniqueKey, FilterValue>> = {};
  const filters: FilterField[] = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const field = decode(part);
    const match = FIELD.exec(field);
    if (match === null) throw badParameter(field, 'not of the form key<operator>value');
    const [, key = '', operator = '=', valueText = ''] = match;
    // no storage keeps a NUL in text (PostgreSQL refuses it): refused here, the same on every backend
    if (valueText.includes('\u0000')) throw badParameter(key, 'a NUL character is not allowed');
    if ((UNIQUE_KEYS as readonly string[]).includes(key)) {
      const uniqueKey = key as UniqueKey;
      if (operator !== '=') throw badParameter(key, `takes only the operator \`=\`, got \`${operator}\``);
      if (unique[uniqueKey] !== undefined) throw badParameter(key, 'given more than once');
      unique[uniqueKey] = valueText;
      continue;
    }
    const op = operator as FilterOperatorToken;
    if (op === '=in=' || op === '=notin=') {
      const items = splitList(valueText);
      if (items.length > MAX_LIST_LENGTH)
        throw badParameter(key, `a list of more than ${MAX_LIST_LENGTH} values`);
      filters.push({ key, operator: op, value: items.map((item) => parseScalar(key, item)) });
    } else {
      const value = parseScalar(key, valueText);
      if ((op === '=like=' || op === '=ilike=') && typeof value !== 'string')
        throw badParameter(key, `${op} takes a quoted string`);
      filters.push({ key, operator: op, value });
    }
  }
  return { unique, filters };
}

/** A non-negative integer unique key (`limit`, `offset`, `perpage`), or undefined when not given. */
export function integerKey(
  query: ParsedQuery,
  key: 'limit' | 'offset' | 'perpage' | 'tree_in_limit' | 'tree_out_limit',
  bounds: { min: number; max: number },
): number | undefined {
  const text = query.unique[key];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d+$/.test(text))
    throw badParameter(key, `\`${String(text)}\` is not a non-negative integer`);
  const value = Number(text);
  if (value < bounds.min || value > bounds.max)
    throw badParameter(key, `${value} is not between ${bounds.min} and ${bounds.max}`);
  return value;
}

/** A `true`/`false` unique key. */
export function booleanKey(
  query: ParsedQuery,
  key: 'attributes' | 'extras' | 'download',
): boolean | undefined {
  const text = query.unique[key];
  if (text === undefined) return undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw badParameter(key, `\`${String(text)}\` is not true or false`);
}

/** A quoted or bare string unique key (`filename="a.txt"` or `filename=a.txt`). */
export function stringKey(query: ParsedQuery, key: UniqueKey): string | undefined {
  const text = query.unique[key];
  if (text === undefined) return undefined;
  if (typeof text !== 'string') throw badParameter(key, 'must be a string');
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"'))
    return text.slice(1, -1).replaceAll('""', '"');
  return text;
}

/** A comma-separated list key (`attributes_filter=a,b`). */
export function listKey(
  query: ParsedQuery,
  key: 'attributes_filter' | 'extras_filter',
): string[] | undefined {
  const text = stringKey(query, key);
  if (text === undefined) return undefined;
  const items = text.split(',').map((item) => item.trim().replace(/^"(.*)"$/, '$1'));
  for (const item of items)
    if (!/^[A-Za-z0-9_.-]+$/.test(item)) throw badParameter(key, `\`${item}\` is not a key name`);
  return items;
}
