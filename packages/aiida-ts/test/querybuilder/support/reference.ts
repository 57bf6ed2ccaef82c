/**
 * A plain-JS model of the QueryBuilder's JSON filter semantics (PostgreSQL's, which the SQLite compilation
 * reproduces), used to check both dialects on random documents and filters. Results are three-valued:
 * `true`, `false` or `null` (SQL NULL), and a row matches only on `true`.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Tri = boolean | null;

/** PostgreSQL's reading of a path element as an array index (see `pgArrayIndex`). */
function arrayIndex(key: string): number | undefined {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(key)) return undefined;
  const value = Number.parseInt(key.trim(), 10);
  return value >= -(2 ** 31) && value < 2 ** 31 ? value : undefined;
}

/** `doc #> keys`: undefined when the path is missing. */
export function getPath(doc: Json | undefined, keys: readonly string[]): Json | undefined {
  let current: Json | undefined = doc;
  for (const key of keys) {
    if (Array.isArray(current)) {
      const index = arrayIndex(key);
      if (index === undefined) return undefined;
      const position = index < 0 ? current.length + index : index;
      current = position >= 0 && position < current.length ? current[position] : undefined;
    } else if (current !== null && typeof current === 'object') {
      current = Object.hasOwn(current, key) ? current[key] : undefined;
    } else {
      return undefined;
    }
  }
  return current;
}

function typeOf(value: Json | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function deepEqual(a: Json, b: Json): boolean {
  if (typeOf(a) !== typeOf(b)) return false;
  if (Array.isArray(a))
    return a.length === (b as Json[]).length && a.every((v, i) => deepEqual(v, (b as Json[])[i]!));
  if (a !== null && typeof a === 'object') {
    const bo = b as Record<string, Json>;
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(bo).length &&
      keys.every((k) => Object.hasOwn(bo, k) && deepEqual(a[k]!, bo[k]!))
    );
  }
  return a === b;
}

/** PostgreSQL's `@>`. */
function contains(lhs: Json, rhs: Json, top: boolean): boolean {
  if (Array.isArray(rhs)) {
    if (!Array.isArray(lhs)) return false;
    return rhs.every((r) =>
      lhs.some((l) =>
        Array.isArray(r) || (r !== null && typeof r === 'object') ? contains(l, r, false) : deepEqual(l, r),
      ),
    );
  }
  if (rhs !== null && typeof rhs === 'object') {
    if (lhs === null || typeof lhs !== 'object' || Array.isArray(lhs)) return false;
    return Object.entries(rhs).every(([k, r]) => {
      if (!Object.hasOwn(lhs, k)) return false;
      const l = lhs[k]!;
      return Array.isArray(r) || (r !== null && typeof r === 'object')
        ? contains(l, r, false)
        : deepEqual(l, r);
    });
  }
  if (top && Array.isArray(lhs)) return lhs.some((l) => deepEqual(l, rhs));
  return deepEqual(lhs, rhs);
}

function compare(op: string, a: number | string | boolean, b: number | string | boolean): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '>':
      return a > b;
    case '<':
      return a < b;
    case '>=':
      return a >= b;
    default:
      return a <= b;
  }
}

function likeRegex(pattern: string, insensitive: boolean): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') source += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, insensitive ? 'i' : '');
}

/** One operator applied to the value at a path (negation not included). */
export function evaluate(operator: string, value: Json | undefined, operand: unknown): Tri {
  const kind = typeOf(value);
  switch (operator) {
    case '==':
      if (operand === null) return kind === 'null';
      if (typeof operand === 'object') return value !== undefined && deepEqual(value, operand as Json);
      return kind === typeof operand && value === operand;
    case '>':
    case '<':
    case '>=':
    case '<=':
      return kind === typeof operand && compare(operator, value as never, operand as never);
    case 'like':
    case 'ilike':
      // only ASCII letters fold in `ilike` on both dialects' data here (the generators use no other letters)
      return kind === 'string' && likeRegex(operand as string, operator === 'ilike').test(value as string);
    case 'in':
      return kind === typeof (operand as unknown[])[0] && (operand as unknown[]).includes(value);
    case 'contains':
      return value === undefined ? null : contains(value, operand as Json, true);
    case 'has_key':
      if (value === undefined) return null;
      return kind === 'object' && Object.hasOwn(value as object, operand as string);
    case 'of_length':
      return kind === 'array' && (value as Json[]).length === operand;
    case 'longer':
      return kind === 'array' && (value as Json[]).length > (operand as number);
    case 'shorter':
      return kind === 'array' && (value as Json[]).length < (operand as number);
    case 'of_type':
      if (operand === 'null') return value === undefined || value === null;
      return kind === undefined ? null : kind === operand;
    default:
      throw new Error(`no reference for ${operator}`);
  }
}

export function not(value: Tri): Tri {
  return value === null ? null : !value;
}

export function and(values: readonly Tri[]): Tri {
  if (values.some((v) => v === false)) return false;
  return values.some((v) => v === null) ? null : true;
}

export function or(values: readonly Tri[]): Tri {
  if (values.some((v) => v === true)) return true;
  return values.some((v) => v === null) ? null : false;
}

export type { Json, Tri };
