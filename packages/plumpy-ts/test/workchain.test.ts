import { silentLogger, type Logger } from 'kiwipy-ts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ExitCode,
  InMemoryPersister,
  KilledError,
  OutlineError,
  PersistenceError,
  Process,
  ProcessState,
  ToContext,
  Wait,
  WorkChain,
  append_,
  assign_,
  if_,
  loadProcess,
  return_,
  while_,
} from '../src/index.js';
import {
  ExceptionProcess,
  checkEveryCheckpoint,
  checkRoundTrip,
  runUntilPaused,
  runUntilWaiting,
} from '../src/testing.js';

/** plumpy's `Wf`: records the steps it visits in its context and emits them at the end. */
class Wf extends WorkChain.define((spec) =>
  spec
    .input('value', { validType: z.string(), default: 'A' })
    .input('n', { validType: z.number().int(), default: 3 })
    .context<{ counter: number; visited: string[] }>()
    .output('visited', { validType: z.array(z.string()) })
    .output('counter', { validType: z.number() }),
) {
  static {
    this.outline('s1', if_('isA')('s2').elif_('isB')('s3').else_('s4'), 's5', while_('ltN')('s6'), 'results');
  }

  #visit(name: string): void {
    (this.ctx.visited ??= []).push(name);
  }

  s1(): void {
    this.#visit('s1');
  }
  s2(): void {
    this.#visit('s2');
  }
  s3(): void {
    this.#visit('s3');
  }
  s4(): void {
    this.#visit('s4');
  }
  s5(): void {
    this.ctx.counter = 0;
    this.#visit('s5');
  }
  s6(): void {
    this.ctx.counter = (this.ctx.counter ?? 0) + 1;
    this.#visit('s6');
  }
  isA(): boolean {
    this.#visit('isA');
    return this.inputs.value === 'A';
  }
  isB(): boolean {
    this.#visit('isB');
    return this.inputs.value === 'B';
  }
  ltN(): boolean {
    const keepLooping = (this.ctx.counter ?? 0) < this.inputs.n;
    if (!keepLooping) this.#visit('ltN');
    return keepLooping;
  }
  results(): void {
    this.out('visited', this.ctx.visited ?? []);
    this.out('counter', this.ctx.counter ?? -1);
  }
}

const EXPECTED = {
  A: ['s1', 'isA', 's2', 's5', 's6', 's6', 's6', 'ltN'],
  B: ['s1', 'isA', 'isB', 's3', 's5', 's6', 's6', 's6', 'ltN'],
  C: ['s1', 'isA', 'isB', 's4', 's5', 's6', 's6', 's6', 'ltN'],
};

describe('WorkChain context', () => {
  class DummyWc extends WorkChain {
    static {
      this.outline('doNothing');
    }
    doNothing(): void {}
  }

  it('supports attributes and items', () => {
    const wc = new DummyWc();
    const ctx = wc.ctx as Record<string, unknown>;
    ctx['newAttr'] = 5;
    expect(ctx['newAttr']).toBe(5);
    delete ctx['newAttr'];
    expect('newAttr' in ctx).toBe(false);
  });
});

