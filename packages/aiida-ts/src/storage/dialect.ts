import { CorruptStorageError, ValidationError } from '../errors.js';
import { sql, type Expression, type RawBuilder } from 'kysely';

/** The SQL dialects a profile's database can speak. */
export const DialectName = { SQLITE: 'sqlite', POSTGRES: 'postgres' } as const;
export type DialectName = (typeof DialectName)[keyof typeof DialectName];

/** A path into a JSON value: object keys and array indices, e.g. `['array|matrix', 0]`. */
export type JsonPath = readonly (string | number)[];

/** aiida-core's names for the type of a JSON value (PostgreSQL's `jsonb_typeof`). */
export type JsonTypeName = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

/**
 * Everything that differs between SQLite and PostgreSQL, for the storage layer and the QueryBuilder: how JSON,
 * timestamps and booleans are encoded, how to reach into a JSON column, and how to track visited nodes in a
 * recursive CTE. Each helper returns a Kysely expression usable in `select`, `where` and `orderBy`.
 *
 * Semantics shared by both dialects (the storage contract suite, test/storage/backend-contract.ts, holds both to
 * them):
 * - a missing JSON path gives SQL NULL (never an error), JSON `null` gives the JSON null (`jsonTypeOf` = 'null');
 * - `jsonExtractText` gives strings unquoted and other scalars as their JSON text (`true`, `1.5`);
 * - `jsonExtractNumber` gives NULL unless the value is a JSON number; `jsonExtractBoolean` likewise for booleans;
 * - `jsonContains` and `jsonHasKey` give NULL when the path is missing, as PostgreSQL's `@>` and `?` (and so
 *   aiida-core and the QueryBuilder's `contains`/`has_key`) do: neither they nor their `NOT` match a row without
 *   the key. `jsonEquals` gives false there (never NULL), so its `NOT` does match such a row.
 */
export interface SqlDialect {
  readonly name: DialectName;
  /** JSON text to bind for a JSON column. Rejects what JSON cannot hold (use the ORM's cleaning first). */
  encodeJson(value: unknown): string;
  /** The JS value of a JSON column as the driver returned it (SQL NULL gives `null`). */
  decodeJson(raw: unknown): unknown;
  /** The text to bind for a timestamp column, from a Date or an ISO 8601 string (microseconds kept). */
  encodeTimestamp(value: Date | string): string;
  /** The canonical ISO form `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` of a timestamp column's raw value. */
  decodeTimestamp(raw: unknown): string;
  encodeBool(value: boolean): boolean | number;
  decodeBool(raw: unknown): boolean;
  /** A number from what `COUNT(*)` or an integer aggregate returned (PostgreSQL returns bigints as strings). */
  decodeInteger(raw: unknown): number;

  /** The JSON value at `path` (JSON/JSONB), or NULL when missing. */
  jsonExtract(json: Expression<unknown>, path: JsonPath): RawBuilder<unknown>;
  /** The value at `path` as text (strings unquoted), or NULL when missing or JSON null. */
  jsonExtractText(json: Expression<unknown>, path: JsonPath): RawBuilder<string | null>;
  /** The value at `path` as a double, or NULL unless it is a JSON number. */
  jsonExtractNumber(json: Expression<unknown>, path: JsonPath): RawBuilder<number | null>;
  /** The value at `path` as a boolean (0/1 on SQLite), or NULL unless it is a JSON boolean. */
  jsonExtractBoolean(json: Expression<unknown>, path: JsonPath): RawBuilder<boolean | number | null>;
  /** aiida's JSON type name of the value at `path` ({@link JsonTypeName}), or NULL when the path is missing. */
  jsonTypeOf(json: Expression<unknown>, path: JsonPath): RawBuilder<JsonTypeName | null>;
  /** The length of the array at `path`, or NULL when it is not an array. */
  jsonArrayLength(json: Expression<unknown>, path: JsonPath): RawBuilder<number | null>;
  /** Whether the object at `path` has `key` (false when the value there is not an object, NULL when missing). */
  jsonHasKey(json: Expression<unknown>, path: JsonPath, key: string): RawBuilder<boolean | number | null>;
  /**
   * Whether the value at `path` contains `value` as PostgreSQL's `@>` defines it (sub-object / sub-array, a scalar
   * in a top-level array); NULL when the path is missing.
   */
  jsonContains(
    json: Expression<unknown>,
    path: JsonPath,
    value: unknown,
  ): RawBuilder<boolean | number | null>;
  /** Whether the JSON value at `path` equals `value` (compared as JSON, so `1` ≠ `"1"`); false when missing. */
  jsonEquals(json: Expression<unknown>, path: JsonPath, value: unknown): RawBuilder<boolean | number>;

