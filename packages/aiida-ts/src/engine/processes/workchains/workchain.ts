import type { Process as PlumpyProcess } from 'plumpy-ts';
import {
  ProcessState,
  WorkChain as PlumpyWorkChain,
  WorkChainWaiting,
  type HookResult,
  type Pid,
  type ProcessStateObject,
  type StateClasses,
} from 'plumpy-ts';
import { Node } from '../../../orm/nodes/node.js';
import { WorkChainNode } from '../../../orm/nodes/process/process.js';
import { defineProcessBase } from '../base-spec.js';
import { processClassRegistry, recordDefinitionsOf } from '../process-type.js';
import type { ProcessProvenance } from '../provenance.js';
import { normaliseReturns } from './context.js';
import { AFTER_STEP, EngineWorkChainRunning } from '../states.js';
import { withProvenance } from '../with-provenance.js';

const WorkChainBase = withProvenance(PlumpyWorkChain).define((spec) => defineProcessBase(spec));

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
 * the engine's process node (shared with `Process`, see `withProvenance`). A step ends the work chain by returning a
 * non-zero exit status (`this.exitCodes.X` or an integer); `toContext` waits for child processes and puts their nodes
 * in the context; `this.submit` launches a child. The position in the outline is kept on the node
 * (`stepper_state_info`) and in checkpoints, so a work chain reloaded from its node's checkpoint continues where it
 * was.
 */
export class WorkChain extends WorkChainBase {
  static override get stateClasses(): StateClasses {
    engineStates ??= { ...PlumpyWorkChain.stateClasses, running: EngineWorkChainRunning };
    return engineStates;
  }

  /** The class of the node recording runs of this class. */
  static get nodeClass(): typeof WorkChainNode {
    return WorkChainNode;
  }

  /** The base class and classes without an outline cannot be run. */
  static isAbstract(): boolean {
    return this === WorkChain || this.getOutline() === undefined;
  }

  /** The work chain node recording this run. */
  override get node(): WorkChainNode {
    return this.provenance.node as WorkChainNode;
  }

  // ---- hooks ---------------------------------------------------------------------------------------------------

  protected override onRun(): HookResult {
    const result = super.onRun();
    this.provenance.writer.set({ [WorkChainNode.STEPPER_STATE_INFO_KEY]: this.stepperInfo });
    return result;
  }

  /** While waiting for children, the status names them (aiida's `Waiting for child processes: <pks>`). */
  protected override onEntered(from: ProcessStateObject | undefined): void {
    const state = this.state;
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
    // A child running here: its node (kept current in memory) once its end is written, without reading it back. When
    // its end was not recorded (this worker lost its lease on it: another continues it), the storage says when it ends.
    const local = this.runner.whenTerminated(pk);
    if (local !== undefined && !process.isClosed)
      return local.then(() =>
        provenance.endFailure === undefined ? provenance.node : this.runner.getProcessFuture(pk),
      );
    return this.runner.getProcessFuture(pk);
  }

  /** After a reload, a child awaited before the checkpoint resolves to its node when it terminates. */
  protected override awaitProcess(pid: Pid): PromiseLike<unknown> {
    // Called while the checkpoint is being restored, before this process knows its runner: wait a tick.
    return Promise.resolve().then(() => this.runner.getProcessFuture(Number(pid)));
  }

  /** After a step: its outputs linked, and the unstored nodes it put in the context stored (they are checkpointed). */
  override async [AFTER_STEP](): Promise<void> {
    await super[AFTER_STEP]();
    const unstored = new Set<Node>();
    unstoredNodes(this.ctx, unstored);
    if (unstored.size > 0 && this.provenance.storeProvenance) await Node.storeMany([...unstored]);
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
