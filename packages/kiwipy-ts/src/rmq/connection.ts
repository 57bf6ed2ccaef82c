import * as amqp from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { CommunicatorClosedError, ConnectionLostError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ReconnectOptions } from './options.js';

/** Where the connection is in its life. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed';

/** Options of {@link RobustConnection}. */
export interface RobustConnectionOptions {
  /** The URL to connect to, heartbeat included. */
  readonly url: string;
  /** The URL without its password, for messages. */
  readonly displayUrl: string;
  readonly connectTimeout: number;
  readonly closeTimeout: number;
  readonly reconnect: ReconnectOptions;
  readonly logger: Logger;
  readonly connectionName?: string | undefined;
  /** Declares everything on a fresh connection; a throw closes it and counts as a failed attempt. */
  readonly setup: (model: ChannelModel, generation: number) => Promise<void>;
  /** The connection was lost (called once per loss, before any reconnection attempt). */
  readonly onLost: (error: Error) => void;
  /** A reconnection attempt failed; the next one comes after `delayMs`. */
  readonly onAttemptFailed: (attempt: number, delayMs: number, error: Error) => void;
  /** The connection is back and set up. */
  readonly onRestored: (attempts: number, downtimeMs: number) => void;
  /** The connection did not come back within `reconnect.timeout`. */
  readonly onTimedOut: (error: ConnectionLostError) => void;
  /** Reconnection is over for good. */
  readonly onGaveUp: (error: ConnectionLostError) => void;
}

interface Waiter {
  readonly resolve: (model: ChannelModel) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * One AMQP connection that comes back after it is lost: it reconnects with exponential backoff, runs
 * `setup` on every new connection, and lets callers wait for it (`ready()`) for at most
 * `reconnect.timeout`. amqplib does not reconnect by itself in a way that re-declares consumers, so this
 * is ours.
 */
export class RobustConnection {
  readonly #options: RobustConnectionOptions;
  #state: ConnectionState = 'connecting';
  #model: ChannelModel | undefined;
  #generation = 0;
  readonly #waiters = new Set<Waiter>();
  #lostAt = 0;
  #attempts = 0;
  #timedOut = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #lastError: Error | undefined;

