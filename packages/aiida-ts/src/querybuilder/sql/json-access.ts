import { sql, type Expression, type RawBuilder } from 'kysely';
import { sqliteJsonPath } from '../../storage/dialect.js';
import { isPlainObject, jsonKind, type JsonTypeName } from '../filters.js';
import { asciiLower, checkLikePattern, likeToGlob } from './like-pattern.js';

/** A comparison operator between a JSON scalar and a value of the same kind. */
export type CompareOperator = '==' | '>' | '<' | '>=' | '<=';

/** The casts aiida allows when projecting or ordering by a JSON value. */
export type JsonCast = 'f' | 'i' | 't' | 'b' | 'j' | 'd';

/** A value inside a JSON column: the column expression and the keys leading to the value. */
export interface JsonRef {
  readonly doc: Expression<unknown>;
  readonly keys: readonly string[];
}

/**
 * The type-aware JSON operations of the QueryBuilder, one implementation per dialect, both giving the same rows:
 * - a comparison only holds between values of the same JSON type (`1` matches `1` and `1.0`, never `"1"` or
 *   `true`), and yields false (never NULL) otherwise, so its negation holds for a missing key (as aiida-core);
 * - `contains` follows PostgreSQL's `@>` (sub-object, sub-array, an array contains a scalar at the top level);
 *   `contains` and `has_key` yield NULL for a missing key, so neither they nor their negation match it;
 * - `of_type: 'null'` matches both an explicit JSON null and a missing key.
 * Every key and value is a bound parameter; nothing from the caller becomes SQL text.
 */
export interface JsonAccess {
  compare(ref: JsonRef, operator: CompareOperator, value: number | string | boolean): RawBuilder<unknown>;
  /** Equality with any JSON value (`null`, arrays and objects compared structurally). */
  equals(ref: JsonRef, value: unknown): RawBuilder<unknown>;
  like(ref: JsonRef, pattern: string, caseInsensitive: boolean): RawBuilder<unknown>;
  in(ref: JsonRef, values: readonly (number | string | boolean)[]): RawBuilder<unknown>;
  contains(ref: JsonRef, value: unknown): RawBuilder<unknown>;
  hasKey(ref: JsonRef, key: string): RawBuilder<unknown>;
  arrayLength(ref: JsonRef, operator: '==' | '>' | '<', length: number): RawBuilder<unknown>;
  ofType(ref: JsonRef, type: JsonTypeName): RawBuilder<unknown>;
  /** The JSON value itself, for projection (decode with {@link decodeJsonValue}). */
  value(ref: JsonRef): RawBuilder<unknown>;
  /** The value under an aiida cast, for projection and ordering. */
  cast(ref: JsonRef, cast: JsonCast, forOrdering: boolean): RawBuilder<unknown>;
  /** How to turn what {@link value} returned into a JS value. */
  decodeJsonValue(raw: unknown): unknown;
  /**
   * Several values of one document in one expression: a JSON array of them (null for a missing one), or NULL or an
   * array of nulls when the document is NULL (decoded by the reader of `jsonItem` projections). SQLite's `json_extract` with several paths reads the document once
   * instead of once per value; PostgreSQL's driver decodes one value a row instead of one per projected value.
   */
  values(doc: Expression<unknown>, paths: readonly (readonly string[])[]): RawBuilder<unknown>;
}

// ---- PostgreSQL ---------------------------------------------------------------------------------------------

// one plain key (the common `attributes.value`) uses `->`/`->>`, a little cheaper than a path; keys PostgreSQL
// would read as array indices keep `#>`, which also indexes arrays
const singleKey = (ref: JsonRef): string | undefined =>
  ref.keys.length === 1 && pgArrayIndex(ref.keys[0]!) === undefined ? ref.keys[0] : undefined;
