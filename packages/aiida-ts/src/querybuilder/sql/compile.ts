import { sql, type RawBuilder } from 'kysely';
import { QueryError } from '../../errors.js';
import type { DialectName, SqlDialect } from '../../storage/dialect.js';
import {
  INDEXED_ATTRIBUTES,
  postgresIndexedAttribute,
  sqliteIndexedAttribute,
} from '../../storage/performance-indexes.js';
import {
  ENTITY_TABLES,
  GROUP_NODES_TABLE,
  RECURSIVE_EDGE_TABLE,
  describeColumns,
  resolveColumn,
  type ColumnKind,
  type OrmBase,
  type TableModel,
} from '../entities.js';
import { parseFilterSpec, type FieldCondition, type FilterNode } from '../filters.js';
import type { PathItem, ProjectionModifiers, QueryDict } from '../query-dict.js';
import { RELATIONSHIPS, type JoinSpec, type RelationshipKeyword } from '../relationships.js';
import { ColumnFilterCompiler } from './column-filters.js';
import { createSqliteJson, postgresJson, type JsonAccess, type JsonCast } from './json-access.js';

/** The link types a recursive walk follows: aiida-core's data provenance (`create` and `input_calc`). */
export const RECURSIVE_LINK_TYPES = ['create', 'input_calc'] as const;

/** How the value in one result column becomes a JS value. */
export type ValueDecoder =
  | { readonly kind: 'column'; readonly columnKind: ColumnKind }
  | { readonly kind: 'json' }
  /** Element `item` of a JSON array of several values of one document (see {@link JsonAccess.values}). */
  | { readonly kind: 'jsonItem'; readonly item: number }
  | { readonly kind: 'cast'; readonly cast: JsonCast }
  | { readonly kind: 'count' };

/** One projected entry of a result row (what `all()` returns one element for). */
export type ProjectionPlan =
  | {
      readonly kind: 'value';
      readonly tag: string;
      readonly key: string;
      readonly sqlAlias: string;
      /** Where the value is in a row read as an array (the select list's order). */
      readonly position: number;
      readonly decoder: ValueDecoder;
    }
  | {
      readonly kind: 'entity';
      readonly tag: string;
      readonly key: '*';
      /** The kind of entity, or `undefined` for an edge row (a link or a group membership). */
      readonly ormBase: OrmBase | undefined;
      readonly columns: readonly {
        readonly column: string;
        readonly sqlAlias: string;
        readonly position: number;
        readonly kind: ColumnKind;
      }[];
    };

/** What the compiler makes of a query: the statement and how to read its rows. */
export interface CompiledPlan {
  /** The full SELECT statement. */
  readonly select: RawBuilder<Record<string, unknown>>;
  /** The same statement without ORDER BY/LIMIT/OFFSET and with only what `count` needs. */
  readonly countSelect: RawBuilder<Record<string, unknown>>;
  readonly projections: readonly ProjectionPlan[];
  /**
   * For batched reading: the expressions that order rows totally (ids of every joined row) when the query has
   * neither ordering, distinct, aggregates nor outer/recursive joins (keyset pagination), else `undefined`.
   */
  readonly keyset: readonly { readonly expr: RawBuilder<unknown>; readonly sqlAlias: string }[] | undefined;
  /** Builds the statement with other ORDER BY/LIMIT/OFFSET/extra WHERE for batched reading. */
  readonly build: (options: BuildOptions) => RawBuilder<Record<string, unknown>>;
  /** The ORDER BY of offset batches: the query's own order, then terms that make the order total. */
  readonly batchOrder: readonly RawBuilder<unknown>[];
  readonly limitOffset: { readonly limit: number | null; readonly offset: number | null };
  /** The tables the statement reads (for {@link BuildOptions.bounds}). */
  readonly tables: readonly string[];
}

/** The highest id of each table when a batched read began; rows added later stay out of the batches. */
export type TableBounds = Readonly<Record<string, number>>;

/** `alias.id <= bound` when `bounds` has one for `table`, prefixed by `prefix` (empty SQL otherwise). */
function boundCondition(
  bounds: TableBounds | undefined,
  table: string,
  alias: string,
  prefix: string,
): RawBuilder<unknown> {
  const bound = bounds?.[table];
  if (bound === undefined) return sql``;
  return sql`${sql.raw(prefix)}${ref(alias, 'id')} <= ${bound}`;
}

/** Overrides for {@link CompiledPlan.build}. */
export interface BuildOptions {
  readonly where?: RawBuilder<unknown> | undefined;
  readonly orderBy?: readonly RawBuilder<unknown>[];
  readonly limit?: number | null;
  readonly offset?: number | null;
  /** Also select the keyset columns. */
  readonly withKeyset?: boolean;
  /** Leave out rows whose ids are above these (inserted after a batched read began). */
  readonly bounds?: TableBounds | undefined;
}

interface Target {
  readonly alias: string;
  readonly model: TableModel;
  readonly what: string;
}

interface VertexState extends Target {
  readonly item: PathItem;
}

interface EdgeState extends Target {
  readonly join: JoinSpec;
}

