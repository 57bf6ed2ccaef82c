import type { ExitCode, Process as PlumpyProcess } from 'plumpy-ts';
import {
  ProcessState,
  WorkChain as PlumpyWorkChain,
  WorkChainWaiting,
  type CancellableAction,
  type Checkpoint,
  type HookResult,
  type JsonValue,
  type KillMessage,
  type NamespaceIn,
  type Pid,
  type ProcessClass,
  type ProcessOptions,
  type ProcessStateObject,
  type SpecOf,
  type StateClasses,
} from 'plumpy-ts';
import { createBuilder, type ProcessBuilder } from '../builder.js';
import { InvalidOperationError, NotExistentError, type ValidationIssue } from '../../../errors.js';
import { Node } from '../../../orm/nodes/node.js';
import { ProcessAttribute, WorkChainNode, type ProcessNode } from '../../../orm/nodes/process/process.js';
import type { Runner } from '../../runner.js';
import { defineProcessBase } from '../base-spec.js';
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
} from '../engine-hooks.js';
import { defaultProcessType, recordDefinitionsOf } from '../process.js';
import { processClassRegistry } from '../process-type.js';
import type { ProcessProvenance } from '../provenance.js';
import { runnerOfPersister } from '../runner-link.js';
import { normaliseReturns } from './context.js';
import { AFTER_STEP, EngineWorkChainRunning, REPLAY_CACHE, type EngineStepHost } from '../states.js';

const WorkChainBase = PlumpyWorkChain.define((spec) => defineProcessBase(spec));

let engineStates: StateClasses | undefined;

/** Stores the unstored nodes found in a context value (aiida stores them before every checkpoint). */
function unstoredNodes(value: unknown, into: Set<Node>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Node) {
    if (!value.isStored) into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const item of value) unstoredNodes(item, into, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const item of Object.values(value)) unstoredNodes(item, into, seen);
}

/**
 * A work chain with provenance (aiida's `WorkChain`): plumpy-ts's outline (steps, `if_`, `while_`, `return_`) with
 * the engine's process node. A step ends the work chain by returning a non-zero exit status (`this.exitCodes.X` or an
 * integer); `ToContext`/`toContext` wait for child processes and put their nodes in the context; `this.submit` launches
 * a child. The position in the outline is kept on the node (`stepper_state_info`) and in checkpoints, so a work chain
 * reloaded from its node's checkpoint continues where it was.
 */
export class WorkChain extends WorkChainBase implements EngineStepHost {
  static override get stateClasses(): StateClasses {
    engineStates ??= { ...PlumpyWorkChain.stateClasses, running: EngineWorkChainRunning };
    return engineStates;
  }