const pgRef = (ref: JsonRef): RawBuilder<unknown> => {
  if (ref.keys.length === 0) return sql`${ref.doc}`;
  const key = singleKey(ref);
  return key === undefined
    ? sql`(${ref.doc} #> ${[...ref.keys]}::text[])`
    : sql`(${ref.doc} -> ${key}::text)`;
};
const pgText = (ref: JsonRef): RawBuilder<unknown> => {
  const key = singleKey(ref);
  return key === undefined
    ? sql`(${ref.doc} #>> ${[...ref.keys]}::text[])`
    : sql`(${ref.doc} ->> ${key}::text)`;
};
const pgTypeOf = (ref: JsonRef): RawBuilder<unknown> => sql`jsonb_typeof(${pgRef(ref)})`;

const pgOps: Record<CompareOperator, RawBuilder<unknown>> = {
  '==': sql`=`,
  '>': sql`>`,
  '<': sql`<`,
  '>=': sql`>=`,
  '<=': sql`<=`,
};

function pgTyped(ref: JsonRef, kind: 'number' | 'string' | 'boolean'): RawBuilder<unknown> {
  if (kind === 'number')
    return sql`(case when ${pgTypeOf(ref)} = 'number' then ${pgText(ref)}::double precision end)`;
  if (kind === 'boolean')
    return sql`(case when ${pgTypeOf(ref)} = 'boolean' then ${pgText(ref)}::boolean end)`;
  // codepoint order, as SQLite's BINARY collation
  return sql`(case when ${pgTypeOf(ref)} = 'string' then ${pgText(ref)} end) collate "C"`;
}

function pgParam(value: number | string | boolean): RawBuilder<unknown> {
  if (typeof value === 'number') return sql`${value}::double precision`;
  if (typeof value === 'boolean') return sql`${value}::boolean`;
  return sql`${value}::text`;
}

/** JSON access on PostgreSQL's JSONB columns. */
export const postgresJson: JsonAccess = {
  compare(ref, operator, value) {
    const kind = typeof value as 'number' | 'string' | 'boolean';
    return sql`coalesce(${pgTyped(ref, kind)} ${pgOps[operator]} ${pgParam(value)}, false)`;
  },
  equals(ref, value) {
    const kind = jsonKind(value);
    if (kind === 'number' || kind === 'string' || kind === 'boolean') {
      return postgresJson.compare(ref, '==', value as number | string | boolean);
    }
    if (kind === 'null') return sql`coalesce(${pgTypeOf(ref)} = 'null', false)`;
    return sql`coalesce(${pgRef(ref)} = ${JSON.stringify(value)}::jsonb, false)`;
  },
  like(ref, pattern, caseInsensitive) {
    checkLikePattern(pattern);
    const text = sql`(case when ${pgTypeOf(ref)} = 'string' then ${pgText(ref)} end)`;
    return caseInsensitive
      ? sql`coalesce(${text} ilike ${pattern}::text, false)`
      : sql`coalesce(${text} like ${pattern}::text, false)`;
  },
  in(ref, values) {
    const kind = typeof values[0] as 'number' | 'string' | 'boolean';
    const arrayType = { number: sql`double precision[]`, string: sql`text[]`, boolean: sql`boolean[]` }[kind];
    return sql`coalesce(${pgTyped(ref, kind)} = any(${[...values]}::${arrayType}), false)`;
  },
  contains(ref, value) {
    return sql`(${pgRef(ref)} @> ${JSON.stringify(value)}::jsonb)`;
  },
  hasKey(ref, key) {
    return sql`(case when ${pgRef(ref)} is null then null when ${pgTypeOf(ref)} = 'object' then jsonb_exists(${pgRef(ref)}, ${key}::text) else false end)`;
  },
  arrayLength(ref, operator, length) {
    return sql`(case when ${pgTypeOf(ref)} = 'array' then jsonb_array_length(${pgRef(ref)}) ${pgOps[operator]} ${length}::integer else false end)`;
  },
  ofType(ref, type) {
    if (type === 'null') return sql`(${pgTypeOf(ref)} = 'null' or ${pgRef(ref)} is null)`;
    return sql`(${pgTypeOf(ref)} = ${type}::text)`;
  },
  value: pgRef,
  values(doc, paths) {
    // one JSONB array a row instead of a column a value: the driver decodes one value instead of a dozen (listing
    // 60 processes of 11 attributes, read raw: 282 instead of 404 µs of the client's CPU). A function takes at
    // most 100 arguments: longer lists are arrays of 100 joined with `||`.
    const arrays: RawBuilder<unknown>[] = [];
    for (let start = 0; start < paths.length; start += 100)
      arrays.push(
        sql`jsonb_build_array(${sql.join(paths.slice(start, start + 100).map((keys) => pgRef({ doc, keys })))})`,
      );
    return sql`(${sql.join(arrays, sql` || `)})`;
  },
  cast(ref, cast, forOrdering) {
    switch (cast) {
      case 'f':
        return pgTyped(ref, 'number');
      case 'i':
        return sql`(case when ${pgTypeOf(ref)} = 'number' then trunc(${pgText(ref)}::numeric) end)`;
      case 'b':
        return pgTyped(ref, 'boolean');
      case 'j':
        return pgRef(ref);
      case 't':
      case 'd':
        return forOrdering ? sql`${pgText(ref)} collate "C"` : pgText(ref);
    }
  },
  decodeJsonValue: (raw) => (raw === undefined ? null : raw),
};

