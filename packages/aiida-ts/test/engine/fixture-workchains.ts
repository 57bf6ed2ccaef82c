import {
  append_,
  calcfunction,
  type ExitCode,
  if_,
  nodeType,
  nonDb,
  type ProcessNodeOf,
  while_,
  WorkChain,
} from 'aiida-ts/engine';
import { Bool, Int } from 'aiida-ts/orm';
import { z } from 'zod';

/** The processes of aiida-core's `workchains` fixture archive (`fixture_defs.py`), written for aiida-ts. */
export const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);

export const multiply = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function multiply({ x, y }) {
    return new Int(x.value * y.value);
  },
);

/** Add two integers; fail with exit code 400 if the sum is negative. */
export class InnerWorkChain extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int), help: 'first operand' })
    .input('y', { validType: nodeType(Int), help: 'second operand' })
    .output('sum', { validType: nodeType(Int), help: 'x + y' })
    .output('doubled', { validType: nodeType(Int), required: false, help: '2 * (x + y)' })
    .exitCode(400, 'ERROR_NEGATIVE_SUM', 'the sum {value} is negative')
    .context<{ sum: Int }>(),
) {
  static {
    this.outline('compute', 'finalize');
  }

  async compute(): Promise<void> {
    this.report(`computing ${this.inputs.x.value} + ${this.inputs.y.value}`);
    this.ctx.sum = await add(this.inputs.x, this.inputs.y);
  }

  async finalize(): Promise<ExitCode | undefined> {
    const sum = this.ctx.sum;
    if (sum === undefined) return undefined;
    if (sum.value < 0) {
      this.report('negative sum, aborting');
      return InnerWorkChain.exitCodes.ERROR_NEGATIVE_SUM.format({ value: sum.value });
    }
    this.out('sum', sum);
    this.out('doubled', await multiply(sum, new Int(2)));
    return undefined;
  }
}

/** Run `InnerWorkChain` in a while_ loop, then an if_/else_ branch, exposing inner inputs and outputs. */
export class OuterWorkChain extends WorkChain.define((spec) =>
  spec
    .exposeInputs(InnerWorkChain, { namespace: 'inner' })
    .input('iterations', { validType: nodeType(Int), default: () => new Int(2) })
    .input('do_extra', { validType: nodeType(Bool), default: () => new Bool(true) })
    .input('label_prefix', { validType: nonDb(z.string()), required: false })
    .exposeOutputs(InnerWorkChain, { namespace: 'inner' })
    .output('total', { validType: nodeType(Int) })
    .output('extra', { validType: nodeType(Int), required: false })
    .exitCode(410, 'ERROR_INNER_FAILED', 'the inner workchain failed with exit status {status}')
    .context(() => ({
      iteration: 0,
      total: new Int(0),
      children: new Array<ProcessNodeOf<typeof InnerWorkChain>>(),
    }))
    .context<{ extra: Int }>(),
) {
  static {
    this.outline(
      'setup',
      while_('shouldContinue')('runInner', 'inspectInner'),
      if_('shouldDoExtra')('extraStep').else_('skipExtra'),
      'finalize',
    );
  }

  setup(): void {
    this.report('starting outer workchain');
  }

  shouldContinue(): boolean {
    return this.ctx.iteration < this.inputs.iterations.value;
  }

  async runInner(): Promise<void> {
    this.ctx.iteration += 1;
    const inputs = this.exposedInputs(InnerWorkChain, 'inner');
    const child = await this.submit(InnerWorkChain, {
      ...inputs,
      metadata: { call_link_label: `inner_iteration_${this.ctx.iteration}` },
    });
    this.report(`launched InnerWorkChain<${String(child.pk)}> for iteration ${this.ctx.iteration}`);
    this.toContext({ children: append_(child) });
  }

  async inspectInner(): Promise<ExitCode | undefined> {
    const child = this.ctx.children.at(-1);
    if (child === undefined) return undefined;
    if (!child.isFinishedOk) {
      this.report(`InnerWorkChain<${String(child.pk)}> failed with exit status ${String(child.exitStatus)}`);
      return OuterWorkChain.exitCodes.ERROR_INNER_FAILED.format({ status: child.exitStatus });
    }
    this.ctx.total = await add(this.ctx.total, await child.outputs.sum);
    return undefined;
  }

  shouldDoExtra(): boolean {
    return this.inputs.do_extra.value;
  }

  async extraStep(): Promise<void> {
    this.ctx.extra = await multiply(this.ctx.total, new Int(10));
    this.out('extra', this.ctx.extra);
  }

  skipExtra(): void {
    this.report('skipping the extra step');
  }

  async finalize(): Promise<void> {
    const last = this.ctx.children.at(-1);
    if (last !== undefined)
      this.outMany(await this.exposedOutputs(last, InnerWorkChain, { namespace: 'inner' }));
    this.out('total', this.ctx.total);
    this.report(`done after ${this.ctx.iteration} iterations, total=${this.ctx.total.value}`);
  }
}
