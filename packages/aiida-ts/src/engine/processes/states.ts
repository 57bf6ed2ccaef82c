import {
  Command,
  Continue,
  ExitCode,
  ProcessState,
  Running,
  Stop,
  type ProcessStateObject,
  type StateData,
  type StateHost,
  type StateJson,
} from 'plumpy-ts';
import { ValidationError } from '../../errors.js';
import { describeValue } from './engine-hooks.js';

/** Internal hooks the engine's process classes give their states. */
export const AFTER_STEP = Symbol('aiida-ts.afterStep');
export const REPLAY_CACHE = Symbol('aiida-ts.replayCache');

/** What the engine's running states need from their process. */
export interface EngineStepHost {
  /** Links and stores what the step produced (outputs; for work chains the nodes put in the context). */
  [AFTER_STEP](): Promise<void>;
  /** For a process cloned from the cache: emits the cached outputs and gives its exit code; else undefined. */
  [REPLAY_CACHE](): Promise<ExitCode> | undefined;
}

function engineHost(host: StateHost): EngineStepHost {
  return host.process as EngineStepHost;
}

/**
 * The `running` state of aiida-ts processes: a step's result becomes an exit code as in aiida (`ExitCode` or a
 * non-negative integer, nothing meaning 0), and what the step produced is linked and stored before the next state is
 * entered, so that every checkpoint refers to stored nodes only. A process cloned from the cache does not run.
 */
export class EngineRunning extends Running {
  constructor(host: StateHost, data: StateData['running']) {
    super(host, data);
  }

  /**
   * A running state restored from a checkpoint (a process continued in the middle of its run, e.g. taken over by
   * another daemon worker) is of the class it was saved from, so that its step links its outputs too.
   */
  static override fromJSON(host: StateHost, json: StateJson): EngineRunning {
    const base = Running.fromJSON(host, json);
    return new this(host, { runFn: base.runFn, args: base.args });
  }

  override execute(): ProcessStateObject | Promise<ProcessStateObject> {
    const replay = engineHost(this.host)[REPLAY_CACHE]();
    if (replay !== undefined) {
      return replay.then(
        (code) =>
          this.host.createState(ProcessState.FINISHED, { result: code, successful: code.status === 0 }),
        (error: unknown) => this.host.createState(ProcessState.EXCEPTED, { error }),
      );
    }
    const outcome = super.execute();
    return Promise.resolve(outcome).then(async (next) => {
      if (next.label === ProcessState.EXCEPTED) return next;
      try {
        await engineHost(this.host)[AFTER_STEP]();
      } catch (error) {
        return this.host.createState(ProcessState.EXCEPTED, { error });
      }
      return next;
    });
  }

  protected override actionResult(result: unknown): ProcessStateObject {
    if (result instanceof Command || result instanceof ExitCode) return super.actionResult(result);
    if (result === undefined || result === null) return super.actionResult(new Stop(result, true));
    if (typeof result === 'number' && Number.isInteger(result) && result >= 0) {
      return super.actionResult(new ExitCode(result));
    }
    return this.host.createState(ProcessState.EXCEPTED, {
      error: new ValidationError(
        `the result should be an integer, ExitCode or nothing, got ${describeValue(result)}`,
      ),
    });
  }
}

/**
 * The `running` state of aiida-ts work chains: a step that returns a non-zero exit status (an integer or an
 * `ExitCode`) ends the work chain with it; status 0, nothing or any other value goes on with the outline (aiida's
 * `_do_step`).
 */
export class EngineWorkChainRunning extends EngineRunning {
  protected override actionResult(result: unknown): ProcessStateObject {
    if (result instanceof Command) return super.actionResult(result);
    if (result instanceof ExitCode) {
      return result.status > 0 ? super.actionResult(result) : super.actionResult(new Continue('doStep'));
    }
    if (typeof result === 'number' && Number.isInteger(result) && result > 0) {
      return super.actionResult(new ExitCode(result));
    }
    // The outline ended (or `return_` without a code): finish successfully.
    if (result === undefined || result === null) return super.actionResult(undefined);
    // Any other value (0, {}, a string) is not an exit code: the outline goes on; when it was the last step, the
    // next `doStep` finds the outline finished and ends with nothing.
    return super.actionResult(new Continue('doStep'));
  }
}
