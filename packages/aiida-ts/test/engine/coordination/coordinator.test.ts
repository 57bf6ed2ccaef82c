import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createCoordinator,
  getCoordinator,
  type Coordinator,
  type SlotUsage,
} from '../../../src/engine/coordination/coordinator.js';
import { InvalidOperationError, ValidationError } from '../../../src/errors.js';
import type { StorageBackend } from '../../../src/storage/backend.js';
import { withAiidaTsTables } from '../../../src/storage/aiida-ts-schema/schema.js';
import { BACKENDS, openSqliteTemp } from '../../storage/helpers.js';
import { computerPoolName, eventually, makeHolders, setProcessState } from './helpers.js';

/** Short leases and sweeps, so the tests see expiries and reclaims quickly. */
const FAST = { leaseMs: 500, sweepIntervalMs: 50, maxPollMs: 50 };

describe.each(BACKENDS)('Coordinator on $name', ({ open }) => {
  let storage: StorageBackend;
  let cleanup: () => Promise<void>;
  /** Two coordinators on one storage behave as two processes. */
  let one: Coordinator;
  let two: Coordinator;
  beforeAll(async () => {
    ({ storage, cleanup } = await open());
    one = createCoordinator(storage, FAST);
    two = createCoordinator(storage, FAST);
  });
  afterAll(async () => {
    await one.close();
    await two.close();
    await cleanup();
  });

  it('throttle: one use per interval across coordinators, recorded with the database clock', async () => {
    const [other, ...times] = await Promise.all([
      // another key is not held back by the queue of the first
      one.throttle('transport-open:y', 40),
      ...Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? one : two).throttle('transport-open:x', 40)),
    ]);
    const sorted = times.map((time) => time.getTime()).sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i += 1) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(40);
    expect(other.getTime()).toBeLessThan(sorted[sorted.length - 1]!);
  });

  it('throttle: an abandoned turn is given back, and the caller gets the signal’s reason', async () => {
    const first = await one.throttle('scheduler-poll:z', 60_000);
    const controller = new AbortController();
    const waiting = two.throttle('scheduler-poll:z', 60_000, { signal: controller.signal });
    await eventually(async () => (await lastUse(storage, 'scheduler-poll:z')) > first.getTime(), 'reserved');
    controller.abort(new Error('killed while waiting'));
    await expect(waiting).rejects.toThrow('killed while waiting');
    expect(await lastUse(storage, 'scheduler-poll:z')).toBe(first.getTime());
  });

  it('sharedPoll: one poll for every caller, its result stored and shared while fresh', async () => {
    let polls = 0;
    const poll = async () => {
      polls += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { jobs: ['1', '2'], n: polls };
    };
    const results = await Promise.all([
      one.sharedPoll('jobs:a', 60_000, poll),
      two.sharedPoll('jobs:a', 60_000, poll),
      two.sharedPoll('jobs:a', 60_000, poll),
    ]);
    expect(polls).toBe(1);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(results[0].value).toEqual({ jobs: ['1', '2'], n: 1 });
    const again = await one.sharedPoll('jobs:a', 60_000, poll, {
      schema: z.object({ jobs: z.array(z.string()), n: z.number() }),
    });
    expect(again.value.n).toBe(1);
    await expect(
      // a stored result that does not match the caller's schema (the poll itself does not run: the result is fresh)
      one.sharedPoll('jobs:a', 60_000, () => Promise.resolve({ jobs: 0 }), {
        schema: z.object({ jobs: z.number() }),
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(polls).toBe(1);
  });

  it('sharedPoll: notBefore waits for a poll that started later; a failed poll rejects only its caller', async () => {
    const first = await one.sharedPoll('jobs:b', 100, () => Promise.resolve('first'));
    const next = await two.sharedPoll('jobs:b', 100, () => Promise.resolve('second'), {
      notBefore: new Date(first.polledAt.getTime() + 1),
    });
    expect(next.value).toBe('second');
    expect(next.polledAt.getTime() - first.polledAt.getTime()).toBeGreaterThanOrEqual(100);

    let fail!: (error: Error) => void;
    const failing = one.sharedPoll('jobs:c', 100, () => new Promise<string>((_, reject) => (fail = reject)));
    await eventually(() => fail !== undefined, 'the first poll started');
    const patient = two.sharedPoll('jobs:c', 100, () => Promise.resolve('recovered'));
    fail(new Error('scheduler unreachable'));
    await expect(failing).rejects.toThrow('scheduler unreachable');
    expect((await patient).value).toBe('recovered');
  });

  it('slots: a computer cap and a quota, all or nothing, oldest first, idempotent per holder', async () => {
    const [h1, h2, h3, h4] = await makeHolders(storage, 4);
    const A = computerPoolName();
    const B = computerPoolName();
    const Q = `quota:licence-${A.slice(-6)}`;
    await one.setLimit(A, 1);
    await one.setLimit(B, 2);
    await one.setLimit(Q, 2);
    const g1 = await one.acquireSlots(h1!, [A, Q]);
    expect(g1.pools).toEqual([A, Q]);
    // h2 waits for A; h3 could take Q's second slot but must not overtake h2 there
    const w2 = two.acquireSlots(h2!, [A, Q]);
    await eventually(async () => (await one.usage(A)).waiting === 1, 'h2 queued');
    const w3 = one.acquireSlots(h3!, [B, Q]);
    await eventually(async () => (await one.usage(Q)).waiting === 2, 'h3 queued');
    expect(await one.usage(Q)).toEqual({ pool: Q, limit: 2, used: 1, waiting: 2 });
    // asking again is idempotent: the same grant
    expect((await two.acquireSlots(h1!, [A, Q])).requestId).toBe(g1.requestId);

    expect(await one.releaseSlots(h1!)).toBeInstanceOf(Date);
    const [g2, g3] = await Promise.all([w2, w3]);
    expect(g2.requestId).toBeLessThan(g3.requestId);
    expect(g2.grantedAt.getTime()).toBeLessThanOrEqual(g3.grantedAt.getTime());
    expect(await one.usage(Q)).toEqual({ pool: Q, limit: 2, used: 2, waiting: 0 });
    expect(await one.usage(A)).toEqual({ pool: A, limit: 1, used: 1, waiting: 0 });

    // raising a limit lets a waiting request through at once
    const w4 = two.acquireSlots(h4!, [B, Q]);
    await eventually(async () => (await one.usage(Q)).waiting === 1, 'h4 queued');
    await one.setLimit(Q, 3);
    expect((await w4).pools).toEqual([B, Q]);
    expect(await one.slotRequest(h4!)).toMatchObject({ state: 'granted', pools: [B, Q] });
    for (const holder of [h2!, h3!, h4!]) await one.releaseSlots(holder);
    expect(await one.releaseSlots(h4!)).toBeNull();
    expect(await one.usage(Q)).toEqual({ pool: Q, limit: 3, used: 0, waiting: 0 });
  });

  it('slots: onWait reports the usage while waiting; abort withdraws the request', async () => {
    const [h1, h2] = await makeHolders(storage, 2);
    const A = computerPoolName();
    await one.setLimit(A, 1);
    await one.acquireSlots(h1!, [A]);
    const seen: (readonly SlotUsage[])[] = [];
    const controller = new AbortController();
    const waiting = two.acquireSlots(h2!, [A], {
      signal: controller.signal,
      onWait: (usage) => seen.push(usage),
    });
    await eventually(() => seen.length > 0, 'onWait called');
    expect(seen[0]).toEqual([{ pool: A, limit: 1, used: 1, waiting: 1 }]);
    controller.abort(new Error('process killed'));
    await expect(waiting).rejects.toThrow('process killed');
    await eventually(async () => (await one.usage(A)).waiting === 0, 'the request withdrawn');
    expect(await one.slotRequest(h2!)).toBeNull();
    await one.releaseSlots(h1!);
  });

  it('slots: a terminated or deleted holder’s slot is reclaimed for the next in line', async () => {
    const [h1, h2, h3] = await makeHolders(storage, 3);
    const A = computerPoolName();
    await one.setLimit(A, 1);
    await one.acquireSlots(h1!, [A]);
    const w2 = two.acquireSlots(h2!, [A]);
    await eventually(async () => (await one.usage(A)).waiting === 1, 'h2 queued');
    await setProcessState(storage, [h1!], 'killed');
    expect((await w2).holder).toBe(h2);
    const w3 = one.acquireSlots(h3!, [A]);
    await eventually(async () => (await one.usage(A)).waiting === 1, 'h3 queued');
    await storage.deleteNodesAndConnections([h2!]);
    expect((await w3).holder).toBe(h3);
    expect(await one.slotRequest(h1!)).toBeNull();
    await one.releaseSlots(h3!);
  });

  it('slots: the waiting request of a process on another machine that stopped renewing stops blocking', async () => {
    const [h1, ghost, h2] = await makeHolders(storage, 3);
    const A = computerPoolName();
    await one.setLimit(A, 1);
    await one.acquireSlots(h1!, [A]);
    // a request queued ahead by a process elsewhere, whose lease has run out
    const db = withAiidaTsTables(storage.executor());
    await db
      .insertInto('aiida_ts_owner')
      .values({
        id: 'elsewhere:1:dead',
        host: 'elsewhere/boot/ns',
        pid: 1,
        process_start: '1',
        expires_at: 1,
      })
      .execute();
    await db
      .insertInto('aiida_ts_slot_request')
      .values({
        holder: ghost!,
        pools: JSON.stringify([A]),
        state: 'waiting',
        owner: 'elsewhere:1:dead',
        requested_at: 1,
        granted_at: null,
      })
      .execute();
    const w2 = two.acquireSlots(h2!, [A]);
    await one.releaseSlots(h1!);
    expect((await w2).holder).toBe(h2);
    expect(await one.slotRequest(ghost!)).toBeNull();
    await one.releaseSlots(h2!);
  });

  it('limits: quotas with computers, listed; bad input named', async () => {
    const computer = computerPoolName().slice('computer:'.length);
    await one.createQuota('gpu-licence', { limit: 4, description: 'two clusters', computers: [computer] });
    expect(await one.poolsForComputer(computer)).toEqual([`computer:${computer}`, 'quota:gpu-licence']);
    await one.setLimit(`computer:${computer}`, 10);
    expect(await two.getLimit(`computer:${computer}`)).toBe(10);
    const pools = await two.listPools();
    expect(pools).toContainEqual({
      pool: 'quota:gpu-licence',
      limit: 4,
      description: 'two clusters',
      computers: [computer],
    });
    await one.removeFromQuota('gpu-licence', computer);
    expect(await one.poolsForComputer(computer)).toEqual([`computer:${computer}`]);
    await one.setLimit(`computer:${computer}`, null);
    expect(await one.getLimit(`computer:${computer}`)).toBeNull();
    await one.deleteQuota('gpu-licence');
    expect((await one.listPools()).map((p) => p.pool)).not.toContain('quota:gpu-licence');

    await expect(one.acquireSlots(0, ['quota:x'])).rejects.toThrow(/invalid slot holder `0`.*positive pk/);
    await expect(one.acquireSlots(1, [])).rejects.toThrow(/at least one pool/);
    await expect(one.acquireSlots(1, ['nodes:1'])).rejects.toThrow(/invalid pool `nodes:1`/);
    await expect(one.throttle('', 10)).rejects.toThrow(/invalid throttle key ``.*must not be empty/);
    await expect(one.throttle('k', -1)).rejects.toThrow(/must not be negative/);
    await expect(storage.transaction(() => one.throttle('k', 10))).rejects.toBeInstanceOf(
      InvalidOperationError,
    );
  });

  it('getCoordinator gives one coordinator per storage', () => {
    expect(getCoordinator(storage)).toBe(getCoordinator(storage));
  });
});

async function lastUse(storage: StorageBackend, key: string): Promise<number> {
  const row = await withAiidaTsTables(storage.executor())
    .selectFrom('aiida_ts_throttle')
    .select('last_used')
    .where('key', '=', key)
    .executeTakeFirstOrThrow();
  return Number(row.last_used);
}

describe('Coordinator lifecycle', () => {
  it('close rejects pending waits, withdraws their requests and leaves no timer; the storage closing closes it', async () => {
    const { storage, cleanup } = await openSqliteTemp();
    try {
      const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
      const before = timers();
      const coordinator = createCoordinator(storage, FAST);
      const [h1, h2] = await makeHolders(storage, 2);
      const A = computerPoolName();
      await coordinator.setLimit(A, 1);
      await coordinator.acquireSlots(h1!, [A]);
      const waiting = coordinator.acquireSlots(h2!, [A]);
      const throttled = (async () => {
        await coordinator.throttle('k', 60_000);
        await coordinator.throttle('k', 60_000);
      })();
      await eventually(async () => (await coordinator.usage(A)).waiting === 1, 'queued');
      await coordinator.close();
      await expect(waiting).rejects.toThrow('the coordinator was closed');
      await expect(throttled).rejects.toThrow('the coordinator was closed');
      expect(timers()).toBe(before);
      const other = createCoordinator(storage);
      expect(await other.usage(A)).toEqual({ pool: A, limit: 1, used: 1, waiting: 0 });
      await expect(coordinator.acquireSlots(h2!, [A])).rejects.toBeInstanceOf(InvalidOperationError);

      const shared = getCoordinator(storage);
      const pending = shared.throttle('k', 60_000);
      await storage.close();
      await expect(pending).rejects.toThrow('the coordinator was closed');
      expect(timers()).toBe(before);
    } finally {
      await cleanup();
    }
  });
});
