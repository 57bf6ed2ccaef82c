import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinator, type Coordinator } from '../../../src/engine/coordination/coordinator.js';
import type { StorageBackend } from '../../../src/storage/backend.js';
import { withAiidaTsTables } from '../../../src/storage/aiida-ts-schema/schema.js';
import {
  computerPoolName,
  eventually,
  makeHolders,
  setProcessState,
  SHARED_BACKENDS,
  type SharedProfile,
} from './helpers.js';
import { CoordinationWorker } from './worker-handle.js';

/** What a worker recorded for one holder: its place in the queue and when it held its slots (database clock). */
interface SlotEvent {
  readonly holder: number;
  readonly pools: readonly string[];
  readonly requestId: number;
  readonly grantedAt: number;
  readonly releasedAt: number | null;
}

const WORKERS = 8;
const WORKER_OPTIONS = { leaseMs: 2_000, sweepIntervalMs: 250, maxPollMs: 50 };

/** The most slots held at once in each pool, replaying the grants and releases in time order. */
function peakUsage(events: readonly SlotEvent[]): Map<string, number> {
  const changes: { at: number; pool: string; delta: number }[] = [];
  for (const event of events) {
    for (const pool of event.pools) {
      changes.push({ at: event.grantedAt, pool, delta: 1 });
      changes.push({ at: event.releasedAt!, pool, delta: -1 });
    }
  }
  // a grant in the same millisecond as a release was made after it (the queue's lock orders them)
  changes.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const now = new Map<string, number>();
  const peak = new Map<string, number>();
  for (const change of changes) {
    const value = (now.get(change.pool) ?? 0) + change.delta;
    now.set(change.pool, value);
    peak.set(change.pool, Math.max(peak.get(change.pool) ?? 0, value));
  }
  return peak;
}

/** The worker processes, shared by the backends: a process is started once for both. */
let workers: CoordinationWorker[] = [];
beforeAll(async () => {
  workers = Array.from({ length: WORKERS }, () => new CoordinationWorker());
  await Promise.all(workers.map((worker) => worker.ready));
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(workers.map((worker) => worker.exit()));
});

