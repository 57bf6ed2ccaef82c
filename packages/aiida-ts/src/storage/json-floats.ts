import { isLosslessNumber, parse as parseLossless } from 'lossless-json';

/**
 * Integral floats in JSON columns. aiida-core writes a Python float with a point even when it is integral (`2.0`);
 * `JSON.parse` reads that as an integer, so the storage keeps where they were, for the ORM to hash and write them
 * again as floats (see orm/utils/float-paths.ts).
 */

// An integral number written as a float: `2.0`, `-3.00`, `1e+16`, `1.5e3`.
const MAYBE_INTEGRAL_FLOAT = /\d\.0*(?![0-9])|\d[eE][+-]?\d/;

/**
 * The paths (dotted, with list indices) of the integral floats in JSON text as aiida-core wrote it (`2.0`,
 * `1e+16`), which JSON.parse reads as integers; empty for text without any (the common case, checked
 * without parsing). Keeping them lets the node be hashed and written again with floats where Python had floats.
 */
export function integralFloatPaths(text: string): string[] {
  if (!MAYBE_INTEGRAL_FLOAT.test(text)) return [];
  const found: string[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (isLosslessNumber(value)) {
      const raw = value.value;
      if (/[.eE]/.test(raw) && Number.isInteger(Number(raw))) found.push(path.join('.'));
      return;
    }
    if (Array.isArray(value)) value.forEach((item, index) => walk(item, [...path, String(index)]));
    else if (typeof value === 'object' && value !== null)
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
  };
  walk(parseLossless(text), []);
  return found;
}

// Kept beside the parsed values, not on them: a value read from the database must stay a plain JSON value.
const parsedFloatPaths = new WeakMap<object, string[]>();

/**
 * `JSON.parse` of a json/jsonb value as PostgreSQL sends it, remembering (for the parsed object or array) the paths
 * of the integral floats it held (`2.0`), which `JSON.parse` reads as integers. The pg driver parses these columns
 * before aiida-ts sees them, so this is its type parser: a node read from PostgreSQL then keeps its floats as one
 * read from SQLite does (its text), and hashes and writes them as aiida-core does.
 */
export function parseJsonKeepingFloats(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  if (typeof value === 'object' && value !== null) {
    const paths = integralFloatPaths(text);
    if (paths.length > 0) parsedFloatPaths.set(value, paths);
  }
  return value;
}

/**
 * The paths of the integral floats of a column value: found in its text (SQLite hands text over), or remembered by
 * {@link parseJsonKeepingFloats} (PostgreSQL's driver hands a parsed value over); empty otherwise.
 */
export function columnFloatPaths(raw: unknown): string[] {
  if (typeof raw === 'string') return integralFloatPaths(raw);
  if (typeof raw !== 'object' || raw === null) return [];
  return parsedFloatPaths.get(raw) ?? [];
}
