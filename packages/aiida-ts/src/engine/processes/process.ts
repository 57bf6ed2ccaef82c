import {
  DEFAULT_STATE_CLASSES,
  ExitCode,
  Process as PlumpyProcess,
  type ProcessState,
  type StateClasses,
} from 'plumpy-ts';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import { defineProcessBase } from './base-spec.js';
import { labelToPath, outputsOfNode } from './engine-hooks.js';
import { recordDefinitionsOf } from './process-type.js';
import { flattenValues } from './provenance.js';
import { EngineRunning, REPLAY_CACHE } from './states.js';
import { withProvenance } from './with-provenance.js';

export { defaultProcessType, definitionOf, recordDefinition, recordDefinitionsOf } from './process-type.js';

const ENGINE_STATES: StateClasses = { ...DEFAULT_STATE_CLASSES, running: EngineRunning };

const ProcessBase = withProvenance(PlumpyProcess).define((spec) => defineProcessBase(spec));

/**
 * A process with provenance (aiida's `Process`): made by the engine (`run`, `submit`, `runner.instantiate`), it
 * records itself as a process node whose pk is its pid — inputs linked on creation, outputs linked as they are
 * emitted, state, status, exit code, exception and paused flag kept up to date, checkpoints on the node, sealed when
 * it ends. Every process has the `metadata` input namespace and the base exit codes 1, 2, 10 and 11.
 *
 * Define one with `class Add extends Process.define(spec => spec.input('x', { validType: nodeType(Int) })...)`;
 * subclasses choose their node class with `static override get nodeClass()`. What the engine adds over plumpy-ts's
 * process is shared with `WorkChain` (see `withProvenance`).
 */
export class Process extends ProcessBase {
  static override get stateClasses(): StateClasses {
    return ENGINE_STATES;
  }

  /** The class of the node recording runs of this class (aiida's `_node_class`). */
  static get nodeClass(): typeof ProcessNode {
    return ProcessNode;
  }

  /** Whether the class is abstract (cannot be run). */
  static isAbstract(): boolean {
    return this === Process;
  }

  #replayed = false;

  /** A process cloned from the cache emits the cached node's outputs and ends with its exit code, once. */
  override [REPLAY_CACHE](): Promise<ExitCode> | undefined {
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

  /** `state` of the node as recorded, for tests and tools. */
  get nodeState(): ProcessState | null {
    return this.node.processState;
  }
}

recordDefinitionsOf(Process);
