import {
  PersistenceError,
  parseCheckpointText,
  type Checkpoint,
  type CheckpointSource,
  type JsonValue,
  type PersistedCheckpoint,
  type Persister,
  type Pid,
} from 'plumpy-ts';
import { NotExistentError } from '../errors.js';
import { Computer } from '../orm/entities/computer.js';
import { LinkType } from '../orm/links.js';
import { loadNode } from '../orm/loaders.js';
import type { Node } from '../orm/nodes/node.js';
import { ProcessAttribute, ProcessNode } from '../orm/nodes/process/process.js';
import type { StorageBackend } from '../storage/backend.js';
import type { NodeWriter } from './processes/node-writer.js';

/** The key under which a checkpoint refers to a stored node (by uuid). */
export const NODE_REF_KEY = '!node';

/** A node inside a checkpoint: `{"!node": uuid}`; the node must be stored. */
export function encodeNodeRef(node: Node): JsonValue {
  if (!node.isStored) {
    throw new PersistenceError(`cannot checkpoint the unstored node ${node.uuid}: store it first`);
  }
  return { [NODE_REF_KEY]: node.uuid };
}

/** The key under which a checkpoint refers to a stored computer (by uuid): `metadata.computer` of calculation jobs. */
export const COMPUTER_REF_KEY = '!computer';

/** A computer inside a checkpoint: `{"!computer": uuid}`; the computer must be stored. */
export function encodeComputerRef(computer: Computer): JsonValue {
  if (!computer.isStored) {
    throw new PersistenceError(`cannot checkpoint the unstored computer ${computer.label}: store it first`);
  }
  return { [COMPUTER_REF_KEY]: computer.uuid };
}

/** The uuid of a computer reference, or undefined for any other JSON value. */
export function computerRefUuid(json: JsonValue): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const record = json as Readonly<Record<string, JsonValue>>;
  const uuid = record[COMPUTER_REF_KEY];
  return typeof uuid === 'string' && Object.keys(record).length === 1 ? uuid : undefined;
}

/** The uuid of a node reference, or undefined for any other JSON value. */
export function nodeRefUuid(json: JsonValue): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const record = json as Readonly<Record<string, JsonValue>>;
  const uuid = record[NODE_REF_KEY];
  return typeof uuid === 'string' && Object.keys(record).length === 1 ? uuid : undefined;
}

function collectRefs(json: JsonValue, into: Set<string>, computers: Set<string>): void {
  const uuid = nodeRefUuid(json);
  if (uuid !== undefined) {
    into.add(uuid);
    return;
  }
  const computer = computerRefUuid(json);
  if (computer !== undefined) {
    computers.add(computer);
    return;
  }
  if (json === null || typeof json !== 'object') return;
  for (const value of Array.isArray(json) ? json : Object.values(json))
    collectRefs(value as JsonValue, into, computers);
}

// Checkpoints are decoded synchronously (plumpy's load), nodes are loaded asynchronously: the persister loads every
// node a checkpoint refers to before handing it out, and the process reads them from here while it is being loaded.
/** What a process being loaded finds ready: its node, the nodes and computers its checkpoint refers to. */
export interface Preloaded {
  readonly process: ProcessNode;
  readonly nodes: Map<string, Node>;
  readonly computers: Map<string, Computer>;
  /**
   * The labels of the outputs already linked to the node (`create`/`return`). A run lost after it linked an output
   * but before its next checkpoint left links the checkpoint does not know: the replayed step must not link them again.
   */
  readonly linkedOutputs: ReadonlySet<string>;
}

const preloaded = new Map<string, Preloaded>();

/** The nodes preloaded for the process `pid` (its own node and every node and computer its checkpoint refers to). */
export function preloadedFor(pid: Pid): Preloaded | undefined {
  return preloaded.get(String(pid));
}

/** Makes `process` (with no other node) the preloaded node of `pid`: to load a handle on a process from its node. */
export function preloadProcessNode(pid: Pid, process: ProcessNode): void {
  preloaded.set(String(pid), { process, nodes: new Map(), computers: new Map(), linkedOutputs: new Set() });
}

/** Forgets the preloaded nodes of `pid` (once the process is loaded). */
export function releasePreloaded(pid: Pid): void {
  preloaded.delete(String(pid));
}

/**
 * Keeps process checkpoints on their process node, in the `checkpoints` attribute, as aiida's `AiiDAPersister` does
 * (JSON text instead of aiida's YAML). Checkpoints of aiida-ts processes are written together with the node's state
 * change (one UPDATE per transition); tags are not supported, and a checkpoint is deleted when its process ends.
 */
export class AiidaPersister implements Persister {
  readonly #storage: () => StorageBackend;
  readonly #writerOf: (pid: Pid) => NodeWriter | undefined;

  /**
   * `storage` gives the storage the process nodes live in; `writerOf` the attribute writer of a process running
   * here, so that its checkpoint is written with its state change.
   */
  constructor(
    storage: () => StorageBackend,
    writerOf: (pid: Pid) => NodeWriter | undefined = () => undefined,
  ) {
    this.#storage = storage;
    this.#writerOf = writerOf;
  }