/** The join spec of a path item (after the first), checked against the joined vertex. */
export function joinSpecOf(item: PathItem, joinedBase: OrmBase | undefined): JoinSpec {
  const keyword = item.joining_keyword;
  const spec = keyword === null ? undefined : RELATIONSHIPS[item.orm_base][keyword as RelationshipKeyword];
  if (spec === undefined) {
    const valid = Object.keys(RELATIONSHIPS[item.orm_base]);
    throw new QueryError(
      `'${String(keyword)}' is not a valid relationship for a ${item.orm_base} (tag '${item.tag}'). ` +
        `Valid: ${valid.length === 0 ? `none (a ${item.orm_base} cannot be joined)` : valid.join(', ')}`,
    );
  }
  if (joinedBase !== undefined && joinedBase !== spec.joined) {
    throw new QueryError(
      `${item.orm_base} '${item.tag}' ${String(keyword)} '${String(item.joining_value)}' needs a ${spec.joined}, ` +
        `but '${String(item.joining_value)}' is a ${joinedBase}`,
    );
  }
  return spec;
}

/** Whether the query filters, projects or orders by the edge tagged `tag`. */
function edgeUsed(data: QueryDict, tag: string | null): boolean {
  if (tag === null) return false;
  if ((data.project[tag] ?? []).length > 0) return true;
  if (Object.keys(data.filters[tag] ?? {}).length > 0) return true;
  return data.order_by.some((entry) => Object.hasOwn(entry, tag));
}

/**
 * Whether the query needs no row of its start vertex beyond those a walk from it (its second vertex, joined by
 * `withAncestors`/`withDescendants`) already holds: the walk's anchor joins the start vertex's table with all its
 * filters (and batch bounds), so every walk row's start end is a matching start vertex, met by exactly one row of
 * the start table. Then joining the start table again changes nothing, as long as nothing else reads it: no
 * projection or ordering of it, no other vertex joined to it, and an inner join (an outer one keeps start
 * vertices the walk never left).
 */
function walkHoldsStart(data: QueryDict): boolean {
  const start = data.path[0];
  const second = data.path[1];
  if (start === undefined || second === undefined || second.outerjoin) return false;
  if (second.joining_value !== start.tag) return false;
  if (joinSpecOf(second, start.orm_base).kind !== 'recursive') return false;
  if (data.path.some((item, index) => index > 1 && item.joining_value === start.tag)) return false;
  if ((data.project[start.tag] ?? []).length > 0) return false;
  return !data.order_by.some((entry) => Object.hasOwn(entry, start.tag));
}

/** Whether `filter` (a parsed filter spec) requires `id` to equal one number: it matches at most one row. */
function pinsOneId(filter: FilterNode): boolean {
  return (
    filter.kind === 'and' &&
    !filter.negated &&
    filter.children.some(
      (c) =>
        c.kind === 'condition' &&
        c.column === 'id' &&
        c.jsonPath.length === 0 &&
        c.operator === '==' &&
        !c.negated &&
        typeof c.value === 'number',
    )
  );
}

/** The table model of the edge a join creates, or `undefined` when the join has no edge table. */
export function edgeModelOf(join: JoinSpec): TableModel | undefined {
  switch (join.kind) {
    case 'link':
      return ENTITY_TABLES.link;
    case 'group-nodes':
      return GROUP_NODES_TABLE;
    case 'recursive':
      return RECURSIVE_EDGE_TABLE;
    default:
      return undefined;
  }
}

const ref = (alias: string, column: string): RawBuilder<unknown> => sql.ref(`${alias}.${column}`);

/** Compiles a {@link QueryDict} into SQL for one dialect. Every value and JSON key is a bound parameter. */
export class QueryCompiler {
  readonly #dialect: SqlDialect;
  readonly #json: JsonAccess;
  readonly #columns: ColumnFilterCompiler;
  #aliasCount = 0;

  constructor(dialect: SqlDialect) {
    this.#dialect = dialect;
    const alias = (prefix: string): string => `${prefix}${++this.#aliasCount}`;
    this.#json = dialect.name === 'postgres' ? postgresJson : createSqliteJson(alias);
    this.#columns = new ColumnFilterCompiler(dialect.name, (v) => dialect.encodeTimestamp(v));
  }

  get dialectName(): DialectName {
    return this.#dialect.name;
  }

  get json(): JsonAccess {
    return this.#json;
  }

