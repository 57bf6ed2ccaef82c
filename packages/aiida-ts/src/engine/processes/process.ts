import type { ProcessState } from 'plumpy-ts';
import {
  DEFAULT_STATE_CLASSES,
  ExitCode,
  Process as PlumpyProcess,
  type CancellableAction,
  type Checkpoint,
  type HookResult,
  type JsonValue,
  type KillMessage,
  type NamespaceIn,
  type ProcessClass,
  type ProcessOptions,
  type ProcessStateObject,
  type SpecOf,
  type StateClasses,
} from 'plumpy-ts';
import { createBuilder, type ProcessBuilder } from './builder.js';
import { InvalidOperationError, NotExistentError, type ValidationIssue } from '../../errors.js';
import { ProcessAttribute, ProcessNode } from '../../orm/nodes/process/process.js';
import type { Runner } from '../runner.js';
import { defineProcessBase } from './base-spec.js';
import {
  decodeEngineValue,
  encodeEngineValue,
  exitCodeOf,
  exposedInputsOf,
  exposedOutputsOf,
  inputsFromTicket,
  killChildren,
  labelToPath,
  loaded,
  outputsOfNode,
  provenanceFromCheckpoint,
  provenanceFromTicket,
  recordException,
  recordFinish,
  recordKill,
  recordState,
  recordStatus,
  reportSite,
  writeReport,
  type ExposedOptions,
} from './engine-hooks.js';
import { callerLocation, moduleNameOf, processClassRegistry, type SourceLocation } from './process-type.js';
import { flattenValues, type ProcessProvenance } from './provenance.js';
import { AFTER_STEP, EngineRunning, REPLAY_CACHE, type EngineStepHost } from './states.js';
import type { Node } from '../../orm/nodes/node.js';
import { runnerOfPersister } from './runner-link.js';

const definitions = new WeakMap<object, SourceLocation | undefined>();

/** Remembers where a process class (or function) was defined: its module names its process type. */
export function recordDefinition(cls: object, location: SourceLocation | undefined): void {
  definitions.set(cls, location);
}

/** Where `cls` or the nearest class it extends was defined (by `define`). */
export function definitionOf(cls: object): SourceLocation | undefined {
  for (let current: unknown = cls; typeof current === 'function'; current = Object.getPrototypeOf(current)) {
    if (definitions.has(current)) return definitions.get(current);
  }
  return undefined;
}

/**
 * Makes `cls.define(...)` (plumpy-ts's) also remember the module of the caller, which names the process types of the
 * classes defined that way. Installed as an own static property so that plumpy's typing of `define` is kept as is.
 */
export function recordDefinitionsOf(cls: object): void {
  const original = Reflect.get(PlumpyProcess, 'define') as (this: unknown, build: unknown) => object;
  Object.defineProperty(cls, 'define', {
    configurable: true,
    writable: true,
    value: function define(this: unknown, build: unknown): object {
      const location = callerLocation();
      const defined = original.call(this, build);
      recordDefinition(defined, location);
      return defined;
    },
  });
}

/** The `<module>.<ClassName>` process type of a class (aiida's `build_process_type` without entry point). */
export function defaultProcessType(cls: { readonly name: string }): string {
  return `${moduleNameOf(definitionOf(cls))}.${cls.name}`;
}

const ENGINE_STATES: StateClasses = { ...DEFAULT_STATE_CLASSES, running: EngineRunning };

const ProcessBase = PlumpyProcess.define((spec) => defineProcessBase(spec));

/**
 * A process with provenance (aiida's `Process`): made by the engine (`run`, `submit`, `runner.instantiate`), it
 * records itself as a process node whose pk is its pid — inputs linked on creation, outputs linked as they are
 * emitted, state, status, exit code, exception and paused flag kept up to date, checkpoints on the node, sealed when
 * it ends. Every process has the `metadata` input namespace and the base exit codes 1, 2, 10 and 11.
 *
 * Define one with `class Add extends Process.define(spec => spec.input('x', { validType: nodeType(Int) })...)`;
 * subclasses choose their node class with `static override get nodeClass()`.
 */
