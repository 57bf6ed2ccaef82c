import type { z } from 'zod';
import type { StorageBackend } from '../../../storage/backend.js';
import { getCoordinator, type SlotUsage } from '../../coordination/coordinator.js';
import { abortReason, interruptible, sleep } from './backoff.js';

export type { SlotUsage } from '../../coordination/coordinator.js';

/**
 * What calculation jobs need to share with every other process of the profile (the contract in
 * `status/coordination-api.md`): a throttle for transport openings, shared scheduler polls and job slots. The
 * storage-backed implementation makes the limits hold across OS processes; {@link InProcessCoordinator} holds them
 * within one JS process.
 */
export interface JobCoordinator {
  /** Resolves when `key` may be used (at most once per `intervalMs`); records the use. */
  throttle(key: string, intervalMs: number, options?: { signal?: AbortSignal }): Promise<unknown>;
  /**
   * A poll shared by every caller: a stored result younger than `intervalMs`, or one caller runs `poll()` (throttled
   * by `key`) and everyone gets its result.
   */
  sharedPoll<T>(
    key: string,
    intervalMs: number,
    poll: () => Promise<T>,
    options?: { signal?: AbortSignal; schema?: z.ZodType<T> },
  ): Promise<{ value: T; polledAt: Date }>;
  /** Waits for a slot in every pool (all or nothing, oldest request first); idempotent per holder. */
  acquireSlots(
    holder: number,
    pools: readonly string[],
    options?: { signal?: AbortSignal; onWait?: (usage: readonly SlotUsage[]) => void },
  ): Promise<unknown>;
  /**
   * Asks for a slot in every pool without waiting (may run inside the caller's transaction): resolves to the grant, or
   * to null when the holder has to wait for it with {@link acquireSlots}.
   */
  tryAcquireSlots(holder: number, pools: readonly string[]): Promise<object | null>;
  /** Gives back every slot of `holder`. */
  releaseSlots(holder: number): Promise<unknown>;
  usage(pool: string): Promise<SlotUsage>;
  /** Sets (or, with null, removes) the limit of a pool. */
  setLimit(pool: string, limit: number | null): Promise<void>;
  /** The pools a job on the computer counts against: `computer:<uuid>` and `quota:<name>` of each of its quotas. */
  poolsForComputer(computerUuid: string): Promise<string[]>;
}

/** The pool of a computer's cap on jobs with its scheduler. */
export function computerPool(computerUuid: string): string {
  return `computer:${computerUuid}`;
}

interface Waiter {
  readonly holder: number;
  readonly pools: readonly string[];
  wake: () => void;
}

/**
 * The coordinator of one JS process (the in-memory adapter of {@link JobCoordinator}): throttles, shared polls and
 * slots are kept in memory, so they hold for the processes of one runner only. Used by profiles without the
 * storage-backed coordinator and by tests.
 */
export class InProcessCoordinator implements JobCoordinator {
  readonly #lastUse = new Map<string, number>();
  readonly #throttleChain = new Map<string, Promise<void>>();
  readonly #polls = new Map<string, { value: unknown; polledAt: Date }>();
  readonly #inflight = new Map<string, Promise<{ value: unknown; polledAt: Date }>>();
  readonly #limits = new Map<string, number>();
  readonly #quotas = new Map<string, Set<string>>();
  readonly #granted = new Map<number, readonly string[]>();
  readonly #waiting: Waiter[] = [];

