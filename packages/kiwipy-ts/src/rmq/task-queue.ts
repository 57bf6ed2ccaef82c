import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, GetMessage, Message } from 'amqplib';
import type { TaskSendOptions, TaskSubscriber } from '../communicator.js';
import { CommunicatorClosedError, DecodeError, DeliveryFailedError, QueueEmptyError } from '../errors.js';
import { Reply } from '../reply.js';
import { runTask, SubscriberSet } from '../subscriber-registry.js';
import type { AffectedTask } from './events.js';
import { isConsumerTimeout } from './broker-info.js';
import {
  TASK_FETCH_TIMEOUT,
  TASK_ITERATE_TIMEOUT,
  TASK_MESSAGE_TTL,
  TEST_QUEUE_EXPIRES,
} from './defaults.js';
import { RmqIncomingTask, TaskState, type TaskSettler } from './incoming-task.js';
import type { RmqInternals } from './internals.js';
import { isOperationError, ManagedChannel } from './managed-channel.js';
import {
  encodeTaskBody,
  exceptionResponse,
  hostInfo,
  parseTaskBody,
  pendingResponse,
  resultResponse,
} from './messages.js';
import { messageProperties } from './properties.js';

/** Options of `communicator.taskQueue(name, options)`. */
export interface TaskQueueOptions {
  /** Most unacknowledged tasks this consumer holds at once; 0 means no limit. Defaults to `taskPrefetchCount`. */
  readonly prefetchCount?: number;
}

/** Options of {@link RmqTaskQueue.next}. */
export interface NextTaskOptions {
  /** How long to wait for a task (ms); 0 looks once. Default 5 s. */
  readonly timeout?: number;
  /** Take the task without holding it: the broker forgets it at once (requeueing publishes it again). */
  readonly noAck?: boolean;
}

/** One delivery of a task: which channel incarnation holds it. */
interface Delivery {
  readonly channel: Channel;
  readonly generation: number;
  readonly message: Message;
  readonly noAck: boolean;
}

/** The consumer of a queue, declared once per channel incarnation. */
interface ConsumerState {
  generation: number;
  declared: Promise<void>;
  tag: string | undefined;
  removed: boolean;
}

/** A task being worked on here. */
interface InFlight {
  readonly correlationId: string | undefined;
  readonly task: unknown;
  readonly noReply: boolean;
  /** The first delivery's message: where replies go (`reply_to`, `correlation_id`). */
  readonly message: Message;
  /** The delivery that will be acknowledged; undefined while the broker has taken it back. */
  delivery: Delivery | undefined;
}

/** How long a task finished after its delivery was taken back is remembered, to acknowledge its copy. */
const FINISHED_ORPHAN_MEMORY_MS = 10 * 60_000;

/**
 * A durable task queue bound to the task exchange under its own name: tasks sent to it are persistent,
 * published with confirms and `mandatory`, and taken by one subscriber of one consumer. A task is
 * acknowledged only when the subscriber's work settles, so a consumer that dies, or loses its connection,
 * leaves the task to be redelivered to another. Tasks can also be pulled with {@link next} or by
 * iterating the queue.
 */
export class RmqTaskQueue implements AsyncIterable<RmqIncomingTask> {
  /** The queue's name (also its routing key on the task exchange). */
  readonly name: string;
  readonly prefetchCount: number;
  readonly channel: ManagedChannel<Channel>;
  readonly #internals: RmqInternals;
  readonly #subscribers = new SubscriberSet<TaskSubscriber>('task');
  /** The consumer; present while there is at least one subscriber. */
  #consumer: ConsumerState | undefined;
  /** Consumer declarations and cancellations, in order. */
  #consumerOps: Promise<unknown> = Promise.resolve();
  readonly #byCorrelation = new Map<string, InFlight>();
  readonly #anonymous = new Set<InFlight>();
  readonly #finishedOrphans = new Map<string, number>();
  #closed = false;

