import { setMaxListeners } from 'node:events';
import { z } from 'zod';
import { InvalidOperationError, ValidationError } from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import {
  addComputerToQuota,
  createQuota,
  deleteQuota,
  getPoolLimit,
  listPools,
  parsePool,
  poolsForComputer,
  removeComputerFromQuota,
  setPoolLimit,
  type CreateQuotaOptions,
  type PoolConfig,
} from '../../storage/aiida-ts-schema/job-limits.js';
import { aiidaTsTablesReadable, ensureAiidaTsSchema } from '../../storage/aiida-ts-schema/schema-state.js';
import { SlotRequestState, withAiidaTsTables } from '../../storage/aiida-ts-schema/schema.js';
import { abortableSleep, AdaptiveDelay } from './abortable-sleep.js';
import { currentProcessIdentity, newOwnerId } from './process-identity.js';
import {
  claimPoll,
  decodePollValue,
  encodePollValue,
  finishPoll,
  peekPoll,
  renewPollLease,
  type PollWish,
} from './shared-poll.js';
import {
  dropOwner,
  enqueueRequest,
  claimSweep,
  expireDeadOwners,
  grantWaiting,
  heartbeatOwner,
  openSlotTransaction,
  readRequest,
  readRequests,
  readUsage,
  removeHolder,
  type SlotOwner,
  type SlotRequestRow,
  type SlotTransaction,
  type SlotUsage,
} from './slot-queue.js';
import { cancelReservation, reserveUse } from './throttle.js';

export type { SlotUsage } from './slot-queue.js';

/** Options of {@link getCoordinator} and {@link createCoordinator}. */
export const CoordinatorOptionsSchema = z.object({
  /**
   * How long a waiting process's requests (and a running shared poll) stay valid without a heartbeat, in ms: a
   * process on another machine that dies stops blocking the queue after this long (on the same machine, at once).
   */
  leaseMs: z.number().int().min(100).default(10_000),
  /** The shortest pause between two looks at the tables while waiting (ms). */
  minPollMs: z.number().int().min(1).default(10),
  /** The longest such pause; the pause doubles from the shortest while nothing changes (ms). */
  maxPollMs: z.number().int().min(1).default(250),
  /**
   * How often a waiting process renews its lease and sweeps the queue for requests of dead processes and slots of
   * ended holders (ms).
   */
  sweepIntervalMs: z.number().int().min(10).default(1_000),
});
export type CoordinatorOptions = z.input<typeof CoordinatorOptionsSchema>;
type ResolvedOptions = z.output<typeof CoordinatorOptionsSchema>;

/** Options of {@link Coordinator.throttle}. */
export interface ThrottleOptions {
  readonly signal?: AbortSignal;
}

/** Options of {@link Coordinator.sharedPoll}. */
export interface SharedPollOptions<T> {
  readonly signal?: AbortSignal;
  /** Checks the stored result (which went through JSON) and gives its type. */
  readonly schema?: z.ZodType<T>;
  /**
   * Only accept the result of a poll that started at this time or later (e.g. a job's submission, so the job is
   * in the list). Compared with the database's clock on PostgreSQL.
   */
  readonly notBefore?: Date;
}

/** The result of a shared poll and when the poll that produced it started. */
export interface SharedPollResult<T> {
  readonly value: T;
  readonly polledAt: Date;
}

/** Options of {@link Coordinator.acquireSlots}. */
export interface AcquireSlotsOptions {
  readonly signal?: AbortSignal;
  /**
   * Called once when the request has to wait, then whenever the usage of its pools changes, with the usage of
   * each pool in the order asked (for a process status such as "Waiting for a free slot on X: 10 of 10 in use").
   * If it throws, the request is withdrawn and `acquireSlots` rejects with that error.
   */
  readonly onWait?: (usage: readonly SlotUsage[]) => void;
}

/** A holder's slots, granted. */
export interface SlotGrant {
  readonly holder: number;
  readonly pools: readonly string[];
  /** The request's place in the queue: requests are served in increasing order, per pool. */
  readonly requestId: number;
  /** When the slots were granted (the database's clock). */
  readonly grantedAt: Date;
}