  async throttle(key: string, intervalMs: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    // Callers of one key go one after the other, in arrival order.
    const previous = this.#throttleChain.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chain = previous.then(() => mine);
    this.#throttleChain.set(key, chain);
    try {
      await previous;
      const last = this.#lastUse.get(key);
      const wait = last === undefined ? 0 : last + intervalMs - Date.now();
      if (wait > 0) await sleep(wait, options.signal);
      else if (options.signal?.aborted === true) throw abortReason(options.signal);
      this.#lastUse.set(key, Date.now());
    } finally {
      release();
      if (this.#throttleChain.get(key) === chain) this.#throttleChain.delete(key);
    }
  }

  async sharedPoll<T>(
    key: string,
    intervalMs: number,
    poll: () => Promise<T>,
    options: { signal?: AbortSignal; schema?: z.ZodType<T> } = {},
  ): Promise<{ value: T; polledAt: Date }> {
    const stored = this.#polls.get(key);
    if (stored !== undefined && Date.now() - stored.polledAt.getTime() < intervalMs)
      return stored as { value: T; polledAt: Date };
    const running = this.#inflight.get(key);
    if (running !== undefined) return (await running) as { value: T; polledAt: Date };
    const work = (async () => {
      await this.throttle(`poll:${key}`, intervalMs, options);
      const polledAt = new Date();
      const value = await poll();
      const result = { value, polledAt };
      this.#polls.set(key, result);
      return result;
    })();
    this.#inflight.set(key, work);
    try {
      return { value: (await work).value as T, polledAt: (await work).polledAt };
    } finally {
      this.#inflight.delete(key);
    }
  }

  async acquireSlots(
    holder: number,
    pools: readonly string[],
    options: { signal?: AbortSignal; onWait?: (usage: readonly SlotUsage[]) => void } = {},
  ): Promise<void> {
    if (this.#granted.has(holder)) return;
    options.signal?.throwIfAborted();
    let waiter = this.#waiting.find((w) => w.holder === holder);
    if (waiter === undefined) {
      waiter = { holder, pools, wake: () => undefined };
      this.#waiting.push(waiter);
    }
    try {
      for (;;) {
        const index = this.#waiting.indexOf(waiter);
        // Oldest first: nobody who asked earlier for one of the same pools is passed over.
        const older = this.#waiting.slice(0, index);
        const blocked = older.some((w) => w.pools.some((pool) => pools.includes(pool)));
        if (!blocked && pools.every((pool) => this.#free(pool))) {
          this.#granted.set(holder, [...pools]);
          this.#removeWaiter(holder);
          this.#wakeAll();
          return;
        }
        const woken = new Promise<void>((resolve) => {
          waiter.wake = resolve;
        });
        options.onWait?.(await Promise.all(pools.map((pool) => this.usage(pool))));
        await interruptible(woken, options.signal);
      }
    } catch (error) {
      this.#removeWaiter(holder);
      this.#wakeAll();
      throw error;
    }
  }

  tryAcquireSlots(holder: number, pools: readonly string[]): Promise<object | null> {
    if (this.#granted.has(holder)) return Promise.resolve({ holder });
    // nobody waits here for one of these pools (those who asked earlier go first), and each has room
    const blocked = this.#waiting.some(
      (w) => w.holder !== holder && w.pools.some((pool) => pools.includes(pool)),
    );
    if (blocked || !pools.every((pool) => this.#free(pool))) return Promise.resolve(null);
    this.#granted.set(holder, [...pools]);
    this.#removeWaiter(holder);
    return Promise.resolve({ holder });
  }

  #removeWaiter(holder: number): void {
    const index = this.#waiting.findIndex((w) => w.holder === holder);
    if (index !== -1) this.#waiting.splice(index, 1);
  }

  #wakeAll(): void {
    for (const waiter of [...this.#waiting]) waiter.wake();
  }

  #used(pool: string): number {
    let used = 0;
    for (const pools of this.#granted.values()) if (pools.includes(pool)) used += 1;
    return used;
  }

  #free(pool: string): boolean {
    const limit = this.#limits.get(pool);
    return limit === undefined || this.#used(pool) < limit;
  }

  releaseSlots(holder: number): Promise<void> {
    if (this.#granted.delete(holder)) this.#wakeAll();
    return Promise.resolve();
  }

  usage(pool: string): Promise<SlotUsage> {
    return Promise.resolve({
      pool,
      limit: this.#limits.get(pool) ?? null,
      used: this.#used(pool),
      waiting: this.#waiting.filter((w) => w.pools.includes(pool)).length,
    });
  }

  setLimit(pool: string, limit: number | null): Promise<void> {
    if (limit === null) this.#limits.delete(pool);
    else this.#limits.set(pool, limit);
    this.#wakeAll();
    return Promise.resolve();
  }

  /** Adds the computer to the named quota (a pool shared by several computers). */
  addToQuota(name: string, computerUuid: string): void {
    let members = this.#quotas.get(name);
    if (members === undefined) this.#quotas.set(name, (members = new Set()));
    members.add(computerUuid);
  }

  poolsForComputer(computerUuid: string): Promise<string[]> {
    const pools = [computerPool(computerUuid)];
    for (const [name, members] of this.#quotas) if (members.has(computerUuid)) pools.push(`quota:${name}`);
    return Promise.resolve(pools);
  }
}

type CoordinatorProvider = (storage: StorageBackend) => JobCoordinator;

// the storage-backed coordinator (src/engine/coordination/): limits hold across every process of the profile
let provider: CoordinatorProvider = (storage) => getCoordinator(storage);

/** The coordinator calculation jobs on `storage` share (one per storage). */
export function jobCoordinatorFor(storage: StorageBackend): JobCoordinator {
  return provider(storage);
}

/** Replaces how coordinators are found (the storage-backed coordinator installs itself here); returns the old one. */
export function setJobCoordinatorProvider(next: CoordinatorProvider): CoordinatorProvider {
  const previous = provider;
  provider = next;
  return previous;
}