describe.each(SHARED_BACKENDS)('limits across OS processes on $name', ({ name, make }) => {
  let profile: SharedProfile;
  let storage: StorageBackend;
  let coordinator: Coordinator;
  /** Runs a command of a worker on this backend's profile. */
  const on = <T>(worker: CoordinationWorker, command: Record<string, unknown>, onEvent?: () => void) =>
    worker.run<T>({ ...command, profile: name }, onEvent);
  beforeAll(async () => {
    profile = await make();
    storage = await profile.open();
    coordinator = createCoordinator(storage, WORKER_OPTIONS);
    // a worker killed by the previous backend's tests has been replaced meanwhile
    await Promise.all(workers.map((worker) => worker.ready));
    await Promise.all(
      workers.map((worker) =>
        on(worker, {
          cmd: 'open',
          entryPoint: profile.entryPoint,
          config: profile.config,
          options: WORKER_OPTIONS,
        }),
      ),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled(workers.map((worker) => on(worker, { cmd: 'close' })));
    await coordinator.close();
    await storage.close();
    await profile.cleanup();
  });

  it('throttle: uses recorded by 4 processes hammering one key are never closer than the interval', async () => {
    const interval = 300;
    const perProcess = await Promise.all(
      workers.slice(0, 4).map((worker) =>
        on<number[]>(worker, {
          cmd: 'throttle',
          key: 'transport-open:cluster',
          intervalMs: interval,
          count: 3,
        }),
      ),
    );
    const times = perProcess.flat().sort((a, b) => a - b);
    expect(times).toHaveLength(12);
    for (let i = 1; i < times.length; i += 1)
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(interval);
    // every process got its turns among the others', not all of them after the others
    for (const own of perProcess) expect(own[0]!).toBeLessThan(times[times.length - 1]!);
  });

  it(
    'slots: 8 processes × 25 holders, a cap of 3 and a quota over two computers — never exceeded, all served, first come first served',
    { timeout: 60_000 },
    async () => {
      const A = computerPoolName();
      const B = computerPoolName();
      const Q = `quota:pair-${A.slice(-8)}`;
      await coordinator.setLimit(A, 3);
      await coordinator.setLimit(B, 2);
      await coordinator.setLimit(Q, 4);
      const limits = new Map([
        [A, 3],
        [B, 2],
        [Q, 4],
      ]);
      const holders = await makeHolders(storage, WORKERS * 25);
      let sampling = true;
      const peaks = new Map<string, number>();
      const sampler = (async () => {
        const db = withAiidaTsTables(storage.executor());
        while (sampling) {
          const rows = await db
            .selectFrom('aiida_ts_slot')
            .select((eb) => ['pool', eb.fn.countAll().as('n')])
            .where('pool', 'in', [A, B, Q])
            .groupBy('pool')
            .execute();
          for (const row of rows) {
            const n = storage.dialect.decodeInteger(row.n);
            peaks.set(row.pool, Math.max(peaks.get(row.pool) ?? 0, n));
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const events = (
        await Promise.all(
          workers.map((worker, w) =>
            on<SlotEvent[]>(worker, {
              cmd: 'slots',
              holdMs: 10,
              requests: holders.slice(w * 25, (w + 1) * 25).map((holder, i) => ({
                holder,
                pools: i % 2 === 0 ? [A, Q] : [B, Q],
              })),
            }),
          ),
        )
      ).flat();
      sampling = false;
      await sampler;

      // everyone finished
      expect(events).toHaveLength(holders.length);
      expect(new Set(events.map((event) => event.holder))).toEqual(new Set(holders));
      for (const event of events) expect(event.releasedAt).not.toBeNull();
      // never more slots in use than the limits: sampled while running, and replayed from the events
      for (const [pool, peak] of peaks) expect(peak).toBeLessThanOrEqual(limits.get(pool)!);
      const replayed = peakUsage(events);
      for (const [pool, limit] of limits) {
        expect(replayed.get(pool)).toBeLessThanOrEqual(limit);
        // and the limits were actually reached: the test exercised the queue
        expect(replayed.get(pool)).toBe(pool === A ? 3 : pool === B ? 2 : 4);
      }
      // every request asks for the quota, so the queue is one line: granted in the order requested
      const byRequest = [...events].sort((a, b) => a.requestId - b.requestId);
      for (let i = 1; i < byRequest.length; i += 1) {
        expect(byRequest[i]!.grantedAt).toBeGreaterThanOrEqual(byRequest[i - 1]!.grantedAt);
      }
      expect(await coordinator.usage(Q)).toEqual({ pool: Q, limit: 4, used: 0, waiting: 0 });
    },
  );

  it('sharedPoll: 4 processes wanting fresh results get one poll per interval, each run once', async () => {
    const interval = 300;
    const results = await Promise.all(
      workers.slice(4, 8).map((worker) =>
        on<{ ran: { polledAt: number; value: string }[]; got: { polledAt: number; value: string }[] }>(
          worker,
          {
            cmd: 'poll',
            key: 'scheduler-poll:cluster',
            intervalMs: interval,
            count: 4,
          },
        ),
      ),
    );
    const ran = results.flatMap((result) => result.ran).sort((a, b) => a.polledAt - b.polledAt);
    const polledAt = ran.map((poll) => poll.polledAt);
    expect(new Set(polledAt).size).toBe(ran.length);
    for (let i = 1; i < polledAt.length; i += 1)
      expect(polledAt[i]! - polledAt[i - 1]!).toBeGreaterThanOrEqual(interval);
    // everyone received results of those polls, and more results than polls were run
    const byTime = new Map(ran.map((poll) => [poll.polledAt, poll.value]));
    const got = results.flatMap((result) => result.got);
    for (const result of got) expect(byTime.get(result.polledAt)).toBe(result.value);
    expect(got.length).toBeGreaterThan(ran.length);
  });

  it('slots: a holder whose process node terminated is reclaimed for a waiter in another process', async () => {
    const D = computerPoolName();
    await coordinator.setLimit(D, 1);
    const [stuck, next] = await makeHolders(storage, 2);
    // a process took the slot and crashed after its job ended, without releasing it
    await coordinator.acquireSlots(stuck!, [D]);
    let waiting = false;
    const granted = on<{ holder: number }>(workers[0]!, { cmd: 'wait', holder: next, pools: [D] }, () => {
      waiting = true;
    });
    await eventually(() => waiting, 'the other process waits');
    await setProcessState(storage, [stuck!], 'finished');
    expect((await granted).holder).toBe(next);
    await coordinator.releaseSlots(next!);
  });

  it('slots: a SIGKILLed waiter at the head of the queue does not block it', async () => {
    const C = computerPoolName();
    await coordinator.setLimit(C, 1);
    const [h1, killed, h3] = await makeHolders(storage, 3);
    await coordinator.acquireSlots(h1!, [C]);
    const victim = workers[WORKERS - 1]!;
    let victimWaits = false;
    void on(victim, { cmd: 'wait', holder: killed, pools: [C] }, () => (victimWaits = true)).catch(
      () => undefined,
    );
    await eventually(() => victimWaits, 'the victim waits');
    let survivorWaits = false;
    const granted = on<{ holder: number }>(workers[1]!, { cmd: 'wait', holder: h3, pools: [C] }, () => {
      survivorWaits = true;
    });
    await eventually(() => survivorWaits, 'the survivor waits behind it');
    expect((await coordinator.slotRequest(killed!))?.requestId).toBeLessThan(
      (await coordinator.slotRequest(h3!))!.requestId,
    );
    await victim.kill();
    // a fresh worker takes its place for the next backend (it starts while this test goes on)
    workers[WORKERS - 1] = new CoordinationWorker();
    await coordinator.releaseSlots(h1!);
    expect((await granted).holder).toBe(h3);
    expect(await coordinator.slotRequest(killed!)).toBeNull();
    await coordinator.releaseSlots(h3!);
  });
});