/** A holder's request for slots as it stands. */
export interface SlotRequestInfo {
  readonly holder: number;
  readonly pools: readonly string[];
  readonly requestId: number;
  readonly state: SlotRequestState;
  readonly grantedAt: Date | null;
}

/**
 * Limits that hold across every OS process sharing a profile — daemon workers, `verdi run` scripts, several
 * machines on one PostgreSQL database — kept in the profile's own storage (no broker needed): throttles (at most
 * one use of a key per interval), shared polls (one poll per interval whose result every process reads) and job
 * slots (caps per computer and named quotas shared by several computers). Waiting is by looking at the tables at a
 * short interval that grows while nothing changes; every wait takes an `AbortSignal`. Waiting operations refuse to
 * run inside a storage transaction (they would hold its locks while they wait).
 */
export interface Coordinator extends AsyncDisposable {
  /**
   * Resolves when `key` may be used: at most one use per `intervalMs` across all processes sharing the profile
   * (the database's clock decides on PostgreSQL). The use is recorded before it resolves, and callers are served
   * in the order they asked. Resolves to the recorded time of the use. Rejects with the signal's reason on abort
   * (the turn is given back when nobody queued behind it). Keys used by CalcJobs: `transport-open:<computer
   * uuid>:<user email>` (safe_interval) and `scheduler-poll:<computer uuid>:<user email>`.
   */
  throttle(key: string, intervalMs: number, options?: ThrottleOptions): Promise<Date>;

  /**
   * A poll shared by every process: if a result for `key` younger than `intervalMs` exists (and not older than
   * `notBefore`), returns it; otherwise one caller across all processes takes the throttle for `key` (at most one
   * poll per `intervalMs`), runs `poll(signal)`, and stores its JSON-serialisable result, which every other caller
   * receives (waiting for it when needed). A failed poll stores nothing and rejects only the caller that ran it;
   * the others poll again once the interval allows. A poller that dies is replaced after its lease.
   */
  sharedPoll<T>(
    key: string,
    intervalMs: number,
    poll: (signal: AbortSignal) => Promise<T>,
    options?: SharedPollOptions<T>,
  ): Promise<SharedPollResult<T>>;

  /**
   * Resolves once `holder` (a process node's pk) has a slot in every one of `pools` (`computer:<uuid>`,
   * `quota:<name>`; see `poolsForComputer`): all or nothing, oldest request first per pool, across processes, so
   * no younger request overtakes an older one. A pool without a limit is unlimited. Asking again with the same
   * holder is idempotent: a granted holder gets its grant at once, a waiting one keeps its place (a restarted
   * process finds its request). A waiting request lives as long as its process: if the process dies, it stops
   * blocking the queue. Granted slots outlive a crash (the job may still be with the scheduler): they are freed
   * by {@link releaseSlots}, or reclaimed once the holder's process node is terminated or deleted. On abort the
   * request is withdrawn (and a grant that raced the abort released) and the promise rejects with the reason.
   */
  acquireSlots(holder: number, pools: readonly string[], options?: AcquireSlotsOptions): Promise<SlotGrant>;
  /**
   * Asks for the slots as {@link acquireSlots} does, but never waits: resolves to the grant, or to null when the
   * request has to wait (it keeps its place in the queue: a later `acquireSlots` of the holder waits for it). May run
   * inside the caller's transaction, so that the request is written with the caller's own write (a job records its
   * request with the checkpoint that says it is about to submit).
   */
  tryAcquireSlots(holder: number, pools: readonly string[]): Promise<SlotGrant | null>;
  /** Frees the holder's slots (or withdraws its waiting request). Resolves to when, or null if it had none. */
  releaseSlots(holder: number): Promise<Date | null>;
  /** The holder's request, or null when it has none. */
  slotRequest(holder: number): Promise<SlotRequestInfo | null>;
  /** The limit, slots in use and waiting requests of `pool`. */
  usage(pool: string): Promise<SlotUsage>;