  static get nodeClass(): typeof WorkChainNode {
    return WorkChainNode;
  }

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
    // Nothing to add for work chains.
  }

  static get persistable(): boolean {
    return true;
  }

  static isValidCache(node: ProcessNode): boolean {
    const status = node.exitStatus;
    if (status === null) return true;
    return this.spec().exitCodes.byStatus(status)?.invalidatesCache !== true;
  }

  /** The base class and classes without an outline cannot be run. */
  static isAbstract(): boolean {
    return this === WorkChain || this.getOutline() === undefined;
  }

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

  get provenance(): ProcessProvenance {
    if (this.#provenance === undefined) {
      throw new InvalidOperationError(
        `${this.constructor.name} was not created by the engine: it has no node`,
      );
    }
    return this.#provenance;
  }

  get node(): WorkChainNode {
    return this.provenance.node as WorkChainNode;
  }

  get pk(): number | null {
    return this.provenance.node.pk;
  }

  get runner(): Runner {
    return this.provenance.runner;
  }

  override get uuid(): string | undefined {
    return this.#provenance?.node.uuid ?? super.uuid;
  }

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

  protected override onRun(): HookResult {
    const result = super.onRun();
    this.provenance.writer.set({ [WorkChainNode.STEPPER_STATE_INFO_KEY]: this.stepperInfo });
    return result;
  }

  protected override onEntered(from: ProcessStateObject | undefined): void {
    const state = this.state;
    recordState(this, this.provenance, state);
    if (state === ProcessState.WAITING) {
      const waiting = this.stateObject;
      const pids =
        waiting instanceof WorkChainWaiting
          ? waiting.pending.flatMap((a) => (a.pid === undefined ? [] : [a.pid]))
          : [];
      if (pids.length > 0) this.setStatus(`Waiting for child processes: ${pids.join(', ')}`);
    } else if (
      state === ProcessState.RUNNING &&
      from?.label === ProcessState.WAITING &&
      this.status?.startsWith('Waiting for child processes') === true
    ) {
      this.setStatus(null);
    }
    super.onEntered(from);
  }

  protected override onFinish(result: unknown, successful: boolean): HookResult {
    const hook = super.onFinish(result, successful);
    let code = exitCodeOf(result, successful, (this.constructor as typeof WorkChain).exitCodes);
    if (!successful && code.status === 0)
      code = (this.constructor as typeof WorkChain).exitCodes['ERROR_MISSING_OUTPUT'] ?? code;
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

  /**
   * Children put in the context resolve to their node once they have terminated (whatever their outcome) and the
   * node records it; a child handed to another worker is waited for through its state broadcasts and the node.
   */
  protected override resolveAwaitable(process: PlumpyProcess): PromiseLike<unknown> {
    const child = process as PlumpyProcess & { provenance?: ProcessProvenance };
    const provenance = child.provenance;
    if (provenance === undefined) return super.resolveAwaitable(process);
    const pk = provenance.node.pk;
    if (pk === null)
      return process.future().then(
        () => provenance.node,
        () => provenance.node,
      );
    // A child running here: its node (kept current in memory) once its end is written, without reading it back.
    const local = this.runner.whenTerminated(pk);
    if (local !== undefined && !process.isClosed) return local.then(() => provenance.node);
    return this.runner.getProcessFuture(pk);
  }

  /** After a reload, a child awaited before the checkpoint resolves to its node when it terminates. */
  protected override awaitProcess(pid: Pid): PromiseLike<unknown> {
    // Called while the checkpoint is being restored, before this process knows its runner: wait a tick.
    return Promise.resolve().then(() => this.runner.getProcessFuture(Number(pid)));
  }

  async [AFTER_STEP](): Promise<void> {
    const provenance = this.provenance;
    await provenance.linkOutputs(this.spec(), this.outputs);
    const unstored = new Set<Node>();
    unstoredNodes(this.ctx, unstored);
    if (unstored.size > 0 && provenance.storeProvenance) await Node.storeMany([...unstored]);
  }

  [REPLAY_CACHE](): Promise<ExitCode> | undefined {
    return undefined;
  }

  // ---- API -----------------------------------------------------------------------------------------------------

  /** Logs `message` at REPORT level on the node's log and the terminal (`[pk|Class|step]: message`). */
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

  /** Records several outputs (`{port: value}`, dotted ports reach into namespaces), as aiida's `out_many`. */
  outMany(values: Readonly<Record<string, unknown>>): void {
    for (const [port, value] of Object.entries(values)) this.writeOutput(port, value);
  }

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

  exposedOutputs(
    node: ProcessNode,
    processClass: ProcessClass,
    options: ExposedOptions = {},
  ): Promise<Record<string, Node>> {
    return exposedOutputsOf(this.spec(), node, processClass, options) as Promise<Record<string, Node>>;
  }

  /**
   * Launches `processClass` as a child of this work chain and returns it; put it in the context (`ToContext`,
   * `toContext`) to wait for it. Without a broker it runs in this runner; with one it goes to the daemon.
   */
  submit<C extends ProcessClass>(
    processClass: C,
    inputs?: NamespaceIn<SpecOf<C>['inputs']>,
  ): Promise<InstanceType<C>> {
    return this.runner.submitChild(this, processClass, inputs ?? {}) as Promise<InstanceType<C>>;
  }
}

recordDefinitionsOf(WorkChain);

// `outline` keeps plumpy-ts's typing; at run time it also normalises `return_(0)` and registers the class under its
// process type (so that a node's class is found by `getBuilderRestart` and checkpoints as soon as it is defined).
{
  const original = Reflect.get(PlumpyWorkChain, 'outline') as (this: unknown, ...items: unknown[]) => void;
  Object.defineProperty(WorkChain, 'outline', {
    configurable: true,
    writable: true,
    value: function outline(this: typeof PlumpyWorkChain, ...items: unknown[]): void {
      original.apply(this, items);
      const block = this.getOutline();
      if (block !== undefined) normaliseReturns(block);
      processClassRegistry.identifyObject(this);
    },
  });
}
