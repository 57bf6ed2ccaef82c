import { ProcessAttribute, type ProcessNode } from '../../orm/nodes/process/process.js';

/**
 * Writes the changing attributes of a process node (state, status, exit code, checkpoint, paused, sealed), coalescing
 * every change made in one turn of the event loop into one UPDATE: a state transition sets the state, the checkpoint
 * and maybe the status, and these reach the database together. Writes of one node are strictly ordered, and
 * {@link flush} resolves once everything asked for so far is stored. An unstored node (`store_provenance: false`)
 * only changes in memory.
 */
export class NodeWriter {
  readonly #node: ProcessNode;
  #set: Record<string, unknown> = {};
  #remove = new Set<string>();
  #seal = false;
  #scheduled: Promise<void> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failure: unknown;

  constructor(node: ProcessNode) {
    this.#node = node;
  }

  /** Sets attributes (at the next write). */
  set(values: Readonly<Record<string, unknown>>): void {
    for (const [key, value] of Object.entries(values)) {
      this.#set[key] = value;
      this.#remove.delete(key);
    }
    this.#schedule();
  }

  /** Removes attributes if present (at the next write). */
  remove(...keys: string[]): void {
    for (const key of keys) {
      delete this.#set[key];
      this.#remove.add(key);
    }
    this.#schedule();
  }

  /** Seals the node after the pending changes (nothing may change afterwards). */
  seal(): void {
    this.#seal = true;
    this.#schedule();
  }

  /** Resolves when every change asked for so far is written; rejects with the first write failure. */
  flush(): Promise<void> {
    return this.#scheduled ?? this.#chain;
  }

  /** Whether a write is pending or running. */
  get busy(): boolean {
    return this.#scheduled !== undefined;
  }

  #schedule(): void {
    if (this.#scheduled !== undefined) return;
    // One macrotask later: the hooks of a transition and the checkpoint the persister takes after them (in a
    // microtask) all land in the same write.
    const next = this.#chain.then(
      () =>
        new Promise<void>((resolve, reject) => {
          setImmediate(() => {
            this.#scheduled = undefined;
            this.#write().then(resolve, reject);
          });
        }),
    );
    this.#scheduled = next;
    this.#chain = next.catch((error: unknown) => {
      this.#failure ??= error;
    });
  }

  /** The first write failure, if any write failed. */
  get failure(): unknown {
    return this.#failure;
  }

  async #write(): Promise<void> {
    const set = this.#set;
    const remove = [...this.#remove].filter((key) => this.#node.base.attributes.has(key));
    const seal = this.#seal;
    this.#set = {};
    this.#remove = new Set();
    this.#seal = false;
    const node = this.#node;
    if (node.isSealed) return;
    for (const key of remove) await node.deleteAttribute(key);
    if (seal) set[ProcessAttribute.SEALED] = true;
    if (Object.keys(set).length > 0) await node.setAttributes(set);
  }
}
