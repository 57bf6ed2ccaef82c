/**
 * TransportPool semantics (aiida's tests/engine/test_transport.py for TransportQueue), with `core.local`
 * transports so no server is needed; the SSH pooling tests live in ssh-specifics.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { InvalidOperationError, TransportError } from '../../src/errors.js';
import { LocalTransport, TransportPool, type Transport } from '../../src/transports.js';

function counting(safeInterval = 0): { create: () => Transport; opened: number[]; created: Transport[] } {
  const opened: number[] = [];
  const created: Transport[] = [];
  return {
    opened,
    created,
    create: () => {
      const t = new LocalTransport({ safeInterval });
      const open = t.open.bind(t);
      t.open = async () => {
        opened.push(Date.now());
        await open();
      };
      created.push(t);
      return t;
    },
  };
}

describe('TransportPool', () => {
  it('hands out an open transport and closes it on release', async () => {
    await using pool = new TransportPool();
    const { create } = counting();
    const lease = await pool.requestTransport(1, create);
    expect(lease.transport.isOpen).toBe(true);
    expect(pool.keys).toEqual([1]);
    await lease.release();
    await lease.release();
    expect(lease.transport.isOpen).toBe(false);
    expect(pool.keys).toEqual([]);
  });

  it('shares one transport between nested and concurrent requests for a key', async () => {
    await using pool = new TransportPool();
    const { create, created } = counting();
    const outer = await pool.requestTransport('a', create);
    const [inner, parallel] = await Promise.all([
      pool.requestTransport('a', create),
      pool.requestTransport('a', create),
    ]);
    expect(inner.transport).toBe(outer.transport);
    expect(parallel.transport).toBe(outer.transport);
    expect(created).toHaveLength(1);
    const other = await pool.requestTransport('b', create);
    expect(other.transport).not.toBe(outer.transport);
    await inner.release();
    await parallel.release();
    expect(outer.transport.isOpen).toBe(true);
    await outer.release();
    expect(outer.transport.isOpen).toBe(false);
    await other.release();
  });

  it('gives every sequential request a fresh open transport', async () => {
    await using pool = new TransportPool();
    const { create } = counting();
    const seen: Transport[] = [];
    for (let i = 0; i < 3; i += 1) {
      await pool.withTransport('k', create, async (t) => {
        expect(t.isOpen).toBe(true);
        seen.push(t);
        return Promise.resolve();
      });
    }
    expect(new Set(seen).size).toBe(3);
    expect(seen.every((t) => !t.isOpen)).toBe(true);
  });

  it('returns what the callback returns and keeps the lease until it has finished', async () => {
    await using pool = new TransportPool();
    const { create } = counting();
    const out = await pool.withTransport('k', create, async (t) => {
      await new Promise((r) => setTimeout(r, 50));
      return (await t.execCommandWait('echo still-open')).stdout;
    });
    expect(out).toBe('still-open\n');
  });

  it('passes an open failure to every waiter and forgets the failed request', async () => {
    await using pool = new TransportPool();
    const failing = () => {
      const t = new LocalTransport();
      t.open = () => Promise.reject(new TransportError('cannot open'));
      return t;
    };
    const results = await Promise.allSettled([
      pool.requestTransport('x', failing),
      pool.requestTransport('x', failing),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(pool.keys).toEqual([]);
    const { create } = counting();
    const lease = await pool.requestTransport('x', create);
    expect(lease.transport.isOpen).toBe(true);
    await lease.release();
  });

  it('spaces successive openings of a key by the safe interval (the first does not wait)', async () => {
    // The pool's clock is faked: the waits are measured on it, not raced against the machine's.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    try {
      await using pool = new TransportPool();
      const { create, opened } = counting(0.25);
      const start = Date.now();
      await pool.withTransport('k', create, async () => Promise.resolve());
      // the first opening happened without the clock moving
      expect(opened).toEqual([start]);
      for (let i = 1; i < 3; i += 1) {
        const next = pool.withTransport('k', create, async () => Promise.resolve());
        await vi.advanceTimersByTimeAsync(249);
        expect(opened).toHaveLength(i);
        await vi.advanceTimersByTimeAsync(1);
        await next;
        expect(opened).toHaveLength(i + 1);
        expect((opened[i] as number) - (opened[i - 1] as number)).toBe(250);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('a request arriving while the last holder closes gets a fresh transport', async () => {
    await using pool = new TransportPool();
    const { create } = counting();
    const first = await pool.requestTransport('k', create);
    const closing = first.release();
    const second = await pool.requestTransport('k', create);
    await closing;
    expect(second.transport).not.toBe(first.transport);
    expect(second.transport.isOpen).toBe(true);
    await second.release();
  });

  it('cancels a pending open when its only waiter aborts', async () => {
    await using pool = new TransportPool();
    const { create, opened } = counting(0.3);
    await pool.withTransport('k', create, async () => Promise.resolve());
    const controller = new AbortController();
    const pending = pool.requestTransport('k', create, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('no longer needed')), 50);
    await expect(pending).rejects.toThrow('no longer needed');
    await new Promise((r) => setTimeout(r, 400));
    expect(opened).toHaveLength(1);
    expect(pool.keys).toEqual([]);
  });

  it('keeps an idle transport for idleTimeoutMs so a quick follow-up reuses it', async () => {
    await using pool = new TransportPool({ idleTimeoutMs: 150 });
    const { create, created } = counting();
    const a = await pool.requestTransport('k', create);
    await a.release();
    expect(a.transport.isOpen).toBe(true);
    const b = await pool.requestTransport('k', create);
    expect(b.transport).toBe(a.transport);
    await b.release();
    await new Promise((r) => setTimeout(r, 300));
    expect(a.transport.isOpen).toBe(false);
    expect(created).toHaveLength(1);
  });

  it('replaces a transport that is no longer open', async () => {
    await using pool = new TransportPool({ idleTimeoutMs: 10_000 });
    const { create } = counting();
    const a = await pool.requestTransport('k', create);
    await a.transport.close();
    const b = await pool.requestTransport('k', create);
    expect(b.transport).not.toBe(a.transport);
    expect(b.transport.isOpen).toBe(true);
    await a.release();
    await b.release();
  });

  it('closes everything on close and refuses new requests', async () => {
    const pool = new TransportPool({ idleTimeoutMs: 10_000 });
    const { create } = counting();
    const a = await pool.requestTransport('k', create);
    await pool.close();
    expect(a.transport.isOpen).toBe(false);
    await expect(pool.requestTransport('k', create)).rejects.toBeInstanceOf(InvalidOperationError);
  });
});
