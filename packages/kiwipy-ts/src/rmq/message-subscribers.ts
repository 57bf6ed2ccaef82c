import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BroadcastFilter } from '../broadcast-filter.js';
import type { BroadcastSubscriber, RpcSubscriber } from '../communicator.js';
import { DecodeError } from '../errors.js';
import { isPromiseLike } from '../reply.js';
import { fireBroadcast, SubscriberSet } from '../subscriber-registry.js';
import { BROADCAST_TOPIC, MESSAGE_TTL, QUEUE_EXPIRES, rpcRoutingKey } from './defaults.js';
import type { RmqInternals } from './internals.js';
import { ManagedChannel } from './managed-channel.js';
import { exceptionResponse, parseBroadcast, pendingResponse, resultResponse } from './messages.js';
import { shortUuid } from './properties.js';

/** A queue with a consumer, declared once per channel incarnation. */
interface Binding {
  generation: number;
  declared: Promise<void>;
  queue: string | undefined;
  consumerTag: string | undefined;
  removed: boolean;
}

function newBinding(): Binding {
  return {
    generation: -1,
    declared: Promise.resolve(),
    queue: undefined,
    consumerTag: undefined,
    removed: false,
  };
}

/**
 * The RPC and broadcast side of an RmqCommunicator, on one channel: one exclusive, server-named queue per
 * RPC subscriber bound with `[rpc].<identifier>`, and one `broadcast-<uuid>` queue bound with
 * `[broadcast]` while at least one broadcast subscriber exists (as kiwipy does).
 */
export class MessageSubscribers {
  readonly rpc = new SubscriberSet<RpcSubscriber>('rpc');
  readonly broadcasts = new SubscriberSet<BroadcastSubscriber | BroadcastFilter>('broadcast');
  readonly channel: ManagedChannel<Channel>;
  readonly broadcastQueue = `broadcast-${shortUuid()}`;
  readonly #internals: RmqInternals;
  readonly #rpcBindings = new Map<string, Binding>();
  #broadcastBinding: Binding | undefined;
  /** Broadcast queue declarations and deletions, in order: they share one queue name. */
  #broadcastOps: Promise<unknown> = Promise.resolve();

  constructor(internals: RmqInternals) {
    this.#internals = internals;
    this.channel = new ManagedChannel<Channel>({
      name: 'rpc and broadcast subscribers',
      connection: internals.connection,
      logger: internals.options.logger,
      create: (model: ChannelModel) => model.createChannel(),
      onOpen: (channel, generation) => this.#declareAll(channel, generation),
    });
  }

  async addRpcSubscriber(subscriber: RpcSubscriber, identifier?: string): Promise<string> {
    const id = this.rpc.add(subscriber, identifier);
    const binding = newBinding();
    this.#rpcBindings.set(id, binding);
    try {
      await this.channel.run((channel, generation) => this.#ensureRpc(id, binding, channel, generation));
    } catch (error) {
      if (this.#rpcBindings.get(id) === binding) {
        this.#rpcBindings.delete(id);
        this.rpc.remove(id);
      }
      throw error;
    }
    return id;
  }

  async removeRpcSubscriber(identifier: string): Promise<void> {
    this.rpc.remove(identifier);
    const binding = this.#rpcBindings.get(identifier);
    this.#rpcBindings.delete(identifier);
    if (binding !== undefined) await this.#release(binding);
  }

  async addBroadcastSubscriber(
    subscriber: BroadcastSubscriber | BroadcastFilter,
    identifier?: string,
  ): Promise<string> {
    const id = this.broadcasts.add(subscriber, identifier);
    try {
      await this.#serialBroadcast(async () => {
        if (!this.broadcasts.has(id)) return;
        this.#broadcastBinding ??= newBinding();
        const binding = this.#broadcastBinding;
        await this.channel.run((channel, generation) => this.#ensureBroadcast(binding, channel, generation));
      });
    } catch (error) {
      if (this.broadcasts.has(id)) this.broadcasts.remove(id);
      throw error;
    }
    return id;
  }

