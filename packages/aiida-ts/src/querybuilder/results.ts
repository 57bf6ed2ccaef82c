import type { StorageBackend } from '../storage/backend.js';
import type { SqlDialect } from '../storage/dialect.js';
import type { ColumnKind, OrmBase } from './entities.js';
import type { ProjectionPlan, ValueDecoder } from './sql/compile.js';
import { ORM_LOADERS } from './orm-loaders.js';
import type { JsonAccess } from './sql/json-access.js';

/** The storage a QueryBuilder runs on (a profile's `StorageBackend`). */
export type QueryBackend = StorageBackend;

/**
 * Builds the object of an entity from its database row, exactly as the driver returns a row of that table
 * (`db_dbnode` columns with their raw values: JSON text on SQLite, parsed JSON on PostgreSQL, timestamps as
 * text). May return a promise.
 */
export type EntityRowLoader = (backend: QueryBackend, row: Record<string, unknown>) => unknown;

const loaders = new Map<OrmBase, EntityRowLoader>();

/**
 * Overrides how `'*'` projections of one entity kind become objects. By default they are the ORM's classes
 * (`Node` subclasses, `User`, `Computer`, `Group`, `Comment`, `Log`, `AuthInfo`); links and edges are decoded rows
 * (see {@link decodeEntityRow}). Returns a function that removes the override.
 */
export function registerEntityLoader(ormBase: OrmBase, loader: EntityRowLoader): () => void {
  loaders.set(ormBase, loader);
  return () => {
    if (loaders.get(ormBase) === loader) loaders.delete(ormBase);
  };
}

/** The loader in effect for `ormBase`: an override, else the ORM's, else none (decoded rows). */
export function getEntityLoader(ormBase: OrmBase): EntityRowLoader | undefined {
  return loaders.get(ormBase) ?? ORM_LOADERS[ormBase];
}

/**
 * The milliseconds of a timestamp as SQLite profiles store it (naive UTC, as aiida-core's TZDateTime:
 * `2024-05-01 12:00:00.123456`), read digit by digit (a Date keeps milliseconds only, as the general path does);
 * `undefined` for any other text. Listing processes reads two per row: this is several times faster than a
 * regular expression and the Date parser.
 */
export function sqliteNaiveUtcMs(raw: string): number | undefined {
  const length = raw.length;
  if (length !== 19 && (length < 21 || length > 26)) return undefined;
  if (
    raw.charCodeAt(4) !== 45 ||
    raw.charCodeAt(7) !== 45 ||
    raw.charCodeAt(10) !== 32 ||
    raw.charCodeAt(13) !== 58 ||
    raw.charCodeAt(16) !== 58 ||
    (length > 19 && raw.charCodeAt(19) !== 46)
  )
    return undefined;
  const year = digits(raw, 0, 4);
  const month = digits(raw, 5, 7);
  const day = digits(raw, 8, 10);
  const hour = digits(raw, 11, 13);
  const minute = digits(raw, 14, 16);
  const second = digits(raw, 17, 19);
  let ms = 0;
  if (length > 19) {
    const fraction = digits(raw, 20, length);
    if (Number.isNaN(fraction)) return undefined;
    const places = length - 20;
    ms = places >= 3 ? Math.floor(fraction / 10 ** (places - 3)) : fraction * 10 ** (3 - places);
  }
  // Date.UTC reads years below 100 as 19xx and rolls over out-of-range fields: leave those to the full parser
  if (
    !(year >= 100) ||
    !(month >= 1 && month <= 12) ||
    !(day >= 1 && day <= 31) ||
    !(hour <= 23) ||
    !(minute <= 59) ||
    !(second <= 59)
  )
    return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The number the decimal digits of `raw` from `from` to `to` spell, NaN at a non-digit (no closure per timestamp). */
function digits(raw: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = raw.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return value;
}

function decodeDate(dialect: SqlDialect, raw: unknown): Date | null {
  if (raw === null || raw === undefined) return null;
  // the common case read straight into a Date; anything else goes through the dialect's full parser
  if (typeof raw === 'string') {
    const ms = sqliteNaiveUtcMs(raw);
    if (ms !== undefined) return new Date(ms);
  }
  return new Date(dialect.decodeTimestamp(raw));
}

/** A column value as a JS value: numbers, strings, booleans, Dates (timestamps), parsed JSON. */
export function decodeColumn(dialect: SqlDialect, kind: ColumnKind, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  switch (kind) {
    case 'integer':
      return dialect.decodeInteger(raw);
    case 'timestamp':
      return decodeDate(dialect, raw);
    case 'boolean':
      return dialect.decodeBool(raw);
    case 'json':
      return dialect.decodeJson(raw);
    case 'idpath': {
      const list = typeof raw === 'string' ? (JSON.parse(raw) as unknown[]) : (raw as unknown[]);
      return list.map((id) => dialect.decodeInteger(id));
    }
    default:
      return raw;
  }
}

/**
 * The plain object `'*'` gives for an entity without a registered loader: every column by name, decoded as
 * {@link decodeColumn} does.
 */
export function decodeEntityRow(
  dialect: SqlDialect,
  columns: readonly { readonly column: string; readonly kind: ColumnKind }[],
  raw: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { column, kind } of columns) out[column] = decodeColumn(dialect, kind, raw[column]);
  return out;
}

