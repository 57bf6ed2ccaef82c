import { DecodeError } from './errors.js';

/**
 * Turns message bodies into bytes and back. JSON by default; a codec for another format (YAML, msgpack)
 * plugs in through the communicator's options. `decode` must throw on malformed input, never guess.
 */
export interface Codec {
  /**
   * The AMQP `content_type` written on every message; undefined leaves the property unset, as kiwipy
   * does (aiida-core's YAML bodies carry no content type).
   */
  readonly contentType?: string | undefined;
  encode(value: unknown): Buffer;
  decode(data: Buffer): unknown;
}

/** JSON, UTF-8. `undefined` becomes `null`, so every message has a body. */
export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode(value) {
    return Buffer.from(JSON.stringify(value ?? null), 'utf8');
  },
  decode(data) {
    try {
      return JSON.parse(data.toString('utf8')) as unknown;
    } catch (error) {
      throw new DecodeError(`message is not valid JSON (${data.length} bytes)`, { cause: error });
    }
  },
};

const TUPLE = Symbol.for('kiwipy-ts.tuple');

/**
 * Marks an array as a tuple (kiwipy's task envelope is the Python tuple `(task, no_reply)`); a codec that
 * can tell tuples from lists (aiida's YAML) writes it as one, JSON writes an array. Returns the array.
 */
export function asTuple<T extends unknown[]>(items: T): T {
  Object.defineProperty(items, TUPLE, { value: true, enumerable: false });
  return items;
}

/** Whether `value` is an array marked with {@link asTuple}. */
export function isTuple(value: unknown): value is unknown[] {
  return Array.isArray(value) && (value as unknown as Record<symbol, unknown>)[TUPLE] === true;
}

const FLOAT_KEYS = Symbol.for('kiwipy-ts.floatKeys');

/**
 * Marks the numbers under `keys` of a record as floats (Python `float`s, such as plumpy's `ctime`): a JS number
 * cannot say it, and a codec that tells floats from ints (aiida's YAML) then writes an integral one as `2.0`, so
 * that Python reads a float back. JSON and in-memory delivery are unaffected. Returns the record.
 */
export function withFloatKeys<T extends object>(record: T, keys: readonly (keyof T & string)[]): T {
  Object.defineProperty(record, FLOAT_KEYS, { value: [...keys], enumerable: false });
  return record;
}

/** The keys marked with {@link withFloatKeys} (empty when none). */
export function floatKeysOf(value: object): readonly string[] {
  const keys = (value as Record<symbol, unknown>)[FLOAT_KEYS];
  return Array.isArray(keys) ? keys.filter((key): key is string => typeof key === 'string') : [];
}