  /** Writes the checkpoint of a process that has not terminated (a terminated process keeps none). */
  saveCheckpoint(process: CheckpointSource, tag: string | null = null): Promise<void> {
    if (tag !== null)
      return Promise.reject(new PersistenceError('checkpoint tags are not supported', process.pid));
    let text: string;
    try {
      const snapshot = process.save();
      const label = (snapshot['state'] as { label?: unknown } | undefined)?.label;
      if (label === 'finished' || label === 'excepted' || label === 'killed') return Promise.resolve();
      text = JSON.stringify(snapshot);
    } catch (error) {
      return Promise.reject(
        new PersistenceError('the checkpoint cannot be written as JSON', process.pid, { cause: error }),
      );
    }
    const writer = this.#writerOf(process.pid);
    if (writer !== undefined) {
      // Written with the state it belongs to, when the process's writer next writes (see `recordState`).
      writer.set({ [ProcessAttribute.CHECKPOINT]: text });
      return Promise.resolve();
    }
    return this.#writeDirectly(process.pid, text);
  }

  async #writeDirectly(pid: Pid, text: string): Promise<void> {
    const node = await this.#processNode(pid);
    await node.setCheckpoint(text);
  }

  async #processNode(pid: Pid): Promise<ProcessNode> {
    let node: Node;
    try {
      node = await loadNode(pid, { storage: this.#storage() });
    } catch (error) {
      throw new PersistenceError(`no process node with pk ${String(pid)}`, pid, { cause: error });
    }
    if (!(node instanceof ProcessNode))
      throw new PersistenceError(`node ${String(pid)} is not a process node`, pid);
    return node;
  }

  /**
   * The checkpoint stored on the process node `pid`; every node it refers to is loaded first. A
   * {@link PersistenceError} when the node does not exist, has no checkpoint, or the checkpoint is unreadable.
   */
  async loadCheckpoint(pid: Pid, tag: string | null = null): Promise<Checkpoint> {
    if (tag !== null) throw new PersistenceError('checkpoint tags are not supported', pid);
    return this.loadCheckpointOf(await this.#processNode(pid));
  }

  /**
   * {@link loadCheckpoint} from a process node the caller has just read (a daemon worker's claim): a round trip less
   * before the first step.
   */
  async loadCheckpointOf(node: ProcessNode): Promise<Checkpoint> {
    const pid = node.pk ?? node.uuid;
    const text = node.checkpoint;
    if (text === null) throw new PersistenceError(`process node ${String(pid)} has no checkpoint`, pid);
    const checkpoint = parseCheckpointText(text, pid);
    const uuids = new Set<string>();
    const computerUuids = new Set<string>();
    collectRefs(checkpoint, uuids, computerUuids);
    const computers = new Map<string, Computer>();
    for (const uuid of computerUuids) {
      try {
        computers.set(uuid, await Computer.get({ uuid }, { storage: this.#storage() }));
      } catch (error) {
        throw new PersistenceError(
          `the checkpoint refers to the computer ${uuid}, which does not exist`,
          pid,
          {
            cause: error,
          },
        );
      }
    }
    const nodes = new Map<string, Node>();
    for (const uuid of uuids) {
      try {
        nodes.set(uuid, await loadNode(uuid, { storage: this.#storage() }));
      } catch (error) {
        if (error instanceof NotExistentError) {
          throw new PersistenceError(`the checkpoint refers to the node ${uuid}, which does not exist`, pid, {
            cause: error,
          });
        }
        throw error;
      }
    }
    // A process that has not run yet has linked no output: no need to ask (the first claim of every process).
    const created = (checkpoint['state'] as { label?: unknown } | undefined)?.label === 'created';
    const outputLinks = created
      ? []
      : await this.#storage()
          .executor()
          .selectFrom('db_dblink')
          .select('label')
          .where('input_id', '=', Number(pid))
          .where('type', 'in', [LinkType.CREATE, LinkType.RETURN])
          .execute();
    const linkedOutputs = new Set(outputLinks.map((link) => link.label));
    preloaded.set(String(pid), { process: node, nodes, computers, linkedOutputs });
    return checkpoint;
  }

  /** Not available: checkpoints live on the nodes of the processes that are running (as in aiida). */
  getCheckpoints(): Promise<PersistedCheckpoint[]> {
    return Promise.reject(
      new PersistenceError('listing every checkpoint is not supported; query the process nodes'),
    );
  }

  async getProcessCheckpoints(pid: Pid): Promise<PersistedCheckpoint[]> {
    const node = await this.#processNode(pid);
    return node.checkpoint === null ? [] : [{ pid, tag: null }];
  }

  async deleteCheckpoint(pid: Pid, tag: string | null = null): Promise<void> {
    if (tag !== null) throw new PersistenceError('checkpoint tags are not supported', pid);
    const node = await this.#processNode(pid);
    if (node.base.attributes.has(ProcessAttribute.CHECKPOINT) && !node.isSealed)
      await node.deleteCheckpoint();
  }

  async deleteProcessCheckpoints(pid: Pid): Promise<void> {
    await this.deleteCheckpoint(pid);
  }
}
