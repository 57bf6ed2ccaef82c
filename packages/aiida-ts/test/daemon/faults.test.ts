/**
 * Faults a worker must survive in place: slot starvation (parents waiting on children are parked and hold no slot,
 * so 2 workers × 2 slots finish 10 parents that each wait on a child), and bad input — a task for a pk that does
 * not exist, a process whose class cannot be loaded, a corrupt checkpoint, a malformed control request: logged, the
 * process marked excepted with the reason (as aiida-core marks it), and the worker goes on running.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine.js';
import {
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import { loadNode } from '../../src/orm/loaders.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { ProcessAttribute } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { BACKENDS } from '../engine/helpers.js';
import type { TestStorage } from '../storage/helpers.js';
import { Gated, gate, Parent, TwoSteps } from './fixtures.js';

describe.each(BACKENDS)('daemon faults on %s', (_name, open) => {
  let handle: TestStorage;
  let runner: Runner;
  const workers: DaemonWorkerHandle[] = [];

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
    await Promise.all(workers.map((worker) => worker.stop()));
    setDefaultStorage(null);
    await handle?.cleanup();
  });

  function start(slots: number): Promise<DaemonWorkerHandle> {
    return startDaemonWorker(undefined, {
      storage: handle.storage,
      communicator: null,
      slots,
      leaseTtlMs: 2_000,
    }).then((worker) => {
      workers.push(worker);
      return worker;
    });
  }

  async function stopAll(): Promise<void> {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  }

  it('finishes 10 parents waiting on children with 2 workers of 2 slots', { timeout: 60_000 }, async () => {
    const pair = [await start(2), await start(2)];
    try {
      const nodes: ProcessNode[] = [];
      for (let i = 0; i < 10; i += 1) nodes.push(await runner.submit(Parent, { x: new Int(i) }));
      const done = await Promise.all(nodes.map((node) => runner.getProcessFuture(node.pk!)));
      expect(done.map((node) => node.processState)).toEqual(Array(10).fill('finished'));
      const stats = pair.map((worker) => worker.stats());
      // the parents were parked while their children ran (else 4 slots could never run 10 parents and children)
      expect(stats.reduce((total, s) => total + s.parked, 0)).toBeGreaterThanOrEqual(10);
      expect(stats.every((s) => s.running <= s.slots)).toBe(true);
    } finally {
      await stopAll();
    }
  });

  it(
    'marks a process excepted with the reason when its class cannot be loaded or its checkpoint is corrupt, drops a task for a missing pk, refuses a malformed control request, and keeps running',
    { timeout: 60_000 },
    async () => {
      const { storage } = handle;
      // made and handed over while no worker runs: the rows wait, runnable
      const unloadable = await runner.submitToDaemon(TwoSteps, { x: new Int(1) });
      const corrupt = await runner.submitToDaemon(TwoSteps, { x: new Int(2) });
      const unloadableNode = await loadNode<ProcessNode>(unloadable.pk!);
      const checkpoint = JSON.parse(unloadableNode.checkpoint!) as Record<string, unknown>;
      await unloadableNode.setCheckpoint(JSON.stringify({ ...checkpoint, class_name: 'nowhere.Missing' }));
      const tasks = withAiidaTsTables(storage.executor());
      await tasks
        .updateTable('aiida_ts_task')
        .set({ module: 'file:///nowhere/missing-module.js' })
        .where('process_id', '=', unloadable.pk!)
        .execute();
      await (await loadNode<ProcessNode>(corrupt.pk!)).setCheckpoint('{"version": 1, "state": [not json');
      await tasks
        .insertInto('aiida_ts_task')
        .values({
          process_id: 999_999,
          state: 'runnable',
          mode: 'daemon',
          owner: null,
          epoch: 0,
          parent_id: null,
          waiting_for: null,
          wake_at: null,
          paused: 0,
          step_mark: null,
          module: null,
          enqueued_at: Date.now(),
          claimed_at: null,
        })
        .execute();

      const worker = await start(4);
      try {
        for (const node of [unloadable, corrupt]) {
          const done = await runner.getProcessFuture(node.pk!);
          expect(done.processState).toBe('excepted');
          expect(done.exception).toBeTruthy();
          expect(done.base.attributes.get(ProcessAttribute.SEALED, false)).toBe(true);
          expect(done.checkpoint).toBeNull();
        }
        expect(String((await loadNode<ProcessNode>(unloadable.pk!)).exception)).toMatch(
          /nowhere|missing|not found|Cannot find/i,
        );
        expect(String((await loadNode<ProcessNode>(corrupt.pk!)).exception)).toMatch(/checkpoint|JSON/i);

        // a malformed request for a process the worker holds: refused with the reason, the process goes on
        const held = await runner.submit(Gated, { gate: `faults-${_name}`, x: new Int(5) });
        await expect
          .poll(() => worker.stats().loaded.includes(held.pk!), { timeout: 20_000, interval: 20 })
          .toBe(true);
        const bad = await sql<{ id: number | string }>`
        INSERT INTO aiida_ts_control (process_id, intent, message, force, state, result, requested_at, done_at)
        VALUES (${held.pk!}, 'explode', NULL, 7, 'pending', NULL, ${Date.now()}, NULL) RETURNING id`.execute(
          storage.executor(),
        );
        const badId = Number(bad.rows[0]!.id);
        await expect
          .poll(
            async () =>
              (
                await tasks
                  .selectFrom('aiida_ts_control')
                  .selectAll()
                  .where('id', '=', badId)
                  .executeTakeFirst()
              )?.state,
            { timeout: 20_000, interval: 20 },
          )
          .toBe('failed');
        const refused = await tasks
          .selectFrom('aiida_ts_control')
          .selectAll()
          .where('id', '=', badId)
          .executeTakeFirst();
        expect(refused?.result).toMatch(/malformed control request/);
        gate(`faults-${_name}`).open();
        expect((await runner.getProcessFuture(held.pk!)).processState).toBe('finished');

        // the missing pk's task is gone, and the worker still runs new work
        const next = await runner.submit(TwoSteps, { x: new Int(3) });
        expect((await runner.getProcessFuture(next.pk!)).processState).toBe('finished');
        expect(await tasks.selectFrom('aiida_ts_task').selectAll().execute()).toEqual([]);
      } finally {
        await stopAll();
      }
    },
  );
});
