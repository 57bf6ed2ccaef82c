import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine.js';
import {
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { loadNode } from '../../src/orm/loaders.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { BACKENDS } from '../engine/helpers.js';
import type { TestStorage } from '../storage/helpers.js';
import { Parent, TwoSteps } from './fixtures.js';

describe.each(BACKENDS)('the storage-only daemon queue on %s', (_name, open) => {
  let handle: TestStorage;
  let workers: DaemonWorkerHandle[] = [];
  let runner: Runner;

  beforeAll(async () => {
    handle = await open();
    setDefaultStorage(handle.storage);
    const options = { storage: handle.storage, communicator: null, slots: 4, leaseTtlMs: 2_000 } as const;
    workers = [await startDaemonWorker(undefined, options), await startDaemonWorker(undefined, options)];
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

  it('runs submitted work chains and their children on the workers, and leaves no record behind', async () => {
    const nodes: ProcessNode[] = [];
    for (let i = 0; i < 6; i += 1) nodes.push(await runner.submit(Parent, { x: new Int(i) }));
    nodes.push(await runner.submit(TwoSteps, { x: new Int(10) }));
    for (const node of nodes) await runner.getProcessFuture(node.pk!);
    for (const [i, node] of nodes.entries()) {
      const done = await loadNode<ProcessNode>(node.pk!);
      expect(done.processState).toBe('finished');
      expect(done.exitStatus).toBe(0);
      const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel(
        'result',
      ) as Int;
      expect(result.value).toBe(i < 6 ? (i + 1) * 2 + 1 : 22);
    }
    const rows = await withAiidaTsTables(handle.storage.executor())
      .selectFrom('aiida_ts_task')
      .selectAll()
      .execute();
    expect(rows).toEqual([]);
    const stats = workers.map((worker) => worker.stats());
    expect(stats.reduce((total, s) => total + s.claimed, 0)).toBeGreaterThanOrEqual(13);
  });
});
