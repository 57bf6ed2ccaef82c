import type { BroadcastFilter } from './broadcast-filter.js';
import type {
  BroadcastSendOptions,
  BroadcastSubscriber,
  Communicator,
  RpcSubscriber,
  SubscriberContext,
  TaskSendOptions,
  TaskSubscriber,
} from './communicator.js';
import { CommunicatorClosedError, RemoteError, UnroutableError } from './errors.js';
import { type Logger, stderrLogger } from './logger.js';
import { isPromiseLike, Reply } from './reply.js';
import { fireBroadcast, runTask, SubscriberSet } from './subscriber-registry.js';

/** Options of {@link LocalCommunicator}. */
export interface LocalCommunicatorOptions {
  readonly logger?: Logger;
}

interface QueuedTask {
  readonly body: unknown;
  readonly reply: Reply<unknown> | undefined;
}

/**
 * An in-process communicator with the observable semantics of the RabbitMQ one: delivery is asynchronous,
 * errors arrive as rejected Promises, an RPC to nobody rejects with {@link UnroutableError}, a task waits
 * in the queue until a subscriber takes it (or every subscriber rejects it, when it waits for the next
 * one), and a subscriber that returns a Promise gives a pending reply.
 */
export class LocalCommunicator implements Communicator {
  readonly #rpc = new SubscriberSet<RpcSubscriber>('rpc');
  readonly #tasks = new SubscriberSet<TaskSubscriber>('task');
  readonly #broadcasts = new SubscriberSet<BroadcastSubscriber | BroadcastFilter>('broadcast');
  readonly #queue: QueuedTask[] = [];
  readonly #inFlight = new Set<Reply<unknown>>();
  readonly #logger: Logger;
  readonly #context: SubscriberContext = { communicator: this };
  #closed = false;
  #draining = false;

  constructor(options: LocalCommunicatorOptions = {}) {
    this.#logger = options.logger ?? stderrLogger;
  }

  addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    return this.#guard(() => this.#rpc.add(subscriber, identifier));
  }

  removeRpcSubscriber(identifier: string): Promise<void> {
    return this.#guard(() => void this.#rpc.remove(identifier));
  }

  addTaskSubscriber(subscriber: TaskSubscriber, identifier?: string): Promise<string> {
    return this.#guard(() => {
      const id = this.#tasks.add(subscriber, identifier);
      this.#scheduleDrain();
      return id;
    });
  }

  removeTaskSubscriber(identifier: string): Promise<void> {
    return this.#guard(() => void this.#tasks.remove(identifier));
  }

  addBroadcastSubscriber(
    subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string> {
    return this.#guard(() => this.#broadcasts.add(subscriber, identifier));
  }

  removeBroadcastSubscriber(identifier: string): Promise<void> {
    return this.#guard(() => void this.#broadcasts.remove(identifier));
  }

  rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R> {
    const reply = this.#track(new Reply<R>());
    if (this.#closed) {
      reply.reject(new CommunicatorClosedError('cannot send an RPC: the communicator is closed'));
      return reply;
    }
    setImmediate(() => {
      if (reply.settled) return;
      const subscriber = this.#rpc.get(recipientId);
      if (subscriber === undefined) {
        reply.reject(new UnroutableError(`no RPC subscriber with identifier '${recipientId}'`));
        return;
      }
      try {
        const value = subscriber(message, this.#context);
        reply.follow(isPromiseLike(value) ? Promise.resolve(value).catch(rethrowRemote) : value);
      } catch (error) {
        reply.reject(toRemoteError(error));
      }
    });
    return reply;
  }

  taskSend<R = unknown>(task: unknown, options?: TaskSendOptions & { readonly noReply?: false }): Reply<R>;
  taskSend(task: unknown, options: TaskSendOptions & { readonly noReply: true }): Promise<null>;
  taskSend(task: unknown, options: TaskSendOptions = {}): Reply<unknown> | Promise<null> {
    if (options.noReply === true) {
      if (this.#closed)
        return Promise.reject(new CommunicatorClosedError('cannot send a task: the communicator is closed'));
      this.#queue.push({ body: task, reply: undefined });
      this.#scheduleDrain();
      return Promise.resolve(null);
    }
    const reply = this.#track(new Reply<unknown>());
    if (this.#closed) {
      reply.reject(new CommunicatorClosedError('cannot send a task: the communicator is closed'));
      return reply;
    }
    this.#queue.push({ body: task, reply });
    this.#scheduleDrain();
    return reply;
  }

  broadcastSend(body: unknown, options: BroadcastSendOptions = {}): Promise<boolean> {
    if (this.#closed)
      return Promise.reject(new CommunicatorClosedError('cannot broadcast: the communicator is closed'));
    const message = {
      body,
      sender: options.sender ?? null,
      subject: options.subject ?? null,
      correlationId: options.correlationId ?? null,
    };
    setImmediate(() => {
      if (!this.#closed) fireBroadcast(this.#broadcasts.values(), message, this.#context, this.#logger);
    });
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const error = new CommunicatorClosedError('the communicator was closed before a reply arrived');
    for (const reply of this.#inFlight) reply.reject(error);
    this.#inFlight.clear();
    this.#queue.length = 0;
    this.#rpc.clear();
    this.#tasks.clear();
    this.#broadcasts.clear();
    return Promise.resolve();
  }

  isClosed(): boolean {
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #guard<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new CommunicatorClosedError('the communicator is closed'));
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #track<R>(reply: Reply<R>): Reply<R> {
    const any = reply as Reply<unknown>;
    this.#inFlight.add(any);
    const forget = () => this.#inFlight.delete(any);
    reply.result.then(forget, forget);
    return reply;
  }

  #scheduleDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => {
      this.#draining = false;
      this.#drain();
    });
  }

  /** Hands every queued task to the subscribers; tasks nobody takes stay queued for the next subscriber. */
  #drain(): void {
    if (this.#closed || this.#tasks.size === 0) return;
    const pending = this.#queue.splice(0);
    for (const task of pending) void this.#deliver(task);
  }

  async #deliver(task: QueuedTask): Promise<void> {
    const context = { ...this.#context, noReply: task.reply === undefined };
    const outcome = await runTask(this.#tasks.values(), task.body, context, () => task.reply?.markAccepted());
    if (this.#closed) return;
    switch (outcome.kind) {
      case 'done':
        task.reply?.resolve(outcome.value);
        return;
      case 'answer-later': {
        const reply = task.reply;
        if (reply === undefined) return;
        outcome.answer.then(
          (value) => reply.resolve(value),
          (error: unknown) => reply.reject(toRemoteError(error)),
        );
        return;
      }
      case 'failed':
        if (task.reply === undefined)
          this.#logger.error({ error: outcome.error }, 'task failed (no reply was asked for)');
        task.reply?.reject(toRemoteError(outcome.error));
        return;
      case 'rejected':
        this.#queue.push(task);
        return;
    }
  }
}

/** Turns whatever a subscriber threw into the {@link RemoteError} the sender sees. */
export function toRemoteError(error: unknown): RemoteError {
  if (error instanceof RemoteError) return error;
  if (error instanceof Error)
    return new RemoteError(`${error.name}: ${error.message}`, error.stack, { cause: error });
  return new RemoteError(String(error));
}

function rethrowRemote(error: unknown): never {
  if (error instanceof CommunicatorClosedError) throw error;
  throw toRemoteError(error);
}
