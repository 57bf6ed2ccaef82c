import type { BroadcastFilter } from './broadcast-filter.js';
import type { Reply } from './reply.js';

/** A broadcast as its subscribers see it (kiwipy's `body`, `sender`, `subject`, `correlation_id`). */
export interface BroadcastMessage<B = unknown> {
  readonly body: B;
  readonly sender: unknown;
  readonly subject: string | null;
  readonly correlationId: unknown;
}

/** Handed to every subscriber beside the message. */
export interface SubscriberContext {
  readonly communicator: Communicator;
  /** For a task: the sender asked for no result (set by the task queues; undefined for RPCs and broadcasts). */
  readonly noReply?: boolean | undefined;
}

/**
 * Answers RPCs sent to its identifier. Its return value (or the value its Promise settles to) is the reply;
 * a thrown error reaches the sender as a {@link RemoteError}. Returning a Promise makes the reply
 * "pending": the sender learns at once that the request is held, and gets the result when it settles.
 */
export type RpcSubscriber = (message: unknown, context: SubscriberContext) => unknown;

/**
 * Takes tasks from a task queue. Throw {@link TaskRejectedError} to pass the task to the next subscriber;
 * the task is acknowledged only once the returned value (or Promise) settles, unless it settles to an
 * {@link answerLater} answer: then it is acknowledged at once and the reply follows the answer.
 */
export type TaskSubscriber = (task: unknown, context: SubscriberContext) => unknown;

/** Receives every broadcast (filter with {@link BroadcastFilter}). Errors are logged, never sent back. */
export type BroadcastSubscriber = (message: BroadcastMessage, context: SubscriberContext) => unknown;

/** Options of {@link Communicator.taskSend}. */
export interface TaskSendOptions {
  /** Fire and forget: resolve once the task is safely queued, and ask for no result. */
  readonly noReply?: boolean;
}

/** Options of {@link Communicator.broadcastSend}. */
export interface BroadcastSendOptions {
  readonly sender?: unknown;
  readonly subject?: string | null;
  readonly correlationId?: unknown;
}

/**
 * The messaging interface every layer above talks through: RPC to one identified subscriber, tasks taken
 * by exactly one worker, broadcasts to everyone. In-process ({@link LocalCommunicator}) and over RabbitMQ
 * (`kiwipy-ts/rmq`) with the same observable semantics.
 */
export interface Communicator extends AsyncDisposable {
  /** Adds an RPC subscriber under `identifier` (generated when omitted) and returns the identifier. */
  addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string>;
  /** Removes an RPC subscriber; rejects with {@link UnknownSubscriberError} if there is none. */
  removeRpcSubscriber(identifier: string): Promise<void>;
  /** Adds a subscriber to the default task queue and returns its identifier. */
  addTaskSubscriber(subscriber: TaskSubscriber, identifier?: string): Promise<string>;
  removeTaskSubscriber(identifier: string): Promise<void>;
  /** Adds a broadcast subscriber (a function or a {@link BroadcastFilter}) and returns its identifier. */
  addBroadcastSubscriber(
    subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string>;
  removeBroadcastSubscriber(identifier: string): Promise<void>;

  /**
   * Sends `message` to the RPC subscriber `recipientId`. Rejects with {@link UnroutableError} when nobody
   * has that identifier, with {@link RemoteError} when the subscriber throws.
   */
  rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R>;
  /** Queues a task for exactly one task subscriber. With `noReply`, resolves to null once it is queued. */
  taskSend<R = unknown>(task: unknown, options?: TaskSendOptions & { readonly noReply?: false }): Reply<R>;
  taskSend(task: unknown, options: TaskSendOptions & { readonly noReply: true }): Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null>;
  /** Sends `body` to every broadcast subscriber; true once sent, also when nobody listens. */
  broadcastSend(body: unknown, options?: BroadcastSendOptions): Promise<boolean>;

  /** Frees every resource; pending requests reject with {@link CommunicatorClosedError}. Idempotent. */
  close(): Promise<void>;
  isClosed(): boolean;
}
