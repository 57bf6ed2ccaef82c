import { AiidaError } from '../../errors.js';
import { Node } from '../../orm/nodes/node.js';
import { ProcessAttribute, type ProcessNode } from '../../orm/nodes/process/process.js';
import { DialectName } from '../../storage/dialect.js';
import { asError } from '../../utils/as-error.js';
import type { WriteStatement } from '../../storage/backend.js';
import type { NewDbLink } from '../../storage/schema.js';
import type { WriteGuard } from '../write-guard.js';

/** How long a change may wait for more to join it before it is written anyway (ms). */
export const LAZY_WRITE_MS = 100;

/** Up to this many links are inserted with a plain statement, more with the storage's bulk insert. */
const SMALL_INSERT = 50;

/** Options of {@link NodeWriter.set}. */
export interface NodeWriterSetOptions {
  /** Start no write for these values: they go with the next write of the node (see {@link NodeWriter.set}). */
  readonly withNextWrite?: boolean;
}

/** A database write done with the next flush (a log record). */
export type PendingWrite = () => Promise<unknown>;

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return (
    a !== null &&
    b !== null &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    JSON.stringify(a) === JSON.stringify(b)
  );
}

/**
 * Writes what changes on a process node — its updatable attributes (state, status, exit code, checkpoint, paused,
 * sealed), the outputs to store with their links, its log records — coalescing everything asked for in one turn of
 * the event loop into one transaction: a state transition sets the state, the checkpoint and maybe the status, and
 * they reach the database together, with one commit. A value equal to the one already on the node is not written
 * again. Writes of one node are strictly ordered, and {@link flush} resolves once everything asked for so far is
 * stored. An unstored node (`store_provenance: false`) only changes in memory.
 *
 * A failed write is not retried (what it carried may be half written on PostgreSQL), and after one the node is never
 * sealed by this writer: the write that would seal it rejects with the first failure instead, so that a node whose
 * record is incomplete never looks complete (the engine then marks it excepted, see `ProcessProvenance.recordEnd`).
 */
export class NodeWriter {
  readonly #node: ProcessNode;
  #set: Record<string, unknown> = {};
  #remove = new Set<string>();
  #seal = false;
  #nodes: Node[] = [];
  #links: NewDbLink[] = [];
  #writes: PendingWrite[] = [];
  #statements: WriteStatement[] = [];
  #scheduled: Promise<void> | undefined;
  #dirty = false;
  /** Changes wait that started no write (see {@link NodeWriter.set}'s `withNextWrite`). */
  #waiting = false;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  /** Checks and completes every write of the node in its transaction (the daemon's lease of the process). */
  guard: WriteGuard | undefined;

  constructor(node: ProcessNode) {
    this.#node = node;
  }

