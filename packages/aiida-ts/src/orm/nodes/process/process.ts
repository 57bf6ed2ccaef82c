import { ModificationNotAllowedError, ValidationError } from '../../../errors.js';
import { LinkType } from '../../links.js';
import { storableText, validateKey } from '../../utils/clean.js';
import type { WriteStatement } from '../../../storage/backend.js';
import { Node, type NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { nodeLinksManager, type NodeLinksManager } from './links-manager.js';

/** The states of a process, with plumpy's labels (the `process_state` attribute). */
export const ProcessState = {
  CREATED: 'created',
  WAITING: 'waiting',
  RUNNING: 'running',
  FINISHED: 'finished',
  EXCEPTED: 'excepted',
  KILLED: 'killed',
} as const;
export type ProcessState = (typeof ProcessState)[keyof typeof ProcessState];

const PROCESS_STATES = new Set<string>(Object.values(ProcessState));

/** An exit status with its message, as the `exit_status`/`exit_message` attributes hold them. */
export interface ExitCode {
  readonly status: number;
  readonly message: string;
}

/** The attribute keys of process nodes (aiida-core's `*_KEY` constants). */
export const ProcessAttribute = {
  SEALED: 'sealed',
  CHECKPOINT: 'checkpoints',
  EXCEPTION: 'exception',
  EXIT_MESSAGE: 'exit_message',
  EXIT_STATUS: 'exit_status',
  PAUSED: 'paused',
  PROCESS_LABEL: 'process_label',
  PROCESS_STATE: 'process_state',
  PROCESS_STATUS: 'process_status',
  METADATA_INPUTS: 'metadata_inputs',
} as const;

/** Attributes holding text the engine records about a process (from errors and exit codes), not the user's data. */
const DIAGNOSTIC_ATTRIBUTES: readonly string[] = [
  ProcessAttribute.EXCEPTION,
  ProcessAttribute.EXIT_MESSAGE,
  ProcessAttribute.PROCESS_STATUS,
];

/**
 * `values` with the diagnostic texts made storable (NUL characters and lone surrogates escaped, see
 * `storableText`): an exception message holding a NUL byte must not keep a process from being recorded as excepted.
 */
function recordableDiagnostics(values: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  let out: Record<string, unknown> | undefined;
  for (const key of DIAGNOSTIC_ATTRIBUTES) {
    const value = values[key];
    if (typeof value !== 'string') continue;
    const text = storableText(value);
    if (text === value) continue;
    out ??= { ...values };
    out[key] = text;
  }
  return out ?? values;
}

/**
 * The record of a process execution. Sealable: after storing, only the "updatable" attributes (state, status,
 * exit status, checkpoints, …) change, through the async setters here, until {@link seal}; then nothing does.
 * Inputs can only be linked before storing; outputs only until sealed.
 */
export class ProcessNode extends Node {
  static override readonly storable: boolean = false;
  static override readonly unstorableMessage: string =
    'only Data, WorkflowNode, CalculationNode or their subclasses can be stored';
  static override readonly updatableAttributes: readonly string[] = [
    ProcessAttribute.SEALED,
    ProcessAttribute.PAUSED,
    ProcessAttribute.CHECKPOINT,
    ProcessAttribute.EXCEPTION,
    ProcessAttribute.EXIT_MESSAGE,
    ProcessAttribute.EXIT_STATUS,
    ProcessAttribute.PROCESS_LABEL,
    ProcessAttribute.PROCESS_STATE,
    ProcessAttribute.PROCESS_STATUS,
  ];

  /**
   * Phantoms: the types of the nodes linked as inputs and outputs, by label. `unknown` (any label) on the node
   * classes; the engine's `ProcessNodeOf<typeof MyWorkChain>` narrows them to the process spec.
   */
  declare readonly '~inputLinks': unknown;
  declare readonly '~outputLinks': unknown;

  constructor(init?: undefined, options: NodeOptions = {}) {
    void init;
    super(options);
  }

  /**
   * The input nodes by link label (aiida-core's `node.inputs`): `await node.inputs.x`, `await node.inputs.ns.y`, or
   * `await node.inputs` for all of them (namespaces nested). Typed from the process spec on a `ProcessNodeOf<C>`.
   */
  get inputs(): NodeLinksManager<this['~inputLinks']> {
    return nodeLinksManager({
      node: this,
      direction: 'incoming',
      linkTypes: [LinkType.INPUT_CALC, LinkType.INPUT_WORK],
      noun: 'input',
    }) as NodeLinksManager<this['~inputLinks']>;
  }

  /**
   * The output nodes by link label (aiida-core's `node.outputs`): created (`create`) or returned (`return`) ones;
   * `await node.outputs.sum`, `await node.outputs` for all. Rejects with a `NotExistentError` for a label the
   * process did not emit. Typed from the process spec on a `ProcessNodeOf<C>`.
   */
  get outputs(): NodeLinksManager<this['~outputLinks']> {
    return nodeLinksManager({
      node: this,
      direction: 'outgoing',
      linkTypes: [LinkType.CREATE, LinkType.RETURN],
      noun: 'output',
    }) as NodeLinksManager<this['~outputLinks']>;
  }

  get isSealed(): boolean {
    return this.base.attributes.get(ProcessAttribute.SEALED, false) === true;
  }

  #updatable(key: string): boolean {
    return (this.constructor as typeof ProcessNode).updatableAttributes.includes(key);
  }

  protected override assertAttributesMutable(keys: readonly string[]): void {
    if (!this.isStored) return;
    if (this.isSealed) throw new ModificationNotAllowedError('attributes of a sealed node are immutable');
    throw new ModificationNotAllowedError(
      `attributes of stored node<${String(this.pk)}> change only through setAttribute() and only for updatable keys` +
        (keys.length > 0 ? ` (got ${keys.join(', ')})` : ''),
    );
  }

  protected override assertRepositoryMutable(): void {
    if (this.isSealed) throw new ModificationNotAllowedError('the repository of a sealed node is immutable');
  }

  /**
   * Sets an attribute: any key before storing; after storing only an updatable key of an unsealed node
   * (`ModificationNotAllowedError` otherwise), saved at once.
   */
  async setAttribute(key: string, value: unknown): Promise<void> {
    await this.setAttributes({ [key]: value });
  }

  /** Sets several attributes at once (see {@link setAttribute}). */
  async setAttributes(given: Readonly<Record<string, unknown>>): Promise<void> {
    const values = recordableDiagnostics(given);
    const keys = Object.keys(values);
    for (const key of keys) validateKey(key, 'attribute key');
    if (!this.isStored) {
      this.base.attributes.setMany(values);
      return;
    }
    this.#assertUpdatable(keys);
    await this.persistAttributes(values, []);
  }

  /**
   * Sets some attributes and deletes others (those present) in one write (see {@link setAttribute} for when that is
   * allowed): the engine records a process's end and drops its checkpoint with one UPDATE.
   */
  async updateAttributes(
    given: Readonly<Record<string, unknown>>,
    remove: readonly string[] = [],
  ): Promise<void> {
    const update = this.prepareUpdate(given, remove);
    if (update !== undefined) await this.runAttributesWrite(update);
  }

  /**
   * @internal {@link updateAttributes} in two parts, for the engine to run the statement with others (the end of a
   * process with its outputs): checks the change and resolves to the statement and what to change in memory once it
   * is written. An unstored node changes at once, and there is nothing to write (undefined).
   */
  prepareUpdate(
    given: Readonly<Record<string, unknown>>,
    remove: readonly string[] = [],
  ): { readonly statement: WriteStatement; readonly written: () => void } | undefined {
    const set = recordableDiagnostics(given);
    const present = remove.filter((key) => this.base.attributes.has(key) && !Object.hasOwn(set, key));
    if (!this.isStored) {
      this.base.attributes.setMany(set);
      for (const key of present) this.base.attributes.delete(key);
      return undefined;
    }
    for (const key of Object.keys(set)) validateKey(key, 'attribute key');
    this.#assertUpdatable([...Object.keys(set), ...present]);
    const { statement, written } = this.attributesWrite({ ...set }, present);
    if (statement !== undefined) return { statement, written };
    written();
    return undefined;
  }

  /** Deletes an attribute if present (see {@link setAttribute} for when that is allowed). */
  async deleteAttribute(key: string): Promise<void> {
    if (!this.base.attributes.has(key)) return;
    if (!this.isStored) {
      this.base.attributes.delete(key);
      return;
    }
    this.#assertUpdatable([key]);
    await this.persistAttributes({}, [key]);
  }

  #assertUpdatable(keys: readonly string[]): void {
    if (this.isSealed) throw new ModificationNotAllowedError('attributes of a sealed node are immutable');
    const fixed = keys.filter((key) => !this.#updatable(key));
    if (fixed.length > 0) {
      throw new ModificationNotAllowedError(
        `Cannot modify non-updatable attributes of a stored+unsealed node: ${fixed.join(', ')}`,
      );
    }
  }

  /** Seals the node: no attribute, file or link changes afterwards. Idempotent. */
  async seal(): Promise<this> {
    if (!this.isSealed) await this.setAttribute(ProcessAttribute.SEALED, true);
    return this;
  }

  get processLabel(): string | null {
    return this.base.attributes.get(ProcessAttribute.PROCESS_LABEL, null) as string | null;
  }
  async setProcessLabel(label: string): Promise<void> {
    await this.setAttribute(ProcessAttribute.PROCESS_LABEL, label);
  }

  get processState(): ProcessState | null {
    const state = this.base.attributes.get(ProcessAttribute.PROCESS_STATE, null);
    return typeof state === 'string' && PROCESS_STATES.has(state) ? (state as ProcessState) : null;
  }
  async setProcessState(state: ProcessState | null): Promise<void> {
    if (state === null) {
      await this.deleteAttribute(ProcessAttribute.PROCESS_STATE);
      return;
    }
    if (!PROCESS_STATES.has(state)) throw new ValidationError(`invalid process state \`${String(state)}\``);
    await this.setAttribute(ProcessAttribute.PROCESS_STATE, state);
  }

  get processStatus(): string | null {
    return this.base.attributes.get(ProcessAttribute.PROCESS_STATUS, null) as string | null;
  }
  /** Sets the free-text status (why it is paused, waiting, …); null deletes it. */
  async setProcessStatus(status: string | null): Promise<void> {
    if (status === null) {
      await this.deleteAttribute(ProcessAttribute.PROCESS_STATUS);
      return;
    }
    if (typeof status !== 'string') throw new ValidationError('process status should be a string');
    await this.setAttribute(ProcessAttribute.PROCESS_STATUS, status);
  }

  get exitStatus(): number | null {
    return this.base.attributes.get(ProcessAttribute.EXIT_STATUS, null) as number | null;
  }
  /** Sets the exit status (null means 0, as in aiida-core). */
  async setExitStatus(status: number | null): Promise<void> {
    const value = status ?? 0;
    if (!Number.isInteger(value))
      throw new ValidationError(`exit status has to be an integer, got ${String(status)}`);
    await this.setAttribute(ProcessAttribute.EXIT_STATUS, value);
  }

  get exitMessage(): string | null {
    return this.base.attributes.get(ProcessAttribute.EXIT_MESSAGE, null) as string | null;
  }
  /** Sets the exit message; null does nothing. */
  async setExitMessage(message: string | null): Promise<void> {
    if (message === null) return;
    if (typeof message !== 'string')
      throw new ValidationError(`exit message has to be a string type, got ${typeof message}`);
    await this.setAttribute(ProcessAttribute.EXIT_MESSAGE, message);
  }

  /** The exit code when both status and message are set, else null. */
  get exitCode(): ExitCode | null {
    const status = this.exitStatus;
    const message = this.exitMessage;
    return status === null || message === null ? null : { status, message };
  }

  /** The exception text of an excepted process ('' when missing), null otherwise. */
  get exception(): string | null {
    if (!this.isExcepted) return null;
    return this.base.attributes.get(ProcessAttribute.EXCEPTION, '') as string;
  }
  async setException(exception: string): Promise<void> {
    if (typeof exception !== 'string') throw new ValidationError('exception message has to be a string type');
    await this.setAttribute(ProcessAttribute.EXCEPTION, exception);
  }

  /** The serialised checkpoint of a running process, or null. */
  get checkpoint(): string | null {
    return this.base.attributes.get(ProcessAttribute.CHECKPOINT, null) as string | null;
  }
  async setCheckpoint(checkpoint: string): Promise<void> {
    await this.setAttribute(ProcessAttribute.CHECKPOINT, checkpoint);
  }
  async deleteCheckpoint(): Promise<void> {
    await this.deleteAttribute(ProcessAttribute.CHECKPOINT);
  }

  get paused(): boolean {
    return this.base.attributes.get(ProcessAttribute.PAUSED, false) === true;
  }
  async pause(): Promise<void> {
    await this.setAttribute(ProcessAttribute.PAUSED, true);
  }
  async unpause(): Promise<void> {
    await this.deleteAttribute(ProcessAttribute.PAUSED);
  }

  /** The inputs under `metadata` the process was launched with, or null. */
  get metadataInputs(): unknown {
    return this.base.attributes.get(ProcessAttribute.METADATA_INPUTS, null);
  }

  get isTerminated(): boolean {
    return this.isExcepted || this.isFinished || this.isKilled;
  }
  get isExcepted(): boolean {
    return this.processState === ProcessState.EXCEPTED;
  }
  get isKilled(): boolean {
    return this.processState === ProcessState.KILLED;
  }
  get isFinished(): boolean {
    return this.processState === ProcessState.FINISHED;
  }
  /** Finished with exit status 0. */
  get isFinishedOk(): boolean {
    return this.isFinished && this.exitStatus === 0;
  }
  /** Finished with a non-zero exit status. */
  get isFailed(): boolean {
    return this.isFinished && this.exitStatus !== 0;
  }

  /** The processes this one called (outgoing `call_calc`/`call_work` links). */
  async getCalled(): Promise<ProcessNode[]> {
    const links = await this.base.links.getOutgoing({ linkType: [LinkType.CALL_CALC, LinkType.CALL_WORK] });
    return links.allNodes() as ProcessNode[];
  }

  /** All processes below this one in the call tree. */
  async getCalledDescendants(): Promise<ProcessNode[]> {
    const out: ProcessNode[] = [];
    for (const child of await this.getCalled()) out.push(child, ...(await child.getCalledDescendants()));
    return out;
  }

  /** The process that called this one, or null for a top-level process. */
  async getCaller(): Promise<ProcessNode | null> {
    const links = await this.base.links.getIncoming({ linkType: [LinkType.CALL_CALC, LinkType.CALL_WORK] });
    return (links.first()?.node as ProcessNode | undefined) ?? null;
  }

  protected override validateIncomingLink(source: Node, linkType: LinkType, linkLabel: string): void {
    if (this.isSealed) throw new ModificationNotAllowedError('Cannot add a link to a sealed node');
    if (this.isStored)
      throw new ValidationError('attempted to add an input link after the process node was already stored.');
    super.validateIncomingLink(source, linkType, linkLabel);
  }

  protected override validateOutgoingLink(target: Node, linkType: LinkType, linkLabel: string): void {
    if (this.isSealed) throw new ModificationNotAllowedError('Cannot add a link from a sealed node');
    super.validateOutgoingLink(target, linkType, linkLabel);
  }

  override toString(): string {
    const base = super.toString();
    return this.processType === null ? base : `${base} (${this.processType})`;
  }
}
registerNodeClass(ProcessNode, {
  group: 'aiida.node',
  name: 'process',
  className: 'ProcessNode',
  fallback: true,
});

