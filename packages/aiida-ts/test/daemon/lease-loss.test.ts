/**
 * A lease lost in the middle of a step (the worker was presumed dead under load and another worker claimed the
 * process): the step's writes are refused by the fence, and the worker drops the process — it writes nothing, records
 * no exception, forgets it — so that whichever worker claims it next continues it from its last checkpoint. The
 * takeover is made deterministic: the step waits at a gate the test holds while the test moves the lease in the task
 * table (a new owner and epoch, as a claim by another worker leaves it).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@aiida-ts/test-services';
import { Runner } from '../../src/engine.js';
import { RunnerOwnership, startDaemonWorker } from '../../src/engine/daemon/index.js';
import { loadNode } from '../../src/orm/loaders.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { ProcessAttribute } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { BACKENDS } from '../engine/helpers.js';
import type { TestStorage } from '../storage/helpers.js';
import { gate, GatedWrites } from './fixtures.js';

describe.each(BACKENDS)('a lease lost mid-step on %s', (name, open) => {
  let handle: TestStorage;
  let runner: Runner;

  beforeAll(async () => {
    handle = await open();
    setDefaultStorage(handle.storage);
    runner = new Runner({
      storage: handle.storage,
      pollInterval: 0.05,
      ownership: new RunnerOwnership(handle.storage),
    });
  });
  afterAll(async () => {
    await runner?.close();
    setDefaultStorage(null);
    await handle?.cleanup();
  });

  it(
    'drops the process without recording anything; the next claim continues it from its checkpoint',
    { timeout: 30_000 },
    async () => {
      const { storage } = handle;
      await using worker = await startDaemonWorker(undefined, {
        storage,
        communicator: null,
        slots: 4,
        leaseTtlMs: 2_000,
      });
      const name_ = `lease-loss-${name}`;
      const node = await runner.submit(GatedWrites, { gate: name_, x: new Int(5) });
      const pk = node.pk!;
      await gate(name_).reached;
      const checkpoint = (await loadNode<ProcessNode>(pk)).checkpoint;

      // another worker claims the process while the step waits: a new owner, the next epoch
      await sql`UPDATE aiida_ts_task SET owner = 'another-worker', epoch = epoch + 1 WHERE process_id = ${pk}`.execute(
        storage.executor(),
      );
      gate(name_).open();
      await waitFor('the worker to drop the process', () => !worker.stats().loaded.includes(pk), {
        timeoutMs: 20_000,
        intervalMs: 10,
      });

      // nothing of the lost step is recorded: no exception, no state past the checkpoint, no report, no child
      const after = await loadNode<ProcessNode>(pk);
      expect(after.processState).not.toBe('excepted');
      expect(after.base.attributes.get(ProcessAttribute.EXCEPTION, null)).toBeNull();
      expect(after.isSealed).toBe(false);
      expect(after.checkpoint).toEqual(checkpoint);
      expect((await after.base.links.getOutgoing()).all()).toEqual([]);
      const reports = await sql<{ n: number | string }>`
        SELECT count(*) AS n FROM db_dblog WHERE dbnode_id = ${pk} AND message = 'past the gate'`.execute(
        storage.executor(),
      );
      expect(Number(reports.rows[0]?.n)).toBe(0);

      // the other worker is gone: its row is runnable again and this worker continues the process
      await sql`UPDATE aiida_ts_task SET owner = NULL, state = 'runnable' WHERE process_id = ${pk}`.execute(
        storage.executor(),
      );
      const done = await runner.getProcessFuture(pk);
      expect(done.processState, String(done.exception)).toBe('finished');
      const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel('result');
      // addOne(5) = 6; child (5 + 1) * 2 = 12; 12 + 6 + 1
      expect((result as Int).value).toBe(19);
      const calls = (await done.base.links.getOutgoing({ linkType: ['call_calc', 'call_work'] })).all();
      expect(calls.map((link) => link.node.constructor.name).sort()).toEqual([
        'CalcFunctionNode',
        'CalcFunctionNode',
        'WorkChainNode',
      ]);
      expect(worker.stats().claimed).toBeGreaterThanOrEqual(2);
    },
  );

  it(
    'drops the process when the worker finds itself presumed dead mid-step, and continues it once claimed again',
    { timeout: 30_000 },
    async () => {
      const { storage } = handle;
      await using worker = await startDaemonWorker(undefined, {
        storage,
        communicator: null,
        slots: 4,
        leaseTtlMs: 600,
      });
      const name_ = `presumed-dead-${name}`;
      const node = await runner.submit(GatedWrites, { gate: name_, x: new Int(7) });
      const pk = node.pk!;
      await gate(name_).reached;
      const id = worker.id;
      // what another worker's sweeper does with a worker whose heartbeat is late: its rows runnable, its record gone
      await sql`UPDATE aiida_ts_task SET owner = NULL, state = 'runnable' WHERE owner = ${id}`.execute(
        storage.executor(),
      );
      await sql`DELETE FROM aiida_ts_worker WHERE id = ${id}`.execute(storage.executor());
      await waitFor(
        'the worker to register again',
        async () =>
          (await sql`SELECT id FROM aiida_ts_worker WHERE id = ${id}`.execute(storage.executor())).rows
            .length > 0,
        { timeoutMs: 20_000, intervalMs: 10 },
      );
      gate(name_).open();
      const done = await runner.getProcessFuture(pk);
      expect(done.processState, String(done.exception)).toBe('finished');
      const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel('result');
      // addOne(7) = 8; child (7 + 1) * 2 = 16; 16 + 8 + 1
      expect((result as Int).value).toBe(25);
      const calls = (await done.base.links.getOutgoing({ linkType: ['call_calc', 'call_work'] })).all();
      expect(calls.map((link) => link.node.constructor.name).sort()).toEqual([
        'CalcFunctionNode',
        'CalcFunctionNode',
        'WorkChainNode',
      ]);
    },
  );
});
