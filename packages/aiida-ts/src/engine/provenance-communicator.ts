import type {
  BroadcastFilter,
  BroadcastSendOptions,
  BroadcastSubscriber,
  Communicator,
  Reply,
  RpcSubscriber,
  TaskSendOptions,
  TaskSubscriber,
} from 'kiwipy-ts';

/** Finds what must be written before a process's state change may be announced. */
export type PendingWrites = (pid: unknown) => Promise<void> | undefined;

const TERMINAL_STATE_CHANGED = /^state_changed\.[^.]+\.(finished|excepted|killed)$/;

/**
 * The communicator processes of a runner talk through: the runner's communicator, except that a process's
 * `state_changed.<from>.<terminal state>` broadcast waits until the node records its end. Whoever acts on the broadcast
 * (a `ProcessFuture`, `verdi process watch`) then finds the state, outputs and exit code stored (aiida's guarantee).
 * Closing it does not close the communicator it wraps.
 */
export class ProvenanceCommunicator implements Communicator {
  readonly #inner: Communicator;
  readonly #pending: PendingWrites;

  constructor(inner: Communicator, pending: PendingWrites) {
    this.#inner = inner;
    this.#pending = pending;
  }

  addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    return this.#inner.addRpcSubscriber(subscriber, identifier);
  }

  removeRpcSubscriber(identifier: string): Promise<void> {
    return this.#inner.removeRpcSubscriber(identifier);
  }

  addTaskSubscriber(subscriber: TaskSubscriber, identifier?: string): Promise<string> {
    return this.#inner.addTaskSubscriber(subscriber, identifier);
  }

  removeTaskSubscriber(identifier: string): Promise<void> {
    return this.#inner.removeTaskSubscriber(identifier);
  }

  addBroadcastSubscriber(
    subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string> {
    return this.#inner.addBroadcastSubscriber(subscriber, identifier);
  }

  removeBroadcastSubscriber(identifier: string): Promise<void> {
    return this.#inner.removeBroadcastSubscriber(identifier);
  }

  rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R> {
    return this.#inner.rpcSend<R>(recipientId, message);
  }

  taskSend<R = unknown>(task: unknown, options?: TaskSendOptions & { readonly noReply?: false }): Reply<R>;
  taskSend(task: unknown, options: TaskSendOptions & { readonly noReply: true }): Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null> {
    return this.#inner.taskSend(task, options);
  }

  async broadcastSend(body: unknown, options: BroadcastSendOptions = {}): Promise<boolean> {
    if (typeof options.subject === 'string' && TERMINAL_STATE_CHANGED.test(options.subject)) {
      // The hooks of the transition finish in this tick: look for their writes in the next one.
      await Promise.resolve();
      await this.#pending(options.sender)?.catch(() => undefined);
    }
    return this.#inner.broadcastSend(body, options);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  isClosed(): boolean {
    return this.#inner.isClosed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