/** A process that creates data (calcfunction or calcjob): may not call other processes. */
export class CalculationNode extends ProcessNode {
  static override readonly storable: boolean = true;
  static override readonly unstorableMessage: string = 'storing for this node has been disabled';
  static override readonly nodeFamily = 'calculation' as const;
}
registerNodeClass(CalculationNode, {
  group: 'aiida.node',
  name: 'process.calculation',
  className: 'CalculationNode',
  fallback: true,
});

/** The record of a calcfunction run. */
export class CalcFunctionNode extends CalculationNode {}
registerNodeClass(CalcFunctionNode, {
  group: 'aiida.node',
  name: 'process.calculation.calcfunction',
  className: 'CalcFunctionNode',
  fallback: true,
});

/** A process that orchestrates others (workchain or workfunction): returns data, never creates it. */
export class WorkflowNode extends ProcessNode {
  static override readonly storable: boolean = true;
  static override readonly unstorableMessage: string = 'storing for this node has been disabled';
  static override readonly nodeFamily = 'workflow' as const;

  protected override validateOutgoingLink(target: Node, linkType: LinkType, linkLabel: string): void {
    super.validateOutgoingLink(target, linkType, linkLabel);
    if (linkType === LinkType.RETURN && !target.isStored) {
      throw new ValidationError(
        `Workflow<${String(this.processLabel)}> tried returning an unstored \`Data\` node. This likely means new \`Data\` ` +
          'is being created inside the workflow. In order to preserve data provenance, use a `calcfunction` to create ' +
          'this node and return its output from the workflow',
      );
    }
  }
}
registerNodeClass(WorkflowNode, {
  group: 'aiida.node',
  name: 'process.workflow',
  className: 'WorkflowNode',
  fallback: true,
});

/** The record of a workchain run; `stepper_state_info` tells the outline step it is at. */
export class WorkChainNode extends WorkflowNode {
  static readonly STEPPER_STATE_INFO_KEY = 'stepper_state_info';
  static override readonly updatableAttributes: readonly string[] = [
    ...WorkflowNode.updatableAttributes,
    WorkChainNode.STEPPER_STATE_INFO_KEY,
  ];

  get stepperStateInfo(): string | null {
    return this.base.attributes.get(WorkChainNode.STEPPER_STATE_INFO_KEY, null) as string | null;
  }
  async setStepperStateInfo(info: string): Promise<void> {
    await this.setAttribute(WorkChainNode.STEPPER_STATE_INFO_KEY, info);
  }
}
registerNodeClass(WorkChainNode, {
  group: 'aiida.node',
  name: 'process.workflow.workchain',
  className: 'WorkChainNode',
  fallback: true,
});

/** The record of a workfunction run. */
export class WorkFunctionNode extends WorkflowNode {}
registerNodeClass(WorkFunctionNode, {
  group: 'aiida.node',
  name: 'process.workflow.workfunction',
  className: 'WorkFunctionNode',
  fallback: true,
});
