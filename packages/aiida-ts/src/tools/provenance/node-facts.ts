import type { Node } from '../../orm/nodes/node.js';
import { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';

/** What both exporters say about a node, read once. */

/** The base types whose single `value` attribute is the node's value (aiida-core's `BaseType`s). */
const BASE_TYPES = new Set([
  'data.core.int.Int.',
  'data.core.float.Float.',
  'data.core.str.Str.',
  'data.core.bool.Bool.',
]);

/** The value of an `Int`, `Float`, `Str` or `Bool` node; undefined for other nodes. */
export function baseValue(node: Node): string | number | boolean | undefined {
  if (!BASE_TYPES.has(node.nodeType)) return undefined;
  const value = node.attributes.get('value', undefined);
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? value
    : undefined;
}

/** A short human name: `Int<12>`, or the node's label when it has one (`Int<12> "x"`). */
export function displayName(node: Node): string {
  const name =
    node instanceof ProcessNode ? (node.processLabel ?? node.constructor.name) : node.constructor.name;
  const base = `${name}<${String(node.pk)}>`;
  return node.label === '' ? base : `${base} "${node.label}"`;
}

/** True for calculation jobs: they ran a code on a computer. */
export function isCalcJob(node: Node): boolean {
  return node instanceof CalcJobNode;
}

/** The attributes as JSON (sorted keys at the top level, so exports are reproducible). */
export function attributesJson(node: Node): string {
  const attributes = node.attributes.all();
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(attributes).sort()) sorted[key] = attributes[key];
  return JSON.stringify(sorted);
}

/** The time a process ended: its last modification, which sealing fixes for good. */
export function endTime(node: ProcessNode): string {
  return node.mtimeIso ?? node.ctimeIso;
}
