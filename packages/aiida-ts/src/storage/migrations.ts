import { sql, type Kysely } from 'kysely';
import { IncompatibleStorageSchemaError, StorageMigrationError } from '../errors.js';
import { DialectName, type SqlDialect } from './dialect.js';
import type { Database } from './schema.js';

/**
 * Versioned schema migrations, named as aiida-core's alembic revisions of the `main` branch so a profile's
 * `alembic_version` stamp means the same in both implementations.
 */

type ColumnKind =
  'pk' | 'uuid' | 'text' | 'timestamp' | 'json' | 'int' | 'bool' | { readonly varchar: number };

interface ColumnSpec {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable?: boolean;
  readonly unique?: boolean;
  readonly index?: boolean;
  /** PostgreSQL only: an extra `varchar_pattern_ops` index for `LIKE 'prefix%'`. */
  readonly patternIndex?: boolean;
}

interface ForeignKeySpec {
  readonly column: string;
  readonly table: string;
  readonly onDelete?: 'CASCADE' | 'RESTRICT';
}

interface TableSpec {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  readonly foreignKeys?: readonly ForeignKeySpec[];
  readonly uniques?: readonly (readonly string[])[];
}

const vc = (n: number): ColumnKind => ({ varchar: n });

/** The tables of schema `main_0001` (aiida-core's initial `main` schema), in creation order. */
const TABLES: readonly TableSpec[] = [
  {
    name: 'db_dbcomputer',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'uuid', kind: 'uuid', unique: true },
      { name: 'label', kind: vc(255), unique: true },
      { name: 'hostname', kind: vc(255) },
      { name: 'description', kind: 'text' },
      { name: 'scheduler_type', kind: vc(255) },
      { name: 'transport_type', kind: vc(255) },
      { name: 'metadata', kind: 'json' },
    ],
  },
  {
    name: 'db_dbuser',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'email', kind: vc(254), unique: true },
      { name: 'first_name', kind: vc(254) },
      { name: 'last_name', kind: vc(254) },
      { name: 'institution', kind: vc(254) },
    ],
  },
  {
    name: 'db_dbauthinfo',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'aiidauser_id', kind: 'int', index: true },
      { name: 'dbcomputer_id', kind: 'int', index: true },
      { name: 'metadata', kind: 'json' },
      { name: 'auth_params', kind: 'json' },
      { name: 'enabled', kind: 'bool' },
    ],
    foreignKeys: [
      { column: 'aiidauser_id', table: 'db_dbuser', onDelete: 'CASCADE' },
      { column: 'dbcomputer_id', table: 'db_dbcomputer', onDelete: 'CASCADE' },
    ],
    uniques: [['aiidauser_id', 'dbcomputer_id']],
  },
  {
    name: 'db_dbgroup',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'uuid', kind: 'uuid', unique: true },
      { name: 'label', kind: vc(255), index: true, patternIndex: true },
      { name: 'type_string', kind: vc(255), index: true, patternIndex: true },
      { name: 'time', kind: 'timestamp' },
      { name: 'description', kind: 'text' },
      { name: 'extras', kind: 'json' },
      { name: 'user_id', kind: 'int', index: true },
    ],
    foreignKeys: [{ column: 'user_id', table: 'db_dbuser', onDelete: 'CASCADE' }],
    uniques: [['label', 'type_string']],
  },
  {
    name: 'db_dbnode',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'uuid', kind: 'uuid', unique: true },
      { name: 'node_type', kind: vc(255), index: true, patternIndex: true },
      { name: 'process_type', kind: vc(255), nullable: true, index: true, patternIndex: true },
      { name: 'label', kind: vc(255), index: true, patternIndex: true },
      { name: 'description', kind: 'text' },
      { name: 'ctime', kind: 'timestamp', index: true },
      { name: 'mtime', kind: 'timestamp', index: true },
      { name: 'attributes', kind: 'json', nullable: true },
      { name: 'extras', kind: 'json', nullable: true },
      { name: 'repository_metadata', kind: 'json' },
      { name: 'dbcomputer_id', kind: 'int', nullable: true, index: true },
      { name: 'user_id', kind: 'int', index: true },
    ],
    foreignKeys: [
      { column: 'dbcomputer_id', table: 'db_dbcomputer', onDelete: 'RESTRICT' },
      { column: 'user_id', table: 'db_dbuser', onDelete: 'RESTRICT' },
    ],
  },
  {
    name: 'db_dbcomment',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'uuid', kind: 'uuid', unique: true },
      { name: 'dbnode_id', kind: 'int', index: true },
      { name: 'ctime', kind: 'timestamp' },
      { name: 'mtime', kind: 'timestamp' },
      { name: 'user_id', kind: 'int', index: true },
      { name: 'content', kind: 'text' },
    ],
    foreignKeys: [
      { column: 'dbnode_id', table: 'db_dbnode', onDelete: 'CASCADE' },
      { column: 'user_id', table: 'db_dbuser', onDelete: 'CASCADE' },
    ],
  },
  {
    name: 'db_dbgroup_dbnodes',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'dbnode_id', kind: 'int', index: true },
      { name: 'dbgroup_id', kind: 'int', index: true },
    ],
    foreignKeys: [
      { column: 'dbgroup_id', table: 'db_dbgroup' },
      { column: 'dbnode_id', table: 'db_dbnode' },
    ],
    uniques: [['dbgroup_id', 'dbnode_id']],
  },
  {
    name: 'db_dblink',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'input_id', kind: 'int', index: true },
      { name: 'output_id', kind: 'int', index: true },
      { name: 'label', kind: vc(255), index: true, patternIndex: true },
      { name: 'type', kind: vc(255), index: true, patternIndex: true },
    ],
    foreignKeys: [
      { column: 'input_id', table: 'db_dbnode' },
      { column: 'output_id', table: 'db_dbnode', onDelete: 'CASCADE' },
    ],
  },
  {
    name: 'db_dblog',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'uuid', kind: 'uuid', unique: true },
      { name: 'time', kind: 'timestamp' },
      { name: 'loggername', kind: vc(255), index: true },
      { name: 'levelname', kind: vc(50), index: true },
      { name: 'dbnode_id', kind: 'int', index: true },
      { name: 'message', kind: 'text' },
      { name: 'metadata', kind: 'json' },
    ],
    foreignKeys: [{ column: 'dbnode_id', table: 'db_dbnode', onDelete: 'CASCADE' }],
  },
  {
    name: 'db_dbsetting',
    columns: [
      { name: 'id', kind: 'pk' },
      { name: 'key', kind: vc(1024), unique: true, patternIndex: true },
      { name: 'val', kind: 'json', nullable: true },
      { name: 'description', kind: 'text' },
      { name: 'time', kind: 'timestamp' },
    ],
  },
];