  /** Sets the limit of a pool (null: no limit); waiting requests that now fit are granted at once. */
  setLimit(pool: string, limit: number | null): Promise<void>;
  /** The limit of a pool, null when unlimited. */
  getLimit(pool: string): Promise<number | null>;
  /** Every configured pool: computer caps and quotas. */
  listPools(): Promise<PoolConfig[]>;
  /** Creates a named quota (`UniquenessError` when it exists). */
  createQuota(name: string, options?: CreateQuotaOptions): Promise<void>;
  /** Deletes a quota; jobs in it no longer count against anything. */
  deleteQuota(name: string): Promise<void>;
  /** Makes jobs on the computer count against the quota from their next request on. */
  addToQuota(quota: string, computerUuid: string): Promise<void>;
  removeFromQuota(quota: string, computerUuid: string): Promise<void>;
  /** The pools a job on the computer counts against: `computer:<uuid>` and `quota:<name>` of each quota. */
  poolsForComputer(computerUuid: string): Promise<string[]>;

  /**
   * Stops: pending waits reject, this process's waiting requests are withdrawn (granted slots stay), no timer is
   * left. Called when the storage closes. Idempotent.
   */
  close(): Promise<void>;
}

const KeySchema = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters');
const IntervalSchema = z.number().finite('must be a finite number').min(0, 'must not be negative');
const HolderSchema = z
  .number()
  .int('must be a whole number')
  .positive('must be a positive pk')
  .max(2 ** 31 - 1);

function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${what} \`${String(value)}\``, [
    ...result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  ]);
}

const PoolListSchema = z.array(z.string()).min(1);

function checkedPools(pools: readonly string[]): string[] {
  const parsed = PoolListSchema.safeParse(pools);
  if (!parsed.success) {
    throw new ValidationError('acquireSlots needs at least one pool (`computer:<uuid>` or `quota:<name>`)');
  }
  for (const pool of parsed.data) parsePool(pool);
  return [...new Set(parsed.data)];
}

/** One caller of `acquireSlots` waiting in this process. */
interface SlotWaiter {
  readonly holder: number;
  readonly pools: readonly string[];
  readonly onWait: ((usage: readonly SlotUsage[]) => void) | undefined;
  lastUsage: string;
  settle(outcome: { readonly grant: SlotGrant } | { readonly error: unknown }): void;
}

function toGrant(row: SlotRequestRow): SlotGrant {
  return {
    holder: row.holder,
    pools: row.pools,
    requestId: row.id,
    grantedAt: new Date(row.grantedAt ?? 0),
  };
}

/** How many failed looks at the tables in a row a waiting loop tolerates (a database restart) before giving up. */
const MAX_CONSECUTIVE_FAILURES = 20;

class SqlCoordinator implements Coordinator {
  readonly #backend: StorageBackend;
  readonly #options: ResolvedOptions;
  readonly #owner: SlotOwner;
  readonly #closing = new AbortController();
  readonly #waiters = new Map<number, SlotWaiter[]>();
  /** Withdrawals and releases started by aborts and close, awaited by close. */
  readonly #pending = new Set<Promise<unknown>>();
  readonly #unhook: () => void;
  #loop: Promise<void> | undefined;
  #lastSweep = 0;
  /** When this coordinator last renewed its lease (its own clock: only the interval matters). */
  #heartbeatAt = -Infinity;
  #polls = 0;
  #closed: Promise<void> | undefined;

