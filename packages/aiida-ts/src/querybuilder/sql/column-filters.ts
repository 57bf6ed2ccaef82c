import { sql, type Expression, type RawBuilder } from 'kysely';
import { QueryError } from '../../errors.js';
import { canonicalTimestamp, parseTimestamp, type DialectName } from '../../storage/dialect.js';
import type { ColumnKind } from '../entities.js';
import { describeValue } from '../filters.js';
import { asciiLower, checkLikePattern, likeToGlob } from './like-pattern.js';

const UUID_PATTERN = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/**
 * The canonical (lowercase, hyphenated) form of a uuid as PostgreSQL would accept it, or `undefined` when
 * PostgreSQL would reject it: such a value can equal no stored uuid, on either dialect.
 */
export function canonicalUuid(value: string): string | undefined {
  const match = UUID_PATTERN.exec(value.trim());
  if (match === null) return undefined;
  return match.slice(1, 6).join('-').toLowerCase();
}

/** A timestamp filter value as a Date or ISO 8601 text (a bare `YYYY-MM-DD` means midnight UTC). */
export function timestampValue(value: unknown, field: string): Date | string {
  if (value instanceof Date) return value;
  if (typeof value === 'string') {
    const text = /^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? `${value.trim()}T00:00:00+00:00` : value;
    try {
      parseTimestamp(text);
    } catch (error) {
      throw new QueryError(`Invalid timestamp ${describeValue(value)} in the filter on '${field}'`, {
        cause: error,
      });
    }
    return text;
  }
  throw new QueryError(
    `The filter on '${field}' expects a Date or an ISO 8601 string, got ${describeValue(value)}`,
  );
}

const OPS: Readonly<Record<string, RawBuilder<unknown>>> = {
  '==': sql`=`,
  '>': sql`>`,
  '<': sql`<`,
  '>=': sql`>=`,
  '<=': sql`<=`,
};

/** Compiles column conditions (`==`, comparisons, `like`, `ilike`, `in`) for one dialect. */
export class ColumnFilterCompiler {
  readonly #dialect: DialectName;
  readonly #encodeTimestamp: (value: Date | string) => string;

  constructor(dialect: DialectName, encodeTimestamp: (value: Date | string) => string) {
    this.#dialect = dialect;
    this.#encodeTimestamp = encodeTimestamp;
  }