export class Process extends ProcessBase implements EngineStepHost {
  static override get stateClasses(): StateClasses {
    return ENGINE_STATES;
  }

  /** The class of the node recording runs of this class (aiida's `_node_class`). */
  static get nodeClass(): typeof ProcessNode {
    return ProcessNode;
  }

  /** The node's `process_type`: `<module>.<ClassName>`, the module being the file that defines the class. */
  static buildProcessType(): string {
    return defaultProcessType(this);
  }

  /** The node's `process_label` (aiida's `_build_process_label`): the class name. */
  static buildProcessLabel(): string {
    return this.name;
  }

  /** The node label when `metadata.label` is not given. */
  static defaultNodeLabel(): string {
    return '';
  }

  /** Sets class-specific attributes or files on a new node; nothing by default. */
  static async setupNode(_node: ProcessNode): Promise<void> {
    // Nothing to add for plain processes.
  }

  /** Whether runs can be checkpointed (and continued by another worker). */
  static get persistable(): boolean {
    return true;
  }

  /** Whether the finished `node` of this class may serve as a cache source: not when its exit code invalidates it. */
  static isValidCache(node: ProcessNode): boolean {
    const status = node.exitStatus;
    if (status === null) return true;
    return this.spec().exitCodes.byStatus(status)?.invalidatesCache !== true;
  }

  /** Whether the class is abstract (cannot be run). */
  static isAbstract(): boolean {
    return this === Process;
  }

  /** The exit statuses of the exit codes with these labels; a `RangeError` for an unknown label. */
  /** A builder for the inputs of this class, typed by its spec (aiida's `get_builder`). */
  static getBuilder<C extends ProcessClass>(this: C): ProcessBuilder<C> {
    processClassRegistry.identifyObject(this);
    return createBuilder(this);
  }

  /** Checks parsed inputs beyond their ports (before anything is stored); no issues by default. */
  static validateInputs(_inputs: Readonly<Record<string, unknown>>): ValidationIssue[] {
    return [];
  }

  /** The inputs as the spec reads them; as given by default. */
  static normaliseInputs(inputs: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    return inputs;
  }

  static getExitStatuses(labels: readonly string[]): number[] {
    const codes = this.spec().exitCodes;
    return labels.map((label) => {
      if (!codes.has(label)) throw new NotExistentError(`no exit code with label '${label}'`);
      return codes.get(label).status;
    });
  }

  #provenance: ProcessProvenance | undefined;
  #replayed = false;