  compile(data: QueryDict): CompiledPlan {
    if (data.path.length === 0) throw new QueryError('The query has no path: append() at least one entity');
    const vertices = new Map<string, VertexState>();
    const edges = new Map<string, EdgeState>();
    // joins and CTEs are rendered per statement: batched reading on SQLite bounds every table's ids
    type Render = (bounds: TableBounds | undefined) => RawBuilder<unknown>;
    const ctes: Render[] = [];
    const joins: Render[] = [];
    // path indices of the recursive joins whose walk keeps only (ancestor, descendant) pairs
    const recursivePairs = new Set<number>();
    const tables = new Set<string>([ENTITY_TABLES[data.path[0]!.orm_base].table]);
    // the statements start from the walk instead of the start vertex's table (see walkHoldsStart)
    const startInWalk = walkHoldsStart(data);
    let walkStartColumn = 'ancestor_id';

    data.path.forEach((item, index) => {
      const vertex: VertexState = {
        item,
        alias: `t${index}`,
        model: ENTITY_TABLES[item.orm_base],
        what: `${item.orm_base} '${item.tag}'`,
      };
      if (index === 0) {
        vertices.set(item.tag, vertex);
        return;
      }
      const joined = vertices.get(item.joining_value ?? '');
      if (joined === undefined) {
        throw new QueryError(
          `Tag '${item.tag}' joins to unknown tag '${String(item.joining_value)}'. Known tags: ${[...vertices.keys()].join(', ')}`,
        );
      }
      const join = joinSpecOf(item, joined.item.orm_base);
      const edgeModel = edgeModelOf(join);
      const edgeAlias = `e${index}`;
      const kind = item.outerjoin ? sql`left join` : sql`inner join`;
      const vertexTable = vertex.model.table;
      const x = vertex.alias;
      const t = joined.alias;
      tables.add(vertexTable);
      // `alias` joins `table` on `condition`, limited to the ids that existed when a batched read began
      const joinTo = (table: string, alias: string, condition: RawBuilder<unknown>): Render => {
        return (bounds) =>
          sql`${kind} ${sql.table(table)} as ${sql.id(alias)} on ${condition}${boundCondition(bounds, table, alias, ' and ')}`;
      };
      switch (join.kind) {
        case 'column':
          joins.push(
            joinTo(vertexTable, x, sql`${ref(x, join.appendedColumn)} = ${ref(t, join.joinedColumn)}`),
          );
          break;
        case 'link': {
          const [from, to] =
            join.direction === 'outputs' ? ['input_id', 'output_id'] : ['output_id', 'input_id'];
          tables.add('db_dblink');
          joins.push(joinTo('db_dblink', edgeAlias, sql`${ref(edgeAlias, from)} = ${ref(t, 'id')}`));
          joins.push(joinTo(vertexTable, x, sql`${ref(x, 'id')} = ${ref(edgeAlias, to)}`));
          break;
        }
        case 'group-nodes': {
          const [from, to] =
            join.appended === 'node' ? ['dbgroup_id', 'dbnode_id'] : ['dbnode_id', 'dbgroup_id'];
          tables.add('db_dbgroup_dbnodes');
          joins.push(joinTo('db_dbgroup_dbnodes', edgeAlias, sql`${ref(edgeAlias, from)} = ${ref(t, 'id')}`));
          joins.push(joinTo(vertexTable, x, sql`${ref(x, 'id')} = ${ref(edgeAlias, to)}`));
          break;
        }
        case 'recursive': {
          const cteName = `walk${index}`;
          const withPath = (data.project[item.edge_tag ?? ''] ?? []).some((p) => Object.hasOwn(p, 'path'));
          // A DISTINCT query that never looks at the edge (its depth or path) gets each (ancestor, descendant)
          // pair once whatever the number of paths between them: the walk keeps a set of pairs (UNION), so a
          // node reached by many paths is expanded once and the walk ends on any graph. Otherwise, as aiida-core,
          // one row per path (UNION ALL with the depth).
          const pairsOnly = data.distinct && !edgeUsed(data, item.edge_tag);
          if (pairsOnly) recursivePairs.add(index);
          tables.add('db_dblink');
          const seedFilters = data.filters[joined.item.tag] ?? {};
          ctes.push((bounds) =>
            this.#recursiveCte(
              cteName,
              join.direction,
              seedFilters,
              joined.what,
              withPath,
              bounds,
              pairsOnly,
            ),
          );
          const [from, to] =
            join.direction === 'descendants'
              ? ['ancestor_id', 'descendant_id']
              : ['descendant_id', 'ancestor_id'];
          if (startInWalk && index === 1) walkStartColumn = from;
          else
            joins.push(
              () =>
                sql`${kind} ${sql.table(cteName)} as ${sql.id(edgeAlias)} on ${ref(edgeAlias, from)} = ${ref(t, 'id')}`,
            );
          // SQLite knows nothing of the walk's size and may scan every node, probing the walk for each; CROSS JOIN
          // (SQLite's way to fix the order of two tables) looks the nodes the walk reached up by their key instead
          const vertexKind = !item.outerjoin && this.#dialect.name === 'sqlite' ? sql`cross join` : kind;
          joins.push(
            (bounds) =>
              sql`${vertexKind} ${sql.table(vertexTable)} as ${sql.id(x)} on ${ref(x, 'id')} = ${ref(edgeAlias, to)}${boundCondition(bounds, vertexTable, x, ' and ')}`,
          );
          break;
        }
      }
      vertices.set(item.tag, vertex);
      if (edgeModel !== undefined && item.edge_tag !== null) {
        edges.set(item.edge_tag, {
          join,
          alias: edgeAlias,
          model: edgeModel,
          what: `edge '${item.edge_tag}'`,
        });
      }
    });

    const targetOf = (tag: string, purpose: string): Target => {
      const target = vertices.get(tag) ?? edges.get(tag);
      if (target !== undefined) return target;
      const edgeTags = data.path.flatMap((p) => (p.edge_tag === null ? [] : [p.edge_tag]));
      if (edgeTags.includes(tag)) {
        throw new QueryError(
          `The edge '${tag}' joins through no table (a foreign key), so it has nothing for ${purpose}`,
        );
      }
      throw new QueryError(
        `Unknown tag '${tag}' in ${purpose}. Known tags: ${[...vertices.keys(), ...edges.keys()].join(', ')}`,
      );
    };