describe('WorkChain outline', () => {
  it.each(Object.entries(EXPECTED))(
    'runs if_/elif_/else_ and while_ for value %s',
    async (value, expected) => {
      const outputs = await new Wf({ inputs: { value, n: 3 } }).execute();
      expect(outputs).toEqual({ visited: expected, counter: 3 });
    },
  );

  it.each(Object.entries(EXPECTED))(
    'continues from every checkpoint for value %s (plumpy test_checkpointing)',
    async (value, expected) => {
      const { outcome, checkpoints } = await checkEveryCheckpoint(Wf, {
        options: { inputs: { value, n: 3 } },
      });
      expect(outcome.outputs).toEqual({ visited: expected, counter: 3 });
      expect(checkpoints.map((c) => c['stepper_state']).filter(Boolean).length).toBeGreaterThan(5);
    },
  );

  it('rejects a malformed outline where the class is defined', () => {
    expect(() => {
      class Bad extends WorkChain {
        static {
          this.outline(5 as never);
        }
      }
      return Bad;
    }).toThrow(OutlineError);
    expect(() => {
      class Missing extends WorkChain {
        static {
          this.outline('noSuchStep' as never);
        }
      }
      return Missing;
    }).toThrow("the step 'noSuchStep' is not a method of Missing");
    expect(() => {
      class Binary extends WorkChain {
        static {
          this.outline(if_('step2')('work'));
        }
        work(): void {}
        step2(x: number): number {
          return x;
        }
      }
      return Binary;
    }).toThrow("the predicate 'step2' of Binary must take no arguments (it takes 1)");
    expect(() => {
      class Arrow extends WorkChain {
        static {
          this.outline(((x: unknown, y: unknown) => [x, y]) as never);
        }
      }
      return Arrow;
    }).toThrow(OutlineError);
    expect(() => if_('a')('b').else_('c').else_('d')).toThrow('only one else_');
    expect(() => if_('a')('b').else_('c').elif_('d')).toThrow('no elif_ can follow an else_');
  });

  it('refuses steps named like methods of WorkChain', () => {
    expect(() => {
      class Shadowing extends WorkChain {
        static {
          this.outline('execute' as never);
        }
      }
      return Shadowing;
    }).toThrow("'execute' is a method of WorkChain and cannot be a step or predicate of Shadowing");
  });

  it('refuses to override run or doStep', () => {
    expect(() => {
      class Overriding extends WorkChain {
        static {
          this.outline('work');
        }
        override run(): unknown {
          return undefined;
        }
        work(): void {}
      }
      return Overriding;
    }).toThrow('the method `run` is protected and cannot be overridden');
  });

  it('cannot instantiate a work chain without an outline', async () => {
    await expect(new WorkChain({ logger: silentLogger }).execute()).rejects.toThrow(
      'WorkChain has no outline',
    );
  });

  it('takes the typed DSL in the callback form', async () => {
    class Typed extends WorkChain.define((spec) =>
      spec.input('go', { validType: z.boolean() }).output('went', { validType: z.boolean() }),
    ) {
      static {
        this.outline(({ if_: when }) => [when('shouldGo')('go').else_('stay')]);
      }
      shouldGo(): boolean {
        return this.inputs.go;
      }
      go(): void {
        this.out('went', true);
      }
      stay(): void {
        this.out('went', false);
      }
    }
    expect(await new Typed({ inputs: { go: true } }).execute()).toEqual({ went: true });
    expect(await new Typed({ inputs: { go: false } }).execute()).toEqual({ went: false });
  });

  it('describes its outline in the spec', () => {
    const description = Wf.spec().getDescription() as { outline: unknown[] };
    expect(description.outline).toEqual([
      's1',
      { 'if(isA)': ['s2'], 'elif(isB)': ['s3'], else: ['s4'] },
      's5',
      { 'while(ltN)': ['s6'] },
      'results',
    ]);
    expect(typeof String(Wf.spec())).toBe('string');
  });

  it('passes the same value to two inputs (plumpy test_same_input_node)', async () => {
    class Same extends WorkChain.define((spec) =>
      spec.input('a', { validType: z.number() }).input('b', { validType: z.number() }),
    ) {
      static {
        this.outline('check');
      }
      check(): void {
        expect(this.inputs.a).toBe(this.inputs.b);
      }
    }
    const x = 1;
    await new Same({ inputs: { a: x, b: x } }).execute();
  });

  it('supports nested outputs (plumpy test_output_namespace)', async () => {
    class Nested extends WorkChain.define((spec) =>
      spec.output('x.y', { required: true, validType: z.number() }),
    ) {
      static {
        this.outline('doRun');
      }
      doRun(): void {
        this.out('x.y', 5);
      }
    }
    expect(await new Nested().execute()).toEqual({ x: { y: 5 } });
  });

  it('reports its position in the outline (plumpy test_stepper_info)', async () => {
    class Info extends WorkChain.define((spec) =>
      spec.input('N', { validType: z.number() }).context<{ doStep: number }>(),
    ) {
      static {
        this.outline(
          'checkN',
          while_('doStepp')('chill', 'chill'),
          if_('doStepp')('chill').elif_('doStepp')('chill').else_('chill'),
        );
      }
      checkN(): void {
        expect('N' in this.inputs).toBe(true);
      }
      chill(): void {}
      doStepp(): boolean {
        this.ctx.doStep = (this.ctx.doStep ?? 0) + 1;
        return this.ctx.doStep < this.inputs.N;
      }
    }
    const strings: string[] = [];
    const wf = new Info({ inputs: { N: 4 } });
    wf.addProcessListener({ onProcessRunning: (p) => strings.push((p as Info).stepperInfo) });
    await wf.execute();
    expect(strings).toEqual([
      '0:checkN',
      '1:while_(doStepp)',
      '1:while_(doStepp)(1:chill)',
      '1:while_(doStepp)',
      '1:while_(doStepp)(1:chill)',
      '1:while_(doStepp)',
      '1:while_(doStepp)(1:chill)',
      '1:while_(doStepp)',
      '2:if_(doStepp)',
    ]);
  });

  it('warns about a predicate that is not boolean-like', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_fields, message) => warnings.push(message) };
    class Odd extends WorkChain {
      static {
        this.outline(if_('truthy')('doIt'));
      }
      truthy(): boolean {
        return 'true' as unknown as boolean;
      }
      doIt(): void {}
    }
    await new Odd({ logger }).execute();
    expect(warnings).toEqual([
      'The conditional predicate `truthy` returned `true` which is not boolean-like. The return value should be `true` or `false`.',
    ]);
  });

  it('keeps the inputs immutable inside steps', async () => {
    class Immutable extends WorkChain.define((spec) =>
      spec
        .input('a', { validType: z.number() })
        .input('b', { validType: z.number() })
        .inputNamespace('subspace', { dynamic: true }),
    ) {
      static {
        this.outline('stepOne', 'stepTwo');
      }
      stepOne(): void {
        expect(() => {
          (this.inputs as Record<string, unknown>)['a'] = 3;
        }).toThrow(TypeError);
        expect(() => {
          delete (this.inputs as Record<string, unknown>)['b'];
        }).toThrow(TypeError);
        expect(() => {
          (this.inputs.subspace as Record<string, unknown>)['four'] = 4;
        }).toThrow(TypeError);
      }
      stepTwo(): void {
        expect(this.inputs).toEqual({ a: 1, b: 2, subspace: { one: 1, two: 2 } });
      }
    }
    await new Immutable({ inputs: { a: 1, b: 2, subspace: { one: 1, two: 2 } } }).execute();
  });
});

