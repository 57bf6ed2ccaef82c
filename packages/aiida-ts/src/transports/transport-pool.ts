import { InvalidOperationError, TransportError } from '../errors.js';
import { asError } from '../utils/as-error.js';
import type { Transport } from './transport.js';

/** Identifies what a transport connects to as; aiida keys by AuthInfo pk (one computer, one user). */
export type TransportKey = string | number;

/** Makes a new, closed transport for a key (for example `() => authInfo.getTransport()`). */
export type TransportFactory = () => Transport | Promise<Transport>;

/** Options of {@link TransportPool}. */
export interface TransportPoolOptions {
  /**
   * Keep a transport open this long after its last lease is released, for a request that may follow;
   * default 0: close at once, as aiida's TransportQueue does.
   */
  readonly idleTimeoutMs?: number;
}

/** Options of {@link TransportPool.requestTransport}. */
export interface RequestTransportOptions {
  /** Give up waiting; the lease is never handed out and the open is cancelled if nobody else waits. */
  readonly signal?: AbortSignal;
}

/** One holder's share of a pooled transport; release it (or `await using` it) when done. */
export interface TransportLease extends AsyncDisposable {
  readonly transport: Transport;
  /** Give the share back; the last release closes the transport (after the idle timeout). Idempotent. */
  release(): Promise<void>;
}

interface PoolEntry {
  readonly key: TransportKey;
  count: number;
  transport: Transport | undefined;
  ready: Promise<Transport>;
  /** Wakes a request sleeping out the safe interval early (when nobody wants the transport any more). */
  cancelWait: (() => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * Shares one open transport per key among everyone who needs it (aiida's `TransportQueue`): the first
 * request creates and opens the transport, later requests for the same key get the same object while it is
 * in use, and the last release closes it. Openings for one key are spaced by at least the transport's
 * `safe_interval` (measured from the start of the previous opening; the first opening does not wait). A
 * transport that lost its connection is never handed out again: the next request opens a fresh one.
 */
export class TransportPool implements AsyncDisposable {
  readonly #entries = new Map<TransportKey, PoolEntry>();
  readonly #lastOpenAt = new Map<TransportKey, number>();
  readonly #closing = new Set<Promise<void>>();
  readonly #idleTimeoutMs: number;
  #closed = false;

  constructor(options: TransportPoolOptions = {}) {
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
  }

  /** Keys with a transport open, opening, or idling. */
  get keys(): TransportKey[] {
    return [...this.#entries.keys()];
  }

  /** Wait for a shared, open transport for `key`, creating it with `create` if there is none. */
  async requestTransport(
    key: TransportKey,
    create: TransportFactory,
    options: RequestTransportOptions = {},
  ): Promise<TransportLease> {
    if (this.#closed) throw new InvalidOperationError('TransportPool is closed');
    options.signal?.throwIfAborted();
    let entry = this.#entries.get(key);
    if (entry?.transport !== undefined && !entry.transport.isOpen) {
      // Lost connection: leave the old entry to its current holders, start afresh for everyone else.
      this.#entries.delete(key);
      if (entry.count === 0) void this.#scheduleClose(entry);
      entry = undefined;
    }
    if (entry === undefined) {
      const fresh: PoolEntry = {
        key,
        count: 0,
        transport: undefined,
        ready: Promise.resolve(undefined as unknown as Transport),
        cancelWait: undefined,
        idleTimer: undefined,
      };
      fresh.ready = this.#open(fresh, create);
      // Every waiter handles the failure; this only keeps an unwaited rejection from being reported.
      fresh.ready.catch(() => undefined);
      this.#entries.set(key, fresh);
      entry = fresh;
    }
    const held = entry;
    if (held.idleTimer !== undefined) {
      clearTimeout(held.idleTimer);
      held.idleTimer = undefined;
    }
    held.count += 1;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await this.#release(held);
    };
    try {
      const transport = await abortable(held.ready, options.signal);
      return { transport, release, [Symbol.asyncDispose]: release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** Run `fn` with a shared open transport for `key`, releasing it afterwards. */
  async withTransport<T>(
    key: TransportKey,
    create: TransportFactory,
    fn: (t: Transport) => Promise<T>,
  ): Promise<T> {
    await using lease = await this.requestTransport(key, create);
    // `return await`: the lease must outlive fn's promise, not just its creation.
    return await fn(lease.transport);
  }

  async #open(entry: PoolEntry, create: TransportFactory): Promise<Transport> {
    const transport = await create();
    const interval = Math.max(0, transport.getSafeOpenInterval()) * 1000;
    const last = this.#lastOpenAt.get(entry.key);
    const due = last === undefined ? 0 : last + interval;
    // A timer may fire up to a millisecond before `Date.now()` says its delay has passed (the two clocks round
    // differently): wait again until the interval has passed on the clock the openings are recorded with.
    let cancelled = false;
    for (let wait = due - Date.now(); wait > 0 && !cancelled; wait = due - Date.now()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        entry.cancelWait = () => {
          cancelled = true;
          clearTimeout(timer);
          resolve();
        };
      });
      entry.cancelWait = undefined;
    }
    if (entry.count === 0 || this.#closed) {
      throw new TransportError(`transport request for ${String(entry.key)} was cancelled before it opened`);
    }
    this.#lastOpenAt.set(entry.key, Date.now());
    try {
      await transport.open();
    } catch (error) {
      if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
      throw error;
    }
    entry.transport = transport;
    if (entry.count === 0 || this.#closed) {
      // Everyone left (or the pool closed) while it was opening.
      void this.#scheduleClose(entry);
    }
    return transport;
  }

  async #release(entry: PoolEntry): Promise<void> {
    entry.count -= 1;
    if (entry.count > 0) return;
    if (entry.transport === undefined) {
      // Still waiting or opening: stop the wait; #open notices nobody wants it.
      entry.cancelWait?.();
      if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
      return;
    }
    if (
      this.#idleTimeoutMs > 0 &&
      !this.#closed &&
      entry.transport.isOpen &&
      this.#entries.get(entry.key) === entry
    ) {
      entry.idleTimer = setTimeout(() => {
        entry.idleTimer = undefined;
        if (entry.count === 0) void this.#closeEntry(entry);
      }, this.#idleTimeoutMs);
      return;
    }
    await this.#closeEntry(entry);
  }

  /** Remove the entry first, so a request arriving during the close gets a fresh transport. */
  async #closeEntry(entry: PoolEntry): Promise<void> {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    await this.#scheduleClose(entry);
  }

  #scheduleClose(entry: PoolEntry): Promise<void> {
    const transport = entry.transport;
    if (transport === undefined) return Promise.resolve();
    entry.transport = undefined;
    const closing = transport.close().catch(() => undefined);
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
    return closing;
  }

  /** Close every pooled transport (leases still held see a closed transport) and refuse new requests. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#entries.values()) {
      if (entry.idleTimer !== undefined) clearTimeout(entry.idleTimer);
      entry.cancelWait?.();
      void this.#scheduleClose(entry);
    }
    this.#entries.clear();
    await Promise.all([...this.#closing]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      const reason: unknown = signal.reason;
      reject(reason instanceof Error ? reason : new TransportError('transport request aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(asError(error, TransportError));
      },
    );
  });
}