  constructor(backend: StorageBackend, options: ResolvedOptions) {
    this.#backend = backend;
    this.#options = options;
    this.#owner = { id: newOwnerId(), identity: currentProcessIdentity() };
    // every wait of this coordinator listens to it: many at once is normal, not a leak
    setMaxListeners(Infinity, this.#closing.signal);
    this.#unhook = backend.onClose(() => this.close());
  }

  // --- throttles and shared polls ---------------------------------------------------------------------------

  async throttle(key: string, intervalMs: number, options: ThrottleOptions = {}): Promise<Date> {
    checked(KeySchema, key, 'throttle key');
    checked(IntervalSchema, intervalMs, `interval of throttle \`${key}\``);
    const signal = this.#waitSignal('throttle', options.signal);
    await ensureAiidaTsSchema(this.#backend);
    // closed meanwhile (the storage closing closes the coordinator first): reserve nothing
    signal.throwIfAborted();
    const reservation = await reserveUse(this.#backend, key, Math.round(intervalMs));
    const wait = reservation.at - reservation.now;
    if (wait > 0) {
      try {
        await abortableSleep(wait, signal);
      } catch (error) {
        await cancelReservation(this.#backend, key, reservation, Math.round(intervalMs)).catch(
          () => undefined,
        );
        throw error;
      }
    }
    return new Date(reservation.at);
  }

  async sharedPoll<T>(
    key: string,
    intervalMs: number,
    poll: (signal: AbortSignal) => Promise<T>,
    options: SharedPollOptions<T> = {},
  ): Promise<SharedPollResult<T>> {
    checked(KeySchema, key, 'shared poll key');
    checked(IntervalSchema, intervalMs, `interval of shared poll \`${key}\``);
    const signal = this.#waitSignal('sharedPoll', options.signal);
    await ensureAiidaTsSchema(this.#backend);
    const wish: PollWish = {
      intervalMs: Math.round(intervalMs),
      notBefore: options.notBefore?.getTime() ?? null,
    };
    const poller = `${this.#owner.id}#${(this.#polls += 1)}`;
    const delay = new AdaptiveDelay(this.#options.minPollMs, this.#options.maxPollMs);
    for (;;) {
      signal.throwIfAborted();
      const step =
        (await peekPoll(this.#backend, key, wish, delay.next())) ??
        (await claimPoll(this.#backend, key, wish, poller, this.#options.leaseMs, this.#options.maxPollMs));
      if (step.kind === 'result') {
        return { value: decodePollValue(key, step.value, options.schema), polledAt: new Date(step.polledAt) };
      }
      if (step.kind === 'wait') {
        await abortableSleep(step.ms, signal);
        continue;
      }
      return this.#runPoll(key, poller, step.startedAt, poll, options.schema, signal);
    }
  }

  async #runPoll<T>(
    key: string,
    poller: string,
    startedAt: number,
    poll: (signal: AbortSignal) => Promise<T>,
    schema: z.ZodType<T> | undefined,
    signal: AbortSignal,
  ): Promise<SharedPollResult<T>> {
    const { leaseMs } = this.#options;
    // a long poll keeps its lease, so nobody else starts the same poll meanwhile
    const renew = setInterval(() => {
      renewPollLease(this.#backend, key, poller, leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    let text: string;
    try {
      text = encodePollValue(key, await poll(signal));
    } catch (error) {
      clearInterval(renew);
      await finishPoll(this.#backend, key, poller, startedAt, undefined).catch(() => undefined);
      throw error;
    }
    clearInterval(renew);
    await finishPoll(this.#backend, key, poller, startedAt, text);
    return { value: decodePollValue(key, text, schema), polledAt: new Date(startedAt) };
  }

  // --- job slots --------------------------------------------------------------------------------------------

  async acquireSlots(
    holder: number,
    pools: readonly string[],
    options: AcquireSlotsOptions = {},
  ): Promise<SlotGrant> {
    checked(HolderSchema, holder, 'slot holder');
    const wanted = checkedPools(pools);
    const signal = this.#waitSignal('acquireSlots', options.signal);
    const request = await this.#enqueue(holder, wanted);
    if (request.state === SlotRequestState.GRANTED) return toGrant(request);
    return this.#wait(holder, request.pools, options.onWait, signal);
  }

  async tryAcquireSlots(holder: number, pools: readonly string[]): Promise<SlotGrant | null> {
    checked(HolderSchema, holder, 'slot holder');
    const wanted = checkedPools(pools);
    this.#assertOpen();
    const request = await this.#enqueue(holder, wanted);
    return request.state === SlotRequestState.GRANTED ? toGrant(request) : null;
  }

  /** Queues the holder's request (idempotent) and grants it when its pools allow, in one transaction. */
  async #enqueue(holder: number, pools: readonly string[]): Promise<SlotRequestRow> {
    await ensureAiidaTsSchema(this.#backend);
    return this.#slotTransaction(async (tx) => {
      // the owner row must exist before the request, or a grant pass would take the request for an orphan
      if (Date.now() - this.#heartbeatAt >= this.#options.leaseMs / 3) {
        await heartbeatOwner(tx.db, tx.dialect, this.#owner, this.#options.leaseMs);
        this.#heartbeatAt = Date.now();
      }
      const row = await enqueueRequest(tx, holder, pools, this.#owner);
      if (row.state === SlotRequestState.GRANTED) return row;
      const granted = (await grantWaiting(tx)).some((request) => request.id === row.id);
      return granted ? { ...row, state: SlotRequestState.GRANTED, grantedAt: tx.now, owner: null } : row;
    });
  }

  #wait(
    holder: number,
    pools: readonly string[],
    onWait: AcquireSlotsOptions['onWait'],
    signal: AbortSignal,
  ): Promise<SlotGrant> {
    return new Promise<SlotGrant>((resolve, reject) => {
      const onAbort = () => {
        waiter.settle({ error: signal.reason });
        this.#track(this.#withdraw(holder));
      };
      const waiter: SlotWaiter = {
        holder,
        pools,
        onWait,
        lastUsage: '',
        settle: (outcome) => {
          signal.removeEventListener('abort', onAbort);
          const list = (this.#waiters.get(holder) ?? []).filter((entry) => entry !== waiter);
          if (list.length === 0) this.#waiters.delete(holder);
          else this.#waiters.set(holder, list);
          if ('grant' in outcome) resolve(outcome.grant);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the abort signal's reason, as given
          else reject(outcome.error);
        },
      };
      this.#waiters.set(holder, [...(this.#waiters.get(holder) ?? []), waiter]);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#loop ??= this.#waitLoop().finally(() => {
        this.#loop = undefined;
      });
    });
  }

  /** Withdraws the holder's request when no caller of this process waits for it any more. */
  async #withdraw(holder: number): Promise<void> {
    if (this.#waiters.has(holder)) return;
    await this.#slotTransaction(async (tx) => {
      const row = await readRequest(tx.db, holder);
      if (row === undefined) return;
      // a grant that raced the abort is released: its caller will not submit a job
      if (row.state === SlotRequestState.GRANTED || row.owner === this.#owner.id) {
        await removeHolder(tx, holder);
        await grantWaiting(tx);
      }
    }, true);
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch(() => undefined).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /**
   * One loop per coordinator, while callers wait: looks at all their requests in one query, resolves the granted
   * ones, reports usage changes, and every `sweepIntervalMs` renews this process's lease and sweeps the queue.
   */
  async #waitLoop(): Promise<void> {
    const delay = new AdaptiveDelay(this.#options.minPollMs, this.#options.maxPollMs);
    let failures = 0;
    while (this.#waiters.size > 0) {
      try {
        await abortableSleep(delay.next(), this.#closing.signal);
      } catch {
        return; // closing: the waiters are settled by their own signals
      }
      try {
        if (await this.#lookAtRequests()) delay.reset();
        failures = 0;
      } catch (error) {
        failures += 1;
        if (this.#backend.isClosed || failures >= MAX_CONSECUTIVE_FAILURES) {
          const holders = [...this.#waiters.keys()];
          for (const waiter of [...this.#waiters.values()].flat()) waiter.settle({ error });
          for (const holder of holders) this.#track(this.#withdraw(holder));
          return;
        }
      }
    }
  }

  /** Resolves to whether anything changed (a grant, a usage change). */
  async #lookAtRequests(): Promise<boolean> {
    const db = withAiidaTsTables(this.#backend.executor());
    const holders = [...this.#waiters.keys()];
    const rows = new Map((await readRequests(db, holders)).map((row) => [row.holder, row]));
    let changed = false;
    const lost: number[] = [];
    for (const holder of holders) {
      const row = rows.get(holder);
      if (row?.state === SlotRequestState.GRANTED) {
        for (const waiter of this.#waiters.get(holder) ?? []) waiter.settle({ grant: toGrant(row) });
        changed = true;
      } else if (row === undefined) {
        lost.push(holder);
      }
    }
    if (lost.length > 0 || Date.now() - this.#lastSweep >= this.#options.sweepIntervalMs) {
      await this.#sweep(lost);
    }
    const watching = [...this.#waiters.values()].flat().filter((waiter) => waiter.onWait !== undefined);
    if (watching.length > 0) {
      const usage = new Map(
        (await readUsage(db, this.#backend.dialect, [...new Set(watching.flatMap((w) => w.pools))])).map(
          (u) => [u.pool, u],
        ),
      );
      for (const waiter of watching) {
        const mine = waiter.pools.map(
          (pool) => usage.get(pool) ?? { pool, limit: null, used: 0, waiting: 0 },
        );
        const text = JSON.stringify(mine);
        if (text === waiter.lastUsage) continue;
        waiter.lastUsage = text;
        changed = true;
        this.#report(waiter, mine);
      }
    }
    return changed;
  }

  /** Calls the waiter's `onWait`; if it throws, the waiter gives up with that error. */
  #report(waiter: SlotWaiter, usage: readonly SlotUsage[]): void {
    try {
      waiter.onWait?.(usage);
    } catch (error) {
      waiter.settle({ error });
      this.#track(this.#withdraw(waiter.holder));
    }
  }

  /**
   * Renews this process's lease when due, re-queues requests of this process that were dropped (its lease ran
   * out, e.g. the machine paused), and — at most once per `sweepIntervalMs` across all processes, claimed through
   * a marker row — sweeps the queue: forgets dead owners and reclaims the slots of ended holders.
   */
  async #sweep(lost: readonly number[]): Promise<void> {
    this.#lastSweep = Date.now();
    const db = withAiidaTsTables(this.#backend.executor());
    // a lost request means the owner row may be gone too (it expired): renew it before queueing again
    if (lost.length > 0 || Date.now() - this.#heartbeatAt >= this.#options.leaseMs / 3) {
      await heartbeatOwner(db, this.#backend.dialect, this.#owner, this.#options.leaseMs);
      this.#heartbeatAt = Date.now();
    }
    const due = await claimSweep(db, this.#backend.dialect, this.#options.sweepIntervalMs);
    if (!due && lost.length === 0) return;
    await this.#slotTransaction(async (tx) => {
      for (const holder of lost) {
        const waiter = this.#waiters.get(holder)?.[0];
        if (waiter !== undefined) await enqueueRequest(tx, holder, waiter.pools, this.#owner);
      }
      // the owners of processes that ended without closing (their requests go with any grant pass)
      if (due) await expireDeadOwners(tx);
      await grantWaiting(tx, { reclaim: due });
    });
  }

  async releaseSlots(holder: number): Promise<Date | null> {
    checked(HolderSchema, holder, 'slot holder');
    this.#assertOpen();
    if (!(await aiidaTsTablesReadable(this.#backend))) return null;
    return this.#slotTransaction(async (tx) => {
      const had = await removeHolder(tx, holder);
      await grantWaiting(tx);
      return had ? new Date(tx.now) : null;
    });
  }

  async slotRequest(holder: number): Promise<SlotRequestInfo | null> {
    checked(HolderSchema, holder, 'slot holder');
    if (!(await aiidaTsTablesReadable(this.#backend))) return null;
    const row = await readRequest(withAiidaTsTables(this.#backend.executor()), holder);
    if (row === undefined) return null;
    return {
      holder: row.holder,
      pools: row.pools,
      requestId: row.id,
      state: row.state,
      grantedAt: row.grantedAt === null ? null : new Date(row.grantedAt),
    };
  }

  async usage(pool: string): Promise<SlotUsage> {
    parsePool(pool);
    if (!(await aiidaTsTablesReadable(this.#backend))) return { pool, limit: null, used: 0, waiting: 0 };
    const [usage] = await readUsage(withAiidaTsTables(this.#backend.executor()), this.#backend.dialect, [
      pool,
    ]);
    return usage ?? { pool, limit: null, used: 0, waiting: 0 };
  }

  // --- limits -----------------------------------------------------------------------------------------------

  async setLimit(pool: string, limit: number | null): Promise<void> {
    await setPoolLimit(this.#backend, pool, limit);
    await this.#grantNow();
  }

  getLimit(pool: string): Promise<number | null> {
    return getPoolLimit(this.#backend, pool);
  }

  listPools(): Promise<PoolConfig[]> {
    return listPools(this.#backend);
  }

  createQuota(name: string, options?: CreateQuotaOptions): Promise<void> {
    return createQuota(this.#backend, name, options);
  }

  async deleteQuota(name: string): Promise<void> {
    await deleteQuota(this.#backend, name);
    await this.#grantNow();
  }

  addToQuota(quota: string, computerUuid: string): Promise<void> {
    return addComputerToQuota(this.#backend, quota, computerUuid);
  }

  removeFromQuota(quota: string, computerUuid: string): Promise<void> {
    return removeComputerFromQuota(this.#backend, quota, computerUuid);
  }

  poolsForComputer(computerUuid: string): Promise<string[]> {
    return poolsForComputer(this.#backend, computerUuid);
  }

  /** Grants what a changed limit lets through, at once rather than at the waiters' next sweep. */
  async #grantNow(): Promise<void> {
    await this.#slotTransaction(async (tx) => {
      await grantWaiting(tx);
    });
  }

  // --- lifecycle --------------------------------------------------------------------------------------------

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#unhook();
    this.#closing.abort(new InvalidOperationError('the coordinator was closed'));
    await this.#loop;
    await Promise.allSettled([...this.#pending]);
    // only a coordinator that ever waited has an owner row to remove (a profile only read is never written)
    if (this.#heartbeatAt !== -Infinity && !this.#backend.isClosed) {
      await this.#slotTransaction((tx) => dropOwner(tx, this.#owner.id), true).catch(() => undefined);
    }
    if (coordinators.get(this.#backend) === this) coordinators.delete(this.#backend);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- helpers ----------------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed !== undefined) throw new InvalidOperationError('the coordinator was closed');
  }

  /** The signal a wait obeys (the caller's and the coordinator's closing); refuses inside a transaction. */
  #waitSignal(operation: string, signal: AbortSignal | undefined): AbortSignal {
    this.#assertOpen();
    if (this.#backend.inTransaction()) {
      throw new InvalidOperationError(
        `${operation} waits for other processes and cannot run inside a storage transaction (it would hold the ` +
          "database's locks while waiting); call it outside `storage.transaction()`",
      );
    }
    const combined =
      signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]);
    combined.throwIfAborted();
    return combined;
  }

  /** Runs `fn` in one transaction on the slot queue (refused once closed, unless `closing` work). */
  async #slotTransaction<T>(fn: (tx: SlotTransaction) => Promise<T>, closing = false): Promise<T> {
    if (!closing) this.#assertOpen();
    return this.#backend.transaction(async (trx) => fn(await openSlotTransaction(trx, this.#backend)));
  }
}

const coordinators = new WeakMap<StorageBackend, SqlCoordinator>();

/**
 * The coordinator of an open storage, one per storage (created on first use with `options`, which later calls
 * cannot change). It closes with the storage.
 */
export function getCoordinator(backend: StorageBackend, options: CoordinatorOptions = {}): Coordinator {
  let coordinator = coordinators.get(backend);
  if (coordinator === undefined) {
    coordinator = createSqlCoordinator(backend, options);
    coordinators.set(backend, coordinator);
  }
  return coordinator;
}

/**
 * A coordinator of its own (not the storage's shared one), e.g. with short leases for tests. Several coordinators
 * on one storage behave like separate processes. Close it when done (it also closes with the storage).
 */
export function createCoordinator(backend: StorageBackend, options: CoordinatorOptions = {}): Coordinator {
  return createSqlCoordinator(backend, options);
}

function createSqlCoordinator(backend: StorageBackend, options: CoordinatorOptions): SqlCoordinator {
  if (backend.isClosed) throw new InvalidOperationError(`the storage ${backend.entryPoint} is closed`);
  const parsed = CoordinatorOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(
      'invalid coordinator options',
      parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    );
  }
  return new SqlCoordinator(backend, parsed.data);
}