  /** A uuid column as text (PostgreSQL `uuid` → `text`), for `LIKE 'prefix%'`. */
  uuidText(column: Expression<unknown>): RawBuilder<string>;
  /** Case-insensitive LIKE (`ILIKE` on PostgreSQL; SQLite's LIKE is case sensitive in aiida profiles). */
  ilike(value: Expression<unknown>, pattern: string): RawBuilder<boolean | number>;

  /** The visited-set value of a recursive CTE's anchor row holding just `id`. */
  pathInit(id: Expression<unknown>): RawBuilder<unknown>;
  /** `path` extended by `id`, for the recursive step. */
  pathAppend(path: Expression<unknown>, id: Expression<unknown>): RawBuilder<unknown>;
  /** Whether `id` is not yet in `path` (the recursive step's cycle guard). */
  pathExcludes(path: Expression<unknown>, id: Expression<unknown>): RawBuilder<boolean | number>;
}

function checkedJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new ValidationError(`value of type ${typeof value} cannot be stored as JSON`);
  return text;
}

const timestampPattern =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Splits a timestamp into its UTC fields with microseconds. Accepts ISO 8601 (with `T` or space, any offset,
 * none meaning UTC) as both databases and aiida-core write them.
 */
export function parseTimestamp(value: Date | string): { readonly date: Date; readonly micros: number } {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new ValidationError('invalid Date');
    return { date: value, micros: value.getUTCMilliseconds() * 1000 };
  }
  const match = timestampPattern.exec(value.trim());
  if (match === null) throw new ValidationError(`not an ISO 8601 timestamp: '${value}'`);
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = match;
  const micros = Number(frac.padEnd(6, '0').slice(0, 6));
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  }
  const utc =
    Date.UTC(
      Number(y),
      Number(mo) - 1,
      Number(d),
      Number(h),
      Number(mi),
      Number(s),
      Math.floor(micros / 1000),
    ) -
    offsetMinutes * 60_000;
  return { date: new Date(utc), micros };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

