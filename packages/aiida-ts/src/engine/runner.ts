import { LocalCommunicator, type Communicator } from 'kiwipy-ts';
import {
  CHECKPOINT_VERSION,
  Process as PlumpyProcess,
  ProcessState,
  RemoteProcessController,
  type ObjectLoader,
  type Persister,
  type Pid,
  type ProcessClass,
} from 'plumpy-ts';
import { getConfigOption } from '../config/manager.js';
import { InvalidOperationError, NotExistentError } from '../errors.js';
import { loadNode } from '../orm/loaders.js';
import { ProcessNode } from '../orm/nodes/process/process.js';
import type { StorageBackend } from '../storage/backend.js';
import { getStorage, withStorage } from '../storage/context.js';
import { ProcessFuture } from './futures.js';
import { getLogger } from './logging.js';
import { AiidaPersister, preloadProcessNode, releasePreloaded } from './persistence.js';
import { exceptionText, outputsOfNode } from './processes/engine-hooks.js';
import { ProcessAttribute } from '../orm/nodes/process/process.js';
import {
  currentEngineProcess,
  instantiateProcess,
  type EngineProcessClass,
  type EngineProcessInstance,
  type InstantiateOptions,
} from './processes/instantiate.js';
import { resolveLaunchable, type LaunchRequest } from './processes/launchable.js';
import type { NodeWriter } from './processes/node-writer.js';
import type { ProcessOwnership } from './process-ownership.js';
import type { ProcessRunner, RunResult, UnrecordedEnd } from './processes/process-runner.js';
import { processClassRegistry } from './processes/process-type.js';
import { linkPersister } from './processes/runner-link.js';
import { ProvenanceCommunicator } from './provenance-communicator.js';
import { HandOverCommunicator } from './hand-over-communicator.js';

/** How long `close()` lets the running steps of killed processes return before killing them at once. */
const CLOSE_GRACE_MS = 2000;

/** Options of {@link Runner}. */
export interface RunnerOptions {
  /** The storage processes record themselves in (default: the current storage). */
  readonly storage?: StorageBackend;
  /** Remote control of the processes and their state broadcasts (default: a new `LocalCommunicator`). */
  readonly communicator?: Communicator;
  /** Close the communicator when the runner closes (default: true when the runner made it). */
  readonly ownsCommunicator?: boolean;
  /** Checkpoints of the processes (default: an {@link AiidaPersister}, on the process nodes). */
  readonly persister?: Persister;
  /** Seconds between reads of a node awaited by a `ProcessFuture` (default: the `runner.poll.interval` option). */
  readonly pollInterval?: number;
  /**
   * `submit` hands processes to the daemon as `continue` tasks over the communicator (a broker is configured),
   * instead of running them in this JS process (default false).
   */
  readonly brokerSubmit?: boolean;
  /** Identifies process classes in checkpoints (default: the engine's process class registry). */
  readonly loader?: ObjectLoader;
  /**
   * On SIGINT/SIGTERM during a foreground `run`, kill the processes running here (default true). A second signal
   * kills them at once, even in the middle of a step.
   */
  readonly handleSignals?: boolean;
  /**
   * Leases of the processes run here and hand-over of submitted ones to the daemon (see `ProcessOwnership`). The
   * manager's runner has one on a stored profile; without one, processes leave no record of who runs them.
   */
  readonly ownership?: ProcessOwnership;
  /**
   * Also broadcast `state_changed.<from>.excepted` when a process excepts (default false: aiida-core sends no
   * broadcast for the excepted state, and its listeners learn of it by polling the node). Opt in where every
   * listener is aiida-ts and an excepted process should wake its waiters at once instead of at their next poll.
   */
  readonly broadcastExcepted?: boolean;
}

/** Options of {@link Runner.loadProcess}. */
export interface LoadProcessOptions {
  /** The process node, just read by the caller: it is not read again. */
  readonly node?: ProcessNode | undefined;
}

/** Options of {@link Runner.instantiate}. */
export interface RunnerInstantiateOptions extends InstantiateOptions {
  /** The process is made to be handed to the daemon: it is not leased here. */
  readonly forDaemon?: boolean;
}