function columnType(kind: ColumnKind, dialect: DialectName): string {
  if (typeof kind === 'object') return `VARCHAR(${kind.varchar})`;
  const pg = dialect === DialectName.POSTGRES;
  switch (kind) {
    case 'pk':
      return pg ? 'SERIAL' : 'INTEGER';
    case 'uuid':
      return pg ? 'UUID' : 'VARCHAR(32)';
    case 'text':
      return 'TEXT';
    case 'timestamp':
      return pg ? 'TIMESTAMP WITH TIME ZONE' : 'DATETIME';
    case 'json':
      return pg ? 'JSONB' : 'JSON';
    case 'int':
      return 'INTEGER';
    case 'bool':
      return 'BOOLEAN';
  }
}

const q = (name: string): string => `"${name}"`;

/** The DDL statements creating `table` in `dialect`, named as aiida-core's naming convention does. */
function tableDdl(table: TableSpec, dialect: DialectName): string[] {
  const lines: string[] = [];
  for (const column of table.columns) {
    lines.push(
      `${q(column.name)} ${columnType(column.kind, dialect)}${column.nullable === true ? '' : ' NOT NULL'}`,
    );
  }
  lines.push(`CONSTRAINT ${q(`${table.name}_pkey`)} PRIMARY KEY (${q('id')})`);
  for (const column of table.columns) {
    if (column.unique === true) {
      lines.push(`CONSTRAINT ${q(`uq_${table.name}_${column.name}`)} UNIQUE (${q(column.name)})`);
    }
  }
  for (const columns of table.uniques ?? []) {
    lines.push(
      `CONSTRAINT ${q(`uq_${table.name}_${columns.join('_')}`)} UNIQUE (${columns.map(q).join(', ')})`,
    );
  }
  for (const fk of table.foreignKeys ?? []) {
    const onDelete = fk.onDelete === undefined ? '' : ` ON DELETE ${fk.onDelete}`;
    lines.push(
      `CONSTRAINT ${q(`fk_${table.name}_${fk.column}_${fk.table}`)} FOREIGN KEY (${q(fk.column)}) ` +
        `REFERENCES ${q(fk.table)} (${q('id')})${onDelete} DEFERRABLE INITIALLY DEFERRED`,
    );
  }
  const statements = [`CREATE TABLE ${q(table.name)} (\n\t${lines.join(',\n\t')}\n)`];
  for (const column of table.columns) {
    if (column.index === true) {
      statements.push(
        `CREATE INDEX ${q(`ix_${table.name}_${table.name}_${column.name}`)} ON ${q(table.name)} (${q(column.name)})`,
      );
    }
    if (column.patternIndex === true && dialect === DialectName.POSTGRES) {
      statements.push(
        `CREATE INDEX ${q(`ix_pat_${table.name}_${column.name}`)} ON ${q(table.name)} ` +
          `USING btree (${q(column.name)} varchar_pattern_ops)`,
      );
    }
  }
  return statements;
}

