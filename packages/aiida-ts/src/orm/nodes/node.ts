import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  IntegrityError,
  InvalidOperationError,
  MissingObjectsError,
  ModificationNotAllowedError,
  NotExistentError,
  StoringNotAllowedError,
  ValidationError,
  type ValidationIssue,
} from '../../errors.js';
import { collectObjectKeys } from '../../repository/object-key.js';
import type { BatchLink, CommitOptions, StorageBackend, WriteStatement } from '../../storage/backend.js';
import { canonicalTimestamp, nowTimestamp, type SqlDialect } from '../../storage/dialect.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { DbNodeRow, NewDbNode } from '../../storage/schema.js';
import { NodeComments } from '../entities/comment.js';
import { Computer } from '../entities/computer.js';
import { EntityExtras, type ExtrasHost } from '../entities/extras.js';
import { NodeLogs } from '../entities/log.js';
import { User } from '../entities/user.js';
import {
  isLinkType,
  LINK_RULES,
  LinkType,
  validateLinkLabel,
  type LinkDegree,
  type NodeFamily,
} from '../links.js';
import {
  cleanValue,
  cloneJson,
  unstorableTextReason,
  validateKey,
  validateText,
  type JsonValue,
} from '../utils/clean.js';
import { isUniqueViolation } from '../utils/db-errors.js';
import { patchedJsonColumn, patchedJsonText } from '../utils/json-column.js';
import {
  isEmptyMetadata,
  NodeRepository,
  type RepositoryHost,
  type RepositoryMetadata,
} from './node-repository.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import { getNodeClassInfo, registerNodeClass, resolveNodeClass } from './registry.js';
import { nodeHasher, runNodesStoredHooks } from './store-hooks.js';
import { columnFloatPaths, type FloatPaths, jsonWithFloats } from '../utils/float-paths.js';

/** @internal The option key through which loaders build a node from its database row. */
export const FROM_ROW: unique symbol = Symbol('aiida-ts.node.fromRow');

/** Options every node constructor accepts. */
export interface NodeOptions extends StorageOption {
  readonly label?: string;
  readonly description?: string;
  /** The owner; default: the profile's default user at store time. */
  readonly user?: User;
  readonly computer?: Computer | null;
  /** @internal */
  readonly [FROM_ROW]?: { readonly storage: StorageBackend; readonly row: DbNodeRow };
}

/** A node class as the registry and loaders use it: constructible with no init. */
export type NodeClass<T extends Node = Node> = (new (init?: undefined, options?: NodeOptions) => T) &
  typeof Node;

/** One link seen from one of its ends: the node at the other end, the link type and label. */
export interface LinkTriple<N extends Node = Node> {
  readonly node: N;
  readonly linkType: LinkType;
  readonly linkLabel: string;
}

/** Filters of {@link NodeLinks.getIncoming} and {@link NodeLinks.getOutgoing}. */
export interface LinkFilter {
  /** One link type or several. */
  readonly linkType?: LinkType | readonly LinkType[];
  /** An SQL LIKE pattern on the label (`in_ut%`); exact match for cached links without wildcards. */
  readonly linkLabelFilter?: string;
  /** Only nodes of this class (subclasses included). */
  readonly nodeClass?: abstract new (...args: never[]) => Node;
}

interface CachedLink {
  readonly source: Node;
  readonly linkType: LinkType;
  readonly linkLabel: string;
}

interface NodeState {
  storage: StorageBackend | undefined;
  pk: number | null;
  uuid: string;
  nodeType: string;
  processType: string | null;
  label: string;
  description: string;
  ctime: string;
  mtime: string | null;
  userId: number | null;
  user: User | null;
  computerId: number | null;
  computer: Computer | null;
  attributes: Record<string, unknown>;
  /**
   * Integral floats among the attributes as read from the database (aiida-core's `2.0`), by path; undefined until
   * first asked for (found in {@link floatSource}): only hashing and writing need them, not reading a node.
   */
  floatPaths: string[] | undefined;
  /** The attributes column as the database handed it over, for {@link floatPaths}. */
  floatSource?: unknown;
  extras: Record<string, JsonValue>;
  repositoryMetadata: RepositoryMetadata;
  /** Links into this node not stored yet (this node or its source is unstored). */
  incoming: CachedLink[];
  /** Mirror of the cached links out of this node, for cycle checks among unstored nodes. */
  outgoing: { readonly target: Node; readonly linkType: LinkType; readonly linkLabel: string }[];
}

function likeToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replaceAll('%', '.*')
    .replaceAll('_', '.');
  return new RegExp(`^${escaped}$`, 's');
}

function linkTypes(filter: LinkFilter): readonly LinkType[] | undefined {
  if (filter.linkType === undefined) return undefined;
  const types = typeof filter.linkType === 'string' ? [filter.linkType] : filter.linkType;
  for (const type of types)
    if (!isLinkType(type))
      throw new ValidationError(`link_type should be a LinkType but got: ${String(type)}`);
  return types;
}

/** A list of link triples with aiida-core's `LinkManager` conveniences. */
export class LinkManager<N extends Node = Node> {
  readonly #triples: readonly LinkTriple<N>[];

  constructor(triples: readonly LinkTriple<N>[]) {
    this.#triples = triples;
  }

  [Symbol.iterator](): Iterator<LinkTriple<N>> {
    return this.#triples[Symbol.iterator]();
  }

  get length(): number {
    return this.#triples.length;
  }

