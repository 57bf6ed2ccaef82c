import { ValidationError } from '../../errors.js';
import { z } from 'zod';
import type { Bool, Dict, List, Str } from '../../orm/nodes/data/base.js';
import { Float, Int } from '../../orm/nodes/data/base.js';
import { Data } from '../../orm/nodes/data/data.js';
import type { Node } from '../../orm/nodes/node.js';
import { toAiidaType } from '../../orm/to-aiida-type.js';

/** A node class a port can name (`Int`, `Dict`, `StructureData`, `Data`, `WorkChainNode`, …). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NodeClassLike<N extends Node = Node> = abstract new (...args: any[]) => N;

/**
 * The plain values a port of class `C` turns into a node of that class (aiida's `to_aiida_type` serializer):
 * numbers for `Int`/`Float`, strings for `Str`, booleans for `Bool`, plain objects for `Dict`, arrays for `List`,
 * any of those for `Data` itself. Other classes take nodes only.
 */
export type RawValueOf<C> =
  C extends NodeClassLike<infer N>
    ? Data extends N
      ? number | bigint | string | boolean | Readonly<Record<string, unknown>> | readonly unknown[]
      : N extends Int
        ? number | bigint
        : N extends Float
          ? number
          : N extends Str
            ? string
            : N extends Bool
              ? boolean
              : N extends Dict
                ? Readonly<Record<string, unknown>>
                : N extends List
                  ? readonly unknown[]
                  : never
    : never;

/** A zod schema whose input is a node of one of `Cs` (or a plain value it converts) and whose output is the node. */
export type NodeSchema<N extends Node, Raw> = z.ZodType<N, N | Raw>;

/** Options of {@link nodeType}. */
export interface NodeTypeOptions {
  /**
   * Convert plain values (numbers, strings, booleans, plain objects, arrays) to nodes of the port's class, as
   * aiida's `to_aiida_type` serializer does (default true).
   */
  readonly serialize?: boolean;
}

const schemaClasses = new WeakMap<z.ZodType, readonly NodeClassLike[]>();
const nonDbSchemas = new WeakSet<z.ZodType>();

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** The node of class `cls` for a plain value, or undefined when `cls` takes no such plain value. */
function convert(value: unknown, classes: readonly NodeClassLike[]): Node | undefined {
  for (const cls of classes) {
    // A plain number for a Float port is a Float even when integral (JS has no 1.0).
    if (cls === Float && typeof value === 'number' && Number.isFinite(value)) return new Float(value);
    if (
      cls === Int &&
      (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)))
    ) {
      return new Int(value);
    }
  }
  let node: Data;
  try {
    node = toAiidaType(value);
  } catch {
    return undefined;
  }
  return classes.some((cls) => node instanceof cls) ? node : undefined;
}

/**
 * The value type of a port that holds a node of one of `classes` (aiida's `valid_type=(Int, Float)` with the
 * `to_aiida_type` serializer). Plain values are converted unless `serialize` is false. Its input type is the node
 * or the plain values that convert, its output the node: wiring a `Str` into an `Int` port is a compile error.
 */
export function nodeType<const Cs extends readonly [NodeClassLike, ...NodeClassLike[]]>(
  ...classes: Cs
): NodeSchema<InstanceType<Cs[number]>, RawValueOf<Cs[number]>>;
export function nodeType<const Cs extends readonly [NodeClassLike, ...NodeClassLike[]]>(
  ...args: [...Cs, NodeTypeOptions]
): NodeSchema<InstanceType<Cs[number]>, RawValueOf<Cs[number]>>;
export function nodeType(...args: unknown[]): z.ZodType {
  const last = args.at(-1);
  const options: NodeTypeOptions =
    typeof last === 'function' ? {} : ((args.pop() as NodeTypeOptions | undefined) ?? {});
  const classes = args as NodeClassLike[];
  if (classes.length === 0 || classes.some((cls) => typeof cls !== 'function')) {
    throw new ValidationError('nodeType() needs at least one node class');
  }
  const serialize = options.serialize ?? true;
  const names = classes.map((cls) => cls.name).join(' | ');
  const schema = z
    .any()
    .transform((value: unknown, ctx) => {
      if (classes.some((cls) => value instanceof cls)) return value as Node;
      if (serialize) {
        const node = convert(value, classes);
        if (node !== undefined) return node;
      }
      ctx.addIssue({ code: 'custom', message: `expected ${names}, got ${describeValue(value)}` });
      return z.NEVER;
    })
    .describe(names);
  schemaClasses.set(schema, classes);
  return schema;
}

/** The node classes a value type made by {@link nodeType} accepts, or undefined for other schemas. */
export function nodeClassesOf(schema: z.ZodType | undefined): readonly NodeClassLike[] | undefined {
  return schema === undefined ? undefined : schemaClasses.get(schema);
}

/**
 * Marks a port's value type as not stored in the provenance graph (aiida's `non_db=True`): values of such ports
 * reach the process but are never linked to its node. Returns the schema itself.
 */
export function nonDb<S extends z.ZodType>(schema: S): S {
  nonDbSchemas.add(schema);
  return schema;
}

/** Whether the value type was marked with {@link nonDb}. */
export function isNonDb(schema: z.ZodType | undefined): boolean {
  return schema !== undefined && nonDbSchemas.has(schema);
}

/** The value type of a dynamic namespace of data nodes (aiida's default `valid_type=Data`), plain values refused. */
export const anyData = nodeType(Data, { serialize: false });