    // filters
    const where: RawBuilder<unknown>[] = [];
    let startPinned = false;
    for (const [tag, spec] of Object.entries(data.filters)) {
      if (Object.keys(spec).length === 0) continue;
      const target = targetOf(tag, 'filters');
      const parsed = parseFilterSpec(target.model, spec, target.what);
      const compiled = this.compileFilter(parsed, target.alias, target.model.nullable);
      if (tag === data.path[0]!.tag) startPinned = pinsOneId(parsed);
      // (compiled all the same, so that a wrong filter fails as it would otherwise: the walk's anchor applies it)
      if (compiled !== undefined && !(startInWalk && tag === data.path[0]!.tag)) where.push(compiled);
    }

    // projections: every tag in path order, then edges; nothing projected means the last vertex's entity
    let projections: ProjectionPlan[] = [];
    let selectList: RawBuilder<unknown>[] = [];
    // the JSON values projected plainly (no cast, no aggregate), by the document they come from
    const jsonValues = new Map<
      ProjectionPlan,
      { document: string; doc: RawBuilder<unknown>; keys: string[] }
    >();
    let hasAggregate = false;
    const addProjections = (tag: string, items: readonly Record<string, ProjectionModifiers>[]): void => {
      if (items.length === 0) return;
      const target = targetOf(tag, 'projections');
      const seen = new Set<string>();
      for (const item of items) {
        for (const [field, modifiers] of Object.entries(item)) {
          const fields =
            field === '**'
              ? Object.keys(target.model.columns).filter((c) => target.model.columns[c] !== 'idpath')
              : [field];
          for (const name of fields) {
            const key = data.project_map[tag]?.[name] ?? name;
            if (seen.has(key)) throw new QueryError(`'${name}' is projected more than once for tag '${tag}'`);
            seen.add(key);
            const plan = this.#projection(target, tag, name, key, modifiers, selectList.length);
            if (plan.kind === 'entity') {
              for (const column of plan.columns)
                selectList.push(
                  sql`${this.#selectColumn(target.alias, column.column, column.kind)} as ${sql.id(column.sqlAlias)}`,
                );
            } else {
              selectList.push(
                sql`${this.#valueExpression(target, name, modifiers)} as ${sql.id(plan.sqlAlias)}`,
              );
              if (modifiers.func !== undefined) hasAggregate = true;
              if (
                plan.decoder.kind === 'json' &&
                modifiers.cast === undefined &&
                modifiers.func === undefined
              ) {
                const { column, kind, path } = this.#field(target, name, 'projections');
                if (kind === 'json')
                  jsonValues.set(plan, {
                    document: `${target.alias}.${column}`,
                    doc: ref(target.alias, column),
                    keys: path,
                  });
              }
            }
            projections.push(plan);
          }
        }
      }
    };
    const anyProjection = Object.values(data.project).some((items) => items.length > 0);
    if (!anyProjection) {
      addProjections(data.path[data.path.length - 1]!.tag, [{ '*': {} }]);
    } else {
      for (const [tag, items] of Object.entries(data.project))
        if (items.length > 0) targetOf(tag, 'projections');
      for (const item of data.path) addProjections(item.tag, data.project[item.tag] ?? []);
      for (const item of data.path.slice(1)) {
        if (item.edge_tag !== null) addProjections(item.edge_tag, data.project[item.edge_tag] ?? []);
      }
    }
    if (hasAggregate && projections.some((p) => p.kind === 'entity')) {
      throw new QueryError("An aggregate ('func') cannot be combined with projecting entities ('*')");
    }
    // several values of one document read in one go (not under DISTINCT or an aggregate,
    // which compare the values themselves): listing processes projects a dozen attributes of every row
    if (!data.distinct && !hasAggregate) {
      const values = this.#json.values.bind(this.#json);
      ({ projections, selectList } = mergeJsonValues(projections, selectList, jsonValues, values));
    }