/** One step of the schema history. */
export interface SchemaMigration {
  /** aiida-core's alembic revision id on the `main` branch. */
  readonly version: string;
  readonly description: string;
  readonly up: (db: Kysely<Database>, dialect: SqlDialect) => Promise<void>;
}

async function runStatements(db: Kysely<Database>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

/** Every migration, oldest first. */
export const SCHEMA_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 'main_0001',
    description: 'Initial main branch schema',
    up: async (db, dialect) =>
      runStatements(
        db,
        TABLES.flatMap((table) => tableDdl(table, dialect.name)),
      ),
  },
  {
    version: 'main_0002',
    description: 'Drop the `_aiida_hash` extra of CalcJobNodes so their hashes are recomputed',
    up: async (db, dialect) => {
      const pattern = 'process.calculation.calcjob.%';
      if (dialect.name === DialectName.POSTGRES) {
        await sql`UPDATE db_dbnode SET extras = extras - '_aiida_hash' WHERE node_type LIKE ${pattern} AND extras ? '_aiida_hash'`.execute(
          db,
        );
      } else {
        await sql`UPDATE db_dbnode SET extras = json_remove(extras, '$."_aiida_hash"') WHERE node_type LIKE ${pattern} AND json_type(extras, '$."_aiida_hash"') IS NOT NULL`.execute(
          db,
        );
      }
    },
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION_HEAD: string = SCHEMA_MIGRATIONS[SCHEMA_MIGRATIONS.length - 1]!.version;

/** The template of aiida-core's message for an outdated schema, with our command. */
export function incompatibleSchemaError(
  database: string | null,
  profileName: string,
): IncompatibleStorageSchemaError {
  return new IncompatibleStorageSchemaError(
    `Database schema version \`${String(database)}\` is incompatible with the required schema version ` +
      `\`${SCHEMA_VERSION_HEAD}\`.\nTo migrate the database schema version to the current one, run the following ` +
      `command:\n\n    verdi -p ${profileName} storage migrate\n`,
  );
}

/** Reads the `alembic_version` stamp, or null when the table is missing or empty. */
export async function readSchemaVersion(db: Kysely<Database>, dialect: SqlDialect): Promise<string | null> {
  const exists =
    dialect.name === DialectName.POSTGRES
      ? await sql<{
          n: number;
        }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'alembic_version'`.execute(
          db,
        )
      : await sql<{
          n: number;
        }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'`.execute(
          db,
        );
  if ((exists.rows[0]?.n ?? 0) === 0) return null;
  const row = await db.selectFrom('alembic_version').select('version_num').executeTakeFirst();
  return row?.version_num ?? null;
}

async function stamp(db: Kysely<Database>, version: string): Promise<void> {
  await db.deleteFrom('alembic_version').execute();
  await db.insertInto('alembic_version').values({ version_num: version }).execute();
}

/**
 * Creates the schema of a fresh database in one go (not step by step, as aiida-core does) at `version`, and
 * stamps it. Run inside a transaction.
 */
export async function createSchema(
  db: Kysely<Database>,
  dialect: SqlDialect,
  version = SCHEMA_VERSION_HEAD,
): Promise<void> {
  const index = SCHEMA_MIGRATIONS.findIndex((m) => m.version === version);
  if (index < 0) throw new StorageMigrationError(`Unknown schema version '${version}'`);
  await sql
    .raw(
      `CREATE TABLE "alembic_version" ("version_num" VARCHAR(32) NOT NULL, CONSTRAINT "alembic_version_pkc" PRIMARY KEY ("version_num"))`,
    )
    .execute(db);
  // main_0001 creates the tables; later steps are data migrations with nothing to do on an empty database
  await SCHEMA_MIGRATIONS[0]!.up(db, dialect);
  await stamp(db, version);
}

/**
 * Applies every migration after the database's stamp, each with its stamp update, in the given transaction.
 * Rejects with `StorageMigrationError` when the database is not initialised or is newer than the code.
 */
export async function migrateSchema(
  db: Kysely<Database>,
  dialect: SqlDialect,
): Promise<{ readonly from: string | null; readonly applied: string[] }> {
  const current = await readSchemaVersion(db, dialect);
  if (current === null) throw new StorageMigrationError('storage is uninitialised, cannot migrate.');
  const index = SCHEMA_MIGRATIONS.findIndex((m) => m.version === current);
  if (index < 0) {
    throw new StorageMigrationError(
      `The database schema version \`${current}\` is unknown to this code (head \`${SCHEMA_VERSION_HEAD}\`): ` +
        'it was written by a newer version.',
    );
  }
  const applied: string[] = [];
  for (const migration of SCHEMA_MIGRATIONS.slice(index + 1)) {
    await migration.up(db, dialect);
    await stamp(db, migration.version);
    applied.push(migration.version);
  }
  return { from: current, applied };
}

/** The dialect-aware DDL of the head schema, for documentation and tests. */
export function schemaDdl(dialect: DialectName): string[] {
  return TABLES.flatMap((table) => tableDdl(table, dialect));
}
