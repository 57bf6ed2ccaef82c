import { writeFileSync } from 'node:fs';
import type { HookResult } from 'plumpy-ts';
import { z } from 'zod';
import { calcfunction, nodeType, nonDb, ToContext, WorkChain } from '../../src/engine.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { WorkChainNode } from '../../src/orm/nodes/process/process.js';

/** The daemon tests' processes: imported by the in-process workers and by the worker scripts. */
export const addOne = calcfunction({ inputs: { x: Int }, outputs: Int, args: ['x'] }, function addOne({ x }) {
  return new Int(x.value + 1);
});

export const double = calcfunction({ inputs: { x: Int }, outputs: Int, args: ['x'] }, function double({ x }) {
  return new Int(x.value * 2);
});

/** Two calcfunctions in two steps (the benchmark's work chain). */
export class TwoSteps extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) })
    .context<{ y: Int }>(),
) {
  static {
    this.outline('first', 'second');
  }

  async first(): Promise<void> {
    this.ctx.y = await addOne(this.inputs.x);
  }

  async second(): Promise<void> {
    this.out('result', await double(this.ctx.y!));
  }
}

/** Submits a `TwoSteps` child and returns its result (+1 from a calcfunction). */
export class Parent extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) })
    .context<{ child: WorkChainNode }>(),
) {
  static {
    this.outline('start', 'collect');
  }

  async start(): Promise<ToContext> {
    return new ToContext({ child: await this.submit(TwoSteps, { x: this.inputs.x }) });
  }

  async collect(): Promise<void> {
    const links = await this.ctx.child!.base.links.getOutgoing({ linkType: 'return' });
    const result = links.getNodeByLabel('result');
    if (!(result instanceof Int)) throw new TypeError('the child has no result');
    this.out('result', await addOne(result));
  }
}

/** Sleeps `ms` in its only step (slow steps for the lease and broker tests). */
export class Sleeper extends WorkChain.define((spec) =>
  spec
    .input('ms', { validType: nonDb(z.number()) })
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) }),
) {
  static {
    this.outline('sleep');
  }

  async sleep(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.inputs.ms));
    this.out('result', await addOne(this.inputs.x));
  }
}

interface Gate {
  /** Settles when the test opens the gate. */
  readonly promise: Promise<void>;
  open: () => void;
  /** Settles when a step has arrived at the gate (see {@link arriveAt}). */
  readonly reached: Promise<void>;
  arrive: () => void;
}

const gates = new Map<string, Gate>();

/** A gate steps wait on until the test opens it (in-process workers only). */
export function gate(name: string): Gate {
  let entry = gates.get(name);
  if (entry === undefined) {
    let open!: () => void;
    let arrive!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    const reached = new Promise<void>((resolve) => {
      arrive = resolve;
    });
    entry = { promise, open, reached, arrive };
    gates.set(name, entry);
  }
  return entry;
}

/** Says that a step has arrived at gate `name`, then waits there until the test opens it. */
export function arriveAt(name: string): Promise<void> {
  const entry = gate(name);
  entry.arrive();
  return entry.promise;
}

/** Waits at its gate in its first step, then returns x + 1 in the second. */
export class Gated extends WorkChain.define((spec) =>
  spec
    .input('gate', { validType: nonDb(z.string()) })
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) }),
) {
  static {
    this.outline('hold', 'after');
  }

  async hold(): Promise<void> {
    await arriveAt(this.inputs.gate);
  }

  async after(): Promise<void> {
    this.out('result', await addOne(this.inputs.x));
  }
}

/** Submits a `Gated` child and waits for it. */
export class GatedParent extends WorkChain.define((spec) =>
  spec
    .input('gate', { validType: nonDb(z.string()) })
    .input('x', { validType: nodeType(Int) })
    .context<{ child: WorkChainNode }>(),
) {
  static {
    this.outline('start', 'end');
  }

  async start(): Promise<ToContext> {
    return new ToContext({ child: await this.submit(Gated, { gate: this.inputs.gate, x: this.inputs.x }) });
  }

  end(): void {
    this.report('the child is done');
  }
}

/** The environment variable naming a file: a worker that has it set hangs in `Interrupted`'s first step. */
export const HANG_ENV = 'AIIDA_TS_DAEMON_HANG';

/**
 * Submits a `TwoSteps` child and calls `addOne` in its first step; in a worker started with {@link HANG_ENV} it then
 * waits for the child to end, writes its pk to that file and hangs there (the test SIGKILLs that worker in the middle of the step). The second
 * step returns the child's result plus the calcfunction's.
 */
export class Interrupted extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) })
    .context<{ child: WorkChainNode; y: Int }>(),
) {
  static {
    this.outline('start', 'collect');
  }

  async start(): Promise<ToContext> {
    const child = await this.submit(TwoSteps, { x: this.inputs.x });
    this.ctx.y = await addOne(this.inputs.x);
    const hang = process.env[HANG_ENV];
    if (hang !== undefined) {
      // the child ends first (a calcfunction cut off in the middle is excepted and made again: not this test)
      await this.runner.getProcessFuture(child.node.pk!);
      writeFileSync(hang, String(this.node.pk));
      await new Promise(() => undefined);
    }
    return new ToContext({ child });
  }

  async collect(): Promise<void> {
    const links = await this.ctx.child!.base.links.getOutgoing({ linkType: 'return' });
    const result = links.getNodeByLabel('result');
    if (!(result instanceof Int)) throw new TypeError('the child has no result');
    this.out('result', await addOne(new Int(result.value + this.ctx.y!.value)));
  }
}

/**
 * Returns `addOne(x)` in its only step; in a worker started with {@link HANG_ENV} it hangs as it finishes, after the
 * `return` link of its output is stored and before its end is (the worker is SIGKILLed there): the step replayed
 * elsewhere from the last checkpoint must not link the output a second time.
 */
export class LinkedThenLost extends WorkChain.define((spec) =>
  spec.input('x', { validType: nodeType(Int) }).output('result', { validType: nodeType(Int) }),
) {
  static {
    this.outline('finish');
  }

  async finish(): Promise<void> {
    this.out('result', await addOne(this.inputs.x));
  }

  protected override onFinish(result: unknown, successful: boolean): HookResult {
    const hook = super.onFinish(result, successful);
    const hang = process.env[HANG_ENV];
    if (hang === undefined) return hook;
    writeFileSync(hang, String(this.node.pk));
    return new Promise(() => undefined);
  }
}

/**
 * Waits at its gate in its first step, then (still in that step) reports, calls `addOne` and submits a `TwoSteps`
 * child: every kind of write a step makes, for the test of a lease lost while the step waits. Returns
 * `addOne(x)` + the child's result.
 */
export class GatedWrites extends WorkChain.define((spec) =>
  spec
    .input('gate', { validType: nonDb(z.string()) })
    .input('x', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) })
    .context<{ y: Int; child: WorkChainNode }>(),
) {
  static {
    this.outline('hold', 'collect');
  }

  async hold(): Promise<ToContext> {
    await arriveAt(this.inputs.gate);
    this.report('past the gate');
    this.ctx.y = await addOne(this.inputs.x);
    return new ToContext({ child: await this.submit(TwoSteps, { x: this.inputs.x }) });
  }

  async collect(): Promise<void> {
    const links = await this.ctx.child!.base.links.getOutgoing({ linkType: 'return' });
    const result = links.getNodeByLabel('result');
    if (!(result instanceof Int)) throw new TypeError('the child has no result');
    this.out('result', await addOne(new Int(result.value + this.ctx.y!.value)));
  }
}
