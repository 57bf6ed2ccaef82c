import { randomBytes } from 'node:crypto';
import { BroadcastFilter, LocalCommunicator } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { describe, expect, it } from 'vitest';
import {
  AiidaProcessLauncher,
  awaitProcesses,
  calcfunction,
  getBuilderRestart,
  nodeType,
  Process,
  ProcessFuture,
  run,
  runGetNode,
  runGetPk,
  Runner,
  submit,
} from 'aiida-ts/engine';
import { InvalidOperationError, NotExistentError, ValidationError } from 'aiida-ts';
import { CalculationNode, Int, loadNode, type ProcessNode } from 'aiida-ts/orm';
import { InnerWorkChain, OuterWorkChain } from './fixture-workchains.js';
import { BACKENDS, linkSummary, useEngine } from './helpers.js';

/** A plain process (a `run` method) recorded as a calculation. */
class Adder extends Process.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .input('y', { validType: nodeType(Int), default: () => new Int(1) })
    .output('sum', { validType: nodeType(Int) }),
) {
  static override get nodeClass(): typeof CalculationNode {
    return CalculationNode;
  }

  override run(): void {
    this.out('sum', new Int(this.inputs.x.value + this.inputs.y.value));
  }
}

const double = calcfunction({ inputs: { x: Int }, outputs: Int }, function double({ x }) {
  return new Int(2 * x.value);
});

describe.each(BACKENDS)('launching on %s', (_name, open) => {
  const engine = useEngine(open);

  it('runs classes, builders and process functions with run, runGetNode and runGetPk', async () => {
    const outputs = await run(Adder, { x: 2 });
    expect(outputs.sum.value).toBe(3);
    const { result, node } = await runGetNode(Adder, { x: 2, y: 5 });
    expect(result.sum.value).toBe(7);
    expect(node).toBeInstanceOf(CalculationNode);
    expect(await linkSummary(node, 'outgoing')).toEqual(['create sum Int']);
    const { pk } = await runGetPk(double, { x: 4 });
    expect((await loadNode<ProcessNode>(pk)).isFinishedOk).toBe(true);
    expect((await run(double, { x: 4 })).value).toBe(8);

    const builder = Adder.getBuilder();
    builder.x = 10;
    builder.metadata.label = 'built';
    expect(builder._inputs()).toEqual({ x: builder.x, metadata: { label: 'built' } });
    const built = await runGetNode(builder);
    expect(built.result.sum.value).toBe(11);
    expect(built.node.label).toBe('built');
  });

  it('checks builder values as they are set', () => {
    const builder = OuterWorkChain.getBuilder();
    builder.inner.x = 3;
    expect(() => {
      (builder.inner as unknown as Record<string, unknown>)['x'] = 'three';
    }).toThrow(ValidationError);
    expect(() => {
      (builder as unknown as Record<string, unknown>)['nope'] = 1;
    }).toThrow(NotExistentError);
    builder.inner._update({ y: 4 });
    expect(Object.keys(builder.inner._inputs())).toEqual(['x', 'y']);
    expect(builder._inputs({ prune: false })).toMatchObject({
      inner: { x: expect.any(Int) as Int, y: expect.any(Int) as Int },
    });
    expect('inner' in builder).toBe(true);
    expect((builder.inner.x as unknown as Int).value).toBe(3);
  });

  it('rebuilds the inputs of a finished process with getBuilderRestart and runs it again', async () => {
    const { node } = await runGetNode(OuterWorkChain, {
      inner: { x: 1, y: 2 },
      iterations: 1,
      metadata: { description: 'first' },
    });
    const builder = await getBuilderRestart(node);
    expect(builder.processClass).toBe(OuterWorkChain);
    const again = await runGetNode(builder);
    expect(await linkSummary(again.node, 'incoming')).toEqual(await linkSummary(node, 'incoming'));
    expect((again.result as { total: Int }).total.value).toBe(3);
  });

  it('submits in-process without a broker; awaitProcesses waits for the nodes', async () => {
    const node = await submit(OuterWorkChain, { inner: { x: 1, y: 1 }, iterations: 1 });
    expect(node.isStored).toBe(true);
    await awaitProcesses([node], { waitInterval: 0.05 });
    expect(node.isFinishedOk).toBe(true);
    await expect(awaitProcesses(node as never)).rejects.toThrow(ValidationError);
    await expect(awaitProcesses([new Int(1) as never])).rejects.toThrow(ValidationError);
    await expect(submit(Adder, { x: 1, metadata: { store_provenance: false } })).rejects.toThrow(
      InvalidOperationError,
    );
  });

  it('resolves a ProcessFuture from broadcasts alone, from polling alone, and calls back exactly once', async () => {
    const { runner, storage, communicator } = engine();
    const byBroadcast = await runner.instantiate(Adder, { x: 1 });
    const listening = new ProcessFuture(byBroadcast.pk!, { storage, communicator });
    void runner.schedule(byBroadcast);
    expect((await listening).isFinishedOk).toBe(true);

    const polled = await runner.instantiate(Adder, { x: 1 });
    const polling = new ProcessFuture(polled.pk!, { storage, pollInterval: 0.02 });
    void runner.schedule(polled);
    expect((await polling).pk).toBe(polled.pk);

    const calls: number[] = [];
    const again = await runner.instantiate(Adder, { x: 1 });
    runner.callOnProcessFinish(again.pk!, (node) => calls.push(node.pk!));
    void runner.schedule(again);
    await runner.getProcessFuture(again.pk!);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(calls).toEqual([again.pk]);
    // A process that already ended is reported at once.
    const late: number[] = [];
    runner.callOnProcessFinish(again.pk!, (node) => late.push(node.pk!));
    await expect.poll(() => late).toEqual([again.pk]);
    await expect(new ProcessFuture(999_999_999, { storage, pollInterval: 0.02 })).rejects.toThrow(
      NotExistentError,
    );
  });

  it('broadcasts a terminal state only once the node records it with its outputs', async () => {
    const { runner, communicator } = engine();
    const process = await runner.instantiate(Adder, { x: 20 });
    const seen = new Promise<{ state: string | null; outputs: string[] }>((resolve) => {
      void communicator.addBroadcastSubscriber(
        new BroadcastFilter(
          async () => {
            const node = await loadNode<ProcessNode>(process.pk!);
            resolve({ state: node.processState, outputs: await linkSummary(node, 'outgoing') });
          },
          { sender: process.pk, subject: 'state_changed.*.finished' },
        ),
      );
    });
    await runner.executeProcess(process);
    expect(await seen).toEqual({ state: 'finished', outputs: ['create sum Int'] });
  });
});

