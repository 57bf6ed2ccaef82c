/**
 * The engine's TransportQueue with a safe interval: a transport whose last holder left stays open for that interval,
 * so that the next step of a job reuses it instead of waiting to reopen it; openings stay spaced by the interval.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InProcessCoordinator } from '../../src/engine/processes/calcjobs/coordination.js';
import { TransportQueue } from '../../src/engine.js';
import type { AuthInfo } from '../../src/orm.js';
import { LocalTransport } from '../../src/transports.js';

/** The members of an AuthInfo the queue uses, for a computer whose safe interval is `seconds`. */
function authInfo(seconds: number): { info: AuthInfo; created: LocalTransport[] } {
  const created: LocalTransport[] = [];
  const info = {
    pk: 1,
    computer: { uuid: 'c0ffee' },
    user: { email: 'me@example.com' },
    getTransport: () => {
      const transport = new LocalTransport({ safeInterval: seconds });
      created.push(transport);
      return Promise.resolve(transport);
    },
    getSafeOpenInterval: () => Promise.resolve(seconds),
  };
  return { info: info as unknown as AuthInfo, created };
}

describe('TransportQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps a released transport open for the safe interval and hands it to the next request', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    await using queue = new TransportQueue({ coordinator: new InProcessCoordinator() });
    const { info, created } = authInfo(5);
    const first = await queue.request(info);
    await first.release();
    expect(first.transport.isOpen).toBe(true);
    // the next step asks within the interval: the same connection, no new opening (and no wait for the throttle)
    const second = await queue.request(info);
    expect(second.transport).toBe(first.transport);
    expect(queue.openCount).toBe(1);
    await second.release();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(created).toHaveLength(1);
    expect(first.transport.isOpen).toBe(false);
  });

  it('closes a released transport at once without a safe interval', async () => {
    await using queue = new TransportQueue({ coordinator: new InProcessCoordinator() });
    const { info } = authInfo(0);
    const first = await queue.request(info);
    await first.release();
    expect(first.transport.isOpen).toBe(false);
    const second = await queue.request(info);
    expect(second.transport).not.toBe(first.transport);
    expect(queue.openCount).toBe(2);
    await second.release();
  });

  it('closes a lingering transport when the queue closes', async () => {
    const queue = new TransportQueue({ coordinator: new InProcessCoordinator() });
    const { info } = authInfo(60);
    const lease = await queue.request(info);
    await lease.release();
    expect(lease.transport.isOpen).toBe(true);
    await queue.close();
    expect(lease.transport.isOpen).toBe(false);
  });
});