  /**
   * The value an attribute will have once the changes asked so far are written: what the process's own steps must
   * read (a value set `withNextWrite` is on the node only after a later write).
   */
  pending(key: string): unknown {
    if (Object.hasOwn(this.#set, key)) return this.#set[key];
    if (this.#remove.has(key)) return undefined;
    return this.#node.base.attributes.get(key, undefined);
  }

  /**
   * Sets attributes (at the next write); values equal to the current ones are left out. With `withNextWrite`, they
   * start no write of their own: they wait for the next write the process makes anyway (its next state change, at the
   * latest its end), instead of being written {@link LAZY_WRITE_MS} later in a commit of their own.
   */
  set(values: Readonly<Record<string, unknown>>, options: NodeWriterSetOptions = {}): void {
    let changed = false;
    for (const [key, value] of Object.entries(values)) {
      if (sameValue(this.pending(key), value)) continue;
      this.#set[key] = value;
      this.#remove.delete(key);
      changed = true;
    }
    if (!changed) return;
    if (options.withNextWrite === true) this.#waiting = true;
    else this.#schedule();
  }

  /** Removes attributes if present (at the next write). */
  remove(...keys: string[]): void {
    let changed = false;
    for (const key of keys) {
      if (this.pending(key) === undefined) continue;
      delete this.#set[key];
      this.#remove.add(key);
      changed = true;
    }
    if (changed) this.#schedule();
  }

  /** Seals the node after the pending changes (nothing may change afterwards). */
  seal(): void {
    this.#seal = true;
    this.#schedule();
  }

  /** Stores these unstored nodes (with their cached incoming links) in the next write. */
  storeNodes(nodes: readonly Node[]): void {
    if (nodes.length === 0) return;
    for (const node of nodes) if (!this.#nodes.includes(node)) this.#nodes.push(node);
    this.#schedule();
  }

  /**
   * Resolves once the writes started so far have ended (never rejects; a failure is kept as {@link failure}). A
   * write in progress has taken its nodes from the pending ones and not stored them yet: a checkpoint taken
   * meanwhile could refer to them neither as pending nor as stored.
   */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Whether `node` is stored by the next write (a checkpoint written with that write may then refer to it). */
  willStore(node: Node): boolean {
    return this.#nodes.includes(node);
  }

  /** Inserts these links (between stored nodes, already validated) in the next write. */
  insertLinks(links: readonly NewDbLink[]): void {
    if (links.length === 0) return;
    this.#links.push(...links);
    this.#schedule();
  }

  /** Runs this database write (a log record) with the next write of the node; resolves once it is done. */
  enqueue(write: PendingWrite): Promise<void> {
    this.#writes.push(write);
    this.#schedule();
    return this.flush();
  }

  /**
   * Runs this database write (a setting) in the node's next write, in its transaction, without hastening that write:
   * what must be written anyway (the end of the process) carries it at no extra commit.
   */
  join(write: PendingWrite): void {
    this.#writes.push(write);
    this.#schedule();
  }

  /**
   * Runs this statement (a setting) in the node's next write, as {@link join} does: on PostgreSQL in the same
   * statement as the rest of that write when nothing else forbids it (one round trip, one commit).
   */
  joinStatement(statement: WriteStatement): void {
    this.#statements.push(statement);
    this.#schedule();
  }

  /**
   * Writes every change asked for so far (one macrotask later, so that what the same transition still adds joins
   * in) and resolves when it is stored; rejects with the failure of that write.
   */
  flush(): Promise<void> {
    if (this.#waiting && !this.#dirty && this.#scheduled === undefined) this.#dirty = true;
    if (!this.#dirty) return this.#scheduled ?? this.#chain;
    if (this.#scheduled !== undefined) return this.#scheduled;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#chain.then(
      () =>
        new Promise<void>((resolve, reject) => {
          setImmediate(() => {
            this.#scheduled = undefined;
            this.#dirty = false;
            this.#waiting = false;
            this.#write().then(resolve, reject);
          });
        }),
    );
    this.#scheduled = next;
    this.#chain = next.catch((error: unknown) => {
      this.#failure ??= asError(error, AiidaError);
    });
    return next;
  }

  /** Whether changes wait to be written. */
  get busy(): boolean {
    return this.#dirty || this.#waiting || this.#scheduled !== undefined;
  }

  /** The first write failure, if any write failed (a later write that seals the node rejects with it). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Marks changes to write: at the latest after {@link LAZY_WRITE_MS} (short-lived states of a process that ends
   * sooner are then written together with its end), or at the next {@link flush}.
   */
  #schedule(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => undefined);
    }, LAZY_WRITE_MS);
  }

  async #write(): Promise<void> {
    const set = this.#set;
    const removed = [...this.#remove];
    const seal = this.#seal;
    const nodes = this.#nodes;
    const links = this.#links;
    const writes = this.#writes;
    const statements = this.#statements;
    this.#set = {};
    this.#remove = new Set();
    this.#seal = false;
    this.#nodes = [];
    this.#links = [];
    this.#writes = [];
    this.#statements = [];
    const node = this.#node;
    if (node.isSealed) return;
    if (seal && this.#failure !== undefined) throw this.#failure;
    const remove = removed.filter((key) => node.base.attributes.has(key));
    if (seal) set[ProcessAttribute.SEALED] = true;
    const storage = node.storage;
    // checked (and, for an unstored node, done) now: a change the node refuses fails the write before any of it
    const update =
      Object.keys(set).length > 0 || remove.length > 0 ? node.prepareUpdate(set, remove) : undefined;
    if (storage === undefined) {
      // a node of no storage: nothing of its own to write, but what was handed in still runs (as before)
      if (nodes.length > 0) await Node.storeMany(nodes);
      for (const pending of writes) await pending();
      return;
    }
    // A guard (the daemon's lease of the process) checks and completes the write in its transaction, or in its one
    // statement on PostgreSQL.
    const guard = node.pk === null ? undefined : this.guard;
    const linkRows = links.length > 0 && links.length <= SMALL_INSERT ? [linksInsert(links)] : [];
    const tail = [...statements, ...(update === undefined ? [] : [update.statement])];
    const guarded = {
      pk: node.pk ?? 0,
      terminal: seal,
      checkpoint: Object.hasOwn(set, ProcessAttribute.CHECKPOINT),
    };
    if (
      (storage.dialect.name === DialectName.POSTGRES || guard === undefined) &&
      writes.length === 0 &&
      linkRows.length === links.length &&
      !storage.inTransaction()
    ) {
      // On PostgreSQL, the guard's check, outputs, their links, the settings and the state that says the process has
      // them go in one statement: one round trip and one commit, all or nothing (each part used to commit on its own,
      // in this order; the check, with the rest in a transaction). On SQLite (unguarded), they go in the transaction
      // of the outputs' insert, after it: one transaction, without a savepoint of the insert inside another.
      const fence = guard === undefined ? [] : guard.statements(guarded);
      if (fence !== undefined) {
        const written = [...linkRows, ...tail];
        if (nodes.length === 0 && written.length === 0) return;
        const all = [...fence, ...written];
        await storage.trackWrite(`the changes of node<${String(node.pk)}>`, async () => {
          if (nodes.length === 0 || !(await Node.storeManyThen(nodes, all))) await storage.executeWrites(all);
        });
        update?.written();
        guard?.committed(guarded);
        return;
      }
    }
    const write = async (): Promise<void> => {
      if (nodes.length > 0) await Node.storeMany(nodes);
      if (links.length > 0) {
        // A few rows go in one plain statement (no transaction of their own on PostgreSQL).
        if (links.length > SMALL_INSERT) await storage.bulkInsert('db_dblink', links);
        else await storage.executeWrites(linkRows);
      }
      for (const pending of writes) await pending();
      // tracked, as updateAttributes tracks its write: a storage closing meanwhile waits for it
      if (tail.length > 0)
        await storage.trackWrite(`the changes of node<${String(node.pk)}>`, () =>
          storage.executeWrites(tail),
        );
      update?.written();
    };
    // The order keeps the graph consistent at every point: outputs, then their links, then the state that says the
    // process has them. On PostgreSQL each statement commits on its own (fewer round trips than a transaction around
    // them); on SQLite, where a statement costs no round trip but a commit does, they share one transaction.
    // (a lone attribute update is one statement: no transaction around it)
    const count = (nodes.length > 0 ? 1 : 0) + (links.length > 0 ? 1 : 0) + writes.length + statements.length;
    const run =
      guard === undefined
        ? write
        : async (): Promise<void> => {
            await guard.before(storage.executor(), guarded);
            await write();
            await guard.after(storage.executor(), guarded);
          };
    const batch = storage.dialect.name === DialectName.SQLITE && count > 0 && !storage.inTransaction();
    if (batch || guard?.transactional(guarded) === true) await storage.transaction(run);
    else await run();
    guard?.committed(guarded);
  }
}

/** The statement inserting a few links (one row each). */
function linksInsert(links: readonly NewDbLink[]): WriteStatement {
  const rows = links.map((_, i) => `($${4 * i + 1}, $${4 * i + 2}, $${4 * i + 3}, $${4 * i + 4})`);
  return {
    text: `INSERT INTO db_dblink (input_id, output_id, label, type) VALUES ${rows.join(', ')}`,
    parameters: links.flatMap((link) => [link.input_id, link.output_id, link.label, link.type]),
  };
}
