import { InvalidOperationError, ValidationError } from '../../errors.js';
import { Node } from './node.js';
import { mapFloats } from '../utils/float-paths.js';
import { ProcessNode } from './process/process.js';
import { CalcJobNode } from './process/calcjob.js';
import { cleanValue, type JsonValue } from '../utils/clean.js';
import { setNodeHasher } from './store-hooks.js';
import { HashFloat, makeHash, type Hashable } from '../../repository/make-hash.js';
import { loadTreeHash, treeHashReady } from '../../repository/tree-blake2b.js';

/** The extra holding a node's hash (aiida's `_aiida_hash`). */
export const HASH_EXTRA_KEY = '_aiida_hash';
/** The extra naming the node a cached process was cloned from (aiida's `_aiida_cached_from`). */
export const CACHED_FROM_KEY = '_aiida_cached_from';
/** The extra that, set to false, keeps a node from being used as a cache source (aiida's `_aiida_valid_cache`). */
export const VALID_CACHE_KEY = '_aiida_valid_cache';

/** Attributes left out of every process node's hash (aiida's `_hash_ignored_attributes`). */
const PROCESS_HASH_IGNORED = ['metadata_inputs'];
/** Scheduler settings and the version do not change what a calculation job computes. */
const CALCJOB_HASH_IGNORED = [
  'queue_name',
  'account',
  'qos',
  'priority',
  'max_wallclock_seconds',
  'max_memory_kb',
  'version',
];

// aiida-core's module of each core class whose path is not `aiida.orm.nodes.data.<name>`.
const DATA_MODULES: Record<string, string> = {
  'array.ArrayData': 'array.array',
  'remote.RemoteData': 'remote.base',
  'remote.stash.RemoteStashData': 'remote.stash.base',
  'code.Code': 'code.legacy',
};

/**
 * The Python class aiida-core writes for a node type (`str(node.__class__)` is part of the hash): a core
 * `data.core.int.Int.` is `aiida.orm.nodes.data.int.Int`, a `process.workflow.workchain.WorkChainNode.` is
 * `aiida.orm.nodes.process.workflow.workchain.WorkChainNode`. Types of other plugins keep their type string.
 */
export function pythonClassPath(nodeType: string): string {
  let path = classPaths.get(nodeType);
  if (path === undefined) {
    path = computePythonClassPath(nodeType);
    if (classPaths.size >= 1024) classPaths.clear();
    classPaths.set(nodeType, path);
  }
  return path;
}
const classPaths = new Map<string, string>();

// `str(node.__class__)` as aiida-core writes it, kept by node type (the same few types are hashed over and over)
const classTexts = new Map<string, string>();
function classText(nodeType: string): string {
  let text = classTexts.get(nodeType);
  if (text === undefined) {
    text = `<class '${pythonClassPath(nodeType)}'>`;
    if (classTexts.size >= 1024) classTexts.clear();
    classTexts.set(nodeType, text);
  }
  return text;
}

function computePythonClassPath(nodeType: string): string {
  const parts = nodeType.split('.').filter((part) => part !== '');
  const className = parts.pop() ?? 'Node';
  if (parts[0] === 'data' && parts[1] === 'core') {
    const path = parts.slice(2).join('.');
    const module = DATA_MODULES[`${path}.${className}`] ?? path;
    return `aiida.orm.nodes.data.${module}.${className}`;
  }
  if (parts[0] === 'process') return `aiida.orm.nodes.${parts.join('.')}.${className}`;
  if (nodeType === '') return 'aiida.orm.nodes.node.Node';
  // The base Data class lives in `aiida.orm.nodes.data.data`.
  if (nodeType === 'data.Data.') return 'aiida.orm.nodes.data.data.Data';
  return nodeType.slice(0, -1);
}

let emptyHash: string | undefined;
function emptyRepositoryHash(): string {
  emptyHash ??= makeHash({ __dirnames__: [] });
  return emptyHash;
}

// by class: what a class ignores does not change once it is defined
const ignoredByClass = new WeakMap<object, ReadonlySet<string>>();

