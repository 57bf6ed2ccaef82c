import type { StorageBackend } from '../../storage/backend.js';
import type { JsonValue } from '../utils/clean.js';
import type { Node } from './node.js';

/** Called after nodes were stored (their transaction committed), with the storage and the nodes, in order. */
export type NodesStoredHook = (storage: StorageBackend, nodes: readonly Node[]) => Promise<void> | void;

const hooks = new Set<NodesStoredHook>();

/**
 * Runs `hook` after every store of nodes in this JS process (`store`, `storeAll`, `storeMany`, the engine's
 * writes); returns a function removing it. A hook that throws makes the store reject (the nodes stay stored):
 * what it does is part of the store the caller relies on. This is how aiida-core's `verdi run --auto-group`
 * puts every stored node in a group, without the ORM knowing about groups.
 */
export function addNodesStoredHook(hook: NodesStoredHook): () => void {
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

/** Runs the hooks for nodes just stored (called by the node's store path). */
export async function runNodesStoredHooks(storage: StorageBackend, nodes: readonly Node[]): Promise<void> {
  for (const hook of hooks) await hook(storage, nodes);
}

/**
 * Computes the `_aiida_hash` of a node about to be stored; undefined leaves the node without one. The store path
 * passes the attributes it has already cleaned for storing, so the hasher need not clean them again.
 */
export type NodeHasher = (
  node: Node,
  cleanedAttributes?: Readonly<Record<string, JsonValue>>,
) => Promise<string | undefined> | string | undefined;

let hasher: NodeHasher | undefined;

/**
 * Installs the function that gives every node its `_aiida_hash` extra as it is stored (set by
 * `orm/nodes/caching.ts` when it loads: the hash needs the node classes, which import the ORM's node module).
 */
export function setNodeHasher(value: NodeHasher | undefined): void {
  hasher = value;
}

/** The installed {@link NodeHasher}, if any. */
export function nodeHasher(): NodeHasher | undefined {
  return hasher;
}
