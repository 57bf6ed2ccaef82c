import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinator } from '../../../src/engine/coordination/coordinator.js';
import {
  InProcessCoordinator,
  type JobCoordinator,
  type SlotUsage,
} from '../../../src/engine/processes/calcjobs/coordination.js';
import type { StorageBackend } from '../../../src/storage/backend.js';
import { openSqliteTemp } from '../../storage/helpers.js';
import { computerPoolName, eventually, makeHolders } from './helpers.js';

/**
 * What calculation jobs rely on (`JobCoordinator`), held against both implementations: the storage-backed
 * coordinator (limits across processes) and the in-memory adapter (one JS process).
 */
const IMPLEMENTATIONS = [
  {
    name: 'the storage-backed coordinator',
    make: (storage: StorageBackend): JobCoordinator => createCoordinator(storage, { maxPollMs: 20 }),
  },
  { name: 'InProcessCoordinator', make: (): JobCoordinator => new InProcessCoordinator() },
] as const;

describe.each(IMPLEMENTATIONS)('JobCoordinator contract: $name', ({ make }) => {
  let storage: StorageBackend;
  let cleanup: () => Promise<void>;
  let coordinator: JobCoordinator;
  beforeAll(async () => {
    ({ storage, cleanup } = await openSqliteTemp());
    coordinator = make(storage);
  });
  afterAll(() => cleanup());

  it('throttle serves one key at most once per interval, other keys freely', async () => {
    const order: string[] = [];
    await Promise.all([
      coordinator.throttle('k', 30).then(() => order.push('k1')),
      coordinator.throttle('k', 30).then(() => order.push('k2')),
      coordinator.throttle('other', 30).then(() => order.push('other')),
    ]);
    expect(order.indexOf('other')).toBeLessThan(order.indexOf('k2'));
    expect(order).toHaveLength(3);
  });

  it('sharedPoll runs one poll for concurrent callers and shares a fresh result', async () => {
    let polls = 0;
    const poll = () => {
      polls += 1;
      return Promise.resolve({ n: polls });
    };
    const [first, second] = await Promise.all([
      coordinator.sharedPoll('jobs', 60_000, poll),
      coordinator.sharedPoll('jobs', 60_000, poll),
    ]);
    expect(first.value).toEqual({ n: 1 });
    expect(second.value).toEqual({ n: 1 });
    expect((await coordinator.sharedPoll('jobs', 60_000, poll)).value).toEqual({ n: 1 });
    expect(polls).toBe(1);
  });

  it('slots: capped, oldest first, idempotent per holder, usage reported while waiting', async () => {
    const [h1, h2, h3] = await makeHolders(storage, 3);
    const pool = computerPoolName();
    await coordinator.setLimit(pool, 1);
    await coordinator.acquireSlots(h1!, [pool]);
    await coordinator.acquireSlots(h1!, [pool]); // again: the same grant
    const seen: SlotUsage[] = [];
    const granted: number[] = [];
    const second = coordinator
      .acquireSlots(h2!, [pool], { onWait: ([usage]) => usage !== undefined && seen.push(usage) })
      .then(() => granted.push(h2!));
    await eventually(() => seen.length > 0, 'h2 reports its wait');
    const third = coordinator.acquireSlots(h3!, [pool]).then(() => granted.push(h3!));
    await eventually(async () => (await coordinator.usage(pool)).waiting === 2, 'both queued');
    expect(seen[0]).toMatchObject({ pool, limit: 1, used: 1 });
    await coordinator.releaseSlots(h1!);
    await second;
    await coordinator.releaseSlots(h2!);
    await third;
    expect(granted).toEqual([h2, h3]);
    await coordinator.releaseSlots(h3!);
    expect(await coordinator.usage(pool)).toEqual({ pool, limit: 1, used: 0, waiting: 0 });
  });

  it('slots: an aborted wait rejects with the reason and leaves the queue', async () => {
    const [h1, h2] = await makeHolders(storage, 2);
    const pool = computerPoolName();
    await coordinator.setLimit(pool, 1);
    await coordinator.acquireSlots(h1!, [pool]);
    const controller = new AbortController();
    const waiting = coordinator.acquireSlots(h2!, [pool], { signal: controller.signal });
    await eventually(async () => (await coordinator.usage(pool)).waiting === 1, 'queued');
    controller.abort(new Error('killed'));
    await expect(waiting).rejects.toThrow('killed');
    await eventually(async () => (await coordinator.usage(pool)).waiting === 0, 'withdrawn');
    await coordinator.releaseSlots(h1!);
  });

  it('slots: tryAcquireSlots grants what fits at once, and a holder it cannot serve waits with acquireSlots', async () => {
    const [h1, h2] = await makeHolders(storage, 2);
    const pool = computerPoolName();
    await coordinator.setLimit(pool, 1);
    expect(await coordinator.tryAcquireSlots(h1!, [pool])).not.toBeNull();
    expect(await coordinator.tryAcquireSlots(h1!, [pool])).not.toBeNull(); // again: the same grant
    expect(await coordinator.tryAcquireSlots(h2!, [pool])).toBeNull();
    expect((await coordinator.usage(pool)).used).toBe(1);
    const second = coordinator.acquireSlots(h2!, [pool]);
    await coordinator.releaseSlots(h1!);
    await second;
    expect((await coordinator.usage(pool)).used).toBe(1);
    await coordinator.releaseSlots(h2!);
    expect(await coordinator.usage(pool)).toEqual({ pool, limit: 1, used: 0, waiting: 0 });
  });

  it('poolsForComputer names the computer’s own pool first', async () => {
    const uuid = computerPoolName().slice('computer:'.length);
    expect((await coordinator.poolsForComputer(uuid))[0]).toBe(`computer:${uuid}`);
  });
});
