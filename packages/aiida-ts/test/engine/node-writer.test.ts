import { WorkflowNode } from 'aiida-ts/orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LAZY_WRITE_MS, NodeWriter } from '../../src/engine/processes/node-writer.js';
import { BACKENDS, useEngine } from './helpers.js';

describe.each(BACKENDS)('the writer of a process node, on %s', (_name, open) => {
  const engine = useEngine(open);

  afterEach(() => {
    vi.useRealTimers();
  });

  /** The attributes of node `pk` as stored. */
  async function storedAttributes(pk: number | null): Promise<Record<string, unknown>> {
    expect(pk).not.toBeNull();
    const [row] = await engine().storage.executeRead<{ attributes: unknown }>(
      'SELECT attributes FROM db_dbnode WHERE id = $1',
      [pk],
    );
    const attributes = row!.attributes;
    return (typeof attributes === 'string' ? JSON.parse(attributes) : attributes) as Record<string, unknown>;
  }

  it('writes attributes set with withNextWrite only with the next write of the node, in that write', async () => {
    const node = new WorkflowNode();
    await node.store();
    const writer = new NodeWriter(node);
    const flush = vi.spyOn(writer, 'flush');
    const updates = vi.spyOn(node, 'prepareUpdate');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

    // a plain change is written by itself a moment later
    writer.set({ process_status: 'plain' });
    vi.advanceTimersByTime(LAZY_WRITE_MS);
    expect(flush).toHaveBeenCalledTimes(1);
    await writer.flush();
    expect((await storedAttributes(node.pk)).process_status).toBe('plain');
    flush.mockClear();
    updates.mockClear();

    // one set with withNextWrite starts no write, however long it waits
    writer.set({ process_status: 'deferred' }, { withNextWrite: true });
    vi.advanceTimersByTime(LAZY_WRITE_MS * 100);
    expect(flush).not.toHaveBeenCalled();
    expect(writer.busy).toBe(true);
    expect((await storedAttributes(node.pk)).process_status).toBe('plain');

    // the next change of the node carries it, in one update
    writer.set({ process_state: 'waiting' });
    await writer.flush();
    expect(updates).toHaveBeenCalledTimes(1);
    expect(updates.mock.calls[0]![0]).toEqual({ process_status: 'deferred', process_state: 'waiting' });
    const stored = await storedAttributes(node.pk);
    expect(stored.process_status).toBe('deferred');
    expect(stored.process_state).toBe('waiting');
    expect(writer.busy).toBe(false);

    // and a flush alone writes what waits
    writer.set({ process_status: 'alone' }, { withNextWrite: true });
    await writer.flush();
    expect((await storedAttributes(node.pk)).process_status).toBe('alone');
  });
});