  constructor(internals: RmqInternals, name: string, options: TaskQueueOptions = {}) {
    this.#internals = internals;
    this.name = name;
    this.prefetchCount = options.prefetchCount ?? internals.options.taskPrefetchCount;
    this.channel = new ManagedChannel<Channel>({
      name: `task queue ${name}`,
      connection: internals.connection,
      logger: internals.options.logger,
      create: (model: ChannelModel) => model.createChannel(),
      onOpen: (channel, generation, model) => this.#declare(channel, generation, model),
      onClosed: (error, generation) => this.#onChannelClosed(error, generation),
    });
  }

  /** Number of tasks being worked on here right now. */
  get inFlightCount(): number {
    return this.#byCorrelation.size + this.#anonymous.size;
  }

  /** Adds a subscriber; the queue is consumed while it has at least one. */
  async addTaskSubscriber(subscriber: TaskSubscriber, identifier?: string): Promise<string> {
    this.#ensureOpen();
    const id = this.#subscribers.add(subscriber, identifier);
    try {
      await this.#serialConsumer(async () => {
        if (!this.#subscribers.has(id)) return;
        this.#consumer ??= { generation: -1, declared: Promise.resolve(), tag: undefined, removed: false };
        const consumer = this.#consumer;
        await this.channel.run((channel, generation) => this.#ensureConsumer(consumer, channel, generation));
      });
    } catch (error) {
      if (this.#subscribers.has(id)) this.#subscribers.remove(id);
      throw error;
    }
    return id;
  }

  /** Removes a subscriber; rejects with `UnknownSubscriberError` if there is none with that identifier. */
  async removeTaskSubscriber(identifier: string): Promise<void> {
    this.#ensureOpen();
    this.#subscribers.remove(identifier);
    await this.#serialConsumer(async () => {
      const consumer = this.#consumer;
      if (this.#subscribers.size > 0 || consumer === undefined) return;
      this.#consumer = undefined;
      consumer.removed = true;
      const open = this.channel.current;
      if (open === undefined || open.generation !== consumer.generation) return;
      try {
        await consumer.declared;
        if (consumer.tag !== undefined) await open.channel.cancel(consumer.tag);
      } catch (error) {
        this.#internals.options.logger.debug({ error, queue: this.name }, 'could not cancel a task consumer');
      }
    });
  }

  /** Sends a task to this queue. Resolves (`noReply`: to null once queued) or rejects as `Communicator.taskSend`. */
  taskSend<R = unknown>(task: unknown, options?: TaskSendOptions & { readonly noReply?: false }): Reply<R>;
  taskSend(task: unknown, options: TaskSendOptions & { readonly noReply: true }): Promise<null>;
  taskSend(task: unknown, options?: TaskSendOptions): Reply<unknown> | Promise<null>;
  taskSend(task: unknown, options: TaskSendOptions = {}): Reply<unknown> | Promise<null> {
    const noReply = options.noReply === true;
    const { publisher, options: o } = this.#internals;
    const correlationId = randomUUID();
    let reply: Reply<unknown> | undefined;
    if (!noReply) {
      reply = new Reply<unknown>();
      if (this.#closed) {
        reply.reject(new CommunicatorClosedError('cannot send a task: the communicator is closed'));
        return reply;
      }
      publisher.expectReply(correlationId, reply);
    } else if (this.#closed) {
      return Promise.reject(new CommunicatorClosedError('cannot send a task: the communicator is closed'));
    }
    let content: Buffer;
    try {
      content = o.codec.encode(encodeTaskBody(task, noReply));
    } catch (error) {
      const failure = new DeliveryFailedError(`the task could not be encoded: ${String(error)}`, {
        cause: error,
      });
      if (reply === undefined) return Promise.reject(failure);
      reply.reject(failure);
      return reply;
    }
    const published = publisher.publish({
      exchange: o.taskExchange,
      routingKey: this.name,
      content,
      properties: messageProperties({
        kind: 'task',
        codec: o.codec,
        correlationId,
        replyTo: publisher.taskReplyQueue,
      }),
    });
    if (reply === undefined) return published.then(() => null);
    const pending = reply;
    published.catch((error: unknown) => pending.reject(error));
    return reply;
  }

