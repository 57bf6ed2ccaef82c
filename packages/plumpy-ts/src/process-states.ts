import { z } from 'zod';
import { InvalidStateError, KilledError } from './errors.js';
import { ExitCode } from './exit-code.js';
import { MessageBuilder, killMessageSchema, type ControlMessage, type KillMessage } from './messages.js';
import type { AllowedTable, MachineState } from './state-machine.js';
import { jsonValueSchema, type JsonValue } from './values.js';

/** The states of a process, with plumpy's labels (they cross the wire in `state_changed.<from>.<to>`). */
export const ProcessState = {
  CREATED: 'created',
  RUNNING: 'running',
  WAITING: 'waiting',
  FINISHED: 'finished',
  EXCEPTED: 'excepted',
  KILLED: 'killed',
} as const;
export type ProcessState = (typeof ProcessState)[keyof typeof ProcessState];
export const processStateSchema = z.enum(['created', 'running', 'waiting', 'finished', 'excepted', 'killed']);

/** plumpy's transition table: which state may follow which. Terminal states have no successors. */
export const ALLOWED = {
  created: ['running', 'killed', 'excepted'],
  running: ['running', 'waiting', 'finished', 'killed', 'excepted'],
  waiting: ['running', 'waiting', 'killed', 'excepted', 'finished'],
  finished: [],
  excepted: [],
  killed: [],
} as const satisfies AllowedTable<ProcessState>;

/** True for `finished`, `excepted` and `killed`. */
export function isTerminalState(label: ProcessState): boolean {
  return ALLOWED[label].length === 0;
}

// ---- commands ----------------------------------------------------------------------------------------

/** A method of the process, by name or as the function itself; kept by name so it survives a reload. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StepRef = string | ((...args: any[]) => unknown);

/** What a step returns to say what happens next (plumpy's `Command`). */
export abstract class Command {}

/** Run `step` next, with `args` (plumpy's `Continue`); the process goes through `running` again. */
export class Continue extends Command {
  readonly step: StepRef;
  readonly args: readonly unknown[];

  constructor(step: StepRef, ...args: unknown[]) {
    super();
    this.step = step;
    this.args = args;
  }
}

/** Options of {@link Wait}. */
export interface WaitOptions {
  /** Shown as the waiting state's message. */
  readonly msg?: string | null;
  /** Handed to `onWait`; kept in checkpoints (must be encodable). */
  readonly data?: unknown;
}

/** Wait until `resume(value?)`; then run `step` (with the value, if one was given) (plumpy's `Wait`). */
export class Wait extends Command {
  readonly step: StepRef | null;
  readonly msg: string | null;
  readonly data: unknown;

  constructor(step: StepRef | null, options: WaitOptions = {}) {
    super();
    this.step = step;
    this.msg = options.msg ?? null;
    this.data = options.data ?? null;
  }
}

/** Finish now with `result` (plumpy's `Stop`). */
export class Stop extends Command {
  readonly result: unknown;
  readonly successful: boolean;

  constructor(result: unknown, successful = true) {
    super();
    this.result = result;
    this.successful = successful;
  }
}

/** Kill the process now (plumpy's `Kill`). */
export class Kill extends Command {
  readonly msg: KillMessage | null;

  constructor(msg: KillMessage | null = null) {
    super();
    this.msg = msg;
  }
}

/** Returned by a step: finish with `result`, but unsuccessfully (plumpy's `UnsuccessfulResult`). */
export class UnsuccessfulResult {
  readonly result: unknown;

  constructor(result: unknown) {
    this.result = result;
  }
}

// ---- interruptions -----------------------------------------------------------------------------------

