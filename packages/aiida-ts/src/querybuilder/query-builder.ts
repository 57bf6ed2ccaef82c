import { sql } from 'kysely';
import { z } from 'zod';
import { MultipleObjectsError, NotExistentError, QueryError } from '../errors.js';
import { getStorage } from '../storage/context.js';
import { DialectName, getDialect } from '../storage/dialect.js';
import {
  resolveTarget,
  pathEntityType,
  tagBase,
  typeFilters,
  type AnyClass,
  type AppendTarget,
  type EntityClassLike,
  type ResolvedTarget,
} from './classifiers.js';
import { ENTITY_TABLES, describeColumns, resolveColumn, type OrmBase, type TableModel } from './entities.js';
import { fetchBatches, runPlanQuery, runQuery, wrapDatabaseError } from './execute.js';
import { describeValue, isPlainObject, parseFilterSpec } from './filters.js';
import {
  FilterSpec,
  OrderSpec,
  ProjectionModifiers,
  QueryDictInput,
  type OrderByEntry,
  type PathItem,
  type ProjectionItem,
  type QueryDict,
} from './query-dict.js';
import { RELATIONSHIPS, camelKeyword, snakeKeyword, type RelationshipKeyword } from './relationships.js';
import { RowDecoder, type QueryBackend } from './results.js';
import { CALL_SEPARATOR, LruMap, quoted, valueKey } from './query-shape.js';
import { RowStream } from './row-stream.js';
import { QueryCompiler, edgeModelOf, joinSpecOf, type CompiledPlan } from './sql/compile.js';
import { renderSql } from './sql/render.js';

/** A tag, or a class appended once (which then stands for its tag, as in aiida-core). */
export type TagReference = string | EntityClassLike | AnyClass;

/** What a projection may be given as: a field, `{field: modifiers}`, or a list of those. */
export type ProjectionInput = string | ProjectionItem | readonly (string | ProjectionItem)[];

const TagReferenceSchema = z.union([
  z.string(),
  z.custom<EntityClassLike | AnyClass>(
    (v) => (typeof v === 'function' || typeof v === 'object') && v !== null,
    'a tag or a class',
  ),
]);

const ProjectionInputSchema = z.union([
  z.string(),
  z.record(z.string(), ProjectionModifiers),
  z.array(z.union([z.string(), z.record(z.string(), ProjectionModifiers)])),
]);

const RELATIONSHIP_OPTIONS = [
  'withIncoming',
  'withOutgoing',
  'withAncestors',
  'withDescendants',
  'withGroup',
  'withNode',
  'withUser',
  'withComputer',
  'withLog',
  'withComment',
  'withAuthinfo',
] as const;

/** The options of {@link QueryBuilder.append}: aiida-core's keyword arguments in camelCase. */
export const AppendOptionsSchema = z
  .object({
    /** A unique name for the vertex; by default `<Class>_<n>` (`Int_1`, `node_1`). */
    tag: z.string().optional(),
    filters: FilterSpec.optional(),
    project: ProjectionInputSchema.optional(),
    /** Also match subclasses (node types below this one, group types starting with this one). Default true. */
    subclassing: z.boolean().optional(),
    /** Name of the edge to the joined vertex; by default `<joined tag>--<tag>`. */
    edgeTag: z.string().optional(),
    edgeFilters: FilterSpec.optional(),
    edgeProject: ProjectionInputSchema.optional(),
    /** A LEFT OUTER join: keep the joined vertex's rows that have no match here. */
    outerjoin: z.boolean().optional(),
    /** Join to the vertex `n` steps back: `1` = outputs of it (`withIncoming`), `-1` = inputs (`withOutgoing`). */
    direction: z.number().int().optional(),
    withIncoming: TagReferenceSchema.optional(),
    withOutgoing: TagReferenceSchema.optional(),
    withAncestors: TagReferenceSchema.optional(),
    withDescendants: TagReferenceSchema.optional(),
    withGroup: TagReferenceSchema.optional(),
    withNode: TagReferenceSchema.optional(),
    withUser: TagReferenceSchema.optional(),
    withComputer: TagReferenceSchema.optional(),
    withLog: TagReferenceSchema.optional(),
    withComment: TagReferenceSchema.optional(),
    withAuthinfo: TagReferenceSchema.optional(),
  })
  .strict();
export type AppendOptions = z.input<typeof AppendOptionsSchema>;

/** An `order_by` entry as accepted: `{tag: field | {field: 'asc'|'desc'|{order, cast}} | [...]}`. */
export type OrderByInput = Readonly<Record<string, unknown>> | readonly Readonly<Record<string, unknown>>[];

/** Options of {@link QueryBuilder}. */
export interface QueryBuilderOptions {
  /** The storage to query; by default the current one (`getStorage()`). */
  readonly backend?: QueryBackend;
}

/** Options of the reading methods that fetch in batches. */
export interface BatchOptions {
  /** Rows fetched per round trip. Default 1000 for `iterall`/`iterdict`; `all`/`dict` fetch at once unless set. */
  readonly batchSize?: number;
}

/** Options of {@link QueryBuilder.asSql}. */
export interface AsSqlOptions {
  /** Render values in the text instead of listing parameters (for reading only: never run such text). */
  readonly inline?: boolean;
  /** The dialect to render for when the QueryBuilder has no backend yet. */
  readonly dialect?: DialectName;
}

/** A result row of {@link QueryBuilder.dict}: `{tag: {projected key: value}}`. */
export type QueryDictRow = Record<string, Record<string, unknown>>;