// ---- SQLite -------------------------------------------------------------------------------------------------

/** The JSON path of `ref` as an SQL text expression (a bound parameter, or a CASE for numeric keys). */
function sqlitePath(ref: JsonRef): RawBuilder<unknown> {
  let literal = '$';
  let expr: RawBuilder<unknown> | undefined;
  for (const key of ref.keys) {
    const index = pgArrayIndex(key);
    if (index !== undefined) {
      // PostgreSQL's `#>` reads such a key as an index into an array and as a key of an object; SQLite's paths
      // need to say which, so look at the container's type first
      const prefix = expr ?? sql`${literal}`;
      const step = index < 0 ? `[#${index}]` : `[${index}]`;
      expr = sql`(case when json_type(${ref.doc}, ${prefix}) = 'array' then ${prefix} || ${step} else ${prefix} || ${sqliteJsonPath([key]).slice(1)} end)`;
    } else {
      const segment = sqliteJsonPath([key]).slice(1);
      if (expr === undefined) literal += segment;
      else expr = sql`(${expr} || ${segment})`;
    }
  }
  return expr ?? sql`${literal}`;
}

/**
 * The array index PostgreSQL reads from a path element (C `strtol`: leading white space, a sign, digits, a
 * 32-bit value; negative counts from the end), or `undefined` when it reads none.
 */
export function pgArrayIndex(key: string): number | undefined {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(key)) return undefined;
  const value = Number.parseInt(key.trim(), 10);
  return value >= -(2 ** 31) && value < 2 ** 31 ? value : undefined;
}

/**
 * `JSON.parse` of the JSON text SQLite's `->` returns, with the scalars most projections hold (numbers, strings
 * without escapes, true/false/null) read without the parser: projecting thousands of values parses thousands.
 */