describe('return_ and return values', () => {
  class WcWithReturn extends WorkChain.define((spec) =>
    spec
      .input('success', { validType: z.boolean(), required: false })
      .exitCode(401, 'ERROR_FAILED', 'It failed'),
  ) {
    static readonly FAILED_CODE = 1;
    static {
      this.outline(
        'stepOne',
        if_('doSuccess')(return_).elif_('doFailed')(return_(this.FAILED_CODE)).else_('default'),
      );
    }
    stepOne(): void {}
    doSuccess(): boolean {
      return this.inputs.success === true;
    }
    doFailed(): boolean {
      return this.inputs.success === false;
    }
    default(): never {
      throw new Error('Should already have returned');
    }
  }

  it('ends the outline at return_ (plumpy test_return_in_outline)', async () => {
    const success = new WcWithReturn({ inputs: { success: true } });
    await success.execute();
    expect(success.result()).toBeUndefined();
    const failed = new WcWithReturn({ inputs: { success: false } });
    await failed.execute();
    expect(failed.result()).toBe(1);
    await expect(new WcWithReturn().execute()).rejects.toThrow('Should already have returned');
  });

  it('ends the outline with an ExitCode, unsuccessfully', async () => {
    class WithCode extends WorkChain.define((spec) => spec.exitCode(401, 'ERROR_FAILED', 'It failed')) {
      static {
        this.outline('first', return_(this.exitCodes.ERROR_FAILED), 'never');
      }
      first(): void {}
      never(): never {
        throw new Error('not reached');
      }
    }
    const wc = new WithCode();
    await wc.execute();
    expect(wc.state).toBe(ProcessState.FINISHED);
    expect(wc.isSuccessful).toBe(false);
    expect(wc.exitCode?.status).toBe(401);
    expect(wc.exitCode?.message).toBe('It failed');
    checkRoundTrip(wc);
  });

  it('ends the outline when a step returns a value (plumpy test_return_in_step)', async () => {
    class StepReturn extends WorkChain.define((spec) =>
      spec.input('success', { validType: z.boolean(), required: false }),
    ) {
      static {
        this.outline('stepOne', 'after');
      }
      stepOne(): unknown {
        if (this.inputs.success === undefined) return undefined;
        return this.inputs.success ? 0 : new ExitCode(1, { message: 'failed' });
      }
      after(): never {
        throw new Error('Should already have returned');
      }
    }
    const zero = new StepReturn({ inputs: { success: true } });
    await zero.execute();
    expect(zero.result()).toBe(0);
    const failed = new StepReturn({ inputs: { success: false } });
    await failed.execute();
    expect(failed.exitCode?.status).toBe(1);
    expect(failed.isSuccessful).toBe(false);
    await expect(new StepReturn().execute()).rejects.toThrow('Should already have returned');
  });
});