function decodeValue(dialect: SqlDialect, json: JsonAccess, decoder: ValueDecoder, raw: unknown): unknown {
  switch (decoder.kind) {
    case 'column':
      return decodeColumn(dialect, decoder.columnKind, raw);
    case 'count':
      return raw === null || raw === undefined ? 0 : dialect.decodeInteger(raw);
    case 'json':
      return json.decodeJsonValue(raw);
    case 'cast': {
      if (raw === null || raw === undefined) return null;
      switch (decoder.cast) {
        case 'f':
          return Number(raw);
        case 'i':
          return typeof raw === 'string' ? Number(raw) : dialect.decodeInteger(raw);
        case 'b':
          return dialect.decodeBool(raw);
        case 't':
          return typeof raw === 'string' ? raw : JSON.stringify(raw);
        case 'j':
          return json.decodeJsonValue(raw);
        case 'd': {
          const date = new Date(typeof raw === 'string' ? raw : Number(raw));
          return Number.isNaN(date.getTime()) ? null : date;
        }
      }
    }
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A result row as the driver gives it: by column name, or (read raw) as an array in select-list order. */
type Row = Readonly<Record<string, unknown>> | readonly unknown[];
type Reader = (row: Row) => unknown;

/** Turns raw result rows into QueryBuilder results, following the compiled projections. */
export class RowDecoder {
  readonly #backend: QueryBackend;
  readonly #projections: readonly ProjectionPlan[];
  readonly #json: JsonAccess;
  /** One reader per projection, worked out once: a row costs only the decoding of its values. */
  readonly #readers: readonly Reader[];
  #positional: readonly Reader[] | undefined;
  /** Whether any reader may return a promise (an entity with an asynchronous loader). */
  readonly #mayWait: boolean;

  constructor(backend: QueryBackend, json: JsonAccess, projections: readonly ProjectionPlan[]) {
    this.#backend = backend;
    this.#projections = projections;
    this.#json = json;
    this.#readers = projections.map((plan) => this.#reader(plan, false));
    this.#mayWait = projections.some((plan) => plan.kind === 'entity');
  }

  #reader(plan: ProjectionPlan, positional: boolean): Reader {
    const dialect = this.#backend.dialect;
    const json = this.#json;
    // rows read raw are arrays: the same readers, indexing by position instead of by name
    type Keyed = Record<string | number, unknown>;
    if (plan.kind === 'value') {
      const sqlAlias: string | number = positional ? plan.position : plan.sqlAlias;
      const decoder = plan.decoder;
      if (decoder.kind === 'json') return (row) => json.decodeJsonValue((row as Keyed)[sqlAlias]);
      if (decoder.kind === 'jsonItem') {
        // the values of one document come as one JSON array, parsed once per row for all of them
        const parsed = this.#arrays(positional, sqlAlias);
        const item = decoder.item;
        return (row) => {
          if (parsed.row !== row) {
            const raw = (row as Keyed)[sqlAlias];
            parsed.row = row;
            // (text on SQLite, decoded by the driver on PostgreSQL; NULL for a NULL document on SQLite)
            parsed.values = Array.isArray(raw)
              ? raw
              : typeof raw === 'string'
                ? (JSON.parse(raw) as unknown[])
                : [];
          }
          return parsed.values[item] ?? null;
        };
      }
      if (decoder.kind === 'column') {
        const columnKind = decoder.columnKind;
        if (columnKind === 'text' || columnKind === 'uuid') return (row) => (row as Keyed)[sqlAlias] ?? null;
        return (row) => decodeColumn(dialect, columnKind, (row as Keyed)[sqlAlias]);
      }
      return (row) => decodeValue(dialect, json, decoder, (row as Keyed)[sqlAlias]);
    }
    const ormBase = plan.ormBase;
    return (row) => {
      const raw: Record<string, unknown> = {};
      for (const column of plan.columns)
        raw[column.column] = (row as Keyed)[positional ? column.position : column.sqlAlias];
      // an outer join that found nothing gives a row of NULLs: no entity
      if (raw.id === null || raw.id === undefined) return null;
      const loader = ormBase === undefined ? undefined : getEntityLoader(ormBase);
      return loader === undefined ? decodeEntityRow(dialect, plan.columns, raw) : loader(this.#backend, raw);
    };
  }

  /** The last row's parsed array of each merged JSON column (see {@link ValueDecoder} `jsonItem`), by column. */
  readonly #parsedArrays = new Map<string, { row: Row | undefined; values: unknown[] }>();

  #arrays(positional: boolean, column: string | number): { row: Row | undefined; values: unknown[] } {
    const key = `${positional ? 'p' : 'n'}${column}`;
    let parsed = this.#parsedArrays.get(key);
    if (parsed === undefined) {
      parsed = { row: undefined, values: [] };
      this.#parsedArrays.set(key, parsed);
    }
    return parsed;
  }

  #values(row: Row): unknown[] {
    const readers = Array.isArray(row)
      ? (this.#positional ??= this.#projections.map((plan) => this.#reader(plan, true)))
      : this.#readers;
    const items = new Array<unknown>(readers.length);
    for (let i = 0; i < readers.length; i++) items[i] = readers[i]!(row);
    return items;
  }

  /** One result row as a list, in projection order (a promise when an entity loader is asynchronous). */
  list(row: Row): unknown[] | Promise<unknown[]> {
    const items = this.#values(row);
    return this.#mayWait && items.some(isPromise) ? Promise.all(items) : items;
  }

  /** One result row as `{tag: {key: value}}` (a promise when an entity loader is asynchronous). */
  dict(row: Row): Record<string, Record<string, unknown>> | Promise<Record<string, Record<string, unknown>>> {
    const items = this.#values(row);
    // no closure per row: listing processes builds one dictionary per row
    return this.#mayWait && items.some(isPromise)
      ? Promise.all(items).then((values) => this.#dictOf(values))
      : this.#dictOf(items);
  }

  #dictOf(values: readonly unknown[]): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    const projections = this.#projections;
    for (let i = 0; i < projections.length; i++) {
      const plan = projections[i]!;
      (out[plan.tag] ??= {})[plan.key] = values[i];
    }
    return out;
  }

  /** Many rows as lists. */
  async lists(rows: readonly Row[]): Promise<unknown[][]> {
    const out = rows.map((row) => this.list(row));
    return this.#mayWait && out.some(isPromise)
      ? Promise.all(out.map(async (row) => row))
      : (out as unknown[][]);
  }

  /** Many rows as dictionaries. */
  async dicts(rows: readonly Row[]): Promise<Record<string, Record<string, unknown>>[]> {
    const out = rows.map((row) => this.dict(row));
    return this.#mayWait && out.some(isPromise)
      ? Promise.all(out.map(async (row) => row))
      : (out as Record<string, Record<string, unknown>>[]);
  }
}
