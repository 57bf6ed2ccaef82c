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

// how SQLite profiles store timestamps (naive UTC, as aiida-core's TZDateTime): `2024-05-01 12:00:00.123456`
const SQLITE_NAIVE_UTC = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?$/;

function decodeDate(dialect: SqlDialect, raw: unknown): Date | null {
  if (raw === null || raw === undefined) return null;
  // the common case read straight into a Date (a Date keeps milliseconds only, as the general path does);
  // anything else goes through the dialect's full parser
  if (typeof raw === 'string' && SQLITE_NAIVE_UTC.test(raw)) return new Date(`${raw.replace(' ', 'T')}Z`);
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

/** Turns raw result rows into QueryBuilder results, following the compiled projections. */
export class RowDecoder {
  readonly #backend: QueryBackend;
  readonly #json: JsonAccess;
  readonly #projections: readonly ProjectionPlan[];

  constructor(backend: QueryBackend, json: JsonAccess, projections: readonly ProjectionPlan[]) {
    this.#backend = backend;
    this.#json = json;
    this.#projections = projections;
  }

  #item(plan: ProjectionPlan, row: Readonly<Record<string, unknown>>): unknown {
    const dialect = this.#backend.dialect;
    if (plan.kind === 'value') return decodeValue(dialect, this.#json, plan.decoder, row[plan.sqlAlias]);
    const raw: Record<string, unknown> = {};
    for (const column of plan.columns) raw[column.column] = row[column.sqlAlias];
    // an outer join that found nothing gives a row of NULLs: no entity
    if (raw.id === null || raw.id === undefined) return null;
    const loader = plan.ormBase === undefined ? undefined : getEntityLoader(plan.ormBase);
    return loader === undefined ? decodeEntityRow(dialect, plan.columns, raw) : loader(this.#backend, raw);
  }

  /** One result row as a list, in projection order (a promise when an entity loader is asynchronous). */
  list(row: Readonly<Record<string, unknown>>): unknown[] | Promise<unknown[]> {
    const items = this.#projections.map((plan) => this.#item(plan, row));
    return items.some(isPromise) ? Promise.all(items) : items;
  }

  /** One result row as `{tag: {key: value}}` (a promise when an entity loader is asynchronous). */
  dict(
    row: Readonly<Record<string, unknown>>,
  ): Record<string, Record<string, unknown>> | Promise<Record<string, Record<string, unknown>>> {
    const items = this.#projections.map((plan) => this.#item(plan, row));
    const build = (values: readonly unknown[]): Record<string, Record<string, unknown>> => {
      const out: Record<string, Record<string, unknown>> = {};
      this.#projections.forEach((plan, i) => ((out[plan.tag] ??= {})[plan.key] = values[i]));
      return out;
    };
    return items.some(isPromise) ? Promise.all(items).then(build) : build(items);
  }

  /** Many rows as lists. */
  async lists(rows: readonly Readonly<Record<string, unknown>>[]): Promise<unknown[][]> {
    const out = rows.map((row) => this.list(row));
    return out.some(isPromise) ? Promise.all(out.map(async (row) => row)) : (out as unknown[][]);
  }

  /** Many rows as dictionaries. */
  async dicts(
    rows: readonly Readonly<Record<string, unknown>>[],
  ): Promise<Record<string, Record<string, unknown>>[]> {
    const out = rows.map((row) => this.dict(row));
    return out.some(isPromise)
      ? Promise.all(out.map(async (row) => row))
      : (out as Record<string, Record<string, unknown>>[]);
  }
}
