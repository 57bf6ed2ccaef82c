import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Marks a statement PostgreSQL should prepare once per connection and reuse: the QueryBuilder's statements, whose
 * text repeats with other parameter values (planning a recursive walk costs more than running it). A comment, so
 * the statement means the same with or without the mark.
 */
export const PREPARED_STATEMENT_MARK = '/* aiida-ts:prepared */ ';

/**
 * Statements one connection prepares at most; later ones run unprepared, as before (a long-lived daemon connection
 * then holds a bounded number, and a statement never has to be released while another waits to use it).
 */
const KEPT_PER_CONNECTION = 200;

type Query = (...args: unknown[]) => unknown;

/**
 * Makes `client` run marked statements (see {@link PREPARED_STATEMENT_MARK}) as named prepared statements, named
 * after a hash of their text, and everything else as before. Called for each new connection of a pool.
 */
export function prepareMarkedStatements(client: pg.PoolClient): void {
  const original = client.query.bind(client) as Query;
  const prepared = new Map<string, string>();
  const replacement: Query = (...args) => {
    const [text, values, callback] = args;
    if (
      typeof text !== 'string' ||
      !text.startsWith(PREPARED_STATEMENT_MARK) ||
      !Array.isArray(values) ||
      callback !== undefined
    )
      return original(...args);
    let name = prepared.get(text);
    if (name === undefined) {
      if (prepared.size >= KEPT_PER_CONNECTION) return original(...args);
      name = `aiida_ts_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      prepared.set(text, name);
    }
    return original({ name, text, values });
  };
  Object.defineProperty(client, 'query', { value: replacement, configurable: true, writable: true });
}
