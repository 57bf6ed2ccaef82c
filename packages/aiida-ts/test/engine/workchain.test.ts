import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalCommunicator } from 'kiwipy-ts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  append_,
  assign_,
  calcfunction,
  ExitCode,
  if_,
  nodeType,
  nonDb,
  return_,
  Runner,
  submit,
  ToContext,
  WorkChain,
} from 'aiida-ts/engine';
import { InvalidOperationError } from 'aiida-ts';
import { Int, List, loadNode, Log, type ProcessNode, Str, type WorkChainNode } from 'aiida-ts/orm';
import { FIXTURES } from '../orm/archive-fixtures.js';
import { InnerWorkChain, OuterWorkChain } from './fixture-workchains.js';
import { BACKENDS, linkSummary, useEngine } from './helpers.js';

const record = calcfunction({ inputs: { steps: List }, outputs: List }, function record({ steps }) {
  return new List([...steps.getList()]);
});

/** Visits its steps according to `value` and `n`, and returns the list of visited steps. */
class ControlFlow extends WorkChain.define((spec) =>
  spec
    .input('value', { validType: nodeType(Str) })
    .input('n', { validType: nodeType(Int) })
    .output('steps', { validType: nodeType(List) })
    .context<{ steps: string[]; counter: number }>(),
) {
  static {
    this.outline(({ if_: iff, while_: loop }) => [
      'start',
      iff('isA')('stepA').elif_('isB')('stepB').else_('stepC'),
      loop('smallerThanN')('increment'),
      'results',
    ]);
  }

  start(): void {
    this.ctx.steps = ['start'];
    this.ctx.counter = 0;
  }
  isA(): boolean {
    return this.inputs.value.value === 'A';
  }
  isB(): boolean {
    return this.inputs.value.value === 'B';
  }
  stepA(): void {
    this.ctx.steps!.push('stepA');
  }
  stepB(): void {
    this.ctx.steps!.push('stepB');
  }
  stepC(): void {
    this.ctx.steps!.push('stepC');
  }
  smallerThanN(): boolean {
    return this.ctx.counter! < this.inputs.n.value;
  }
  increment(): void {
    this.ctx.counter = this.ctx.counter! + 1;
    this.ctx.steps!.push(`increment${this.ctx.counter}`);
  }
  async results(): Promise<void> {
    this.out('steps', await record({ steps: new List(this.ctx.steps) }));
  }
}

/** Ends according to its `mode` input: exit codes from steps and `return_` in the outline. */
class Exits extends WorkChain.define((spec) =>
  spec
    .input('mode', { validType: nonDb(z.enum(['int', 'code', 'zero', 'return', 'return_code', 'none'])) })
    .output('done', { validType: nodeType(Int), required: false })
    .exitCode(418, 'ERROR_TEAPOT', 'I am a teapot')
    .exitCode(419, 'ERROR_RETURNED', 'returned from the outline'),
) {
  static {
    this.outline(
      'first',
      if_('returnsEarly')(return_),
      if_('returnsCode')(return_(Exits.exitCodes.ERROR_RETURNED)),
      'last',
    );
  }

  first(): number | ExitCode | undefined {
    switch (this.inputs.mode) {
      case 'int':
        return 5;
      case 'code':
        return Exits.exitCodes.ERROR_TEAPOT;
      case 'zero':
        return new ExitCode(0);
      default:
        return undefined;
    }
  }
  returnsEarly(): boolean {
    return this.inputs.mode === 'return';
  }
  returnsCode(): boolean {
    return this.inputs.mode === 'return_code';
  }
  async last(): Promise<void> {
    this.out('done', await add1({ x: 1 }));
  }
}

const add1 = calcfunction({ inputs: { x: Int }, outputs: Int }, function add1({ x }) {
  return new Int(x.value + 1);
});

const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
function gate(name: string): { promise: Promise<void>; open: () => void } {
  let entry = gates.get(name);
  if (entry === undefined) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    entry = { promise, open };
    gates.set(name, entry);
  }
  return entry;
}

/** A child that waits, inside its step, for a gate the test opens. */
class Gated extends WorkChain.define((spec) =>
  spec
    .input('gate', { validType: nonDb(z.string()) })
    .output('value', { validType: nodeType(Int), required: false }),
) {
  static {
    this.outline('wait');
  }
  async wait(): Promise<void> {
    await gate(this.inputs.gate).promise;
    this.out('value', await add1({ x: 41 }));
  }
}