  async removeBroadcastSubscriber(identifier: string): Promise<void> {
    this.broadcasts.remove(identifier);
    await this.#serialBroadcast(async () => {
      const binding = this.#broadcastBinding;
      if (this.broadcasts.size > 0 || binding === undefined) return;
      this.#broadcastBinding = undefined;
      await this.#release(binding);
    });
  }

  /** Forgets every subscriber and lets the channel go with the connection. */
  detach(): void {
    this.rpc.clear();
    this.broadcasts.clear();
    this.channel.detach();
  }

  #serialBroadcast(operation: () => Promise<void>): Promise<void> {
    const next = this.#broadcastOps.then(operation);
    this.#broadcastOps = next.catch(() => undefined);
    return next;
  }

  async #declareAll(channel: Channel, generation: number): Promise<void> {
    const work: Promise<void>[] = [];
    for (const [id, binding] of this.#rpcBindings)
      work.push(this.#ensureRpc(id, binding, channel, generation));
    if (this.#broadcastBinding !== undefined)
      work.push(this.#ensureBroadcast(this.#broadcastBinding, channel, generation));
    await Promise.all(work);
  }

  #ensureRpc(identifier: string, binding: Binding, channel: Channel, generation: number): Promise<void> {
    if (binding.removed || binding.generation === generation) return binding.declared;
    binding.generation = generation;
    binding.declared = (async () => {
      // kiwipy's RPC queue: exclusive, not durable, not auto-deleted, with a message TTL and an expiry.
      const { queue } = await channel.assertQueue('', {
        exclusive: true,
        durable: false,
        autoDelete: false,
        arguments: { 'x-message-ttl': MESSAGE_TTL, 'x-expires': QUEUE_EXPIRES },
      });
      await channel.bindQueue(queue, this.#internals.options.messageExchange, rpcRoutingKey(identifier));
      // Consumed with acknowledgements, each request acknowledged as it arrives (before its handler
      // runs), as kiwipy does.
      const { consumerTag } = await channel.consume(
        queue,
        (message) => {
          if (message !== null) ackQuietly(channel, message);
          this.#onRpc(identifier, binding, message);
        },
        { noAck: false },
      );
      binding.queue = queue;
      binding.consumerTag = consumerTag;
    })();
    return binding.declared;
  }

  #ensureBroadcast(binding: Binding, channel: Channel, generation: number): Promise<void> {
    if (binding.removed || binding.generation === generation) return binding.declared;
    binding.generation = generation;
    binding.declared = (async () => {
      await channel.assertQueue(this.broadcastQueue, {
        exclusive: true,
        durable: false,
        autoDelete: false,
        arguments: { 'x-message-ttl': MESSAGE_TTL },
      });
      await channel.bindQueue(this.broadcastQueue, this.#internals.options.messageExchange, BROADCAST_TOPIC);
      const { consumerTag } = await channel.consume(
        this.broadcastQueue,
        (message) => {
          if (message !== null) ackQuietly(channel, message);
          this.#onBroadcast(binding, message);
        },
        { noAck: false },
      );
      binding.queue = this.broadcastQueue;
      binding.consumerTag = consumerTag;
    })();
    return binding.declared;
  }

  /** Stops consuming and deletes the queue, on the channel it was declared on (if that is still open). */
  async #release(binding: Binding): Promise<void> {
    binding.removed = true;
    const open = this.channel.current;
    if (open === undefined || open.generation !== binding.generation) return;
    try {
      await binding.declared;
      if (binding.consumerTag !== undefined) await open.channel.cancel(binding.consumerTag);
      if (binding.queue !== undefined) await open.channel.deleteQueue(binding.queue);
    } catch (error) {
      // The queue is exclusive: it goes with the channel's connection whatever happens here.
      this.#internals.options.logger.debug(
        { error, queue: binding.queue },
        'could not delete a subscriber queue',
      );
    }
  }

  /** The broker cancelled a consumer (its queue was deleted under it): declare it again. */
  #onCancelled(binding: Binding, redeclare: (channel: Channel, generation: number) => Promise<void>): void {
    if (binding.removed) return;
    this.#internals.options.logger.warn(
      { queue: binding.queue },
      'the broker cancelled a subscriber consumer; declaring it again',
    );
    binding.generation = -1;
    this.channel.run(redeclare).catch((error: unknown) => {
      this.#internals.options.logger.error(
        { error, queue: binding.queue },
        'could not declare a subscriber queue again',
      );
    });
  }

  #onRpc(identifier: string, binding: Binding, message: ConsumeMessage | null): void {
    if (message === null) {
      this.#onCancelled(binding, (channel, generation) =>
        this.#ensureRpc(identifier, binding, channel, generation),
      );
      return;
    }
    const internals = this.#internals;
    const exchange = internals.options.messageExchange;
    let body: unknown;
    try {
      body = internals.options.codec.decode(message.content);
    } catch (error) {
      const decodeError =
        error instanceof DecodeError ? error : new DecodeError(String(error), { cause: error });
      internals.reportMalformed(message, decodeError, false);
      internals.respond(
        exchange,
        message,
        exceptionResponse(
          new DecodeError(`the RPC message could not be decoded: ${decodeError.message}`),
          internals.options.errorReplies,
        ),
      );
      return;
    }
    const subscriber = this.rpc.get(identifier);
    if (subscriber === undefined) {
      internals.respond(
        exchange,
        message,
        exceptionResponse(
          new Error(`no RPC subscriber '${identifier}' here any more`),
          internals.options.errorReplies,
        ),
      );
      return;
    }
    let value: unknown;
    try {
      value = subscriber(body, internals.context);
    } catch (error) {
      internals.respond(exchange, message, exceptionResponse(error, internals.options.errorReplies));
      return;
    }
    if (!isPromiseLike(value)) {
      internals.respond(exchange, message, resultResponse(value));
      return;
    }
    internals.respond(exchange, message, pendingResponse());
    Promise.resolve(value).then(
      (result) => internals.respond(exchange, message, resultResponse(result)),
      (error: unknown) =>
        internals.respond(exchange, message, exceptionResponse(error, internals.options.errorReplies)),
    );
  }

  #onBroadcast(binding: Binding, message: ConsumeMessage | null): void {
    if (message === null) {
      this.#onCancelled(binding, (channel, generation) =>
        this.#ensureBroadcast(binding, channel, generation),
      );
      return;
    }
    const internals = this.#internals;
    let broadcast;
    try {
      broadcast = parseBroadcast(internals.options.codec.decode(message.content));
    } catch (error) {
      const decodeError =
        error instanceof DecodeError ? error : new DecodeError(String(error), { cause: error });
      internals.reportMalformed(message, decodeError, false);
      return;
    }
    fireBroadcast(this.broadcasts.values(), broadcast, internals.context, internals.options.logger);
  }
}

/** Acknowledges a delivery; a channel that is already gone takes the message with it, so errors are moot. */
function ackQuietly(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    // The channel closed under us: the broker requeues the message itself.
  }
}
