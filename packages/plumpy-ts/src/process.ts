import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  BroadcastFilter,
  withFloatKeys,
  type BroadcastMessage,
  type Communicator,
  type Logger,
} from 'kiwipy-ts';
import { z } from 'zod';
import { CancellableAction } from './cancellable-action.js';
import { encodeAt, encodeContainer, UnencodableValueError } from './checkpoint-encoding.js';
import {
  ClosedError,
  EventError,
  InvalidStateError,
  KilledError,
  MissingSuperCallError,
  PersistenceError,
  UnknownIntentError,
  ValidationError,
  formatIssues,
  type ValidationIssue,
} from './errors.js';
import { ExitCode, exitCodeJsonSchema, type LabelledExitCode } from './exit-code.js';
import { getObjectLoader, type ObjectLoader } from './loaders.js';
import { defaultLogger } from './logger.js';
import {
  Intent,
  MessageBuilder,
  controlMessageSchema,
  pidSchema,
  type ControlMessage,
  type KillMessage,
  type Pid,
  type StatusInfo,
} from './messages.js';
import {
  CHECKPOINT_VERSION,
  checkpointEnvelopeSchema,
  type Checkpoint,
  type Persister,
} from './persistence.js';
import type { ProcessListener, ProcessListenerEvent } from './process-listener.js';
import { ProcessSpec } from './process-spec.js';
import {
  ALLOWED,
  DEFAULT_STATE_CLASSES,
  Excepted,
  Finished,
  Interruption,
  KillInterruption,
  Killed,
  PauseInterruption,
  ProcessState,
  StateExited,
  Waiting,
  isThenable,
  processStateSchema,
  type ProcessStateObject,
  type StateClasses,
  type StateData,
  type StateHost,
  type StateJson,
  type StepRef,
} from './process-states.js';
import { NAMESPACE_SEPARATOR, PortNamespace, UNSPECIFIED, type Port } from './ports.js';
import type {
  DynamicOutPath,
  DynamicOutValue,
  ExplicitOutValues,
  NamespaceIn,
  NamespaceOut,
  OutputsOf,
  SpecOf,
  SpecTypes,
} from './spec-types.js';
import type { ContextEntries } from './workchain-types.js';
import { StateMachine, StateEntryFailed } from './state-machine.js';
import { copyMappings, freezeMappings, isPlainObject, jsonValueSchema, type JsonValue } from './values.js';

/** Options of a process. Subclasses keep this one-argument constructor: checkpoints are loaded through it. */
export interface ProcessOptions<I = Readonly<Record<string, unknown>>> {
  /** The inputs, checked against the spec when the process is made. */
  readonly inputs?: I;
  /** The process id (default: the process's UUID). */
  readonly pid?: Pid;
  readonly logger?: Logger;
  /** Makes the process remotely controllable (RPC by pid, broadcasts) and announces its state changes. */
  readonly communicator?: Communicator;
  /** Checkpoints the process on every state change and when paused. */
  readonly persister?: Persister;
  /** Identifies the process class in checkpoints (default: the global loader). */
  readonly loader?: ObjectLoader;
}

/** Where a loaded process gets its runtime services (plumpy's `LoadSaveContext`). */
export interface LoadContext {
  readonly loader?: ObjectLoader;
  readonly communicator?: Communicator;
  readonly persister?: Persister;
  readonly logger?: Logger;
}

const LOAD = Symbol('plumpy-ts.load');
interface InternalOptions extends ProcessOptions {
  readonly [LOAD]?: Checkpoint;
}

const processScope = new AsyncLocalStorage<Process>();
const liveProcesses = new Map<string, WeakRef<Process>>();
// A process dropped without being closed leaves its entry behind; forget it once it is collected.
const forgetCollected = new FinalizationRegistry<string>((key) => {
  if (liveProcesses.get(key)?.deref() === undefined) liveProcesses.delete(key);
});

/** The live (not closed) process with this pid in this JS process, if any. */
export function findLiveProcess(pid: Pid): Process | undefined {
  return liveProcesses.get(`${typeof pid}:${String(pid)}`)?.deref();
}

/** Names of the hooks whose overrides must call the overridden method. */
type CheckedHook =
  | 'init'
  | 'onCreate'
  | 'onRun'
  | 'onRunning'
  | 'onWait'
  | 'onWaiting'
  | 'onFinish'
  | 'onFinished'
  | 'onExcept'
  | 'onExcepted'
  | 'onKill'
  | 'onKilled'
  | 'onExitRunning'
  | 'onExitWaiting'
  | 'onPausing'
  | 'onPaused'
  | 'onPlaying'
  | 'onTerminated'
  | 'onClose'
  | 'saveInstanceState'
  | 'loadInstanceState';

/**
 * One bit per checked hook: the super-call check of every hook call (about a dozen per process run) sets, clears and
 * tests a bit of one number instead of hashing the hook's name into a set.
 */
const HOOK_BITS: { readonly [H in CheckedHook]: number } = {
  init: 1 << 0,
  onCreate: 1 << 1,
  onRun: 1 << 2,
  onRunning: 1 << 3,
  onWait: 1 << 4,
  onWaiting: 1 << 5,
  onFinish: 1 << 6,
  onFinished: 1 << 7,
  onExcept: 1 << 8,
  onExcepted: 1 << 9,
  onKill: 1 << 10,
  onKilled: 1 << 11,
  onExitRunning: 1 << 12,
  onExitWaiting: 1 << 13,
  onPausing: 1 << 14,
  onPaused: 1 << 15,
  onPlaying: 1 << 16,
  onTerminated: 1 << 17,
  onClose: 1 << 18,
  saveInstanceState: 1 << 19,
  loadInstanceState: 1 << 20,
};

/** The subjects a process listens to by broadcast: all but state changes (one pattern for every process). */
const NOT_STATE_CHANGED = /^(?!state_changed).*/;

/** Settled: what {@link Process} awaits when a step left no work behind (no async function frame to allocate). */
const SETTLED: Promise<void> = Promise.resolve();

/** A hook may return a Promise: the process awaits it before its next step (and before `ready()` settles). */
export type HookResult = void | Promise<unknown>;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

function deferred<T>(): Deferred<T> {
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((resolve, reject) => {
    d.resolve = (value) => {
      if (d.settled) return;
      d.settled = true;
      resolve(value);
    };
    d.reject = (error) => {
      if (d.settled) return;
      d.settled = true;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- whatever the process failed with
      reject(error);
    };
  });
  d.promise.catch(() => undefined);
  return d;
}

const savedStateSchema = z.looseObject({ label: processStateSchema });

/** The checkpoint fields of `Process` (subclasses extend it with their own). */
export const processCheckpointSchema = checkpointEnvelopeSchema.extend({
  uuid: z.string().nullable(),
  creation_time: z.number().nullable(),
  paused: z.boolean(),
  status: z.string().nullable(),
  pre_paused_status: z.string().nullable(),
  state: savedStateSchema,
  INPUTS_RAW: jsonValueSchema.optional(),
  INPUTS_PARSED: jsonValueSchema.optional(),
  OUTPUTS: jsonValueSchema.optional(),
});

/** A process class (any subclass of {@link Process}). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProcessClass<P extends Process = Process> = (new (...args: any[]) => P) & {
  readonly name: string;
  spec(): ProcessSpec<SpecTypes>;
};

/**
 * The phantom members through which an instance of a class made by `define` carries its spec's types.
 * Members such as `inputs`, `out` and `execute` read them through `this`, so they are typed in the class
 * body and outside it alike.
 */
export interface SpecPhantoms<S extends SpecTypes> {
  readonly '~inputs': NamespaceOut<S['inputs']>;
  readonly '~outputs': OutputsOf<S['outputs']>;
  readonly '~outValues': ExplicitOutValues<S['outputs']>;
  readonly '~dynamicOutPaths': DynamicOutPath<S['outputs']>;
  readonly '~dynamicOutValue': DynamicOutValue<S['outputs']>;
  readonly '~context': S['context'];
  readonly '~contextEntries': ContextEntries<S['context']>;
}