    // ordering
    const orderBy: RawBuilder<unknown>[] = [];
    for (const entry of data.order_by) {
      for (const [tag, fields] of Object.entries(entry)) {
        const target = targetOf(tag, 'order_by');
        for (const spec of fields) {
          for (const [field, { order, cast }] of Object.entries(spec)) {
            orderBy.push(this.#orderTerm(target, field, order, cast));
          }
        }
      }
    }

    // a total order over the joined rows, for keyset pagination and deterministic batches
    const idTerms: { expr: RawBuilder<unknown>; sqlAlias: string }[] = [];
    const tieBreakers: RawBuilder<unknown>[] = [];
    let keysetPossible = !data.distinct && !hasAggregate && data.order_by.length === 0;
    data.path.forEach((item, index) => {
      if (index > 0) {
        const join = joinSpecOf(item, undefined);
        if (item.outerjoin || join.kind === 'recursive') keysetPossible = false;
        if (join.kind === 'recursive') {
          const columns = recursivePairs.has(index)
            ? ['ancestor_id', 'descendant_id']
            : ['ancestor_id', 'descendant_id', 'depth'];
          for (const column of columns) tieBreakers.push(ref(`e${index}`, column));
        } else if (join.kind === 'link' || join.kind === 'group-nodes') {
          idTerms.push({ expr: ref(`e${index}`, 'id'), sqlAlias: `k_e${index}` });
        }
      }
      // the start vertex's id is the walk's start column when its table is not joined
      const idExpr = index === 0 && startInWalk ? ref('e1', walkStartColumn) : ref(`t${index}`, 'id');
      idTerms.push({ expr: idExpr, sqlAlias: `k_t${index}` });
    });
    tieBreakers.unshift(...idTerms.map((t) => t.expr));

    // A walk (pairs kept once) from one start vertex (its id pinned) reaches each vertex once: with nothing but
    // the reached vertex joined and its id selected, the rows are distinct without SQL's DISTINCT (a sort or
    // B-tree over the result)
    const second = data.path[1];
    const lastProjections = second === undefined ? [] : (data.project[second.tag] ?? []);
    const rowsUnique =
      startInWalk &&
      startPinned &&
      data.path.length === 2 &&
      recursivePairs.has(1) &&
      (!anyProjection ||
        lastProjections.some(
          (p) => Object.hasOwn(p, 'id') || Object.hasOwn(p, '*') || Object.hasOwn(p, '**'),
        ));
    const distinct = data.distinct && !rowsUnique;
    const firstTable = vertices.get(data.path[0]!.tag)!.model.table;
    const withClause = (bounds: TableBounds | undefined): RawBuilder<unknown> =>
      ctes.length === 0 ? sql`` : sql`with recursive ${sql.join(ctes.map((render) => render(bounds)))} `;
    const start = startInWalk
      ? sql`${sql.table('walk1')} as ${sql.id('e1')}`
      : sql`${sql.table(firstTable)} as ${sql.id('t0')}`;
    const fromClause = (bounds: TableBounds | undefined): RawBuilder<unknown> =>
      sql`from ${start} ${sql.join(
        joins.map((render) => render(bounds)),
        sql` `,
      )}`;

    const build = (options: BuildOptions): RawBuilder<Record<string, unknown>> => {
      const bounds = options.bounds;
      // (a walk's anchor bounds the start vertex itself)
      const firstBound = boundCondition(bounds, firstTable, 't0', '');
      const conditions = [
        ...where,
        ...(options.where === undefined ? [] : [options.where]),
        ...(bounds === undefined || startInWalk ? [] : [firstBound]),
      ];
      const whereClause = conditions.length === 0 ? sql`` : sql` where ${sql.join(conditions, sql` and `)}`;
      const list =
        options.withKeyset === true
          ? [...selectList, ...idTerms.map((t) => sql`${t.expr} as ${sql.id(t.sqlAlias)}`)]
          : selectList;
      const order = options.orderBy ?? orderBy;
      const orderClause = order.length === 0 ? sql`` : sql` order by ${sql.join(order)}`;
      const limit = options.limit === undefined ? data.limit : options.limit;
      const offset = options.offset === undefined ? data.offset : options.offset;
      return sql<
        Record<string, unknown>
      >`${withClause(bounds)}select ${distinct ? sql`distinct ` : sql``}${sql.join(list)} ${fromClause(bounds)}${whereClause}${orderClause}${this.#limitClause(limit, offset)}`;
    };

    const select = build({});
    const countSource =
      distinct || hasAggregate
        ? select
        : sql`${withClause(undefined)}select 1 as one ${fromClause(undefined)}${where.length === 0 ? sql`` : sql` where ${sql.join(where, sql` and `)}`}${this.#limitClause(data.limit, data.offset)}`;
    const countSelect = sql<
      Record<string, unknown>
    >`select count(*) as ${sql.id('count')} from (${countSource}) as ${sql.id('qb_count')}`;

    return {
      select,
      countSelect,
      projections,
      keyset: keysetPossible && data.limit === null && data.offset === null ? idTerms : undefined,
      build,
      batchOrder: [
        ...orderBy,
        // DISTINCT allows ordering only by what is selected: order by every selected column
        ...(distinct ? selectList.map((_, i) => sql.raw(String(i + 1))) : tieBreakers),
      ],
      limitOffset: { limit: data.limit, offset: data.offset },
      tables: [...tables],
    };
  }

  #limitClause(limit: number | null, offset: number | null): RawBuilder<unknown> {
    const parts: RawBuilder<unknown>[] = [];
    if (limit !== null) parts.push(sql` limit ${limit}`);
    else if (offset !== null && this.#dialect.name === 'sqlite') parts.push(sql` limit -1`);
    if (offset !== null) parts.push(sql` offset ${offset}`);
    return sql.join(parts, sql``);
  }

  /** Compiles a parsed filter against the table aliased `alias`; `undefined` when it holds no condition. */
  compileFilter(
    node: FilterNode,
    alias: string,
    nullable: readonly string[] = [],
    /** Whether a NOT of an enclosing group applies (so a NULL result would turn into a match). */
    underNot = false,
  ): RawBuilder<unknown> | undefined {
    if (node.kind === 'condition') {
      // `like '%'` on a column that is never NULL holds for every row (the type filter of `Node`, `Group`):
      // a constant the planner folds, instead of a pattern matched against every row
      if (
        node.operator === 'like' &&
        node.value === '%' &&
        node.jsonPath.length === 0 &&
        node.columnKind === 'text' &&
        !nullable.includes(node.column)
      )
        return node.negated ? sql`(1 = 0)` : sql`(1 = 1)`;
      return this.#condition(node, alias, underNot || node.negated);
    }
    const children = node.children.flatMap((child) => {
      const compiled = this.compileFilter(child, alias, nullable, underNot || node.negated);
      return compiled === undefined ? [] : [compiled];
    });
    if (children.length === 0) return undefined;
    const joined = sql`(${sql.join(children, node.kind === 'and' ? sql` and ` : sql` or `)})`;
    return node.negated ? sql`(not ${joined})` : joined;
  }