function utcFields(value: Date | string): string {
  // fast path for the canonical form nodes keep their times in
  if (typeof value === 'string' && value.length === 32 && CANONICAL.test(value))
    return `${value.slice(0, 10)} ${value.slice(11, 26)}`;
  const { date, micros } = parseTimestamp(value);
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.${pad(micros, 6)}`
  );
}

let lastNowMicros = 0;
// the `YYYY-MM-DDTHH:MM:SS` of the last second formatted: timestamps come many per second
let lastSecond = -1;
let lastSecondText = '';

/**
 * The current time in the canonical form with real microseconds (aiida-core's `timezone.now()` has them; a JS
 * `Date` stops at milliseconds). Taken from the high-resolution clock, and never earlier than the last call,
 * so that two entities made one after the other keep their order.
 */
export function nowTimestamp(): string {
  // microseconds since 1970 are below 2^53 until the year 2255: plain numbers hold them exactly
  let micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  // The high-resolution clock does not follow wall-clock adjustments: keep within a second of Date.now().
  const wall = Date.now() * 1000;
  if (micros > wall + 1_000_000 || micros < wall - 1_000_000) micros = wall;
  if (micros <= lastNowMicros) micros = lastNowMicros + 1;
  lastNowMicros = micros;
  const second = Math.floor(micros / 1_000_000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastSecondText = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return `${lastSecondText}.${pad(micros - second * 1_000_000, 6)}+00:00`;
}

// SQLite's stored form (aiida-core's naive UTC with microseconds) of a time the Date parser takes as it is: a year from
// 1000 (Date.UTC reads years below 100 as 19xx) and a day of the month every month has (no rolling over)
const SQLITE_STORED =
  /^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}$/;

/** The canonical form of a timestamp: `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (UTC, microseconds). */
export function canonicalTimestamp(value: Date | string): string {
  // what SQLite profiles hold, read with every node: the same digits, without parsing them into a Date and back
  if (typeof value === 'string' && value.length === 26 && SQLITE_STORED.test(value))
    return `${value.slice(0, 10)}T${value.slice(11)}+00:00`;
  if (value instanceof Date) {
    // toISOString is UTC with milliseconds: `…T05:48:30.463Z` → `…T05:48:30.463000+00:00`
    const iso = value.toISOString();
    if (iso.length === 24) return `${iso.slice(0, 23)}000+00:00`;
  }
  return `${utcFields(value).replace(' ', 'T')}+00:00`;
}

/** SQLite's JSON path syntax: `$."key"[0]`, every key quoted so `|`, `.` and spaces are safe. */
export function sqliteJsonPath(path: JsonPath): string {
  let out = '$';
  for (const part of path) {
    if (typeof part === 'number') {
      if (!Number.isInteger(part) || part < 0) throw new ValidationError(`invalid JSON array index ${part}`);
      out += `[${part}]`;
    } else {
      out += `."${part.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
    }
  }
  return out;
}

function pgPath(path: JsonPath): string[] {
  return path.map(String);
}

function decodeInteger(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'string' && /^-?\d+$/.test(raw)) return Number(raw);
  throw new CorruptStorageError(`not an integer from the database: ${String(raw)}`);
}

/** The dialect of SQLite databases (better-sqlite3). */
export const sqliteDialect: SqlDialect = {
  name: DialectName.SQLITE,
  encodeJson: checkedJsonText,
  decodeJson(raw) {
    if (raw === null || raw === undefined) return null;
    // most nodes' extras and repository metadata: a tenth of the parser's cost, read with every node
    if (raw === '{}') return {};
    if (typeof raw === 'string') return JSON.parse(raw) as unknown;
    if (Buffer.isBuffer(raw)) return JSON.parse(raw.toString('utf8')) as unknown;
    return raw;
  },
  encodeTimestamp: utcFields,
  decodeTimestamp(raw) {
    if (typeof raw !== 'string') throw new CorruptStorageError(`not a timestamp from SQLite: ${String(raw)}`);
    return canonicalTimestamp(raw);
  },
  encodeBool: (value) => (value ? 1 : 0),
  decodeBool: (raw) => raw === true || raw === 1 || raw === '1' || raw === 1n,
  decodeInteger,
  jsonExtract: (json, path) => sql`(${json} -> ${sqliteJsonPath(path)})`,
  jsonExtractText: (json, path) =>
    sql<
      string | null
    >`(case json_type(${json}, ${sqliteJsonPath(path)}) when 'null' then null when 'text' then (${json} ->> ${sqliteJsonPath(path)}) else (${json} -> ${sqliteJsonPath(path)}) end)`,
  jsonExtractNumber: (json, path) =>
    sql<
      number | null
    >`(case when json_type(${json}, ${sqliteJsonPath(path)}) in ('integer', 'real') then cast(${json} ->> ${sqliteJsonPath(path)} as real) end)`,
  jsonExtractBoolean: (json, path) =>
    sql<
      number | null
    >`(case json_type(${json}, ${sqliteJsonPath(path)}) when 'true' then 1 when 'false' then 0 end)`,
  jsonTypeOf: (json, path) =>
    sql<JsonTypeName | null>`(case json_type(${json}, ${sqliteJsonPath(path)}) when 'text' then 'string' when 'integer' then 'number' when 'real' then 'number' when 'true' then 'boolean' when 'false' then 'boolean' else json_type(${json}, ${sqliteJsonPath(path)}) end)`,
  jsonArrayLength: (json, path) =>
    sql<
      number | null
    >`(case when json_type(${json}, ${sqliteJsonPath(path)}) = 'array' then json_array_length(${json}, ${sqliteJsonPath(path)}) end)`,
  // `json_type` of a missing path is NULL, so `= 'object'` is NULL there and `case` keeps it NULL
  jsonHasKey: (json, path, key) =>
    sql<
      number | null
    >`(case json_type(${json}, ${sqliteJsonPath(path)}) = 'object' when 1 then json_type(${json}, ${sqliteJsonPath([...path, key])}) is not null when 0 then 0 end)`,
  // json_contains is registered on every connection by the SQLite backends (see sqlite/functions.ts); it returns
  // NULL for a NULL argument, i.e. a missing path, as `@>` does
  jsonContains: (json, path, value) =>
    sql<number | null>`json_contains((${json} -> ${sqliteJsonPath(path)}), ${checkedJsonText(value)})`,
  jsonEquals: (json, path, value) =>
    sql<number>`coalesce(json_equals((${json} -> ${sqliteJsonPath(path)}), ${checkedJsonText(value)}), 0)`,
  uuidText: (column) => sql<string>`${column}`,
  ilike: (value, pattern) => sql<number>`(lower(${value}) like lower(${pattern}) escape '\\')`,
  pathInit: (id) => sql`(',' || ${id} || ',')`,
  pathAppend: (path, id) => sql`(${path} || ${id} || ',')`,
  pathExcludes: (path, id) => sql<number>`(instr(${path}, ',' || ${id} || ',') = 0)`,
};

/** The dialect of PostgreSQL databases (pg). */
export const postgresDialect: SqlDialect = {
  name: DialectName.POSTGRES,
  encodeJson: checkedJsonText,
  decodeJson(raw) {
    if (raw === undefined) return null;
    // the pg driver parses json/jsonb itself; a string here is a JSON string value
    return raw;
  },
  encodeTimestamp: (value) => `${utcFields(value)}+00`,
  decodeTimestamp(raw) {
    if (raw instanceof Date) return canonicalTimestamp(raw);
    if (typeof raw !== 'string')
      throw new CorruptStorageError(`not a timestamp from PostgreSQL: ${String(raw)}`);
    return canonicalTimestamp(raw);
  },
  encodeBool: (value) => value,
  decodeBool: (raw) => raw === true || raw === 't' || raw === 1,
  decodeInteger,
  jsonExtract: (json, path) => sql`(${json} #> ${pgPath(path)}::text[])`,
  jsonExtractText: (json, path) => sql<string | null>`(${json} #>> ${pgPath(path)}::text[])`,
  jsonExtractNumber: (json, path) =>
    sql<
      number | null
    >`(case when jsonb_typeof(${json} #> ${pgPath(path)}::text[]) = 'number' then (${json} #>> ${pgPath(path)}::text[])::double precision end)`,
  jsonExtractBoolean: (json, path) =>
    sql<
      boolean | null
    >`(case when jsonb_typeof(${json} #> ${pgPath(path)}::text[]) = 'boolean' then (${json} #>> ${pgPath(path)}::text[])::boolean end)`,
  jsonTypeOf: (json, path) => sql<JsonTypeName | null>`jsonb_typeof(${json} #> ${pgPath(path)}::text[])`,
  jsonArrayLength: (json, path) =>
    sql<
      number | null
    >`(case when jsonb_typeof(${json} #> ${pgPath(path)}::text[]) = 'array' then jsonb_array_length(${json} #> ${pgPath(path)}::text[]) end)`,
  // `?` alone would also find `key` among the strings of an array; the type check keeps it to objects
  jsonHasKey: (json, path, key) =>
    sql<
      boolean | null
    >`(case jsonb_typeof(${json} #> ${pgPath(path)}::text[]) = 'object' when true then jsonb_exists(${json} #> ${pgPath(path)}::text[], ${key}) when false then false end)`,
  jsonContains: (json, path, value) =>
    sql<boolean | null>`((${json} #> ${pgPath(path)}::text[]) @> ${checkedJsonText(value)}::jsonb)`,
  jsonEquals: (json, path, value) =>
    sql<boolean>`coalesce((${json} #> ${pgPath(path)}::text[]) = ${checkedJsonText(value)}::jsonb, false)`,
  uuidText: (column) => sql<string>`(${column})::text`,
  ilike: (value, pattern) => sql<boolean>`(${value} ilike ${pattern})`,
  pathInit: (id) => sql`array[${id}]::integer[]`,
  pathAppend: (path, id) => sql`(${path} || ${id})`,
  pathExcludes: (path, id) => sql<boolean>`(${id} <> all(${path}))`,
};

/** The dialect object for a dialect name. */
export function getDialect(name: DialectName): SqlDialect {
  return name === DialectName.SQLITE ? sqliteDialect : postgresDialect;
}
