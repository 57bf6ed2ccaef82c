import { PortNamespace, ProcessState, isPlainObject, type ProcessSpec, type SpecTypes } from 'plumpy-ts';
import { InvalidOperationError, ProvenanceWriteError, ValidationError } from '../../errors.js';
import { LINK_RULES, LinkType, PORT_NAMESPACE_SEPARATOR } from '../../orm/links.js';
import { Node } from '../../orm/nodes/node.js';
import { CalculationNode, ProcessAttribute, type ProcessNode } from '../../orm/nodes/process/process.js';
import { Data } from '../../orm/nodes/data/data.js';
import { validateLinkLabel } from '../../orm/links.js';
import type { NewDbLink } from '../../storage/schema.js';
import { hashBeforeStore, hashBeforeStoreNow } from '../caching/hash.js';
import type { ProcessRunner } from './process-runner.js';
import { NodeWriter } from './node-writer.js';
import { isLeaseLost } from '../write-guard.js';

/** Options of {@link ProcessProvenance.linkOutputs}. */
export interface LinkOutputsOptions {
  /**
   * The new outputs are stored with the node's next write instead of now: the caller enters its next state at once,
   * and that state's write (its checkpoint, which may refer to them) carries them, one commit instead of two.
   */
  readonly withNextWrite?: boolean;
}

/** What the engine keeps beside a plumpy process to record it in the provenance graph. */
export interface ProvenanceInit {
  readonly node: ProcessNode;
  readonly runner: ProcessRunner;
  /** False when `metadata.store_provenance` is false: the node and everything linked to it stay unstored. */
  readonly storeProvenance: boolean;
  /** The node was cloned from this cached node: the process replays its outcome instead of running. */
  readonly cachedFrom?: ProcessNode | undefined;
  /** Output link labels already on the node (a reloaded process). */
  readonly linkedOutputs?: Iterable<string>;
  /**
   * The process is checkpointed: what a step produced is stored before its next state is entered (a checkpoint
   * refers to stored nodes only). Otherwise outputs are stored with the next write of the node.
   */
  readonly persisted?: boolean;
}

/**
 * The provenance side of one running process: its node, the writer of the node's changing attributes, and which
 * outputs are already linked. Shared by the engine's `Process` and `WorkChain` classes.
 */
export class ProcessProvenance {
  readonly node: ProcessNode;
  readonly runner: ProcessRunner;
  readonly writer: NodeWriter;
  readonly storeProvenance: boolean;
  readonly linkedOutputs: Set<string>;
  readonly persisted: boolean;
  /** Processes this one started that may still run in this JS process (killed with it). */
  readonly children = new Set<{ kill(message?: string | null): unknown; hasTerminated(): boolean }>();
  cachedFrom: ProcessNode | undefined;
  #ended: Promise<void> | undefined;
  #endFailure: ProvenanceWriteError | undefined;

  constructor(init: ProvenanceInit) {
    this.node = init.node;
    this.runner = init.runner;
    this.storeProvenance = init.storeProvenance;
    this.cachedFrom = init.cachedFrom;
    this.writer = new NodeWriter(init.node);
    this.linkedOutputs = new Set(init.linkedOutputs ?? []);
    this.persisted = init.persisted ?? false;
  }

  /**
   * Writes the end of the terminated process (`outcome` is its terminal state): what is pending (outputs, state, exit
   * code, reports), the checkpoint removed, the node sealed. Never rejects: when the storage refuses that write, the
   * node is marked excepted instead (at once, or by the runner once the storage takes writes again) and
   * {@link endFailure} holds the error the launch rejects with.
   */
  recordEnd(outcome: ProcessState): Promise<void> {
    if (this.#ended === undefined) {
      this.writer.remove(ProcessAttribute.CHECKPOINT);
      this.writer.seal();
      this.#ended = this.#writeEnd(outcome);
    }
    return this.#ended;
  }

  /** Settles when the end is written or known to have failed; before the end, when the pending writes are done. */
  whenWritten(): Promise<void> {
    return this.#ended ?? this.writer.flush();
  }

  /** Why the end of the process is not on its node, once {@link recordEnd} found out; else undefined. */
  get endFailure(): ProvenanceWriteError | undefined {
    return this.#endFailure;
  }