  #condition(node: FieldCondition, alias: string, underNot: boolean): RawBuilder<unknown> {
    const expr =
      node.columnKind === 'json'
        ? this.#jsonCondition(node, alias, underNot)
        : this.#columns.compile(
            ref(alias, node.column),
            node.columnKind,
            node.operator,
            node.value,
            [node.column, ...node.jsonPath].join('.'),
          );
    return node.negated ? sql`(not ${expr})` : expr;
  }

  #jsonCondition(node: FieldCondition, alias: string, underNot: boolean): RawBuilder<unknown> {
    const indexed = this.#indexedAttribute(node, alias);
    // On SQLite `json_extract` gives text only for a JSON string (its value) or a container (its JSON text, which
    // starts with [ or {), and NULL for a missing key: compared with strings that start otherwise it is already
    // type-exact. Only where no NOT turns its NULL into a match: there the typed form's `false` is needed.
    if (
      indexed !== undefined &&
      !underNot &&
      this.#dialect.name === 'sqlite' &&
      (node.operator === '==' ? [node.value] : (node.value as unknown[])).every(
        (v) => typeof v === 'string' && !v.startsWith('[') && !v.startsWith('{'),
      )
    )
      return indexed;
    const exact = this.#typedJsonCondition(node, alias);
    // the plain comparison is implied by the type-exact one, so adding it changes no row (also under NOT: it is
    // false or NULL exactly where the exact one is false); it is what the planner matches to the expression index
    return indexed === undefined ? exact : sql`(${indexed} and ${exact})`;
  }

  /**
   * For `==`/`in` on strings of an attribute with an aiida-ts expression index (`INDEXED_ATTRIBUTES`): the same
   * expression the index holds, compared with the values; `undefined` otherwise.
   */
  #indexedAttribute(node: FieldCondition, alias: string): RawBuilder<unknown> | undefined {
    const [key] = node.jsonPath;
    if (node.column !== 'attributes' || node.jsonPath.length !== 1 || !INDEXED_ATTRIBUTES.has(key!))
      return undefined;
    const values =
      node.operator === '==' ? [node.value] : node.operator === 'in' ? (node.value as unknown[]) : [];
    if (values.length === 0 || !values.every((v) => typeof v === 'string')) return undefined;
    const column = `${alias}.attributes`;
    // `key` is one of the fixed names of INDEXED_ATTRIBUTES, never caller text: safe as SQL
    if (this.#dialect.name === 'postgres') {
      return sql`${sql.raw(postgresIndexedAttribute(column, key!))} = any(${values}::text[])`;
    }
    return sql`${sql.raw(sqliteIndexedAttribute(column, key!))} in (${sql.join(values.map((v) => sql`${v}`))})`;
  }

  #typedJsonCondition(node: FieldCondition, alias: string): RawBuilder<unknown> {
    const target = { doc: ref(alias, node.column), keys: node.jsonPath };
    const json = this.#json;
    const value = node.value;
    switch (node.operator) {
      case '==':
        return json.equals(target, value);
      case '>':
      case '<':
      case '>=':
      case '<=':
        return json.compare(target, node.operator, value as number | string | boolean);
      case 'like':
      case 'ilike':
        return json.like(target, value as string, node.operator === 'ilike');
      case 'in':
        return json.in(target, value as (number | string | boolean)[]);
      case 'contains':
        return json.contains(target, value);
      case 'has_key':
        return json.hasKey(target, value as string);
      case 'of_length':
        return json.arrayLength(target, '==', value as number);
      case 'longer':
        return json.arrayLength(target, '>', value as number);
      case 'shorter':
        return json.arrayLength(target, '<', value as number);
      case 'of_type':
        return json.ofType(target, value as 'null');
    }
  }

  #recursiveCte(
    name: string,
    direction: 'descendants' | 'ancestors',
    startFilters: Record<string, unknown>,
    startWhat: string,
    withPath: boolean,
    bounds: TableBounds | undefined,
    pairsOnly: boolean,
  ): RawBuilder<unknown> {
    const pg = this.#dialect.name === 'postgres';
    const types = sql.join(RECURSIVE_LINK_TYPES.map((t) => sql`${t}`));
    // without statistics SQLite walks by the index on `type` (every create/input_calc link per step) instead of
    // the one on input_id/output_id; a unary `+` keeps `type` out of its index choice
    const linkType = pg ? sql`l.type` : sql`+l.type`;
    // the start vertex's filters go into the anchor too, so the walk starts only from matching nodes
    const seedFilter = this.compileFilter(
      parseFilterSpec(ENTITY_TABLES.node, startFilters, startWhat),
      'n',
      ENTITY_TABLES.node.nullable,
    );
    const seedWhere = sql`${seedFilter === undefined ? sql`` : sql` and ${seedFilter}`}${boundCondition(bounds, 'db_dblink', 'l', ' and ')}${boundCondition(bounds, 'db_dbnode', 'n', ' and ')}`;
    const stepWhere = boundCondition(bounds, 'db_dblink', 'l', ' and ');
    const walk = sql.table(name);
    if (pairsOnly) {
      const [seedJoin, stepJoin, stepSelect] =
        direction === 'descendants'
          ? [sql`l.input_id = n.id`, sql`l.input_id = w.descendant_id`, sql`w.ancestor_id, l.output_id`]
          : [sql`l.output_id = n.id`, sql`l.output_id = w.ancestor_id`, sql`l.input_id, w.descendant_id`];
      return sql`${walk}(ancestor_id, descendant_id) as (select l.input_id, l.output_id from db_dblink as l inner join db_dbnode as n on ${seedJoin} where ${linkType} in (${types})${seedWhere} union select ${stepSelect} from ${walk} as w inner join db_dblink as l on ${stepJoin} where ${linkType} in (${types})${stepWhere})`;
    }
    const columns = withPath
      ? sql`ancestor_id, descendant_id, depth, path`
      : sql`ancestor_id, descendant_id, depth`;
    if (direction === 'descendants') {
      const initPath = pg
        ? sql`, array[l.input_id, l.output_id]`
        : sql`, json_array(l.input_id, l.output_id)`;
      const stepPath = pg ? sql`, w.path || l.output_id` : sql`, json_insert(w.path, '$[#]', l.output_id)`;
      return sql`${walk}(${columns}) as (select l.input_id, l.output_id, 0${withPath ? initPath : sql``} from db_dblink as l inner join db_dbnode as n on l.input_id = n.id where ${linkType} in (${types})${seedWhere} union all select w.ancestor_id, l.output_id, w.depth + 1${withPath ? stepPath : sql``} from ${walk} as w inner join db_dblink as l on l.input_id = w.descendant_id where ${linkType} in (${types})${stepWhere})`;
    }
    const initPath = pg ? sql`, array[l.output_id, l.input_id]` : sql`, json_array(l.output_id, l.input_id)`;
    const stepPath = pg ? sql`, w.path || l.input_id` : sql`, json_insert(w.path, '$[#]', l.input_id)`;
    return sql`${walk}(${columns}) as (select l.input_id, l.output_id, 0${withPath ? initPath : sql``} from db_dblink as l inner join db_dbnode as n on l.output_id = n.id where ${linkType} in (${types})${seedWhere} union all select l.input_id, w.descendant_id, w.depth + 1${withPath ? stepPath : sql``} from ${walk} as w inner join db_dblink as l on l.output_id = w.ancestor_id where ${linkType} in (${types})${stepWhere})`;
  }

  /** A column as selected: timestamps as text on PostgreSQL, so microseconds survive the driver's Date. */
  #selectColumn(alias: string, column: string, kind: ColumnKind): RawBuilder<unknown> {
    if (kind === 'timestamp' && this.#dialect.name === 'postgres') return sql`(${ref(alias, column)})::text`;
    return ref(alias, column);
  }

  #field(
    target: Target,
    field: string,
    purpose: string,
  ): { column: string; kind: ColumnKind; path: string[] } {
    const [first = '', ...path] = field.split('.');
    const column = resolveColumn(target.model, first);
    if (column === undefined) {
      throw new QueryError(
        `Unknown field '${first}' in ${purpose} of ${target.what}. Valid fields: ${describeColumns(target.model)}`,
      );
    }
    const kind = target.model.columns[column]!;
    if (path.length > 0 && kind !== 'json')
      throw new QueryError(
        `Field '${first}' of ${target.what} is not a JSON column, so '${field}' cannot reach into it`,
      );
    if (path.some((p) => p === ''))
      throw new QueryError(`Empty key in the JSON path '${field}' of ${target.what}`);
    return { column, kind, path };
  }

  #projection(
    target: Target,
    tag: string,
    field: string,
    key: string,
    modifiers: ProjectionModifiers,
    index: number,
  ): ProjectionPlan {
    if (field === '*') {
      if (modifiers.func !== undefined)
        throw new QueryError(
          `An aggregate ('func') cannot be applied to '*' (tag '${tag}'); apply it to a column`,
        );
      const vertexBase = 'item' in target ? (target as VertexState).item.orm_base : undefined;
      if (target.model === RECURSIVE_EDGE_TABLE) {
        throw new QueryError(
          `The recursive edge '${tag}' has no entity to project; project ancestor_id, descendant_id, depth or path`,
        );
      }
      return {
        kind: 'entity',
        tag,
        key: '*',
        ormBase: vertexBase,
        columns: Object.entries(target.model.columns).map(([column, kind], i) => ({
          column,
          kind,
          sqlAlias: `c${index}_${i}`,
          position: index + i,
        })),
      };
    }
    const { kind, path } = this.#field(target, field, 'projections');
    if (
      (modifiers.func === 'max' || modifiers.func === 'min') &&
      kind === 'json' &&
      modifiers.cast === undefined
    ) {
      // PostgreSQL has no max/min of jsonb, and SQLite would compare JSON text ('50' > '300'): as for ordering,
      // the caller says what the values are
      throw new QueryError(
        `To aggregate '${field}' of ${target.what} with '${modifiers.func}' the value has to be cast: give 'cast' (one of f, i, t, b, d)`,
      );
    }
    let decoder: ValueDecoder;
    if (modifiers.func === 'count') decoder = { kind: 'count' };
    else if (kind === 'json' && modifiers.cast !== undefined)
      decoder = { kind: 'cast', cast: modifiers.cast };
    else if (kind === 'json' || path.length > 0) decoder = { kind: 'json' };
    else decoder = { kind: 'column', columnKind: kind };
    return { kind: 'value', tag, key, sqlAlias: `c${index}`, position: index, decoder };
  }

  #valueExpression(target: Target, field: string, modifiers: ProjectionModifiers): RawBuilder<unknown> {
    const { column, kind, path } = this.#field(target, field, 'projections');
    let expr: RawBuilder<unknown>;
    if (kind === 'json') {
      const jsonRef = { doc: ref(target.alias, column), keys: path };
      expr =
        modifiers.cast === undefined
          ? this.#json.value(jsonRef)
          : this.#json.cast(jsonRef, modifiers.cast, false);
    } else if (kind === 'idpath') {
      expr = ref(target.alias, column);
    } else {
      expr = this.#selectColumn(target.alias, column, kind);
      if (modifiers.func !== undefined && kind === 'timestamp') expr = ref(target.alias, column);
    }
    switch (modifiers.func) {
      case 'count':
        return sql`count(${expr})`;
      case 'max':
      case 'min': {
        const aggregated = modifiers.func === 'max' ? sql`max(${expr})` : sql`min(${expr})`;
        if (kind === 'timestamp' && this.#dialect.name === 'postgres') return sql`(${aggregated})::text`;
        return aggregated;
      }
      default:
        return expr;
    }
  }

  #orderTerm(
    target: Target,
    field: string,
    order: 'asc' | 'desc',
    cast: JsonCast | undefined,
  ): RawBuilder<unknown> {
    const { column, kind, path } = this.#field(target, field, 'order_by');
    const direction = order === 'desc' ? sql`desc` : sql`asc`;
    if (kind === 'json') {
      if (cast === undefined) {
        throw new QueryError(
          `To order by '${field}' of ${target.what} the value has to be cast: give 'cast' (one of f, i, t, b, j, d)`,
        );
      }
      if (cast === 'j')
        throw new QueryError(`Cannot order by '${field}' cast to JSON ('j'): use f, i, t, b or d`);
      const expr = this.#json.cast({ doc: ref(target.alias, column), keys: path }, cast, true);
      return this.#nulls(expr, direction, order);
    }
    if (kind === 'idpath') throw new QueryError(`Cannot order by the recursive 'path' of ${target.what}`);
    const expr = ref(target.alias, column);
    return target.model.nullable.includes(column)
      ? this.#nulls(expr, direction, order)
      : sql`${expr} ${direction}`;
  }

  /** PostgreSQL's NULL placement (last when ascending, first when descending), stated so SQLite agrees. */
  #nulls(
    expr: RawBuilder<unknown>,
    direction: RawBuilder<unknown>,
    order: 'asc' | 'desc',
  ): RawBuilder<unknown> {
    return order === 'asc' ? sql`${expr} ${direction} nulls last` : sql`${expr} ${direction} nulls first`;
  }
}