class ReturnA extends Process.define((spec) => spec.output('res', { validType: z.string() })) {
  override run(): void {
    this.out('res', 'a');
  }
}
class ReturnB extends Process.define((spec) => spec.output('res', { validType: z.string() })) {
  override run(): void {
    this.out('res', 'b');
  }
}

describe('toContext', () => {
  it('waits for launched processes and puts their outputs in the context (plumpy test_context)', async () => {
    class Ctx extends WorkChain.define((spec) =>
      spec.context<{ r1: { res: string }; r2: { res: string } }>(),
    ) {
      static {
        this.outline('s1', 's2', 's3');
      }
      s1(): ToContext {
        return new ToContext({ r1: this.launch(ReturnA), r2: this.launch(ReturnB) });
      }
      s2(): ToContext {
        expect(this.ctx.r1?.res).toBe('a');
        expect(this.ctx.r2?.res).toBe('b');
        return new ToContext({ r1: this.launch(ReturnB) });
      }
      s3(): void {
        expect(this.ctx.r1?.res).toBe('b');
        expect(this.ctx.r2?.res).toBe('b');
      }
    }
    await new Ctx().execute();
  });

  it('combines toContext calls and a returned ToContext (plumpy test_to_context)', async () => {
    class Both extends WorkChain.define((spec) =>
      spec
        .context<{ resultA: { res: string }; resultB: { res: string } }>()
        .output('both', { validType: z.string() }),
    ) {
      static {
        this.outline('begin', 'check');
      }
      begin(): ToContext {
        this.toContext({ resultA: this.launch(ReturnA) });
        return new ToContext({ resultB: this.launch(ReturnB) });
      }
      check(): void {
        this.out('both', `${this.ctx.resultA?.res ?? ''}${this.ctx.resultB?.res ?? ''}`);
      }
    }
    expect(await new Both().execute()).toEqual({ both: 'ab' });
  });

  it('runs a child work chain (plumpy test_tocontext_schedule_workchain)', async () => {
    class Sub extends WorkChain.define((spec) => spec.output('value', { validType: z.number() })) {
      static {
        this.outline('doRun');
      }
      doRun(): void {
        this.out('value', 5);
      }
    }
    class Main extends WorkChain.define((spec) => spec.context<{ subwc: { value: number } }>()) {
      static {
        this.outline('doRun', 'check');
      }
      doRun(): void {
        this.toContext({ subwc: this.launch(Sub) });
      }
      check(): void {
        expect(this.ctx.subwc?.value).toBe(5);
      }
    }
    await new Main().execute();
  });

  it('appends in order and assigns explicitly, from processes and Promises', async () => {
    class Collect extends WorkChain.define((spec) =>
      spec
        .context<{ all: { res: string }[]; one: number }>()
        .output('all', { validType: z.array(z.string()) })
        .output('one', { validType: z.number() }),
    ) {
      static {
        this.outline('spawn', 'check');
      }
      spawn(): void {
        this.toContext({ all: append_(this.launch(ReturnA)) });
        this.toContext({ all: append_(this.launch(ReturnB)), one: assign_(Promise.resolve(1)) });
      }
      check(): void {
        this.out(
          'all',
          (this.ctx.all ?? []).map((r) => r.res),
        );
        this.out('one', this.ctx.one ?? 0);
      }
    }
    expect(await new Collect().execute()).toEqual({ all: ['a', 'b'], one: 1 });
  });

  it('fails when an awaited process fails, with its error (plumpy test_exception_tocontext)', async () => {
    const mine = new Error('Should not be reached');
    class Failing extends WorkChain {
      static {
        this.outline('begin', 'check');
      }
      begin(): void {
        this.toContext({ resultA: this.launch(ExceptionProcess) });
      }
      check(): never {
        throw mine;
      }
    }
    const wc = new Failing();
    await expect(wc.execute()).rejects.toThrow('Great scott!');
    expect(wc.exception()).not.toBe(mine);
    expect(wc.isExcepted).toBe(true);
  });

  it('kills the processes it waits for when killed', async () => {
    class Sleeper extends Process {
      override run(): Wait {
        return new Wait('done');
      }
      done(): void {}
    }
    class Parent extends WorkChain {
      child?: Process;
      static {
        this.outline('spawn', 'after');
      }
      spawn(): void {
        this.child = this.launch(Sleeper);
        this.toContext({ c: this.child });
      }
      after(): void {}
    }
    const parent = new Parent();
    const loop = parent.stepUntilTerminated();
    await runUntilWaiting(parent);
    expect(parent.kill('stop all')).toBe(true);
    await loop;
    expect(parent.killed()).toBe(true);
    await expect(parent.child?.future()).rejects.toThrow(KilledError);
    expect(parent.child?.killed()).toBe(true);
  });

  it('reloaded while waiting, re-attaches to a child still running here', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class SlowChild extends Process.define((spec) => spec.output('res', { validType: z.string() })) {
      override async run(): Promise<void> {
        await gate;
        this.out('res', 'slow');
      }
    }
    class Parent extends WorkChain.define((spec) =>
      spec.context<{ c: { res: string } }>().output('res', { validType: z.string() }),
    ) {
      static {
        this.outline('spawn', 'after');
      }
      spawn(): void {
        this.toContext({ c: this.launch(SlowChild) });
      }
      after(): void {
        this.out('res', this.ctx.c?.res ?? 'none');
      }
    }
    const original = new Parent();
    const loop = original.stepUntilTerminated();
    await runUntilWaiting(original);
    const checkpoint = original.save();
    expect(checkpoint['state']).toMatchObject({
      label: 'waiting',
      awaiting: [{ key: 'c', action: 'assign', target: 'process' }],
    });
    const loaded = loadProcess(checkpoint, { logger: silentLogger });
    const result = loaded.execute();
    release();
    expect(await result).toEqual({ res: 'slow' });
    await loop;
  });

  it('reloaded while waiting for a child that is gone, fails with a PersistenceError', async () => {
    class Parent extends WorkChain {
      static {
        this.outline('spawn', 'after');
      }
      spawn(): void {
        this.toContext({ c: new Promise(() => undefined) });
      }
      after(): void {}
    }
    const original = new Parent();
    const loop = original.stepUntilTerminated();
    await runUntilWaiting(original);
    const checkpoint = original.save();
    original.kill();
    await loop;
    const loaded = loadProcess(checkpoint);
    await expect(loaded.execute()).rejects.toThrow(PersistenceError);
    const lost = JSON.parse(
      JSON.stringify(checkpoint)
        .replace('"target":"promise"', '"target":"process"')
        .replace('"pid":null', '"pid":"gone"'),
    ) as typeof checkpoint;
    await expect(loadProcess(lost).execute()).rejects.toThrow(
      'the awaited process gone is not running in this JS process',
    );
  });
});

