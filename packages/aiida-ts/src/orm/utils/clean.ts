import { ValidationError, type ValidationIssue } from '../../errors.js';

/** The separator aiida-core reserves in attribute and extra keys (it would break QueryBuilder paths). */
export const KEY_SEPARATOR = '.';

/**
 * How deep attribute and extra values may nest, counting the attributes (or extras) object itself as the first
 * level. Both backends and aiida-core must be able to hold what is stored: SQLite's JSON functions stop at 1000 levels
 * (any attribute filter over a table holding a deeper value then fails), Python's json module and aiida-core's
 * `clean_value` recurse about twice per level under a default limit of 1000 frames. 256 leaves room for all of them.
 */
export const MAX_JSON_DEPTH = 256;

// `String.prototype.isWellFormed` (Node 20+, ES2024): false when a string holds a lone surrogate
const isWellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Why `text` cannot be stored in a JSON column or text column of either backend, or undefined when it can: a NUL
 * character (PostgreSQL's jsonb and text refuse it; SQLite would keep it, so the profiles would differ), or a lone
 * surrogate (not Unicode: PostgreSQL refuses it, UTF-8 cannot encode it, and Python cannot write it back out).
 */
export function unstorableTextReason(text: string): string | undefined {
  if (text.includes('\0')) {
    return `contains a NUL character (U+0000) at index ${text.indexOf('\0')}, which PostgreSQL cannot store`;
  }
  if (!isWellFormed(text)) {
    const at =
      /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(text)?.index ?? 0;
    const unit = text.charCodeAt(at).toString(16).toUpperCase();
    return `contains a lone surrogate (U+${unit}) at index ${at}, which is not Unicode and cannot be stored`;
  }
  return undefined;
}

/**
 * `text` with what cannot be stored (see {@link unstorableTextReason}) written as visible `\\u0000`-style escapes:
 * for text the engine records rather than the user gives (an exception message, a log record, a process status),
 * which must never make the record of a process fail.
 */
export function storableText(text: string): string {
  if (unstorableTextReason(text) === undefined) return text;
  return text.replace(
    /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Throws a `ValidationError` naming `what` when `text` cannot be stored (see {@link unstorableTextReason}). */
export function validateText(text: string, what: string): string {
  const reason = unstorableTextReason(text);
  if (reason !== undefined) throw new ValidationError(`invalid ${what}`, [{ path: what, message: reason }]);
  return text;
}

/** A value that can be stored as a node attribute or extra: JSON without NaN/Infinity. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Something that stands for a plain value when stored as an attribute or extra: a base-type node (`Str`, `Int`,
 * `Dict`, `List`, …) gives its value, as aiida-core's `clean_value` does.
 */
export interface StorableValue {
  toStorableValue(): unknown;
}

function isStorableValue(value: object): value is StorableValue {
  return typeof (value as Partial<StorableValue>).toStorableValue === 'function';
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'bigint') return `the bigint ${value}n (outside the safe integer range)`;
  if (typeof value === 'number') return String(value);
  const name = (value as object).constructor?.name;
  return name === undefined ? 'an object without prototype' : `an instance of ${name}`;
}

/** `attributes.a.b[2]`-style path of a nested value. */
function childPath(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

/** Throws a `ValidationError` unless `key` is a string without `.`, NUL characters or lone surrogates. */
export function validateKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string') throw new ValidationError(`${what} must be a string, got ${typeof key}`);
  if (key.includes(KEY_SEPARATOR)) {
    throw new ValidationError(
      `invalid ${what} \`${key}\`: cannot contain the separator \`${KEY_SEPARATOR}\``,
    );
  }
  const reason = unstorableTextReason(key);
  if (reason !== undefined) throw new ValidationError(`invalid ${what} ${JSON.stringify(key)}: it ${reason}`);
}

/** Options of {@link cleanValue}. */
export interface CleanValueOptions {
  /**
   * The nesting level the value sits at (0: the value is a whole JSON column; 1: a value of the attributes or extras
   * object). Containers deeper than {@link MAX_JSON_DEPTH} are refused.
   */
  readonly depth?: number;
}

/**
 * A deep copy of `value` made only of JSON values, or a `ValidationError` listing every path that cannot be
 * stored the same on SQLite, PostgreSQL and in aiida-core: functions, symbols, `undefined` (also as array holes),
 * NaN and ±Infinity, bigints outside the safe integer range (±2^53; refused rather than rounded), cycles, `Date`s
 * and other class instances, object keys containing `.`, strings and keys with a NUL character or a lone surrogate
 * (see {@link unstorableTextReason}), and nesting deeper than {@link MAX_JSON_DEPTH}. Base-type nodes are replaced
 * by their values; safe bigints become numbers. (A number beyond ±2^53 is a double, stored as the double it is.)
 */
export function cleanValue(value: unknown, rootPath = '', options: CleanValueOptions = {}): JsonValue {
  // the common case of a scalar needs little bookkeeping
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string' && unstorableTextReason(value) === undefined) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  const issues: ValidationIssue[] = [];
  const ancestors = new Set<object>();
  const baseDepth = options.depth ?? 0;

  const visit = (current: unknown, path: string, depth: number): JsonValue => {
    if (current === null || typeof current === 'boolean') return current;
    if (typeof current === 'string') {
      const reason = unstorableTextReason(current);
      if (reason !== undefined) issues.push({ path, message: `the string ${reason}` });
      return current;
    }
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) {
        issues.push({ path, message: `${current} cannot be stored (only finite numbers)` });
        return null;
      }
      return current;
    }
    if (typeof current === 'bigint') {
      if (current <= BigInt(Number.MAX_SAFE_INTEGER) && current >= BigInt(Number.MIN_SAFE_INTEGER))
        return Number(current);
      issues.push({ path, message: `${describe(current)} cannot be stored exactly` });
      return null;
    }
    if (typeof current !== 'object') {
      issues.push({ path, message: `${describe(current)} cannot be stored` });
      return null;
    }
    if (ancestors.has(current)) {
      issues.push({ path, message: 'the value contains a reference cycle' });
      return null;
    }
    if (isStorableValue(current)) {
      return visit(current.toStorableValue(), path, depth);
    }
    if (depth + 1 > MAX_JSON_DEPTH) {
      issues.push({
        path,
        message: `the value nests deeper than ${MAX_JSON_DEPTH} levels, the most both storage backends and aiida-core can hold`,
      });
      return null;
    }
    ancestors.add(current);
    try {
      if (Array.isArray(current)) {
        const out: JsonValue[] = [];
        for (let i = 0; i < current.length; i += 1) {
          if (!(i in current) || current[i] === undefined) {
            issues.push({ path: childPath(path, i), message: 'undefined cannot be stored (use null)' });
            out.push(null);
            continue;
          }
          out.push(visit(current[i], childPath(path, i), depth + 1));
        }
        return out;
      }
      const proto = Object.getPrototypeOf(current) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        issues.push({
          path,
          message: `${describe(current)} cannot be stored (only plain objects and arrays)`,
        });
        return null;
      }
      const out: Record<string, JsonValue> = {};
      for (const key of Reflect.ownKeys(current)) {
        if (typeof key === 'symbol') {
          issues.push({ path, message: `symbol key ${String(key)} cannot be stored` });
          continue;
        }
        const child = (current as Record<string, unknown>)[key];
        if (key.includes(KEY_SEPARATOR)) {
          issues.push({
            path: childPath(path, key),
            message: `key cannot contain the separator \`${KEY_SEPARATOR}\``,
          });
          continue;
        }
        const keyReason = unstorableTextReason(key);
        if (keyReason !== undefined) {
          issues.push({ path: childPath(path, JSON.stringify(key)), message: `the key ${keyReason}` });
          continue;
        }
        if (child === undefined) {
          issues.push({
            path: childPath(path, key),
            message: 'undefined cannot be stored (use null or delete the key)',
          });
          continue;
        }
        out[key] = visit(child, childPath(path, key), depth + 1);
      }
      return out;
    } finally {
      ancestors.delete(current);
    }
  };

  const result = visit(value, rootPath, baseDepth);
  if (issues.length > 0) throw new ValidationError('value cannot be stored', issues);
  return result;
}

/** A deep copy of a JSON value (cheaper than structuredClone for the plain values attributes hold). */
export function cloneJson<T extends JsonValue | undefined>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => cloneJson(item)) as T;
  const out: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value)) out[key] = cloneJson(item);
  return out as T;
}
