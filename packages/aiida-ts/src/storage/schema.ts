import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The relational schema of an aiida-ts profile: aiida-core's tables and columns, with aiida-core's names,
 * so that a database written by one can be read by the other (`db_dbnode`, `db_dblink`, …, `alembic_version`).
 *
 * Column types are the same on both dialects from the caller's point of view; the physical types differ
 * (see {@link SqlDialect}):
 * - JSON columns are `JSONB` on PostgreSQL and JSON text on SQLite. They are written as JSON text
 *   (`dialect.encodeJson(value)`) and read back as whatever the driver returns (`dialect.decodeJson(raw)`).
 * - Timestamps are `TIMESTAMP WITH TIME ZONE` on PostgreSQL and naive-UTC text `YYYY-MM-DD HH:MM:SS.ffffff` on
 *   SQLite (as aiida-core's SQLAlchemy `TZDateTime`). They are written with `dialect.encodeTimestamp(...)` and read
 *   raw; `dialect.decodeTimestamp(raw)` gives the canonical ISO string with microseconds and `+00:00`.
 * - uuids are PostgreSQL `UUID` and `VARCHAR(32)` on SQLite holding the hyphenated 36-character string (exactly
 *   what aiida-core does); both read back as the lowercase hyphenated string.
 * - booleans are `BOOLEAN` on PostgreSQL and 0/1 on SQLite: `dialect.encodeBool` / `dialect.decodeBool`.
 */

/** A JSON column that never holds SQL NULL. Select: raw driver value; insert/update: JSON text. */
export type JsonColumn = ColumnType<unknown, string, string>;
/** A JSON column that may hold SQL NULL (`db_dbnode.attributes`/`extras`, `db_dbsetting.val`). */
export type NullableJsonColumn = ColumnType<unknown, string | null | undefined, string | null>;
/** A timestamp column: raw driver value on select, `dialect.encodeTimestamp(...)` text on insert/update. */
export type TimestampColumn = ColumnType<string, string, string>;
/** A boolean column: `boolean` on PostgreSQL, `0 | 1` on SQLite. */
export type BooleanColumn = ColumnType<boolean | number, boolean | number, boolean | number>;

/** `db_dbuser`: one row per user, identified by a unique email. */
export interface DbUserTable {
  id: Generated<number>;
  email: string;
  first_name: string;
  last_name: string;
  institution: string;
}

/** `db_dbcomputer`: a machine processes run on; `metadata` holds workdir, shebang, mpirun command, … */
export interface DbComputerTable {
  id: Generated<number>;
  uuid: string;
  label: string;
  hostname: string;
  description: string;
  scheduler_type: string;
  transport_type: string;
  metadata: JsonColumn;
}

/** `db_dbauthinfo`: how one user reaches one computer (transport parameters). */
export interface DbAuthInfoTable {
  id: Generated<number>;
  aiidauser_id: number;
  dbcomputer_id: number;
  metadata: JsonColumn;
  auth_params: JsonColumn;
  enabled: BooleanColumn;
}

/** `db_dbgroup`: a named set of nodes; `(label, type_string)` is unique. */
export interface DbGroupTable {
  id: Generated<number>;
  uuid: string;
  label: string;
  type_string: string;
  time: TimestampColumn;
  description: string;
  extras: JsonColumn;
  user_id: number;
}

/** `db_dbgroup_dbnodes`: group membership; `(dbgroup_id, dbnode_id)` is unique. */
export interface DbGroupNodesTable {
  id: Generated<number>;
  dbnode_id: number;
  dbgroup_id: number;
}

/** `db_dbnode`: every node of the provenance graph. */
export interface DbNodeTable {
  id: Generated<number>;
  uuid: string;
  /** The node's type string, e.g. `data.core.int.Int.` or `process.workflow.workchain.WorkChainNode.`. */
  node_type: string;
  /** For process nodes, the entry point string of the process class (e.g. `aiida.calculations:core.arithmetic.add`). */
  process_type: string | null;
  label: string;
  description: string;
  ctime: TimestampColumn;
  mtime: TimestampColumn;
  attributes: NullableJsonColumn;
  extras: NullableJsonColumn;
  /** The serialised virtual file hierarchy `{"o": {name: {"k": key} | {"o": {...}}}}`; `{}` when empty. */
  repository_metadata: JsonColumn;
  dbcomputer_id: number | null;
  user_id: number;
}

/** `db_dblink`: a provenance link `input_id --type/label--> output_id`. */
export interface DbLinkTable {
  id: Generated<number>;
  input_id: number;
  output_id: number;
  label: string;
  /** One of `create`, `return`, `input_calc`, `input_work`, `call_calc`, `call_work`. */
  type: string;
}

/** `db_dbcomment`: a user's comment on a node. */
export interface DbCommentTable {
  id: Generated<number>;
  uuid: string;
  dbnode_id: number;
  ctime: TimestampColumn;
  mtime: TimestampColumn;
  user_id: number;
  content: string;
}

/** `db_dblog`: a log record attached to a node (the process report). */
export interface DbLogTable {
  id: Generated<number>;
  uuid: string;
  time: TimestampColumn;
  loggername: string;
  levelname: string;
  dbnode_id: number;
  message: string;
  metadata: JsonColumn;
}

/** `db_dbsetting`: profile-wide key/value settings (`repository|uuid`, process state-change timestamps, …). */
export interface DbSettingTable {
  id: Generated<number>;
  key: string;
  val: NullableJsonColumn;
  description: string;
  time: TimestampColumn;
}

/** `alembic_version`: the schema version stamp, one row, as aiida-core's alembic keeps it. */
export interface AlembicVersionTable {
  version_num: string;
}

/** Every table of a profile's database, for `Kysely<Database>`. */
export interface Database {
  db_dbuser: DbUserTable;
  db_dbcomputer: DbComputerTable;
  db_dbauthinfo: DbAuthInfoTable;
  db_dbgroup: DbGroupTable;
  db_dbgroup_dbnodes: DbGroupNodesTable;
  db_dbnode: DbNodeTable;
  db_dblink: DbLinkTable;
  db_dbcomment: DbCommentTable;
  db_dblog: DbLogTable;
  db_dbsetting: DbSettingTable;
  alembic_version: AlembicVersionTable;
}

/** The name of every table of {@link Database}. */
export type TableName = keyof Database;

/** The entity tables, in an order where each table only references tables before it (for inserts). */
export const ENTITY_TABLES = [
  'db_dbuser',
  'db_dbcomputer',
  'db_dbauthinfo',
  'db_dbnode',
  'db_dbgroup',
  'db_dbgroup_dbnodes',
  'db_dblink',
  'db_dbcomment',
  'db_dblog',
  'db_dbsetting',
] as const satisfies readonly TableName[];

export type DbNodeRow = Selectable<DbNodeTable>;
export type NewDbNode = Insertable<DbNodeTable>;

/**
 * The columns a new `db_dbnode` row is written with (all but the generated `id`), in aiida-core's column order:
 * the one list the bulk inserts, the archive format and the benchmarks' raw rows all use.
 */
export const DB_DBNODE_INSERT_COLUMNS = [
  'uuid',
  'node_type',
  'process_type',
  'label',
  'description',
  'ctime',
  'mtime',
  'attributes',
  'extras',
  'repository_metadata',
  'dbcomputer_id',
  'user_id',
] as const satisfies readonly (keyof DbNodeTable)[];

/** Every column of `db_dbnode`, in aiida-core's column order. */
export const DB_DBNODE_COLUMNS = ['id', ...DB_DBNODE_INSERT_COLUMNS] as const;

// a column added to DbNodeTable and not to the lists above fails to compile here
const everyNodeColumn: Exclude<keyof DbNodeTable, (typeof DB_DBNODE_COLUMNS)[number]> extends never
  ? true
  : never = true;
void everyNodeColumn;
export type DbNodeUpdate = Updateable<DbNodeTable>;
export type DbLinkRow = Selectable<DbLinkTable>;
export type NewDbLink = Insertable<DbLinkTable>;
export type DbUserRow = Selectable<DbUserTable>;
export type NewDbUser = Insertable<DbUserTable>;
export type DbComputerRow = Selectable<DbComputerTable>;
export type NewDbComputer = Insertable<DbComputerTable>;
export type DbAuthInfoRow = Selectable<DbAuthInfoTable>;
export type NewDbAuthInfo = Insertable<DbAuthInfoTable>;
export type DbGroupRow = Selectable<DbGroupTable>;
export type NewDbGroup = Insertable<DbGroupTable>;
export type DbCommentRow = Selectable<DbCommentTable>;
export type NewDbComment = Insertable<DbCommentTable>;
export type DbLogRow = Selectable<DbLogTable>;
export type NewDbLog = Insertable<DbLogTable>;
export type DbSettingRow = Selectable<DbSettingTable>;

/** The settings key that ties the database to its repository container (aiida-core's `REPOSITORY_UUID_KEY`). */
export const REPOSITORY_UUID_KEY = 'repository|uuid';