/**
 * The projections and select list with the plain JSON values of each document that has several (see `jsonValues`)
 * read as one JSON array (`values`), placed where the first of them was; every other entry keeps its expression,
 * at its new position.
 */
function mergeJsonValues(
  projections: readonly ProjectionPlan[],
  selectList: readonly RawBuilder<unknown>[],
  jsonValues: ReadonlyMap<ProjectionPlan, { document: string; doc: RawBuilder<unknown>; keys: string[] }>,
  values: JsonAccess['values'],
): { projections: ProjectionPlan[]; selectList: RawBuilder<unknown>[] } {
  const byDocument = new Map<string, ProjectionPlan[]>();
  for (const [plan, { document }] of jsonValues) {
    const plans = byDocument.get(document);
    if (plans === undefined) byDocument.set(document, [plan]);
    else plans.push(plan);
  }
  const merged = new Map<ProjectionPlan, readonly ProjectionPlan[]>();
  for (const plans of byDocument.values())
    if (plans.length > 1) for (const plan of plans) merged.set(plan, plans);
  if (merged.size === 0) return { projections: [...projections], selectList: [...selectList] };
  const outPlans: ProjectionPlan[] = [];
  const outList: RawBuilder<unknown>[] = [];
  const placed = new Map<readonly ProjectionPlan[], { sqlAlias: string; position: number }>();
  // the select list holds each projection's columns in projection order
  let at = 0;
  for (const plan of projections) {
    if (plan.kind === 'entity') {
      outPlans.push({
        ...plan,
        columns: plan.columns.map((column) => ({
          ...column,
          position: outList.length + (column.position - at),
        })),
      });
      outList.push(...selectList.slice(at, at + plan.columns.length));
      at += plan.columns.length;
      continue;
    }
    const group = merged.get(plan);
    if (group === undefined) {
      outPlans.push({ ...plan, position: outList.length });
      outList.push(selectList[at]!);
    } else {
      let column = placed.get(group);
      if (column === undefined) {
        column = { sqlAlias: plan.sqlAlias, position: outList.length };
        placed.set(group, column);
        const first = jsonValues.get(plan)!;
        outList.push(
          sql`${values(
            first.doc,
            group.map((p) => jsonValues.get(p)!.keys),
          )} as ${sql.id(column.sqlAlias)}`,
        );
      }
      outPlans.push({ ...plan, ...column, decoder: { kind: 'jsonItem', item: group.indexOf(plan) } });
    }
    at += 1;
  }
  return { projections: outPlans, selectList: outList };
}