/** A process whose end the storage refused: its node is marked excepted once the storage takes writes again. */
interface PendingMark {
  readonly failure: unknown;
  timer: NodeJS.Timeout;
  attempt: Promise<void> | undefined;
}

interface LiveEntry {
  readonly process: EngineProcessInstance;
  readonly terminated: Promise<void>;
  readonly markTerminated: () => void;
}

export type { RunResult } from './processes/process-runner.js';

/**
 * Runs processes in this JS process (aiida's `Runner`): it holds the storage they record themselves in, the
 * communicator that controls them, the persister of their checkpoints and a process controller. `run` runs one to
 * its end; `submit` starts one in the background (or hands it to the daemon when the runner submits over a broker);
 * `callOnProcessFinish` and `getProcessFuture` wait for any process by pk.
 */
export class Runner implements ProcessRunner, AsyncDisposable {
  readonly storage: StorageBackend;
  /** The communicator as given (futures and the controller use it directly). */
  readonly communicator: Communicator;
  /** The communicator handed to processes: their state broadcasts wait for the node writes. */
  readonly processCommunicator: Communicator;
  readonly persister: Persister;
  readonly controller: RemoteProcessController;
  readonly loader: ObjectLoader;
  readonly pollInterval: number;
  readonly brokerSubmit: boolean;
  readonly ownership: ProcessOwnership | undefined;
  readonly #ownsCommunicator: boolean;
  readonly #handOverCommunicator: Communicator;
  readonly #handleSignals: boolean;
  readonly #live = new Map<string, LiveEntry>();
  readonly #background = new Set<Promise<void>>();
  readonly #futures = new Map<number, Set<ProcessFuture>>();
  readonly #unrecorded = new Map<UnrecordedEnd, PendingMark>();
  #signalDepth = 0;
  #closed = false;

  constructor(options: RunnerOptions = {}) {
    this.storage = options.storage ?? getStorage();
    this.communicator = options.communicator ?? new LocalCommunicator();
    this.#ownsCommunicator = options.ownsCommunicator ?? options.communicator === undefined;
    this.processCommunicator = new ProvenanceCommunicator(
      this.communicator,
      (pid) => this.#live.get(this.#key(pid))?.process.provenance.whenWritten(),
      { broadcastExcepted: options.broadcastExcepted ?? false },
    );
    this.#handOverCommunicator = new HandOverCommunicator(this.processCommunicator);
    this.persister =
      options.persister ??
      new AiidaPersister(
        () => this.storage,
        (pid) => this.#writerOf(pid),
      );
    linkPersister(this.persister, this);
    this.controller = new RemoteProcessController(this.communicator);
    this.loader = options.loader ?? processClassRegistry;
    const configured = getConfigOption('runner.poll.interval');
    this.pollInterval = options.pollInterval ?? (typeof configured === 'number' ? configured : 60);
    this.brokerSubmit = options.brokerSubmit ?? false;
    this.#handleSignals = options.handleSignals ?? true;
    this.ownership = options.ownership;
  }

