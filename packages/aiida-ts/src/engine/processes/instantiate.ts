import {
  Port,
  PortNamespace,
  Process as PlumpyProcess,
  UNSPECIFIED,
  isPlainObject,
  type ProcessOptions,
  type ProcessSpec,
  type SpecTypes,
} from 'plumpy-ts';
import type { Communicator } from 'kiwipy-ts';
import { InputValidationError, InvalidOperationError, type ValidationIssue } from '../../errors.js';
import { LinkType } from '../../orm/links.js';
import { DialectName } from '../../storage/dialect.js';
import { Node, type NodeOptions } from '../../orm/nodes/node.js';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import { CalculationNode, WorkflowNode } from '../../orm/nodes/process/process.js';
import { cleanValue } from '../../orm/utils/clean.js';
import { findCacheSource, copyFromCache, cloneCachedOutputs } from '../caching/cache-source.js';
import { getUseCache } from '../caching/config.js';
import {
  computeNodeHash,
  hashBeforeStore,
  hashBeforeStoreNow,
  HASH_EXTRA_KEY,
  nodeHash,
  storedHashNow,
} from '../caching/hash.js';
import { getLogger } from '../logging.js';
import type { ProcessRunner } from './process-runner.js';
import { coreVersion } from '../version.js';
import { METADATA_KEY, type ProcessMetadata } from './base-spec.js';
import { withCreationTicket } from './creation.js';
import { isNonDb } from './ports.js';
import { flattenValues, linkToNewNode, type ProcessProvenance } from './provenance.js';
import { faultPoint, FaultPoint } from '../fault-point.js';

/** The members of an engine process the engine itself uses. */
export interface EngineProcessInstance extends PlumpyProcess {
  readonly node: ProcessNode;
  readonly runner: ProcessRunner;
  readonly pk: number | null;
  readonly provenance: ProcessProvenance;
}

/** The static side of an engine process class, as the engine uses it. */
export interface EngineProcessClass {
  new (options?: ProcessOptions): EngineProcessInstance;
  readonly name: string;
  spec(): ProcessSpec<SpecTypes>;
  /** The node class recording runs of this class. */
  readonly nodeClass: new (init?: undefined, options?: NodeOptions) => ProcessNode;
  /** The node's `process_type`: an entry point string or `<module>.<name>`. */
  buildProcessType(): string;
  /** The node's `process_label`. */
  buildProcessLabel(): string;
  /** The node label when `metadata.label` is not given. */
  defaultNodeLabel(): string;
  /**
   * Sets class-specific attributes and files on a new node (a process function's source code; a calculation job's
   * computer and options), from the parsed inputs.
   */
  setupNode(node: ProcessNode, inputs: Readonly<Record<string, unknown>>): Promise<void>;
  /** Whether runs of this class can be checkpointed (process functions cannot). */
  readonly persistable: boolean;
  /** Whether a finished node of this class may serve as a cache source. */
  isValidCache(node: ProcessNode): boolean;
  /** Abstract classes (the engine's `Process`, `WorkChain`, …) cannot be run. */
  isAbstract(): boolean;
  /** Issues with the parsed inputs beyond their ports (a restart work chain checks its handler overrides). */
  validateInputs(inputs: Readonly<Record<string, unknown>>): ValidationIssue[];
  /** The inputs as the spec reads them (a process function spreads its variadic array into `args_0`, …). */
  normaliseInputs(inputs: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>>;
}

/** Options of {@link instantiateProcess}. */
export interface InstantiateOptions {
  /** The calling process; by default the process running the current step, if any. */
  readonly parent?: EngineProcessInstance | null;
  /**
   * The node of this very process, stored by an earlier run of the caller's step that was lost before the process's
   * first checkpoint (found again by the replayed step): the process is made for it (nothing is stored again) and
   * gets its first checkpoint now, instead of being marked excepted and made a second time.
   */
  readonly stored?: ProcessNode;
  /** The communicator the process talks through; by default the runner's `processCommunicator`. */
  readonly communicator?: Communicator;
  /**
   * The caller writes the process's first checkpoint durably before anything relies on the node (a process made
   * for the daemon): the node's insert need not wait for the disk (see `CommitOptions`).
   */
  readonly lazyCommit?: boolean;
}

function freezeDeep<T>(value: T): T {
  if (!isPlainObject(value) || Object.isFrozen(value)) return value;
  for (const sub of Object.values(value)) freezeDeep(sub);
  return Object.freeze(value);
}

/** Whether a port (or a value with no port) belongs to the `metadata` side: never linked. */
function isMetadataOrNonDb(port: unknown, name: string): boolean {
  if (name === METADATA_KEY && (port === undefined || port instanceof PortNamespace)) return true;
  return port instanceof Port && !(port instanceof PortNamespace) && isNonDb(port.validType);
}

/** The engine process running the current step on this async path, if any. */
export function currentEngineProcess(): EngineProcessInstance | undefined {
  const current = PlumpyProcess.current();
  return current !== undefined && 'provenance' in current ? (current as EngineProcessInstance) : undefined;
}

/**
 * Parses and checks inputs against a class's spec: defaults filled in, plain values converted to nodes. Throws an
 * {@link InputValidationError} naming every failing port; nothing is stored.
 */
export function parseProcessInputs(
  cls: EngineProcessClass,
  inputs: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  if (!isPlainObject(inputs)) throw new InputValidationError(`the inputs of ${cls.name} must be a mapping`);
  const namespace = cls.spec().inputs;
  const result = namespace.parse(namespace.preProcess(inputs));
  if (!result.ok) {
    throw new InputValidationError(`invalid inputs for ${cls.name}`, result.issues);
  }
  const parsed = (result.value === UNSPECIFIED ? {} : result.value) as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  for (const [label, value] of flattenValues(namespace, parsed, '', isMetadataOrNonDb)) {
    if (!(value instanceof Node)) {
      issues.push({
        path: label.replaceAll('__', '.'),
        message: `only data nodes can be inputs of a process (got ${typeof value}); declare the port with nonDb() to pass other values`,
      });
    }
  }
  issues.push(...cls.validateInputs(parsed));
  if (issues.length > 0) throw new InputValidationError(`invalid inputs for ${cls.name}`, issues);
  return freezeDeep(parsed);
}

/** The metadata inputs aiida keeps on the node (`metadata_inputs`): those given explicitly, JSON only, pruned. */
function metadataInputs(raw: Readonly<Record<string, unknown>>): unknown {
  const given = raw[METADATA_KEY];
  if (!isPlainObject(given)) return null;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    // label and description live in the node's columns, not in `metadata_inputs` (as in the aiida-core archives)
    if (key === 'label' || key === 'description' || value === undefined) continue;
    try {
      kept[key] = cleanValue(value);
    } catch {
      // values that cannot be stored as JSON are left out (aiida's `_filter_serializable_metadata`)
    }
  }
  return Object.keys(kept).length === 0 ? null : { [METADATA_KEY]: kept };
}

