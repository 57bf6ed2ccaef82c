import { InvalidOperationError } from '../../../errors.js';
import type { AuthInfo } from '../../../orm/entities/computer.js';
import type { Transport } from '../../../transports/transport.js';
import { getLogger } from '../../logging.js';
import { interruptible } from './backoff.js';
import type { JobCoordinator } from './coordination.js';

/** One holder's share of a transport of the queue; release it when done (idempotent). */
export interface TransportRequest extends AsyncDisposable {
  readonly transport: Transport;
  release(): Promise<void>;
}

interface Entry {
  readonly key: string;
  count: number;
  transport: Transport | undefined;
  ready: Promise<Transport>;
  /** Aborts the wait for the throttle when the last holder leaves before the transport opened. */
  readonly cancel: AbortController;
  /** The safe interval of the openings (ms), once known. */
  interval: number;
  /** Closes the transport once it has been idle for {@link interval} (see `#release`). */
  idle: NodeJS.Timeout | undefined;
}

/** Options of {@link TransportQueue}. */
export interface TransportQueueOptions {
  /** Spaces the openings of transports to one computer for one user, across every process of the profile. */
  readonly coordinator: JobCoordinator;
}

/** The throttle key of the openings of transports to a computer as a user (see the coordination contract). */
export function transportOpenKey(authInfo: AuthInfo): string {
  return `transport-open:${authInfo.computer.uuid}:${authInfo.user.email}`;
}

/**
 * Shares one open transport per (computer, user) between every process of a runner that needs it (aiida's
 * `TransportQueue`): the first request opens it, later ones get the same object while it is in use, and the last
 * release closes it. Openings are spaced by the computer's `safe_interval` across every OS process of the profile
 * (through the coordinator's throttle), which is what keeps a cluster from banning a busy user. With a safe interval,
 * a transport whose last holder left stays open for that interval, so that the next step of a job reuses it instead
 * of waiting to reopen it. A transport that lost its connection is never handed out again.
 */
export class TransportQueue implements AsyncDisposable {
  readonly #coordinator: JobCoordinator;
  readonly #entries = new Map<string, Entry>();
  readonly #closing = new Set<Promise<void>>();
  #closed = false;
  /** How many transports this queue opened (for tests and `verdi` diagnostics). */
  openCount = 0;

  constructor(options: TransportQueueOptions) {
    this.#coordinator = options.coordinator;
  }

  /**
   * Resolves to a share of an open transport for `authInfo`; the signal aborts the wait (and the opening when nobody
   * else waits for it).
   */
  async request(authInfo: AuthInfo, options: { signal?: AbortSignal } = {}): Promise<TransportRequest> {
    if (this.#closed) throw new InvalidOperationError('the transport queue is closed');
    options.signal?.throwIfAborted();
    const key = String(authInfo.pk ?? `${authInfo.computer.uuid}:${authInfo.user.email}`);
    let entry = this.#entries.get(key);
    if (entry?.transport !== undefined && !entry.transport.isOpen) {
      // The connection was lost: its holders keep the old entry, everyone else gets a fresh one.
      this.#entries.delete(key);
      if (entry.count === 0) void this.#close(entry);
      entry = undefined;
    }
    if (entry === undefined) {
      const fresh: Entry = {
        key,
        count: 0,
        transport: undefined,
        ready: Promise.resolve(undefined as unknown as Transport),
        cancel: new AbortController(),
        interval: 0,
        idle: undefined,
      };
      fresh.ready = this.#open(fresh, authInfo);
      fresh.ready.catch(() => undefined);
      this.#entries.set(key, fresh);
      entry = fresh;
    }
    const held = entry;
    held.count += 1;
    if (held.idle !== undefined) {
      clearTimeout(held.idle);
      held.idle = undefined;
    }
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await this.#release(held);
    };
    try {
      const transport = await interruptible(held.ready, options.signal);
      return { transport, release, [Symbol.asyncDispose]: release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** Runs `fn` with a shared open transport for `authInfo`, released afterwards. */
  async withTransport<T>(
    authInfo: AuthInfo,
    fn: (transport: Transport) => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const request = await this.request(authInfo, options);
    try {
      return await fn(request.transport);
    } finally {
      await request.release();
    }
  }

  async #open(entry: Entry, authInfo: AuthInfo): Promise<Transport> {
    try {
      const transport = await authInfo.getTransport();
      const interval = Math.max(0, await authInfo.getSafeOpenInterval()) * 1000;
      entry.interval = interval;
      // No interval, nothing to space: the coordinator's record of the opening (a storage transaction shared with
      // every process of the profile) would only cost each step of each job a commit.
      if (interval > 0)
        await this.#coordinator.throttle(transportOpenKey(authInfo), interval, {
          signal: entry.cancel.signal,
        });
      else entry.cancel.signal.throwIfAborted();
      if (entry.count === 0 || this.#closed)
        throw new InvalidOperationError('nobody waits for the transport any more');
      await transport.open();
      this.openCount += 1;
      entry.transport = transport;
      if (entry.count === 0 || this.#closed) void this.#closeEntry(entry);
      return transport;
    } catch (error) {
      if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
      throw error;
    }
  }

  async #release(entry: Entry): Promise<void> {
    entry.count -= 1;
    if (entry.count > 0) return;
    if (entry.transport === undefined) {
      entry.cancel.abort(new InvalidOperationError('the transport request was withdrawn'));
      if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
      return;
    }
    if (entry.interval > 0 && !this.#closed && this.#entries.get(entry.key) === entry) {
      // The next step of a job (or another job) usually asks again at once, and a new opening would have to wait
      // out the safe interval anyway: the connection stays for that long, so that it is reused instead of
      // reopened. Openings stay spaced by the interval; only their number drops.
      entry.idle = setTimeout(() => {
        entry.idle = undefined;
        if (entry.count === 0) void this.#closeEntry(entry);
      }, entry.interval);
      entry.idle.unref();
      return;
    }
    await this.#closeEntry(entry);
  }

  /** The entry leaves the map before the close starts: a request arriving meanwhile gets a fresh transport. */
  #closeEntry(entry: Entry): Promise<void> {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    return this.#close(entry);
  }

  #close(entry: Entry): Promise<void> {
    const transport = entry.transport;
    if (transport === undefined) return Promise.resolve();
    entry.transport = undefined;
    const closing = transport.close().catch((error: unknown) => {
      getLogger('aiida').warn({ err: error }, 'closing a transport failed');
    });
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
    return closing;
  }

  /** Closes every transport and refuses new requests. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#entries.values()) {
      if (entry.idle !== undefined) clearTimeout(entry.idle);
      entry.cancel.abort(new InvalidOperationError('the transport queue was closed'));
      void this.#close(entry);
    }
    this.#entries.clear();
    await Promise.all([...this.#closing]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