/** Raised out of a state's `execute` to stop it early; the process then acts on it (pause or kill). */
export class Interruption extends Error {
  constructor(message?: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A kill requested while the process was stepping. */
export class KillInterruption extends Interruption {
  readonly msg: KillMessage;
  readonly forceKill: boolean;

  constructor(text: string | null, forceKill = false) {
    super(text ?? 'kill');
    this.msg = MessageBuilder.kill(text, forceKill);
    this.forceKill = forceKill;
  }
}

/** A pause requested while the process was stepping. */
export class PauseInterruption extends Interruption {
  readonly msg: ControlMessage;

  constructor(text: string | null) {
    super(text ?? 'pause');
    this.msg = MessageBuilder.pause(text);
  }
}

/** Wakes a step awaiting a state that was left under it (a forced kill of a waiting process). */
export class StateExited extends Interruption {
  constructor() {
    // Made at every exit of a waiting state and never shown: without a stack trace, whose capture costs more than
    // the rest of the exit.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super();
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

// ---- states ------------------------------------------------------------------------------------------

/** A saved state: its label plus what the state needs to be recreated. */
export type StateJson = { readonly label: ProcessState } & Readonly<Record<string, JsonValue>>;

/**
 * What states need from their process. The process makes one of these for its states; state subclasses
 * (aiida-ts's transport-task `Waiting`, say) reach the process through `process`.
 */
export interface StateHost {
  /** The process, for state subclasses that need more of it. */
  readonly process: object;
  /** Calls the process method `name` with `args` in the process's scope; returns what it returns. */
  runStep(name: string, args: readonly unknown[]): unknown;
  /** The name under which `step` is a method of the process; throws if it is not one. */
  stepName(step: StepRef): string;
  /** Makes a state of the process's state classes. */
  createState<L extends ProcessState>(label: L, data: StateData[L]): ProcessStateObject;
  /** Turns a value into JSON for a checkpoint (the process's `encodeValue`). */
  encode(value: unknown): JsonValue;
  decode(json: JsonValue): unknown;
}

/** The data each state is made from. */
export interface StateData {
  created: { readonly runFn: string; readonly args: readonly unknown[] };
  running: { readonly runFn: string; readonly args: readonly unknown[] };
  waiting: { readonly doneCallback: string | null; readonly msg: string | null; readonly data: unknown };
  finished: { readonly result: unknown; readonly successful: boolean };
  excepted: { readonly error: unknown };
  killed: { readonly msg: KillMessage | null };
}

/** A state of a process. Non-terminal states can be executed; every state can be saved. */
export abstract class ProcessStateObject implements MachineState<ProcessState> {
  abstract readonly label: ProcessState;
  readonly host: StateHost;

  constructor(host: StateHost) {
    this.host = host;
  }

  /** Whether this state ends the process. */
  get isTerminal(): boolean {
    return isTerminalState(this.label);
  }

  enter(): void {}

  exit(): void {
    if (this.isTerminal) throw new InvalidStateError(`cannot exit the terminal state '${this.label}'`);
  }

  /** Does the state's work and returns the next state (a Promise when the work is asynchronous). */
  execute(): ProcessStateObject | Promise<ProcessStateObject> {
    throw new InvalidStateError(`the state '${this.label}' cannot be executed`);
  }

  /** Asks the running work to stop early; the default does nothing (running code is never interrupted). */
  interrupt(_reason: Interruption): void {}

  /** The state as JSON. */
  abstract toJSON(): StateJson;

  toString(): string {
    return this.label;
  }
}

/** The first state: inputs are parsed; executing it starts `running` with the run method. */
export class Created extends ProcessStateObject {
  readonly label = ProcessState.CREATED;
  readonly runFn: string;
  readonly args: readonly unknown[];

  constructor(host: StateHost, data: StateData['created']) {
    super(host);
    this.runFn = data.runFn;
    this.args = data.args;
  }

  override execute(): ProcessStateObject {
    return this.host.createState(ProcessState.RUNNING, { runFn: this.runFn, args: this.args });
  }

  toJSON(): StateJson {
    return { label: this.label, run_fn: this.runFn, args: this.args.map((a) => this.host.encode(a)) };
  }

  static fromJSON(host: StateHost, json: StateJson): Created {
    const data = savedStepSchema.parse(json);
    return new Created(host, { runFn: data.run_fn, args: data.args.map((a) => host.decode(a)) });
  }
}

const savedStepSchema = z.looseObject({ run_fn: z.string(), args: z.array(jsonValueSchema) });

/** Runs one step (a method of the process); its return value says what comes next. */
export class Running extends ProcessStateObject {
  readonly label = ProcessState.RUNNING;
  readonly runFn: string;
  readonly args: readonly unknown[];

  constructor(host: StateHost, data: StateData['running']) {
    super(host);
    this.runFn = data.runFn;
    this.args = data.args;
  }

  override execute(): ProcessStateObject | Promise<ProcessStateObject> {
    let result: unknown;
    try {
      result = this.host.runStep(this.runFn, this.args);
    } catch (error) {
      if (error instanceof Interruption) throw error;
      return this.host.createState(ProcessState.EXCEPTED, { error });
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => this.actionResult(value),
        (error: unknown) => {
          if (error instanceof Interruption) throw error;
          return this.host.createState(ProcessState.EXCEPTED, { error });
        },
      );
    }
    return this.actionResult(result);
  }

  /** Maps a step's return value to the next state (plumpy's `_action_command`). */
  protected actionResult(result: unknown): ProcessStateObject {
    try {
      if (result instanceof Command) return this.actionCommand(result);
      if (result instanceof UnsuccessfulResult) return this.actionCommand(new Stop(result.result, false));
      if (result instanceof ExitCode) return this.actionCommand(new Stop(result, result.status === 0));
      return this.actionCommand(new Stop(result, true));
    } catch (error) {
      return this.host.createState(ProcessState.EXCEPTED, { error });
    }
  }

  protected actionCommand(command: Command): ProcessStateObject {
    if (command instanceof Kill) return this.host.createState(ProcessState.KILLED, { msg: command.msg });
    if (command instanceof Stop)
      return this.host.createState(ProcessState.FINISHED, {
        result: command.result,
        successful: command.successful,
      });
    if (command instanceof Wait) {
      return this.host.createState(ProcessState.WAITING, {
        doneCallback: command.step === null ? null : this.host.stepName(command.step),
        msg: command.msg,
        data: command.data,
      });
    }
    if (command instanceof Continue) {
      return this.host.createState(ProcessState.RUNNING, {
        runFn: this.host.stepName(command.step),
        args: command.args,
      });
    }
    throw new InvalidStateError(`unrecognised command ${command.constructor.name}`);
  }

  toJSON(): StateJson {
    return { label: this.label, run_fn: this.runFn, args: this.args.map((a) => this.host.encode(a)) };
  }

  static fromJSON(host: StateHost, json: StateJson): Running {
    const data = savedStepSchema.parse(json);
    return new Running(host, { runFn: data.run_fn, args: data.args.map((a) => host.decode(a)) });
  }
}

/** Marks "resumed without a value" (plumpy's `NULL`). */
export const NULL: unique symbol = Symbol.for('plumpy-ts.NULL');

interface Gate {
  promise: Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  done: boolean;
}

function gate(): Gate {
  const g = { done: false } as Gate;
  g.promise = new Promise<unknown>((resolve, reject) => {
    g.resolve = (value) => {
      g.done = true;
      resolve(value);
    };
    g.reject = (error) => {
      g.done = true;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an interruption or the failure of the wait
      reject(error);
    };
  });
  // Nobody may be awaiting the gate when it is interrupted.
  g.promise.catch(() => undefined);
  return g;
}

/** Waits for `resume()`; then runs the done callback. Pause and kill interrupt the wait at once. */
export class Waiting extends ProcessStateObject {
  readonly label = ProcessState.WAITING;
  readonly doneCallback: string | null;
  readonly msg: string | null;
  readonly data: unknown;
  #gate: Gate = gate();

  constructor(host: StateHost, data: StateData['waiting']) {
    super(host);
    this.doneCallback = data.doneCallback;
    this.msg = data.msg;
    this.data = data.data;
  }

  override exit(): void {
    super.exit();
    if (!this.#gate.done) this.#gate.reject(new StateExited());
  }

  override interrupt(reason: Interruption): void {
    if (this.#gate.done) return;
    // The interruption stays in the gate until a step executes the state again (a kill asked for from a
    // listener is acted on by the next step, as in plumpy); the gate is re-armed then.
    this.#interrupted = true;
    this.#gate.reject(reason);
  }

  /**
   * Ends the wait with `value` (none: NULL); a second call is ignored. A resume that arrives while the
   * wait is interrupted (being paused) is kept for when it is executed again.
   */
  resume(value: unknown = NULL): void {
    if (!this.#gate.done) this.#gate.resolve(value);
    else if (this.#interrupted) this.#pending ??= { ok: true, value };
  }

  /** Fails the wait with `error`: the process goes to `excepted` (used by subclasses waiting on work). */
  protected fail(error: unknown): void {
    if (!this.#gate.done) this.#gate.reject(error);
    else if (this.#interrupted && this.#pending?.ok !== false) this.#pending = { ok: false, error };
  }

  /** True once resumed or failed (an interrupted wait is not settled). */
  protected get settled(): boolean {
    return this.#gate.done && !this.#interrupted;
  }

  #interrupted = false;
  #pending: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;

  #rearm(): void {
    this.#gate = gate();
    this.#interrupted = false;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending?.ok === true) this.#gate.resolve(pending.value);
    else if (pending?.ok === false) this.#gate.reject(pending.error);
  }

  override execute(): Promise<ProcessStateObject> {
    return this.#gate.promise.then(
      (value) => {
        if (this.doneCallback === null)
          throw new InvalidStateError('the waiting state has no callback to continue with');
        return this.host.createState(ProcessState.RUNNING, {
          runFn: this.doneCallback,
          args: value === NULL ? [] : [value],
        });
      },
      (error: unknown) => {
        // Re-arm, so that the wait can be executed again after a pause.
        if (error instanceof Interruption && !(error instanceof StateExited)) this.#rearm();
        throw error;
      },
    );
  }

  toJSON(): StateJson {
    return {
      label: this.label,
      done_callback: this.doneCallback,
      msg: this.msg,
      data: this.host.encode(this.data),
    };
  }

  override toString(): string {
    return this.msg === null ? this.label : `${this.label} (${this.msg})`;
  }

  static fromJSON(host: StateHost, json: StateJson): Waiting {
    const data = savedWaitingSchema.parse(json);
    return new Waiting(host, {
      doneCallback: data.done_callback,
      msg: data.msg,
      data: host.decode(data.data ?? null),
    });
  }
}

const savedWaitingSchema = z.looseObject({
  done_callback: z.string().nullable(),
  msg: z.string().nullable(),
  data: jsonValueSchema.optional(),
});

/** The process finished; `successful` is false for an unsuccessful result or invalid outputs. */
export class Finished extends ProcessStateObject {
  readonly label = ProcessState.FINISHED;
  readonly result: unknown;
  readonly successful: boolean;

  constructor(host: StateHost, data: StateData['finished']) {
    super(host);
    this.result = data.result;
    this.successful = data.successful;
  }

  toJSON(): StateJson {
    return { label: this.label, result: this.host.encode(this.result), successful: this.successful };
  }

  static fromJSON(host: StateHost, json: StateJson): Finished {
    const data = z.looseObject({ result: jsonValueSchema.optional(), successful: z.boolean() }).parse(json);
    return new Finished(host, { result: host.decode(data.result ?? null), successful: data.successful });
  }
}

/** A saved error: enough to show what went wrong after a reload. */
export const savedErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().nullable(),
});

/** Recreates an error from its saved form (its class is not restored: it is a plain `Error` with the name). */
export function restoreError(saved: z.infer<typeof savedErrorSchema>): Error {
  const error = new Error(saved.message);
  error.name = saved.name;
  if (saved.stack !== null) error.stack = saved.stack;
  return error;
}

/** The process failed with an error; the error, and its stack, are kept. */
export class Excepted extends ProcessStateObject {
  readonly label = ProcessState.EXCEPTED;
  readonly error: unknown;

  constructor(host: StateHost, data: StateData['excepted']) {
    super(host);
    this.error = data.error;
  }

  /** The stack trace of the error, when it has one. */
  get traceback(): string | null {
    return this.error instanceof Error ? (this.error.stack ?? null) : null;
  }

  toJSON(): StateJson {
    const error = this.error;
    const saved =
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack ?? null }
        : { name: 'Error', message: String(error), stack: null };
    return { label: this.label, exception: saved };
  }

  override toString(): string {
    const error = this.error;
    return `${this.label} (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`;
  }

  static fromJSON(host: StateHost, json: StateJson): Excepted {
    const data = z.looseObject({ exception: savedErrorSchema }).parse(json);
    return new Excepted(host, { error: restoreError(data.exception) });
  }
}

/** The process was killed; `msg` is the kill message. */
export class Killed extends ProcessStateObject {
  readonly label = ProcessState.KILLED;
  readonly msg: KillMessage | null;

  constructor(host: StateHost, data: StateData['killed']) {
    super(host);
    this.msg = data.msg;
  }

  /** The error a killed process's result is: a {@link KilledError} with the kill message text. */
  toError(): KilledError {
    return new KilledError(this.msg?.message ?? '');
  }

  toJSON(): StateJson {
    return { label: this.label, msg: this.msg === null ? null : { ...this.msg } };
  }

  static fromJSON(host: StateHost, json: StateJson): Killed {
    const data = z.looseObject({ msg: killMessageSchema.nullable() }).parse(json);
    return new Killed(host, { msg: data.msg });
  }
}

/** A state class: made from its data or from its JSON. */
export interface ProcessStateClass<L extends ProcessState = ProcessState> {
  new (host: StateHost, data: StateData[L]): ProcessStateObject;
  fromJSON(host: StateHost, json: StateJson): ProcessStateObject;
}

/** The state classes of a process, by label. */
export type StateClasses = { readonly [L in ProcessState]: ProcessStateClass<L> };

/** plumpy's default state classes. */
export const DEFAULT_STATE_CLASSES: StateClasses = {
  created: Created,
  running: Running,
  waiting: Waiting,
  finished: Finished,
  excepted: Excepted,
  killed: Killed,
};

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