/**
 * Makes a process of `cls` the way aiida's `Process.__init__`/`on_create` does: checks the inputs (nothing is stored
 * when they are invalid), creates its node with the inputs linked (`input_calc`/`input_work`) and the caller linked
 * (`call_calc`/`call_work` labelled `metadata.call_link_label`), hashes it, takes it from the cache when caching is
 * enabled for its type and an equivalent finished node exists, stores it with its unstored inputs in one
 * transaction, and constructs the process with the node's pk as pid.
 */
export async function instantiateProcess(
  runner: ProcessRunner,
  cls: EngineProcessClass,
  inputs: Readonly<Record<string, unknown>> = {},
  options: InstantiateOptions = {},
): Promise<EngineProcessInstance> {
  if (
    typeof cls !== 'function' ||
    !(cls.prototype instanceof PlumpyProcess) ||
    typeof cls.isAbstract !== 'function'
  ) {
    throw new InvalidOperationError(
      `${typeof cls === 'function' ? cls.name : typeof cls} is not a process class of the aiida-ts engine`,
    );
  }
  if (cls.isAbstract())
    throw new InvalidOperationError(`cannot run the abstract process class ${cls.name}: define a subclass`);
  inputs = cls.normaliseInputs(inputs);
  const parsed = parseProcessInputs(cls, inputs);
  const metadata = (parsed[METADATA_KEY] ?? {}) as ProcessMetadata;
  const storeProvenance = metadata.store_provenance !== false;
  const parent = options.parent === undefined ? currentEngineProcess() : (options.parent ?? undefined);
  if (options.stored !== undefined)
    return construct(runner, cls, inputs, parsed, options.stored, parent, {
      storeProvenance,
      cachedFrom: undefined,
      communicator: options.communicator,
    });

  const node = new cls.nodeClass(undefined, { storage: runner.storage });
  node.processType = cls.buildProcessType();
  node.label = metadata.label ?? cls.defaultNodeLabel();
  node.description = metadata.description ?? '';
  node.base.attributes.setMany({
    process_state: 'created',
    process_label: cls.buildProcessLabel(),
    metadata_inputs: metadataInputs(inputs),
    version: { core: coreVersion() },
  });
  await cls.setupNode(node, parsed);

  if (parent !== undefined && storeProvenance && parent.provenance.storeProvenance) {
    if (parent.node instanceof CalculationNode) {
      throw new InvalidOperationError('calling processes from a calculation type process is forbidden.');
    }
  }

  // The caller's checkpoint must be stored before its child exists (a reload must not launch it again).
  if (parent !== undefined && parent.provenance.storeProvenance) await parent.provenance.writer.flush();
  const flat = flattenValues(cls.spec().inputs, parsed, '', isMetadataOrNonDb) as [string, Node][];
  let cachedFrom: ProcessNode | undefined;
  if (storeProvenance) {
    const inputType = node instanceof CalculationNode ? LinkType.INPUT_CALC : LinkType.INPUT_WORK;
    const inputHashes: Record<string, string> = {};
    for (const [label, input] of flat) {
      // at once when possible: several nodes are hashed on every call, and each awaited step costs more than a hash
      inputHashes[label] =
        !input.isStored && !input.base.extras.has(HASH_EXTRA_KEY)
          ? (hashBeforeStoreNow(input) ?? (await hashBeforeStore(input)))
          : (storedHashNow(input) ?? (await nodeHash(input)));
      // The node is new: its links are checked in memory (labels of one flattened mapping are unique).
      linkToNewNode(input, node, inputType, label);
    }
    if (parent !== undefined && parent.provenance.storeProvenance && parent.node.isStored) {
      const callType = node instanceof CalculationNode ? LinkType.CALL_CALC : LinkType.CALL_WORK;
      linkToNewNode(parent.node, node, callType, metadata.call_link_label ?? 'CALL');
    }
    const hash = await computeNodeHash(node, { inputHashes });
    // Workflows are never cached (they only return what others made); calculations are when configured.
    if (!(node instanceof WorkflowNode) && metadata.disable_cache !== true && getUseCache(node.processType)) {
      cachedFrom = await findCacheSource(
        node,
        hash,
        (candidate) => cls.isValidCache(candidate),
        runner.storage,
      );
      if (cachedFrom !== undefined) {
        await copyFromCache(node, cachedFrom);
        node.base.attributes.set('process_state', 'created');
        getLogger('aiida').info({ pk: cachedFrom.pk, processType: node.processType }, 'using the cache');
      }
    }
    await node.base.extras.set(HASH_EXTRA_KEY, hash);
    // A child made in a step of a leased process is stored only while the lease holds (the daemon's fence).
    const guard = parent?.provenance.storeProvenance === true ? parent.provenance.writer.guard : undefined;
    const parentPk = parent?.node.pk ?? null;
    const check = { pk: parentPk ?? 0, terminal: false, checkpoint: false };
    // On PostgreSQL the check goes in the node's insert statement (one round trip and one commit).
    const fence =
      guard !== undefined &&
      parentPk !== null &&
      runner.storage.dialect.name === DialectName.POSTGRES &&
      !runner.storage.inTransaction()
        ? guard.statements(check)
        : undefined;
    // A child of a leased process writes its end, or its first checkpoint, durably before its parent's step goes on:
    // its insert need not wait for the disk (see `CommitOptions`).
    const commit = { lazyCommit: options.lazyCommit === true || (guard !== undefined && parentPk !== null) };
    if (fence !== undefined) await node.storeAllThen(fence, commit);
    else if (guard?.transactional(check) === true && parentPk !== null) {
      await runner.storage.transaction(async (trx) => {
        await guard.before(trx, check);
        await node.storeAll();
      }, commit);
    } else await node.storeAllThen([], commit);
    if (parent !== undefined && cls.persistable) await faultPoint(FaultPoint.CHILD_STORED, parent.node.pk);
    if (cachedFrom !== undefined) await cloneCachedOutputs(node, cachedFrom);
  }
  return construct(runner, cls, inputs, parsed, node, parent, {
    storeProvenance,
    cachedFrom,
    communicator: options.communicator,
  });
}

/** The process object of `cls` for its stored (or unstored) node. */
function construct(
  runner: ProcessRunner,
  cls: EngineProcessClass,
  inputs: Readonly<Record<string, unknown>>,
  parsed: Readonly<Record<string, unknown>>,
  node: ProcessNode,
  parent: EngineProcessInstance | undefined,
  options: {
    readonly storeProvenance: boolean;
    readonly cachedFrom: ProcessNode | undefined;
    readonly communicator: Communicator | undefined;
  },
): EngineProcessInstance {
  const { storeProvenance, cachedFrom } = options;
  const persist = storeProvenance && cls.persistable;
  const process = withCreationTicket(
    {
      parsedInputs: parsed,
      provenance: { node, runner, storeProvenance, cachedFrom, persisted: persist },
    },
    () =>
      new cls({
        inputs,
        pid: node.pk ?? node.uuid,
        communicator: options.communicator ?? runner.processCommunicator,
        logger: getLogger('plumpy'),
        loader: runner.loader,
        ...(persist ? { persister: runner.persister } : {}),
      }),
  );
  if (parent !== undefined) parent.provenance.children.add(process);
  return process;
}