/** The constructor arguments of a process class with spec `S`: the options, required when inputs are. */
export type ProcessConstructorArgs<S extends SpecTypes> =
  Record<never, never> extends NamespaceIn<S['inputs']>
    ? [options?: ProcessOptions<NamespaceIn<S['inputs']>>]
    : [options: ProcessOptions<NamespaceIn<S['inputs']>> & { readonly inputs: NamespaceIn<S['inputs']> }];

/** The class `Base.define(build)` returns: `Base` with the spec `S` and the types that come with it. */
export type DefinedProcessClass<Base extends ProcessClass, S extends SpecTypes> = (new (
  ...args: ProcessConstructorArgs<S>
) => InstanceType<Base> & SpecPhantoms<S>) & {
  [K in keyof Base as K extends 'prototype' | '~plumpySpec' | 'exitCodes' ? never : K]: Base[K];
} & {
  readonly '~plumpySpec'?: S;
  /** The exit codes of the spec, by label. */
  readonly exitCodes: Readonly<Record<S['exitCodes'], LabelledExitCode>>;
};

const specs = new WeakMap<object, ProcessSpec<SpecTypes>>();

/**
 * The base of every process: a state machine (`created` → `running` ⇄ `waiting` → `finished` | `excepted` |
 * `killed`) that runs its steps on the shared event loop, checkpoints itself, and answers remote control.
 *
 * Define a process with `class Add extends Process.define(spec => spec.input(...).output(...)) { run() {...} }`:
 * the spec's types flow into `this.inputs`, `this.out()` and `execute()`. Subclasses extend lifecycle hooks
 * (`onCreate`, `onRun`, `onFinish`, ...) and must call the overridden hook; a missing call is detected and
 * fails the transition (plumpy's `super_check`). A hook may return a Promise; it is awaited before the next
 * step. Subclasses keep the single-argument constructor.
 */
export class Process {
  // Phantoms read by the typed members; classes made by `define` narrow them (see SpecPhantoms). They
  // are as wide as possible here, so that the narrowing intersection is exactly the defined type.
  declare readonly '~inputs': unknown;
  declare readonly '~outputs': unknown;
  declare readonly '~outValues': unknown;
  declare readonly '~dynamicOutPaths': unknown;
  declare readonly '~dynamicOutValue': unknown;
  declare readonly '~context': unknown;
  declare readonly '~contextEntries': unknown;

  /**
   * Phantom: the type-level spec of the class (declared as the widest spec so that every defined class is
   * a `typeof Process`; `SpecOf` reads it as the empty spec).
   */
  declare static readonly '~plumpySpec'?: SpecTypes;

  /** The state classes of processes of this class (override to swap one, as plumpy's `get_state_classes`). */
  static get stateClasses(): StateClasses {
    return DEFAULT_STATE_CLASSES;
  }

  /** The zod schema checkpoints of this class must match (subclasses extend it with their own fields). */
  static get checkpointSchema(): z.ZodType<Checkpoint> {
    return processCheckpointSchema as unknown as z.ZodType<Checkpoint>;
  }

  /** The process running the current step, on this async path (plumpy's `Process.current()`). */
  static current(): Process | undefined {
    return processScope.getStore();
  }

  /**
   * The class of this class's spec (override with a subclass of {@link ProcessSpec} to make other port
   * classes: aiida-ts's ports with serializers, say). A class whose parent has another spec class gets a
   * copy of the parent's ports in a spec of its own class.
   */
  static get specClass(): new () => ProcessSpec<SpecTypes> {
    return ProcessSpec;
  }

  /** The spec of this class; each class has its own (a copy of its parent's, grown by `define`). */
  static spec(): ProcessSpec<SpecTypes> {
    let spec = specs.get(this);
    if (spec === undefined) {
      const parent = Object.getPrototypeOf(this) as typeof Process;
      spec =
        parent === Function.prototype || !('spec' in parent)
          ? new this.specClass()
          : parent.spec().clone(this.specClass);
      specs.set(this, spec);
    }
    return spec;
  }

  /**
   * A subclass of this class whose spec is `build` applied to a copy of this class's spec: chaining to the
   * parent's definition is automatic. Ports added in `build` type the subclass's inputs and outputs. The
   * spec is built at once, so a bad definition fails where the class is defined.
   */
  static define<C extends ProcessClass, S extends SpecTypes>(
    this: C,
    build: (spec: ProcessSpec<SpecOf<C>>) => ProcessSpec<S>,
  ): DefinedProcessClass<C, [S] extends [never] ? SpecOf<C> : S> {
    const Defined = class extends (this as unknown as typeof Process) {};
    Object.defineProperty(Defined, 'name', { value: `${this.name}Definition` });
    const spec = this.spec().clone() as unknown as ProcessSpec<SpecOf<C>>;
    const built = build(spec) as unknown as ProcessSpec<SpecTypes>;
    specs.set(Defined, built);
    return Defined as unknown as DefinedProcessClass<C, [S] extends [never] ? SpecOf<C> : S>;
  }

  /** The exit codes of this class's spec, by label. */
  static get exitCodes(): Readonly<Record<string, LabelledExitCode>> {
    return this.spec().exitCodes.toRecord();
  }

  /** The class name (plumpy's `get_name`). */
  static getName(): string {
    return this.name;
  }

  /** `{description?, spec}` (plumpy's `get_description`); `description` is the static `description` if set. */
  static getDescription(): Record<string, unknown> {
    const description: Record<string, unknown> = {};
    const text = (this as { description?: unknown }).description;
    if (typeof text === 'string') description['description'] = text.trim();
    description['spec'] = this.spec().getDescription();
    return description;
  }

  /**
   * Recreates a process from a checkpoint. The checkpoint is checked completely (version, class, this
   * class's schema, the named methods) before the process is made; any problem is a
   * {@link PersistenceError} naming the pid, and nothing is left half-loaded (no subscriptions).
   */
  static load(checkpoint: unknown, context: LoadContext = {}): Process {
    const envelope = checkpointEnvelopeSchema.safeParse(checkpoint);
    const pidGuess = pidSchema.safeParse((checkpoint as { pid?: unknown } | null)?.pid);
    const pid = pidGuess.success ? pidGuess.data : undefined;
    if (!envelope.success) {
      throw new PersistenceError(`corrupt checkpoint: ${formatIssues(zodIssues(envelope.error))}`, pid);
    }
    if (envelope.data.version !== CHECKPOINT_VERSION) {
      throw new PersistenceError(
        `incompatible checkpoint version ${envelope.data.version} (this package reads version ${CHECKPOINT_VERSION})`,
        pid,
      );
    }
    const loader = context.loader ?? getObjectLoader();
    let cls: unknown;
    try {
      cls = loader.loadObject(envelope.data.class_name);
    } catch (error) {
      throw new PersistenceError(`cannot load the process class '${envelope.data.class_name}'`, pid, {
        cause: error,
      });
    }
    if (typeof cls !== 'function' || !(cls.prototype instanceof Process || cls === Process)) {
      throw new PersistenceError(`'${envelope.data.class_name}' is not a process class`, pid);
    }
    const processClass = cls as typeof Process;
    const parsed = processClass.checkpointSchema.safeParse(checkpoint);
    if (!parsed.success)
      throw new PersistenceError(`corrupt checkpoint: ${formatIssues(zodIssues(parsed.error))}`, pid);
    const issues = processClass.validateCheckpoint(parsed.data);
    if (issues.length > 0)
      throw new PersistenceError(`incompatible checkpoint: ${formatIssues(issues)}`, pid);
    const options: InternalOptions = {
      [LOAD]: parsed.data,
      ...(context.communicator === undefined ? {} : { communicator: context.communicator }),
      ...(context.persister === undefined ? {} : { persister: context.persister }),
      ...(context.logger === undefined ? {} : { logger: context.logger }),
      loader,
    };
    const process = new processClass(options);
    try {
      process.#boot();
    } catch (error) {
      throw new PersistenceError('the checkpoint cannot be loaded', pid, { cause: error });
    }
    return process;
  }