  /**
   * The next task in the queue, held until it is processed or requeued. Rejects with
   * {@link QueueEmptyError} when no task arrives within `timeout`.
   */
  async next(options: NextTaskOptions = {}): Promise<RmqIncomingTask> {
    this.#ensureOpen();
    const timeout = options.timeout ?? TASK_FETCH_TIMEOUT;
    const noAck = options.noAck === true;
    const deadline = Date.now() + timeout;
    let pause = 5;
    for (;;) {
      const got = await this.channel.run(async (channel, generation) => {
        const message: GetMessage | false = await channel.get(this.name, { noAck });
        return message === false ? undefined : { message, channel, generation };
      });
      if (got !== undefined) {
        const entry = this.#accept(got.message, {
          channel: got.channel,
          generation: got.generation,
          message: got.message,
          noAck,
        });
        if (entry !== undefined) return this.#incoming(entry);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new QueueEmptyError(`no task in queue '${this.name}' within ${timeout} ms`);
      await sleep(Math.min(pause, left));
      pause = Math.min(100, pause * 2);
      this.#ensureOpen();
    }
  }

  /**
   * Takes tasks until the queue stays empty for `timeout` (default 1 s). Tasks handed out but neither
   * processed nor requeued when the iteration ends are put back in the queue.
   */
  async *iterate(
    options: { readonly timeout?: number } = {},
  ): AsyncGenerator<RmqIncomingTask, void, undefined> {
    const handed: RmqIncomingTask[] = [];
    try {
      for (;;) {
        let task: RmqIncomingTask;
        try {
          task = await this.next({ timeout: options.timeout ?? TASK_ITERATE_TIMEOUT });
        } catch (error) {
          if (error instanceof QueueEmptyError) return;
          throw error;
        }
        handed.push(task);
        yield task;
      }
    } finally {
      for (const task of handed) {
        if (task.state === TaskState.PENDING) await task.requeue().catch(() => undefined);
      }
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<RmqIncomingTask> {
    return this.iterate();
  }

  /** The tasks being worked on here, for the communicator's `disconnected` event. */
  inFlightTasks(): AffectedTask[] {
    return [...this.#byCorrelation.values(), ...this.#anonymous].map((entry) => this.#describe(entry));
  }

  /** Stops managing the queue; tasks still held go back to the queue with the connection. */
  detach(): void {
    this.#closed = true;
    this.#subscribers.clear();
    this.#consumer = undefined;
    this.channel.detach();
  }

  #ensureOpen(): void {
    if (this.#closed) throw new CommunicatorClosedError('the communicator is closed');
  }

  #serialConsumer(operation: () => Promise<void>): Promise<void> {
    const next = this.#consumerOps.then(operation);
    this.#consumerOps = next.catch(() => undefined);
    return next;
  }

  async #declare(channel: Channel, generation: number, model: ChannelModel): Promise<void> {
    const o = this.#internals.options;
    await this.#assertQueue(model);
    await channel.bindQueue(this.name, o.taskExchange, this.name);
    if (this.prefetchCount > 0) await channel.prefetch(this.prefetchCount);
    if (this.#consumer !== undefined) await this.#ensureConsumer(this.#consumer, channel, generation);
  }

  /**
   * Declares the queue on a channel of its own: if the queue exists with other arguments (made by an
   * older version, or by Python with other settings), the broker closes that channel, and the queue is
   * used as it is.
   */
  async #assertQueue(model: ChannelModel): Promise<void> {
    const o = this.#internals.options;
    // kiwipy's arguments exactly (`x-message-ttl` alone), unless asked otherwise: see `consumerTimeout`.
    const args: Record<string, unknown> = { 'x-message-ttl': TASK_MESSAGE_TTL };
    if (o.testingMode) args['x-expires'] = TEST_QUEUE_EXPIRES;
    if (o.consumerTimeout !== null && this.#internals.broker().perQueueConsumerTimeout) {
      args['x-consumer-timeout'] = o.consumerTimeout;
    }
    const scratch = await model.createChannel();
    scratch.on('error', () => undefined);
    try {
      await scratch.assertQueue(this.name, { durable: !o.testingMode, arguments: args });
      await scratch.close();
    } catch (error) {
      if (!isOperationError(error) || (error as { code?: number }).code !== 406) throw error;
      o.logger.warn(
        { error, queue: this.name },
        'the task queue exists with other arguments; using it as it is',
      );
    }
  }

  #ensureConsumer(consumer: ConsumerState, channel: Channel, generation: number): Promise<void> {
    if (consumer.removed || consumer.generation === generation) return consumer.declared;
    consumer.generation = generation;
    consumer.declared = (async () => {
      const { consumerTag } = await channel.consume(
        this.name,
        (message) => this.#onDelivery(message, channel, generation),
        {
          noAck: false,
        },
      );
      consumer.tag = consumerTag;
    })();
    return consumer.declared;
  }

  #onDelivery(message: ConsumeMessage | null, channel: Channel, generation: number): void {
    if (message === null) {
      // The broker cancelled the consumer (the queue was deleted): declare everything again.
      const consumer = this.#consumer;
      if (consumer === undefined || consumer.removed) return;
      this.#internals.options.logger.warn(
        { queue: this.name },
        'the broker cancelled the task consumer; declaring the queue again',
      );
      consumer.generation = -1;
      this.channel
        .run(async (current, currentGeneration) => {
          const model = this.#internals.connection.model;
          if (model !== undefined) await this.#assertQueue(model);
          await current.bindQueue(this.name, this.#internals.options.taskExchange, this.name);
          await this.#ensureConsumer(consumer, current, currentGeneration);
        })
        .catch((error: unknown) =>
          this.#internals.options.logger.error(
            { error, queue: this.name },
            'could not consume the task queue again',
          ),
        );
      return;
    }
    const entry = this.#accept(message, { channel, generation, message, noAck: false });
    if (entry !== undefined) void this.#run(entry);
  }

  /**
   * Takes a delivery in: decodes it (dead-lettering what cannot be decoded), and recognises a task that is
   * already being worked on here (redelivered after a consumer timeout or a reconnection). Returns the
   * entry to work on, or undefined when there is nothing (more) to do.
   */
  #accept(message: Message, delivery: Delivery): InFlight | undefined {
    let body;
    try {
      body = parseTaskBody(this.#internals.options.codec.decode(message.content));
    } catch (error) {
      void this.#deadLetter(delivery, error instanceof Error ? error : new DecodeError(String(error)));
      return undefined;
    }
    const correlationId = message.properties.correlationId as string | undefined;
    if (correlationId !== undefined) {
      const running = this.#byCorrelation.get(correlationId);
      if (running !== undefined && !this.#isHeld(running.delivery)) {
        running.delivery = delivery;
        this.#internals.events.emit('taskRedelivered', {
          ...this.#describe(running),
          alreadyFinished: false,
        });
        return undefined;
      }
      this.#forgetOldOrphans();
      if (this.#finishedOrphans.delete(correlationId)) {
        this.#ack(delivery);
        this.#internals.events.emit('taskRedelivered', {
          queue: this.name,
          correlationId,
          task: body.task,
          alreadyFinished: true,
        });
        return undefined;
      }
    }
    const entry: InFlight = {
      correlationId,
      task: body.task,
      noReply: body.noReply,
      message,
      delivery,
    };
    if (correlationId !== undefined && !this.#byCorrelation.has(correlationId))
      this.#byCorrelation.set(correlationId, entry);
    else this.#anonymous.add(entry);
    return entry;
  }

  async #run(entry: InFlight): Promise<void> {
    const context = { ...this.#internals.context, noReply: entry.noReply };
    const outcome = await runTask(this.#subscribers.values(), entry.task, context, () => {
      if (!entry.noReply) this.#reply(entry, pendingResponse());
    });
    switch (outcome.kind) {
      case 'done':
        this.#finish(entry, resultResponse(outcome.value));
        return;
      case 'answer-later':
        // Taken: acknowledged now; the sender's reply (if it wants one) follows the answer.
        this.#finish(entry, undefined);
        if (!entry.noReply) {
          outcome.answer.then(
            (value) => this.#reply(entry, resultResponse(value)),
            (error: unknown) =>
              this.#reply(entry, exceptionResponse(error, this.#internals.options.errorReplies)),
          );
        }
        return;
      case 'failed':
        this.#internals.options.logger.error(
          { error: outcome.error, queue: this.name, correlationId: entry.correlationId },
          'task failed',
        );
        this.#finish(entry, exceptionResponse(outcome.error, this.#internals.options.errorReplies));
        return;
      case 'rejected': {
        this.#forget(entry);
        const delivery = entry.delivery;
        // Every subscriber here passed: give it back. A task that keeps coming back to a consumer that
        // cannot take it is put back after a pause, so the two do not spin.
        const pause = delivery?.message.fields.redelivered === true ? 200 : 0;
        if (pause > 0) await sleep(pause);
        if (delivery !== undefined) this.#nack(delivery);
        return;
      }
    }
  }

  /** Acknowledges (or remembers, if the broker took the delivery back) and replies (unless `response` is undefined). */
  #finish(entry: InFlight, response: Record<string, unknown> | undefined): void {
    this.#forget(entry);
    if (entry.delivery !== undefined && this.#isHeld(entry.delivery)) {
      this.#ack(entry.delivery);
    } else if (entry.correlationId !== undefined) {
      // The broker has put it back in the queue; acknowledge the copy when it comes back here.
      this.#finishedOrphans.set(entry.correlationId, Date.now() + FINISHED_ORPHAN_MEMORY_MS);
    }
    if (!entry.noReply && response !== undefined) this.#reply(entry, response);
  }

  #incoming(entry: InFlight): RmqIncomingTask {
    const settler: TaskSettler = {
      finish: (outcome) => {
        this.#finish(
          entry,
          outcome.ok
            ? resultResponse(outcome.value)
            : exceptionResponse(outcome.error, this.#internals.options.errorReplies),
        );
        return Promise.resolve();
      },
      requeue: async () => {
        this.#forget(entry);
        const delivery = entry.delivery;
        if (delivery === undefined || !this.#isHeld(delivery)) return; // the broker has it back already
        if (!delivery.noAck) {
          this.#nack(delivery);
          return;
        }
        // Taken without acknowledgement: the broker forgot it, so putting it back means sending it again.
        await this.#internals.publisher.publish({
          exchange: this.#internals.options.taskExchange,
          routingKey: this.name,
          content: delivery.message.content,
          properties: { ...delivery.message.properties, persistent: true, mandatory: true },
        });
      },
    };
    return new RmqIncomingTask(entry.task, entry.noReply, entry.correlationId, settler);
  }

  #reply(entry: InFlight, body: Record<string, unknown>): void {
    body.host = hostInfo();
    this.#internals.respond(this.#internals.options.taskExchange, entry.message, body);
  }

  /** Whether the delivery is still held by the open channel it came on. */
  #isHeld(delivery: Delivery | undefined): boolean {
    if (delivery === undefined) return false;
    if (delivery.noAck) return true;
    const current = this.channel.current;
    return (
      current !== undefined &&
      current.channel === delivery.channel &&
      current.generation === delivery.generation
    );
  }

  #ack(delivery: Delivery): void {
    if (delivery.noAck || !this.#isHeld(delivery)) return;
    try {
      delivery.channel.ack(delivery.message);
    } catch (error) {
      this.#internals.options.logger.debug(
        { error, queue: this.name },
        'could not acknowledge a task; the broker will redeliver it',
      );
    }
  }

  #nack(delivery: Delivery): void {
    if (delivery.noAck || !this.#isHeld(delivery)) return;
    try {
      delivery.channel.nack(delivery.message, false, true);
    } catch (error) {
      this.#internals.options.logger.debug(
        { error, queue: this.name },
        'could not requeue a task; the broker will redeliver it',
      );
    }
  }

  #forget(entry: InFlight): void {
    if (entry.correlationId !== undefined && this.#byCorrelation.get(entry.correlationId) === entry) {
      this.#byCorrelation.delete(entry.correlationId);
    }
    this.#anonymous.delete(entry);
  }

  #forgetOldOrphans(): void {
    if (this.#finishedOrphans.size === 0) return;
    const now = Date.now();
    for (const [key, expires] of this.#finishedOrphans) if (expires < now) this.#finishedOrphans.delete(key);
  }

  #describe(entry: InFlight): AffectedTask {
    return { queue: this.name, correlationId: entry.correlationId, task: entry.task };
  }

  /**
   * Sends a task that cannot be decoded to the dead-letter exchange (waiting for its confirm), then
   * acknowledges it, so that it is kept for inspection and never redelivered in a loop.
   */
  async #deadLetter(delivery: Delivery, error: Error): Promise<void> {
    const { options: o, publisher } = this.#internals;
    const message = delivery.message;
    let deadLettered = false;
    try {
      await publisher.ensureDeadLetter();
      await publisher.publish({
        exchange: o.deadLetterExchange,
        routingKey: message.fields.routingKey,
        content: message.content,
        properties: {
          ...message.properties,
          persistent: true,
          headers: {
            ...(message.properties.headers ?? {}),
            'x-kiwipy-error': error.message,
            'x-kiwipy-original-queue': this.name,
            'x-kiwipy-original-exchange': message.fields.exchange,
            'x-kiwipy-original-routing-key': message.fields.routingKey,
            'x-kiwipy-dead-lettered-by': `${hostInfo().hostname}:${hostInfo().pid}`,
          },
        },
      });
      deadLettered = true;
      this.#ack(delivery);
    } catch (publishError) {
      o.logger.error(
        { error: publishError, queue: this.name },
        'could not dead-letter a malformed task; it stays in the queue',
      );
      if (this.#isHeld(delivery)) {
        await sleep(1_000);
        this.#nack(delivery);
      }
    }
    this.#internals.reportMalformed(message, error, deadLettered);
    if (message.properties.replyTo !== undefined) {
      const reply = exceptionResponse(
        new DecodeError(`the task could not be decoded: ${error.message}`),
        o.errorReplies,
      );
      reply.host = hostInfo();
      this.#internals.respond(o.taskExchange, message, reply);
    }
  }

  #onChannelClosed(error: Error | undefined, generation: number): void {
    const affected: AffectedTask[] = [];
    for (const entry of [...this.#byCorrelation.values(), ...this.#anonymous]) {
      if (entry.delivery !== undefined && !entry.delivery.noAck && entry.delivery.generation === generation) {
        entry.delivery = undefined;
        affected.push(this.#describe(entry));
      }
    }
    if (error === undefined) return; // the connection went: the communicator reports it
    if (isConsumerTimeout(error)) {
      this.#internals.options.logger.warn(
        { queue: this.name, tasks: affected.length, error },
        'the broker took back tasks held longer than its consumer_timeout; reopening the channel',
      );
      this.#internals.events.emit('consumerTimeout', {
        queue: this.name,
        message: error.message,
        tasks: affected,
      });
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