function ignoredAttributes(node: Node): ReadonlySet<string> {
  const cls = node.constructor as typeof Node;
  let ignored = ignoredByClass.get(cls);
  if (ignored === undefined) {
    const keys = new Set<string>(cls.updatableAttributes);
    if (node instanceof ProcessNode) for (const key of PROCESS_HASH_IGNORED) keys.add(key);
    if (node instanceof CalcJobNode) for (const key of CALCJOB_HASH_IGNORED) keys.add(key);
    ignored = keys;
    ignoredByClass.set(cls, ignored);
  }
  return ignored;
}

/** What the hash of a node is made of; for a process node also the hashes of its inputs, by link label. */
export interface HashObjectsOptions {
  /** Hashes of the input nodes by link label (process nodes); computed from the incoming links when omitted. */
  readonly inputHashes?: Readonly<Record<string, string>>;
  /**
   * The node's attributes already checked and cleaned for storing (`cleanValue` of each), as the store path has
   * them: saves cleaning them again.
   */
  readonly cleanedAttributes?: Readonly<Record<string, JsonValue>> | undefined;
}

/** The attributes that go into a node's hash, with Python floats marked as such. */
function hashedAttributes(node: Node, options: HashObjectsOptions): Readonly<Record<string, Hashable>> {
  const ignored = ignoredAttributes(node);
  const cleaned = options.cleanedAttributes;
  // nothing to leave out (data nodes): hashed as they are, without a copy per node
  if (cleaned !== undefined && ignored.size === 0) return withFloats(node, cleaned);
  const attributes: Record<string, Hashable> = {};
  if (cleaned !== undefined) {
    for (const key of Object.keys(cleaned)) if (!ignored.has(key)) attributes[key] = cleaned[key];
  } else {
    for (const [key, value] of Object.entries(node.base.attributes.all())) {
      if (ignored.has(key)) continue;
      try {
        attributes[key] = cleanValue(value, `attributes.${key}`, { depth: 1 });
      } catch (error) {
        // the node cannot be stored either: say which node
        if (!(error instanceof ValidationError)) throw error;
        throw new ValidationError(
          `${node.constructor.name} node ${node.uuid} cannot be stored`,
          error.issues,
          {
            cause: error,
          },
        );
      }
    }
  }
  return withFloats(node, attributes as Record<string, JsonValue>);
}

/** Python floats stay floats in the hash even when integral (a Float's value, a structure's cell, …). */
function withFloats(
  node: Node,
  attributes: Readonly<Record<string, JsonValue>>,
): Readonly<Record<string, Hashable>> {
  const floats = node.attributeFloatPaths;
  if (floats.length === 0) return attributes;
  return mapFloats(attributes, floats, (value) => new HashFloat(value));
}

/**
 * The hash of a data node with no computer and no files, computed without awaiting anything (a batch of 10,000
 * such nodes then hashes in one synchronous run); undefined when the node needs more (it is then hashed by
 * {@link computeNodeHash}, with the same result).
 */
function dataNodeHashNow(node: Node, options: HashObjectsOptions): string | undefined {
  if (!treeHashReady() || node instanceof ProcessNode || node.computerId !== null) return undefined;
  if (!Node.repositoryIsEmpty(node)) return undefined;
  return makeHash({
    class: classText(node.nodeType),
    attributes: hashedAttributes(node, options),
    repository_hash: emptyRepositoryHash(),
    computer_uuid: null,
  });
}

/**
 * The objects aiida-core hashes for a node (`get_objects_to_hash`): its class, attributes except the updatable and
 * ignored ones, the hash of its files and its computer's uuid; plus, for process nodes, the hashes of its inputs.
 */
