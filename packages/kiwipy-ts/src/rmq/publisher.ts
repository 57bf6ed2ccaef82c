import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import type { Codec } from '../codec.js';
import { ConnectionLostError, DecodeError, DeliveryFailedError, UnroutableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Reply } from '../reply.js';
import { messageOf, type RobustConnection } from './connection.js';
import { REPLY_QUEUE_EXPIRES, TEST_QUEUE_EXPIRES } from './defaults.js';
import { ManagedChannel } from './managed-channel.js';
import { applyResponse, parseResponse } from './messages.js';
import type { ResolvedRmqOptions } from './options.js';

/** Options of {@link Publisher}. */
export interface PublisherOptions {
  readonly connection: RobustConnection;
  readonly options: ResolvedRmqOptions;
  readonly onMalformedReply: (message: ConsumeMessage, error: Error) => void;
}

/** What a publish needs beyond its body. */
export interface PublishRequest {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  /**
   * AMQP properties. With `mandatory`, a message no queue takes is returned and the publish rejects with
   * {@link UnroutableError} (needs a correlation id).
   */
  readonly properties: Options.Publish;
}

type Settle = (error: unknown) => void;

/**
 * The communicator's one publishing channel, in confirm mode, and its reply queue. Every publish resolves
 * when the broker confirms it; mandatory publishes that reach no queue reject with
 * {@link UnroutableError}. Replies are matched to their request by correlation id.
 */
export class Publisher {
  /** The RPC reply queue: `<messages exchange>-reply-<uuid>`, bound to that exchange under its own name. */
  readonly replyQueue: string;
  /** The task reply queue: `<tasks exchange>-reply-<uuid>`, bound to that exchange under its own name. */
  readonly taskReplyQueue: string;
  readonly channel: ManagedChannel<ConfirmChannel>;
  readonly #options: ResolvedRmqOptions;
  readonly #codec: Codec;
  readonly #logger: Logger;
  readonly #connection: RobustConnection;
  readonly #onMalformedReply: PublisherOptions['onMalformedReply'];
  readonly #awaiting = new Map<string, Reply<unknown>>();
  /** Correlation ids of mandatory messages the broker returned, until their confirm arrives. */
  readonly #returned = new Set<string>();
  #deadLetterDeclared: Promise<void> | undefined;
  #deadLetterGeneration = -1;

  constructor(deps: PublisherOptions) {
    this.#options = deps.options;
    this.#codec = deps.options.codec;
    this.#logger = deps.options.logger;
    this.#connection = deps.connection;
    this.#onMalformedReply = deps.onMalformedReply;
    this.replyQueue = `${deps.options.messageExchange}-reply-${randomUUID()}`;
    this.taskReplyQueue = `${deps.options.taskExchange}-reply-${randomUUID()}`;
    this.channel = new ManagedChannel<ConfirmChannel>({
      name: 'publisher',
      connection: deps.connection,
      logger: deps.options.logger,
      create: (model: ChannelModel) => model.createConfirmChannel(),
      onOpen: (channel) => this.#declare(channel),
    });
  }

  /** Number of requests waiting for a reply. */
  get awaitingCount(): number {
    return this.#awaiting.size;
  }

  /** Publishes and resolves once the broker has the message (confirm), or rejects saying why not. */
  publish(request: PublishRequest): Promise<void> {
    const open = this.channel.current;
    const model = this.#connection.model;
    if (open === undefined || model === undefined) {
      return this.channel.get().then(() => this.publish(request));
    }
    const { channel } = open;
    const mandatory = request.properties.mandatory === true;
    const key = request.properties.correlationId;
    return new Promise<void>((resolve, reject) => {
      const settle: Settle = (error) => {
        if (error === null || error === undefined) {
          if (mandatory && key !== undefined && this.#returned.size > 0 && this.#returned.delete(key)) {
            reject(
              new UnroutableError(
                `no queue is bound for routing key '${request.routingKey}' on exchange '${request.exchange}'`,
              ),
            );
          } else {
            resolve();
          }
          return;
        }
        if (mandatory && key !== undefined) this.#returned.delete(key);
        if (this.#connection.model !== model) {
          reject(
            new ConnectionLostError(
              `the channel closed before the broker confirmed the message to '${request.routingKey}'; it may or may not have been queued`,
              { cause: error },
            ),
          );
        } else {
          reject(
            new DeliveryFailedError(
              `the broker refused the message to '${request.routingKey}': ${messageOf(error)}`,
              { cause: error },
            ),
          );
        }
      };
      try {
        channel.publish(request.exchange, request.routingKey, request.content, request.properties, settle);
      } catch (error) {
        settle(error ?? new Error('publish failed'));
      }
    });
  }