  async #writeEnd(outcome: ProcessState): Promise<void> {
    let failure: unknown;
    try {
      await this.writer.flush();
      return;
    } catch (error) {
      failure = error;
    }
    const pk = this.node.pk;
    // The daemon's fence refused the end (or the mark): the process is another worker's now, its node is not ours
    // to mark, now or later.
    const leaseLost = (cause: unknown): void => {
      this.#endFailure = new ProvenanceWriteError(
        `process<${String(pk)}> ${outcome} here, but this runner lost its lease: another worker continues it`,
        { pk, markedExcepted: false },
        { cause },
      );
    };
    if (isLeaseLost(failure)) {
      leaseLost(failure);
      return;
    }
    let markedExcepted = false;
    let why = '';
    try {
      await this.markExcepted(failure);
      markedExcepted = true;
    } catch (error) {
      if (isLeaseLost(error)) {
        leaseLost(error);
        return;
      }
      why = ` (${messageOf(error)})`;
    }
    this.#endFailure = new ProvenanceWriteError(
      `process<${String(pk)}> ${outcome}, but the storage refused the write of its end: ${messageOf(failure)}; ` +
        (markedExcepted
          ? 'its node was marked excepted'
          : `its node could not be marked excepted either${why}, which the runner retries while it is open`),
      { pk, markedExcepted },
      { cause: failure },
    );
    if (!markedExcepted) this.runner.markExceptedLater(this, failure);
  }

  /**
   * Marks the node excepted and sealed with `failure` as its exception (aiida's record of a process that failed): what
   * the node says once the write of its real end failed. Nothing to do when the node is sealed already.
   */
  async markExcepted(failure: unknown): Promise<void> {
    const node = this.node;
    if (node.isSealed) return;
    const write = (): Promise<void> =>
      node.updateAttributes(
        {
          [ProcessAttribute.PROCESS_STATE]: ProcessState.EXCEPTED,
          [ProcessAttribute.EXCEPTION]: exceptionText(failure),
          [ProcessAttribute.SEALED]: true,
        },
        [ProcessAttribute.CHECKPOINT, ProcessAttribute.EXIT_STATUS, ProcessAttribute.EXIT_MESSAGE],
      );
    // Under the process's lease (the daemon's fence), which this terminal write releases.
    const guard = this.writer.guard;
    const storage = node.storage;
    if (guard === undefined || storage === undefined || node.pk === null) return await write();
    const end = { pk: node.pk, terminal: true, checkpoint: false };
    await storage.transaction(async (trx) => {
      await guard.before(trx, end);
      await write();
      await guard.after(trx, end);
    });
    guard.committed(end);
  }

  /**
   * Links the outputs emitted since the last call (`create` for calculations, `return` for workflows) and stores the
   * new ones, as aiida's `update_outputs`. Validation errors of the links (a workflow returning data it did not get
   * from a calculation, a calculation returning its input) are thrown.
   */
  async linkOutputs(
    spec: ProcessSpec<SpecTypes>,
    outputs: Readonly<Record<string, unknown>>,
    options: LinkOutputsOptions = {},
  ): Promise<void> {
    const flat = flattenValues(spec.outputs, outputs);
    const fresh = flat.filter(([label]) => !this.linkedOutputs.has(label));
    if (fresh.length === 0) return;
    for (const [label, value] of fresh) {
      if (!(value instanceof Node)) {
        throw new ValidationError(
          `processes can only return data nodes as outputs, got ${describe(value)} for \`${label}\``,
        );
      }
    }
    if (!this.storeProvenance) {
      for (const [label] of fresh) this.linkedOutputs.add(label);
      return;
    }
    const node = this.node;
    const calculation = node instanceof CalculationNode;
    const linkType = calculation ? LinkType.CREATE : LinkType.RETURN;
    const unstored: Node[] = [];
    const links: NewDbLink[] = [];
    for (const [label, value] of fresh) {
      const output = value as Node;
      if (!output.isStored && !unstored.includes(output)) {
        if (hashBeforeStoreNow(output) === undefined) await hashBeforeStore(output);
        unstored.push(output);
      }
      if (
        calculation &&
        node.isStored &&
        !output.isStored &&
        output instanceof Data &&
        output.base.links.incomingCache.length === 0
      ) {
        // A calculation creating new data: the data has no link yet and nothing stored can reach it (no cycle), and
        // the label is new for this node (`linkedOutputs`); so the rules are checked in memory, not against the
        // database, and the link is stored with the data in one statement.
        linkToNewNode(node, output, linkType, label);
      } else if (!calculation && output.isStored && node.isStored && output instanceof Data) {
        // A workflow returning stored data it was given or got from a child: every rule of a `return` link holds
        // by construction (a new label of this node, data target, no cycle possible), so the row is written with
        // the node's next write instead of being checked against the database first.
        validateLinkLabel(label);
        links.push({ input_id: node.pk!, output_id: output.pk!, label, type: linkType });
      } else {
        await output.base.links.addIncoming(node, linkType, label);
      }
      this.linkedOutputs.add(label);
    }
    this.writer.insertLinks(links);
    this.writer.storeNodes(unstored);
    // A checkpointed process refers to its outputs in the checkpoint of its next state: store them now, or with
    // that checkpoint when the caller enters the next state at once. Links between stored nodes alone (a work
    // chain returning what a child made) are not referred to: the node's next write carries them (its next state's
    // checkpoint or its end, at the latest LAZY_WRITE_MS later), a round trip less per step that returns outputs.
    if (this.persisted && options.withNextWrite !== true && unstored.length > 0) await this.writer.flush();
  }
}