  #key(pid: unknown): string {
    return String(pid);
  }

  #writerOf(pid: unknown): NodeWriter | undefined {
    return this.#live.get(this.#key(pid))?.process.provenance.writer;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new InvalidOperationError('the runner is closed');
  }

  /** The processes currently running (or made and not yet ended) in this runner. */
  get liveProcesses(): EngineProcessInstance[] {
    return [...this.#live.values()].map((entry) => entry.process);
  }

  /** The live process with this pid, if it runs here. */
  getLiveProcess(pid: Pid): EngineProcessInstance | undefined {
    return this.#live.get(this.#key(pid))?.process;
  }

  #register(process: EngineProcessInstance): void {
    let markTerminated!: () => void;
    const terminated = new Promise<void>((resolve) => {
      markTerminated = resolve;
    });
    this.#live.set(this.#key(process.pid), { process, terminated, markTerminated });
  }

  /** Resolves when the process `pid` running here has terminated and its node says so; undefined if not here. */
  whenTerminated(pid: Pid): Promise<void> | undefined {
    return this.#live.get(this.#key(pid))?.terminated;
  }

  /**
   * Keeps trying, every poll interval while the runner is open, to mark excepted the node of a process whose end the
   * storage refused to record (`ProcessProvenance.recordEnd`), so that the node says so once the storage is back.
   */
  markExceptedLater(provenance: UnrecordedEnd, failure: unknown): void {
    if (this.#closed || this.#unrecorded.has(provenance)) return;
    const attempt = (): void => {
      const entry = this.#unrecorded.get(provenance);
      if (entry === undefined) return;
      entry.attempt = provenance.markExcepted(failure).then(
        () => {
          this.#unrecorded.delete(provenance);
        },
        () => {
          entry.attempt = undefined;
          if (!this.#closed) entry.timer = setTimeout(attempt, this.pollInterval * 1000).unref();
        },
      );
    };
    this.#unrecorded.set(provenance, {
      failure,
      timer: setTimeout(attempt, this.pollInterval * 1000).unref(),
      attempt: undefined,
    });
  }

  /** One last attempt (on close) to mark the nodes excepted whose end could not be written; failures are logged. */
  async #lastMarkExcepted(): Promise<void> {
    const entries = [...this.#unrecorded];
    this.#unrecorded.clear();
    await Promise.all(
      entries.map(async ([provenance, entry]) => {
        clearTimeout(entry.timer);
        try {
          await entry.attempt;
          await provenance.markExcepted(entry.failure);
        } catch (error) {
          getLogger('aiida').error(
            { err: error, pk: provenance.node.pk },
            `process<${String(provenance.node.pk)}> ended but its node could not be marked excepted: it still says ${String(provenance.node.processState)}`,
          );
        }
      }),
    );
  }

  /** Called by a process entering a terminal state: forgets it once its node writes are done. */
  processTerminated(process: EngineProcessInstance): void {
    const key = this.#key(process.pid);
    const entry = this.#live.get(key);
    if (entry?.process !== process) return;
    void process.provenance
      .whenWritten()
      .catch(() => undefined)
      .finally(() => {
        if (this.#live.get(key) === entry) this.#live.delete(key);
        entry.markTerminated();
      });
  }

  /**
   * Makes a process of `processClass` with `inputs` (checked, its node stored, see `instantiateProcess`) without
   * running it. It runs with `process.execute()`, or in the background with {@link schedule}.
   */
  async instantiate<C extends ProcessClass>(
    processClass: C,
    inputs: Readonly<Record<string, unknown>> = {},
    options: RunnerInstantiateOptions = {},
  ): Promise<InstanceType<C>> {
    this.#ensureOpen();
    // A process made for the daemon takes no subscriptions here (see HandOverCommunicator).
    // Its node's insert need not wait for the disk: the hand-over writes its first checkpoint durably right after.
    const made =
      options.forDaemon === true
        ? { ...options, communicator: this.#handOverCommunicator, lazyCommit: true }
        : options;
    const process = await withStorage(this.storage, () =>
      instantiateProcess(this, processClass as unknown as EngineProcessClass, inputs, made),
    );
    this.#register(process);
    if (options.forDaemon !== true && process.node.isStored) {
      // A process run in a step of a leased one shares its lease; any other is leased here.
      const parent = options.parent === undefined ? currentEngineProcess() : (options.parent ?? undefined);
      const guard = parent?.provenance.writer.guard;
      if (guard !== undefined) process.provenance.writer.guard = guard.inherited();
      else await this.ownership?.adopt(process);
    }
    return process as unknown as InstanceType<C>;
  }

  /**
   * Forgets a process that is no longer run here without it having ended (parked or handed to another runner): its
   * pending futures are not settled.
   */
  unload(process: EngineProcessInstance): void {
    const key = this.#key(process.pid);
    if (this.#live.get(key)?.process === process) this.#live.delete(key);
  }

  /** Stops the futures waiting here for these processes (a parked parent no longer needs them). */
  cancelProcessFutures(pks: readonly number[]): void {
    for (const pk of pks) {
      for (const future of this.#futures.get(pk) ?? []) future.cancel();
      this.#futures.delete(pk);
    }
  }

  /** Runs a made process in the background (errors are logged); resolves when it has terminated. */
  schedule(process: EngineProcessInstance): Promise<void> {
    const stepping = withStorage(this.storage, () => process.stepUntilTerminated());
    const loop = this.#untilEnded(process, stepping).catch((error: unknown) => {
      getLogger('aiida').error(
        { err: error, pk: (process as { pk?: unknown }).pk, process: process.constructor.name },
        'a process failed to run',
      );
    });
    this.#background.add(loop);
    void loop.finally(() => this.#background.delete(loop));
    return loop;
  }

  // (no async frames of their own in #launch, #execute and #settled: a calcfunction goes through them on every call)
  #launch(request: LaunchRequest, options: RunnerInstantiateOptions = {}): Promise<EngineProcessInstance> {
    return this.instantiate(request.processClass, request.inputs, options);
  }

  #execute(target: EngineProcessInstance): Promise<Readonly<Record<string, unknown>>> {
    const foreground = this.#handleSignals && this.#signalDepth === 0 && currentEngineProcess() === undefined;
    return foreground ? this.#executeInForeground(target) : this.#settled(target);
  }

  /** {@link #settled}, with Ctrl-C killing the running processes meanwhile. */
  async #executeInForeground(target: EngineProcessInstance): Promise<Readonly<Record<string, unknown>>> {
    this.#signalDepth += 1;
    let signals = 0;
    // The first Ctrl-C kills the processes once their running steps return; a second one kills them at once.
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      const forceKill = signals > 1;
      getLogger('aiida').warn(
        { signal },
        forceKill ? 'killing the processes at once' : 'killing the running processes',
      );
      for (const live of this.liveProcesses) {
        if (!live.hasTerminated() && !live.isClosed) live.kill(`Killed by ${signal}`, { forceKill });
      }
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    try {
      return await this.#settled(target);
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      this.#signalDepth -= 1;
    }
  }

  /**
   * Runs a process class, builder or process function with `inputs` to its end and resolves to its outputs (for a
   * process function returning one node, that node). Rejects with the error of an excepted process, or plumpy's
   * `KilledError` for a killed one; a process that finished with a non-zero exit status resolves to its outputs.
   */
  async run(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<unknown> {
    return (await this.runGetNode(target, inputs)).result;
  }

  /** Like {@link run}, and also gives the process node. */
  async runGetNode(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<RunResult<unknown>> {
    const request = resolveLaunchable(target, inputs);
    const unwrap = (outputs: Readonly<Record<string, unknown>>): unknown =>
      request.isFunction && Object.keys(outputs).length === 1 && 'result' in outputs
        ? outputs['result']
        : outputs;
    const parent = currentEngineProcess();
    // only a daemon runner's child of a process replays (no await otherwise: a calcfunction is run thousands of times)
    const replayed =
      this.ownership === undefined || parent === undefined
        ? undefined
        : await this.#replayed(request, parent, false);
    if (replayed !== undefined) {
      if (replayed.isFinished) return { result: unwrap(await outputsOfNode(replayed)), node: replayed };
      // A persistable child that the interrupted step was running: it goes on from its checkpoint, here.
      const process = await this.loadProcess(replayed.pk!);
      const guard = currentEngineProcess()?.provenance.writer.guard;
      if (guard !== undefined) process.provenance.writer.guard = guard.inherited();
      return { result: unwrap(await this.#executeProcess(process)), node: process.node };
    }
    const process = await this.#launch(request);
    const outputs = await this.#executeProcess(process);
    return { result: unwrap(outputs), node: process.node };
  }

  /**
   * The child that an interrupted earlier run of the current step of `parent` made for this launch (a daemon worker
   * that took the parent over runs the step again): a finished child, or a persistable one that did not end, is used
   * as it is. Any other (a process function cut off in the middle, a failed child) is marked excepted if it is still
   * active, and a new one is made.
   */
  async #replayed(
    request: LaunchRequest,
    parent: EngineProcessInstance | undefined,
    submitted: boolean,
  ): Promise<ProcessNode | undefined> {
    if (this.ownership === undefined || parent === undefined || parent.node.pk === null) return undefined;
    const metadata = request.inputs['metadata'] as { call_link_label?: unknown } | undefined;
    const label = typeof metadata?.call_link_label === 'string' ? metadata.call_link_label : 'CALL';
    const child = await this.ownership.replayChild(parent, request.processClass, label, { submitted });
    if (child === undefined) return undefined;
    const node = await loadNode(child.pk, { storage: this.storage });
    if (!(node instanceof ProcessNode)) return undefined;
    if (node.isFinished) return node;
    const persistable = request.processClass.persistable && node.checkpoint !== null;
    if (!node.isTerminated && persistable) return node;
    // Submitted, stored, and lost before its first checkpoint: made again for the same node (see submitChild).
    if (submitted && this.#uncheckpointed(request, node)) return node;
    if (!node.isTerminated) await this.#exceptInterrupted(node, parent);
    return undefined;
  }

  /** Whether `node` is a submitted child whose earlier run of the step stored it and was lost before checkpointing. */
  #uncheckpointed(request: LaunchRequest, node: ProcessNode): boolean {
    return (
      request.processClass.persistable &&
      node.checkpoint === null &&
      node.processState === ProcessState.CREATED &&
      !node.isSealed
    );
  }

  /** Marks a child left active by an interrupted step excepted, under the parent's lease. */
  async #exceptInterrupted(node: ProcessNode, parent: EngineProcessInstance): Promise<void> {
    const guard = parent.provenance.writer.guard;
    const parentPk = parent.node.pk ?? 0;
    const error = new InvalidOperationError(
      `process<${String(node.pk)}> was interrupted: the step of its caller process<${parentPk}> that launched it was run again after its worker was lost`,
    );
    await this.storage.transaction(async (trx) => {
      await guard?.before(trx, { pk: parentPk, terminal: false, checkpoint: false });
      await node.updateAttributes(
        {
          [ProcessAttribute.PROCESS_STATE]: 'excepted',
          [ProcessAttribute.EXCEPTION]: exceptionText(error),
          [ProcessAttribute.SEALED]: true,
        },
        [ProcessAttribute.CHECKPOINT],
      );
    });
  }

  /**
   * A closed process standing for the stored process `node` (a child found again by a replayed step): put in a work
   * chain's context, it is awaited through its node like any child handed to the daemon.
   */
  #handleOf(node: ProcessNode): EngineProcessInstance {
    const pk = node.pk!;
    const checkpoint = {
      version: CHECKPOINT_VERSION,
      class_name: node.processType ?? '',
      pid: pk,
      uuid: node.uuid,
      creation_time: null,
      paused: false,
      status: null,
      pre_paused_status: null,
      state: { label: 'finished', result: null, successful: true },
    };
    preloadProcessNode(pk, node);
    try {
      return this.#loadFrom(checkpoint);
    } finally {
      releasePreloaded(pk);
    }
  }

  /** A process of this runner from a checkpoint whose nodes the persister preloaded. */
  #loadFrom(checkpoint: Readonly<Record<string, unknown>>): EngineProcessInstance {
    return withStorage(this.storage, () =>
      PlumpyProcess.load(checkpoint, {
        loader: this.loader,
        communicator: this.processCommunicator,
        persister: this.persister,
        logger: getLogger('plumpy'),
      }),
    ) as unknown as EngineProcessInstance;
  }

  /** Runs a made process to its end in the foreground (Ctrl-C kills it); resolves to its outputs. */
  executeProcess(process: EngineProcessInstance): Promise<Readonly<Record<string, unknown>>> {
    return this.#executeProcess(process);
  }

  /** Runs the process to its end; settles when it terminates (a forced kill does not wait for its step). */
  #settled(target: EngineProcessInstance): Promise<Readonly<Record<string, unknown>>> {
    // a process's outputs are a mapping (the instance type does not say so)
    const running = withStorage(
      this.storage,
      () => target.execute() as Promise<Readonly<Record<string, unknown>>>,
    );
    return this.#untilEnded(target, running);
  }

  /**
   * `work` (the step loop of `process`), except that a process killed at once in the middle of a step has ended as
   * soon as its node says so, although the promise of its step still runs.
   */
  #untilEnded<T>(process: EngineProcessInstance, work: Promise<T>): Promise<T> {
    const entry = this.#live.get(this.#key(process.pid));
    if (entry === undefined) return work;
    const forced = entry.terminated.then(() => {
      const killedAtOnce = process.state === 'killed' && process.killedMsg()?.force_kill === true;
      return killedAtOnce ? (process.future() as Promise<T>) : work;
    });
    return Promise.race([work, forced]);
  }

  #executeProcess(target: EngineProcessInstance): Promise<Readonly<Record<string, unknown>>> {
    return this.#execute(target);
  }

  /**
   * Submits a process class or builder: the process is made (its node stored) and then runs in the background of
   * this runner, or, with `brokerSubmit`, is checkpointed and handed to the daemon as a `continue` task. Resolves to
   * the process node at once. Refused inside a process step (use `this.submit`) and without provenance.
   */
  async submit(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<ProcessNode> {
    const request = resolveLaunchable(target, inputs);
    const current = currentEngineProcess();
    if (current !== undefined && !current.node.nodeType.startsWith('process.workflow.workfunction.')) {
      throw new InvalidOperationError(
        'Cannot use top-level `submit` from within another process, use `this.submit` instead',
      );
    }
    const toDaemon = this.brokerSubmit || ((await this.ownership?.submitsToDaemon()) ?? false);
    if (request.isFunction && toDaemon) {
      throw new InvalidOperationError(
        'process functions cannot be submitted to the daemon: call or run them instead',
      );
    }
    const process = await this.#launch(request, { forDaemon: toDaemon });
    if (toDaemon) await this.#handToDaemon(process, undefined);
    else void this.schedule(process);
    return process.node;
  }

  /** `this.submit` of a process: launches `processClass` as a child of `parent` and returns the child process. */
  async submitChild(
    parent: EngineProcessInstance,
    processClass: ProcessClass,
    inputs: Readonly<Record<string, unknown>>,
  ): Promise<EngineProcessInstance> {
    const toDaemon = this.brokerSubmit || this.ownership?.childrenToDaemon === true;
    const request = resolveLaunchable(processClass, inputs);
    const replayed = await this.#replayed(request, parent, toDaemon);
    if (replayed !== undefined && !this.#uncheckpointed(request, replayed)) return this.#handleOf(replayed);
    // A child the lost run stored but did not checkpoint is made for its stored node: checkpointed and handed over
    // now, never stored twice.
    const stored = replayed === undefined ? {} : { stored: replayed };
    const process = await this.#launch(request, { parent, forDaemon: toDaemon, ...stored });
    if (toDaemon) await this.#handToDaemon(process, parent);
    else void this.schedule(process);
    return process;
  }

  /**
   * Submits a process class or builder to the daemon: the process is made, checkpointed on its node and handed over
   * as a persistent `continue` task (plumpy's body `{task: 'continue', args: {pid, nowait, tag}}`). Resolves to
   * the process node. Refused for process functions and processes without provenance.
   */
  async submitToDaemon(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<ProcessNode> {
    const request = resolveLaunchable(target, inputs);
    if (request.isFunction)
      throw new InvalidOperationError(
        'process functions cannot be submitted to the daemon: call or run them instead',
      );
    const process = await this.#launch(request, { forDaemon: true });
    await this.#handToDaemon(process, undefined);
    return process.node;
  }

  async #handToDaemon(
    process: EngineProcessInstance,
    parent: EngineProcessInstance | undefined,
  ): Promise<void> {
    if (!process.provenance.storeProvenance) {
      throw new InvalidOperationError('cannot submit a process with `store_provenance=False`');
    }
    if (!(process.constructor as unknown as EngineProcessClass).persistable) {
      throw new InvalidOperationError(
        `${process.constructor.name} cannot be checkpointed, so it cannot be submitted to the daemon`,
      );
    }
    // The created state's checkpoint is on the node once the process is ready; then the daemon takes over. Without a
    // parent, the daemon's record of the process is written with that checkpoint (one commit).
    await process.ready();
    const joined =
      parent === undefined && this.ownership !== undefined
        ? await this.ownership.joinHandOver(process)
        : undefined;
    await process.provenance.writer.flush();
    await process.close();
    const entry = this.#live.get(this.#key(process.pid));
    if (entry !== undefined) {
      this.#live.delete(this.#key(process.pid));
      entry.markTerminated();
    }
    if (joined !== undefined) await joined();
    else if (this.ownership !== undefined) await this.ownership.handOver(process, parent);
    else await this.controller.continueProcess(process.pid, { nowait: false, noReply: true });
  }

  /** Resolves when every process submitted to run in this runner has terminated. */
  async awaitIdle(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }

  /**
   * A future resolving with the node of process `pk` once it has terminated: from its state broadcasts, the node
   * polled every `pollInterval`, and, for a process running here, its own end.
   */
  getProcessFuture(pk: number): ProcessFuture {
    const future = new ProcessFuture(pk, {
      storage: this.storage,
      communicator: this.communicator.isClosed() ? undefined : this.communicator,
      pollInterval: this.pollInterval,
      whenLocal: this.#live.get(this.#key(pk))?.terminated,
    });
    if (!future.done) {
      let waiting = this.#futures.get(pk);
      if (waiting === undefined) this.#futures.set(pk, (waiting = new Set()));
      waiting.add(future);
      const forget = (): void => {
        waiting.delete(future);
        if (waiting.size === 0 && this.#futures.get(pk) === waiting) this.#futures.delete(pk);
      };
      future.then(forget, forget);
    }
    return future;
  }

  /**
   * Calls `callback` with the node once process `pk` has terminated, exactly once (aiida's
   * `call_on_process_finish`). Returns a function that cancels the wait.
   */
  callOnProcessFinish(pk: number, callback: (node: ProcessNode) => unknown): () => void {
    const future = this.getProcessFuture(pk);
    future.then(
      (node) => {
        try {
          const result = callback(node);
          if (result instanceof Promise)
            result.catch((error: unknown) =>
              getLogger('aiida').error({ err: error, pk }, 'a process-finish callback failed'),
            );
        } catch (error) {
          getLogger('aiida').error({ err: error, pk }, 'a process-finish callback failed');
        }
      },
      (error: unknown) => getLogger('aiida').error({ err: error, pk }, 'cannot wait for the process'),
    );
    return () => future.cancel();
  }

  /**
   * Loads the process `pk` from the checkpoint on its node into this runner (not yet running). `NotExistentError`
   * for a missing node; `InvalidOperationError` for a terminated process; a `PersistenceError` for a missing or
   * unreadable checkpoint or a class that is not registered (import the module defining it first).
   */
  async loadProcess(pk: number, options: LoadProcessOptions = {}): Promise<EngineProcessInstance> {
    this.#ensureOpen();
    // a caller that has just read the node (a daemon worker claiming it) saves this read
    const node =
      options.node !== undefined && options.node.pk === pk
        ? options.node
        : await loadNode(pk, { storage: this.storage });
    if (!(node instanceof ProcessNode)) throw new NotExistentError(`node<${pk}> is not a process node`);
    if (node.isTerminated)
      throw new InvalidOperationError(`process<${pk}> has already terminated (${String(node.processState)})`);
    const live = this.getLiveProcess(pk);
    if (live !== undefined && !live.isClosed) return live;
    const checkpoint =
      this.persister instanceof AiidaPersister
        ? await this.persister.loadCheckpointOf(node)
        : await this.persister.loadCheckpoint(pk);
    const process = this.#loadFrom(checkpoint);
    this.#register(process);
    return process;
  }

  /**
   * Continues process `pk` from its checkpoint in this runner and resolves to its outputs when it ends (what a
   * daemon worker does with a `continue` task). A process that already terminated resolves to its recorded outputs.
   */
  async continueProcess(pk: number): Promise<Readonly<Record<string, unknown>>> {
    const node = await loadNode(pk, { storage: this.storage });
    if (node instanceof ProcessNode && node.isTerminated) return outputsOfNode(node);
    const process = await this.loadProcess(pk);
    return (await withStorage(this.storage, () => process.execute())) as Readonly<Record<string, unknown>>;
  }

  /** Kills the processes still running here, waits for them, and closes the communicator if the runner owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const live of this.liveProcesses)
      if (!live.hasTerminated() && !live.isClosed) live.kill('the runner was closed');
    const ended = Promise.all(
      [...this.#live.values()].filter((entry) => !entry.process.isClosed).map((entry) => entry.terminated),
    );
    // A step that does not return within the grace period is abandoned: its process is killed at once.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
    });
    if ((await Promise.race([ended, grace])) === 'late') {
      for (const live of this.liveProcesses)
        if (!live.hasTerminated() && !live.isClosed) live.kill('the runner was closed', { forceKill: true });
      await ended;
    }
    clearTimeout(timer);
    await this.awaitIdle();
    await this.#lastMarkExcepted();
    await this.ownership?.close();
    if (this.#ownsCommunicator) await this.communicator.close();
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
