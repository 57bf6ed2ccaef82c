import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCommunicator, UnroutableError, silentLogger } from 'kiwipy-ts';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CHECKPOINT_VERSION,
  ClassRegistry,
  Continue,
  FilePersister,
  InMemoryPersister,
  MissingSuperCallError,
  PersistenceError,
  Process,
  ProcessState,
  Wait,
  loadProcess,
  type Checkpoint,
  type JsonValue,
  type Process as ProcessType,
} from '../src/index.js';
import {
  DummyProcess,
  DummyProcessWithOutput,
  ProcessSaver,
  RecordingPersister,
  TEST_EXCEPTION_PROCESSES,
  TEST_PROCESSES,
  TEST_WAITING_PROCESSES,
  ThreeSteps,
  WaitForSignalProcess,
  checkEveryCheckpoint,
  checkProcessAgainstSnapshots,
  checkRoundTrip,
  runUntilPaused,
  runUntilWaiting,
} from '../src/testing.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const resumeOrPlay = (process: ProcessType): void => {
  if (process.paused) process.play();
  else if (process.state === ProcessState.WAITING) process.resume();
};

class RestartProcess extends Process.define((spec) => spec.configureOutputs({ dynamic: true })) {
  override run(): Wait {
    return new Wait('lastStep');
  }
  lastStep(): void {
    this.out('finished', true);
  }
}

class SavePauseProc extends Process {
  stepsRan: string[] = [];

  override run(): Continue {
    this.pause();
    this.stepsRan.push('run');
    return new Continue('step2');
  }

  step2(): void {
    this.stepsRan.push('step2');
  }

  protected override saveInstanceState(out: Record<string, JsonValue>): void {
    super.saveInstanceState(out);
    out['steps_ran'] = [...this.stepsRan];
  }

  protected override loadInstanceState(saved: Checkpoint): void {
    super.loadInstanceState(saved);
    this.stepsRan = [...(saved['steps_ran'] as string[])];
  }
}

describe('checkpointing', () => {
  it('checkpoints on every state change and when paused', async () => {
    const persister = new RecordingPersister();
    const process = new WaitForSignalProcess({ persister });
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    await process.pause();
    process.play();
    process.resume();
    await loop;
    const labels = persister.checkpoints.map(
      (c) => `${(c['state'] as { label: string }).label}${c['paused'] === true ? '+paused' : ''}`,
    );
    expect(labels).toEqual(['created', 'running', 'waiting', 'waiting+paused', 'running', 'finished']);
    // The last one is kept by the persister.
    expect((await persister.loadCheckpoint(process.pid))['state']).toMatchObject({ label: 'finished' });
  });

  it('does not checkpoint without a persister', async () => {
    class Counting extends DummyProcess {
      saves = 0;
      override save(): Checkpoint {
        this.saves += 1;
        return super.save();
      }
    }
    const process = new Counting();
    await process.execute();
    expect(process.saves).toBe(0);
  });

  it('waits for each checkpoint to be written before the next step', async () => {
    const order: string[] = [];
    const persister = new InMemoryPersister();
    const slow = Object.assign(Object.create(persister) as InMemoryPersister, {
      saveCheckpoint: async (source: { pid: string | number; save(): Checkpoint }) => {
        const label = (source.save()['state'] as { label: string }).label;
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push(`saved ${label}`);
      },
    });
    class Steps extends Process {
      override run(): Continue {
        order.push('run');
        return new Continue('next');
      }
      next(): void {
        order.push('next');
      }
    }
    await new Steps({ persister: slow }).execute();
    expect(order).toEqual([
      'saved created',
      'saved running',
      'run',
      'saved running',
      'next',
      'saved finished',
    ]);
  });
});