  all(): LinkTriple<N>[] {
    return [...this.#triples];
  }

  allNodes(): N[] {
    return this.#triples.map((t) => t.node);
  }

  allLinkLabels(): string[] {
    return this.#triples.map((t) => t.linkLabel);
  }

  first(): LinkTriple<N> | undefined {
    return this.#triples[0];
  }

  /** The only triple; `NotExistentError` when there is none, `ValidationError` when there are several. */
  one(): LinkTriple<N> {
    if (this.#triples.length === 0) throw new NotExistentError('no link found');
    if (this.#triples.length > 1)
      throw new ValidationError(`expected one link but found ${this.#triples.length}`);
    return this.#triples[0]!;
  }

  /** The node behind the only link labelled `label`. */
  getNodeByLabel(label: string): N {
    const matches = this.#triples.filter((t) => t.linkLabel === label);
    if (matches.length === 0) throw new NotExistentError(`no neighbor with the label \`${label}\` found`);
    if (matches.length > 1)
      throw new ValidationError(`more than one neighbor with the label \`${label}\` found`);
    return matches[0]!.node;
  }
}

/** A change of a stored node's attributes: the statement that writes it, and what changes in memory once written. */
export interface AttributesWrite {
  /** None for an unstored node (nothing to write). */
  readonly statement: WriteStatement | undefined;
  readonly written: () => void;
}

/**
 * How many times a store puts its files again when full maintenance deleted them before the insert (each attempt
 * needs another maintenance run to land in the same moment, so more than one retry is already unlikely). Generous:
 * on PostgreSQL a store whose insert found the repository epoch changed checks again before retrying, which widens
 * its window when full maintenance runs back to back (the multi-process race test does exactly that).
 */
const MAX_STORE_ATTEMPTS = 20;

/** `cleanValue` options for a top-level attribute (one object for every attribute of every node stored). */
const ATTRIBUTE_DEPTH = { depth: 1 } as const;

/**
 * The JSON text of a node's extras. A new node's extras are mostly the hash just computed (`hash`) alone, whose
 * text is written without walking an object: the same text `JSON.stringify` gives for the whole.
 */
function extrasJson(
  dialect: SqlDialect,
  extras: Record<string, JsonValue>,
  hash: string | undefined,
): string {
  if (hash === undefined) return dialect.encodeJson(extras);
  for (const key in extras) if (key !== '_aiida_hash') return dialect.encodeJson(extras);
  return `{"_aiida_hash":${JSON.stringify(hash)}}`;
}

/** The repository metadata column: most nodes have no files, and `{}` needs no serialiser. */
function encodeMetadata(dialect: SqlDialect, metadata: RepositoryMetadata): string {
  for (const key in metadata) if (Object.hasOwn(metadata, key)) return dialect.encodeJson(metadata);
  return '{}';
}

/**
 * A node of the provenance graph (`db_dbnode`): data or the record of a process execution. Attributes and files
 * are set before `store()` and are immutable afterwards; extras, label and description stay mutable. Links
 * between unstored nodes are kept in memory and stored with the nodes (`storeAll`, `Node.storeMany`) in one
 * transaction.
 *
 * Subclass constructors take `(init?, options?)`, call `super(options)` and return early when `this.isStored`
 * (the node was built from a database row).
 */
export class Node {
  /** Whether instances may be stored (false for `Node` and `ProcessNode`, as in aiida-core). */
  static readonly storable: boolean = false;
  static readonly unstorableMessage: string =
    'only Data, WorkflowNode, CalculationNode or their subclasses can be stored';
  /** The family link rules check (`data`, `calculation`, `workflow`). */
  static readonly nodeFamily: NodeFamily | null = null;
  /** Attributes a stored but unsealed process node may still change. */
  static readonly updatableAttributes: readonly string[] = [];
  /**
   * Attributes that hold Python floats (dotted paths, `*` for any key or index): written with a point even when
   * integral (`2.0`), and hashed as floats, as aiida-core does.
   */
  static readonly floatAttributes: FloatPaths = [];

  readonly #state: NodeState;
  #repository: NodeRepository | undefined;
  /** The mark of the last `storeMany` batch the node was in (see `#storeBatch`). */
  #batch: object | undefined;
  #base: NodeBase | undefined;

  constructor(options: NodeOptions = {}) {
    const fromRow = options[FROM_ROW];
    if (fromRow !== undefined) {
      const { storage, row } = fromRow;
      const dialect = storage.dialect;
      this.#state = {
        storage,
        pk: row.id,
        uuid: row.uuid,
        nodeType: row.node_type,
        processType: row.process_type,
        label: row.label,
        description: row.description,
        ctime: dialect.decodeTimestamp(row.ctime),
        mtime: dialect.decodeTimestamp(row.mtime),
        userId: row.user_id,
        user: null,
        computerId: row.dbcomputer_id,
        computer: null,
        attributes: (dialect.decodeJson(row.attributes) ?? {}) as Record<string, unknown>,
        // SQLite hands the text over; PostgreSQL's driver parses jsonb with parseJsonKeepingFloats.
        floatPaths: undefined,
        floatSource: row.attributes,
        extras: (dialect.decodeJson(row.extras) ?? {}) as Record<string, JsonValue>,
        repositoryMetadata: dialect.decodeJson(row.repository_metadata) ?? {},
        incoming: [],
        outgoing: [],
      };
      return;
    }
    const info = getNodeClassInfo(new.target);
    this.#state = {
      storage: options.storage,
      pk: null,
      uuid: randomUUID(),
      nodeType: info?.nodeType ?? '',
      processType: null,
      label: options.label ?? '',
      description: options.description ?? '',
      ctime: nowTimestamp(),
      mtime: null,
      userId: options.user?.pk ?? null,
      user: options.user ?? null,
      computerId: options.computer?.pk ?? null,
      computer: options.computer ?? null,
      attributes: {},
      floatPaths: [],
      extras: {},
      repositoryMetadata: {},
      incoming: [],
      outgoing: [],
    };
  }

  /**
   * Where this node's attributes hold Python floats: the class's {@link Node.floatAttributes} and the integral
   * floats read from the database (a `Dict` value `2.0` written by aiida-core). Written and hashed as floats.
   */
  get attributeFloatPaths(): FloatPaths {
    const declared = (this.constructor as typeof Node).floatAttributes;
    const found = this.#floatPaths();
    return found.length === 0 ? declared : [...declared, ...found];
  }

  #floatPaths(): string[] {
    const state = this.#state;
    if (state.floatPaths === undefined) {
      state.floatPaths = columnFloatPaths(state.floatSource);
      state.floatSource = undefined;
    }
    return state.floatPaths;
  }

  // --- identity and columns --------------------------------------------------------------------------------

  get pk(): number | null {
    return this.#state.pk;
  }
  /** Alias of {@link pk}. */
  get id(): number | null {
    return this.#state.pk;
  }
  get uuid(): string {
    return this.#state.uuid;
  }
  get isStored(): boolean {
    return this.#state.pk !== null;
  }
  /** The type string (`data.core.int.Int.`). */
  get nodeType(): string {
    return this.#state.nodeType;
  }
  /** The process type (entry point string of the process class) of process nodes, else null. */
  get processType(): string | null {
    return this.#state.processType;
  }
  set processType(value: string | null) {
    this.assertUnstored('process_type');
    this.#state.processType = value;
  }
  /** The storage the node is stored in, or bound to before storing. */
  get storage(): StorageBackend | undefined {
    return this.#state.storage;
  }
  /** The entry point string of the class (`aiida.data:core.int`), or null for unregistered classes. */
  get entryPoint(): string | null {
    return getNodeClassInfo(this.constructor)?.entryPoint ?? null;
  }

  get label(): string {
    return this.#state.label;
  }
  /** Only on unstored nodes; use {@link setLabel} on stored ones. */
  set label(value: string) {
    this.assertUnstored('label', 'setLabel()');
    this.#state.label = validateText(String(value), 'label');
  }
  get description(): string {
    return this.#state.description;
  }
  /** Only on unstored nodes; use {@link setDescription} on stored ones. */
  set description(value: string) {
    this.assertUnstored('description', 'setDescription()');
    this.#state.description = validateText(String(value), 'description');
  }

  /**
   * Sets the label, saving it when the node is stored (labels stay mutable). Checked and changed in memory at once;
   * on a stored node await the result (see `EntityExtras` for why a forgotten await loses nothing).
   */
  setLabel(value: string): Promise<void> {
    return this.#updateColumn('label', validateText(String(value), 'label'));
  }