  constructor(options: RobustConnectionOptions) {
    this.#options = options;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Increases with every new connection, so work done on an old one can be told apart. */
  get generation(): number {
    return this.#generation;
  }

  /** The open connection, if there is one right now. */
  get model(): ChannelModel | undefined {
    return this.#state === 'open' ? this.#model : undefined;
  }

  /** Connects for the first time; rejects with {@link ConnectionLostError} if the broker cannot be reached. */
  async open(): Promise<ChannelModel> {
    try {
      const model = await this.#attempt();
      this.#state = 'open';
      return model;
    } catch (error) {
      if (this.#state === 'closed')
        throw new CommunicatorClosedError('the communicator was closed while connecting', { cause: error });
      this.#state = 'failed';
      throw new ConnectionLostError(`cannot connect to ${this.#options.displayUrl}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * The open connection: at once when open, else when it comes back. Rejects with
   * {@link ConnectionLostError} when it does not come back within `reconnect.timeout` (or reconnection
   * is over), with {@link CommunicatorClosedError} once closed.
   */
  ready(): Promise<ChannelModel> {
    if (this.#state === 'open' && this.#model !== undefined) return Promise.resolve(this.#model);
    if (this.#state === 'closed')
      return Promise.reject(new CommunicatorClosedError('the communicator is closed'));
    if (this.#state === 'failed' || this.#timedOut) return Promise.reject(this.#lostError());
    return new Promise((resolve, reject) => this.#waiters.add({ resolve, reject }));
  }

  /** Closes the connection; returns within about `closeTimeout` whatever the broker does. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimers();
    this.#rejectWaiters(new CommunicatorClosedError('the communicator is closed'));
    const model = this.#model;
    this.#model = undefined;
    if (model !== undefined) await closeModel(model, this.#options.closeTimeout);
  }

  /** Drops the connection as if the network failed (used when a channel error leaves it unusable). */
  destroy(reason: Error): void {
    const model = this.#model;
    if (model === undefined || this.#state !== 'open') return;
    this.#options.logger.warn({ error: reason }, 'dropping the broker connection');
    destroySocket(model);
  }

  async #attempt(): Promise<ChannelModel> {
    const { url, connectTimeout, connectionName } = this.#options;
    const connecting = amqp.connect(url, {
      timeout: connectTimeout,
      // Nagle off: a subscription is three small request/response frames in a row (declare, bind, consume), and
      // with Nagle one of them waited for the broker's delayed ACK, about 40 ms (measured on a daemon worker's
      // process.ready()). The frames written while incoming ones are handled still go out in one write
      // (batchSocketWrites).
      noDelay: true,
      clientProperties: connectionName === undefined ? {} : { connection_name: connectionName },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no connection within ${connectTimeout} ms`)),
        connectTimeout,
      );
    });
    let model: ChannelModel;
    try {
      model = await Promise.race([connecting, timeout]);
    } catch (error) {
      // A connection that completes after we gave up on it must not linger.
      connecting.then((late) => closeModel(late, 0)).catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (this.#state === 'closed') {
      await closeModel(model, 0);
      throw new CommunicatorClosedError('the communicator was closed while connecting');
    }
    const generation = ++this.#generation;
    this.#model = model;
    batchSocketWrites(model);
    model.on('error', (error: Error) => {
      this.#lastError = error;
      this.#options.logger.debug({ error }, 'broker connection error');
    });
    model.on('blocked', (reason: string) =>
      this.#options.logger.warn({ reason }, 'the broker blocked the connection (resource alarm)'),
    );
    model.on('unblocked', () => this.#options.logger.info({}, 'the broker unblocked the connection'));
    model.on('close', (error?: Error) => this.#onClose(model, error));
    try {
      await this.#options.setup(model, generation);
    } catch (error) {
      if (this.#model === model) this.#model = undefined;
      await closeModel(model, this.#options.closeTimeout);
      throw error;
    }
    if (this.#model !== model) {
      // Lost again while being set up.
      throw this.#lastError ?? new Error('connection closed during setup');
    }
    return model;
  }

  #onClose(model: ChannelModel, error: Error | undefined): void {
    if (this.#model !== model) return;
    this.#model = undefined;
    if (this.#state !== 'open') return; // during open() or a reconnection attempt: the attempt reports it
    const reason = error ?? this.#lastError ?? new Error('the broker closed the connection');
    this.#options.logger.warn({ error: reason }, 'lost the broker connection');
    this.#lostAt = Date.now();
    this.#attempts = 0;
    this.#timedOut = false;
    this.#options.onLost(reason);
    if (!this.#options.reconnect.enabled) {
      this.#giveUp(reason);
      return;
    }
    this.#state = 'reconnecting';
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      if (this.#state !== 'reconnecting') return;
      this.#timedOut = true;
      const lost = this.#lostError();
      this.#rejectWaiters(lost);
      this.#options.onTimedOut(lost);
    }, this.#options.reconnect.timeout);
    this.#scheduleRetry(this.#options.reconnect.initialDelay);
  }

  #scheduleRetry(delayMs: number): void {
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retry();
    }, delayMs);
  }

  async #retry(): Promise<void> {
    if (this.#state !== 'reconnecting') return;
    this.#attempts += 1;
    try {
      const model = await this.#attempt();
      if (this.#state !== 'reconnecting') return;
      this.#state = 'open';
      this.#timedOut = false;
      if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      for (const waiter of this.#drainWaiters()) waiter.resolve(model);
      this.#options.onRestored(this.#attempts, Date.now() - this.#lostAt);
    } catch (error) {
      if (this.#state !== 'reconnecting') return;
      const reason = error instanceof Error ? error : new Error(String(error));
      this.#lastError = reason;
      const { maxAttempts, initialDelay, factor, maxDelay } = this.#options.reconnect;
      if (this.#attempts >= maxAttempts) {
        this.#giveUp(reason);
        return;
      }
      const base = Math.min(maxDelay, initialDelay * factor ** this.#attempts);
      const delayMs = Math.round(base * (0.9 + Math.random() * 0.1));
      this.#options.onAttemptFailed(this.#attempts, delayMs, reason);
      this.#scheduleRetry(delayMs);
    }
  }

  #giveUp(reason: Error): void {
    this.#state = 'failed';
    this.#clearTimers();
    const lost = new ConnectionLostError(
      `gave up reconnecting to ${this.#options.displayUrl}: ${reason.message}`,
      { cause: reason },
    );
    this.#lastError = lost;
    this.#rejectWaiters(lost);
    this.#options.onGaveUp(lost);
  }

  #lostError(): ConnectionLostError {
    const cause = this.#lastError;
    if (cause instanceof ConnectionLostError) return cause;
    return new ConnectionLostError(
      `the connection to ${this.#options.displayUrl} was lost and not restored within ${this.#options.reconnect.timeout} ms`,
      cause === undefined ? undefined : { cause },
    );
  }

  #drainWaiters(): Waiter[] {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    return waiters;
  }

  #rejectWaiters(error: unknown): void {
    for (const waiter of this.#drainWaiters()) waiter.reject(error);
  }

  #clearTimers(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#retryTimer = undefined;
    this.#deadlineTimer = undefined;
  }
}

/** Closes politely, and drops the socket if the broker has not answered within `timeoutMs`. */
export async function closeModel(model: ChannelModel, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closing = model.close().catch(() => undefined);
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([closing, expired]);
  clearTimeout(timer);
  destroySocket(model);
}

/**
 * amqplib hands every frame to the socket with its own `write`, and on loopback each becomes a system call.
 * Corking the socket while amqplib drains its channel buffers (one pass per tick) turns a tick's frames
 * into one `writev`: pipelined publishing gets several times cheaper. Skipped if amqplib's internals differ.
 */
function batchSocketWrites(model: ChannelModel): void {
  interface Mux {
    _readIncoming?: () => void;
    out?: { cork?: () => void; uncork?: () => void };
  }
  const mux = (model.connection as unknown as { muxer?: Mux }).muxer;
  const out = mux?.out;
  const drain = mux?._readIncoming;
  if (mux === undefined || out?.cork === undefined || out.uncork === undefined || drain === undefined) return;
  const cork = out.cork.bind(out);
  const uncork = out.uncork.bind(out);
  mux._readIncoming = function batched(this: Mux) {
    cork();
    try {
      drain.call(this);
    } finally {
      uncork();
    }
  };
}

function destroySocket(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: { destroyed?: boolean; destroy?: () => void } })
    .stream;
  if (stream?.destroyed === false) stream.destroy?.();
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