/** Launches two gated children, one assigned and one appended to the context. */
class Parent extends WorkChain.define((spec) =>
  spec
    .input('prefix', { validType: nonDb(z.string()) })
    .output('value', { validType: nodeType(Int), required: false })
    .context<{ first: WorkChainNode; others: WorkChainNode[]; unstored: Int }>(),
) {
  static {
    this.outline('launchChildren', 'collect');
  }
  async launchChildren(): Promise<ToContext> {
    const first = await this.submit(Gated, {
      gate: `${this.inputs.prefix}-1`,
      metadata: { call_link_label: 'first' },
    });
    const second = await this.submit(Gated, {
      gate: `${this.inputs.prefix}-2`,
      metadata: { call_link_label: 'second' },
    });
    this.ctx.unstored = new Int(7);
    this.toContext({ first: assign_(first) });
    return new ToContext({ others: append_(second) });
  }
  async collect(): Promise<void> {
    const { first, others } = this.ctx;
    const outputs = await first!.base.links.getOutgoing({ linkType: 'return' });
    this.out('value', outputs.getNodeByLabel('value') as Int);
    expect(others).toHaveLength(1);
    expect(this.ctx.unstored!.isStored).toBe(true);
  }
}

/** Raises in its second step. */
class Failing extends WorkChain.define((spec) => spec) {
  static {
    this.outline('ok', 'broken');
  }
  ok(): void {
    this.report('all good so far');
  }
  broken(): void {
    throw new TypeError('step exploded');
  }
}

/** Calls the top-level `submit` from a step, which aiida forbids. */
class WrongSubmit extends WorkChain.define((spec) => spec) {
  static {
    this.outline('go');
  }
  async go(): Promise<void> {
    await submit(Failing);
  }
}