/**
 * Adds the link `source → target` in memory (stored with `target`), when `target` is a node this engine just made
 * and has not stored, with no links but the ones added here with unique labels. Then every rule aiida-core checks
 * against the database holds by construction — no stored link can have `target` at either end, so no taken label,
 * second creator or caller, or cycle — and only the rules of the node classes, the link label and the storage are
 * checked, as `addIncoming` would, without its queries.
 */
export function linkToNewNode(source: Node, target: Node, linkType: LinkType, label: string): void {
  if (target.isStored) throw new InvalidOperationError('linkToNewNode needs an unstored target');
  validateLinkLabel(label);
  const rule = LINK_RULES[linkType];
  const sourceFamily = (source.constructor as typeof Node).nodeFamily;
  const targetFamily = (target.constructor as typeof Node).nodeFamily;
  if (sourceFamily !== rule.source || targetFamily !== rule.target) {
    throw new ValidationError(
      `cannot add a ${linkType} link from ${source.constructor.name} to ${target.constructor.name}`,
    );
  }
  if (source.storage !== undefined && target.storage !== undefined && source.storage !== target.storage)
    throw new ValidationError('source and target nodes must be stored in the same storage');
  Node.checkNodeRules(source, target, linkType, label);
  Node.internalState(target).incoming.push({ source, linkType, linkLabel: label });
  Node.internalState(source).outgoing.push({ target, linkType, linkLabel: label });
}

/** The text aiida keeps for an exception: the error with its stack. */
export function exceptionText(error: unknown): string {
  if (error instanceof Error) return (error.stack ?? `${error.name}: ${error.message}`).trimEnd();
  return String(error);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * `[link label, value]` pairs of a (nested) mapping of port values, with namespaces joined by `__` (aiida's
 * `_flatten_inputs`/`_flatten_outputs`). Values under a nested port are leaves even when they are mappings; values
 * under a dynamic name are leaves unless they are plain objects.
 */
export function flattenValues(
  namespace: PortNamespace | undefined,
  values: unknown,
  prefix = '',
  skip: (port: unknown, name: string) => boolean = () => false,
): [string, unknown][] {
  const out: [string, unknown][] = [];
  if (!isPlainObject(values)) return out;
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === null) continue;
    const port = namespace?.get(name);
    if (skip(port, name)) continue;
    const label = prefix === '' ? name : `${prefix}${PORT_NAMESPACE_SEPARATOR}${name}`;
    if (port instanceof PortNamespace || (port === undefined && isPlainObject(value))) {
      out.push(...flattenValues(port instanceof PortNamespace ? port : undefined, value, label, skip));
    } else {
      out.push([label, value]);
    }
  }
  return out;
}

/** The nested mapping back from `__`-joined link labels (`inner__sum` → `{inner: {sum}}`). */
export function nestByLabel<V>(entries: Iterable<readonly [string, V]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [label, value] of entries) {
    const parts = label.split(PORT_NAMESPACE_SEPARATOR);
    const last = parts.pop()!;
    let target = out;
    for (const part of parts) {
      const next = target[part];
      if (isPlainObject(next)) target = next;
      else {
        const created: Record<string, unknown> = {};
        target[part] = created;
        target = created;
      }
    }
    target[last] = value;
  }
  return out;
}