  get #pg(): boolean {
    return this.#dialect === 'postgres';
  }

  /** The bound form of one scalar for a column of `kind`, or `undefined` for a uuid that matches nothing. */
  #bind(kind: ColumnKind, value: unknown, field: string): RawBuilder<unknown> | undefined {
    switch (kind) {
      case 'timestamp': {
        const ts = timestampValue(value, field);
        return this.#pg ? sql`${canonicalTimestamp(ts)}::timestamptz` : sql`${this.#encodeTimestamp(ts)}`;
      }
      case 'uuid': {
        const uuid = canonicalUuid(value as string);
        if (uuid === undefined) return undefined;
        return this.#pg ? sql`${uuid}::uuid` : sql`${uuid}`;
      }
      case 'boolean':
        return this.#pg ? sql`${value}::boolean` : sql`${value ? 1 : 0}`;
      case 'integer':
        return this.#pg && !Number.isInteger(value) ? sql`${value}::double precision` : sql`${value}`;
      default:
        return sql`${value}`;
    }
  }

  compile(
    column: Expression<unknown>,
    kind: ColumnKind,
    operator: string,
    value: unknown,
    field: string,
  ): RawBuilder<unknown> {
    if (operator === '==' && value === null) return sql`(${column} is null)`;
    switch (operator) {
      case '==':
      case '>':
      case '<':
      case '>=':
      case '<=': {
        if (kind === 'uuid' && operator !== '==') {
          // order between uuids is the order of their text form on both dialects
          const text = this.#pg ? sql`(${column})::text` : sql`${column}`;
          return sql`(${text} ${OPS[operator]!} ${(value as string).toLowerCase()})`;
        }
        if (kind === 'timestamp' && value instanceof Date)
          return this.#compileMillisecond(column, operator, value, field);
        const bound = this.#bind(kind, value, field);
        if (bound === undefined) return sql`(1 = 0)`;
        return sql`(${column} ${OPS[operator]!} ${bound})`;
      }
      case 'like':
      case 'ilike': {
        const pattern = value as string;
        checkLikePattern(pattern);
        if (this.#pg) {
          const text = kind === 'text' ? sql`${column}` : sql`(${column})::text`;
          return operator === 'like' ? sql`(${text} like ${pattern})` : sql`(${text} ilike ${pattern})`;
        }
        const glob = likeToGlob(pattern);
        return operator === 'like'
          ? sql`(${column} glob ${glob})`
          : sql`(lower(${column}) glob ${asciiLower(glob)})`;
      }
      case 'in':
        return this.#compileIn(column, kind, value as readonly unknown[], field);
      default:
        throw new QueryError(`Operator '${operator}' does not apply to the column '${field}'`);
    }
  }

  /**
   * A comparison with a Date. Stored times have microseconds (as aiida-core's) and a Date only milliseconds, so a
   * Date stands for its whole millisecond: `node.ctime` equals the node's ctime, `> node.ctime` is what came after.
   */
  #compileMillisecond(
    column: Expression<unknown>,
    operator: string,
    date: Date,
    field: string,
  ): RawBuilder<unknown> {
    const start = this.#bind('timestamp', date, field);
    const end = this.#bind('timestamp', new Date(date.getTime() + 1), field);
    switch (operator) {
      case '==':
        return sql`(${column} >= ${start} and ${column} < ${end})`;
      case '>':
        return sql`(${column} >= ${end})`;
      case '>=':
        return sql`(${column} >= ${start})`;
      case '<':
        return sql`(${column} < ${start})`;
      default:
        return sql`(${column} < ${end})`;
    }
  }

  #compileIn(
    column: Expression<unknown>,
    kind: ColumnKind,
    values: readonly unknown[],
    field: string,
  ): RawBuilder<unknown> {
    if (kind === 'timestamp' && values.some((v) => v instanceof Date)) {
      // Dates stand for their whole millisecond (see #compileMillisecond); texts match exactly
      const texts = values.filter((v) => !(v instanceof Date));
      const parts = values.flatMap((v) =>
        v instanceof Date ? [this.#compileMillisecond(column, '==', v, field)] : [],
      );
      if (texts.length > 0) parts.push(this.#compileIn(column, kind, texts, field));
      return sql`(${sql.join(parts, sql` or `)})`;
    }
    let items: unknown[];
    switch (kind) {
      case 'timestamp':
        items = values.map((v) => {
          const ts = timestampValue(v, field);
          return this.#pg ? canonicalTimestamp(ts) : this.#encodeTimestamp(ts);
        });
        break;
      case 'uuid':
        items = values.flatMap((v) => {
          const uuid = canonicalUuid(v as string);
          return uuid === undefined ? [] : [uuid];
        });
        if (items.length === 0) return sql`(1 = 0)`;
        break;
      case 'boolean':
        items = values.map((v) => (this.#pg ? v : v ? 1 : 0));
        break;
      default:
        items = [...values];
    }
    if (!this.#pg) {
      // one parameter however long the list (SQLite allows at most 32766 per statement)
      return sql`(${column} in (select value from json_each(${JSON.stringify(items)})))`;
    }
    const arrayType = {
      timestamp: sql`timestamptz[]`,
      uuid: sql`uuid[]`,
      boolean: sql`boolean[]`,
      integer: items.every((v) => Number.isInteger(v)) ? sql`bigint[]` : sql`double precision[]`,
      text: sql`text[]`,
      json: sql`text[]`,
      idpath: sql`text[]`,
    }[kind];
    return sql`(${column} = any(${items}::${arrayType}))`;
  }
}
