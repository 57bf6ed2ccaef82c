import type BetterSqlite3 from 'better-sqlite3';

function parse(value: unknown): { ok: true; value: unknown } | { ok: false } {
  if (value === null || value === undefined) return { ok: false };
  if (typeof value === 'string') {
    try {
      return { ok: true, value: JSON.parse(value) };
    } catch {
      return { ok: false };
    }
  }
  return { ok: true, value };
}

/**
 * PostgreSQL's `jsonb @>`: objects contain sub-objects, arrays contain every element of the other array, and a
 * top-level array contains a scalar it holds (only at the top level: `{"a": [1]} @> {"a": 1}` is false).
 */
export function jsonContains(lhs: unknown, rhs: unknown): boolean {
  return contains(lhs, rhs, true);
}

function contains(lhs: unknown, rhs: unknown, topLevel: boolean): boolean {
  if (Array.isArray(lhs)) {
    if (Array.isArray(rhs)) return rhs.every((item) => lhs.some((element) => contains(element, item, false)));
    const scalar = typeof rhs !== 'object' || rhs === null;
    return topLevel && scalar && lhs.some((element) => jsonEquals(element, rhs));
  }
  if (typeof lhs === 'object' && lhs !== null) {
    if (typeof rhs !== 'object' || rhs === null || Array.isArray(rhs)) return false;
    const left = lhs as Record<string, unknown>;
    return Object.entries(rhs).every(
      ([key, value]) => Object.hasOwn(left, key) && contains(left[key], value, false),
    );
  }
  return jsonEquals(lhs, rhs);
}

/** Structural JSON equality: key order does not matter, `1` equals `1.0`, `1` does not equal `"1"`. */
export function jsonEquals(lhs: unknown, rhs: unknown): boolean {
  if (Array.isArray(lhs)) {
    return (
      Array.isArray(rhs) && lhs.length === rhs.length && lhs.every((item, i) => jsonEquals(item, rhs[i]))
    );
  }
  if (typeof lhs === 'object' && lhs !== null) {
    if (typeof rhs !== 'object' || rhs === null || Array.isArray(rhs)) return false;
    const left = Object.keys(lhs);
    const right = rhs as Record<string, unknown>;
    return (
      left.length === Object.keys(right).length &&
      left.every(
        (key) => Object.hasOwn(right, key) && jsonEquals((lhs as Record<string, unknown>)[key], right[key]),
      )
    );
  }
  return lhs === rhs;
}

/**
 * Registers the SQL functions the SQLite dialect relies on (see dialect.ts): `json_contains(lhs, rhs)` with
 * PostgreSQL's `@>` semantics, as aiida-core registers on its SQLite connections, and `json_equals(lhs, rhs)`.
 * Both take JSON text and return 0/1 (NULL when either side is not JSON).
 */
export function registerSqliteFunctions(db: BetterSqlite3.Database): void {
  const wrap =
    (compare: (a: unknown, b: unknown) => boolean) =>
    (lhs: unknown, rhs: unknown): number | null => {
      const left = parse(lhs);
      const right = parse(rhs);
      if (!left.ok || !right.ok) return null;
      return compare(left.value, right.value) ? 1 : 0;
    };
  db.function('json_contains', { deterministic: true }, wrap(jsonContains));
  db.function('json_equals', { deterministic: true }, wrap(jsonEquals));
}
