import { sql, type RawBuilder } from 'kysely';
import type { StorageBackend } from '../../storage/backend.js';
import { sqliteJsonPath, type SqlDialect } from '../../storage/dialect.js';
import type { JsonValue } from './clean.js';

/**
 * An SQL expression for `column` with `set` keys written and `remove` keys dropped, changing only those keys, so
 * writers of other keys (another process setting another extra) are not overwritten.
 */
export function patchedJsonColumn(
  storage: StorageBackend,
  column: 'attributes' | 'extras',
  set: Readonly<Record<string, JsonValue>>,
  remove: readonly string[],
): RawBuilder<string> {
  const dialect = storage.dialect;
  const ref = sql.ref(column);
  if (dialect.name === 'postgres') {
    let expr = sql`coalesce(${ref}, '{}'::jsonb)`;
    if (Object.keys(set).length > 0) expr = sql`(${expr} || ${dialect.encodeJson(set)}::jsonb)`;
    if (remove.length > 0) expr = sql`(${expr} - ${[...remove]}::text[])`;
    return sql<string>`${expr}`;
  }
  let expr = sql`coalesce(${ref}, '{}')`;
  const entries = Object.entries(set);
  if (entries.length > 0) {
    const args = entries.map(
      ([key, value]) => sql`${sqliteJsonPath([key])}, json(${dialect.encodeJson(value)})`,
    );
    expr = sql`json_set(${expr}, ${sql.join(args)})`;
  }
  if (remove.length > 0)
    expr = sql`json_remove(${expr}, ${sql.join(remove.map((key) => sqliteJsonPath([key])))})`;
  return sql<string>`${expr}`;
}

/**
 * {@link patchedJsonColumn} as SQL text for `StorageBackend.executeWrite`: the expression, with placeholders
 * `$1`, `$2`, … numbered from 1, and its parameters in that order.
 */
export function patchedJsonText(
  dialect: SqlDialect,
  column: 'attributes' | 'extras',
  set: Readonly<Record<string, JsonValue>>,
  remove: readonly string[],
): { readonly text: string; readonly parameters: unknown[] } {
  const parameters: unknown[] = [];
  const next = (value: unknown): string => {
    parameters.push(value);
    return `$${parameters.length}`;
  };
  const keys = Object.keys(set);
  if (dialect.name === 'postgres') {
    let text = `coalesce(${column}, '{}'::jsonb)`;
    if (keys.length > 0) text = `(${text} || ${next(dialect.encodeJson(set))}::jsonb)`;
    if (remove.length > 0) text = `(${text} - ${next([...remove])}::text[])`;
    return { text, parameters };
  }
  let text = `coalesce(${column}, '{}')`;
  if (keys.length > 0) {
    const args = keys.map(
      (key) => `${next(sqliteJsonPath([key]))}, json(${next(dialect.encodeJson(set[key]))})`,
    );
    text = `json_set(${text}, ${args.join(', ')})`;
  }
  if (remove.length > 0)
    text = `json_remove(${text}, ${remove.map((key) => next(sqliteJsonPath([key]))).join(', ')})`;
  return { text, parameters };
}
