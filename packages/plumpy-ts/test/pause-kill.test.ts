import { describe, expect, it } from 'vitest';
import {
  CancellableAction,
  CancelledError,
  Continue,
  KilledError,
  Process,
  ProcessState,
  Wait,
} from '../src/index.js';
import { DummyProcess, WaitForSignalProcess, runUntilPaused, runUntilWaiting } from '../src/testing.js';

/** A process whose run step blocks until released, so tests can act while it is stepping. */
class Gated extends Process {
  release!: () => void;
  readonly entered: Promise<void>;
  #signalEntered!: () => void;
  afterRelease = false;

  constructor(options?: ConstructorParameters<typeof Process>[0]) {
    super(options);
    this.entered = new Promise((resolve) => {
      this.#signalEntered = resolve;
    });
  }

  override async run(): Promise<Continue> {
    const gate = new Promise<void>((resolve) => {
      this.release = resolve;
    });
    this.#signalEntered();
    await gate;
    this.afterRelease = true;
    return new Continue('second');
  }

  second(): void {}
}

describe('kill', () => {
  it('kills a created process at once, with its message', () => {
    const process = new DummyProcess();
    expect(process.kill('Farewell!')).toBe(true);
    expect(process.killed()).toBe(true);
    expect(process.killedMsg()?.message).toBe('Farewell!');
    expect(process.state).toBe(ProcessState.KILLED);
    expect(process.status).toBe('Farewell!');
  });

  it('lets a running step finish before the kill takes effect (plumpy test_kill_in_run)', async () => {
    class KillInRun extends Process {
      afterKill = false;
      override run(): void {
        const outcome = this.kill('killed');
        expect(outcome).toBeInstanceOf(CancellableAction);
        expect(this.isKilling).toBe(true);
        // Still running: kill never interrupts the code of a step.
        this.afterKill = true;
      }
    }
    const process = new KillInRun();
    await expect(process.execute()).rejects.toThrow(new KilledError('killed'));
    expect(process.afterKill).toBe(true);
    expect(process.state).toBe(ProcessState.KILLED);
    expect(process.isKilling).toBe(false);
  });

  it('kills at the end of an asynchronous running step, not before', async () => {
    const process = new Gated();
    const loop = process.stepUntilTerminated();
    await process.entered;
    const action = process.kill('stop it');
    expect(action).toBeInstanceOf(CancellableAction);
    expect(process.state).toBe(ProcessState.RUNNING);
    process.release();
    expect(await action).toBe(true);
    await loop;
    expect(process.afterRelease).toBe(true);
    expect(process.state).toBe(ProcessState.KILLED);
  });

  it('kills at once with forceKill, even in a running step', async () => {
    const process = new Gated();
    const loop = process.stepUntilTerminated();
    await process.entered;
    expect(process.kill('now', { forceKill: true })).toBe(true);
    expect(process.state).toBe(ProcessState.KILLED);
    expect(process.killedMsg()).toEqual({ intent: 'kill', message: 'now', force_kill: true });
    process.release();
    await loop;
    // The step's outcome was dropped: the process stays killed.
    expect(process.state).toBe(ProcessState.KILLED);
    await expect(process.future()).rejects.toThrow(KilledError);
  });

  it('kills a waiting process at once', async () => {
    const process = new WaitForSignalProcess();
    process.addProcessListener({ onProcessWaiting: (p) => void p.kill() });
    await expect(process.execute()).rejects.toThrow(KilledError);
    expect(process.killed()).toBe(true);
  });

  it('kills a waiting process at once with forceKill, and the loop ends', async () => {
    const process = new WaitForSignalProcess();
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    expect(process.kill(null, { forceKill: true })).toBe(true);
    await loop;
    expect(process.state).toBe(ProcessState.KILLED);
  });

  it('kills a paused process at once (plumpy test_kill_when_paused)', async () => {
    const process = new WaitForSignalProcess();
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    expect(await process.pause()).toBe(true);
    expect(process.paused).toBe(true);
    expect(process.kill()).toBe(true);
    await expect(process.future()).rejects.toThrow(KilledError);
    await loop;
    expect(process.state).toBe(ProcessState.KILLED);
  });

  it('kills when paused and killed in run (plumpy test_kill_when_paused_in_run)', async () => {
    class PauseProcess extends Process {
      override run(): void {
        this.pause();
        this.kill();
      }
    }
    const process = new PauseProcess();
    await expect(process.execute()).rejects.toThrow(KilledError);
    expect(process.state).toBe(ProcessState.KILLED);
  });

  it('answers true for a killed process and false for an otherwise terminated one', async () => {
    const killed = new DummyProcess();
    killed.kill();
    expect(killed.kill()).toBe(true);
    const finished = new DummyProcess();
    await finished.execute();
    expect(finished.kill()).toBe(false);
    expect(finished.pause()).toBe(false);
  });

  it('replaces a pending kill by a newer one', async () => {
    const process = new Gated();
    const loop = process.stepUntilTerminated();
    await process.entered;
    const first = process.kill('first') as CancellableAction;
    const second = process.kill('second') as CancellableAction;
    expect(first.cancelled()).toBe(true);
    process.release();
    expect(await second).toBe(true);
    await loop;
    expect(process.killedMsg()?.message).toBe('second');
  });
});

