import type { ExitCode, Process as PlumpyProcess } from 'plumpy-ts';
import {
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
} from 'plumpy-ts';
import { InvalidOperationError, NotExistentError, type ValidationIssue } from '../../errors.js';
import { Node } from '../../orm/nodes/node.js';
import { NODE_REF_KEY } from '../persistence.js';
import { ProcessAttribute, type ProcessNode } from '../../orm/nodes/process/process.js';
import type { ProcessRunner } from './process-runner.js';
import { createBuilder, type ProcessBuilder } from './builder.js';
import {
  decodeEngineValue,
  encodeEngineValue,
  exitCodeOf,
  exposedInputsOf,
  exposedOutputsOf,
  inputsFromTicket,
  killChildren,
  loaded,
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
import { defaultProcessType } from './process-type.js';
import { processClassRegistry } from './process-type.js';
import type { ProcessProvenance } from './provenance.js';
import { runnerOfPersister } from './runner-link.js';
import { isLeaseLost } from '../write-guard.js';
import { AFTER_STEP, REPLAY_CACHE, type EngineStepHost } from './states.js';

/** Options of `setStatus` on an engine process. */
export interface SetStatusOptions {
  /** Written with the node's next write (at the latest a moment later) rather than at once. */
  readonly lazy?: boolean;
}

/** What the engine adds to a plumpy-ts process instance: its provenance and aiida's process API. */
export interface ProvenanceMembers extends EngineStepHost {
  /** The provenance of this process (its node, writer, children); only for processes made by the engine. */
  readonly provenance: ProcessProvenance;
  /** The process node recording this run. */
  readonly node: ProcessNode;
  /** The pk of the node (the pid), or null when provenance is not stored. */
  readonly pk: number | null;
  /** The runner this process runs in. */
  readonly runner: ProcessRunner;
  /** Tracks asynchronous work: the process awaits it before its next step and fails if it fails. */
  deferWork(work: PromiseLike<unknown>): void;
  /**
   * Logs `message` at aiida's REPORT level: stored as a `Log` entry of the node (`[pk|Class|step]: message`, aiida's
   * layout) and shown on the terminal log.
   */
  report(message: string): void;
  /** Kills the process and the processes it called (aiida's `Process.kill`). */
  kill(message?: string | null, options?: { readonly forceKill?: boolean }): boolean | CancellableAction;
  /** Records several outputs (`{port: value}`, dotted ports reach into namespaces), as aiida's `out_many`. */
  outMany(values: Readonly<Record<string, unknown>>): void;
  /** The inputs exposed from `processClass` (in `namespace`), to launch it with (aiida's `exposed_inputs`). */
  exposedInputs<C extends ProcessClass>(
    processClass: C,
    namespace?: string,
    options?: Omit<ExposedOptions, 'namespace'>,
  ): NamespaceIn<SpecOf<C>['inputs']>;
  /** The outputs of `node` exposed from `processClass`, by their names here, ready for {@link outMany}. */
  exposedOutputs(
    node: ProcessNode,
    processClass: ProcessClass,
    options?: ExposedOptions,
  ): Promise<Record<string, Node>>;
  /**
   * Launches `processClass` as a child of this process and returns it: without a broker it runs in this runner; with
   * one it goes to the daemon. A work chain puts it in the context (`toContext`) to wait for it.
   */
  submit<C extends ProcessClass>(
    processClass: C,
    inputs?: NamespaceIn<SpecOf<C>['inputs']>,
  ): Promise<InstanceType<C>>;
}

/** What the engine adds to a plumpy-ts process class (the hooks `instantiateProcess` and caching call). */
export interface ProvenanceStatics {
  /** The node's `process_type`: `<module>.<ClassName>`, the module being the file that defines the class. */
  buildProcessType(): string;
  /** The node's `process_label` (aiida's `_build_process_label`): the class name. */
  buildProcessLabel(): string;
  /** The node label when `metadata.label` is not given. */
  defaultNodeLabel(): string;
  /** Sets class-specific attributes or files on a new node; nothing by default. */
  setupNode(node: ProcessNode): Promise<void>;
  /** Whether runs can be checkpointed (and continued by another worker). */
  readonly persistable: boolean;
  /**
   * Whether entering `state` writes the node (its state and checkpoint) before the state's step runs: true, but for
   * a state whose step a reload may repeat from the previous checkpoint at no cost; such a state is written with the
   * node's next write (the next state's, at the latest a moment later).
   */
  writesOnEntering(state: ProcessStateObject): boolean;
  /** Whether the finished `node` of this class may serve as a cache source: not when its exit code invalidates it. */
  isValidCache(node: ProcessNode): boolean;
  /** A builder for the inputs of this class, typed by its spec (aiida's `get_builder`). */
  getBuilder<C extends ProcessClass>(this: C): ProcessBuilder<C>;
  /** Checks parsed inputs beyond their ports (before anything is stored); no issues by default. */
  validateInputs(inputs: Readonly<Record<string, unknown>>): ValidationIssue[];
  /** The inputs as the spec reads them; as given by default. */
  normaliseInputs(inputs: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>>;
  /** The exit statuses of the exit codes with these labels; a `NotExistentError` for an unknown label. */
  getExitStatuses(labels: readonly string[]): number[];
}

/** A plumpy-ts process class the engine can extend (`Process` or `WorkChain`). */
type PlumpyBase = new (options?: ProcessOptions) => PlumpyProcess;

/**
 * The class `withProvenance(Base)` returns: `Base` with the engine's members. Written as a mixin constructor type
 * (one construct signature taking `...args: any[]`), so TypeScript gives its instances both sides; the lifecycle
 * overrides exist at run time but stay protected members of plumpy-ts's classes for the type checker.
 */
export type WithProvenance<B extends PlumpyBase> = B &
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mixin constructor shape TypeScript requires
  (new (...args: any[]) => ProvenanceMembers) &
  ProvenanceStatics;

/** A process class's exit codes by label. */
interface ExitCodesHolder {
  readonly exitCodes: Readonly<Record<string, ExitCode>>;
}

// by class: a class's spec is sealed once it has an instance, so its exit codes no longer change
const exitCodesByClass = new WeakMap<ExitCodesHolder, Readonly<Record<string, ExitCode>>>();

function exitCodesOf(cls: ExitCodesHolder): Readonly<Record<string, ExitCode>> {
  let codes = exitCodesByClass.get(cls);
  if (codes === undefined) {
    codes = cls.exitCodes;
    exitCodesByClass.set(cls, codes);
  }
  return codes;
}

/**
 * The engine's side of a process, shared by `Process` and `WorkChain` (aiida's `Process` over plumpy's): made by the
 * engine (`run`, `submit`, `runner.instantiate`), it records itself as a process node whose pk is its pid — inputs
 * linked on creation, outputs linked as they are emitted, state, status, exit code, exception and paused flag kept
 * up to date, checkpoints on the node, sealed when it ends (a refused end rejects the run, see `recordEnd`).
 *
 * Extension points for subclasses (the calculation job builds on them): the static hooks of
 * {@link ProvenanceStatics}, and the lifecycle hooks of plumpy-ts (`onCreate`, `onRun`, `onFinish`, `onExcept`,
 * `onKill`, `onTerminated`, …), which every override must chain with `super`.
 */
export function withProvenance<B extends PlumpyBase>(Base: B): WithProvenance<B> {
  const PlumpyRoot = Base as PlumpyBase;

  class EngineProcess extends PlumpyRoot implements ProvenanceMembers {
    static buildProcessType(): string {
      return defaultProcessType(this);
    }

    static buildProcessLabel(): string {
      return this.name;
    }

    static defaultNodeLabel(): string {
      return '';
    }

    static async setupNode(_node: ProcessNode): Promise<void> {
      // Nothing to add by default.
    }

    static writesOnEntering(state: ProcessStateObject): boolean {
      void state;
      return true;
    }

    static get persistable(): boolean {
      return true;
    }

    static isValidCache(this: ProcessClass, node: ProcessNode): boolean {
      const status = node.exitStatus;
      if (status === null) return true;
      return this.spec().exitCodes.byStatus(status)?.invalidatesCache !== true;
    }

    static getBuilder<C extends ProcessClass>(this: C): ProcessBuilder<C> {
      processClassRegistry.identifyObject(this);
      return createBuilder(this);
    }

    static validateInputs(_inputs: Readonly<Record<string, unknown>>): ValidationIssue[] {
      return [];
    }

    static normaliseInputs(inputs: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
      return inputs;
    }

    static getExitStatuses(this: ProcessClass, labels: readonly string[]): number[] {
      const codes = this.spec().exitCodes;
      return labels.map((label) => {
        if (!codes.has(label)) throw new NotExistentError(`no exit code with label '${label}'`);
        return codes.get(label).status;
      });
    }

    #provenance: ProcessProvenance | undefined;
    /** The JSON of the inputs (raw and parsed: frozen, one object each until a checkpoint is loaded). */
    readonly #encodedInputs = new WeakMap<object, JsonValue>();
    /** How many unstored nodes were encoded as references because the node's next write stores them. */
    #pendingRefs = 0;

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

    protected override parseInputs(
      raw: Readonly<Record<string, unknown>>,
    ): Readonly<Record<string, unknown>> {
      return inputsFromTicket() ?? super.parseInputs(raw);
    }

    get provenance(): ProcessProvenance {
      if (this.#provenance === undefined) {
        throw new InvalidOperationError(
          `${this.constructor.name} was not created by the engine: it has no node`,
        );
      }
      return this.#provenance;
    }

    get node(): ProcessNode {
      return this.provenance.node;
    }

    get pk(): number | null {
      return this.provenance.node.pk;
    }

    get runner(): ProcessRunner {
      return this.provenance.runner;
    }

    override get uuid(): string | undefined {
      return this.#provenance?.node.uuid ?? super.uuid;
    }

    deferWork(work: PromiseLike<unknown>): void {
      this.defer(work);
    }

    // ---- hooks -------------------------------------------------------------------------------------------------

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
      const statics = this.constructor as unknown as ProvenanceStatics;
      recordState(this, this.provenance, this.state, statics.writesOnEntering(this.stateObject));
      super.onEntered(from);
    }

    protected override onFinish(result: unknown, successful: boolean): HookResult {
      const hook = super.onFinish(result, successful);
      const exitCodes = exitCodesOf(this.constructor as unknown as ExitCodesHolder);
      let code = exitCodeOf(result, successful, exitCodes);
      if (!successful && code.status === 0) code = exitCodes['ERROR_MISSING_OUTPUT'] ?? code;
      recordFinish(this.provenance, code);
      return hook;
    }

    protected override onExcept(error: unknown): HookResult {
      const hook = super.onExcept(error);
      // A refused write of a process whose lease is lost is not its failure: the runner drops it (nothing written).
      if (!isLeaseLost(error)) recordException(this, this.provenance, error);
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

    /**
     * Sets the process status and mirrors it on the node; `lazy` lets the next write of the node carry it (within
     * a moment) instead of one write of its own.
     */
    override setStatus(status: string | null, options: SetStatusOptions = {}): void {
      super.setStatus(status);
      if (this.#provenance !== undefined) recordStatus(this, this.#provenance, status, options.lazy === true);
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

    protected override encodeInputs(inputs: Readonly<Record<string, unknown>>): JsonValue {
      // The inputs never change once the process exists, and their encoding (stored nodes and computers by uuid,
      // plain values as they are) cannot either: every checkpoint reuses the first one instead of walking them again.
      // Not one that refers to a node the next write is yet to store: if that write fails, the node stays unstored.
      const cached = this.#encodedInputs.get(inputs);
      if (cached !== undefined) return cached;
      const before = this.#pendingRefs;
      const json = super.encodeInputs(inputs);
      if (this.#pendingRefs === before) this.#encodedInputs.set(inputs, json);
      return json;
    }

    protected override encodeValue(value: unknown): JsonValue {
      // An output stored by the node's next write, the one that carries this checkpoint, is referred to by its uuid
      // as a stored one: both reach the database together (outputs first, see `NodeWriter`).
      if (value instanceof Node && !value.isStored && this.#provenance?.writer.willStore(value) === true) {
        this.#pendingRefs += 1;
        return { [NODE_REF_KEY]: value.uuid };
      }
      return encodeEngineValue(value, (item) => super.encodeValue(item));
    }

    protected override decodeValue(json: JsonValue): unknown {
      return decodeEngineValue(json, this.pid, (item) => super.decodeValue(item));
    }

    async [AFTER_STEP](): Promise<void> {
      await this.provenance.linkOutputs(this.spec(), this.outputs);
    }

    [REPLAY_CACHE](): Promise<ExitCode> | undefined {
      return undefined;
    }

    // ---- API ---------------------------------------------------------------------------------------------------

    override report(message: string): void {
      writeReport(this, this.provenance, message, reportSite());
    }

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

    outMany(values: Readonly<Record<string, unknown>>): void {
      for (const [port, value] of Object.entries(values)) this.writeOutput(port, value);
    }

    override exposedInputs<C extends ProcessClass>(
      processClass: C,
      namespace?: string,
      options: Omit<ExposedOptions, 'namespace'> = {},
    ): NamespaceIn<SpecOf<C>['inputs']> {
      return exposedInputsOf(this.spec(), this.inputs as Readonly<Record<string, unknown>>, processClass, {
        ...options,
        ...(namespace === undefined ? {} : { namespace }),
      }) as NamespaceIn<SpecOf<C>['inputs']>;
    }

    exposedOutputs(
      node: ProcessNode,
      processClass: ProcessClass,
      options: ExposedOptions = {},
    ): Promise<Record<string, Node>> {
      return exposedOutputsOf(this.spec(), node, processClass, options) as Promise<Record<string, Node>>;
    }

    submit<C extends ProcessClass>(
      processClass: C,
      inputs?: NamespaceIn<SpecOf<C>['inputs']>,
    ): Promise<InstanceType<C>> {
      return this.runner.submitChild(this, processClass, inputs ?? {}) as Promise<InstanceType<C>>;
    }
  }

  return EngineProcess as unknown as WithProvenance<B>;
}