  /**
   * Checks a checkpoint that passed the schema against this class: the methods it names must exist.
   * Subclasses add their own checks (a work chain checks its stepper against its outline).
   */
  static validateCheckpoint(checkpoint: Checkpoint): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    const state = checkpoint['state'] as Record<string, unknown>;
    const stateClass = this.stateClasses[state['label'] as ProcessState];
    try {
      stateClass.fromJSON(schemaHost, state as StateJson);
    } catch (error) {
      issues.push({
        path: 'state',
        message: error instanceof z.ZodError ? formatIssues(zodIssues(error)) : String(error),
      });
      return issues;
    }
    for (const key of ['run_fn', 'done_callback'] as const) {
      const name = state[key];
      if (
        typeof name === 'string' &&
        typeof (this.prototype as unknown as Record<string, unknown>)[name] !== 'function'
      ) {
        issues.push({ path: `state.${key}`, message: `'${name}' is not a method of ${this.name}` });
      }
    }
    return issues;
  }

  // ---- instance ------------------------------------------------------------------------------------

  readonly #spec: ProcessSpec<SpecTypes>;
  readonly #machine: StateMachine<ProcessState, ProcessStateObject>;
  readonly #host: StateHost;
  readonly #listeners = new Set<ProcessListener>();
  /** Bits of {@link HOOK_BITS}: the hooks whose base implementation ran since their call began. */
  #reached = 0;
  readonly #effects: Promise<unknown>[] = [];
  readonly #immediates = new Set<NodeJS.Immediate>();
  #loadData: Checkpoint | undefined;
  #bootState: 'pending' | 'booting' | 'done' | 'failed' = 'pending';
  #bootError: unknown;
  #pid: Pid | undefined;
  #uuid: string | undefined;
  #creationTime: number | undefined;
  #rawInputs: Readonly<Record<string, unknown>> | undefined;
  #parsedInputs: Readonly<Record<string, unknown>> = Object.freeze({});
  #outputs: Record<string, unknown> = {};
  #status: string | null = null;
  #prePausedStatus: string | null = null;
  #paused: Deferred<boolean> | undefined;
  #pausing: CancellableAction | undefined;
  #killing: CancellableAction | undefined;
  #interruptAction: CancellableAction | undefined;
  #stepping = false;
  #inStep = false;
  #loop: Promise<void> | undefined;
  #closed = false;
  #cleanups: (() => unknown)[] = [];
  #future: Deferred<Readonly<Record<string, unknown>>> = deferred();
  #subscriptions: Promise<void> = Promise.resolve();
  #checkpoints: Promise<void> = SETTLED;
  readonly #communicator: Communicator | undefined;
  readonly #persister: Persister | undefined;
  readonly #loader: ObjectLoader;
  readonly #logger: Logger;

  constructor(options: ProcessOptions = {}) {
    const cls = this.constructor as typeof Process;
    this.#spec = cls.spec();
    this.#spec.seal();
    this.#communicator = options.communicator;
    this.#persister = options.persister;
    this.#loader = options.loader ?? getObjectLoader();
    this.#logger = options.logger ?? defaultLogger;
    this.#host = this.#makeHost();
    this.#machine = new StateMachine<ProcessState, ProcessStateObject>({
      allowed: ALLOWED,
      initial: ProcessState.CREATED,
      hooks: {
        entering: (next) => this.onEntering(next),
        entered: (previous) => this.onEntered(previous),
        exiting: () => this.onExiting(),
        terminated: () => this.#callHook('onTerminated'),
        transitionFailed: (error, from, to) => this.#transitionFailed(error, from, to),
      },
    });
    const load = (options as InternalOptions)[LOAD];
    if (load !== undefined) {
      this.#loadData = load;
    } else {
      if (options.inputs !== undefined) this.#rawInputs = freezeMappings(copyMappings({ ...options.inputs }));
      this.#parsedInputs = this.parseInputs(this.#rawInputs ?? {});
      this.#pid = options.pid;
      // Subclass fields are initialised only after this constructor returns, so the `created` transition
      // (which runs overridable hooks) happens on first use or in a microtask, whichever comes first.
      queueMicrotask(() => {
        try {
          this.#boot();
        } catch (error) {
          this.#logger.error({ error, process: cls.name }, 'process creation failed');
        }
      });
    }
  }

  /**
   * Fills in defaults and validates `raw` against the input ports; returns the parsed, frozen inputs or
   * throws a {@link ValidationError} listing every failing port. Override to change how inputs are read.
   */
  protected parseInputs(raw: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    const namespace = this.#spec.inputs;
    const result = namespace.parse(namespace.preProcess(raw));
    if (!result.ok) throw new ValidationError(`the inputs of ${this.constructor.name}`, result.issues);
    return freezeMappings((result.value === UNSPECIFIED ? {} : result.value) as Record<string, unknown>);
  }

  #makeHost(): StateHost {
    return {
      process: this,
      runStep: (name, args) => {
        const method = (this as unknown as Record<string, unknown>)[name];
        if (typeof method !== 'function')
          throw new InvalidStateError(`'${name}' is not a method of ${this.constructor.name}`);
        return processScope.run(this, () =>
          (method as (...a: unknown[]) => unknown).apply(this, args as unknown[]),
        );
      },
      stepName: (step) => this.#stepName(step),
      createState: (label, data) => this.#createState(label, data),
      encode: (value) => this.encodeValue(value),
      decode: (json) => this.decodeValue(json),
    };
  }

  #stepName(step: StepRef): string {
    const self = this as unknown as Record<string, unknown>;
    if (typeof step === 'string') {
      if (typeof self[step] !== 'function')
        throw new InvalidStateError(`'${step}' is not a method of ${this.constructor.name}`);
      return step;
    }
    const name = step.name.startsWith('bound ') ? step.name.slice('bound '.length) : step.name;
    if (name === '' || typeof self[name] !== 'function') {
      throw new InvalidStateError(
        `a step must be a method of the process (it is kept by name in checkpoints); '${name || '<anonymous>'}' is not a method of ${this.constructor.name}`,
      );
    }
    return name;
  }

  #createState<L extends ProcessState>(label: L, data: StateData[L]): ProcessStateObject {
    const Cls = (this.constructor as typeof Process).stateClasses[label];
    return new Cls(this.#host, data);
  }

  /** Runs the initial transition (or the load) once; later calls return at once (or rethrow its failure). */
  #boot(): void {
    if (this.#bootState === 'done' || this.#bootState === 'booting') return;
    if (this.#bootState === 'failed') throw this.#bootError;
    this.#bootState = 'booting';
    try {
      const load = this.#loadData;
      if (load !== undefined) {
        this.#loadData = undefined;
        this.#restore(load);
      } else {
        this.#machine.transitionTo(this.#createState(ProcessState.CREATED, { runFn: 'run', args: [] }));
      }
      if (!this.#closed) {
        this.#callHook('init');
        const key = `${typeof this.pid}:${String(this.pid)}`;
        liveProcesses.set(key, new WeakRef(this));
        forgetCollected.register(this, key);
      }
      this.#bootState = 'done';
    } catch (error) {
      this.#bootState = 'failed';
      this.#bootError = error;
      this.#future.reject(error);
      throw error;
    }
  }

  #restore(data: Checkpoint): void {
    this.#pid = data['pid'] as Pid;
    this.#uuid = (data['uuid'] as string | null) ?? undefined;
    this.#creationTime = (data['creation_time'] as number | null) ?? undefined;
    this.#status = data['status'] as string | null;
    this.#prePausedStatus = data['pre_paused_status'] as string | null;
    if ('INPUTS_RAW' in data)
      this.#rawInputs = freezeMappings(this.decodeValue(data['INPUTS_RAW']) as Record<string, unknown>);
    if ('INPUTS_PARSED' in data)
      this.#parsedInputs = freezeMappings(this.decodeValue(data['INPUTS_PARSED']) as Record<string, unknown>);
    this.#outputs = 'OUTPUTS' in data ? (this.decodeValue(data['OUTPUTS']) as Record<string, unknown>) : {};
    const saved = data['state'] as StateJson;
    const state = (this.constructor as typeof Process).stateClasses[saved.label].fromJSON(this.#host, saved);
    if (data['paused'] === true) this.#paused = deferred();
    this.#callHook('loadInstanceState', data);
    this.#machine.restore(state);
    if (state instanceof Finished) this.#future.resolve(this.#outputs);
    else if (state instanceof Killed) this.#future.reject(state.toError());
    else if (state instanceof Excepted) this.#future.reject(state.error);
    // A terminated process has nothing left to do: it comes back closed, without subscriptions.
    if (state.isTerminal) this.#closed = true;
  }

  // ---- hooks -----------------------------------------------------------------------------------------

  #reach(hook: CheckedHook): void {
    this.#reached |= HOOK_BITS[hook];
  }

  #callHook(hook: CheckedHook, ...args: unknown[]): void {
    const bit = HOOK_BITS[hook];
    this.#reached &= ~bit;
    const result = (this[hook] as (...a: unknown[]) => unknown).apply(this, args);
    if ((this.#reached & bit) === 0) {
      throw new MissingSuperCallError(
        `${this.constructor.name}.${hook}() did not call super.${hook}(); every override of a lifecycle hook must`,
      );
    }
    if (isThenable(result)) this.#trackEffect(result);
  }

  #trackEffect(work: PromiseLike<unknown>): void {
    this.#effects.push(
      Promise.resolve(work).catch((error: unknown) => {
        if (this.#machine.isTerminated()) {
          this.#logger.error(
            { error, pid: this.#pid },
            'an asynchronous hook failed after the process terminated',
          );
        } else {
          this.#fail(error);
        }
      }),
    );
  }

  /**
   * Awaits `work` before the next step (and before `ready()` settles); if it rejects the process fails.
   * For asynchronous side effects of hooks that cannot return them.
   */
  protected defer(work: PromiseLike<unknown>): void {
    this.#trackEffect(work);
  }

  /** Settles when the hooks' work and the checkpoints asked for so far are done. */
  #flushEffects(): Promise<void> {
    // Most steps of a process that is not checkpointed leave nothing behind: no async frame for them.
    if (this.#effects.length === 0 && this.#checkpoints === SETTLED) return SETTLED;
    return this.#drainEffects();
  }

  async #drainEffects(): Promise<void> {
    while (this.#effects.length > 0) await Promise.all(this.#effects.splice(0));
    await this.#checkpoints;
  }

  /** Dispatches the entering hook of `state` (override to intercept; call super). */
  protected onEntering(state: ProcessStateObject): void {
    switch (state.label) {
      case ProcessState.CREATED:
        return this.#callHook('onCreate');
      case ProcessState.RUNNING:
        return this.#callHook('onRun');
      case ProcessState.WAITING:
        return this.#callHook('onWait', (state as Waiting).data);
      case ProcessState.FINISHED:
        return this.#callHook('onFinish', (state as Finished).result, (state as Finished).successful);
      case ProcessState.KILLED:
        return this.#callHook('onKill', (state as Killed).msg);
      case ProcessState.EXCEPTED:
        return this.#callHook('onExcept', (state as Excepted).error);
    }
  }

  /**
   * Dispatches the entered hook of the new state, broadcasts `state_changed.<from>.<to>` and checkpoints
   * (override to intercept; call super).
   */
  protected onEntered(fromState: ProcessStateObject | undefined): void {
    const label = this.#machine.label as ProcessState;
    // Checkpoint first, so that listeners (which may act on the process) see it saved as it entered.
    this.#checkpoint();
    switch (label) {
      case ProcessState.RUNNING:
        this.#callHook('onRunning');
        break;
      case ProcessState.WAITING:
        this.#callHook('onWaiting');
        break;
      case ProcessState.FINISHED:
        this.#callHook('onFinished');
        break;
      case ProcessState.EXCEPTED:
        this.#callHook('onExcepted');
        break;
      case ProcessState.KILLED:
        this.#callHook('onKilled');
        break;
      case ProcessState.CREATED:
        break;
    }
    this.#broadcastStateChange(fromState?.label ?? null, label);
  }

  /** Dispatches the exiting hook of the current state (override to intercept; call super). */
  protected onExiting(): void {
    const label = this.#machine.label;
    if (label === ProcessState.WAITING) this.#callHook('onExitWaiting');
    else if (label === ProcessState.RUNNING) this.#callHook('onExitRunning');
  }

  /** Common set-up after creation or loading: subscribes to the communicator. Overrides must call super. */
  protected init(): HookResult {
    this.#reach('init');
    const communicator = this.#communicator;
    if (communicator === undefined) return;
    const identifier = String(this.pid);
    const subscribe = async (
      add: () => Promise<string>,
      remove: (id: string) => Promise<void>,
      what: string,
    ): Promise<void> => {
      try {
        const id = await add();
        if (this.#closed) await remove(id);
        else this.#cleanups.push(() => remove(id));
      } catch (error) {
        this.#logger.warn({ error, pid: this.pid }, `process failed to register as ${what} subscriber`);
      }
    };
    this.#subscriptions = Promise.all([
      subscribe(
        () => communicator.addRpcSubscriber((message) => this.messageReceive(message), identifier),
        (id) => communicator.removeRpcSubscriber(id),
        'an RPC',
      ),
      subscribe(
        () =>
          communicator.addBroadcastSubscriber(
            new BroadcastFilter((message) => this.broadcastReceive(message), {
              subject: NOT_STATE_CHANGED,
            }),
            identifier,
          ),
        (id) => communicator.removeBroadcastSubscriber(id),
        'a broadcast',
      ),
    ]).then(() => undefined);
  }

  /** Entering `created`: records creation time, uuid and (unless given) pid. Overrides must call super. */
  protected onCreate(): HookResult {
    this.#reach('onCreate');
    this.#creationTime = Date.now() / 1000;
    this.#uuid = randomUUID();
    this.#pid ??= this.#uuid;
  }

  /** Entering `running`. Overrides must call super. */
  protected onRun(): HookResult {
    this.#reach('onRun');
  }

  /** Entered `running`. Overrides must call super. */
  protected onRunning(): HookResult {
    this.#reach('onRunning');
    this.#fire('onProcessRunning');
  }

  /** Entering `waiting` with the wait's data. Overrides must call super. */
  protected onWait(_data: unknown): HookResult {
    this.#reach('onWait');
  }

  /** Entered `waiting`. Overrides must call super. */
  protected onWaiting(): HookResult {
    this.#reach('onWaiting');
    this.#fire('onProcessWaiting');
  }

  /** Leaving `running`. Overrides must call super. */
  protected onExitRunning(): HookResult {
    this.#reach('onExitRunning');
  }

  /** Leaving `waiting`. Overrides must call super. */
  protected onExitWaiting(): HookResult {
    this.#reach('onExitWaiting');
  }

  /**
   * Entering `finished`: a successful result requires valid outputs (else the process finishes
   * unsuccessfully instead); settles `future()` with the outputs. Overrides must call super.
   */
  protected onFinish(result: unknown, successful: boolean): HookResult {
    this.#reach('onFinish');
    if (successful) {
      const check = this.#spec.outputs.parse(this.#outputs, []);
      if (!check.ok) {
        this.#logger.warn(
          { pid: this.#pid, issues: check.issues },
          `the outputs are invalid: ${formatIssues(check.issues)}`,
        );
        throw new StateEntryFailed(this.#createState(ProcessState.FINISHED, { result, successful: false }));
      }
    }
    this.#settleFuture().resolve(this.#outputs);
  }

  /** Entered `finished`. Overrides must call super. */
  protected onFinished(): HookResult {
    this.#reach('onFinished');
    this.#fire('onProcessFinished', this.#outputs);
  }

  /** Entering `excepted`: `future()` rejects with the error. Overrides must call super. */
  protected onExcept(error: unknown): HookResult {
    this.#reach('onExcept');
    this.#settleFuture().reject(error);
  }

  /** Entered `excepted`. Overrides must call super. */
  protected onExcepted(): HookResult {
    this.#reach('onExcepted');
    const error = (this.#machine.state as Excepted).error;
    this.#fire('onProcessExcepted', error instanceof Error ? error.message : String(error));
  }

  /** Entering `killed`: the status becomes the kill message; `future()` rejects with {@link KilledError}. */
  protected onKill(msg: KillMessage | null): HookResult {
    this.#reach('onKill');
    const text = msg?.message ?? '';
    this.#status = text;
    this.#settleFuture().reject(new KilledError(text));
  }

  /** Entered `killed`. Overrides must call super. */
  protected onKilled(): HookResult {
    this.#reach('onKilled');
    this.#killing = undefined;
    this.#fire('onProcessKilled', (this.#machine.state as Killed).msg);
  }

  /** The process is being paused. Overrides must call super. */
  protected onPausing(_message: string | null): HookResult {
    this.#reach('onPausing');
  }

  /** The process was paused: the status becomes the pause message (the old one is kept). Call super. */
  protected onPaused(message: string | null): HookResult {
    this.#reach('onPaused');
    this.#pausing = undefined;
    this.#paused = deferred();
    this.#prePausedStatus = this.#status;
    if (message !== null) this.#status = message;
    this.#checkpoint();
    this.#fire('onProcessPaused');
  }

  /** The process was played: the status from before the pause comes back. Overrides must call super. */
  protected onPlaying(): HookResult {
    this.#reach('onPlaying');
    this.#paused?.resolve(true);
    this.#paused = undefined;
    this.#status = this.#prePausedStatus;
    this.#prePausedStatus = null;
    this.#fire('onProcessPlayed');
  }

  /** An output is about to be recorded. */
  protected onOutputEmitting(_port: string, _value: unknown): void {}

  /** An output was recorded. */
  protected onOutputEmitted(port: string, value: unknown, dynamic: boolean): void {
    this.#fire('onOutputEmitted', port, value, dynamic);
  }

  /** A terminal state was entered: closes the process. Overrides must call super. */
  protected onTerminated(): HookResult {
    this.#reach('onTerminated');
    return this.close();
  }

  /** The process is closing: cleanups run (subscriptions are removed). Overrides must call super. */
  protected onClose(): HookResult {
    this.#reach('onClose');
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    const pending: Promise<unknown>[] = [];
    for (const cleanup of cleanups) {
      try {
        const result = cleanup();
        if (isThenable(result)) pending.push(Promise.resolve(result));
      } catch (error) {
        this.#logger.error({ error, pid: this.#pid }, 'a process cleanup failed');
      }
    }
    for (const handle of this.#immediates) clearImmediate(handle);
    this.#immediates.clear();
    this.#paused?.resolve(false);
    if (pending.length > 0) {
      return Promise.all(
        pending.map((p) =>
          p.catch((error: unknown) =>
            this.#logger.error({ error, pid: this.#pid }, 'a process cleanup failed'),
          ),
        ),
      );
    }
  }

  /** Adds keys to a checkpoint being written. Overrides must call super. */
  protected saveInstanceState(_out: Record<string, JsonValue>): void {
    this.#reach('saveInstanceState');
  }

  /** Restores what `saveInstanceState` added, before the state is restored. Overrides must call super. */
  protected loadInstanceState(_saved: Checkpoint): void {
    this.#reach('loadInstanceState');
  }

  #settleFuture(): Deferred<Readonly<Record<string, unknown>>> {
    // A process can fail after finishing (an `entered` hook throws); its future then reports the failure.
    if (this.#future.settled) this.#future = deferred();
    return this.#future;
  }

  #fire<E extends ProcessListenerEvent>(event: E, ...args: unknown[]): void {
    if (this.#listeners.size === 0) return;
    for (const listener of [...this.#listeners]) {
      const handler = listener[event] as ((process: Process, ...a: unknown[]) => void) | undefined;
      if (handler === undefined) continue;
      try {
        handler.call(listener, this, ...args);
      } catch (error) {
        this.#logger.error({ error, pid: this.#pid, event }, 'a process listener failed');
      }
    }
  }

  #broadcastStateChange(from: ProcessState | null, to: ProcessState): void {
    const communicator = this.#communicator;
    if (communicator === undefined || communicator.isClosed()) return;
    const subject = `state_changed.${from ?? 'None'}.${to}`;
    communicator.broadcastSend(null, { sender: this.#pid ?? null, subject }).catch((error: unknown) => {
      this.#logger.warn({ error, pid: this.#pid, subject }, 'could not broadcast a state change');
    });
  }

  #checkpoint(): void {
    const persister = this.#persister;
    if (persister === undefined) return;
    let snapshot: Checkpoint;
    try {
      snapshot = this.save();
    } catch (error) {
      const failure = new PersistenceError(
        `cannot save a checkpoint: ${error instanceof Error ? error.message : String(error)}`,
        this.#pid,
        { cause: error },
      );
      // A terminated process keeps no checkpoint: a value that cannot be saved must not stop it from ending (it is
      // ending excepted by this very failure, when the state it entered could not be saved).
      if (this.#machine.isTerminated()) {
        this.#logger.error({ error: failure, pid: this.#pid }, 'a checkpoint could not be saved');
        return;
      }
      throw failure;
    }
    const source = { pid: this.#pid as Pid, save: () => snapshot };
    // Writes of one process are chained, so an older checkpoint can never overwrite a newer one.
    this.#checkpoints = this.#checkpoints.then(() =>
      persister.saveCheckpoint(source).catch((error: unknown) => {
        if (this.#machine.isTerminated())
          this.#logger.error({ error, pid: this.#pid }, 'a checkpoint could not be saved');
        else this.#fail(error);
      }),
    );
  }

  #transitionFailed(
    error: unknown,
    from: ProcessStateObject | undefined,
    to: ProcessStateObject,
  ): ProcessStateObject {
    // A failure to be created is a failure to construct: it propagates (as in plumpy).
    if (to.label === ProcessState.CREATED) throw error;
    // An illegal request on a terminated process is a programming error for its caller.
    if (
      error instanceof Error &&
      error.name === 'TransitionFailedError' &&
      from !== undefined &&
      from.isTerminal
    )
      throw error;
    return this.#createState(ProcessState.EXCEPTED, { error });
  }

  #fail(error: unknown): void {
    if (this.#machine.isTerminated()) return;
    this.#machine.transitionTo(this.#createState(ProcessState.EXCEPTED, { error }));
  }

  // ---- state queries ---------------------------------------------------------------------------------

  /** The label of the current state. */
  get state(): ProcessState {
    this.#boot();
    return this.#machine.label as ProcessState;
  }

  /** The current state object (with its data: result, error, kill message, ...). */
  get stateObject(): ProcessStateObject {
    this.#boot();
    return this.#machine.state as ProcessStateObject;
  }

  get pid(): Pid {
    this.#boot();
    return this.#pid as Pid;
  }

  /** Replaces the pid (before subscriptions are made, i.e. from `onCreate`: aiida-ts uses the node pk). */
  protected setPid(pid: Pid): void {
    this.#pid = pid;
  }

  get uuid(): string | undefined {
    this.#boot();
    return this.#uuid;
  }

  /** Seconds since the epoch when the process was created (as plumpy's `time.time()`). */
  get creationTime(): number | undefined {
    this.#boot();
    return this.#creationTime;
  }

  /** The inputs as given (frozen copy), or undefined when none were given. */
  get rawInputs(): Readonly<Record<string, unknown>> | undefined {
    return this.#rawInputs;
  }

  /** The parsed inputs: defaults filled in, values converted by their schemas, read-only. */
  get inputs(): this['~inputs'] {
    return this.#parsedInputs;
  }

  /** The outputs emitted so far. */
  get outputs(): Partial<this['~outputs']> {
    return this.#outputs;
  }

  get status(): string | null {
    this.#boot();
    return this.#status;
  }

  /** Sets the status message. */
  setStatus(status: string | null): void {
    this.#status = status;
  }

  get paused(): boolean {
    this.#boot();
    return this.#paused !== undefined;
  }

  get isKilling(): boolean {
    return this.#killing !== undefined;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get logger(): Logger {
    return this.#logger;
  }

  get communicator(): Communicator | undefined {
    return this.#communicator;
  }

  get persister(): Persister | undefined {
    return this.#persister;
  }

  get loader(): ObjectLoader {
    return this.#loader;
  }

  /** The spec of this process's class. */
  spec(): ProcessSpec<SpecTypes> {
    return this.#spec;
  }

  hasTerminated(): boolean {
    this.#boot();
    return this.#machine.isTerminated();
  }

  /**
   * The result: the finished state's result; throws {@link KilledError} if killed, the error if excepted,
   * {@link InvalidStateError} otherwise.
   */
  result(): unknown {
    const state = this.stateObject;
    if (state instanceof Finished) return state.result;
    if (state instanceof Killed) throw state.toError();
    if (state instanceof Excepted) throw state.error;
    throw new InvalidStateError(`the process has no result in state '${state.label}'`);
  }

  /** Whether the finished process was successful; {@link InvalidStateError} if it has not finished. */
  successful(): boolean {
    const state = this.stateObject;
    if (state instanceof Finished) return state.successful;
    throw new InvalidStateError('the process is not in the finished state');
  }

  /** True when finished successfully. */
  get isSuccessful(): boolean {
    const state = this.stateObject;
    return state instanceof Finished && state.successful;
  }

  /** The exit code of a finished process: its result if that is an {@link ExitCode}, else 0 or 1 by success. */
  get exitCode(): ExitCode | undefined {
    const state = this.stateObject;
    if (!(state instanceof Finished)) return undefined;
    if (state.result instanceof ExitCode) return state.result;
    return new ExitCode(state.successful ? 0 : 1);
  }

  killed(): boolean {
    return this.state === ProcessState.KILLED;
  }

  /** The kill message; {@link InvalidStateError} if the process was not killed. */
  killedMsg(): KillMessage | null {
    const state = this.stateObject;
    if (state instanceof Killed) return state.msg;
    throw new InvalidStateError('the process has not been killed');
  }

  /** The error of an excepted process, else undefined. */
  exception(): unknown {
    const state = this.stateObject;
    return state instanceof Excepted ? state.error : undefined;
  }

  get isExcepted(): boolean {
    return this.state === ProcessState.EXCEPTED;
  }

  /** Settles when the process terminates: outputs, or the error / {@link KilledError}. */
  future(): Promise<this['~outputs']> {
    this.#boot();
    return this.#future.promise;
  }

  /** Settles once the process is created (or loaded), subscribed to its communicator and its hooks' work done. */
  async ready(): Promise<void> {
    this.#boot();
    await this.#subscriptions;
    await this.#flushEffects();
  }

  /** `{ctime, paused, process_string, state}` (plumpy's `get_status_info`, strings as plumpy writes them). */
  getStatusInfo(): StatusInfo {
    // `ctime` is a Python float (`time.time()`): marked so that aiida's YAML writes an integral one as `N.0`.
    return withFloatKeys(
      {
        ctime: this.creationTime ?? null,
        paused: this.paused,
        process_string: this.toString(),
        state: `ProcessState.${this.state.toUpperCase()}`,
      },
      ['ctime'],
    );
  }

  toString(): string {
    return `<${this.constructor.name}> (ProcessState.${(this.#machine.label ?? 'none').toUpperCase()})`;
  }

  addProcessListener(listener: ProcessListener): void {
    if ((listener as unknown) === this) throw new InvalidStateError('a process cannot listen to itself');
    this.#listeners.add(listener);
  }

  removeProcessListener(listener: ProcessListener): void {
    this.#listeners.delete(listener);
  }

  /** Registers a function to run when the process closes (plumpy's `add_cleanup`). */
  addCleanup(cleanup: () => unknown): void {
    this.#ensureNotClosed('add a cleanup');
    this.#cleanups.push(cleanup);
  }

  /** Logs `message` for this process (override to keep reports elsewhere: aiida-ts stores log records). */
  report(message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.#logger.info({ ...fields, pid: this.#pid, process: this.constructor.name }, message);
  }

  /**
   * Closes the process: no more steps; cleanups run. Safe to call more than once. Resolves when the
   * cleanups (removing subscriptions) are done.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    liveProcesses.delete(`${typeof this.#pid}:${String(this.#pid)}`);
    const before = this.#effects.length;
    this.#callHook('onClose');
    const pending = this.#effects.slice(before);
    return Promise.all(pending).then(() => undefined);
  }

  /** Closes the process (`await using process = new P(...)`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #ensureNotClosed(what: string): void {
    if (this.#closed) throw new ClosedError(`cannot ${what}: the process is closed`);
  }

  // ---- running ---------------------------------------------------------------------------------------

  /** The first step; override it. Return a {@link Command} to continue, wait, stop or kill. */
  run(): unknown {
    return undefined;
  }

  /**
   * Runs the process to its end (plumpy's `execute`): resolves to the outputs, rejects with the process's
   * error or a {@link KilledError}. Works from inside another process's step (nested processes share the
   * event loop). A closed process throws {@link ClosedError}.
   */
  async execute(): Promise<this['~outputs']> {
    this.#boot();
    this.#ensureNotClosed('execute');
    await this.stepUntilTerminated();
    return this.#future.promise;
  }

  /** Steps until a terminal state (plumpy's `step_until_terminated`); one loop per process. */
  stepUntilTerminated(): Promise<void> {
    this.#boot();
    this.#loop ??= this.#runLoop().finally(() => {
      this.#loop = undefined;
    });
    return this.#loop;
  }

  async #runLoop(): Promise<void> {
    await this.ready();
    while (!this.#machine.isTerminated()) await this.step();
    await this.#flushEffects();
  }

  /**
   * Runs one step: executes the current state and moves to the next. Waits first if the process is paused.
   * A pause or kill requested meanwhile takes effect when the step's work returns.
   */
  async step(): Promise<void> {
    this.#boot();
    this.#ensureNotClosed('step');
    if (this.#machine.isTerminated()) throw new InvalidStateError('cannot step: the process has terminated');
    if (this.#inStep) throw new InvalidStateError('the process is already stepping');
    this.#inStep = true;
    try {
      const paused = this.#paused;
      if (paused !== undefined) await paused.promise;
      if (this.#machine.isTerminated()) return;
      await this.#stepOnce();
    } finally {
      this.#inStep = false;
    }
    await this.#flushEffects();
  }

  async #stepOnce(): Promise<void> {
    const current = this.#machine.state as ProcessStateObject;
    this.#stepping = true;
    try {
      let next: ProcessStateObject | undefined;
      try {
        const outcome = processScope.run(this, () => current.execute());
        next = isThenable(outcome) ? await outcome : outcome;
      } catch (error) {
        if (error instanceof StateExited) return;
        if (error instanceof Interruption) {
          if (this.#interruptAction === undefined || this.#interruptAction.cookie !== error) {
            this.#setInterruptActionFromException(error);
          }
        } else {
          next = this.#createState(ProcessState.EXCEPTED, { error });
          this.#setInterruptAction(undefined);
        }
      }
      // A forced kill (or a failure) moved the process on while the step ran: its outcome is void.
      if (this.#machine.state !== current) return;
      const action = this.#interruptAction;
      if (action !== undefined && !action.cancelled()) action.run(next);
      else if (next !== undefined) this.#machine.transitionTo(next);
    } finally {
      this.#stepping = false;
      this.#setInterruptAction(undefined);
    }
  }

  #setInterruptAction(action: CancellableAction | undefined): void {
    this.#interruptAction?.cancel();
    this.#interruptAction = action;
  }

  #setInterruptActionFromException(interruption: Interruption): void {
    this.#setInterruptAction(this.#createInterruptAction(interruption));
  }

  #createInterruptAction(interruption: Interruption): CancellableAction {
    if (interruption instanceof PauseInterruption) {
      return new CancellableAction<unknown>(
        (next) => this.#doPause(interruption.msg.message, next as ProcessStateObject | undefined),
        interruption,
      );
    }
    if (interruption instanceof KillInterruption) {
      return new CancellableAction<unknown>(() => {
        try {
          this.#machine.transitionTo(this.#createState(ProcessState.KILLED, { msg: interruption.msg }));
          return true;
        } finally {
          this.#killing = undefined;
        }
      }, interruption);
    }
    throw new InvalidStateError(`unknown interruption ${interruption.constructor.name}`);
  }

  #doPause(message: string | null, next?: ProcessStateObject): boolean {
    try {
      if (next !== undefined) this.#machine.transitionTo(next);
      this.#callHook('onPausing', message);
      this.#callHook('onPaused', message);
    } finally {
      this.#pausing = undefined;
    }
    return true;
  }

  /**
   * Pauses the process (plumpy's semantics): false if terminated, true if already paused or paused now;
   * while a step runs, a {@link CancellableAction} that settles when the pause takes effect (when the
   * step returns, or at once for a waiting process).
   */
  pause(message: string | null = null): boolean | CancellableAction {
    this.#boot();
    if (this.#machine.isTerminated()) return false;
    if (this.#paused !== undefined) return true;
    if (this.#pausing !== undefined) return this.#pausing;
    if (this.#stepping) {
      const interruption = new PauseInterruption(message);
      this.#setInterruptActionFromException(interruption);
      this.#pausing = this.#interruptAction;
      (this.#machine.state as ProcessStateObject).interrupt(interruption);
      return this.#interruptAction as CancellableAction;
    }
    return this.#doPause(message);
  }

  /** Plays a paused process (or cancels a pending pause); true. */
  play(): boolean {
    this.#boot();
    if (this.#paused === undefined) {
      if (this.#pausing !== undefined) {
        this.#pausing.cancel();
        this.#pausing = undefined;
        this.#setInterruptAction(undefined);
      }
      return true;
    }
    this.#callHook('onPlaying');
    return true;
  }

  /**
   * Kills the process (plumpy's semantics): true if killed now or already killed, false if otherwise
   * terminated. `forceKill` kills at once, whatever runs; otherwise a running step completes first (a
   * {@link CancellableAction} is returned), while a waiting or paused process is killed at once.
   */
  kill(
    message: string | null = null,
    options: { readonly forceKill?: boolean } = {},
  ): boolean | CancellableAction {
    this.#boot();
    const forceKill = options.forceKill ?? false;
    if (this.#machine.label === ProcessState.KILLED) return true;
    if (this.#machine.isTerminated()) return false;
    this.#killing?.cancel();
    if (forceKill) {
      this.#machine.transitionTo(
        this.#createState(ProcessState.KILLED, { msg: MessageBuilder.kill(message, true) }),
      );
      return true;
    }
    if (this.#stepping) {
      const interruption = new KillInterruption(message, forceKill);
      this.#setInterruptActionFromException(interruption);
      this.#killing = this.#interruptAction;
      (this.#machine.state as ProcessStateObject).interrupt(interruption);
      return this.#interruptAction as CancellableAction;
    }
    this.#machine.transitionTo(
      this.#createState(ProcessState.KILLED, { msg: MessageBuilder.kill(message, forceKill) }),
    );
    return true;
  }

  /** Ends the wait of a waiting process (optionally with a value for its callback); {@link EventError} otherwise. */
  resume(...value: [] | [unknown]): void {
    const state = this.stateObject;
    if (!(state instanceof Waiting)) throw new EventError(`resume is invalid in state '${state.label}'`);
    state.resume(...value);
  }

  /** Fails the process with `error` (to `excepted`); {@link InvalidStateError} if it has terminated. */
  fail(error: unknown): void {
    this.#boot();
    if (this.#machine.isTerminated())
      throw new InvalidStateError(`cannot fail a process in state '${this.#machine.label}'`);
    this.#fail(error);
  }

  /** Runs `callback` soon, in the process's scope; if it throws, the process fails (plumpy's `call_soon`). */
  callSoon(callback: () => unknown): void {
    this.#ensureNotClosed('schedule a callback');
    const handle = setImmediate(() => {
      this.#immediates.delete(handle);
      Promise.resolve()
        .then(() => processScope.run(this, callback))
        .catch((error: unknown) => {
          if (this.#machine.isTerminated())
            this.#logger.error({ error, pid: this.#pid }, 'a scheduled callback failed');
          else this.#fail(error);
        });
    });
    this.#immediates.add(handle);
  }

  /**
   * Starts a child process on the same event loop with this process's communicator, persister, logger
   * and loader, and returns it (await `child.future()`, or put it in a work chain's context).
   */
  launch<C extends ProcessClass>(processClass: C, ...args: ConstructorParameters<C>): InstanceType<C> {
    this.#ensureNotClosed('launch a process');
    const given = (args[0] ?? {}) as ProcessOptions;
    const child = new processClass({
      ...(this.#communicator === undefined ? {} : { communicator: this.#communicator }),
      ...(this.#persister === undefined ? {} : { persister: this.#persister }),
      logger: this.#logger,
      loader: this.#loader,
      ...given,
    }) as InstanceType<C>;
    child
      .stepUntilTerminated()
      .catch((error: unknown) =>
        this.#logger.error({ error, pid: child.pid }, 'a launched process failed to run'),
      );
    return child;
  }

  /**
   * The inputs of this process that were exposed from `processClass` (in `namespace`), ready to pass to
   * it (aiida's `exposed_inputs`).
   */
  exposedInputs<C extends ProcessClass>(
    processClass: C,
    namespace?: string,
  ): NamespaceIn<SpecOf<C>['inputs']> {
    const byClass = this.#spec.exposedInputs.get(namespace ?? null);
    const names = byClass?.get(processClass);
    if (names === undefined)
      throw new InvalidStateError(
        `no inputs of ${processClass.name} were exposed${namespace === undefined ? '' : ` in '${namespace}'`}`,
      );
    let values: unknown = this.#parsedInputs;
    if (namespace !== undefined) {
      for (const part of namespace.split(NAMESPACE_SEPARATOR))
        values = isPlainObject(values) ? values[part] : undefined;
    }
    const source = isPlainObject(values) ? values : {};
    const out: Record<string, unknown> = {};
    for (const name of names) if (source[name] !== undefined) out[name] = source[name];
    return out as NamespaceIn<SpecOf<C>['inputs']>;
  }

  // ---- outputs ---------------------------------------------------------------------------------------

  /**
   * Records an output; the value is checked against its port (or the dynamic namespace), at compile time
   * for the ports of the spec and at run time always ({@link ValidationError} if invalid).
   */
  out<P extends keyof this['~outValues'] & string>(port: P, value: this['~outValues'][P]): void;
  /** Records an output under a dynamic namespace. */
  out<P extends this['~dynamicOutPaths'] & string>(port: P, value: this['~dynamicOutValue']): void;
  out(port: string, value: unknown): void {
    this.writeOutput(port, value);
  }

  /**
   * Records an output without compile-time checking of the port (for generic code); the value is still
   * validated against its port or the dynamic namespace ({@link ValidationError} if invalid).
   */
  protected writeOutput(port: string, value: unknown): void {
    this.#ensureNotClosed('emit an output');
    this.onOutputEmitting(port, value);
    const parts = port.split(NAMESPACE_SEPARATOR);
    const name = parts.pop() as string;
    let namespace: PortNamespace = this.#spec.outputs;
    const crumbs: string[] = [namespace.name];
    let dynamicPath: string[] | undefined;
    for (const part of parts) {
      const next = namespace.get(part);
      if (next instanceof PortNamespace) {
        crumbs.push(next.name);
        namespace = next;
        continue;
      }
      if (next !== undefined)
        throw new ValidationError(`output '${port}'`, [
          { path: [...crumbs, part].join('.'), message: `'${part}' is a port, not a namespace` },
        ]);
      dynamicPath = parts.slice(parts.indexOf(part));
      break;
    }
    let parsed: unknown;
    let dynamic: boolean;
    if (dynamicPath === undefined && namespace.has(name)) {
      const result = (namespace.get(name) as Port).parse(value, crumbs);
      if (!result.ok) throw new ValidationError(`output '${port}'`, result.issues);
      parsed = result.value;
      dynamic = false;
    } else {
      const tail = [...(dynamicPath ?? []), name];
      let wrapped: unknown = value;
      for (const key of [...tail].reverse()) wrapped = { [key]: wrapped };
      const result = namespace.parseDynamicValues(wrapped as Record<string, unknown>, crumbs.slice(0, -1));
      if (!result.ok) throw new ValidationError(`output '${port}'`, result.issues);
      parsed = value;
      let unwrapped: unknown = result.value;
      for (const key of tail) unwrapped = (unwrapped as Record<string, unknown>)[key];
      parsed = unwrapped;
      dynamic = true;
    }
    let target = this.#outputs;
    for (const part of parts) {
      const sub = target[part];
      if (isPlainObject(sub)) target = sub;
      else {
        const created: Record<string, unknown> = {};
        target[part] = created;
        target = created;
      }
    }
    target[name] = parsed;
    this.onOutputEmitted(port, parsed, dynamic);
  }

  // ---- persistence -----------------------------------------------------------------------------------

  /** The process's state as a versioned JSON checkpoint. */
  save(): Checkpoint {
    this.#boot();
    const state = this.#machine.state as ProcessStateObject;
    const out: Record<string, JsonValue> = {
      version: CHECKPOINT_VERSION,
      class_name: this.#loader.identifyObject(this.constructor as ProcessClass),
      pid: this.#pid as Pid,
      uuid: this.#uuid ?? null,
      creation_time: this.#creationTime ?? null,
      paused: this.#paused !== undefined,
      status: this.#status,
      pre_paused_status: this.#prePausedStatus,
      state: state.toJSON(),
    };
    const raw = this.#rawInputs;
    if (raw !== undefined) out['INPUTS_RAW'] = encodeAt('inputs', () => this.encodeInputs(raw));
    out['INPUTS_PARSED'] = encodeAt('inputs', () => this.encodeInputs(this.#parsedInputs));
    if (Object.keys(this.#outputs).length > 0)
      out['OUTPUTS'] = encodeAt('outputs', () => this.encodeValue(this.#outputs));
    this.#callHook('saveInstanceState', out);
    return out;
  }

  /**
   * Turns the inputs (raw or parsed: a frozen mapping that stays the same object for the life of the process, until
   * a checkpoint is loaded) into JSON for a checkpoint; {@link encodeValue} by default. Every {@link save} calls it,
   * so a subclass whose encoding of the inputs cannot change may override it to reuse an earlier result.
   */
  protected encodeInputs(inputs: Readonly<Record<string, unknown>>): JsonValue {
    return this.encodeValue(inputs);
  }

  /**
   * Turns a value (an input, output, step argument, result, context entry) into JSON for a checkpoint.
   * Handles JSON values and {@link ExitCode}s; override to encode other classes (and {@link decodeValue}).
   */
  protected encodeValue(value: unknown): JsonValue {
    return encodeJson(value, (item) => this.encodeValue(item));
  }

  /** The inverse of {@link encodeValue} (nested values come back through this method too). */
  protected decodeValue(json: JsonValue): unknown {
    return decodeJson(json, (item) => this.decodeValue(item));
  }

  // ---- remote control --------------------------------------------------------------------------------

  /**
   * Answers a control RPC (plumpy's `message_receive`): `play`, `pause`, `kill` (with `force_kill`) and
   * `status`. An unknown intent is answered with an {@link UnknownIntentError}; the process carries on.
   */
  protected messageReceive(message: unknown): unknown {
    const parsed = controlMessageSchema.safeParse(message);
    if (!parsed.success)
      throw new UnknownIntentError(`not a control message: ${formatIssues(zodIssues(parsed.error))}`);
    const { intent } = parsed.data;
    const text = parsed.data.message ?? null;
    switch (intent) {
      case Intent.PLAY:
        return this.play();
      case Intent.PAUSE:
        return settle(this.pause(text));
      case Intent.KILL:
        return settle(this.kill(text, { forceKill: parsed.data.force_kill ?? false }));
      case Intent.STATUS:
        return this.getStatusInfo();
      default:
        // plumpy's exact text: aiida-core's verdi shows it as it is.
        throw new UnknownIntentError('Unknown intent');
    }
  }

  /** Acts on `play`/`pause`/`kill` broadcasts (plumpy's `broadcast_receive`); ignores other subjects. */
  protected broadcastReceive(message: BroadcastMessage): unknown {
    const body = isPlainObject(message.body) ? (message.body as Partial<ControlMessage>) : {};
    const text = typeof body.message === 'string' ? body.message : null;
    switch (message.subject) {
      case Intent.PLAY:
        return this.play();
      case Intent.PAUSE:
        return settle(this.pause(text));
      case Intent.KILL:
        return settle(this.kill(text));
      default:
        return undefined;
    }
  }
}

/** A pending action's outcome as a Promise (a cancelled one as false), a plain outcome as it is. */
function settle(outcome: boolean | CancellableAction): boolean | Promise<unknown> {
  if (typeof outcome === 'boolean') return outcome;
  return Promise.resolve(outcome).catch((error: unknown) => {
    if (error instanceof Error && error.name === 'CancelledError') return false;
    throw error;
  });
}

function zodIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** A host for checking saved states statically (before a process exists). */
const schemaHost: StateHost = {
  process: {},
  runStep: () => undefined,
  stepName: (step) => (typeof step === 'string' ? step : step.name),
  createState: () => {
    throw new InvalidStateError('no process');
  },
  encode: (value) => value as JsonValue,
  decode: (json) => json,
};

/** One level of the default encoding; nested values go through `recurse` (the process's `encodeValue`). */
function encodeJson(value: unknown, recurse: (value: unknown) => JsonValue): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new UnencodableValueError(`cannot encode the non-finite number ${value}`);
    return value;
  }
  if (value === undefined) return { '!undefined': true };
  if (value instanceof ExitCode) return value.toJSON();
  // failures name where they sit (`ctx.results[2]`); a reference cycle ends at the depth limit, not the stack's
  if (Array.isArray(value))
    return encodeContainer(() => value.map((item, index) => encodeAt(index, () => recurse(item))));
  if (isPlainObject(value)) {
    return encodeContainer(() => {
      const out: Record<string, JsonValue> = {};
      for (const [key, sub] of Object.entries(value))
        if (sub !== undefined) out[key] = encodeAt(key, () => recurse(sub));
      return out;
    });
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new UnencodableValueError(
    `cannot encode a value of type ${kind} in a checkpoint (override encodeValue/decodeValue to support it)`,
  );
}

function decodeJson(json: JsonValue, recurse: (json: JsonValue) => unknown): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) return (json as JsonValue[]).map((item) => recurse(item));
  const record = json as Record<string, JsonValue>;
  if (record['!undefined'] === true && Object.keys(record).length === 1) return undefined;
  if ('!exit_code' in record) {
    const parsed = exitCodeJsonSchema.safeParse(record);
    if (parsed.success) return ExitCode.fromJSON(parsed.data);
  }
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(record)) out[key] = recurse(sub);
  return out;
}

/** Loads a process from a checkpoint (see {@link Process.load}). */
export function loadProcess(checkpoint: unknown, context: LoadContext = {}): Process {
  return Process.load(checkpoint, context);
}
