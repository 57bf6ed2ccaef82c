import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Process, ProcessState, WorkChain, if_, while_ } from '../src/index.js';
import { DummyProcess, DummyProcessWithOutput, ThreeSteps, WaitForSignalProcess } from '../src/testing.js';

describe('smoke', () => {
  it('runs a dummy', async () => {
    const p = new DummyProcess();
    expect(await p.execute()).toEqual({});
    expect(p.state).toBe(ProcessState.FINISHED);
  });
  it('runs with output', async () => {
    const p = new DummyProcessWithOutput();
    expect(await p.execute()).toEqual({ default: 5 });
  });
  it('three steps', async () => {
    const p = new ThreeSteps();
    expect(await p.execute()).toEqual({ test: 5 });
  });
  it('wait', async () => {
    const p = new WaitForSignalProcess();
    p.addProcessListener({ onProcessWaiting: (proc) => proc.resume() });
    await p.execute();
    expect(p.state).toBe('finished');
  });
  it('typed', async () => {
    class Add extends Process.define((spec) =>
      spec.input('x', { valueType: z.number() }).input('y', { valueType: z.number(), default: 1 }).output('sum', { valueType: z.number() }),
    ) {
      override run(): void {
        this.out('sum', this.inputs.x + this.inputs.y);
      }
    }
    const out = await new Add({ inputs: { x: 2 } }).execute();
    expect(out.sum).toBe(3);
  });
  it('workchain', async () => {
    class Wf extends WorkChain.define((spec) => spec.input('n', { valueType: z.number(), default: 3 }).context<{ count: number }>().output('count', { valueType: z.number() })) {
      static {
        this.outline('setup', while_('more')('inc'), if_('done')('finish'));
      }
      setup(): void {
        this.ctx.count = 0;
      }
      more(): boolean {
        return (this.ctx.count ?? 0) < this.inputs.n;
      }
      inc(): void {
        this.ctx.count = (this.ctx.count ?? 0) + 1;
      }
      done(): boolean {
        return true;
      }
      finish(): void {
        this.out('count', this.ctx.count ?? -1);
      }
    }
    expect(await new Wf().execute()).toEqual({ count: 3 });
  });
});