describe('reloading from every checkpoint reaches the same end', () => {
  it.each(TEST_PROCESSES.map((c) => [c.name, c] as const))('%s', async (_name, cls) => {
    const { outcome, checkpoints } = await checkEveryCheckpoint(cls);
    expect(outcome.state).toBe(ProcessState.FINISHED);
    expect(outcome.outputs).toEqual(cls.EXPECTED_OUTPUTS);
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
  });

  it.each(TEST_WAITING_PROCESSES.map((c) => [c.name, c] as const))('%s', async (_name, cls) => {
    await checkEveryCheckpoint(cls, { drive: resumeOrPlay });
  });

  it.each(TEST_EXCEPTION_PROCESSES.map((c) => [c.name, c] as const))('%s', async (_name, cls) => {
    const { outcome } = await checkEveryCheckpoint(cls, { options: { logger: silentLogger } });
    expect(outcome.state === ProcessState.EXCEPTED || outcome.successful === false).toBe(true);
  });

  it('a waiting process (resumed each time)', async () => {
    const { outcome, checkpoints } = await checkEveryCheckpoint(WaitForSignalProcess, {
      drive: resumeOrPlay,
    });
    expect(outcome.state).toBe(ProcessState.FINISHED);
    expect(checkpoints.some((c) => (c['state'] as { label: string }).label === 'waiting')).toBe(true);
  });

  it('a process paused in its run step', async () => {
    const { checkpoints } = await checkEveryCheckpoint(SavePauseProc, { drive: resumeOrPlay });
    expect(checkpoints.some((c) => c['paused'] === true)).toBe(true);
  });

  it('with listener snapshots, compared backwards (plumpy check_process_against_snapshots)', async () => {
    for (const cls of [...TEST_PROCESSES, ...TEST_WAITING_PROCESSES]) {
      const process = new cls({ logger: silentLogger });
      const saver = new ProcessSaver(process);
      await saver.capture();
      expect(process.hasTerminated()).toBe(true);
      await checkProcessAgainstSnapshots(saver.snapshots, { logger: silentLogger });
    }
  });

  it('through a FilePersister', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plumpy-ts-saving-'));
    dirs.push(directory);
    const persister = new FilePersister({ directory, fsync: false });
    const process = new ThreeSteps({ persister, pid: 'three' });
    const saver = new ProcessSaver(process);
    await process.execute();
    for (const snapshot of saver.snapshots) {
      if (snapshot.state === ProcessState.FINISHED) continue;
      const loaded = Process.load(snapshot.checkpoint);
      expect(await loaded.execute()).toEqual({ test: 5 });
    }
    const stored = await persister.loadCheckpoint('three');
    expect(stored['state']).toMatchObject({ label: 'finished' });
  });
});

describe('round trips', () => {
  it('of a just created process', () => {
    const loaded = checkRoundTrip(new DummyProcess());
    expect(loaded.state).toBe(ProcessState.CREATED);
  });

  it('of a killed process', () => {
    const process = new DummyProcess();
    process.kill('bye');
    const loaded = checkRoundTrip(process);
    expect(loaded.killedMsg()?.message).toBe('bye');
    expect(() => loaded.result()).toThrow('bye');
  });

  it('of a process with outputs, whose snapshots hold copies of them', async () => {
    const process = new DummyProcessWithOutput();
    const saver = new ProcessSaver(process);
    await process.execute();
    checkRoundTrip(process);
    for (const snapshot of saver.snapshots) {
      expect(snapshot.checkpoint['OUTPUTS'] ?? {}).toEqual(snapshot.outputs);
      expect(snapshot.checkpoint['OUTPUTS']).not.toBe(process.outputs);
    }
  });

  it('of a finished process, which comes back closed with its result', async () => {
    const process = new DummyProcessWithOutput();
    await process.execute();
    const loaded = loadProcess(process.save());
    expect(loaded.state).toBe(ProcessState.FINISHED);
    expect(loaded.isClosed).toBe(true);
    expect(await loaded.future()).toEqual({ default: 5 });
  });

  it('of an excepted process, keeping the error message and stack', async () => {
    class Failing extends Process {
      override run(): never {
        throw new TypeError('bad type');
      }
    }
    const process = new Failing();
    await process.execute().catch(() => undefined);
    const loaded = loadProcess(process.save());
    const error = loaded.exception() as Error;
    expect(error.name).toBe('TypeError');
    expect(error.message).toBe('bad type');
    expect(error.stack).toContain('Failing.run');
    await expect(loaded.future()).rejects.toThrow('bad type');
  });
});