  /** Sets the description, saving it when the node is stored (as {@link setLabel}). */
  setDescription(value: string): Promise<void> {
    return this.#updateColumn('description', validateText(String(value), 'description'));
  }

  #updateColumn(column: 'label' | 'description', value: string): Promise<void> {
    const state = this.#state;
    const before = state[column];
    state[column] = value;
    const { pk, storage } = state;
    if (pk === null || storage === undefined) return Promise.resolve();
    if (storage.isClosed) {
      state[column] = before;
      throw new InvalidOperationError(`the storage of node<${pk}> is closed: its ${column} cannot be saved`);
    }
    return storage
      .trackWrite(`${column} of node<${pk}>`, async () => {
        const mtime = storage.dialect.encodeTimestamp(nowTimestamp());
        await storage
          .executor()
          .updateTable('db_dbnode')
          .set({ [column]: value, mtime })
          .where('id', '=', pk)
          .execute();
        state.mtime = canonicalTimestamp(mtime);
      })
      .catch((error: unknown) => {
        if (state[column] === value) state[column] = before;
        throw error;
      });
  }

  /** Creation time. */
  get ctime(): Date {
    return new Date(this.#state.ctime);
  }
  /** Creation time as stored: ISO 8601 with microseconds and `+00:00`. */
  get ctimeIso(): string {
    return this.#state.ctime;
  }
  /** Last modification time; null before storing. */
  get mtime(): Date | null {
    return this.#state.mtime === null ? null : new Date(this.#state.mtime);
  }
  get mtimeIso(): string | null {
    return this.#state.mtime;
  }

  /** The pk of the owner (null until stored unless a stored user was given). */
  get userId(): number | null {
    return this.#state.user?.pk ?? this.#state.userId;
  }
  /** The owner; for an unstored node without explicit user, the default user. */
  async getUser(): Promise<User> {
    if (this.#state.user !== null) return this.#state.user;
    const storage = this.#storageOrCurrent();
    const user =
      this.#state.userId === null
        ? await User.getDefault({ storage })
        : await User.getByPk(this.#state.userId, { storage });
    this.#state.user = user;
    return user;
  }
  /** Sets the owner of an unstored node. */
  set user(user: User) {
    User.assertMutableOwner(this.isStored, 'node');
    this.#state.user = user;
    this.#state.userId = user.pk;
  }

  get computerId(): number | null {
    return this.#state.computer?.pk ?? this.#state.computerId;
  }
  /** The computer the node belongs to (process and remote nodes), or null. */
  async getComputer(): Promise<Computer | null> {
    if (this.#state.computer !== null) return this.#state.computer;
    if (this.#state.computerId === null) return null;
    const computer = await Computer.get(
      { pk: this.#state.computerId },
      { storage: this.#storageOrCurrent() },
    );
    this.#state.computer = computer;
    return computer;
  }
  /** Sets the computer of an unstored node. */
  set computer(computer: Computer | null) {
    if (this.isStored)
      throw new ModificationNotAllowedError('the computer of a stored node cannot be changed');
    this.#state.computer = computer;
    this.#state.computerId = computer?.pk ?? null;
  }

  #storageOrCurrent(): StorageBackend {
    return this.#state.storage ?? getStorage();
  }

  /** Throws `ModificationNotAllowedError` naming `what` when the node is stored. */
  protected assertUnstored(what: string, alternative?: string): void {
    if (this.isStored) {
      throw new ModificationNotAllowedError(
        `the ${what} of stored node<${String(this.pk)}> cannot be changed${alternative === undefined ? '' : `; use ${alternative}`}`,
      );
    }
  }

  // --- managers --------------------------------------------------------------------------------------------

  /** The managers of the node, as aiida-core's `node.base`: attributes, extras, repository, links, comments, logs. */
  get base(): NodeBase {
    this.#base ??= new NodeBase(this, this.#state);
    return this.#base;
  }
  get attributes(): NodeAttributes {
    return this.base.attributes;
  }
  get extras(): EntityExtras {
    return this.base.extras;
  }
  get links(): NodeLinks {
    return this.base.links;
  }
  get comments(): NodeComments {
    return this.base.comments;
  }
  /** The node's log (`node.logger` in aiida-core): `report()`, `all()`, … */
  get logs(): NodeLogs {
    return this.base.logs;
  }
  /** The node's files. */
  get repository(): NodeRepository {
    this.#repository ??= new NodeRepository(new NodeRepositoryHost(this, this.#state));
    return this.#repository;
  }
  /** The serialised file hierarchy as stored (`{}` for none or before storing). */
  get repositoryMetadata(): RepositoryMetadata {
    return cloneJson(this.#state.repositoryMetadata as JsonValue) as RepositoryMetadata;
  }

  /** Throws unless the attributes `keys` may change now. Overridden by sealable process nodes. */
  protected assertAttributesMutable(keys: readonly string[]): void {
    void keys;
    if (this.isStored)
      throw new ModificationNotAllowedError(
        `the attributes of stored node<${String(this.pk)}> are immutable`,
      );
  }

  /** Throws unless the repository may change now. */
  protected assertRepositoryMutable(): void {
    if (this.isStored)
      throw new ModificationNotAllowedError(`the repository of stored node<${String(this.pk)}> is immutable`);
  }

  /**
   * Writes attribute changes of a stored node (only the keys given), for sealable process nodes whose updatable
   * attributes change after storing.
   */
  protected async persistAttributes(set: Record<string, unknown>, remove: readonly string[]): Promise<void> {
    await this.runAttributesWrite(this.attributesWrite(set, remove));
  }

  /** Runs a write made by {@link attributesWrite} as a tracked write, then changes the node in memory. */
  protected async runAttributesWrite(write: AttributesWrite): Promise<void> {
    const { pk, storage } = this.#state;
    if (write.statement !== undefined && storage !== undefined) {
      const { text, parameters } = write.statement;
      await storage.trackWrite(`attributes of node<${String(pk)}>`, () =>
        storage.executeWrite(text, parameters),
      );
    }
    write.written();
  }

  /**
   * What {@link persistAttributes} does, in two parts: the statement writing the change (none for an unstored
   * node), checked and built now, and what changes in memory once it is written — so that a caller can run the
   * statement together with others (the end of a process in one statement on PostgreSQL).
   */
  protected attributesWrite(set: Record<string, unknown>, remove: readonly string[]): AttributesWrite {
    const cleaned: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(set)) {
      validateKey(key, 'attribute key');
      cleaned[key] = cleanValue(value, `attributes.${key}`, { depth: 1 });
    }
    const { pk, storage } = this.#state;
    let statement: WriteStatement | undefined;
    let mtime: string | undefined;
    if (pk !== null && storage !== undefined) {
      mtime = storage.dialect.encodeTimestamp(nowTimestamp());
      // a prepared statement (the engine writes a process's attributes with every state change)
      const patch = patchedJsonText(storage.dialect, 'attributes', cleaned, remove);
      const at = patch.parameters.length;
      statement = {
        text: `UPDATE db_dbnode SET attributes = ${patch.text}, mtime = $${at + 1} WHERE id = $${at + 2}`,
        parameters: [...patch.parameters, mtime, pk],
      };
    }
    return {
      statement,
      written: () => {
        if (mtime !== undefined) this.#state.mtime = canonicalTimestamp(mtime);
        Object.assign(this.#state.attributes, cleaned);
        for (const key of remove) delete this.#state.attributes[key];
      },
    };
  }

  // --- links -----------------------------------------------------------------------------------------------

  /**
   * Checks a link `source → this` beyond the generic rules; subclasses add their own (process nodes refuse inputs
   * once stored or sealed). Throw to refuse.
   */
  protected validateIncomingLink(source: Node, linkType: LinkType, linkLabel: string): void {
    void source;
    void linkType;
    void linkLabel;
  }

  /** Checks a link `this → target` beyond the generic rules (workflows may not return unstored data). */
  protected validateOutgoingLink(target: Node, linkType: LinkType, linkLabel: string): void {
    void target;
    void linkType;
    void linkLabel;
  }

  /** @internal Runs both nodes' own checks; used by {@link NodeLinks}. */
  static checkNodeRules(source: Node, target: Node, linkType: LinkType, linkLabel: string): void {
    target.validateIncomingLink(source, linkType, linkLabel);
    source.validateOutgoingLink(target, linkType, linkLabel);
  }

  // --- storing ---------------------------------------------------------------------------------------------

  /** Checks the node's content before storing; subclasses validate their attributes here. Throw to refuse. */
  protected validateBeforeStore(): void | Promise<void> {
    return undefined;
  }

  /**
   * Stores the node with its attributes, files and the cached links from stored nodes, in one transaction.
   * `ModificationNotAllowedError` when a source of a cached link is unstored (use {@link storeAll}).
   * Storing a stored node does nothing.
   */
  async store(options: StorageOption = {}): Promise<this> {
    if (this.isStored) return this;
    for (const link of this.#state.incoming) {
      if (!link.source.isStored) {
        throw new ModificationNotAllowedError(
          `Cannot store because source node of link triple (${link.source.uuid}, ${link.linkType}, ${link.linkLabel}) is not stored`,
        );
      }
    }
    await Node.#storeNodes([this], options);
    return this;
  }

  /**
   * Stores the node together with the unstored sources of its cached incoming links, atomically: all of them or
   * none. The sources' own sources must be stored already (as in aiida-core).
   */
  async storeAll(options: StorageOption = {}): Promise<this> {
    return this.#storeAll(options, []);
  }

  /**
   * @internal {@link storeAll} for the engine, with `then`: statements run with the nodes' insert, all or nothing (on
   * PostgreSQL in the same statement: the daemon's lease check of the process that makes the node). `commit`: see
   * `CommitOptions` (a process node whose durable write follows at once).
   */
  async storeAllThen(then: readonly WriteStatement[], commit: CommitOptions = {}): Promise<this> {
    return this.#storeAll({}, then, commit);
  }

  async #storeAll(
    options: StorageOption,
    then: readonly WriteStatement[],
    commit: CommitOptions = {},
  ): Promise<this> {
    if (this.isStored) throw new ModificationNotAllowedError(`Node<${String(this.pk)}> is already stored`);
    const parents: Node[] = [];
    for (const link of this.#state.incoming) {
      if (link.source.isStored || parents.includes(link.source)) continue;
      for (const grand of link.source.#state.incoming) {
        if (!grand.source.isStored) {
          throw new ModificationNotAllowedError(
            `Cannot store because source node of link triple (${grand.source.uuid}, ${grand.linkType}, ${grand.linkLabel}) is not stored`,
          );
        }
      }
      parents.push(link.source);
    }
    await Node.#storeNodes([...parents, this], options, then, commit);
    return this;
  }

  /**
   * Stores many nodes in one transaction with multi-row inserts: the fast path for batches. Every cached link
   * into a node of the batch must come from a stored node or another node of the batch. All or nothing.
   */
  static async storeMany<T extends Node>(nodes: readonly T[], options: StorageOption = {}): Promise<T[]> {
    await Node.#storeBatch(nodes, options, []);
    return [...nodes];
  }

  /**
   * @internal {@link storeMany} for the engine, with `then`: statements run with the nodes' insert, after it in
   * effect, all or nothing (the end state of the process that made the nodes; on PostgreSQL one statement for all).
   * Resolves to false, having run nothing, when every node is stored already (the caller then runs `then` itself).
   */
  static async storeManyThen(nodes: readonly Node[], then: readonly WriteStatement[]): Promise<boolean> {
    return Node.#storeBatch(nodes, {}, then);
  }

  static async #storeBatch(
    nodes: readonly Node[],
    options: StorageOption,
    then: readonly WriteStatement[],
  ): Promise<boolean> {
    // the nodes of this batch carry its mark (a Set of 10,000 nodes would be as many entries to allocate): a node
    // given twice is stored once, and a link from an unstored node is allowed when that node has the mark
    const mark = {};
    const unstored: Node[] = [];
    for (let n = 0; n < nodes.length; n++) {
      const node = nodes[n]!;
      if (node.isStored || node.#batch === mark) continue;
      node.#batch = mark;
      unstored.push(node);
    }
    for (let n = 0; n < unstored.length; n++) {
      const incoming = unstored[n]!.#state.incoming;
      for (let l = 0; l < incoming.length; l++) {
        const link = incoming[l]!;
        if (!link.source.isStored && link.source.#batch !== mark) {
          throw new ModificationNotAllowedError(
            `Cannot store because source node of link triple (${link.source.uuid}, ${link.linkType}, ${link.linkLabel}) is not stored`,
          );
        }
      }
    }
    if (unstored.length === 0) return false;
    await Node.#storeNodes(unstored, options, then);
    return true;
  }

  static async #storeNodes(
    nodes: readonly Node[],
    options: StorageOption,
    then: readonly WriteStatement[] = [],
    commit: CommitOptions = {},
  ): Promise<void> {
    // one storage for the whole batch
    const bound = new Set(nodes.map((n) => n.#state.storage).filter((s) => s !== undefined));
    if (bound.size > 1)
      throw new StoringNotAllowedError('nodes bound to different storages cannot be stored together');
    const storage = [...bound][0] ?? getStorage(options);
    if (options.storage !== undefined && options.storage !== storage) {
      throw new StoringNotAllowedError('the node is bound to another storage than the one given');
    }
    const dialect = storage.dialect;

    // validate and serialise everything before touching the storage
    const hasher = nodeHasher();
    // one array per column rather than an object per node: a batch of 10,000 nodes is that many fewer objects for
    // the garbage collector, which otherwise costs about as much as hashing them
    const cleanedAttributes: Record<string, JsonValue>[] = [];
    const attributesText: string[] = [];
    const extrasText: string[] = [];
    let linked = false;
    // a batch is mostly nodes of one class: its checks once per run of the same class
    let checkedClass: typeof Node | undefined;
    // an index loop: this async function's for-of would make an iterator result per node (it lives across awaits)
    for (let n = 0; n < nodes.length; n++) {
      const node = nodes[n]!;
      const cls = node.constructor as typeof Node;
      if (cls !== checkedClass) {
        if (!cls.storable) throw new StoringNotAllowedError(cls.unstorableMessage);
        if (getNodeClassInfo(cls) === undefined) {
          throw new StoringNotAllowedError(
            `class \`${cls.name}\` does not have a registered entry point: register it with registerNodeClass() to store it`,
          );
        }
        checkedClass = cls;
      }
      // most classes validate synchronously: await only a promise (a batch of 10,000 nodes saves as many ticks)
      const validating = node.validateBeforeStore();
      if (validating !== undefined) await validating;
      const incoming = node.#state.incoming;
      for (let l = 0; l < incoming.length; l++) {
        linked = true;
        const source = incoming[l]!.source;
        if (source.isStored && source.#state.storage !== storage) {
          throw new StoringNotAllowedError('source and target nodes must be stored in the same storage');
        }
      }
      const attributes = node.#cleanAttributesForStore();
      // aiida-core stores every node with its `_aiida_hash` extra.
      let hashed: string | undefined;
      if (hasher !== undefined && !Object.hasOwn(node.#state.extras, '_aiida_hash')) {
        const hashing = hasher(node, attributes);
        hashed = typeof hashing === 'object' ? await hashing : hashing;
        if (hashed !== undefined) node.#state.extras['_aiida_hash'] = hashed;
      }
      const floatPaths = node.attributeFloatPaths;
      cleanedAttributes.push(attributes);
      attributesText.push(
        floatPaths.length === 0 ? dialect.encodeJson(attributes) : jsonWithFloats(attributes, floatPaths),
      );
      extrasText.push(extrasJson(dialect, node.#state.extras, hashed));
      const computer = node.#state.computer;
      if (computer !== null && !computer.isStored) {
        throw new StoringNotAllowedError(`the computer \`${computer.label}\` of the node is not stored`);
      }
      if (computer !== null && computer.storage !== storage)
        throw new StoringNotAllowedError('the computer belongs to another storage');
      const user = node.#state.user;
      if (user !== null && !user.isStored)
        throw new StoringNotAllowedError(`the user \`${user.email}\` of the node is not stored`);
    }

    // repository objects first, by content key: a failed transaction leaves only unreferenced objects
    const flush = async (): Promise<RepositoryMetadata[]> => {
      const metadata: RepositoryMetadata[] = [];
      for (let n = 0; n < nodes.length; n++) {
        const node = nodes[n]!;
        metadata.push(
          node.#repository === undefined
            ? node.#state.repositoryMetadata
            : await node.#repository.flush(storage.repository),
        );
      }
      return metadata;
    };
    let metadata = await flush();

    const defaultUserId = nodes.some((n) => n.#state.user === null && n.#state.userId === null)
      ? await User.getDefaultId(storage)
      : null;
    const now = dialect.encodeTimestamp(nowTimestamp());
    const rows: NewDbNode[] = nodes.map((node, i) => {
      const state = node.#state;
      return {
        uuid: state.uuid,
        node_type: state.nodeType,
        process_type: state.processType,
        label: state.label,
        description: state.description,
        ctime: dialect.encodeTimestamp(state.ctime),
        mtime: now,
        attributes: attributesText[i],
        extras: extrasText[i],
        repository_metadata: encodeMetadata(dialect, metadata[i]!),
        dbcomputer_id: state.computer?.pk ?? state.computerId,
        user_id: state.user?.pk ?? state.userId ?? defaultUserId!,
      };
    });

    // links by position in the batch: the storage writes nodes and links together (one statement on PostgreSQL)
    const links = linked ? Node.#batchLinks(nodes) : [];
    let ids: number[];
    try {
      for (let attempt = 1; ; attempt += 1) {
        try {
          ids = await storage.insertNodes(rows, links, then, commit);
          break;
        } catch (error) {
          // full maintenance deleted objects between our writing them and the insert (which checks and rolls back):
          // put them again from the node's own copy and retry
          if (!(error instanceof MissingObjectsError) || attempt >= MAX_STORE_ATTEMPTS) throw error;
          metadata = await flush();
          rows.forEach((row, i) => (row.repository_metadata = encodeMetadata(dialect, metadata[i]!)));
        }
      }
    } catch (error) {
      if (error instanceof IntegrityError && isUniqueViolation(error.cause)) {
        throw new IntegrityError(`a node with one of these uuids already exists: ${error.message}`, {
          cause: error,
        });
      }
      if (isUniqueViolation(error))
        throw new IntegrityError('a node with this uuid already exists', { cause: error });
      throw error;
    }

    // the transaction committed: only now change the in-memory nodes
    const mtime = canonicalTimestamp(now);
    nodes.forEach((node, i) => {
      const state = node.#state;
      state.pk = ids[i]!;
      state.storage = storage;
      state.mtime = mtime;
      state.userId = rows[i]!.user_id;
      state.computerId = rows[i]!.dbcomputer_id ?? null;
      // the cleaned copy: later changes to objects the caller still holds do not leak into the stored node
      state.attributes = cleanedAttributes[i]!;
      state.repositoryMetadata = metadata[i]!;
      node.#repository?.markStored();
      if (state.incoming.length === 0) return;
      for (const link of state.incoming) {
        const outgoing = link.source.#state.outgoing;
        const at = outgoing.findIndex(
          (o) => o.target === node && o.linkType === link.linkType && o.linkLabel === link.linkLabel,
        );
        if (at >= 0) outgoing.splice(at, 1);
      }
      state.incoming = [];
    });
    await runNodesStoredHooks(storage, nodes);
  }

  /** The cached links into the nodes of a batch, their sources named by pk or by position in the batch. */
  static #batchLinks(nodes: readonly Node[]): BatchLink[] {
    const indexOf = new Map<Node, number>(nodes.map((node, i) => [node, i]));
    const links: BatchLink[] = [];
    nodes.forEach((node, outputIndex) => {
      for (const link of node.#state.incoming) {
        const sourcePk = link.source.#state.pk;
        links.push(
          sourcePk === null
            ? {
                inputIndex: indexOf.get(link.source)!,
                outputIndex,
                label: link.linkLabel,
                type: link.linkType,
              }
            : { inputId: sourcePk, outputIndex, label: link.linkLabel, type: link.linkType },
        );
      }
    });
    return links;
  }

  /**
   * The attributes as they will be stored, checked for what both backends and aiida-core can hold (see
   * `cleanValue`), with the label and description: one `ValidationError` naming the node and every failing path.
   */
  #cleanAttributesForStore(): Record<string, JsonValue> {
    // (the list of issues only once there is one: most nodes have none)
    let issues: ValidationIssue[] | undefined;
    const attributes: Record<string, JsonValue> = {};
    const source = this.#state.attributes;
    for (const key in source) {
      if (!Object.hasOwn(source, key)) continue;
      try {
        attributes[key] = cleanValue(source[key], `attributes.${key}`, ATTRIBUTE_DEPTH);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        (issues ??= []).push(...error.issues);
      }
    }
    for (const column of ['label', 'description'] as const) {
      const reason = unstorableTextReason(this.#state[column]);
      if (reason !== undefined) (issues ??= []).push({ path: column, message: `the string ${reason}` });
    }
    if (issues !== undefined) {
      throw new ValidationError(`${this.constructor.name} node ${this.uuid} cannot be stored`, issues);
    }
    return attributes;
  }

  /** Reloads label, description, attributes, extras and times from the database (changes by other processes). */
  async refresh(): Promise<void> {
    const { pk, storage } = this.#state;
    if (pk === null || storage === undefined) return;
    const row = await storage
      .executor()
      .selectFrom('db_dbnode')
      .selectAll()
      .where('id', '=', pk)
      .executeTakeFirst();
    if (row === undefined) throw new NotExistentError(`node<${pk}> no longer exists`);
    const dialect = storage.dialect;
    this.#state.label = row.label;
    this.#state.description = row.description;
    this.#state.mtime = dialect.decodeTimestamp(row.mtime);
    this.#state.attributes = (dialect.decodeJson(row.attributes) ?? {}) as Record<string, unknown>;
    this.#state.extras = (dialect.decodeJson(row.extras) ?? {}) as Record<string, JsonValue>;
  }

  /**
   * An unstored copy: same class, attributes, label, description, computer, process type and files; a new uuid;
   * no extras and no links. Bound to `options.storage` when given (to copy into another storage).
   */
  async clone(options: StorageOption = {}): Promise<this> {
    const cls = this.constructor as NodeClass<this>;
    const storage = options.storage ?? this.#state.storage;
    const copy = new cls(undefined, storage === undefined ? {} : { storage });
    const state = copy.#state;
    state.nodeType = this.#state.nodeType;
    state.processType = this.#state.processType;
    state.label = this.#state.label;
    state.description = this.#state.description;
    state.computer = this.#state.computer;
    state.computerId = this.#state.computerId;
    state.attributes = cloneJson(cleanValue(this.#state.attributes, 'attributes')) as Record<string, unknown>;
    state.floatPaths = [...this.#floatPaths()];
    state.repositoryMetadata = {};
    copy.#repository = undefined;
    if (!this.repository.isEmpty()) await copy.repository.cloneFrom(this.repository);
    return copy;
  }

  /** Same stored node (same uuid). */
  equals(other: unknown): boolean {
    return other instanceof Node && other.uuid === this.uuid;
  }

  toString(): string {
    const name =
      this.#state.nodeType === '' ? 'Node' : (this.#state.nodeType.slice(0, -1).split('.').at(-1) ?? 'Node');
    const label = this.#state.label === '' ? '' : `: ${this.#state.label}`;
    return `uuid: ${this.uuid} (${this.pk === null ? 'unstored' : `pk: ${this.pk}`})${name === '' ? '' : ` ${name}`}${label}`;
  }

  // --- internal hooks for the managers ---------------------------------------------------------------------

  /** @internal */
  static internalState(node: Node): NodeState {
    return node.#state;
  }

  /** @internal Whether the node has no file and no folder, without opening its repository. */
  static repositoryIsEmpty(node: Node): boolean {
    return node.#repository === undefined
      ? isEmptyMetadata(node.#state.repositoryMetadata)
      : node.#repository.isEmpty();
  }

  /** @internal A node built from its database row, of the class its `node_type` resolves to. */
  static fromRow(storage: StorageBackend, row: DbNodeRow): Node {
    const cls = resolveNodeClass(row.node_type).cls as NodeClass;
    return new cls(undefined, { [FROM_ROW]: { storage, row } });
  }
}

registerNodeClass(Node, {
  group: 'aiida.node',
  name: 'node',
  className: 'Node',
  nodeType: '',
  fallback: true,
});

/** A node's attributes: the content of data nodes and the state of process nodes. */
export class NodeAttributes {
  readonly #node: Node;
  readonly #state: NodeState;
  readonly #assertMutable: (keys: readonly string[]) => void;

  constructor(node: Node, state: NodeState, assertMutable: (keys: readonly string[]) => void) {
    this.#node = node;
    this.#state = state;
    this.#assertMutable = assertMutable;
  }

  #read(value: unknown): unknown {
    return this.#node.isStored ? cloneJson(value as JsonValue) : value;
  }

  /**
   * The value of `key`: the live value on an unstored node, a copy on a stored one. `NotExistentError` when the
   * attribute is missing and no default is given.
   */
  get(key: string, ...defaultValue: [unknown?]): unknown {
    if (Object.hasOwn(this.#state.attributes, key)) return this.#read(this.#state.attributes[key]);
    if (defaultValue.length > 0) return defaultValue[0];
    throw new NotExistentError(`attribute \`${key}\` does not exist`);
  }

  getMany(keys: readonly string[]): unknown[] {
    return keys.map((key) => this.get(key));
  }

  /** Every attribute: live on an unstored node, a copy on a stored one. */
  all(): Record<string, unknown> {
    return this.#read(this.#state.attributes) as Record<string, unknown>;
  }

  keys(): string[] {
    return Object.keys(this.#state.attributes);
  }

  items(): [string, unknown][] {
    return Object.entries(this.all());
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#state.attributes, key);
  }

  /** Sets an attribute of an unstored node (values are checked at store time). */
  set(key: string, value: unknown): void {
    validateKey(key, 'attribute key');
    this.#assertMutable([key]);
    this.#state.attributes[key] = value;
  }

  setMany(values: Readonly<Record<string, unknown>>): void {
    const keys = Object.keys(values);
    for (const key of keys) validateKey(key, 'attribute key');
    this.#assertMutable(keys);
    Object.assign(this.#state.attributes, values);
  }

  /** Replaces every attribute. */
  reset(values: Readonly<Record<string, unknown>>): void {
    const keys = Object.keys(values);
    for (const key of keys) validateKey(key, 'attribute key');
    this.#assertMutable([...new Set([...keys, ...Object.keys(this.#state.attributes)])]);
    this.#state.attributes = { ...values };
  }

  /** Deletes an attribute; `NotExistentError` when it is missing. */
  delete(key: string): void {
    this.deleteMany([key]);
  }

  /** Deletes attributes, all or none: `NotExistentError` when one is missing. */
  deleteMany(keys: readonly string[]): void {
    this.#assertMutable(keys);
    const missing = keys.find((key) => !Object.hasOwn(this.#state.attributes, key));
    if (missing !== undefined) throw new NotExistentError(`attribute \`${missing}\` does not exist`);
    for (const key of keys) delete this.#state.attributes[key];
  }

  clear(): void {
    this.#assertMutable(Object.keys(this.#state.attributes));
    this.#state.attributes = {};
  }
}

/** The links of a node: adding (validated as aiida-core does), and reading incoming and outgoing ones. */
export class NodeLinks {
  readonly #node: Node;
  readonly #state: NodeState;

  constructor(node: Node, state: NodeState) {
    this.#node = node;
    this.#state = state;
  }

  /** The links into this node that are not stored yet. */
  get incomingCache(): LinkTriple[] {
    return this.#state.incoming.map((l) => ({
      node: l.source,
      linkType: l.linkType,
      linkLabel: l.linkLabel,
    }));
  }

  /**
   * Adds the link `source → this`. It is stored at once when both nodes are stored, else kept until this node
   * is stored. `ValidationError` (or `ModificationNotAllowedError` for sealed process nodes) when the link breaks
   * a rule: wrong node classes, a taken label, a second creator or caller, a cycle, a bad label.
   */
  async addIncoming(source: Node, linkType: LinkType, linkLabel: string): Promise<void> {
    await this.validateIncoming(source, linkType, linkLabel);
    const target = this.#node;
    if (target.isStored && source.isStored) {
      const storage = target.storage!;
      await storage
        .executor()
        .insertInto('db_dblink')
        .values({ input_id: source.pk!, output_id: target.pk!, label: linkLabel, type: linkType })
        .execute();
      return;
    }
    this.#state.incoming.push({ source, linkType, linkLabel });
    Node.internalState(source).outgoing.push({ target, linkType, linkLabel });
  }

  /** Checks the link `source → this` without adding it (all of aiida-core's `validate_link` rules). */
  async validateIncoming(source: Node, linkType: LinkType, linkLabel: string): Promise<void> {
    const target = this.#node;
    if (!(source instanceof Node))
      throw new ValidationError(`source should be a \`Node\` but got: ${typeof source}`);
    if (!isLinkType(linkType))
      throw new ValidationError(`link_type should be a LinkType but got: ${String(linkType)}`);
    Node.checkNodeRules(source, target, linkType, linkLabel);
    if (source.storage !== undefined && target.storage !== undefined && source.storage !== target.storage) {
      throw new ValidationError('source and target nodes must be stored in the same storage');
    }
    if (source.uuid === target.uuid) throw new ValidationError('cannot add a link to oneself');
    validateLinkLabel(linkLabel);

    const rule: {
      readonly source: NodeFamily;
      readonly target: NodeFamily;
      readonly outdegree: LinkDegree;
      readonly indegree: LinkDegree;
    } = LINK_RULES[linkType];
    const sourceFamily = (source.constructor as typeof Node).nodeFamily;
    const targetFamily = (target.constructor as typeof Node).nodeFamily;
    if (sourceFamily !== rule.source || targetFamily !== rule.target) {
      throw new ValidationError(
        `cannot add a ${linkType} link from ${source.constructor.name} to ${target.constructor.name}`,
      );
    }

    const outgoing = await source.links.getOutgoing({ linkType });
    const incoming = await this.getIncoming({ linkType });
    const duplicateTriple =
      incoming.all().some((t) => t.node.uuid === source.uuid && t.linkLabel === linkLabel) ||
      outgoing.all().some((t) => t.node.uuid === target.uuid && t.linkLabel === linkLabel);

    if (rule.outdegree === 'unique' && outgoing.length > 0) {
      throw new ValidationError(`node<${source.uuid}> already has an outgoing ${linkType} link`);
    } else if (rule.outdegree === 'unique_pair' && outgoing.all().some((t) => t.linkLabel === linkLabel)) {
      throw new ValidationError(
        `node<${source.uuid}> already has an outgoing ${linkType} link with label "${linkLabel}"`,
      );
    } else if (rule.outdegree === 'unique_triple' && duplicateTriple) {
      throw new ValidationError(
        `node<${source.uuid}> already has an outgoing ${linkType} link with label "${linkLabel}" to node<${target.uuid}>`,
      );
    }
    if (rule.indegree === 'unique' && incoming.length > 0) {
      throw new ValidationError(`node<${target.uuid}> already has an incoming ${linkType} link`);
    } else if (rule.indegree === 'unique_pair' && incoming.all().some((t) => t.linkLabel === linkLabel)) {
      throw new ValidationError(
        `node<${target.uuid}> already has an incoming ${linkType} link with label "${linkLabel}"`,
      );
    } else if (rule.indegree === 'unique_triple' && duplicateTriple) {
      throw new ValidationError(
        `node<${target.uuid}> already has an incoming ${linkType} link with label "${linkLabel}" from node<${source.uuid}>`,
      );
    }

    if (
      linkType === LinkType.CREATE ||
      linkType === LinkType.INPUT_CALC ||
      linkType === LinkType.INPUT_WORK
    ) {
      if (await this.#reaches(target, source)) {
        throw new ValidationError(
          'the link you are attempting to create would generate a cycle in the graph',
        );
      }
    }
  }

  /** Whether `to` is a descendant of `from`, through stored links and links cached in memory. */
  async #reaches(from: Node, to: Node): Promise<boolean> {
    const seen = new Set<Node>([from]);
    const queue: Node[] = [from];
    const storedStarts: number[] = [];
    while (queue.length > 0) {
      const node = queue.shift()!;
      if (node.uuid === to.uuid) return true;
      if (node.isStored) storedStarts.push(node.pk!);
      for (const { target } of Node.internalState(node).outgoing) {
        if (!seen.has(target)) {
          seen.add(target);
          queue.push(target);
        }
      }
    }
    if (storedStarts.length === 0 || !to.isStored) return false;
    const storage = from.storage ?? to.storage!;
    const result = await sql<{ found: number }>`
      WITH RECURSIVE descendants(id) AS (
        SELECT output_id FROM db_dblink WHERE input_id IN (${sql.join(storedStarts)})
        UNION
        SELECT l.output_id FROM db_dblink l JOIN descendants d ON l.input_id = d.id
      )
      SELECT 1 AS found FROM descendants WHERE id = ${to.pk} LIMIT 1`.execute(storage.executor());
    return result.rows.length > 0;
  }

  async #stored(direction: 'incoming' | 'outgoing', filter: LinkFilter): Promise<LinkTriple[]> {
    const { pk, storage } = this.#state;
    if (pk === null || storage === undefined) return [];
    const types = linkTypes(filter);
    const [near, far] =
      direction === 'incoming' ? (['output_id', 'input_id'] as const) : (['input_id', 'output_id'] as const);
    // a prepared text (one per direction and filter shape), not a built query: `verdi node show` and the engine
    // read links all the time, and building and compiling the query cost more than running it
    const parameters: unknown[] = [pk];
    let text = `SELECT db_dbnode.*, db_dblink.type AS link_type, db_dblink.label AS link_label, db_dblink.id AS link_id FROM db_dblink INNER JOIN db_dbnode ON db_dbnode.id = db_dblink.${far} WHERE db_dblink.${near} = $1`;
    if (types !== undefined) {
      const placeholders = types.map((type) => `$${parameters.push(type)}`);
      text += ` AND db_dblink.type IN (${placeholders.join(', ')})`;
    }
    if (filter.linkLabelFilter !== undefined)
      text += ` AND db_dblink.label LIKE $${parameters.push(filter.linkLabelFilter)}`;
    const rows = await storage.executeRead<DbNodeRow & { link_type: string; link_label: string }>(
      `${text} ORDER BY db_dblink.id`,
      parameters,
    );
    return rows.map((row) => ({
      node: Node.fromRow(storage, row),
      linkType: row.link_type as LinkType,
      linkLabel: row.link_label,
    }));
  }

  #filterNodes(triples: LinkTriple[], filter: LinkFilter): LinkTriple[] {
    const nodeClass = filter.nodeClass;
    return nodeClass === undefined ? triples : triples.filter((t) => t.node instanceof nodeClass);
  }

  /** Links into this node: stored ones and, for an unstored node, the cached ones. */
  async getIncoming(filter: LinkFilter = {}): Promise<LinkManager> {
    const types = linkTypes(filter);
    const pattern = filter.linkLabelFilter === undefined ? undefined : likeToRegExp(filter.linkLabelFilter);
    const cached = this.incomingCache.filter(
      (t) =>
        (types === undefined || types.includes(t.linkType)) &&
        (pattern === undefined || pattern.test(t.linkLabel)),
    );
    return new LinkManager(
      this.#filterNodes([...(await this.#stored('incoming', filter)), ...cached], filter),
    );
  }

  /** Stored links out of this node (plus cached ones to unstored targets). */
  async getOutgoing(filter: LinkFilter = {}): Promise<LinkManager> {
    const types = linkTypes(filter);
    const pattern = filter.linkLabelFilter === undefined ? undefined : likeToRegExp(filter.linkLabelFilter);
    const cached = this.#state.outgoing
      .filter(
        (o) =>
          (types === undefined || types.includes(o.linkType)) &&
          (pattern === undefined || pattern.test(o.linkLabel)),
      )
      .map((o) => ({ node: o.target, linkType: o.linkType, linkLabel: o.linkLabel }));
    return new LinkManager(
      this.#filterNodes([...(await this.#stored('outgoing', filter)), ...cached], filter),
    );
  }

  /** Stored links only, in one direction. */
  async getStoredLinkTriples(
    options: { direction?: 'incoming' | 'outgoing' } & LinkFilter = {},
  ): Promise<LinkTriple[]> {
    return this.#filterNodes(await this.#stored(options.direction ?? 'incoming', options), options);
  }
}

/** The managers of one node, as aiida-core's `node.base`. */
export class NodeBase {
  readonly #node: Node;
  readonly #state: NodeState;
  // managers are made on first use: batches of nodes mostly touch the attributes only
  #attributes: NodeAttributes | undefined;
  #extras: EntityExtras | undefined;
  #links: NodeLinks | undefined;
  #comments: NodeComments | undefined;
  #logs: NodeLogs | undefined;

  constructor(node: Node, state: NodeState) {
    this.#node = node;
    this.#state = state;
  }

  get attributes(): NodeAttributes {
    const node = this.#node;
    this.#attributes ??= new NodeAttributes(node, this.#state, (keys) =>
      (node as unknown as NodeInternals).assertAttributesMutable(keys),
    );
    return this.#attributes;
  }

  get links(): NodeLinks {
    this.#links ??= new NodeLinks(this.#node, this.#state);
    return this.#links;
  }

  get comments(): NodeComments {
    this.#comments ??= new NodeComments(this.#node);
    return this.#comments;
  }

  get logs(): NodeLogs {
    this.#logs ??= new NodeLogs(this.#node);
    return this.#logs;
  }

  get extras(): EntityExtras {
    this.#extras ??= new EntityExtras(new NodeExtrasHost(this.#node, this.#state));
    return this.#extras;
  }

  get repository(): NodeRepository {
    return this.#node.repository;
  }
}

// The hosts of a node's extras and files are classes rather than objects of closures: every node the engine hashes or
// gives files makes one, and a closure made per node costs more than a method shared by all.

/** What the hosts of a node's extras and files share: the node and its state. */
abstract class NodeHost {
  protected readonly node: Node;
  protected readonly state: NodeState;

  constructor(node: Node, state: NodeState) {
    this.node = node;
    this.state = state;
  }

  isStored(): boolean {
    return this.node.isStored;
  }
}

/** What a node's extras need from it. */
class NodeExtrasHost extends NodeHost implements ExtrasHost {
  values(): Record<string, JsonValue> {
    return this.state.extras;
  }

  persist({ set, remove, reset }: Parameters<ExtrasHost['persist']>[0]): Promise<void> {
    const state = this.state;
    const storage = state.storage!;
    return storage.trackWrite(`extras of node<${String(state.pk)}>`, async () => {
      const mtime = storage.dialect.encodeTimestamp(nowTimestamp());
      await storage
        .executor()
        .updateTable('db_dbnode')
        .set({
          extras:
            reset === undefined
              ? patchedJsonColumn(storage, 'extras', set, remove)
              : storage.dialect.encodeJson(reset),
          mtime,
        })
        .where('id', '=', state.pk!)
        .execute();
      state.mtime = canonicalTimestamp(mtime);
    });
  }
}

/** What a node's files need from it. */
class NodeRepositoryHost extends NodeHost implements RepositoryHost {
  assertMutable(): void {
    (this.node as unknown as NodeInternals).assertRepositoryMutable();
  }

  backend(): RepositoryBackend | undefined {
    return this.state.storage?.repository;
  }

  metadata(): RepositoryMetadata {
    return this.state.repositoryMetadata;
  }

  async persistMetadata(metadata: RepositoryMetadata): Promise<void> {
    const state = this.state;
    const { pk, storage } = state;
    if (pk === null || storage === undefined) return;
    const mtime = storage.dialect.encodeTimestamp(nowTimestamp());
    // checked inside the update's transaction: full maintenance cannot delete a file between write and reference
    // (a fixed text, prepared once per connection: every calculation job writes two hierarchies)
    await storage.referenceObjects(collectObjectKeys(metadata), () =>
      storage.executeWrite('UPDATE db_dbnode SET repository_metadata = $1, mtime = $2 WHERE id = $3', [
        storage.dialect.encodeJson(metadata),
        mtime,
        pk,
      ]),
    );
    state.repositoryMetadata = metadata;
    state.mtime = canonicalTimestamp(mtime);
  }
}

/** Protected members the managers call (TypeScript's `protected` is compile-time only). */
interface NodeInternals {
  assertAttributesMutable(keys: readonly string[]): void;
  assertRepositoryMutable(): void;
}

/** Loads the nodes with these pks (in the order given); `NotExistentError` naming a missing one. */
export async function loadNodesByPk(pks: readonly number[], options: StorageOption = {}): Promise<Node[]> {
  const storage = getStorage(options);
  if (pks.length === 0) return [];
  const rows = await storage
    .executor()
    .selectFrom('db_dbnode')
    .selectAll()
    .where('id', 'in', [...pks])
    .execute();
  const byId = new Map(rows.map((row) => [row.id, row]));
  return pks.map((pk) => {
    const row = byId.get(pk);
    if (row === undefined) throw new NotExistentError(`no node with pk ${pk}`);
    return Node.fromRow(storage, row);
  });
}