export function parseJsonText(text: string): unknown {
  const first = text.charCodeAt(0);
  if (first === 34 /* " */ && text.indexOf('\\') < 0 && text.indexOf('"', 1) === text.length - 1)
    return text.slice(1, -1);
  // a JSON number: `-` or a digit first (SQLite writes valid JSON; Number reads it as JSON.parse does)
  if ((first >= 48 && first <= 57) || first === 45) {
    const value = Number(text);
    if (!Number.isNaN(value)) return value;
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  return JSON.parse(text) as unknown;
}

/** A position inside a JSON document of SQLite: the document and a path expression. */
interface SqlitePos {
  readonly doc: Expression<unknown>;
  readonly path: RawBuilder<unknown>;
}

const sqlitePos = (ref: JsonRef): SqlitePos => ({ doc: ref.doc, path: sqlitePath(ref) });
const sType = (p: SqlitePos): RawBuilder<unknown> => sql`json_type(${p.doc}, ${p.path})`;
const sExtract = (p: SqlitePos): RawBuilder<unknown> => sql`json_extract(${p.doc}, ${p.path})`;
const sChild = (p: SqlitePos, key: string): SqlitePos => ({
  doc: p.doc,
  path: sql`(${p.path} || ${sqliteJsonPath([key]).slice(1)})`,
});
const sIndex = (p: SqlitePos, index: number): SqlitePos => ({
  doc: p.doc,
  path: sql`(${p.path} || ${`[${index}]`})`,
});

function sTyped(p: SqlitePos, kind: 'number' | 'string' | 'boolean'): RawBuilder<unknown> {
  if (kind === 'number') return sql`(case when ${sType(p)} in ('integer', 'real') then ${sExtract(p)} end)`;
  if (kind === 'boolean') return sql`(case ${sType(p)} when 'true' then 1 when 'false' then 0 end)`;
  return sql`(case when ${sType(p)} = 'text' then ${sExtract(p)} end)`;
}

const sqliteOps = pgOps;

function sBind(value: number | string | boolean): number | string {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** Hands out the table aliases of `json_each` sub-queries, unique within one compiled statement. */
export type AliasAllocator = (prefix: string) => string;

/** Structural JSON equality, expanded at compile time against the known value (no SQL functions needed). */
function sEquals(p: SqlitePos, value: unknown, alias: AliasAllocator): RawBuilder<unknown> {
  if (value === null) return sql`(${sType(p)} = 'null')`;
  if (typeof value === 'boolean') return sql`(${sType(p)} = ${value ? 'true' : 'false'})`;
  // `type and value` (not a CASE): false, never NULL, when the type differs, so a containing OR/NOT decides
  if (typeof value === 'number')
    return sql`(${sType(p)} in ('integer', 'real') and ${sExtract(p)} = ${value})`;
  if (typeof value === 'string') return sql`(${sType(p)} = 'text' and ${sExtract(p)} = ${value})`;
  if (Array.isArray(value)) {
    const parts = [sql`${sType(p)} = 'array'`, sql`json_array_length(${p.doc}, ${p.path}) = ${value.length}`];
    value.forEach((item, index) => parts.push(sEquals(sIndex(p, index), item, alias)));
    return sql`(${sql.join(parts, sql` and `)})`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const je = sql.id(alias('je'));
  const parts = [
    sql`${sType(p)} = 'object'`,
    sql`(select count(*) from json_each(${p.doc}, ${p.path}) as ${je}) = ${entries.length}`,
  ];
  for (const [key, item] of entries) parts.push(sEquals(sChild(p, key), item, alias));
  return sql`(${sql.join(parts, sql` and `)})`;
}

/** PostgreSQL's `@>` for a known right-hand side, expanded into SQL over `json_each`. */
function sContains(
  p: SqlitePos,
  value: unknown,
  topLevel: boolean,
  alias: AliasAllocator,
): RawBuilder<unknown> {
  if (Array.isArray(value)) {
    const parts = [sql`${sType(p)} = 'array'`];
    for (const item of value) {
      const je = sql.id(alias('je'));
      const element: SqlitePos = { doc: p.doc, path: sql`${je}.fullkey` };
      const inner =
        Array.isArray(item) || isPlainObject(item)
          ? sContains(element, item, false, alias)
          : sEquals(element, item, alias);
      parts.push(sql`exists (select 1 from json_each(${p.doc}, ${p.path}) as ${je} where ${inner})`);
    }
    return sql`(${sql.join(parts, sql` and `)})`;
  }
  if (isPlainObject(value)) {
    const parts = [sql`${sType(p)} = 'object'`];
    for (const [key, item] of Object.entries(value)) {
      const child = sChild(p, key);
      parts.push(sql`${sType(child)} is not null`);
      parts.push(
        Array.isArray(item) || isPlainObject(item)
          ? sContains(child, item, false, alias)
          : sEquals(child, item, alias),
      );
    }
    return sql`(${sql.join(parts, sql` and `)})`;
  }
  if (!topLevel) return sEquals(p, value, alias);
  // at the top level an array contains a scalar that is one of its elements
  const je = sql.id(alias('je'));
  const element: SqlitePos = { doc: p.doc, path: sql`${je}.fullkey` };
  return sql`(${sEquals(p, value, alias)} or (${sType(p)} = 'array' and exists (select 1 from json_each(${p.doc}, ${p.path}) as ${je} where ${sEquals(element, value, alias)})))`;
}

const SQLITE_TYPES: Readonly<Record<Exclude<JsonTypeName, 'null'>, readonly string[]>> = {
  object: ['object'],
  array: ['array'],
  string: ['text'],
  number: ['integer', 'real'],
  boolean: ['true', 'false'],
};

/**
 * JSON access on SQLite's JSON text columns (json1 functions only: no function has to be registered on the
 * connection). `alias` names the `json_each` sub-queries of one statement.
 */
export function createSqliteJson(alias: AliasAllocator): JsonAccess {
  return {
    compare(ref, operator, value) {
      const p = sqlitePos(ref);
      return sql`coalesce(${sTyped(p, typeof value as 'number' | 'string' | 'boolean')} ${sqliteOps[operator]} ${sBind(value)}, false)`;
    },
    equals(ref, value) {
      return sql`coalesce(${sEquals(sqlitePos(ref), value, alias)}, false)`;
    },
    like(ref, pattern, caseInsensitive) {
      const text = sTyped(sqlitePos(ref), 'string');
      return caseInsensitive
        ? sql`coalesce(lower(${text}) glob ${asciiLower(likeToGlob(pattern))}, false)`
        : sql`coalesce(${text} glob ${likeToGlob(pattern)}, false)`;
    },
    in(ref, values) {
      const kind = typeof values[0] as 'number' | 'string' | 'boolean';
      const list = JSON.stringify(values.map(sBind));
      return sql`coalesce(${sTyped(sqlitePos(ref), kind)} in (select value from json_each(${list})), false)`;
    },
    contains(ref, value) {
      const p = sqlitePos(ref);
      return sql`(case when ${sType(p)} is null then null else ${sContains(p, value, true, alias)} end)`;
    },
    hasKey(ref, key) {
      const p = sqlitePos(ref);
      return sql`(case when ${sType(p)} is null then null when ${sType(p)} = 'object' then ${sType(sChild(p, key))} is not null else false end)`;
    },
    arrayLength(ref, operator, length) {
      const p = sqlitePos(ref);
      return sql`(case when ${sType(p)} = 'array' then json_array_length(${p.doc}, ${p.path}) ${sqliteOps[operator]} ${length} else false end)`;
    },
    ofType(ref, type) {
      const p = sqlitePos(ref);
      if (type === 'null') return sql`(${sType(p)} = 'null' or ${sType(p)} is null)`;
      const names = SQLITE_TYPES[type];
      return sql`(${sType(p)} in (${sql.join(names.map((n) => sql`${n}`))}))`;
    },
    value(ref) {
      const p = sqlitePos(ref);
      return sql`(${p.doc} -> ${p.path})`;
    },
    values(doc, paths) {
      return sql`json_extract(${doc}, ${sql.join(paths.map((keys) => sqlitePath({ doc, keys })))})`;
    },
    cast(ref, cast) {
      const p = sqlitePos(ref);
      switch (cast) {
        case 'f':
          return sTyped(p, 'number');
        case 'i':
          return sql`(case when ${sType(p)} in ('integer', 'real') then cast(${sExtract(p)} as integer) end)`;
        case 'b':
          return sTyped(p, 'boolean');
        case 'j':
          return sql`(${p.doc} -> ${p.path})`;
        case 't':
        case 'd':
          return sql`(case ${sType(p)} when 'null' then null when 'text' then ${sExtract(p)} when 'true' then 'true' when 'false' then 'false' when 'integer' then cast(${sExtract(p)} as text) when 'real' then cast(${sExtract(p)} as text) else (${p.doc} -> ${p.path}) end)`;
      }
    },
    decodeJsonValue(raw) {
      if (raw === null || raw === undefined) return null;
      if (typeof raw === 'string') return parseJsonText(raw);
      if (Buffer.isBuffer(raw)) return JSON.parse(raw.toString('utf8')) as unknown;
      return raw;
    },
  };
}
