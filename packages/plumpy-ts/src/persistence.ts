import { z } from 'zod';
import { PersistenceError } from './errors.js';
import { pidSchema, type Pid } from './messages.js';
import type { JsonValue } from './values.js';

/** The version of the checkpoint format this package writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** A checkpoint: a process's whole state as versioned JSON. */
export type Checkpoint = Readonly<Record<string, JsonValue>>;

/** The part of a checkpoint every reader checks first. */
export const checkpointEnvelopeSchema = z.looseObject({
  version: z.number().int(),
  class_name: z.string().min(1),
  pid: pidSchema,
});

/** Something that can be checkpointed: a process. */
export interface CheckpointSource {
  readonly pid: Pid;
  /** The state as JSON, taken at the moment of the call. */
  save(): Checkpoint;
}

/** Names a stored checkpoint (plumpy's `PersistedCheckpoint`). */
export interface PersistedCheckpoint {
  readonly pid: Pid;
  readonly tag: string | null;
}

/**
 * Stores checkpoints of processes, by pid and optional tag (plumpy's `Persister`). `saveCheckpoint` takes the
 * snapshot synchronously, before its first `await`, so a process may change right after the call.
 */
export interface Persister {
  saveCheckpoint(process: CheckpointSource, tag?: string | null): Promise<void>;
  /** The checkpoint; rejects with {@link PersistenceError} naming the pid when there is none or it is unreadable. */
  loadCheckpoint(pid: Pid, tag?: string | null): Promise<Checkpoint>;
  getCheckpoints(): Promise<PersistedCheckpoint[]>;
  getProcessCheckpoints(pid: Pid): Promise<PersistedCheckpoint[]>;
  /** Deletes a checkpoint; no error if there is none. */
  deleteCheckpoint(pid: Pid, tag?: string | null): Promise<void>;
  deleteProcessCheckpoints(pid: Pid): Promise<void>;
}

const checkpointJsonSchema = z.record(z.string(), z.unknown());

/** Parses stored checkpoint text; a {@link PersistenceError} naming the pid if it is not a JSON object. */
export function parseCheckpointText(text: string, pid: Pid): Checkpoint {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new PersistenceError('the checkpoint is not valid JSON', pid, { cause: error });
  }
  if (!checkpointJsonSchema.safeParse(value).success)
    throw new PersistenceError('the checkpoint is not a JSON object', pid);
  return value as Checkpoint;
}

function key(pid: Pid): string {
  return `${typeof pid}:${String(pid)}`;
}

/**
 * Keeps checkpoints in memory, as JSON text (so each load is a fresh copy and each save is checked to be
 * JSON). For tests and for processes that need not survive their JS process.
 */
export class InMemoryPersister implements Persister {
  readonly #store = new Map<string, { pid: Pid; tags: Map<string | null, string> }>();

  saveCheckpoint(process: CheckpointSource, tag: string | null = null): Promise<void> {
    const pid = process.pid;
    let text: string;
    try {
      text = JSON.stringify(process.save());
    } catch (error) {
      return Promise.reject(
        new PersistenceError('the checkpoint cannot be written as JSON', pid, { cause: error }),
      );
    }
    let entry = this.#store.get(key(pid));
    if (entry === undefined) {
      entry = { pid, tags: new Map() };
      this.#store.set(key(pid), entry);
    }
    entry.tags.set(tag, text);
    return Promise.resolve();
  }

  async loadCheckpoint(pid: Pid, tag: string | null = null): Promise<Checkpoint> {
    await Promise.resolve();
    const text = this.#store.get(key(pid))?.tags.get(tag);
    if (text === undefined)
      throw new PersistenceError(`no checkpoint${tag === null ? '' : ` with tag '${tag}'`}`, pid);
    return parseCheckpointText(text, pid);
  }

  getCheckpoints(): Promise<PersistedCheckpoint[]> {
    const out: PersistedCheckpoint[] = [];
    for (const { pid, tags } of this.#store.values()) for (const tag of tags.keys()) out.push({ pid, tag });
    return Promise.resolve(out);
  }

  getProcessCheckpoints(pid: Pid): Promise<PersistedCheckpoint[]> {
    const entry = this.#store.get(key(pid));
    return Promise.resolve(entry === undefined ? [] : [...entry.tags.keys()].map((tag) => ({ pid, tag })));
  }

  deleteCheckpoint(pid: Pid, tag: string | null = null): Promise<void> {
    const entry = this.#store.get(key(pid));
    entry?.tags.delete(tag);
    if (entry?.tags.size === 0) this.#store.delete(key(pid));
    return Promise.resolve();
  }

  deleteProcessCheckpoints(pid: Pid): Promise<void> {
    this.#store.delete(key(pid));
    return Promise.resolve();
  }

  /** Replaces a stored checkpoint's text (tests use it to corrupt checkpoints). */
  putRaw(pid: Pid, text: string, tag: string | null = null): void {
    let entry = this.#store.get(key(pid));
    if (entry === undefined) {
      entry = { pid, tags: new Map() };
      this.#store.set(key(pid), entry);
    }
    entry.tags.set(tag, text);
  }
}
