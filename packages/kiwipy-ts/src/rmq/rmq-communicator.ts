import { randomUUID } from 'node:crypto';
import type { ChannelModel, Message } from 'amqplib';
import type { BroadcastFilter } from '../broadcast-filter.js';
import type {
  BroadcastSendOptions,
  BroadcastSubscriber,
  Communicator,
  RpcSubscriber,
  SubscriberContext,
  TaskSendOptions,
  TaskSubscriber,
} from '../communicator.js';
import { CommunicatorClosedError, DeliveryFailedError, UnroutableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Reply } from '../reply.js';
import { type BrokerInfo, brokerInfo } from './broker-info.js';
import { type ConnectionState, RobustConnection } from './connection.js';
import { BROADCAST_TOPIC, rpcRoutingKey } from './defaults.js';
import {
  type AffectedTask,
  type RmqCommunicatorEventName,
  type RmqCommunicatorEvents,
  type RmqCommunicatorListener,
  TypedEvents,
} from './events.js';
import type { RmqInternals } from './internals.js';
import { MessageSubscribers } from './message-subscribers.js';
import { describeError, encodeBroadcast, exceptionResponse } from './messages.js';
import {
  connectionUrl,
  redactUrl,
  type ResolvedRmqOptions,
  resolveOptions,
  type RmqConnectOptions,
} from './options.js';
import { messageProperties } from './properties.js';
import { Publisher } from './publisher.js';
import { RmqTaskQueue, type TaskQueueOptions } from './task-queue.js';

/**
 * Connects to RabbitMQ and returns a communicator once its exchanges, default task queue and reply queue
 * are declared. Rejects with `ConnectionLostError` when the broker cannot be reached, with
 * `ValidationError` when an option is wrong.
 */
export async function connect(options: RmqConnectOptions = {}): Promise<RmqCommunicator> {
  const communicator = new RmqCommunicator(resolveOptions(options));
  await communicator.open();
  return communicator;
}

/**
 * A {@link Communicator} over RabbitMQ with kiwipy's topology and wire format, so that it can share a
 * broker with AiiDA's Python daemon: RPCs and broadcasts on the `<prefix>.messages` topic exchange, tasks
 * on `<prefix>.tasks` into the durable `<prefix>.process.queue`. It survives a lost connection (it
 * reconnects and declares every subscriber again) and a broker's consumer timeout (it reopens the
 * channel); see {@link RmqCommunicatorEvents} for what it reports. Create it with {@link connect}.
 */
export class RmqCommunicator implements Communicator {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedRmqOptions;
  readonly #logger: Logger;
  readonly #events: TypedEvents<RmqCommunicatorEvents>;
  readonly #connection: RobustConnection;
  readonly #publisher: Publisher;
  readonly #messages: MessageSubscribers;
  readonly #defaultQueue: RmqTaskQueue;
  readonly #queues = new Map<string, RmqTaskQueue>();
  readonly #context: SubscriberContext = { communicator: this };
  readonly #internals: RmqInternals;
  #broker: BrokerInfo = brokerInfo({});
  #closed = false;
  #closing: Promise<void> | undefined;