  /** Registers `reply` to be settled by the responses carrying `correlationId`. */
  expectReply(correlationId: string, reply: Reply<unknown>): void {
    this.#awaiting.set(correlationId, reply);
    const forget = () => {
      if (this.#awaiting.get(correlationId) === reply) this.#awaiting.delete(correlationId);
    };
    reply.result.then(forget, forget);
  }

  /** Rejects every request still waiting for a reply. */
  rejectAwaiting(error: Error): void {
    const replies = [...this.#awaiting.values()];
    this.#awaiting.clear();
    for (const reply of replies) reply.reject(error);
  }

  close(): Promise<void> {
    return this.channel.close();
  }

  /**
   * The dead-letter exchange and queue (a kiwipy-ts addition that Python never sees), declared the first
   * time a malformed task needs them rather than at connect, so that the broker holds only what kiwipy
   * would declare until something goes wrong.
   */
  ensureDeadLetter(): Promise<void> {
    const open = this.channel.current;
    if (open === undefined) return this.channel.get().then(() => this.ensureDeadLetter());
    if (this.#deadLetterGeneration === open.generation && this.#deadLetterDeclared !== undefined)
      return this.#deadLetterDeclared;
    const o = this.#options;
    const { channel } = open;
    this.#deadLetterGeneration = open.generation;
    this.#deadLetterDeclared = (async () => {
      await channel.assertExchange(o.deadLetterExchange, 'topic', {
        durable: !o.testingMode,
        autoDelete: o.testingMode,
      });
      // Dead-lettered tasks wait here for a person (or `verdi`-like tooling) to look at them.
      await channel.assertQueue(o.deadLetterQueue, {
        durable: !o.testingMode,
        arguments: o.testingMode ? { 'x-expires': TEST_QUEUE_EXPIRES } : {},
      });
      await channel.bindQueue(o.deadLetterQueue, o.deadLetterExchange, '#');
    })();
    this.#deadLetterDeclared.catch(() => {
      this.#deadLetterDeclared = undefined;
    });
    return this.#deadLetterDeclared;
  }

  async #declare(channel: ConfirmChannel): Promise<void> {
    const o = this.#options;
    channel.on('return', (message: Message) => {
      const key = message.properties.correlationId as string | undefined;
      if (key !== undefined) this.#returned.add(key);
    });
    // Exactly kiwipy's declaration (topic, not durable, not auto-deleted, no arguments): the broker refuses
    // a second declaration that differs, so whichever side starts first, the other must match it.
    const exchangeOptions: Options.AssertExchange = { durable: false, autoDelete: o.testingMode };
    await Promise.all([
      channel.assertExchange(o.messageExchange, 'topic', exchangeOptions),
      channel.assertExchange(o.taskExchange, 'topic', exchangeOptions),
    ]);
    // kiwipy's reply queues: one per exchange, `<exchange>-reply-<uuid>`, bound to that exchange under
    // their own name (replies are published to the named exchange, not the default one). kiwipy makes
    // them exclusive; these are not, so that they outlive a dropped connection for `x-expires` and the
    // replies that arrive while we reconnect wait for us under the same name. The names are ours alone,
    // so no other declaration can disagree with these.
    const replyQueues: [string, string][] = [
      [this.replyQueue, o.messageExchange],
      [this.taskReplyQueue, o.taskExchange],
    ];
    for (const [queue, exchange] of replyQueues) {
      await channel.assertQueue(queue, {
        exclusive: false,
        durable: false,
        arguments: { 'x-expires': REPLY_QUEUE_EXPIRES },
      });
      await channel.bindQueue(queue, exchange, queue);
      await channel.consume(queue, (message) => this.#onReply(message), { noAck: true, exclusive: true });
    }
  }

  #onReply(message: ConsumeMessage | null): void {
    if (message === null) {
      this.#logger.warn(
        { queues: [this.replyQueue, this.taskReplyQueue] },
        'the broker cancelled the reply consumer; reopening the channel',
      );
      return;
    }
    const correlationId = message.properties.correlationId as string | undefined;
    const reply = correlationId === undefined ? undefined : this.#awaiting.get(correlationId);
    if (reply === undefined) {
      this.#logger.warn(
        { correlationId, routingKey: message.fields.routingKey, exchange: message.fields.exchange },
        'a reply arrived for no request this communicator is waiting for',
      );
      return;
    }
    let final: boolean;
    try {
      final = applyResponse(parseResponse(this.#codec.decode(message.content)), reply);
    } catch (error) {
      const decodeError =
        error instanceof DecodeError
          ? error
          : new DecodeError(`the reply could not be decoded: ${String(error)}`, { cause: error });
      reply.reject(decodeError);
      this.#awaiting.delete(correlationId as string);
      this.#onMalformedReply(message, decodeError);
      return;
    }
    if (final) this.#awaiting.delete(correlationId as string);
  }
}
