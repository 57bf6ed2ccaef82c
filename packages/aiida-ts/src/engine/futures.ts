import { BroadcastFilter, type Communicator } from 'kiwipy-ts';
import { NotExistentError, ValidationError } from '../errors.js';
import { loadNode } from '../orm/loaders.js';
import { ProcessNode } from '../orm/nodes/process/process.js';
import type { StorageBackend } from '../storage/backend.js';
import { getLogger } from './logging.js';

/** Options of {@link ProcessFuture}. */
export interface ProcessFutureOptions {
  /** Where the process node is. */
  readonly storage: StorageBackend;
  /** Listens for the process's `state_changed` broadcasts (optional when polling). */
  readonly communicator?: Communicator | undefined;
  /** Seconds between two reads of the node (undefined: never poll, only listen). */
  readonly pollInterval?: number | undefined;
  /** Settles when the process, running in this JS process, terminates (a shortcut; the node is still read). */
  readonly whenLocal?: PromiseLike<unknown> | undefined;
}

const TERMINAL_SUBJECT = /^state_changed\.[^.]+\.(finished|excepted|killed)$/;

/**
 * Resolves with the process node once the process `pk` has terminated (aiida's `ProcessFuture`): from its
 * `state_changed` broadcasts, with polling of the node as a fallback (a broadcast can be missed); settles exactly once
 * and then drops its subscription and timer. Rejects with `NotExistentError` when there is no such process node.
 * `cancel()` stops waiting (the future then never settles).
 */
export class ProcessFuture implements PromiseLike<ProcessNode> {
  readonly pk: number;
  readonly #promise: Promise<ProcessNode>;
  #resolve!: (node: ProcessNode) => void;
  #reject!: (error: unknown) => void;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;
  #subscription: Promise<string | undefined> | undefined;
  #checking = false;
  #recheck = false;
  #localDone = false;
  readonly #options: ProcessFutureOptions;

  constructor(pk: number, options: ProcessFutureOptions) {
    if (
      options.communicator === undefined &&
      options.pollInterval === undefined &&
      options.whenLocal === undefined
    ) {
      throw new ValidationError(
        'a ProcessFuture needs a communicator, a poll interval or a local process to wait on',
      );
    }
    this.pk = pk;
    this.#options = options;
    this.#promise = new Promise<ProcessNode>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#promise.catch(() => undefined);
    const communicator = options.communicator;
    if (communicator !== undefined && !communicator.isClosed()) {
      const filter = new BroadcastFilter(
        (message) => {
          if (typeof message.subject === 'string' && TERMINAL_SUBJECT.test(message.subject)) this.#check();
        },
        { sender: pk, subject: /^state_changed\./ },
      );
      this.#subscription = communicator.addBroadcastSubscriber(filter).catch((error: unknown) => {
        getLogger('aiida').warn({ err: error, pk }, 'could not listen for the state changes of the process');
        return undefined;
      });
    }
    if (options.whenLocal !== undefined) {
      const done = (): void => {
        this.#localDone = true;
        this.#check();
      };
      Promise.resolve(options.whenLocal).then(done, done);
    }
    // A process running here has not ended (its end is what `whenLocal` waits for): its node is read then.
    if (options.whenLocal === undefined) this.#check();
  }

  #schedulePoll(): void {
    // A process running here says itself when it ends (`whenLocal`): reading its node meanwhile only costs queries
    // (a poll interval of 0 would read it every 20 ms, for every process waited on). Polling is for processes of
    // other runners, whose broadcast can be missed.
    if (this.#options.whenLocal !== undefined && !this.#localDone) return;
    // Once the local process ended, its node is about to say so: look again soon even without polling.
    const interval = this.#options.pollInterval ?? (this.#localDone ? 0.02 : undefined);
    if (this.#settled || interval === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#check();
      },
      Math.max(interval * 1000, 20),
    );
  }

  #check(): void {
    if (this.#settled) return;
    if (this.#checking) {
      this.#recheck = true;
      return;
    }
    this.#checking = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    loadNode(this.pk, { storage: this.#options.storage })
      .then((node) => {
        if (!(node instanceof ProcessNode))
          throw new NotExistentError(`node<${this.pk}> is not a process node`);
        if (node.isTerminated) this.#settle(() => this.#resolve(node));
      })
      .catch((error: unknown) => {
        // A closed storage will never say: stop waiting with its error.
        if (error instanceof NotExistentError || this.#options.storage.isClosed)
          this.#settle(() => this.#reject(error));
        else getLogger('aiida').warn({ err: error, pk: this.pk }, 'could not read the process node');
      })
      .finally(() => {
        this.#checking = false;
        if (this.#recheck) {
          this.#recheck = false;
          this.#check();
        } else {
          this.#schedulePoll();
        }
      });
  }

  #settle(action: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    action();
    this.#release();
  }

  #release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const subscription = this.#subscription;
    this.#subscription = undefined;
    const communicator = this.#options.communicator;
    if (subscription === undefined || communicator === undefined) return;
    void subscription.then(async (id) => {
      if (id !== undefined && !communicator.isClosed())
        await communicator.removeBroadcastSubscriber(id).catch(() => undefined);
    });
  }

  /** Stops waiting: drops the subscription and the timer; the future never settles. */
  cancel(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#release();
  }

  /** Whether the future has resolved, rejected or been cancelled. */
  get done(): boolean {
    return this.#settled;
  }

  then<A = ProcessNode, B = never>(
    onfulfilled?: ((value: ProcessNode) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onfulfilled, onrejected);
  }
}