export async function objectsToHash(node: Node, options: HashObjectsOptions = {}): Promise<Hashable> {
  const hashed = hashedAttributes(node, options);
  const computer = node.computerId === null ? null : await node.getComputer();
  const objects: Record<string, Hashable> = {
    class: classText(node.nodeType),
    attributes: hashed,
    // Most nodes have no files: their repository hash is the hash of an empty mapping, computed once.
    repository_hash: Node.repositoryIsEmpty(node) ? emptyRepositoryHash() : await node.repository.hash(),
    computer_uuid: computer?.uuid ?? null,
  };
  // A calculation job is hashed when it is stored, before its input files exist (aiida's `CalcJobNodeCaching`).
  if (node instanceof CalcJobNode) delete objects['repository_hash'];
  if (node instanceof ProcessNode) {
    objects['inputs'] = options.inputHashes ?? (await inputHashes(node));
  }
  return objects;
}

async function inputHashes(node: ProcessNode): Promise<Record<string, string>> {
  const links = await node.base.links.getIncoming({ linkType: ['input_calc', 'input_work'] });
  const out: Record<string, string> = {};
  for (const { node: input, linkLabel } of links) out[linkLabel] = await nodeHash(input);
  return out;
}

/**
 * The hash of a node (aiida's `NodeCaching._compute_hash`): equal for nodes with the same class, content, files and
 * computer, and, for processes, the same inputs. Reproduces aiida-core's `_aiida_hash` digest for digest.
 */
export async function computeNodeHash(node: Node, options: HashObjectsOptions = {}): Promise<string> {
  // Wait for the WebAssembly BLAKE2b (compiled once, then an already settled promise): a batch of stores that never
  // yields to the event loop would otherwise hash every node with the JavaScript fallback, ~6× slower.
  await loadTreeHash();
  return makeHash(await objectsToHash(node, options));
}

/** The stored hash of a node (its `_aiida_hash` extra) or, when it has none, the computed one. */
export async function nodeHash(node: Node): Promise<string> {
  return storedHashNow(node) ?? computeNodeHash(node);
}

/** Recomputes the hash of a stored node and saves it as its `_aiida_hash` extra (aiida's `rehash`). */
export async function rehashNode(node: Node): Promise<string> {
  if (!node.isStored)
    throw new InvalidOperationError('You can get the hash only after having stored the node');
  const hash = await computeNodeHash(node);
  await node.base.extras.set(HASH_EXTRA_KEY, hash);
  return hash;
}

/** Sets the `_aiida_hash` extra of an unstored node before it is stored (the engine hashes every node it stores). */
export async function hashBeforeStore(node: Node, options: HashObjectsOptions = {}): Promise<string> {
  // a data node without files or computer (the inputs and outputs of most process functions) hashes at once
  const hash = dataNodeHashNow(node, options) ?? (await computeNodeHash(node, options));
  await node.base.extras.set(HASH_EXTRA_KEY, hash);
  return hash;
}

/**
 * {@link hashBeforeStore} done at once, without a promise, when that is possible: for an unstored data node without
 * files or computer (most inputs and outputs of process functions), whose extras change in memory only. Undefined
 * otherwise (nothing is set): the caller then awaits {@link hashBeforeStore}. The engine hashes several nodes on
 * every call of a process function, where each awaited step costs more than the hash.
 */
export function hashBeforeStoreNow(node: Node, options: HashObjectsOptions = {}): string | undefined {
  if (node.isStored) return undefined;
  const hash = dataNodeHashNow(node, options);
  if (hash === undefined) return undefined;
  // an unstored entity's extras are set before `set` returns; its promise only resolves
  void node.base.extras.set(HASH_EXTRA_KEY, hash);
  return hash;
}

/** The `_aiida_hash` extra of a node that has one, at once; undefined when it must be computed ({@link nodeHash}). */
export function storedHashNow(node: Node): string | undefined {
  const stored = node.base.extras.get(HASH_EXTRA_KEY, null);
  return typeof stored === 'string' ? stored : undefined;
}

// Every data node gets its `_aiida_hash` extra when it is stored, whatever stores it (`store`, `storeAll`,
// `storeMany`), as in aiida-core. Process nodes are hashed by the engine, once their inputs are linked.
setNodeHasher((node, cleanedAttributes) =>
  node instanceof ProcessNode
    ? undefined
    : (dataNodeHashNow(node, { cleanedAttributes }) ?? computeNodeHash(node, { cleanedAttributes })),
);
