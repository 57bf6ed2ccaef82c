import { MissingEntryPointError, ValidationError } from '../../errors.js';

/** The entry point groups node classes register in. */
export const NodeEntryPointGroup = { DATA: 'aiida.data', NODE: 'aiida.node' } as const;
export type NodeEntryPointGroup = (typeof NodeEntryPointGroup)[keyof typeof NodeEntryPointGroup];

/** What the registry knows of one node class. */
export interface NodeClassInfo {
  /** The `db_dbnode.node_type` value, e.g. `data.core.int.Int.`. */
  readonly nodeType: string;
  /** The full entry point string, e.g. `aiida.data:core.int`. */
  readonly entryPoint: string;
  readonly group: NodeEntryPointGroup;
  /** The entry point name, e.g. `core.int`. */
  readonly name: string;
  readonly cls: abstract new (...args: never[]) => unknown;
}

/** Options of {@link registerNodeClass}. */
export interface RegisterNodeClassOptions {
  readonly group: NodeEntryPointGroup;
  /** Entry point name: `core.int` in `aiida.data`, `process.calculation.calcjob` in `aiida.node`. */
  readonly name: string;
  /** The Python-style class name that ends the type string (`Int`, `CalcJobNode`). */
  readonly className: string;
  /** Loading an unknown type string whose prefix matches this class's falls back to this class. */
  readonly fallback?: boolean;
  /** Set the type string explicitly instead of deriving it (the root `Node` has `''`). */
  readonly nodeType?: string;
}

const byType = new Map<string, NodeClassInfo>();
const byClass = new Map<unknown, NodeClassInfo>();
const byEntryPoint = new Map<string, NodeClassInfo>();
const fallbacks: { prefix: string; info: NodeClassInfo }[] = [];

/** The type string aiida-core derives for a class of an entry point. */
export function nodeTypeFor(group: NodeEntryPointGroup, name: string, className: string): string {
  return group === NodeEntryPointGroup.DATA ? `data.${name}.${className}.` : `${name}.${className}.`;
}

/**
 * Registers a node class under an entry point, as a plugin package's `aiida.data`/`aiida.node` entry point
 * would: only registered classes can be stored, and loading a node finds its class from `node_type`.
 */
export function registerNodeClass(
  cls: abstract new (...args: never[]) => unknown,
  options: RegisterNodeClassOptions,
): NodeClassInfo {
  const nodeType = options.nodeType ?? nodeTypeFor(options.group, options.name, options.className);
  if (nodeType !== '' && !isValidNodeType(nodeType))
    throw new ValidationError(`invalid node type string \`${nodeType}\``);
  const existing = byType.get(nodeType);
  if (existing !== undefined && existing.cls !== cls) {
    throw new ValidationError(`node type \`${nodeType}\` is already registered for another class`);
  }
  const info: NodeClassInfo = {
    nodeType,
    entryPoint: `${options.group}:${options.name}`,
    group: options.group,
    name: options.name,
    cls,
  };
  byType.set(nodeType, info);
  byClass.set(cls, info);
  byEntryPoint.set(info.entryPoint, info);
  if (options.fallback === true) {
    // the prefix is the type string without the class name: `process.calculation.` for CalculationNode
    const prefix = nodeType === '' ? '' : nodeType.slice(0, nodeType.slice(0, -1).lastIndexOf('.') + 1);
    fallbacks.push({ prefix, info });
    fallbacks.sort((a, b) => b.prefix.length - a.prefix.length);
  }
  return info;
}

/** The registration of exactly this class (not inherited), or undefined. */
export function getNodeClassInfo(cls: unknown): NodeClassInfo | undefined {
  return byClass.get(cls);
}

/** The class registered for an entry point string such as `aiida.data:core.int` or a bare name `core.int`. */
export function getNodeClassByEntryPoint(entryPoint: string): NodeClassInfo {
  const info =
    byEntryPoint.get(entryPoint) ??
    byEntryPoint.get(`${NodeEntryPointGroup.DATA}:${entryPoint}`) ??
    byEntryPoint.get(`${NodeEntryPointGroup.NODE}:${entryPoint}`);
  if (info === undefined)
    throw new MissingEntryPointError(`no node class is registered for entry point \`${entryPoint}\``);
  return info;
}

/** A type string is empty or dot-separated and ends with a dot (`data.core.dict.Dict.`). */
export function isValidNodeType(nodeType: string): boolean {
  return nodeType === '' || (nodeType.endsWith('.') && nodeType.length > 1 && !nodeType.includes('..'));
}

/**
 * The class to instantiate for a stored `node_type`: the registered one, else the most specific registered
 * fallback whose prefix the type string starts with (`data.` → Data, `process.calculation.` → CalculationNode),
 * as aiida-core's `load_node_class` does for types whose plugin is not installed.
 */
export function resolveNodeClass(nodeType: string): NodeClassInfo {
  const exact = byType.get(nodeType);
  if (exact !== undefined) return exact;
  for (const { prefix, info } of fallbacks) {
    if (prefix !== '' && nodeType.startsWith(prefix)) return info;
  }
  const root = fallbacks.find((f) => f.prefix === '');
  if (root === undefined)
    throw new MissingEntryPointError(`no node class can load node type \`${nodeType}\``);
  return root.info;
}

/** Every registered node class. */
export function listNodeClasses(): NodeClassInfo[] {
  return [...byType.values()];
}