describe('persistence of the outline position', () => {
  class IfTest extends WorkChain.define((spec) => spec.context<{ s1: boolean; s2: boolean }>()) {
    static {
      this.outline(if_('condition')('step1', 'step2'));
    }
    protected override onCreate(): void {
      void super.onCreate();
      this.ctx.s1 = false;
      this.ctx.s2 = false;
    }
    condition(): boolean {
      return true;
    }
    step1(): void {
      this.ctx.s1 = true;
      this.pause();
    }
    step2(): void {
      this.ctx.s2 = true;
    }
  }

  it('saves and reloads inside an if_ block (plumpy test_if_block_persistence)', async () => {
    const wc = new IfTest();
    const loop = wc.stepUntilTerminated();
    await runUntilPaused(wc);
    expect(wc.ctx).toEqual({ s1: true, s2: false });
    const checkpoint = wc.save();
    const loaded = loadProcess(checkpoint) as IfTest;
    expect(loaded.ctx).toEqual({ s1: true, s2: false });
    expect(loaded.save()).toEqual(checkpoint);
    wc.play();
    await loop;
    expect(wc.ctx).toEqual({ s1: true, s2: true });
    loaded.play();
    await loaded.stepUntilTerminated();
    expect(loaded.ctx).toEqual({ s1: true, s2: true });
  });

  it('continues at the same step when reloaded from a tagged checkpoint taken in a step', async () => {
    const persister = new InMemoryPersister();
    const ran: string[] = [];
    class Simple extends WorkChain {
      static {
        this.outline('step1', 'step2');
      }
      async step1(): Promise<void> {
        ran.push('step1');
        await persister.saveCheckpoint(this, 'step1');
      }
      step2(): void {
        ran.push('step2');
      }
    }
    const wc = new Simple();
    await wc.execute();
    expect(ran).toEqual(['step1', 'step2']);
    const loaded = loadProcess(await persister.loadCheckpoint(wc.pid, 'step1'));
    await loaded.execute();
    // The checkpoint was taken as step1 began, before the stepper moved on: step1 runs again (as plumpy).
    expect(ran).toEqual(['step1', 'step2', 'step1', 'step2']);
  });

  it('refuses a stepper state that does not fit the outline', () => {
    const wc = new IfTest();
    const checkpoint = wc.save();
    expect(() => loadProcess({ ...checkpoint, stepper_state: { _pos: 7 } })).toThrow('stepper_state');
    expect(() =>
      loadProcess({
        ...checkpoint,
        stepper_state: {
          _pos: 0,
          stepper_state: { _pos: 0, stepper_state: { _pos: 0, stepper_state: { _fn: 'other' } } },
        },
      }),
    ).toThrow(PersistenceError);
  });
});

