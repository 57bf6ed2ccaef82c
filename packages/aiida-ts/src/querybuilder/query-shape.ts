/**
 * Keys that name the calls building a QueryBuilder, so that a query built again (the same appends, filters,
 * projections, ordering) reuses what the first build worked out instead of validating, normalising and
 * compiling it again. A key is only ever compared for equality: two calls get the same key only when they are
 * the same call (same resolved target, options, values), so a QueryBuilder that reached a key by the same calls
 * is in the same state.
 */

/** Separates the calls of a shape key (a character no serialised value holds unescaped). */
export const CALL_SEPARATOR = '\u0001';

/**
 * `JSON.stringify(text)` of the strings every append key repeats (option names, filter fields, node type
 * strings), kept (the first 1024): a lookup of a literal costs less than quoting it again on every append of a
 * repeated query.
 */
const QUOTED = new Map<string, string>();
export function quoted(text: string): string {
  let out = QUOTED.get(text);
  if (out === undefined) {
    out = JSON.stringify(text);
    if (QUOTED.size < 1024) QUOTED.set(text, out);
  }
  return out;
}

/**
 * A key for `value` that tells apart everything the QueryBuilder tells apart: strings from numbers, Dates from
 * their ISO strings, `undefined` from a missing key, NaN and infinities from null. Returns `undefined` for values
 * it cannot name (functions, class instances other than Date, symbols, cycles): such calls are not shared.
 */
export function valueKey(value: unknown, depth = 0): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : `#${String(value)}`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'undefined':
      return 'u';
    case 'bigint':
      return `${String(value)}n`;
    case 'object': {
      if (value === null) return 'n';
      if (depth > 32) return undefined;
      if (Array.isArray(value)) {
        let out = '[';
        for (const item of value) {
          const key = valueKey(item, depth + 1);
          if (key === undefined) return undefined;
          out += `${key},`;
        }
        return `${out}]`;
      }
      if (value instanceof Date) return `D${String(value.getTime())}`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return undefined;
      let out = '{';
      for (const name in value) {
        const key = valueKey((value as Record<string, unknown>)[name], depth + 1);
        if (key === undefined) return undefined;
        out += `${quoted(name)}:${key},`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/**
 * A small map that forgets entries not used lately: the entries used since the last turnover are kept in `young`,
 * the others in `old`; when `young` holds `limit / 2` entries, `old` is dropped and `young` becomes `old`. So it
 * holds between `limit / 2` and `limit` entries and never forgets one used within the last `limit / 2` distinct
 * keys. A hit in `young` (the repeated query) is one lookup, without the delete and insert an exact
 * least-recently-used order costs on every hit.
 */
export class LruMap<V, K = string> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  constructor(limit: number) {
    this.#half = Math.max(1, Math.floor(limit / 2));
  }

  get(key: K): V | undefined {
    const value = this.#young.get(key);
    if (value !== undefined) return value;
    const aged = this.#old.get(key);
    if (aged !== undefined) {
      this.#old.delete(key);
      this.#add(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    this.#old.delete(key);
    if (this.#young.has(key)) this.#young.set(key, value);
    else this.#add(key, value);
  }

  #add(key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map<K, V>();
    }
    this.#young.set(key, value);
  }
}
