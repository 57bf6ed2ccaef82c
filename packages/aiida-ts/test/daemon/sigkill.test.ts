/**
 * A daemon worker SIGKILLed in the middle of a work chain step (after it submitted a child and ran a calcfunction):
 * another worker takes the process over from its last checkpoint, replays the step reusing the child and the
 * calcfunction the lost run made, and finishes it — the provenance graph is the one of an undisturbed run, nothing
 * is duplicated, and no task row is left.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@aiida-ts/test-services';
import { Runner } from '../../src/engine.js';
import {
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import { loadNode } from '../../src/orm/loaders.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { linkSummary } from '../engine/helpers.js';
import { tempFolder } from '../storage/helpers.js';
import { FAULT_POINT_ENV, FaultPoint } from '../../src/engine/fault-point.js';
import { processStateColumn } from '../../src/engine/daemon/task-table.js';
import { HANG_ENV, Interrupted, LinkedThenLost, Parent } from './fixtures.js';
import { openSharedStorage, spawnWorker, type SharedStorage } from './services.js';

/** Every node reachable from `node` by outgoing links (called processes and their outputs), as type lines. */
async function graphOf(node: ProcessNode): Promise<string[]> {
  const lines: string[] = [];
  const seen = new Set<number>();
  const visit = async (current: ProcessNode, prefix: string): Promise<void> => {
    if (current.pk === null || seen.has(current.pk)) return;
    seen.add(current.pk);
    lines.push(
      `${prefix}${current.processLabel ?? '?'} ${String(current.processState)} ${String(current.exitStatus)}`,
    );
    for (const line of await linkSummary(current, 'incoming')) lines.push(`${prefix}  in ${line}`);
    for (const line of await linkSummary(current, 'outgoing')) lines.push(`${prefix}  out ${line}`);
    const called = await current.base.links.getOutgoing({ linkType: ['call_calc', 'call_work'] });
    const children = called.all().map((link) => link.node as ProcessNode);
    children.sort((a, b) => (a.pk ?? 0) - (b.pk ?? 0));
    for (const child of children) await visit(child, `${prefix}    `);
  };
  await visit(node, '');
  return lines;
}

describe.each(['sqlite', 'psql'] as const)('a daemon worker SIGKILLed mid-step on %s', (backend) => {
  let shared: SharedStorage;
  let folder: { folder: string; cleanup: () => Promise<void> };
  let hangs = 0;
  const hangEnv = (file: string): Record<string, string> => ({ [HANG_ENV]: file });

  beforeAll(async () => {
    shared = await openSharedStorage(backend);
    setDefaultStorage(shared.storage);
    folder = await tempFolder('aiida-ts-daemon-hang-');
  });
  afterAll(async () => {
    setDefaultStorage(null);
    await shared?.cleanup();
    await folder?.cleanup();
  });

  /**
   * Spawns a worker that hangs where `hang` makes it (the environment variable it is given names a file, where the
   * worker writes the pk of the process whose step hangs), submits `launch` to it, SIGKILLs it there and starts a
   * surviving in-process worker; the process must finish, and `check` looks at its end.
   */
  async function killedMidStep(
    hang: (file: string) => Record<string, string>,
    launch: (runner: Runner) => Promise<ProcessNode>,
    check: (done: ProcessNode, runner: Runner, survivor: DaemonWorkerHandle) => Promise<void>,
  ): Promise<void> {
    const { storage } = shared;
    const hangFile = path.join(folder.folder, `hang-${++hangs}`);
    const doomed = spawnWorker({ storage: shared.spec, broker: null, slots: 4 }, hang(hangFile));
    await doomed.ready;
    const runner = new Runner({ storage, pollInterval: 0.05, ownership: new RunnerOwnership(storage) });
    try {
      const node = await launch(runner);
      await waitFor(
        'the worker to hang',
        () => existsSync(hangFile) && readFileSync(hangFile, 'utf8') === String(node.pk),
        { timeoutMs: 30_000, intervalMs: 20 },
      );
      await doomed.kill();
      expect((await doomed.exited).signal).toBe('SIGKILL');
      await using survivor = await startDaemonWorker(undefined, {
        storage,
        communicator: null,
        slots: 4,
        leaseTtlMs: 2_000,
      });
      const done = await runner.getProcessFuture(node.pk!);
      expect(done.processState, String(done.exception)).toBe('finished');
      await check(done, runner, survivor);
    } finally {
      await runner.close();
      await doomed.kill();
    }
  }

  it(
    'is continued by another worker with the provenance of an undisturbed run',
    { timeout: 60_000 },
    async () => {
      await killedMidStep(
        hangEnv,
        (runner) => runner.submit(Interrupted, { x: new Int(3) }),
        async (done, runner, survivor) => {
          expect(done.exitStatus).toBe(0);
          const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel('result');
          // child: (3 + 1) * 2 = 8; y = 4; 8 + 4 + 1
          expect((result as Int).value).toBe(13);
          expect(survivor.stats().claimed).toBeGreaterThanOrEqual(1);

          // the same work chain, undisturbed, on the surviving worker
          const reference = await runner.submit(Interrupted, { x: new Int(3) });
          await runner.getProcessFuture(reference.pk!);
          const interruptedGraph = await graphOf(await loadNode<ProcessNode>(done.pk!));
          const referenceGraph = await graphOf(await loadNode<ProcessNode>(reference.pk!));
          expect(interruptedGraph).toEqual(referenceGraph);
          // nothing made twice: one TwoSteps child, two addOne calls in the parent
          const calls = (await done.base.links.getOutgoing({ linkType: ['call_calc', 'call_work'] })).all();
          expect(calls.map((link) => link.node.constructor.name).sort()).toEqual([
            'CalcFunctionNode',
            'CalcFunctionNode',
            'WorkChainNode',
          ]);
          const rows = await withAiidaTsTables(shared.storage.executor())
            .selectFrom('aiida_ts_task')
            .selectAll()
            .execute();
          expect(rows).toEqual([]);
        },
      );
    },
  );

  it(
    'does not link an output twice when the lost run linked it after its last checkpoint',
    { timeout: 60_000 },
    async () => {
      await killedMidStep(
        hangEnv,
        (runner) => runner.submit(LinkedThenLost, { x: new Int(4) }),
        async (done) => {
          // one call of addOne (replayed, not repeated) and its result returned once
          expect(await linkSummary(done, 'outgoing')).toEqual([
            'call_calc CALL CalcFunctionNode',
            'return result Int',
          ]);
        },
      );
    },
  );

  it(
    'neither duplicates nor excepts a child stored by the lost step before its first checkpoint',
    { timeout: 60_000 },
    async () => {
      await killedMidStep(
        (file) => ({ [FAULT_POINT_ENV]: `${FaultPoint.CHILD_STORED}=${file}` }),
        (runner) => runner.submit(Parent, { x: new Int(5) }),
        async (done) => {
          const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel('result');
          // child: (5 + 1) * 2 = 12; + 1
          expect((result as Int).value).toBe(13);
          const children = (await done.base.links.getOutgoing({ linkType: 'call_work' })).all();
          expect(children).toHaveLength(1);
          expect((children[0]!.node as ProcessNode).processState).toBe('finished');
          // nothing excepted anywhere (the stored child was not marked excepted and made again)
          const excepted = await shared.storage
            .executor()
            .selectFrom('db_dbnode')
            .select('id')
            .where(processStateColumn(shared.storage), '=', 'excepted')
            .execute();
          expect(excepted).toEqual([]);
        },
      );
    },
  );
});