describe('waiting across a pause', () => {
  it('keeps a child result that arrives right as the work chain is paused', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class Child extends Process.define((spec) => spec.output('v', { validType: z.number() })) {
      override async run(): Promise<void> {
        await gate;
        this.out('v', 7);
      }
    }
    class Parent extends WorkChain.define((spec) =>
      spec.context<{ c: { v: number } }>().output('v', { validType: z.number() }),
    ) {
      static {
        this.outline('spawn', 'after');
      }
      spawn(): void {
        this.toContext({ c: this.launch(Child) });
      }
      after(): void {
        this.out('v', this.ctx.c?.v ?? -1);
      }
    }
    const parent = new Parent();
    const loop = parent.stepUntilTerminated();
    await runUntilWaiting(parent);
    // Release the child and pause in the same tick: the child's result lands between the two.
    release();
    const paused = parent.pause();
    expect(await paused).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(parent.ctx.c?.v).toBe(7);
    parent.play();
    await loop;
    expect(parent.outputs).toEqual({ v: 7 });
  });

  it('takes a resume that arrives while paused and a pause that interrupts the wait', async () => {
    class Resumable extends Process {
      override run(): Wait {
        return new Wait('done');
      }
      done(): void {}
    }
    const process = new Resumable();
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    const pausing = process.pause();
    process.resume();
    expect(await pausing).toBe(true);
    process.play();
    await loop;
    expect(process.state).toBe(ProcessState.FINISHED);
  });
});

describe('continuesAfter', () => {
  it('lets a subclass decide which step results end the outline (aiida: exit status 0 goes on)', async () => {
    class AiidaLike extends WorkChain.define((spec) =>
      spec.input('fail', { validType: z.boolean() }).output('reached', { validType: z.boolean() }),
    ) {
      static {
        this.outline('first', 'second');
      }
      protected override continuesAfter(value: unknown): boolean {
        return (
          super.continuesAfter(value) || value === 0 || (value instanceof ExitCode && value.status === 0)
        );
      }
      first(): unknown {
        return this.inputs.fail ? new ExitCode(300, { message: 'failed' }) : 0;
      }
      second(): void {
        this.out('reached', true);
      }
    }
    const ok = new AiidaLike({ inputs: { fail: false } });
    expect(await ok.execute()).toEqual({ reached: true });
    const failing = new AiidaLike({ inputs: { fail: true } });
    await failing.execute();
    expect(failing.exitCode?.status).toBe(300);
    expect(failing.outputs).toEqual({});
  });
});
