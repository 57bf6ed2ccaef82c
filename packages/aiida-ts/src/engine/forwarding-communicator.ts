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

/**
 * A communicator that passes everything to another one; subclasses change what they need. Closing it does not close
 * the communicator it wraps.
 */
export class ForwardingCommunicator implements Communicator {
  protected readonly inner: Communicator;

  constructor(inner: Communicator) {
    this.inner = inner;
  }

  addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    return this.inner.addRpcSubscriber(subscriber, identifier);
  }

  removeRpcSubscriber(identifier: string): Promise<void> {
    return this.inner.removeRpcSubscriber(identifier);
  }

  addTaskSubscriber(subscriber: TaskSubscriber, identifier?: string): Promise<string> {
    return this.inner.addTaskSubscriber(subscriber, identifier);
  }

  removeTaskSubscriber(identifier: string): Promise<void> {
    return this.inner.removeTaskSubscriber(identifier);
  }

  addBroadcastSubscriber(
    subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string> {
    return this.inner.addBroadcastSubscriber(subscriber, identifier);
  }

  removeBroadcastSubscriber(identifier: string): Promise<void> {
    return this.inner.removeBroadcastSubscriber(identifier);
  }

  rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R> {
    return this.inner.rpcSend<R>(recipientId, message);
  }

  taskSend<R = unknown>(task: unknown, options?: TaskSendOptions & { readonly noReply?: false }): Reply<R>;
  taskSend(task: unknown, options: TaskSendOptions & { readonly noReply: true }): Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null> {
    return this.inner.taskSend(task, options);
  }

  broadcastSend(body: unknown, options?: BroadcastSendOptions): Promise<boolean> {
    return this.inner.broadcastSend(body, options);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  isClosed(): boolean {
    return this.inner.isClosed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
