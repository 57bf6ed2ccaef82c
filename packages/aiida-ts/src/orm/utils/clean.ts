import { ValidationError, type ValidationIssue } from '../../errors.js';

/** The separator aiida-core reserves in attribute and extra keys (it would break QueryBuilder paths). */
export const KEY_SEPARATOR = '.';

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

/** Throws a `ValidationError` unless `key` is a non-empty string without `.`. */
export function validateKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string') throw new ValidationError(`${what} must be a string, got ${typeof key}`);
  if (key.includes(KEY_SEPARATOR)) {
    throw new ValidationError(
      `invalid ${what} \`${key}\`: cannot contain the separator \`${KEY_SEPARATOR}\``,
    );
  }
}

/**
 * A deep copy of `value` made only of JSON values, or a `ValidationError` listing every path that cannot be
 * stored: functions, symbols, `undefined` (also as array holes), NaN and ±Infinity, bigints outside the safe
 * integer range, cycles, `Date`s and other class instances, and object keys containing `.`. Base-type nodes are
 * replaced by their values; safe bigints become numbers.
 */
export function cleanValue(value: unknown, rootPath = ''): JsonValue {
  // the common case of a scalar needs no bookkeeping
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  const issues: ValidationIssue[] = [];
  const ancestors = new Set<object>();

  const visit = (current: unknown, path: string): JsonValue => {
    if (current === null || typeof current === 'string' || typeof current === 'boolean') return current;
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
      return visit(current.toStorableValue(), path);
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
          out.push(visit(current[i], childPath(path, i)));
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
        if (child === undefined) {
          issues.push({
            path: childPath(path, key),
            message: 'undefined cannot be stored (use null or delete the key)',
          });
          continue;
        }
        out[key] = visit(child, childPath(path, key));
      }
      return out;
    } finally {
      ancestors.delete(current);
    }
  };

  const result = visit(value, rootPath);
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