  constructor(options: ProcessOptions = {}) {
    super(options);
    this.#provenance = provenanceFromTicket();
    if (this.#provenance === undefined && options.inputs !== undefined) {
      throw new InvalidOperationError(
        `${new.target.name} must be created by the engine: use run(), submit() or runner.instantiate()`,
      );
    }
    if (this.#provenance !== undefined) processClassRegistry.identifyObject(new.target);
  }

  protected override parseInputs(raw: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    return inputsFromTicket() ?? super.parseInputs(raw);
  }

  /** The provenance of this process (its node, writer, children). */
  get provenance(): ProcessProvenance {
    if (this.#provenance === undefined) {
      throw new InvalidOperationError(
        `${this.constructor.name} was not created by the engine: it has no node`,
      );
    }
    return this.#provenance;
  }

  /** The process node recording this run. */
  get node(): ProcessNode {
    return this.provenance.node;
  }

  /** The pk of the node (the pid), or null when provenance is not stored. */
  get pk(): number | null {
    return this.provenance.node.pk;
  }

  /** The runner this process runs in. */
  get runner(): Runner {
    return this.provenance.runner;
  }

  override get uuid(): string | undefined {
    return this.#provenance?.node.uuid ?? super.uuid;
  }

  /** Tracks asynchronous work: the process awaits it before its next step and fails if it fails. */
  deferWork(work: PromiseLike<unknown>): void {
    this.defer(work);
  }

  // ---- hooks ---------------------------------------------------------------------------------------------------

  protected override init(): HookResult {
    const result = super.init();
    loaded(this.pid);
    return result;
  }

  protected override onCreate(): HookResult {
    const result = super.onCreate();
    if (this.#provenance === undefined) {
      throw new InvalidOperationError(
        `${this.constructor.name} must be created by the engine: use run() or submit()`,
      );
    }
    return result;
  }

  protected override onEntered(from: ProcessStateObject | undefined): void {
    recordState(this, this.provenance, this.state);
    super.onEntered(from);
  }

  protected override onFinish(result: unknown, successful: boolean): HookResult {
    const hook = super.onFinish(result, successful);
    let code = exitCodeOf(result, successful, (this.constructor as typeof Process).exitCodes);
    if (!successful && code.status === 0)
      code = (this.constructor as typeof Process).exitCodes['ERROR_MISSING_OUTPUT'] ?? code;
    recordFinish(this.provenance, code);
    return hook;
  }

  protected override onExcept(error: unknown): HookResult {
    const hook = super.onExcept(error);
    recordException(this, this.provenance, error);
    return hook;
  }

  protected override onKill(msg: KillMessage | null): HookResult {
    const hook = super.onKill(msg);
    recordKill(this.provenance, msg);
    return hook;
  }

  protected override onPaused(message: string | null): HookResult {
    const hook = super.onPaused(message);
    this.provenance.writer.set({ [ProcessAttribute.PAUSED]: true });
    recordStatus(this, this.provenance, this.status);
    return hook;
  }

  protected override onPlaying(): HookResult {
    const hook = super.onPlaying();
    this.provenance.writer.remove(ProcessAttribute.PAUSED);
    recordStatus(this, this.provenance, this.status);
    return hook;
  }

  protected override onTerminated(): HookResult {
    const hook = super.onTerminated();
    const provenance = this.provenance;
    // Never rejects (a failure is kept as `endFailure`): plumpy-ts only logs a hook failing after the end.
    const ended = provenance.recordEnd(this.state);
    provenance.runner.processTerminated(this);
    return Promise.all([hook, ended]);
  }

  /** Steps to the end; rejects with a `ProvenanceWriteError` when the storage refused the write of the end. */
  override async stepUntilTerminated(): Promise<void> {
    await super.stepUntilTerminated();
    const failure = this.#provenance?.endFailure;
    if (failure !== undefined) throw failure;
  }

  override setStatus(status: string | null): void {
    super.setStatus(status);
    if (this.#provenance !== undefined) recordStatus(this, this.#provenance, status);
  }

  protected override saveInstanceState(out: Record<string, JsonValue>): void {
    super.saveInstanceState(out);
    out['calc_id'] = this.#provenance?.node.pk ?? null;
  }

  protected override loadInstanceState(saved: Checkpoint): void {
    super.loadInstanceState(saved);
    this.#provenance = provenanceFromCheckpoint(
      saved,
      runnerOfPersister(this.persister, saved),
      this.spec(),
      this.outputs,
    );
  }

  protected override encodeValue(value: unknown): JsonValue {
    return encodeEngineValue(value, (item) => super.encodeValue(item));
  }

  protected override decodeValue(json: JsonValue): unknown {
    return decodeEngineValue(json, this.pid, (item) => super.decodeValue(item));
  }

  async [AFTER_STEP](): Promise<void> {
    await this.provenance.linkOutputs(this.spec(), this.outputs);
  }

  [REPLAY_CACHE](): Promise<ExitCode> | undefined {
    const provenance = this.provenance;
    if (provenance.cachedFrom === undefined || this.#replayed) return undefined;
    this.#replayed = true;
    return (async () => {
      const outputs = await outputsOfNode(provenance.node);
      for (const [label, node] of flattenValues(undefined, outputs)) {
        provenance.linkedOutputs.add(label);
        this.writeOutput(labelToPath(label), node);
      }
      const node = provenance.node;
      return new ExitCode(node.exitStatus ?? 0, { message: node.exitMessage });
    })();
  }

  // ---- API -----------------------------------------------------------------------------------------------------

  /**
   * Logs `message` at aiida's REPORT level: stored as a `Log` entry of the node (`[pk|Class|step]: message`, aiida's
   * layout) and shown on the terminal log.
   */
  override report(message: string): void {
    writeReport(this, this.provenance, message, reportSite());
  }

  /** Kills the process and the processes it called (aiida's `Process.kill`). */
  override kill(
    message: string | null = null,
    options: { readonly forceKill?: boolean } = {},
  ): boolean | CancellableAction {
    if (this.#provenance === undefined || this.hasTerminated()) return super.kill(message, options);
    // A kill already on its way is not replaced (its message stays: children get "Killed by parent<pk>").
    if (this.isKilling && options.forceKill !== true) return true;
    const provenance = this.provenance;
    // Children first, with aiida's message, before the kill of this process reaches them with its own.
    const done = killChildren(
      provenance,
      `Killed by parent<${String(provenance.node.pk)}>`,
      options.forceKill ?? false,
    );
    const result = super.kill(message, options);
    if (!this.hasTerminated()) this.defer(done);
    return result;
  }

  /** A pause, play or kill by RPC is answered once the node records it (`paused`, status, state). */
  protected override messageReceive(message: unknown): unknown {
    const answer = super.messageReceive(message);
    const intent = (message as { intent?: unknown } | null)?.intent;
    if (this.#provenance === undefined || (intent !== 'pause' && intent !== 'play' && intent !== 'kill'))
      return answer;
    const writer = this.#provenance.writer;
    return Promise.resolve(answer).then(async (result) => {
      await writer.flush();
      return result;
    });
  }

  /** Records several outputs (`{port: value}`, dotted ports reach into namespaces), as aiida's `out_many`. */
  outMany(values: Readonly<Record<string, unknown>>): void {
    for (const [port, value] of Object.entries(values)) this.writeOutput(port, value);
  }

  /** The inputs exposed from `processClass` (in `namespace`), to launch it with (aiida's `exposed_inputs`). */
  override exposedInputs<C extends ProcessClass>(
    processClass: C,
    namespace?: string,
    options: Omit<ExposedOptions, 'namespace'> = {},
  ): NamespaceIn<SpecOf<C>['inputs']> {
    return exposedInputsOf(this.spec(), this.inputs, processClass, {
      ...options,
      ...(namespace === undefined ? {} : { namespace }),
    }) as NamespaceIn<SpecOf<C>['inputs']>;
  }

  /** The outputs of `node` exposed from `processClass`, by their names here, ready for {@link outMany}. */
  exposedOutputs(
    node: ProcessNode,
    processClass: ProcessClass,
    options: ExposedOptions = {},
  ): Promise<Record<string, Node>> {
    return exposedOutputsOf(this.spec(), node, processClass, options) as Promise<Record<string, Node>>;
  }

  /** Launches `processClass` as a child of this process and returns it (runs in this runner; see `Runner.submit`). */
  submit<C extends ProcessClass>(
    processClass: C,
    inputs?: NamespaceIn<SpecOf<C>['inputs']>,
  ): Promise<InstanceType<C>> {
    return this.runner.submitChild(this, processClass, inputs ?? {}) as Promise<InstanceType<C>>;
  }

  /** `state` of the node as recorded, for tests and tools. */
  get nodeState(): ProcessState | null {
    return this.node.processState;
  }
}

recordDefinitionsOf(Process);
