import { sql, type RawBuilder } from 'kysely';
import type { StorageBackend } from '../../storage/backend.js';
import { sqliteJsonPath } from '../../storage/dialect.js';
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
