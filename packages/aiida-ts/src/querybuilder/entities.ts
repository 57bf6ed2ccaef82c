import { z } from 'zod';

/**
 * The kinds of entity a QueryBuilder path can hold, with aiida-core's names (`orm_base` in `as_dict`).
 * `link` queries `db_dblink` on its own (aiida's `entity_type='link'`).
 */
export const OrmBase = z.enum(['node', 'group', 'computer', 'user', 'authinfo', 'comment', 'log', 'link']);
export type OrmBase = z.infer<typeof OrmBase>;

/** How a column is stored and compared; decides which filter operators apply and how values are bound. */
export type ColumnKind = 'integer' | 'text' | 'uuid' | 'timestamp' | 'json' | 'boolean' | 'idpath';

/** One queryable table: its columns, and the short names aiida accepts for some of them (`pk` for `id`). */
export interface TableModel {
  readonly table: string;
  readonly columns: Readonly<Record<string, ColumnKind>>;
  /** Alternative names for columns, as aiida's `PROJECT_MAP` (`pk` → `id`, `user` → `user_id`, …). */
  readonly aliases: Readonly<Record<string, string>>;
  /** Columns that may hold SQL NULL (decoded as `null`). */
  readonly nullable: readonly string[];
}

const node: TableModel = {
  table: 'db_dbnode',
  columns: {
    id: 'integer',
    uuid: 'uuid',
    node_type: 'text',
    process_type: 'text',
    label: 'text',
    description: 'text',
    ctime: 'timestamp',
    mtime: 'timestamp',
    attributes: 'json',
    extras: 'json',
    repository_metadata: 'json',
    dbcomputer_id: 'integer',
    user_id: 'integer',
  },
  aliases: { pk: 'id', computer: 'dbcomputer_id', user: 'user_id' },
  nullable: ['process_type', 'dbcomputer_id', 'attributes', 'extras'],
};

const group: TableModel = {
  table: 'db_dbgroup',
  columns: {
    id: 'integer',
    uuid: 'uuid',
    label: 'text',
    type_string: 'text',
    time: 'timestamp',
    description: 'text',
    extras: 'json',
    user_id: 'integer',
  },
  aliases: { pk: 'id', user: 'user_id' },
  nullable: [],
};

const computer: TableModel = {
  table: 'db_dbcomputer',
  columns: {
    id: 'integer',
    uuid: 'uuid',
    label: 'text',
    hostname: 'text',
    description: 'text',
    scheduler_type: 'text',
    transport_type: 'text',
    metadata: 'json',
  },
  aliases: { pk: 'id' },
  nullable: [],
};

const user: TableModel = {
  table: 'db_dbuser',
  columns: { id: 'integer', email: 'text', first_name: 'text', last_name: 'text', institution: 'text' },
  aliases: { pk: 'id' },
  nullable: [],
};

const authinfo: TableModel = {
  table: 'db_dbauthinfo',
  columns: {
    id: 'integer',
    aiidauser_id: 'integer',
    dbcomputer_id: 'integer',
    metadata: 'json',
    auth_params: 'json',
    enabled: 'boolean',
  },
  aliases: { pk: 'id', computer: 'dbcomputer_id', user: 'aiidauser_id' },
  nullable: [],
};

const comment: TableModel = {
  table: 'db_dbcomment',
  columns: {
    id: 'integer',
    uuid: 'uuid',
    dbnode_id: 'integer',
    ctime: 'timestamp',
    mtime: 'timestamp',
    user_id: 'integer',
    content: 'text',
  },
  aliases: { pk: 'id', user: 'user_id', node: 'dbnode_id' },
  nullable: [],
};

const log: TableModel = {
  table: 'db_dblog',
  columns: {
    id: 'integer',
    uuid: 'uuid',
    time: 'timestamp',
    loggername: 'text',
    levelname: 'text',
    dbnode_id: 'integer',
    message: 'text',
    metadata: 'json',
  },
  aliases: { pk: 'id', node: 'dbnode_id' },
  nullable: [],
};

const link: TableModel = {
  table: 'db_dblink',
  columns: { id: 'integer', input_id: 'integer', output_id: 'integer', label: 'text', type: 'text' },
  aliases: { pk: 'id' },
  nullable: [],
};

/** The tables behind each {@link OrmBase}. */
export const ENTITY_TABLES: Readonly<Record<OrmBase, TableModel>> = {
  node,
  group,
  computer,
  user,
  authinfo,
  comment,
  log,
  link,
};

/** The membership table an edge between a group and a node lives in. */
export const GROUP_NODES_TABLE: TableModel = {
  table: 'db_dbgroup_dbnodes',
  columns: { id: 'integer', dbnode_id: 'integer', dbgroup_id: 'integer' },
  aliases: { pk: 'id' },
  nullable: [],
};

/**
 * The rows of a recursive walk (`with_ancestors`/`with_descendants`): `depth` 0 is a direct link, `path` the
 * list of pks from the joined vertex to the appended one (computed only when projected).
 */
export const RECURSIVE_EDGE_TABLE: TableModel = {
  table: '',
  columns: { ancestor_id: 'integer', descendant_id: 'integer', depth: 'integer', path: 'idpath' },
  aliases: {},
  nullable: [],
};

/** The entity type strings aiida uses for entities other than nodes and groups (`append(entity_type=...)`). */
export const SIMPLE_ENTITY_TYPES: Readonly<Partial<Record<OrmBase, string>>> = {
  computer: 'computer',
  user: 'user',
  authinfo: 'authinfo',
  comment: 'comment',
  log: 'log',
  link: 'link',
};

/** aiida's prefix of a group's entity type string (`group.core`, `group.core.auto`). */
export const GROUP_ENTITY_TYPE_PREFIX = 'group.';

/** Resolves a field name (or alias) of `model` to its column, or `undefined`. */
export function resolveColumn(model: TableModel, field: string): string | undefined {
  const name = model.aliases[field] ?? field;
  return Object.hasOwn(model.columns, name) ? name : undefined;
}

/** The names a user may use for the columns of `model`, for error messages. */
export function describeColumns(model: TableModel): string {
  const aliasOf = new Map(Object.entries(model.aliases).map(([alias, column]) => [column, alias]));
  return Object.keys(model.columns)
    .map((column) => (aliasOf.has(column) ? `${column} (or ${aliasOf.get(column)})` : column))
    .join(', ');
}
