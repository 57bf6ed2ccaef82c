import { LocalCommunicator, silentLogger, type BroadcastMessage, type Logger } from 'kiwipy-ts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CancellableAction,
  ClosedError,
  Continue,
  InvalidStateError,
  KilledError,
  MissingSuperCallError,
  Process,
  ProcessState,
  UnsuccessfulResult,
  Wait,
  ValidationError,
  type KillMessage,
  type ProcessStateObject,
} from '../src/index.js';
import {
  DummyProcess,
  DummyProcessWithOutput,
  EventRecorder,
  ExceptionProcess,
  KillProcess,
  MissingOutputProcess,
  TEST_PROCESSES,
  WaitForSignalProcess,
  runUntilWaiting,
} from '../src/testing.js';

const quiet = { logger: silentLogger };

describe('Process definition and inputs', () => {
  it('gives each class its own spec', () => {
    const process = new DummyProcess();
    expect(DummyProcess.spec()).not.toBe(Process.spec());
    expect(process.spec()).toBe(DummyProcess.spec());
    class Proc extends DummyProcess {}
    expect(Proc.spec()).not.toBe(Process.spec());
    expect(Proc.spec()).not.toBe(DummyProcess.spec());
    expect(new Proc().spec()).toBe(Proc.spec());
  });

  it('rejects inputs a non-dynamic namespace does not have, before the process exists', async () => {
    class NoDynamic extends Process {}
    class WithDynamic extends Process.define((spec) => spec.configureInputs({ dynamic: true })) {}
    expect(() => new NoDynamic({ inputs: { a: 5 } })).toThrow(ValidationError);
    await new WithDynamic({ inputs: { a: 5 } }).execute();
  });

  it('lists every failing input path in one ValidationError', () => {
    class Strict extends Process.define((spec) =>
      spec
        .input('a', { validType: z.number() })
        .input('b', { validType: z.string() })
        .input('n.c', { validType: z.boolean() }),
    ) {}
    let error: unknown;
    try {
      new Strict({ inputs: { a: 'x', b: 1, n: {} } } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual([
      'inputs.a',
      'inputs.b',
      'inputs.n.c',
    ]);
    expect((error as Error).message).toContain('inputs.n.c');
  });

  it('keeps the raw inputs, unmodified and without defaults', () => {
    class Proc extends Process.define((spec) =>
      spec.input('a').input('nested.a').input('nested.b', { default: 'default-value' }),
    ) {}
    const inputs = { a: 5, nested: { a: 'value' } };
    const process = new Proc({ inputs });
    expect(process.rawInputs).toEqual({ a: 5, nested: { a: 'value' } });
    expect((process.rawInputs as Record<string, unknown>)['b']).toBeUndefined();
    expect(inputs).toEqual({ a: 5, nested: { a: 'value' } });
    expect(process.inputs).toEqual({ a: 5, nested: { a: 'value', b: 'default-value' } });
  });

  it('fills in defaults, also ones that are falsy', () => {
    class Proc extends Process.define((spec) => spec.input('input', { default: 5, required: false })) {}
    expect(new Proc({ inputs: { input: 2 } }).inputs.input).toBe(2);
    expect(new Proc().inputs.input).toBe(5);
    for (const value of [true, false, 0, 1]) {
      class Falsy extends Process.define((spec) => spec.input('input', { default: value })) {}
      const process = new Falsy();
      expect('input' in process.inputs).toBe(true);
      expect(process.inputs.input).toBe(value);
    }
  });

  it('leaves out an optional namespace that was not given', () => {
    class SomeProcess extends Process.define((spec) =>
      spec.inputNamespace('namespace', { required: false, validType: z.number(), dynamic: true }),
    ) {}
    const given = new SomeProcess({ inputs: { namespace: { a: 1 } } });
    expect(given.inputs.namespace?.['a']).toBe(1);
    expect('namespace' in new SomeProcess().inputs).toBe(false);
    expect('namespace' in new SomeProcess({ inputs: { namespace: {} } }).inputs).toBe(true);

    class SomeDefaultProcess extends Process.define((spec) =>
      spec
        .inputNamespace('namespace', { required: false, validType: z.number(), dynamic: true })
        .input('namespace.b', { default: 5 }),
    ) {}
    expect(new SomeDefaultProcess().inputs.namespace?.b).toBe(5);
  });

  it('fills in defaults of nested namespaces that were not given', () => {
    class SomeProcess extends Process.define((spec) =>
      spec.inputNamespace('namespace', { required: false }).input('namespace.sub', { default: true }),
    ) {}
    expect(new SomeProcess().inputs.namespace?.sub).toBe(true);
  });

  it('fails where the class is defined if its definition throws', () => {
    const define = (): unknown =>
      class Broken extends Process.define((_spec): typeof _spec => {
        throw new Error('broken define');
      }) {};
    expect(define).toThrow('broken define');
    expect(define).toThrow('broken define');
  });

  it('freezes the inputs', () => {
    class Proc extends Process.define((spec) => spec.input('a').inputNamespace('sub', { dynamic: true })) {}
    const process = new Proc({ inputs: { a: 1, sub: { one: 1 } } });
    expect(() => {
      (process.inputs as Record<string, unknown>)['a'] = 3;
    }).toThrow(TypeError);
    expect(() => {
      (process.inputs.sub as Record<string, unknown>)['two'] = 2;
    }).toThrow(TypeError);
    expect(process.inputs.a).toBe(1);
  });

  it('builds nested frozen input namespaces', () => {
    class NameSpaced extends Process.define((spec) =>
      spec
        .input('some.name.space.a', { validType: z.number() })
        .input('test', { validType: z.number(), default: 6 })
        .input('label', { validType: z.string(), required: false })
        .input('store_provenance', { validType: z.boolean(), default: true }),
    ) {}
    const process = new NameSpaced({ inputs: { some: { name: { space: { a: 5 } } } } });
    expect(process.inputs.some.name.space.a).toBe(5);
    expect(Object.isFrozen(process.inputs.some.name)).toBe(true);
    expect(process.inputs.test).toBe(6);
    expect(process.inputs.store_provenance).toBe(true);
    expect('label' in process.inputs).toBe(false);
  });

  it('accepts any names in a dynamic nested namespace', () => {
    class Dynamic extends Process.define((spec) =>
      spec.inputNamespace('name.space', { dynamic: true, validType: z.number() }),
    ) {}
    const process = new Dynamic({ inputs: { name: { space: { '1': 1, '2': 2, '3': 3 } } } });
    expect(process.inputs.name.space).toEqual({ '1': 1, '2': 2, '3': 3 });
  });

  it('describes itself', () => {
    class WithSpec extends Process.define((spec) => spec.input('a', { default: 1 })) {
      static readonly description = 'Process with a spec and a docstring';
    }
    class WithoutSpec extends Process {}
    for (const cls of TEST_PROCESSES) expect(typeof cls.getDescription()).toBe('object');
    expect('description' in WithoutSpec.getDescription()).toBe(false);
    expect(WithoutSpec.getDescription()['spec']).toBeTypeOf('object');
    expect(WithSpec.getDescription()['description']).toBe('Process with a spec and a docstring');
  });
});

describe('Process execution', () => {
  it('executes to the outputs', async () => {
    const process = new DummyProcessWithOutput();
    expect(await process.execute()).toEqual({ default: 5 });
    expect(process.hasTerminated()).toBe(true);
    expect(process.state).toBe(ProcessState.FINISHED);
    expect(process.outputs).toEqual({ default: 5 });
  });

  it('assigns pids: a UUID by default, or the one given', () => {
    expect(new DummyProcessWithOutput().pid).toMatch(/^[0-9a-f-]{36}$/);
    expect(new DummyProcessWithOutput({ pid: 5 }).pid).toBe(5);
    expect(new DummyProcessWithOutput({ pid: 'a' }).pid).toBe('a');
    const process = new DummyProcess();
    expect(process.uuid).toBe(process.pid);
    expect(process.creationTime).toBeCloseTo(Date.now() / 1000, 0);
  });

  it('moves to excepted on an error in a step, keeping the error and its stack', async () => {
    const process = new ExceptionProcess();
    await expect(process.execute()).rejects.toThrow('Great scott!');
    expect(process.state).toBe(ProcessState.EXCEPTED);
    const error = process.exception() as Error;
    expect(error.message).toBe('Great scott!');
    expect(error.stack).toContain('ExceptionProcess.run');
    expect(() => process.result()).toThrow('Great scott!');
    expect(String(process.stateObject)).toBe('excepted (Error: Great scott!)');
  });

  it('gives the exception raised to the caller', async () => {
    const process = new ExceptionProcess();
    const error = await process.execute().catch((e: unknown) => e);
    expect(process.exception()).toBe(error);
  });

  it('is killed by a Kill command, with or without force', async () => {
    for (const forceKill of [false, true]) {
      const process = new KillProcess({ inputs: { forceKill } });
      await expect(process.execute()).rejects.toThrow(KilledError);
      await expect(new KillProcess({ inputs: { forceKill } }).execute()).rejects.toThrow('killed');
      expect(process.killedMsg()).toEqual({ intent: 'kill', message: 'killed', force_kill: forceKill });
    }
  });

  it('waits until resumed, then continues', async () => {
    const process = new WaitForSignalProcess();
    process.addProcessListener({ onProcessWaiting: (p) => p.resume() });
    await process.execute();
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('passes the resume value to the continuation', async () => {
    class Resumable extends Process.define((spec) => spec.output('value')) {
      override run(): Wait {
        return new Wait('finish', { msg: 'give me a value' });
      }
      finish(value: unknown): void {
        this.out('value', value);
      }
    }
    const process = new Resumable();
    process.addProcessListener({
      onProcessWaiting: (p) => {
        expect(String(p.stateObject)).toBe('waiting (give me a value)');
        p.resume(42);
      },
    });
    expect(await process.execute()).toEqual({ value: 42 });
  });

  it('refuses resume outside waiting', () => {
    expect(() => new DummyProcess().resume()).toThrow('resume is invalid');
  });

  it('records an unsuccessful result', async () => {
    class Proc extends Process {
      override run(): UnsuccessfulResult {
        return new UnsuccessfulResult(256);
      }
    }
    const process = new Proc();
    await process.execute();
    expect(process.result()).toBe(256);
    expect(process.isSuccessful).toBe(false);
  });

  it('rejects outputs it has no port for, and goes to excepted', async () => {
    class InvalidOutput extends Process {
      override run(): void {
        this.writeOutput('invalid', 5);
      }
    }
    const process = new InvalidOutput();
    await expect(process.execute()).rejects.toThrow(ValidationError);
    expect(process.isExcepted).toBe(true);
  });

  it('rejects outputs of the wrong type', async () => {
    class WrongType extends Process.define((spec) => spec.output('n', { validType: z.number() })) {
      override run(): void {
        this.writeOutput('n', 'five');
      }
    }
    await expect(new WrongType().execute()).rejects.toThrow("output 'n'");
  });

  it('finishes unsuccessfully without a required output', async () => {
    const process = new MissingOutputProcess(quiet);
    expect(() => process.successful()).toThrow(InvalidStateError);
    await process.execute();
    expect(process.state).toBe(ProcessState.FINISHED);
    expect(process.isSuccessful).toBe(false);
  });

  it('validates nested and dynamic output namespaces (plumpy test_namespaced_process_outputs)', async () => {
    const modes = ['none', 'dynamic', 'single', 'both'] as const;
    class Outputs extends Process.define((spec) =>
      spec
        .input('mode', { validType: z.enum(modes), default: 'none' })
        .output('required_bool', { validType: z.boolean() })
        .outputNamespace('integer', { validType: z.number().int(), dynamic: true }),
    ) {
      override run(): void {
        const mode = this.inputs.mode;
        if (mode === 'dynamic' || mode === 'both') {
          this.out('integer.nested.one', 1);
          this.out('integer.nested.two', 2);
        }
        if (mode === 'single' || mode === 'both') this.out('required_bool', false);
      }
    }
    const none = new Outputs(quiet);
    await none.execute();
    expect(none.isSuccessful).toBe(false);
    expect(none.outputs).toEqual({});
    const dynamic = new Outputs({ ...quiet, inputs: { mode: 'dynamic' } });
    await dynamic.execute();
    expect(dynamic.isSuccessful).toBe(false);
    expect(dynamic.outputs).toEqual({ integer: { nested: { one: 1, two: 2 } } });
    const single = new Outputs({ inputs: { mode: 'single' } });
    await single.execute();
    expect(single.isSuccessful).toBe(true);
    const both = new Outputs({ inputs: { mode: 'both' } });
    expect(await both.execute()).toEqual({ required_bool: false, integer: { nested: { one: 1, two: 2 } } });
    expect(both.isSuccessful).toBe(true);
  });

  it('runs several processes concurrently', async () => {
    const processes = TEST_PROCESSES.map((cls) => new cls());
    const results = await Promise.all(processes.map((p) => p.execute()));
    results.forEach((result, i) => expect(result).toEqual(TEST_PROCESSES[i]?.EXPECTED_OUTPUTS));
  });

  it('cannot be executed twice', async () => {
    const process = new DummyProcess();
    await process.execute();
    await expect(process.execute()).rejects.toThrow(ClosedError);
    expect(() => process.addCleanup(() => undefined)).toThrow(ClosedError);
  });

  it('fails when an entered hook throws', async () => {
    class Raising extends Process {
      protected override onEntered(fromState: ProcessStateObject | undefined): void {
        if (fromState?.label === ProcessState.RUNNING) throw new Error('exception during on_entered');
        super.onEntered(fromState);
      }
    }
    const process = new Raising();
    await expect(process.execute()).rejects.toThrow('exception during on_entered');
    expect(process.isSuccessful).toBe(false);
    expect(process.isExcepted).toBe(true);
    expect((process.exception() as Error).message).toBe('exception during on_entered');
  });

  it('fails when run throws', async () => {
    class Raising extends Process {
      override run(): never {
        throw new Error('exception during run');
      }
    }
    const process = new Raising();
    await expect(process.execute()).rejects.toThrow('exception during run');
    expect((process.exception() as Error).message).toBe('exception during run');
  });

  it('fails when a callSoon callback throws', async () => {
    class CallSoon extends Process {
      override run(): Continue {
        this.callSoon(() => {
          throw new Error('Breaking yo!');
        });
        return new Continue('later');
      }
      async later(): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const process = new CallSoon();
    await expect(process.execute()).rejects.toThrow('Breaking yo!');
    expect(process.isExcepted).toBe(true);
  });

  it('awaits asynchronous steps', async () => {
    class Slow extends Process.define((spec) => spec.output('x', { validType: z.number() })) {
      override async run(): Promise<Continue> {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return new Continue('second', 7);
      }
      async second(value: number): Promise<void> {
        await Promise.resolve();
        this.out('x', value);
      }
    }
    expect(await new Slow().execute()).toEqual({ x: 7 });
  });

  it('rejects a continuation that is not a method', async () => {
    class Bad extends Process {
      override run(): Continue {
        return new Continue(() => undefined);
      }
    }
    await expect(new Bad().execute()).rejects.toThrow('a step must be a method of the process');
  });

  it('logs reports through its logger', async () => {
    const lines: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      info: (fields, message) => lines.push(`${String((fields as { pid?: unknown }).pid)} ${message}`),
    };
    class Reporter extends Process {
      override run(): void {
        this.report('Test');
      }
    }
    const process = new Reporter({ logger, pid: 'r1' });
    await process.execute();
    expect(lines).toEqual(['r1 Test']);
  });

  it('runs cleanups on close', async () => {
    const calls: string[] = [];
    const process = new DummyProcess();
    process.addCleanup(() => calls.push('sync'));
    process.addCleanup(async () => {
      await Promise.resolve();
      calls.push('async');
    });
    await process.execute();
    expect(calls).toEqual(['sync', 'async']);
    expect(process.isClosed).toBe(true);
  });
});

describe('lifecycle hooks must chain to super', () => {
  class ForgetToCallParent extends Process.define((spec) =>
    spec.input('forgetOn', { validType: z.string() }),
  ) {
    protected override onCreate(): void {
      if (this.inputs.forgetOn !== 'create') void super.onCreate();
    }
    protected override onRun(): void {
      if (this.inputs.forgetOn !== 'run') void super.onRun();
    }
    protected override onFinish(result: unknown, successful: boolean): void {
      if (this.inputs.forgetOn !== 'finish') void super.onFinish(result, successful);
    }
    protected override onKill(msg: KillMessage | null): void {
      if (this.inputs.forgetOn !== 'kill') void super.onKill(msg);
    }
    protected override onExcept(error: unknown): void {
      if (this.inputs.forgetOn !== 'except') void super.onExcept(error);
    }
  }

  it('fails creation when onCreate does not call super', async () => {
    const process = new ForgetToCallParent({ ...quiet, inputs: { forgetOn: 'create' } });
    await expect(process.execute()).rejects.toThrow(MissingSuperCallError);
    await expect(process.execute()).rejects.toThrow(
      'ForgetToCallParent.onCreate() did not call super.onCreate()',
    );
  });

  it('fails the process when onRun or onFinish does not call super', async () => {
    for (const event of ['run', 'finish']) {
      const process = new ForgetToCallParent({ inputs: { forgetOn: event } });
      await expect(process.execute()).rejects.toThrow(MissingSuperCallError);
      expect(process.isExcepted).toBe(true);
    }
  });

  it('excepts a process whose onKill does not call super', () => {
    const process = new ForgetToCallParent({ inputs: { forgetOn: 'kill' } });
    process.kill();
    expect(process.isExcepted).toBe(true);
  });
});

describe('listeners and events', () => {
  it('fires running, output and finished', async () => {
    const process = new DummyProcessWithOutput();
    const recorder = new EventRecorder(process);
    await process.execute();
    expect(recorder.called).toEqual(new Set(['running', 'output_emitted', 'finished']));
  });

  it('fires killed', () => {
    const process = new DummyProcessWithOutput();
    const recorder = new EventRecorder(process);
    expect(process.kill()).toBe(true);
    expect(process.killed()).toBe(true);
    expect(recorder.called).toEqual(new Set(['killed']));
  });

  it('fires excepted', async () => {
    const process = new ExceptionProcess();
    const recorder = new EventRecorder(process);
    await expect(process.execute()).rejects.toThrow();
    expect(recorder.called).toEqual(new Set(['excepted', 'running', 'output_emitted']));
  });

  it('fires paused', () => {
    const process = new DummyProcessWithOutput();
    const recorder = new EventRecorder(process);
    expect(process.pause()).toBe(true);
    expect(recorder.called).toEqual(new Set(['paused']));
  });

  it('survives a throwing listener', async () => {
    const process = new DummyProcess(quiet);
    process.addProcessListener({
      onProcessRunning: () => {
        throw new Error('bad listener');
      },
    });
    await process.execute();
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('broadcasts state_changed.<from>.<to> with its pid as sender', async () => {
    const communicator = new LocalCommunicator();
    const messages: BroadcastMessage[] = [];
    await communicator.addBroadcastSubscriber((message) => {
      messages.push(message);
    });
    const process = new DummyProcess({ communicator });
    await process.execute();
    await new Promise((resolve) => setImmediate(resolve));
    expect(messages.map((m) => m.subject)).toEqual([
      'state_changed.None.created',
      'state_changed.created.running',
      'state_changed.running.finished',
    ]);
    expect(messages.every((m) => m.sender === process.pid && m.body === null)).toBe(true);
    await communicator.close();
  });
});

describe('nested processes share one event loop', () => {
  it('knows the current process inside a step, and none outside', async () => {
    let inside: Process | undefined;
    class StackTest extends Process {
      override run(): void {
        inside = Process.current();
      }
    }
    const process = new StackTest();
    await process.execute();
    expect(inside).toBe(process);
    expect(Process.current()).toBeUndefined();
  });

  it('keeps the right current process when processes interleave', async () => {
    const steps: string[] = [];
    class Interleave extends Process {
      override async run(): Promise<void> {
        steps.push(`[${String(this.pid)}] started`);
        expect(Process.current()).toBe(this);
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect(Process.current()).toBe(this);
        steps.push(`[${String(this.pid)}] finishing`);
      }
    }
    const p1 = new Interleave({ pid: 'p1' });
    const p2 = new Interleave({ pid: 'p2' });
    await Promise.all([p1.execute(), p2.execute()]);
    expect(steps).toEqual(['[p1] started', '[p2] started', '[p1] finishing', '[p2] finishing']);
  });

  it('runs a child with a plain await inside a parent step, at any depth', async () => {
    const seen: boolean[] = [];
    class Leaf extends Process.define((spec) =>
      spec.input('depth', { validType: z.number() }).output('depth', { validType: z.number() }),
    ) {
      override async run(): Promise<void> {
        seen.push(Process.current() === this);
        if (this.inputs.depth > 0) {
          const outputs = await new Leaf({ inputs: { depth: this.inputs.depth - 1 } }).execute();
          seen.push(Process.current() === this);
          this.out('depth', outputs.depth + 1);
        } else {
          this.out('depth', 0);
        }
      }
    }
    expect(await new Leaf({ inputs: { depth: 5 } }).execute()).toEqual({ depth: 5 });
    expect(seen).toHaveLength(11);
    expect(seen.every(Boolean)).toBe(true);
  });

  it('keeps the stack right for many nested processes at once (plumpy test_process_stack_multiple)', async () => {
    const expectTrue: boolean[] = [];
    class StackTest extends Process {
      override run(): void {
        expectTrue.push(this === Process.current());
      }
    }
    class Parent extends Process {
      override async run(): Promise<void> {
        expectTrue.push(this === Process.current());
        await new StackTest().execute();
        expectTrue.push(this === Process.current());
      }
    }
    await Promise.all([new Parent(), new Parent(), new Parent()].map((p) => p.execute()));
    expect(expectTrue).toHaveLength(9);
    expect(expectTrue.every(Boolean)).toBe(true);
  });

  it('launches a child that runs beside the parent', async () => {
    class Child extends Process.define((spec) => spec.output('v', { validType: z.number() })) {
      override run(): void {
        this.out('v', 1);
      }
    }
    class Parent extends Process.define((spec) => spec.output('v', { validType: z.number() })) {
      override async run(): Promise<void> {
        const child = this.launch(Child);
        const outputs = await child.future();
        this.out('v', outputs.v + 1);
      }
    }
    expect(await new Parent().execute()).toEqual({ v: 2 });
  });
});

describe('status', () => {
  it("reports plumpy's status info", async () => {
    const process = new WaitForSignalProcess({ pid: 'w1' });
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    expect(process.getStatusInfo()).toEqual({
      ctime: process.creationTime,
      paused: false,
      process_string: '<WaitForSignalProcess> (ProcessState.WAITING)',
      state: 'ProcessState.WAITING',
    });
    process.resume();
    await loop;
  });

  it('returns a CancellableAction from a pause inside a step', async () => {
    let action: unknown;
    class PausePlay extends Process {
      override run(): void {
        action = this.pause();
        expect(this.play()).toBe(true);
      }
    }
    const process = new PausePlay();
    await process.execute();
    expect(action).toBeInstanceOf(CancellableAction);
    expect((action as CancellableAction).cancelled()).toBe(true);
    expect(process.paused).toBe(false);
    expect(process.state).toBe(ProcessState.FINISHED);
  });
});