  /** Use {@link connect}: a communicator is usable only after `open()`. */
  constructor(options: ResolvedRmqOptions) {
    this.options = options;
    this.#logger = options.logger;
    this.#events = new TypedEvents<RmqCommunicatorEvents>(options.logger);
    this.#connection = new RobustConnection({
      url: connectionUrl(options),
      displayUrl: redactUrl(options.url),
      connectTimeout: options.connectTimeout,
      closeTimeout: options.closeTimeout,
      reconnect: options.reconnect,
      logger: options.logger,
      connectionName: options.connectionName,
      setup: (model) => this.#setup(model),
      onLost: (error) => this.#events.emit('disconnected', { error, inFlightTasks: this.#inFlightTasks() }),
      onAttemptFailed: (attempt, delayMs, error) =>
        this.#events.emit('reconnectAttemptFailed', { attempt, delayMs, error }),
      onRestored: (attempts, downtimeMs) => {
        this.#logger.info({ attempts, downtimeMs }, 'reconnected to the broker');
        this.#events.emit('reconnected', { attempts, downtimeMs, broker: this.#broker });
      },
      onTimedOut: (error) => {
        this.#publisher.rejectAwaiting(error);
        this.#events.emit('reconnectTimedOut', { error });
      },
      onGaveUp: (error) => {
        this.#publisher.rejectAwaiting(error);
        this.#events.emit('reconnectFailed', { error });
      },
    });
    const internals: RmqInternals = {
      options,
      connection: this.#connection,
      get publisher() {
        return publisher;
      },
      context: this.#context,
      events: this.#events,
      broker: () => this.#broker,
      reportMalformed: (message, error, deadLettered) => this.#reportMalformed(message, error, deadLettered),
      respond: (exchange, message, body) => this.#respond(exchange, message, body),
    };
    const publisher = new Publisher({
      connection: this.#connection,
      options,
      onMalformedReply: (message, error) => this.#reportMalformed(message, error, false),
    });
    this.#publisher = publisher;
    this.#messages = new MessageSubscribers(internals);
    this.#defaultQueue = new RmqTaskQueue(internals, options.taskQueue);
    this.#queues.set(options.taskQueue, this.#defaultQueue);
    this.#internals = internals;
  }

  /** Connects and declares everything; called by {@link connect}. */
  async open(): Promise<void> {
    await this.#connection.open();
  }

  /** What the broker said about itself when the current (or last) connection was made. */
  get broker(): BrokerInfo {
    return this.#broker;
  }

  /** The server properties of the current (or last) connection (product, version, platform, …). */
  get serverProperties(): Readonly<Record<string, unknown>> {
    return this.#broker.serverProperties;
  }

  /** `open`, `reconnecting`, `closed`, … */
  get connectionState(): ConnectionState {
    return this.#connection.state;
  }

  /** The default task queue (`<prefix>.process.queue`). */
  get defaultTaskQueue(): RmqTaskQueue {
    return this.#defaultQueue;
  }

  /** The name of this communicator's RPC reply queue (`<prefix>.messages-reply-<uuid>`). */
  get replyQueue(): string {
    return this.#publisher.replyQueue;
  }

  /** The name of this communicator's task reply queue (`<prefix>.tasks-reply-<uuid>`). */
  get taskReplyQueue(): string {
    return this.#publisher.taskReplyQueue;
  }

  /** The name of this communicator's broadcast queue (declared while it has broadcast subscribers). */
  get broadcastQueue(): string {
    return this.#messages.broadcastQueue;
  }

  /** Listens to an event (see {@link RmqCommunicatorEvents}); returns a function that stops listening. */
  on<E extends RmqCommunicatorEventName>(event: E, listener: RmqCommunicatorListener<E>): () => void {
    return this.#events.on(event, listener);
  }

  once<E extends RmqCommunicatorEventName>(event: E, listener: RmqCommunicatorListener<E>): () => void {
    return this.#events.once(event, listener);
  }

  off<E extends RmqCommunicatorEventName>(event: E, listener: RmqCommunicatorListener<E>): void {
    this.#events.off(event, listener);
  }

  /** Resolves with the next occurrence of `event`. */
  nextEvent<E extends RmqCommunicatorEventName>(event: E): Promise<RmqCommunicatorEvents[E]> {
    return this.#events.next(event);
  }

  /**
   * Another task queue, bound to the task exchange under `name`, with its own subscribers, `taskSend`
   * and pull API. The same instance is returned for the same name.
   */
  async taskQueue(name: string, options: TaskQueueOptions = {}): Promise<RmqTaskQueue> {
    this.#ensureOpen();
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new RmqTaskQueue(this.#internals, name, options);
      this.#queues.set(name, queue);
      try {
        await queue.channel.get();
      } catch (error) {
        this.#queues.delete(name);
        queue.detach();
        throw error;
      }
    }
    return queue;
  }

  addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    return this.#guard(() => this.#messages.addRpcSubscriber(subscriber, identifier));
  }

  removeRpcSubscriber(identifier: string): Promise<void> {
    return this.#guard(() => this.#messages.removeRpcSubscriber(identifier));
  }

  addTaskSubscriber(subscriber: TaskSubscriber, identifier?: string): Promise<string> {
    return this.#guard(() => this.#defaultQueue.addTaskSubscriber(subscriber, identifier));
  }

  removeTaskSubscriber(identifier: string): Promise<void> {
    return this.#guard(() => this.#defaultQueue.removeTaskSubscriber(identifier));
  }

  addBroadcastSubscriber(
    subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string> {
    return this.#guard(() => this.#messages.addBroadcastSubscriber(subscriber, identifier));
  }

  removeBroadcastSubscriber(identifier: string): Promise<void> {
    return this.#guard(() => this.#messages.removeBroadcastSubscriber(identifier));
  }

  rpcSend<R = unknown>(recipientId: string, message: unknown): Reply<R> {
    const reply = new Reply<R>();
    if (this.#closed) {
      reply.reject(new CommunicatorClosedError('cannot send an RPC: the communicator is closed'));
      return reply;
    }
    const o = this.options;
    let content: Buffer;
    try {
      content = o.codec.encode(message === undefined ? null : message);
    } catch (error) {
      reply.reject(
        new DeliveryFailedError(`the RPC message could not be encoded: ${String(error)}`, { cause: error }),
      );
      return reply;
    }
    const correlationId = randomUUID();
    this.#publisher.expectReply(correlationId, reply as Reply<unknown>);
    this.#publisher
      .publish({
        exchange: o.messageExchange,
        routingKey: rpcRoutingKey(recipientId),
        content,
        properties: messageProperties({
          kind: 'request',
          codec: o.codec,
          correlationId,
          replyTo: this.#publisher.replyQueue,
        }),
      })
      .catch((error: unknown) => {
        reply.reject(
          error instanceof UnroutableError
            ? new UnroutableError(`no RPC subscriber with identifier '${recipientId}'`, { cause: error })
            : error,
        );
      });
    return reply;
  }

  taskSend<R = unknown>(task: unknown, options?: TaskSendOptions & { readonly noReply?: false }): Reply<R>;
  taskSend(task: unknown, options: TaskSendOptions & { readonly noReply: true }): Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null>;
  taskSend(task: unknown, options: TaskSendOptions = {}): Reply<unknown> | Promise<null> {
    return this.#defaultQueue.taskSend(task, options);
  }

  async broadcastSend(body: unknown, options: BroadcastSendOptions = {}): Promise<boolean> {
    this.#ensureOpen();
    const o = this.options;
    let content: Buffer;
    try {
      content = o.codec.encode(
        encodeBroadcast({
          body,
          sender: options.sender ?? null,
          subject: options.subject ?? null,
          correlationId: options.correlationId ?? null,
        }),
      );
    } catch (error) {
      throw new DeliveryFailedError(`the broadcast could not be encoded: ${String(error)}`, { cause: error });
    }
    await this.#publisher.publish({
      exchange: o.messageExchange,
      routingKey: BROADCAST_TOPIC,
      content,
      properties: messageProperties({ kind: 'broadcast', codec: o.codec }),
    });
    return true;
  }

  /**
   * Closes the connection; requests still waiting reject with {@link CommunicatorClosedError}, and tasks
   * held unfinished go back to their queue. Returns within about `closeTimeout`, also while the connection
   * is down or being restored. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#publisher.rejectAwaiting(
      new CommunicatorClosedError('the communicator was closed before a reply arrived'),
    );
    this.#publisher.channel.detach();
    this.#messages.detach();
    for (const queue of this.#queues.values()) queue.detach();
    this.#closing = this.#connection.close().finally(() => this.#events.removeAll());
    return this.#closing;
  }

  isClosed(): boolean {
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #setup(model: ChannelModel): Promise<void> {
    this.#broker = brokerInfo(model.connection.serverProperties ?? {});
    if (!this.#broker.perQueueConsumerTimeout && this.#broker.defaultConsumerTimeoutMs !== null) {
      this.#logger.info(
        { version: this.#broker.version, defaultConsumerTimeoutMs: this.#broker.defaultConsumerTimeoutMs },
        'this broker applies a global consumer_timeout to long-held tasks; timed-out channels are reopened and reported',
      );
    }
    await this.#publisher.channel.open(model);
    await Promise.all([
      this.#messages.channel.open(model),
      ...[...this.#queues.values()].map((queue) => queue.channel.open(model)),
    ]);
  }

  #respond(exchange: string, message: Message, body: Record<string, unknown>): void {
    const replyTo = message.properties.replyTo as string | undefined;
    if (replyTo === undefined || replyTo === '') return;
    const codec = this.options.codec;
    let content: Buffer;
    try {
      content = codec.encode(body);
    } catch (error) {
      const fallback = exceptionResponse(
        new DeliveryFailedError(`the reply could not be encoded: ${describeError(error)}`),
        this.options.errorReplies,
      );
      if (body.host !== undefined) fallback.host = body.host;
      content = codec.encode(fallback);
    }
    this.#publisher
      .publish({
        exchange,
        routingKey: replyTo,
        content,
        properties: messageProperties({
          kind: 'reply',
          codec,
          correlationId: (message.properties.correlationId as string | undefined) ?? '',
        }),
      })
      .catch((error: unknown) => {
        if (!this.#closed) this.#logger.warn({ error, replyTo }, 'could not send a reply');
      });
  }

  #reportMalformed(message: Message, error: Error, deadLettered: boolean): void {
    const routingKey = message.fields.routingKey;
    const exchange = message.fields.exchange;
    this.#logger.error(
      {
        error,
        routingKey,
        exchange,
        correlationId: message.properties.correlationId as unknown,
        bytes: message.content.length,
        deadLettered,
      },
      'malformed message',
    );
    this.#events.emit('malformedMessage', { routingKey, exchange, error, deadLettered });
  }

  #inFlightTasks(): AffectedTask[] {
    return [...this.#queues.values()].flatMap((queue) => queue.inFlightTasks());
  }

  #ensureOpen(): void {
    if (this.#closed) throw new CommunicatorClosedError('the communicator is closed');
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    this.#ensureOpen();
    return operation();
  }
}
