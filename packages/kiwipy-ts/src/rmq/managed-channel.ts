import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { CommunicatorClosedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RobustConnection } from './connection.js';

/** A channel that is open now, with the number of its incarnation. */
export interface OpenChannel<C extends Channel> {
  readonly channel: C;
  readonly generation: number;
}

/** Options of {@link ManagedChannel}. */
export interface ManagedChannelOptions<C extends Channel> {
  /** For logs: what the channel is for. */
  readonly name: string;
  readonly connection: RobustConnection;
  readonly logger: Logger;
  readonly create: (model: ChannelModel) => Promise<C>;
  /** Declares what lives on the channel (queues, consumers); runs on every new incarnation. */
  readonly onOpen: (channel: C, generation: number, model: ChannelModel) => Promise<void>;
  /**
   * The channel is gone. `error` is the broker's reason when the broker closed this channel alone (the
   * connection survives and the channel is reopened); undefined when the connection went with it.
   */
  readonly onClosed?: (error: Error | undefined, generation: number) => void;
}

/**
 * An AMQP channel that is reopened when the broker closes it (a failed declaration, a consumer timeout),
 * and opened again on every new connection. Operations run through {@link ManagedChannel.run}, which
 * waits for a usable channel and retries an operation the channel died under.
 */
export class ManagedChannel<C extends Channel = Channel> {
  readonly #options: ManagedChannelOptions<C>;
  #current: OpenChannel<C> | undefined;
  #generation = 0;
  #opening: Promise<OpenChannel<C>> | undefined;
  #closed = false;
  #reopenDelay = 0;
  /** Channels closed on purpose, whose close must not trigger a reopen. */
  readonly #abandoned = new WeakSet<Channel>();

  constructor(options: ManagedChannelOptions<C>) {
    this.#options = options;
  }

  /** The channel if it is open right now. */
  get current(): OpenChannel<C> | undefined {
    return this.#current;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Opens the channel on a fresh connection (called from the connection's setup). */
  open(model: ChannelModel): Promise<OpenChannel<C>> {
    const opening = this.#open(model);
    this.#opening = opening;
    const clear = () => {
      if (this.#opening === opening) this.#opening = undefined;
    };
    opening.then(clear, clear);
    return opening;
  }

  /** The open channel: waits for the connection, and for a channel being reopened. */
  async get(): Promise<OpenChannel<C>> {
    for (;;) {
      if (this.#closed) throw new CommunicatorClosedError('the communicator is closed');
      if (this.#current !== undefined && this.#options.connection.model !== undefined) return this.#current;
      if (this.#opening !== undefined) {
        try {
          return await this.#opening;
        } catch {
          // That attempt failed and reset the connection; wait for the connection to come back.
        }
      }
      const model = await this.#options.connection.ready();
      if (this.#current === undefined && this.#opening === undefined && !this.#closed) {
        this.#reopen(model, 0);
      }
    }
  }

  /**
   * Runs `operation` on the open channel. If the channel or connection dies under it, it runs again on
   * the next incarnation; an error the broker raised for the operation itself is thrown.
   */
  async run<T>(operation: (channel: C, generation: number) => Promise<T>): Promise<T> {
    for (;;) {
      const { channel, generation } = await this.get();
      try {
        return await operation(channel, generation);
      } catch (error) {
        if (this.#closed) throw new CommunicatorClosedError('the communicator is closed', { cause: error });
        if (
          isOperationError(error) ||
          (this.#current?.channel === channel && generation === this.#generation)
        )
          throw error;
      }
    }
  }

  /** Stops managing the channel without talking to the broker (the connection is about to close). */
  detach(): void {
    this.#closed = true;
    if (this.#current !== undefined) this.#abandoned.add(this.#current.channel);
    this.#current = undefined;
  }

  /** Closes the channel for good. */
  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) {
      this.#abandoned.add(current.channel);
      await current.channel.close().catch(() => undefined);
    }
  }

  async #open(model: ChannelModel): Promise<OpenChannel<C>> {
    const channel = await this.#options.create(model);
    const generation = ++this.#generation;
    let closeError: Error | undefined;
    channel.on('error', (error: Error) => {
      closeError = error;
    });
    channel.on('close', () => {
      if (!this.#abandoned.has(channel)) this.#onClose(channel, generation, closeError, model);
    });
    try {
      await this.#options.onOpen(channel, generation, model);
    } catch (error) {
      this.#abandoned.add(channel);
      await channel.close().catch(() => undefined);
      throw error;
    }
    const open = { channel, generation };
    if (this.#generation === generation) this.#current = open;
    this.#reopenDelay = 0;
    return open;
  }

  #onClose(channel: C, generation: number, error: Error | undefined, model: ChannelModel): void {
    const wasCurrent = this.#current?.channel === channel;
    if (wasCurrent) this.#current = undefined;
    if (this.#closed || !wasCurrent) return; // a channel that died while opening: its opener reports it
    // amqplib closes the channels of a dying connection just before the connection says it closed; wait
    // for that, so that a lost connection is not taken for a channel the broker closed alone.
    queueMicrotask(() => this.#afterClose(generation, error, model));
  }

  #afterClose(generation: number, error: Error | undefined, model: ChannelModel): void {
    if (this.#closed) return;
    const connectionAlive = this.#options.connection.model === model;
    this.#options.onClosed?.(
      connectionAlive ? (error ?? new Error('channel closed')) : undefined,
      generation,
    );
    if (!connectionAlive) return; // the connection's setup opens a new one
    this.#options.logger.warn(
      { error, channel: this.#options.name },
      'the broker closed a channel; reopening it',
    );
    // Back off when a channel keeps dying, so a persistent fault does not become a busy loop.
    const delay = this.#reopenDelay;
    this.#reopenDelay = Math.min(2_000, Math.max(50, delay * 2));
    this.#reopen(model, delay);
  }

  /**
   * Opens a new incarnation on a working connection. If that fails, the connection is dropped so that the
   * whole setup runs again with the connection's backoff.
   */
  #reopen(model: ChannelModel, delay: number): void {
    const reopen = new Promise<OpenChannel<C>>((resolve, reject) => {
      setTimeout(() => {
        if (this.#closed || this.#options.connection.model !== model) {
          reject(new Error('connection gone'));
          return;
        }
        this.#open(model).then(resolve, reject);
      }, delay);
    });
    this.#opening = reopen;
    reopen.then(
      () => {
        if (this.#opening === reopen) this.#opening = undefined;
      },
      (reopenError: unknown) => {
        if (this.#opening === reopen) this.#opening = undefined;
        if (this.#closed || this.#options.connection.model !== model) return;
        this.#options.connection.destroy(
          reopenError instanceof Error ? reopenError : new Error(String(reopenError)),
        );
      },
    );
  }
}

/** amqplib's text for an operation the broker refused, which closed the channel. */
export function isOperationError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('Operation failed:');
}

export type AnyManagedChannel = ManagedChannel<Channel> | ManagedChannel<ConfirmChannel>;