interface TagInfo {
  readonly kind: 'vertex' | 'edge';
  readonly model: TableModel | undefined;
  readonly ormBase: OrmBase | undefined;
  readonly what: string;
}

const EDGE_TAG_DELIMITER = '--';
const RELATIONSHIP_OPTION_SET: ReadonlySet<string> = new Set(RELATIONSHIP_OPTIONS);

/** What one successful append added to the state, shared (frozen) by every QueryBuilder making the same call. */
interface AppendDelta {
  readonly item: PathItem;
  readonly info: TagInfo;
  readonly filters: FilterSpec;
  readonly projections: ProjectionItem[];
  readonly edge:
    | {
        readonly tag: string;
        readonly info: TagInfo;
        readonly filters: FilterSpec;
        readonly projections: ProjectionItem[];
      }
    | undefined;
}

/**
 * The building calls seen, from the shape (see {@link QueryBuilder}'s `#shape`) they were made on, keyed
 * `<shape>\u0001<call>`, to the shape they lead to and, for an append, what it added: building the same query
 * again skips validating the options, resolving the classes, parsing the filters and normalising the projections.
 */
const TRANSITIONS = new LruMap<{ readonly shape: number; readonly delta: AppendDelta | undefined }>(4096);
let lastShape = 0;
/** Longer calls (huge `in` lists) are not worth remembering: such a query is built from scratch. */
const MAX_CALL_KEY = 16_384;
const DEFAULT_BATCH_SIZE = 1000;

/** Compiled plans by dialect and query, most recently used last: the same query built again skips compiling. */
const PLANS = new LruMap<{ plan: CompiledPlan; compiler: QueryCompiler }>(256);
/**
 * The same for queries named by their shape (see {@link QueryBuilder}'s `#shape`), keyed by the shape number
 * (twice it, plus one on PostgreSQL): a number is found without building and hashing a string.
 */
const SHAPED_PLANS = new LruMap<{ plan: CompiledPlan; compiler: QueryCompiler }, number>(256);

// a plan holds no state of the QueryBuilder that made it (its statements are immutable, its decoders pure), so
// every QueryBuilder asking the same query of the same dialect can share it
function sharedPlan(
  dialect: DialectName,
  key: string,
  compile: () => { plan: CompiledPlan; compiler: QueryCompiler },
): { plan: CompiledPlan; compiler: QueryCompiler } {
  const cacheKey = `${dialect}\n${key}`;
  const known = PLANS.get(cacheKey);
  if (known !== undefined) return known;
  const compiled = compile();
  PLANS.set(cacheKey, compiled);
  return compiled;
}

/** The decoder of a shared plan's rows, made once for the backend it last ran on. */
const DECODERS = new WeakMap<CompiledPlan, { backend: QueryBackend; decoder: RowDecoder }>();

function deepCopy<T>(value: T): T {
  return structuredClone(value);
}

