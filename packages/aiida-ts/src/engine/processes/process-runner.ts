import type { Communicator } from 'kiwipy-ts';
import type {
  ObjectLoader,
  Persister,
  Pid,
  Process as PlumpyProcess,
  ProcessClass,
  RemoteProcessController,
} from 'plumpy-ts';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../storage/backend.js';
import type { ProcessFuture } from '../futures.js';

/** What `runGetNode` resolves to: the result (outputs, or a process function's single result) and the node. */
export interface RunResult<R, N extends ProcessNode = ProcessNode> {
  readonly result: R;
  /** The process node, typed from the process spec when a process class was run (see `ProcessNodeOf`). */
  readonly node: N;
}

/** A process whose end the storage refused to record: what the runner needs to mark its node excepted later. */
export interface UnrecordedEnd {
  readonly node: ProcessNode;
  /** Marks the node excepted and sealed with `failure` as its exception; rejects while the storage refuses. */
  markExcepted(failure: unknown): Promise<void>;
}

/**
 * What a process needs of the runner it runs in (aiida's `Process.runner`): the storage its node lives in, the
 * communicator, persister and class loader it is made with, and the services to launch and wait for children. The
 * engine's `Runner` implements it; processes depend on this interface only, so that the runner module (which makes
 * processes) is not imported back by them.
 */
export interface ProcessRunner {
  /** The storage the processes of this runner record themselves in. */
  readonly storage: StorageBackend;
  /** The communicator handed to processes (their state broadcasts wait for the node writes). */
  readonly processCommunicator: Communicator;
  /** Checkpoints of the processes. */
  readonly persister: Persister;
  /** Identifies process classes in checkpoints. */
  readonly loader: ObjectLoader;
  /** Remote control of processes by pk (kills children running elsewhere). */
  readonly controller: RemoteProcessController;
  /** Runs a process class, builder or process function to its end; resolves to its outputs. */
  run(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<unknown>;
  /** Like {@link run}, and also gives the process node. */
  runGetNode(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<RunResult<unknown>>;
  /** Submits a process class or builder (runs in the background, or goes to the daemon); resolves to its node. */
  submit(target: unknown, inputs?: Readonly<Record<string, unknown>>): Promise<ProcessNode>;
  /** Launches `processClass` as a child of `parent` and returns the child process (see `this.submit`). */
  submitChild(
    parent: PlumpyProcess,
    processClass: ProcessClass,
    inputs: Readonly<Record<string, unknown>>,
  ): Promise<PlumpyProcess>;
  /** Resolves when process `pid` running here has terminated and its node says so; undefined if not here. */
  whenTerminated(pid: Pid): Promise<void> | undefined;
  /** A future resolving with the node of process `pk` once it has terminated. */
  getProcessFuture(pk: number): ProcessFuture;
  /** Called by a process entering a terminal state: forgotten once its node writes are done. */
  processTerminated(process: PlumpyProcess): void;
  /** Keeps trying to mark excepted the node of a process whose end the storage refused to record. */
  markExceptedLater(end: UnrecordedEnd, failure: unknown): void;
}
