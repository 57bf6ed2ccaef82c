import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine.js';
import {
  awaitControl,
  ownershipOf,
  requestControl,
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
import { gate, Gated, GatedParent } from './fixtures.js';

async function fresh(pk: number): Promise<ProcessNode> {
  return loadNode<ProcessNode>(pk);
}

describe.each(BACKENDS)('process control through the storage on %s', (name, open) => {
  let handle: TestStorage;
  let runner: Runner;
  let worker: DaemonWorkerHandle | undefined;
  const options = () =>
    ({ storage: handle.storage, communicator: null, slots: 4, leaseTtlMs: 2_000 }) as const;

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
    await worker?.stop();
    await runner?.close();
    setDefaultStorage(null);
    await handle?.cleanup();
  });

  it('applies pause, play and kill in place to queued processes when no worker runs', async () => {
    const node = await runner.submitToDaemon(Gated, { gate: `${name}-queued`, x: new Int(1) });
    const [pause] = await requestControl(node.pk!, 'pause', { message: 'held by the test' });
    expect(pause).toMatchObject({ state: 'done', result: 'paused' });
    let current = await fresh(node.pk!);
    expect(current.paused).toBe(true);
    expect(current.processStatus).toBe('held by the test');
    expect(JSON.parse(current.checkpoint!)).toMatchObject({ paused: true, status: 'held by the test' });
    const [play] = await requestControl(node.pk!, 'play');
    expect(play).toMatchObject({ state: 'done', result: 'played' });
    current = await fresh(node.pk!);
    expect(current.paused).toBe(false);
    const [kill] = await requestControl(node.pk!, 'kill', { message: 'Killed through the test' });
    expect(kill).toMatchObject({ state: 'done', result: 'killed' });
    current = await fresh(node.pk!);
    expect(current.processState).toBe('killed');
    expect(current.processStatus).toBe('Killed through the test');
    expect(current.isSealed).toBe(true);
    const rows = await withAiidaTsTables(handle.storage.executor())
      .selectFrom('aiida_ts_task')
      .selectAll()
      .execute();
    expect(rows).toEqual([]);
  });

  it('refuses requests for missing or terminated processes with the reason', async () => {
    const [missing] = await requestControl(999_999, 'kill');
    expect(missing).toMatchObject({ state: 'failed', result: 'no process with pk 999999' });
    const done = await runner.submitToDaemon(Gated, { gate: `${name}-done`, x: new Int(1) });
    await requestControl(done.pk!, 'kill');
    const [again] = await requestControl(done.pk!, 'pause');
    expect(again).toMatchObject({
      state: 'failed',
      result: `process<${done.pk}> has already terminated (killed)`,
    });
  });

  it('pauses a running process after its step, parks it, plays it and kills a parked parent with its child', async () => {
    worker = await startDaemonWorker(undefined, options());
    const first = gate(`${name}-pause`);
    const node = await runner.submit(Gated, { gate: `${name}-pause`, x: new Int(1) });
    await expect.poll(async () => (await fresh(node.pk!)).processState).toBe('running');
    const requests = await requestControl(node.pk!, 'pause', { message: 'paused by the test' });
    await expect.poll(() => worker!.stats().applying).toContain(requests[0]!.id);
    first.open();
    const { done, pending } = await awaitControl(requests, { timeoutMs: 20_000 });
    expect(pending).toEqual([]);
    expect(done[0]).toMatchObject({ state: 'done', result: 'paused' });
    const paused = await fresh(node.pk!);
    expect(paused.paused).toBe(true);
    expect((await ownershipOf([node.pk!])).get(node.pk!)).toMatchObject({ state: 'parked', orphaned: false });
    expect(worker.stats().running).toBe(0);
    const played = await requestControl(node.pk!, 'play');
    expect((await awaitControl(played, { timeoutMs: 20_000 })).pending).toEqual([]);
    const finished = await runner.getProcessFuture(node.pk!);
    expect(finished.isFinishedOk).toBe(true);

    const parent = await runner.submit(GatedParent, { gate: `${name}-never`, x: new Int(2) });
    await expect.poll(async () => (await fresh(parent.pk!)).getCalled().then((c) => c.length)).toBe(1);
    const [child] = await (await fresh(parent.pk!)).getCalled();
    await expect.poll(async () => (await ownershipOf([parent.pk!])).get(parent.pk!)?.state).toBe('parked');
    const kill = await requestControl(parent.pk!, 'kill', { message: 'Killed through `verdi process kill`' });
    expect((await awaitControl(kill, { timeoutMs: 20_000 })).pending).toEqual([]);
    expect((await fresh(parent.pk!)).processState).toBe('killed');
    // the child is in the middle of its step: it is killed when the step returns (aiida's kill without force)
    gate(`${name}-never`).open();
    await expect.poll(async () => (await fresh(child!.pk!)).processState, { timeout: 20_000 }).toBe('killed');
    // (in one JS process plumpy's work chain also kills the live child with its own message, so either shows)
    expect((await fresh(child!.pk!)).processStatus).toMatch(
      /^Killed (by parent<\d+>|through `verdi process kill`)$/,
    );
  });
});
