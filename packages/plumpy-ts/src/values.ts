import { z } from 'zod';

/** A JSON value: what checkpoints and wire messages are made of. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Schema of any JSON value (finite numbers only). */
export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
);

/**
 * True for the mappings ports treat as namespaces: object literals and `Object.create(null)` objects. Class
 * instances (nodes, dates, maps) are leaf values.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Copies the nested plain-object structure of `value`, sharing its leaves (plumpy copies dicts, not values). */
export function copyMappings<T>(value: T): T {
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(value)) out[key] = copyMappings(sub);
  return out as T;
}

/** Freezes the nested plain-object structure of `value` (its leaves stay as they are); returns `value`. */
export function freezeMappings<T>(value: T): T {
  if (!isPlainObject(value) || Object.isFrozen(value)) return value;
  for (const sub of Object.values(value)) freezeMappings(sub);
  return Object.freeze(value);
}

/** `a.b.c` → `['a', 'b', 'c']`. */
export function splitPath(path: string): string[] {
  return path.split('.');
}