/** Three steps and a child: checkpointed at every transition. */
class Checkpointed extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) })
    .context<{ child: WorkChainNode; value: Int }>(),
) {
  static {
    this.outline('first', 'second', 'third');
  }
  async first(): Promise<void> {
    this.ctx.value = await add1({ x: this.inputs.x });
  }
  async second(): Promise<ToContext> {
    const child = await this.submit(InnerWorkChain, { x: this.ctx.value!, y: 10 });
    return new ToContext({ child });
  }
  async third(): Promise<void> {
    const sum = (await this.ctx.child!.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel(
      'sum',
    ) as Int;
    this.out('result', sum);
  }
}

interface ExpectedRoot {
  label: string;
  exit_status: number;
  inputs: { label: string; type: string }[];
  outputs: { label: string; type: string }[];
}

async function expectedRoots(): Promise<ExpectedRoot[]> {
  const text = await readFile(path.join(FIXTURES, 'workchains.expected.json'), 'utf8');
  return (JSON.parse(text) as { root_processes: ExpectedRoot[] }).root_processes;
}

function summary(entries: { label: string; type: string }[]): string[] {
  return entries.map((entry) => `${entry.type} ${entry.label}`).sort();
}

async function links(node: ProcessNode, direction: 'incoming' | 'outgoing'): Promise<string[]> {
  return (await linkSummary(node, direction)).map((line) => line.split(' ').slice(0, 2).join(' ')).sort();
}

describe.each(BACKENDS)('work chains on %s', (_name, open) => {
  const engine = useEngine(open);

  it('reproduces the provenance graphs of aiida-core’s workchains archive (ok, else branch, failed), link by link', async () => {
    const { runner } = engine();
    const roots = await expectedRoots();
    const runs = [
      { label: 'outer-ok', inputs: { inner: { x: 3, y: 4 }, iterations: 2, do_extra: true } },
      { label: 'outer-else', inputs: { inner: { x: 1, y: 1 }, iterations: 1, do_extra: false } },
      { label: 'outer-failed', inputs: { inner: { x: 3, y: -6 }, iterations: 2, do_extra: true } },
    ];
    for (const { label, inputs } of runs) {
      const expected = roots.find((root) => root.label === label)!;
      const { node } = await runner.runGetNode(OuterWorkChain, { ...inputs, metadata: { label } });
      expect(node.label).toBe(label);
      expect(node.exitStatus).toBe(expected.exit_status);
      expect(await links(node, 'incoming')).toEqual(summary(expected.inputs));
      expect(await links(node, 'outgoing')).toEqual(summary(expected.outputs));
      expect(node.processType).toBe('fixture_workchains.OuterWorkChain');
      expect(node.processLabel).toBe('OuterWorkChain');
    }
    const failed = (await runner.runGetNode(OuterWorkChain, { inner: { x: 3, y: -6 } })).node;
    expect(failed.exitMessage).toBe('the inner workchain failed with exit status 400');
    expect(failed.base.attributes.get('stepper_state_info')).toBe('1:while_(shouldContinue)(1:inspectInner)');
    const inner = (await failed.getCalled()).find((child) => child.processLabel === 'InnerWorkChain')!;
    expect(inner.exitStatus).toBe(400);
    expect(inner.exitMessage).toBe('the sum -3 is negative');
    expect(inner.metadataInputs).toEqual({ metadata: { call_link_label: 'inner_iteration_1' } });
  });

  it('stores reports as Log entries with aiida’s logger name, level and record layout', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(OuterWorkChain, { inner: { x: 3, y: 4 }, iterations: 1 });
    const logs = await Log.find({ nodeId: node.pk! });
    expect(logs.map((log) => log.message)).toEqual([
      `[${node.pk}|OuterWorkChain|setup]: starting outer workchain`,
      expect.stringMatching(
        new RegExp(
          `^\\[${node.pk}\\|OuterWorkChain\\|runInner\\]: launched InnerWorkChain<\\d+> for iteration 1$`,
        ),
      ),
      `[${node.pk}|OuterWorkChain|finalize]: done after 1 iterations, total=7`,
    ]);
    const [first] = logs as [Log];
    expect(first.loggername).toBe('aiida.orm.nodes.process.workflow.workchain.WorkChainNode');
    expect(first.levelname).toBe('REPORT');
    expect(first.metadata).toMatchObject({
      name: 'aiida.orm.nodes.process.workflow.workchain.WorkChainNode',
      msg: first.message,
      message: first.message,
      levelname: 'REPORT',
      levelno: 23,
      funcName: 'setup',
      dbnode_id: node.pk,
      exc_text: null,
    });
    expect(first.metadata['pathname']).toMatch(/fixture-workchains\.ts$/);
  });

  it('runs conditionals and loops exactly as the outline says', async () => {
    const { runner } = engine();
    for (const [value, n, branch] of [
      ['A', 3, 'stepA'],
      ['B', 1, 'stepB'],
      ['C', 0, 'stepC'],
    ] as const) {
      const result = (await runner.run(ControlFlow, { value, n })) as { steps: List };
      const increments = Array.from({ length: n }, (_, i) => `increment${i + 1}`);
      expect(result.steps.getList()).toEqual(['start', branch, ...increments]);
    }
  });

  it('ends with the exit code a step returns or return_ gives; 0 and nothing go on', async () => {
    const { runner } = engine();
    const cases = [
      ['int', 5, null, false],
      ['code', 418, 'I am a teapot', false],
      ['zero', 0, null, true],
      ['none', 0, null, true],
      ['return', 0, null, false],
      ['return_code', 419, 'returned from the outline', false],
    ] as const;
    for (const [mode, status, message, ranLast] of cases) {
      const { node } = await runner.runGetNode(Exits, { mode });
      expect(node.processState, mode).toBe('finished');
      expect(node.exitStatus, mode).toBe(status);
      expect(node.exitMessage, mode).toBe(message);
      expect((await links(node, 'outgoing')).includes('return done'), mode).toBe(ranLast);
    }
  });

  it('waits for children put in the context (assign and append), showing their pks as status, and stores context nodes', async () => {
    const { runner } = engine();
    const process = await runner.instantiate(Parent, { prefix: `${_name}-ctx` });
    const done = runner.executeProcess(process);
    await expect.poll(() => process.state).toBe('waiting');
    const children = (await process.node.getCalled()).map((child) => child.pk).sort((a, b) => a! - b!);
    expect(children).toHaveLength(2);
    // the state is in memory first; the node says so once the writer wrote it
    const stored = async () => loadNode<ProcessNode>(process.node.pk!);
    await expect
      .poll(async () => (await stored()).processStatus)
      .toBe(`Waiting for child processes: ${children.join(', ')}`);
    expect((await stored()).processState).toBe('waiting');
    gate(`${_name}-ctx-1`).open();
    gate(`${_name}-ctx-2`).open();
    const outputs = (await done) as { value: Int };
    expect(outputs.value.value).toBe(42);
    expect(process.node.processStatus).toBeNull();
    expect(await links(process.node, 'outgoing')).toEqual([
      'call_work first',
      'call_work second',
      'return value',
    ]);
  });

  it('kills the children of a killed parent; none is left running', async () => {
    const { runner } = engine();
    const process = await runner.instantiate(Parent, { prefix: `${_name}-kill` });
    const done = runner.executeProcess(process).catch((error: unknown) => error);
    await expect.poll(() => process.state).toBe('waiting');
    const children = await process.node.getCalled();
    process.kill('enough');
    expect(((await done) as Error).name).toBe('KilledError');
    gate(`${_name}-kill-1`).open();
    gate(`${_name}-kill-2`).open();
    for (const child of children) {
      await runner.getProcessFuture(child.pk!);
      const node = await loadNode<ProcessNode>(child.pk!);
      expect(node.processState).toBe('killed');
      expect(node.processStatus).toBe(`Killed by parent<${String(process.pk)}>`);
      expect(node.isSealed).toBe(true);
    }
    await process.node.refresh();
    expect(process.node.processState).toBe('killed');
    expect(process.node.processStatus).toBe('enough');
    expect(process.node.isSealed).toBe(true);
  });

  it('leaves a workchain whose step throws excepted with the error, stack and a report; others carry on', async () => {
    const { runner } = engine();
    const [failed, ok] = await Promise.allSettled([
      runner.runGetNode(Failing),
      runner.runGetNode(ControlFlow, { value: 'A', n: 2 }),
    ]);
    expect(failed.status).toBe('rejected');
    expect(((failed as PromiseRejectedResult).reason as Error).message).toBe('step exploded');
    expect(ok.status).toBe('fulfilled');
    const node = await runner.storage
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('process_type', '=', 'workchain_test.Failing')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const excepted = await loadNode<WorkChainNode>(node.id);
    expect(excepted.processState).toBe('excepted');
    expect(excepted.isSealed).toBe(true);
    expect(excepted.exception).toMatch(/^TypeError: step exploded\n\s+at Failing.broken/);
    const messages = (await Log.find({ nodeId: excepted.pk! })).map((log) => log.message);
    expect(messages[0]).toBe(`[${excepted.pk}|Failing|ok]: all good so far`);
    expect(messages[1]).toMatch(
      new RegExp(`^\\[${excepted.pk}\\|Failing\\|on_except\\]: TypeError: step exploded`),
    );
  });

  it('refuses to run the base WorkChain and the top-level submit inside a step', async () => {
    const { runner } = engine();
    await expect(runner.run(WorkChain)).rejects.toThrow(InvalidOperationError);
    await expect(runner.run(WrongSubmit)).rejects.toThrow(/use `this.submit`/);
  });

  it('checkpoints every transition on the node and continues from the checkpoint in a fresh runner with the same graph', async () => {
    const { runner, storage } = engine();
    const reference = (await runner.runGetNode(Checkpointed, { x: 1 })).node;

    const process = await runner.instantiate(Checkpointed, { x: 1 });
    const seen: string[] = [];
    const checkpoint = async (): Promise<Record<string, unknown>> => {
      const node = await loadNode<ProcessNode>(process.pk!);
      return JSON.parse(node.checkpoint!) as Record<string, unknown>;
    };
    await process.ready();
    // The `created` checkpoint is written with the first step's (a process submitted to a daemon writes it at once).
    for (let i = 0; i < 3; i += 1) {
      await process.step();
      const saved = await checkpoint();
      seen.push(`${(saved['state'] as { label: string }).label}:${JSON.stringify(saved['stepper_state'])}`);
    }
    expect(seen).toEqual([
      'running:{"_pos":0,"stepper_state":{"_fn":"first"}}',
      'running:{"_pos":1,"stepper_state":{"_fn":"second"}}',
      'waiting:{"_pos":2,"stepper_state":{"_fn":"third"}}',
    ]);
    // The worker dies here: the process is dropped without terminating.
    await process.close();
    const node = await loadNode<ProcessNode>(process.pk!);
    expect(node.processState).toBe('waiting');
    expect(node.isSealed).toBe(false);

    const communicator = new LocalCommunicator();
    const fresh = new Runner({ storage, communicator, pollInterval: 0.05 });
    try {
      const outputs = (await fresh.continueProcess(process.pk!)) as { result: Int };
      expect(outputs.result.value).toBe(12);
    } finally {
      await fresh.close();
      await communicator.close();
    }
    const finished = await loadNode<ProcessNode>(process.pk!);
    expect(finished.isFinishedOk).toBe(true);
    expect(finished.isSealed).toBe(true);
    expect(finished.checkpoint).toBeNull();
    expect(await links(finished, 'incoming')).toEqual(await links(reference, 'incoming'));
    expect(await links(finished, 'outgoing')).toEqual(await links(reference, 'outgoing'));
    const [child] = (await finished.getCalled()).filter(
      (called) => called.processLabel === 'InnerWorkChain',
    ) as [ProcessNode];
    const [referenceChild] = (await reference.getCalled()).filter(
      (called) => called.processLabel === 'InnerWorkChain',
    ) as [ProcessNode];
    expect(await links(child, 'outgoing')).toEqual(await links(referenceChild, 'outgoing'));
  });

  it('exposes inputs and outputs of a child in a namespace and reads them back', async () => {
    const { runner } = engine();
    const { node, result } = await runner.runGetNode(OuterWorkChain, {
      inner: { x: 2, y: 2 },
      iterations: 1,
      do_extra: false,
    });
    const outputs = result as { inner: { sum: Int; doubled: Int }; total: Int };
    expect(outputs.inner.sum.value).toBe(4);
    expect(outputs.inner.doubled.value).toBe(8);
    expect(await links(node, 'outgoing')).toContain('return inner__sum');
    expect(InnerWorkChain.spec().inputs.has('x')).toBe(true);
    expect(OuterWorkChain.spec().inputs.findPort('inner.x')?.help).toBe('first operand');
  });
});