function zodToQueryError(error: z.ZodError, what: string): QueryError {
  const issues = error.issues.map((issue) => {
    const path = issue.path.join('.');
    if (issue.code === 'unrecognized_keys')
      return `unknown option(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    return `${path === '' ? '' : `'${path}': `}${issue.message}`;
  });
  return new QueryError(`Invalid ${what}: ${issues.join('; ')}`, { cause: error });
}

/**
 * The QueryBuilder of aiida-core: a path of vertices (nodes, groups, users, computers, comments, logs, auth
 * infos, links) joined by relationships, with filters, projections and ordering, compiled into one SQL statement
 * for SQLite or PostgreSQL. Every filter value and JSON key is a bound parameter. Building methods return `this`
 * for chaining; reading methods run the query on the backend.
 *
 * ```ts
 * const qb = new QueryBuilder({ backend })
 *   .append(Int, { tag: 'x', filters: { 'attributes.value': { '>': 2 } } })
 *   .append(CalcFunctionNode, { withIncoming: 'x', project: ['id', 'attributes.process_state'] });
 * const rows = await qb.all();
 * ```
 */
export class QueryBuilder {
  #backend: QueryBackend | undefined;
  #path: PathItem[] = [];
  #filters: Record<string, FilterSpec> = {};
  #projections: Record<string, ProjectionItem[]> = {};
  #projectMap: Record<string, Record<string, string>> = {};
  #orderBy: OrderByEntry[] = [];
  #limit: number | null = null;
  #offset: number | null = null;
  #distinct = false;
  readonly #tags = new Map<string, TagInfo>();
  readonly #classTags = new Map<unknown, Set<string>>();
  /** The plan last compiled, with its key: the shape number, else the query's JSON (see `#compiled`). */
  #cache:
    { key: number | string; dialect: DialectName; plan: CompiledPlan; compiler: QueryCompiler } | undefined;
  /**
   * The calls that built this QueryBuilder, as the number of a path through {@link TRANSITIONS} (0: no call yet):
   * equal numbers mean equal states, so it finds remembered appends and compiled plans without serialising the
   * state. `undefined` once the state came from elsewhere (`fromDict`, `clone`) or from values no key can name.
   */
  #shape: number | undefined = 0;

  constructor(options: QueryBuilderOptions = {}) {
    this.#backend = options.backend;
  }

  /** The backend the query runs on (the explicit one, else the current storage). */
  get backend(): QueryBackend {
    return this.#backend ?? getStorage();
  }

  /** Rebuilds a QueryBuilder from {@link asDict}'s output (aiida-core's `as_dict`/queryhelp format). */
  static fromDict(data: unknown, options: QueryBuilderOptions = {}): QueryBuilder {
    const parsed = QueryDictInput.safeParse(data);
    if (!parsed.success) throw zodToQueryError(parsed.error, 'query dictionary');
    const dict = parsed.data;
    const qb = new QueryBuilder(options);
    qb.#shape = undefined;
    for (const item of dict.path ?? []) {
      const target = item.entity_type;
      qb.#append(
        target,
        {
          subclassing: true,
          outerjoin: item.outerjoin,
          tag: item.tag,
          ...(item.edge_tag === null ? {} : { edgeTag: item.edge_tag }),
        },
        item,
      );
    }
    for (const [tag, spec] of Object.entries(dict.filters ?? {})) qb.addFilter(tag, spec);
    if (dict.project_map !== undefined) qb.#projectMap = deepCopy(dict.project_map);
    for (const [tag, items] of Object.entries(dict.project ?? {})) qb.addProjection(tag, items);
    if (dict.order_by !== undefined && dict.order_by.length > 0) qb.orderBy(dict.order_by);
    qb.limit(dict.limit ?? null);
    qb.offset(dict.offset ?? null);
    qb.distinct(dict.distinct ?? false);
    return qb;
  }

  /** The query as a JSON-serialisable dictionary in aiida-core's `as_dict` layout (a deep copy). */
  asDict(): QueryDict {
    return deepCopy(this.#asDictView());
  }

  /** The query in `asDict`'s layout, sharing this builder's state (not a copy: only to read or serialise). */
  #asDictView(): QueryDict {
    return {
      path: this.#path,
      filters: this.#filters,
      project: this.#projections,
      project_map: this.#projectMap,
      order_by: this.#orderBy,
      limit: this.#limit,
      offset: this.#offset,
      distinct: this.#distinct,
    };
  }

  /** An independent copy (same backend). */
  clone(): QueryBuilder {
    const copy = QueryBuilder.fromDict(
      this.asDict(),
      this.#backend === undefined ? {} : { backend: this.#backend },
    );
    for (const [cls, tags] of this.#classTags) copy.#classTags.set(cls, new Set(tags));
    return copy;
  }

  /** aiida-core's `str(qb)`: the dictionary form. */
  toString(): string {
    return `QueryBuilder(${JSON.stringify(this.asDict())})`;
  }

  /** The tags in use: vertices and/or edges, in path order. */
  getUsedTags(options: { readonly vertices?: boolean; readonly edges?: boolean } = {}): string[] {
    const tags: string[] = [];
    this.#path.forEach((item, index) => {
      if (options.vertices !== false) tags.push(item.tag);
      if (options.edges !== false && index > 0 && item.edge_tag !== null) tags.push(item.edge_tag);
    });
    return tags;
  }

  #changed(): void {
    this.#cache = undefined;
  }

  #tagOf(reference: TagReference, purpose: string): string {
    if (typeof reference === 'string') {
      if (this.#tags.has(reference)) return reference;
      throw new QueryError(
        `Tag '${reference}' (in ${purpose}) is not among the known tags: ${[...this.#tags.keys()].join(', ') || 'none yet'}`,
      );
    }
    const tags = this.#classTags.get(reference);
    if (tags === undefined || tags.size === 0) {
      throw new QueryError(
        `The class ${describeValue((reference as { name?: unknown }).name ?? reference)} (in ${purpose}) has no tag: append it first or use its tag`,
      );
    }
    if (tags.size > 1) {
      throw new QueryError(
        `The class (in ${purpose}) was appended more than once (tags ${[...tags].join(', ')}): use a tag`,
      );
    }
    return [...tags][0]!;
  }

  /**
   * Adds a vertex to the path: a class (or a list of classes of one entity kind) or an entity type string,
   * with its filters, projections and the relationship to an earlier vertex (`withIncoming: 'tag'`, …). Without
   * a relationship, a node joins as an output of the previous vertex (`withIncoming`), any other entity
   * `withNode` of it. Throws {@link QueryError} naming what is wrong; a failed append changes nothing.
   */
  append(target: AppendTarget | readonly AppendTarget[], options: AppendOptions = {}): this {
    const call = this.#appendCall(target, options);
    const key = call === undefined ? undefined : `${String(this.#shape)}${CALL_SEPARATOR}${call}`;
    if (key !== undefined) {
      const known = TRANSITIONS.get(key);
      if (known?.delta !== undefined) {
        this.#applyAppend(known.delta, target);
        this.#shape = known.shape;
        return this;
      }
    }
    const parsed = AppendOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const valid = Object.keys(AppendOptionsSchema.shape).join(', ');
      throw new QueryError(
        `${zodToQueryError(parsed.error, 'append() options').message}. Valid options: ${valid}`,
      );
    }
    if (key === undefined) {
      this.#append(target, parsed.data, undefined);
      this.#shape = undefined;
      return this;
    }
    // the state (shared with later QueryBuilders making this call) holds copies: the caller may change its
    // filter objects afterwards
    const data = parsed.data;
    this.#append(
      target,
      {
        ...data,
        ...(data.filters === undefined ? {} : { filters: structuredClone(data.filters) }),
        ...(data.edgeFilters === undefined ? {} : { edgeFilters: structuredClone(data.edgeFilters) }),
      },
      undefined,
    );
    this.#shape = ++lastShape;
    TRANSITIONS.set(key, { shape: this.#shape, delta: this.#lastAppend() });
    return this;
  }

  /** The key of appending `target` with `options`, or `undefined` when the call cannot be named. */
  #appendCall(target: AppendTarget | readonly AppendTarget[], options: AppendOptions): string | undefined {
    if (this.#shape === undefined || typeof options !== 'object' || options === null) return undefined;
    const proto = Object.getPrototypeOf(options) as unknown;
    if (proto !== Object.prototype && proto !== null) return undefined;
    try {
      const resolved = resolveTarget(target);
      let key = `a${typeof target === 'string' ? 's' : Array.isArray(target) ? 'l' : 'c'}${resolved.ormBase}`;
      for (const c of resolved.classifiers)
        key += `${quoted(c.ormclassTypeString)}${c.processTypeString === null ? 'null' : quoted(c.processTypeString)}`;
      for (const name in options) {
        const value = (options as Record<string, unknown>)[name];
        // a class standing for its tag is named by the tag it stands for here
        const part =
          RELATIONSHIP_OPTION_SET.has(name) && value !== undefined && typeof value !== 'string'
            ? `T${JSON.stringify(this.#tagOf(value as TagReference, 'append'))}`
            : valueKey(value);
        if (part === undefined) return undefined;
        key += `${quoted(name)}:${part},`;
      }
      return key.length > MAX_CALL_KEY ? undefined : key;
    } catch {
      // the call is invalid: append reports it as it would without a key
      return undefined;
    }
  }

  /** What the last {@link append} added, frozen so that sharing it is safe. */
  #lastAppend(): AppendDelta {
    const item = Object.freeze(this.#path[this.#path.length - 1]!);
    const freeze = (tag: string) => ({
      tag,
      info: this.#tags.get(tag)!,
      filters: Object.freeze(this.#filters[tag]!),
      projections: Object.freeze(this.#projections[tag]!) as ProjectionItem[],
    });
    const vertex = freeze(item.tag);
    return {
      item,
      info: vertex.info,
      filters: vertex.filters,
      projections: vertex.projections,
      edge: item.edge_tag === null ? undefined : freeze(item.edge_tag),
    };
  }

  #applyAppend(delta: AppendDelta, target: AppendTarget | readonly AppendTarget[]): void {
    const tag = delta.item.tag;
    this.#tags.set(tag, delta.info);
    if (typeof target !== 'string' && !Array.isArray(target)) {
      const set = this.#classTags.get(target) ?? new Set<string>();
      set.add(tag);
      this.#classTags.set(target, set);
    }
    this.#filters[tag] = delta.filters;
    this.#projections[tag] = delta.projections;
    if (delta.edge !== undefined) {
      this.#tags.set(delta.edge.tag, delta.edge.info);
      this.#filters[delta.edge.tag] = delta.edge.filters;
      this.#projections[delta.edge.tag] = delta.edge.projections;
    }
    this.#path.push(delta.item);
    this.#changed();
  }

  /** Adds a call to the shape key (after it changed the state); a value the key cannot name ends the key. */
  #extendShape(call: string, value: unknown): void {
    if (this.#shape === undefined) return;
    const part = valueKey(value);
    if (part === undefined || part.length > MAX_CALL_KEY) {
      this.#shape = undefined;
      return;
    }
    const key = `${String(this.#shape)}${CALL_SEPARATOR}${call}${part}`;
    const known = TRANSITIONS.get(key);
    if (known !== undefined) {
      this.#shape = known.shape;
      return;
    }
    this.#shape = ++lastShape;
    TRANSITIONS.set(key, { shape: this.#shape, delta: undefined });
  }

  #append(
    target: AppendTarget | readonly AppendTarget[],
    options: z.output<typeof AppendOptionsSchema>,
    fromPath: PathItem | undefined,
  ): void {
    const resolved: ResolvedTarget = resolveTarget(target);
    const ormBase = resolved.ormBase;
    if (fromPath !== undefined && fromPath.orm_base !== ormBase) {
      throw new QueryError(
        `Path item '${fromPath.tag}' says orm_base '${fromPath.orm_base}' but its entity_type is a ${ormBase}`,
      );
    }
    const model = ENTITY_TABLES[ormBase];

    // tag
    let tag = options.tag;
    if (tag !== undefined) {
      if (tag === '') throw new QueryError('A tag cannot be empty');
      if (tag.includes(EDGE_TAG_DELIMITER))
        throw new QueryError(
          `Tag '${tag}' cannot contain '${EDGE_TAG_DELIMITER}', which separates the tags of an edge`,
        );
      if (this.#tags.has(tag)) throw new QueryError(`Tag '${tag}' is already in use`);
    } else {
      const base = tagBase(resolved);
      for (let i = 1; i < 100 && tag === undefined; i++)
        if (!this.#tags.has(`${base}_${i}`)) tag = `${base}_${i}`;
      if (tag === undefined) throw new QueryError(`No free automatic tag for '${base}': give a tag`);
    }
    const what = `${ormBase} '${tag}'`;

    // filters: the type filters first, so a user filter on the same column replaces them (as aiida-core)
    const filters: FilterSpec = typeFilters(resolved, options.subclassing ?? true);
    if (options.filters !== undefined) {
      if (!isPlainObject(options.filters))
        throw new QueryError(
          `Filters for ${what} must be a dictionary, got ${describeValue(options.filters)}`,
        );
      Object.assign(filters, options.filters);
    }
    parseFilterSpec(model, filters, what);

    // projections
    const projections =
      options.project === undefined ? [] : this.#normaliseProjection(options.project, model, what);

    // relationship
    const given = RELATIONSHIP_OPTIONS.filter((key) => options[key] !== undefined);
    let keyword: string | null = null;
    let joinedTag: string | null = null;
    if (fromPath !== undefined) {
      keyword = fromPath.joining_keyword;
      joinedTag = fromPath.joining_value;
      if (this.#path.length > 0 && (keyword === null || joinedTag === null)) {
        throw new QueryError(`Path item '${tag}' after the first needs joining_keyword and joining_value`);
      }
    } else if (given.length > 1 || (given.length === 1 && options.direction !== undefined)) {
      throw new QueryError(
        `${what} can join only one vertex, got ${[...given, ...(options.direction === undefined ? [] : ['direction'])].join(' and ')}`,
      );
    } else if (given.length === 1) {
      keyword = snakeKeyword(given[0]!);
      joinedTag = this.#tagOf(options[given[0]!]!, `${camelKeyword(keyword)} of ${what}`);
    } else if (options.direction !== undefined) {
      if (ormBase !== 'node')
        throw new QueryError(`'direction' only joins nodes; ${what} needs e.g. withNode`);
      const steps = options.direction;
      if (steps === 0) throw new QueryError("'direction' cannot be 0");
      const joined = this.#path[this.#path.length - Math.abs(steps)];
      if (joined === undefined)
        throw new QueryError(
          `'direction: ${steps}' points before the start of the path (${this.#path.length} vertices)`,
        );
      keyword = steps > 0 ? 'with_incoming' : 'with_outgoing';
      joinedTag = joined.tag;
    } else if (this.#path.length > 0) {
      keyword = ormBase === 'node' ? 'with_incoming' : 'with_node';
      joinedTag = this.#path[this.#path.length - 1]!.tag;
    }
    if (this.#path.length === 0 && keyword !== null) {
      throw new QueryError(
        `The first vertex (${what}) has nothing to join to, yet '${camelKeyword(keyword)}' was given`,
      );
    }

    // edge
    let edgeTag: string | null = null;
    let edgeModel: TableModel | undefined;
    let edgeFilters: FilterSpec = {};
    let edgeProjections: ProjectionItem[] = [];
    if (keyword !== null && joinedTag !== null) {
      const valid = Object.keys(RELATIONSHIPS[ormBase]);
      if (!Object.hasOwn(RELATIONSHIPS[ormBase], keyword)) {
        throw new QueryError(
          `'${camelKeyword(keyword)}' is not a relationship of a ${ormBase}. Valid: ${valid.length === 0 ? 'none' : valid.map(camelKeyword).join(', ')}`,
        );
      }
      const joinedInfo = this.#tags.get(joinedTag);
      if (joinedInfo === undefined || joinedInfo.kind !== 'vertex') {
        throw new QueryError(`${what} joins to '${joinedTag}', which is not a vertex of the path`);
      }
      const join = joinSpecOf(
        {
          entity_type: '',
          orm_base: ormBase,
          tag,
          joining_keyword: keyword,
          joining_value: joinedTag,
          edge_tag: null,
          outerjoin: false,
        },
        joinedInfo.ormBase,
      );
      edgeModel = edgeModelOf(join);
      edgeTag = options.edgeTag ?? `${joinedTag}${EDGE_TAG_DELIMITER}${tag}`;
      if (this.#tags.has(edgeTag) || edgeTag === tag)
        throw new QueryError(`Edge tag '${edgeTag}' is already in use`);
      const edgeWhat = `edge '${edgeTag}'`;
      const noEdge = (part: string): QueryError =>
        new QueryError(
          `The relationship '${camelKeyword(keyword)}' of ${what} goes through no table, so its edge has no ${part}`,
        );
      if (options.edgeFilters !== undefined && Object.keys(options.edgeFilters).length > 0) {
        if (edgeModel === undefined) throw noEdge('filters');
        edgeFilters = { ...options.edgeFilters };
        parseFilterSpec(edgeModel, edgeFilters, edgeWhat);
      }
      if (options.edgeProject !== undefined) {
        if (edgeModel === undefined) throw noEdge('projections');
        edgeProjections = this.#normaliseProjection(options.edgeProject, edgeModel, edgeWhat);
      }
    } else if (
      options.edgeTag !== undefined ||
      options.edgeFilters !== undefined ||
      options.edgeProject !== undefined
    ) {
      throw new QueryError(
        `The first vertex (${what}) has no edge: edgeTag, edgeFilters and edgeProject need a relationship`,
      );
    }

    // every check passed: change the state
    this.#tags.set(tag, { kind: 'vertex', model, ormBase, what });
    if (typeof target !== 'string' && !Array.isArray(target)) {
      const set = this.#classTags.get(target) ?? new Set<string>();
      set.add(tag);
      this.#classTags.set(target, set);
    }
    this.#filters[tag] = filters;
    this.#projections[tag] = projections;
    if (edgeTag !== null) {
      this.#tags.set(edgeTag, {
        kind: 'edge',
        model: edgeModel,
        ormBase: undefined,
        what: `edge '${edgeTag}'`,
      });
      this.#filters[edgeTag] = edgeFilters;
      this.#projections[edgeTag] = edgeProjections;
    }
    this.#path.push({
      entity_type: fromPath?.entity_type ?? pathEntityType(resolved),
      orm_base: ormBase,
      tag,
      joining_keyword: keyword,
      joining_value: joinedTag,
      edge_tag: edgeTag,
      outerjoin: options.outerjoin ?? false,
    });
    this.#changed();
  }

  #normaliseProjection(spec: unknown, model: TableModel | undefined, what: string): ProjectionItem[] {
    if (spec === true || spec === false || spec === null)
      throw new QueryError(`Invalid projection for ${what}: ${describeValue(spec)}`);
    const parsed = ProjectionInputSchema.safeParse(spec);
    if (!parsed.success) throw zodToQueryError(parsed.error, `projection for ${what}`);
    const list = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    const items: ProjectionItem[] = list.map((entry) =>
      typeof entry === 'string' ? { [entry]: {} } : { ...entry },
    );
    if (model === undefined) throw new QueryError(`${what} has no table to project from`);
    for (const item of items) {
      for (const field of Object.keys(item)) {
        if (field === '*' || field === '**') continue;
        const [first = '', ...path] = field.split('.');
        const column = resolveColumn(model, first);
        if (column === undefined)
          throw new QueryError(
            `Unknown field '${first}' in the projection of ${what}. Valid fields: *, **, ${describeColumns(model)}`,
          );
        if (path.length > 0 && model.columns[column] !== 'json') {
          throw new QueryError(
            `Field '${first}' of ${what} is not a JSON column, so '${field}' cannot reach into it`,
          );
        }
        if (path.some((p) => p === ''))
          throw new QueryError(`Empty key in the JSON path '${field}' of ${what}`);
      }
    }
    return items;
  }

  /** Adds filters to a tag (a vertex or an edge); a filter on a field already filtered replaces it. */
  addFilter(tag: TagReference, filters: FilterSpec): this {
    const name = this.#tagOf(tag, 'addFilter');
    const info = this.#tags.get(name)!;
    if (!isPlainObject(filters))
      throw new QueryError(`Filters for ${info.what} must be a dictionary, got ${describeValue(filters)}`);
    if (info.model === undefined) {
      if (Object.keys(filters).length === 0) return this;
      throw new QueryError(`${info.what} goes through no table, so it cannot be filtered`);
    }
    const merged = {
      ...this.#filters[name],
      ...(this.#shape === undefined ? filters : structuredCloneOrSelf(filters)),
    };
    parseFilterSpec(info.model, merged, info.what);
    this.#filters[name] = merged;
    this.#changed();
    this.#extendShape(`f${JSON.stringify(name)}`, filters);
    return this;
  }

  /** Sets what to return for a tag (replacing earlier projections of it): `'*'`, columns, JSON paths. */
  addProjection(tag: TagReference, projection: ProjectionInput): this {
    const name = this.#tagOf(tag, 'addProjection');
    const info = this.#tags.get(name)!;
    this.#projections[name] = this.#normaliseProjection(projection, info.model, info.what);
    this.#changed();
    this.#extendShape(`p${JSON.stringify(name)}`, projection);
    return this;
  }

  /**
   * Sets the ordering (replacing an earlier one): `{tag: 'id'}`, `{tag: [{ctime: 'desc'}]}`,
   * `{tag: {'attributes.value': {order: 'asc', cast: 'i'}}}`; a JSON value needs a cast.
   */
  orderBy(orderBy: OrderByInput): this {
    const entries = Array.isArray(orderBy) ? orderBy : [orderBy];
    const result: OrderByEntry[] = [];
    for (const entry of entries as readonly unknown[]) {
      if (!isPlainObject(entry))
        throw new QueryError(`Invalid order_by entry ${describeValue(entry)}: expected {tag: field(s)}`);
      const out: OrderByEntry = {};
      for (const [tagSpec, fields] of Object.entries(entry)) {
        const tag = this.#tagOf(tagSpec, 'orderBy');
        const info = this.#tags.get(tag)!;
        const model = info.model;
        if (model === undefined)
          throw new QueryError(`${info.what} goes through no table, so it cannot order`);
        const list = Array.isArray(fields) ? (fields as unknown[]) : [fields];
        out[tag] = list.map((item) => {
          const spec: Record<string, unknown> =
            typeof item === 'string' ? { [item]: {} } : isPlainObject(item) ? item : {};
          if (!isPlainObject(item) && typeof item !== 'string')
            throw new QueryError(`Invalid order_by field ${describeValue(item)} for ${info.what}`);
          const normalised: Record<string, OrderSpec> = {};
          for (const [field, raw] of Object.entries(spec)) {
            const given =
              typeof raw === 'string'
                ? { order: raw }
                : isPlainObject(raw)
                  ? { order: 'asc', ...raw }
                  : undefined;
            const parsed = OrderSpec.safeParse(given);
            if (!parsed.success)
              throw zodToQueryError(
                parsed.error,
                `order_by of '${field}' (${info.what}); order is 'asc' or 'desc', cast one of f, i, t, b, j, d`,
              );
            const [first = '', ...path] = field.split('.');
            const column = resolveColumn(model, first);
            if (column === undefined)
              throw new QueryError(
                `Unknown field '${first}' in order_by of ${info.what}. Valid fields: ${describeColumns(model)}`,
              );
            const kind = model.columns[column];
            if (path.length > 0 && kind !== 'json')
              throw new QueryError(
                `Field '${first}' of ${info.what} is not a JSON column, so '${field}' cannot reach into it`,
              );
            if (kind === 'json' && parsed.data.cast === undefined) {
              throw new QueryError(
                `To order by '${field}' of ${info.what} the value has to be cast: give 'cast' (one of f, i, t, b, d)`,
              );
            }
            normalised[field] = parsed.data;
          }
          return normalised;
        });
      }
      result.push(out);
    }
    this.#orderBy = result;
    this.#changed();
    this.#extendShape('o', orderBy);
    return this;
  }

  /** At most this many rows (null: no limit). */
  limit(limit: number | null): this {
    if (limit !== null && (!Number.isInteger(limit) || limit < 0))
      throw new QueryError(`limit must be a non-negative integer or null, got ${describeValue(limit)}`);
    this.#limit = limit;
    this.#changed();
    this.#extendShape('l', limit);
    return this;
  }

  /** Skip this many rows first (null: none). */
  offset(offset: number | null): this {
    if (offset !== null && (!Number.isInteger(offset) || offset < 0))
      throw new QueryError(`offset must be a non-negative integer or null, got ${describeValue(offset)}`);
    this.#offset = offset;
    this.#changed();
    this.#extendShape('s', offset);
    return this;
  }

  /** Remove duplicate rows. */
  distinct(value = true): this {
    if (typeof value !== 'boolean')
      throw new QueryError(`distinct() takes a boolean, got ${describeValue(value)}`);
    this.#distinct = value;
    this.#changed();
    this.#extendShape('d', value);
    return this;
  }

  #lastTag(method: string): string {
    const last = this.#path[this.#path.length - 1];
    if (last === undefined)
      throw new QueryError(`${method}() needs a vertex to start from: append() one first`);
    return last.tag;
  }

  /** Appends the inputs of the last vertex (nodes by default). */
  inputs(
    options: Omit<AppendOptions, 'withOutgoing'> & {
      readonly cls?: AppendTarget | readonly AppendTarget[];
    } = {},
  ): this {
    const { cls = '', ...rest } = options;
    return this.append(cls, { ...rest, withOutgoing: this.#lastTag('inputs') });
  }

  /** Appends the outputs of the last vertex (nodes by default). */
  outputs(
    options: Omit<AppendOptions, 'withIncoming'> & {
      readonly cls?: AppendTarget | readonly AppendTarget[];
    } = {},
  ): this {
    const { cls = '', ...rest } = options;
    return this.append(cls, { ...rest, withIncoming: this.#lastTag('outputs') });
  }

  /** Appends the descendants of the last vertex (nodes by default). */
  children(
    options: Omit<AppendOptions, 'withAncestors'> & {
      readonly cls?: AppendTarget | readonly AppendTarget[];
    } = {},
  ): this {
    const { cls = '', ...rest } = options;
    return this.append(cls, { ...rest, withAncestors: this.#lastTag('children') });
  }

  /** Appends the ancestors of the last vertex (nodes by default). */
  parents(
    options: Omit<AppendOptions, 'withDescendants'> & {
      readonly cls?: AppendTarget | readonly AppendTarget[];
    } = {},
  ): this {
    const { cls = '', ...rest } = options;
    return this.append(cls, { ...rest, withDescendants: this.#lastTag('parents') });
  }

  // ---- compilation -----------------------------------------------------------------------------------------

  #compiled(dialectName: DialectName): { plan: CompiledPlan; compiler: QueryCompiler } {
    // the key is the calls that built the query (see #shape), else the query itself (as asDict gives it,
    // without copying it first); Dates are marked so that a Date and its ISO string never share a plan
    const shape = this.#shape;
    const cached = this.#cache;
    if (shape !== undefined) {
      if (cached !== undefined && cached.key === shape && cached.dialect === dialectName) return cached;
      const shapeKey = shape * 2 + (dialectName === DialectName.POSTGRES ? 1 : 0);
      let shared = SHAPED_PLANS.get(shapeKey);
      if (shared === undefined) {
        const compiler = new QueryCompiler(getDialect(dialectName));
        shared = { plan: compiler.compile(this.asDict()), compiler };
        SHAPED_PLANS.set(shapeKey, shared);
      }
      this.#cache = { key: shape, dialect: dialectName, ...shared };
      return this.#cache;
    }
    const key = `j${JSON.stringify(
      this.#asDictView(),
      function (this: Record<string, unknown>, name: string, value: unknown) {
        return this[name] instanceof Date ? { $date: value } : value;
      },
    )}`;
    if (cached !== undefined && cached.key === key && cached.dialect === dialectName) return cached;
    const shared = sharedPlan(dialectName, key, () => {
      const compiler = new QueryCompiler(getDialect(dialectName));
      return { plan: compiler.compile(this.asDict()), compiler };
    });
    this.#cache = { key, dialect: dialectName, ...shared };
    return this.#cache;
  }

  /**
   * The SQL the query compiles to, for reading and debugging: the statement and its parameters, or with
   * `inline: true` the values written into the text.
   */
  asSql(options: AsSqlOptions = {}): string {
    const backend = options.dialect === undefined ? this.#backendOrUndefined() : undefined;
    const dialectName = options.dialect ?? backend?.dialect.name ?? DialectName.SQLITE;
    const { plan } = this.#compiled(dialectName);
    return renderSql(plan.select, dialectName, options.inline ?? false);
  }

  #backendOrUndefined(): QueryBackend | undefined {
    if (this.#backend !== undefined) return this.#backend;
    try {
      return getStorage();
    } catch {
      return undefined;
    }
  }

  /** The database's plan for the query (`EXPLAIN ANALYZE` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite). */
  async analyzeQuery(options: { readonly execute?: boolean } = {}): Promise<string> {
    const backend = this.backend;
    const { plan } = this.#compiled(backend.dialect.name);
    if (backend.dialect.name === 'postgres') {
      const rows = await runQuery(
        backend.executor(),
        sql<
          Record<string, unknown>
        >`explain ${options.execute === false ? sql`` : sql`analyze `}${plan.select}`,
      );
      return rows.map((row) => String(Object.values(row)[0])).join('\n');
    }
    const rows = await runQuery(
      backend.executor(),
      sql<Record<string, unknown>>`explain query plan ${plan.select}`,
    );
    return rows.map((row) => String(row.detail)).join('\n');
  }

  // ---- reading ---------------------------------------------------------------------------------------------

  #prepare(): { backend: QueryBackend; plan: CompiledPlan; decoder: RowDecoder } {
    const backend = this.backend;
    const { plan, compiler } = this.#compiled(backend.dialect.name);
    let decoder = DECODERS.get(plan);
    if (decoder?.backend !== backend) {
      decoder = { backend, decoder: new RowDecoder(backend, compiler.json, plan.projections) };
      DECODERS.set(plan, decoder);
    }
    return { backend, plan, decoder: decoder.decoder };
  }

  /** The number of rows the query gives (after limit and offset). */
  async count(): Promise<number> {
    const { backend, plan } = this.#prepare();
    const rows = await runPlanQuery(backend, plan.countSelect);
    return backend.dialect.decodeInteger(rows[0]?.count ?? 0);
  }

  async #rows(
    options: BatchOptions,
    { backend, plan }: { backend: QueryBackend; plan: CompiledPlan } = this.#prepare(),
  ): Promise<(Record<string, unknown> | unknown[])[]> {
    if (options.batchSize === undefined) return runPlanQuery(backend, plan.select, true);
    const rows: (Record<string, unknown> | unknown[])[] = [];
    for await (const batch of fetchBatches(backend, plan, checkBatchSize(options.batchSize)))
      rows.push(...batch);
    return rows;
  }

  /** Every row as a list of the projected values; `flat: true` gives one flat list of all values. */
  async all(options: BatchOptions & { readonly flat: true }): Promise<unknown[]>;
  async all(options?: BatchOptions & { readonly flat?: false }): Promise<unknown[][]>;
  async all(options: BatchOptions & { readonly flat?: boolean } = {}): Promise<unknown[] | unknown[][]> {
    const prepared = this.#prepare();
    const rows = await prepared.decoder.lists(await this.#rows(options, prepared));
    return options.flat === true ? rows.flat(1) : rows;
  }

  /** Every row as `{tag: {key: value}}`. */
  async dict(options: BatchOptions = {}): Promise<QueryDictRow[]> {
    const prepared = this.#prepare();
    return prepared.decoder.dicts(await this.#rows(options, prepared));
  }

  /**
   * The first row (a list), or null when there is none; `flat: true` gives the value itself when one thing is
   * projected. Without an ordering, which row comes first is up to the database.
   */
  async first(options: { readonly flat: true }): Promise<unknown>;
  async first(options?: { readonly flat?: false }): Promise<unknown[] | null>;
  async first(options: { readonly flat?: boolean } = {}): Promise<unknown> {
    const { backend, plan, decoder } = this.#prepare();
    const rows = await runQuery(backend.executor(), plan.build({ limit: 1 }));
    if (rows.length === 0) return null;
    const row = await decoder.list(rows[0]!);
    return options.flat === true && row.length === 1 ? row[0] : row;
  }

  /**
   * The only row. Throws {@link NotExistentError} when there is none and {@link MultipleObjectsError} when
   * there are more.
   */
  async one(): Promise<unknown[]> {
    const { backend, plan, decoder } = this.#prepare();
    const rows = await runQuery(backend.executor(), plan.build({ limit: 2 }));
    if (rows.length === 0) throw new NotExistentError('No result was found');
    if (rows.length > 1) throw new MultipleObjectsError('More than one result was found');
    return await decoder.list(rows[0]!);
  }

  /**
   * Streams the rows (lists of projected values) in batches, never holding the whole result: a server-side
   * cursor on PostgreSQL, one statement per batch on SQLite (so the loop body may use the database). To make the
   * loop body's writes atomic with the reading, run the loop inside `backend.transaction(...)`.
   */
  iterall(options: BatchOptions = {}): RowStream<unknown[]> {
    const { backend, plan, decoder } = this.#prepare();
    const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
    return new RowStream(
      decodedBatches(fetchBatches(backend, plan, batchSize), (rows) => decoder.lists(rows)),
    );
  }

  /** Streams the rows as `{tag: {key: value}}`, as {@link iterall} does. */
  iterdict(options: BatchOptions = {}): RowStream<QueryDictRow> {
    const { backend, plan, decoder } = this.#prepare();
    const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
    return new RowStream(
      decodedBatches(fetchBatches(backend, plan, batchSize), (rows) => decoder.dicts(rows)),
    );
  }
}

/** A deep copy of plain data (filters), or the value itself when it holds something that cannot be copied. */
function structuredCloneOrSelf<T>(value: T): T {
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

async function* decodedBatches<T>(
  batches: AsyncGenerator<(Record<string, unknown> | unknown[])[]>,
  decode: (rows: readonly (Record<string, unknown> | unknown[])[]) => Promise<T[]>,
): AsyncGenerator<T[]> {
  for await (const batch of batches) yield await decode(batch);
}

function checkBatchSize(batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new QueryError(`batchSize must be a positive integer, got ${describeValue(batchSize)}`);
  return batchSize;
}

export { wrapDatabaseError, type RelationshipKeyword };