describe('submitting to the daemon over RabbitMQ', () => {
  const engine = useEngine(BACKENDS[0]![1]);

  it('checkpoints the process and sends plumpy’s continue task, which a worker runs to the end', async () => {
    const { storage } = engine();
    const prefix = `aiida-ts-test-${randomBytes(6).toString('hex')}`;
    const url = 'amqp://guest:guest@127.0.0.1:5672';
    const client = await connect({ url, prefix, testingMode: true });
    const worker = await connect({ url, prefix, testingMode: true });
    const submitter = new Runner({ storage, communicator: client, pollInterval: 0.05 });
    const workerRunner = new Runner({ storage, communicator: worker, pollInterval: 0.05 });
    try {
      const node = await submitter.submitToDaemon(OuterWorkChain, { inner: { x: 2, y: 3 }, iterations: 1 });
      await node.refresh();
      expect(node.processState).toBe('created');
      expect(JSON.parse(node.checkpoint!)).toMatchObject({ pid: node.pk, state: { label: 'created' } });
      await expect(
        submitter.submitToDaemon(Adder, { x: 1, metadata: { store_provenance: false } }),
      ).rejects.toThrow(InvalidOperationError);
      await expect(submitter.submitToDaemon(double, { x: 1 })).rejects.toThrow(/cannot be submitted/);

      const tasks: unknown[] = [];
      const launcher = new AiidaProcessLauncher(workerRunner);
      await worker.addTaskSubscriber((task) => {
        tasks.push(task);
        return launcher.handle(task);
      });
      const finished = await submitter.getProcessFuture(node.pk!);
      expect(finished.isFinishedOk).toBe(true);
      expect(tasks).toEqual([{ task: 'continue', args: { pid: node.pk, nowait: false, tag: null } }]);
      expect(await linkSummary(finished, 'outgoing')).toEqual([
        'call_calc CALL CalcFunctionNode',
        'call_calc CALL CalcFunctionNode',
        'call_work inner_iteration_1 WorkChainNode',
        'return extra Int',
        'return inner__doubled Int',
        'return inner__sum Int',
        'return total Int',
      ]);
      // A task for a finished process answers its outcome; one for a missing node is dropped.
      const outcome = await launcher.handle({
        task: 'continue',
        args: { pid: node.pk, nowait: false, tag: null },
      });
      expect(outcome).toMatchObject({ pk: node.pk, process_state: 'finished', exit_status: 0 });
      expect(await launcher.handle({ task: 'continue', args: { pid: 999_999_999, nowait: false } })).toBe(
        false,
      );
      await expect(launcher.handle({ task: 'launch', args: {} })).rejects.toThrow(/not a continue task/);
      expect(InnerWorkChain.name).toBe('InnerWorkChain');
    } finally {
      await submitter.close();
      await workerRunner.close();
      await client.close();
      await worker.close();
    }
  });

  it('does not need the broker to run locally', async () => {
    const { storage } = engine();
    const local = new Runner({ storage, communicator: new LocalCommunicator() });
    try {
      expect(((await local.run(double, { x: 21 })) as Int).value).toBe(42);
    } finally {
      await local.close();
    }
  });
});
