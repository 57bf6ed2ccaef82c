import type { EngineProcessClass, EngineProcessInstance } from './processes/instantiate.js';

/** A child process of an interrupted step, found again when the step runs once more (see {@link ProcessOwnership}). */
export interface ReplayedChild {
  readonly pk: number;
}

/**
 * Who is responsible for the processes of a runner, as the runner sees it (the daemon implements it in
 * `src/engine/daemon/`): leases on the processes it runs, hand-over of submitted processes to the daemon, and the
 * children an interrupted step already made. A runner without one keeps no records (tests, temporary storage).
 */
export interface ProcessOwnership {
  /** Whether a `submit` from outside any process goes to the daemon (else it runs in the background here). */
  submitsToDaemon(): Promise<boolean>;
  /** Whether `this.submit` in a step of a process running here goes to the daemon (true in a daemon worker). */
  readonly childrenToDaemon: boolean;
  /**
   * Leases a process this runner made (its node stored), before it runs: the runner's OS process and host are
   * recorded as its owner, so that its death is noticed.
   */
  adopt(process: EngineProcessInstance): Promise<void>;
  /**
   * Hands a made process, checkpointed and closed here, to the daemon: its runnable record (and a broker task). With
   * a `parent`, the record is written under the parent's lease.
   */
  handOver(process: EngineProcessInstance, parent: EngineProcessInstance | undefined): Promise<void>;
  /**
   * Hands a made process without a parent to the daemon together with its first checkpoint: called before the write
   * of its node that carries the checkpoint, it joins the runnable record to that write (both commit together), and
   * resolves to what is left to do once that write has committed (the broker task).
   */
  joinHandOver(process: EngineProcessInstance): Promise<() => Promise<void>>;
  /**
   * A child of `processClass` with call link label `label` that an earlier, interrupted run of the current step of
   * `parent` made, to be used instead of making it again (each is taken once, in order); undefined when there is
   * none. A `submitted` child that has not terminated is handed to the daemon again if it has no record.
   */
  replayChild(
    parent: EngineProcessInstance,
    processClass: EngineProcessClass,
    label: string,
    options: { readonly submitted: boolean },
  ): Promise<ReplayedChild | undefined>;
  /** Stops heartbeats and forgets the runner's records (its processes are over). */
  close(): Promise<void>;
}