describe('restarting', () => {
  it('continues a paused process from its checkpoint (plumpy test_running_save_instance_state)', async () => {
    const process = new SavePauseProc();
    const loop = process.stepUntilTerminated();
    await runUntilPaused(process);
    const checkpoint = process.save();
    expect(process.stepsRan).toEqual(['run']);
    process.play();
    await loop;
    expect(process.stepsRan).toEqual(['run', 'step2']);

    const loaded = loadProcess(checkpoint) as SavePauseProc;
    // Paused when saved, so paused when loaded.
    expect(loaded.paused).toBe(true);
    expect(loaded.stepsRan).toEqual(['run']);
    loaded.play();
    await loaded.stepUntilTerminated();
    expect(loaded.stepsRan).toEqual(['run', 'step2']);
  });

  it('continues a waiting process from its checkpoint (plumpy test_restart, test_double_restart)', async () => {
    for (const resumes of [1, 2]) {
      const process = new RestartProcess();
      const loop = process.stepUntilTerminated();
      await runUntilWaiting(process);
      const loaded = loadProcess(process.save());
      expect(loaded.state).toBe(ProcessState.WAITING);
      for (let i = 0; i < resumes; i += 1) loaded.resume();
      await loaded.stepUntilTerminated();
      expect(loaded.outputs).toEqual({ finished: true });
      process.kill();
      await loop;
    }
  });

  it('gives the same result as the original (plumpy test_wait_save_continue)', async () => {
    const process = new WaitForSignalProcess();
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    const checkpoint = process.save();
    process.resume();
    const first = await process.future();
    await loop;
    const loaded = loadProcess(checkpoint, { loader: process.loader });
    const second = loaded.execute();
    loaded.resume();
    expect(await second).toEqual(first);
  });

  it('uses encodeValue/decodeValue for values JSON cannot hold', async () => {
    class Point {
      readonly x: number;
      readonly y: number;
      constructor(x: number, y: number) {
        this.x = x;
        this.y = y;
      }
    }
    class WithPoints extends Process.define((spec) =>
      spec.input('p', { validType: z.instanceof(Point) }).output('q', { validType: z.instanceof(Point) }),
    ) {
      override run(): Continue {
        return new Continue('move', new Point(1, 1));
      }
      move(delta: Point): void {
        this.out('q', new Point(this.inputs.p.x + delta.x, this.inputs.p.y + delta.y));
      }
      protected override encodeValue(value: unknown): JsonValue {
        if (value instanceof Point) return { '!point': [value.x, value.y] };
        return super.encodeValue(value);
      }
      protected override decodeValue(json: JsonValue): unknown {
        if (json !== null && typeof json === 'object' && !Array.isArray(json) && '!point' in json) {
          const [x, y] = (json as { '!point': [number, number] })['!point'];
          return new Point(x, y);
        }
        return super.decodeValue(json);
      }
    }
    const { outcome } = await checkEveryCheckpoint(WithPoints, {
      options: { inputs: { p: new Point(2, 3) } },
    });
    expect(outcome.outputs).toEqual({ q: new Point(3, 4) });
    // Without the hooks a class instance cannot be checkpointed: the process cannot be created persisted.
    class Plain extends Process.define((spec) => spec.input('p')) {}
    const persister = new InMemoryPersister();
    await expect(
      new Plain({ inputs: { p: new Point(0, 0) }, persister, logger: silentLogger }).execute(),
    ).rejects.toThrow(PersistenceError);
  });

  it('detects a saveInstanceState override that does not call super', () => {
    class Forgetful extends Process {
      protected override saveInstanceState(): void {}
    }
    expect(() => new Forgetful().save()).toThrow(MissingSuperCallError);
  });
});

describe('bad checkpoints', () => {
  const good = (): Checkpoint => {
    const process = new ThreeSteps({ pid: 'pid-7' });
    return process.save();
  };

  function loadError(checkpoint: unknown, context = {}): PersistenceError {
    try {
      loadProcess(checkpoint, context);
    } catch (error) {
      return error as PersistenceError;
    }
    throw new Error('the checkpoint loaded');
  }

  it('refuses an incompatible version, naming the pid', () => {
    const error = loadError({ ...good(), version: CHECKPOINT_VERSION + 1 });
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.pid).toBe('pid-7');
    expect(error.message).toContain('incompatible checkpoint version 2');
  });

  it('refuses a checkpoint whose class is unknown', () => {
    const error = loadError(good(), { loader: new ClassRegistry() });
    expect(error.message).toContain("cannot load the process class 'ThreeSteps'");
    expect(error.pid).toBe('pid-7');
  });

  it('refuses a corrupt state, listing what is wrong', () => {
    const checkpoint = good();
    expect(loadError({ ...checkpoint, state: { label: 'flying' } }).message).toContain('state.label');
    expect(loadError({ ...checkpoint, paused: 'yes' }).message).toContain('paused');
    expect(loadError({ ...checkpoint, state: { label: 'running', run_fn: 3, args: [] } }).message).toContain(
      'state: run_fn',
    );
    expect(loadError({ not: 'a checkpoint' }).pid).toBeUndefined();
    expect(loadError(null)).toBeInstanceOf(PersistenceError);
  });

  it('refuses a state naming a method the class does not have', () => {
    const error = loadError({ ...good(), state: { label: 'running', run_fn: 'noSuchStep', args: [] } });
    expect(error.message).toContain("'noSuchStep' is not a method of ThreeSteps");
  });

  it('leaves nothing half-loaded: no subscriptions for a refused checkpoint', async () => {
    const communicator = new LocalCommunicator();
    loadError({ ...good(), state: { label: 'running', run_fn: 'noSuchStep', args: [] } }, { communicator });
    await expect(communicator.rpcSend('pid-7', { intent: 'status' })).rejects.toThrow(UnroutableError);
    await communicator.close();
  });

  it('refuses a checkpoint whose loadInstanceState fails, naming the pid', () => {
    class Picky extends Process {
      protected override loadInstanceState(saved: Checkpoint): void {
        super.loadInstanceState(saved);
        if (!('needed' in saved)) throw new Error('the needed key is missing');
      }
    }
    const checkpoint = new Picky({ pid: 'picky' }).save();
    const error = loadError(checkpoint);
    expect(error.pid).toBe('picky');
    expect((error.cause as Error).message).toBe('the needed key is missing');
  });
});
