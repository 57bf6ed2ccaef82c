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
        out += `${JSON.stringify(name)}:${key},`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/** A small map that forgets the least recently used entries beyond `limit`. */
export class LruMap<V> {
  readonly #entries = new Map<string, V>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
