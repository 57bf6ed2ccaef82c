/**
 * The daemon lease's fence written as statements of the write it guards (what PostgreSQL runs as one statement): a
 * write whose lease moved on keeps nothing and is refused with `LeaseLostError`; the terminal write of a process
 * without a parent releases its row in the same statement, and only while it still has no parent.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../src/errors.js';
import { DaemonLease } from '../../src/engine/daemon/lease.js';
import { insertTask, readTask } from '../../src/engine/daemon/task-table.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { WriteStatement } from '../../src/storage/backend.js';
import { ensureAiidaTsSchema } from '../../src/storage/aiida-ts-schema/schema-state.js';
import { TaskMode, TaskState } from '../../src/storage/aiida-ts-schema/daemon-tables.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { BACKENDS } from '../engine/helpers.js';
import type { TestStorage } from '../storage/helpers.js';

describe.each(BACKENDS)('the lease fence in the write itself on %s', (_name, open) => {
  let handle: TestStorage;

  beforeAll(async () => {
    handle = await open();
    setDefaultStorage(handle.storage);
    await ensureAiidaTsSchema(handle.storage);
  });
  afterAll(async () => {
    setDefaultStorage(null);
    await handle?.cleanup();
  });

  /** A stored node standing for the process, its row leased to `w1` at epoch 1, and a write of its label. */
  async function leased(parentId: number | null = null): Promise<{
    pk: number;
    relabel: (label: string) => WriteStatement;
    label: () => Promise<string>;
  }> {
    const { storage } = handle;
    const node = await new Int(1).store();
    const pk = node.pk!;
    await insertTask(storage, {
      pk,
      state: TaskState.RUNNING,
      mode: TaskMode.DAEMON,
      owner: 'w1',
      parentId,
    });
    return {
      pk,
      relabel: (label) => ({
        text: 'UPDATE db_dbnode SET label = $1 WHERE id = $2',
        parameters: [label, pk],
      }),
      label: async () =>
        (
          await storage
            .executor()
            .selectFrom('db_dbnode')
            .select('label')
            .where('id', '=', pk)
            .executeTakeFirstOrThrow()
        ).label,
    };
  }

  it('writes while the lease holds, and refuses the whole write once it has moved on', async () => {
    const { storage } = handle;
    const { pk, relabel, label } = await leased();
    let lost = 0;
    const lease = new DaemonLease(storage, pk, 'w1', 1, { onLost: () => (lost += 1) });
    const step = { pk, terminal: false, checkpoint: true };
    await storage.executeWrites([...(lease.statements(step) ?? []), relabel('checkpointed')]);
    expect(await label()).toBe('checkpointed');
    // the checkpoint recorded the step mark
    expect((await readTask(storage.executor(), pk))?.stepMark).not.toBeNull();

    // another worker claims it
    await sql`UPDATE aiida_ts_task SET owner = 'w2', epoch = 2 WHERE process_id = ${pk}`.execute(
      storage.executor(),
    );
    await expect(
      storage.executeWrites([...(lease.statements(step) ?? []), relabel('late')]),
    ).rejects.toBeInstanceOf(LeaseLostError);
    // a node stored under a lease that moved on (a child made in a lost step) is not stored either
    const orphan = new Int(2);
    const earlier = new DaemonLease(storage, pk, 'w1', 1);
    await expect(orphan.storeAllThen(earlier.statements(step) ?? [])).rejects.toBeInstanceOf(LeaseLostError);
    expect(orphan.isStored).toBe(false);
    expect(await label()).toBe('checkpointed');
    expect(lease.lost).toBe(true);
    expect(lost).toBe(1);
    // given up: later writes are refused without asking the database
    expect(() => lease.statements(step)).toThrow(LeaseLostError);
  });

  it('releases the row of a process without a parent with its terminal write, under the same fence', async () => {
    const { storage } = handle;
    const end = (pk: number): { pk: number; terminal: boolean; checkpoint: boolean } => ({
      pk,
      terminal: true,
      checkpoint: false,
    });
    const own = await leased();
    const lease = new DaemonLease(storage, own.pk, 'w1', 1, {}, { parentless: true });
    await storage.executeWrites([...(lease.statements(end(own.pk)) ?? []), own.relabel('finished')]);
    expect(await own.label()).toBe('finished');
    expect(await readTask(storage.executor(), own.pk)).toBeUndefined();

    // a lease that moved on releases nothing and writes nothing
    const moved = await leased();
    await sql`UPDATE aiida_ts_task SET epoch = 2 WHERE process_id = ${moved.pk}`.execute(storage.executor());
    const stale = new DaemonLease(storage, moved.pk, 'w1', 1, {}, { parentless: true });
    await expect(
      storage.executeWrites([...(stale.statements(end(moved.pk)) ?? []), moved.relabel('finished')]),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect((await readTask(storage.executor(), moved.pk))?.epoch).toBe(2);

    // a row that has a parent after all is not released here (its parent might be waiting for it)
    const child = await leased(own.pk);
    const claimedWithout = new DaemonLease(storage, child.pk, 'w1', 1, {}, { parentless: true });
    await expect(
      storage.executeWrites([...(claimedWithout.statements(end(child.pk)) ?? []), child.relabel('finished')]),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await readTask(storage.executor(), child.pk)).toBeDefined();
    expect(await child.label()).not.toBe('finished');
    // and a lease that knows of a parent leaves its terminal write to the transaction that may wake it
    expect(new DaemonLease(storage, child.pk, 'w1', 1).statements(end(child.pk))).toBeUndefined();
  });
});