describe('pause and play', () => {
  it('pauses a created process at once and plays it', async () => {
    const process = new DummyProcess();
    expect(process.pause('hold')).toBe(true);
    expect(process.paused).toBe(true);
    expect(process.status).toBe('hold');
    expect(process.pause()).toBe(true);
    const loop = process.stepUntilTerminated();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(process.state).toBe(ProcessState.CREATED);
    expect(process.play()).toBe(true);
    expect(process.paused).toBe(false);
    await loop;
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('pauses a running step when it returns, after moving on (plumpy test_pause_in_process)', async () => {
    class PauseInRun extends Process {
      override run(): Continue {
        expect(this.pause()).toBeInstanceOf(CancellableAction);
        return new Continue('next');
      }
      next(): void {}
    }
    const process = new PauseInRun();
    const loop = process.stepUntilTerminated();
    await runUntilPaused(process);
    expect(process.paused).toBe(true);
    // The transition happened first, then the pause.
    expect(process.state).toBe(ProcessState.RUNNING);
    expect((process.stateObject as { runFn?: string }).runFn).toBe('next');
    process.play();
    await loop;
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('finishes and then pauses when paused in its last step', async () => {
    class PauseLast extends Process {
      override run(): void {
        this.pause();
      }
    }
    const process = new PauseLast();
    await process.execute();
    expect(process.state).toBe(ProcessState.FINISHED);
    expect(process.paused).toBe(true);
  });

  it('pauses an asynchronous running step only when it returns', async () => {
    const process = new Gated();
    const loop = process.stepUntilTerminated();
    await process.entered;
    const action = process.pause('later') as CancellableAction;
    expect(process.paused).toBe(false);
    expect(process.pause()).toBe(action);
    process.release();
    expect(await action).toBe(true);
    expect(process.paused).toBe(true);
    expect(process.state).toBe(ProcessState.RUNNING);
    process.play();
    await loop;
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('cancels a pending pause on play', async () => {
    const process = new Gated();
    const loop = process.stepUntilTerminated();
    await process.entered;
    const action = process.pause() as CancellableAction;
    expect(process.play()).toBe(true);
    await expect(action).rejects.toThrow(CancelledError);
    process.release();
    await loop;
    expect(process.paused).toBe(false);
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('pauses a waiting process at once, keeping it waiting (plumpy test_wait_pause_play_resume)', async () => {
    const process = new WaitForSignalProcess();
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    expect(await process.pause()).toBe(true);
    expect(process.paused).toBe(true);
    expect(process.state).toBe(ProcessState.WAITING);
    expect(process.play()).toBe(true);
    expect(process.paused).toBe(false);
    process.resume();
    await process.future();
    await loop;
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('takes a resume that arrived while paused once played', async () => {
    const process = new WaitForSignalProcess();
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    await process.pause();
    process.resume();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(process.state).toBe(ProcessState.WAITING);
    process.play();
    await loop;
    expect(process.state).toBe(ProcessState.FINISHED);
  });

  it('keeps and restores the status across a pause (plumpy test_pause_play_status_messaging)', async () => {
    const playStatus = 'process was played by Hans Klok';
    const pauseStatus = 'process was paused by Evel Knievel';
    const process = new WaitForSignalProcess();
    process.setStatus(playStatus);
    const loop = process.stepUntilTerminated();
    await runUntilWaiting(process);
    expect(await process.pause(pauseStatus)).toBe(true);
    expect(process.status).toBe(pauseStatus);
    process.play();
    expect(process.status).toBe(playStatus);
    process.resume();
    await loop;
    expect(process.hasTerminated()).toBe(true);
  });

  it('plays a process that is not paused', () => {
    expect(new DummyProcess().play()).toBe(true);
  });

  it('waits for a Wait command resumed by a listener (plumpy test_wait_continue)', async () => {
    class WaitTwice extends Process {
      override run(): Wait {
        return new Wait('again');
      }
      again(): Wait {
        return new Wait('done');
      }
      done(): void {}
    }
    const process = new WaitTwice();
    let waits = 0;
    process.addProcessListener({
      onProcessWaiting: (p) => {
        waits += 1;
        p.resume();
      },
    });
    await process.execute();
    expect(waits).toBe(2);
    expect(process.state).toBe(ProcessState.FINISHED);
  });
});
