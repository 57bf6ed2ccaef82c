import type BetterSqlite3 from 'better-sqlite3';
import { DB_DBNODE_COLUMNS } from '../../storage/schema.js';

/**
 * The database schema of an archive (`db.sqlite3` of the `core.sqlite_zip` format, version `main_0001`), as
 * aiida-core's `aiida.storage.sqlite_zip.models` creates it: the same tables as a profile (without
 * `alembic_version`), JSON columns as `JSON`, uuids as `VARCHAR(32)` holding the hyphenated string, timestamps as
 * naive-UTC `DATETIME` text, every foreign key `DEFERRABLE INITIALLY DEFERRED`. The statements are kept word for
 * word (SQLite stores them in `sqlite_master`, and the round-trip tests compare them with aiida-core's archives).
 */

/** `CREATE TABLE name (\n\tcolumn, \n\tcolumn\n)`, the layout SQLAlchemy emits. */
function table(name: string, items: readonly string[]): string {
  return `CREATE TABLE ${name} (\n\t${items.join(', \n\t')}\n)`;
}

/** Every statement of the schema, in aiida-core's order (tables, each followed by its indexes). */
export const ARCHIVE_SCHEMA_STATEMENTS: readonly string[] = [
  table('db_dbcomputer', [
    'id INTEGER NOT NULL',
    'uuid VARCHAR(32) NOT NULL',
    'label VARCHAR(255) NOT NULL',
    'hostname VARCHAR(255) NOT NULL',
    'description TEXT NOT NULL',
    'scheduler_type VARCHAR(255) NOT NULL',
    'transport_type VARCHAR(255) NOT NULL',
    'metadata JSON NOT NULL',
    'CONSTRAINT db_dbcomputer_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbcomputer_uuid UNIQUE (uuid)',
    'CONSTRAINT uq_db_dbcomputer_label UNIQUE (label)',
  ]),
  table('db_dbsetting', [
    'id INTEGER NOT NULL',
    '"key" VARCHAR(1024) NOT NULL',
    'val JSON',
    'description TEXT NOT NULL',
    'time DATETIME NOT NULL',
    'CONSTRAINT db_dbsetting_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbsetting_key UNIQUE ("key")',
  ]),
  table('db_dbuser', [
    'id INTEGER NOT NULL',
    'email VARCHAR(254) NOT NULL',
    'first_name VARCHAR(254) NOT NULL',
    'last_name VARCHAR(254) NOT NULL',
    'institution VARCHAR(254) NOT NULL',
    'CONSTRAINT db_dbuser_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbuser_email UNIQUE (email)',
  ]),
  table('db_dbauthinfo', [
    'id INTEGER NOT NULL',
    'aiidauser_id INTEGER NOT NULL',
    'dbcomputer_id INTEGER NOT NULL',
    'metadata JSON NOT NULL',
    'auth_params JSON NOT NULL',
    'enabled BOOLEAN NOT NULL',
    'CONSTRAINT db_dbauthinfo_pkey PRIMARY KEY (id)',
    'CONSTRAINT fk_db_dbauthinfo_aiidauser_id_db_dbuser FOREIGN KEY(aiidauser_id) REFERENCES db_dbuser (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
    'CONSTRAINT uq_db_dbauthinfo_aiidauser_id_dbcomputer_id UNIQUE (aiidauser_id, dbcomputer_id)',
    'CONSTRAINT fk_db_dbauthinfo_dbcomputer_id_db_dbcomputer FOREIGN KEY(dbcomputer_id) REFERENCES db_dbcomputer (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dbauthinfo_db_dbauthinfo_dbcomputer_id ON db_dbauthinfo (dbcomputer_id)',
  'CREATE INDEX ix_db_dbauthinfo_db_dbauthinfo_aiidauser_id ON db_dbauthinfo (aiidauser_id)',
  table('db_dbgroup', [
    'id INTEGER NOT NULL',
    'uuid VARCHAR(32) NOT NULL',
    'label VARCHAR(255) NOT NULL',
    'type_string VARCHAR(255) NOT NULL',
    'time DATETIME NOT NULL',
    'description TEXT NOT NULL',
    'extras JSON NOT NULL',
    'user_id INTEGER NOT NULL',
    'CONSTRAINT db_dbgroup_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbgroup_uuid UNIQUE (uuid)',
    'CONSTRAINT uq_db_dbgroup_label_type_string UNIQUE (label, type_string)',
    'CONSTRAINT fk_db_dbgroup_user_id_db_dbuser FOREIGN KEY(user_id) REFERENCES db_dbuser (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dbgroup_db_dbgroup_user_id ON db_dbgroup (user_id)',
  'CREATE INDEX ix_db_dbgroup_db_dbgroup_type_string ON db_dbgroup (type_string)',
  'CREATE INDEX ix_db_dbgroup_db_dbgroup_label ON db_dbgroup (label)',
  table('db_dbnode', [
    'id INTEGER NOT NULL',
    'uuid VARCHAR(32) NOT NULL',
    'node_type VARCHAR(255) NOT NULL',
    'process_type VARCHAR(255)',
    'label VARCHAR(255) NOT NULL',
    'description TEXT NOT NULL',
    'ctime DATETIME NOT NULL',
    'mtime DATETIME NOT NULL',
    'attributes JSON',
    'extras JSON',
    'repository_metadata JSON NOT NULL',
    'dbcomputer_id INTEGER',
    'user_id INTEGER NOT NULL',
    'CONSTRAINT db_dbnode_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbnode_uuid UNIQUE (uuid)',
    'CONSTRAINT fk_db_dbnode_user_id_db_dbuser FOREIGN KEY(user_id) REFERENCES db_dbuser (id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED',
    'CONSTRAINT fk_db_dbnode_dbcomputer_id_db_dbcomputer FOREIGN KEY(dbcomputer_id) REFERENCES db_dbcomputer (id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dbnode_db_dbnode_process_type ON db_dbnode (process_type)',
  'CREATE INDEX ix_db_dbnode_db_dbnode_dbcomputer_id ON db_dbnode (dbcomputer_id)',
  'CREATE INDEX ix_db_dbnode_db_dbnode_ctime ON db_dbnode (ctime)',
  'CREATE INDEX ix_db_dbnode_db_dbnode_user_id ON db_dbnode (user_id)',
  'CREATE INDEX ix_db_dbnode_db_dbnode_node_type ON db_dbnode (node_type)',
  'CREATE INDEX ix_db_dbnode_db_dbnode_mtime ON db_dbnode (mtime)',
  'CREATE INDEX ix_db_dbnode_db_dbnode_label ON db_dbnode (label)',
  table('db_dbcomment', [
    'id INTEGER NOT NULL',
    'uuid VARCHAR(32) NOT NULL',
    'dbnode_id INTEGER NOT NULL',
    'ctime DATETIME NOT NULL',
    'mtime DATETIME NOT NULL',
    'user_id INTEGER NOT NULL',
    'content TEXT NOT NULL',
    'CONSTRAINT db_dbcomment_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbcomment_uuid UNIQUE (uuid)',
    'CONSTRAINT fk_db_dbcomment_user_id_db_dbuser FOREIGN KEY(user_id) REFERENCES db_dbuser (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
    'CONSTRAINT fk_db_dbcomment_dbnode_id_db_dbnode FOREIGN KEY(dbnode_id) REFERENCES db_dbnode (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dbcomment_db_dbcomment_user_id ON db_dbcomment (user_id)',
  'CREATE INDEX ix_db_dbcomment_db_dbcomment_dbnode_id ON db_dbcomment (dbnode_id)',
  table('db_dbgroup_dbnodes', [
    'id INTEGER NOT NULL',
    'dbnode_id INTEGER NOT NULL',
    'dbgroup_id INTEGER NOT NULL',
    'CONSTRAINT db_dbgroup_dbnodes_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dbgroup_dbnodes_dbgroup_id_dbnode_id UNIQUE (dbgroup_id, dbnode_id)',
    'CONSTRAINT fk_db_dbgroup_dbnodes_dbnode_id_db_dbnode FOREIGN KEY(dbnode_id) REFERENCES db_dbnode (id) DEFERRABLE INITIALLY DEFERRED',
    'CONSTRAINT fk_db_dbgroup_dbnodes_dbgroup_id_db_dbgroup FOREIGN KEY(dbgroup_id) REFERENCES db_dbgroup (id) DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbnode_id ON db_dbgroup_dbnodes (dbnode_id)',
  'CREATE INDEX ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbgroup_id ON db_dbgroup_dbnodes (dbgroup_id)',
  table('db_dblink', [
    'id INTEGER NOT NULL',
    'input_id INTEGER NOT NULL',
    'output_id INTEGER NOT NULL',
    'label VARCHAR(255) NOT NULL',
    'type VARCHAR(255) NOT NULL',
    'CONSTRAINT db_dblink_pkey PRIMARY KEY (id)',
    'CONSTRAINT fk_db_dblink_input_id_db_dbnode FOREIGN KEY(input_id) REFERENCES db_dbnode (id) DEFERRABLE INITIALLY DEFERRED',
    'CONSTRAINT fk_db_dblink_output_id_db_dbnode FOREIGN KEY(output_id) REFERENCES db_dbnode (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dblink_db_dblink_output_id ON db_dblink (output_id)',
  'CREATE INDEX ix_db_dblink_db_dblink_input_id ON db_dblink (input_id)',
  'CREATE INDEX ix_db_dblink_db_dblink_type ON db_dblink (type)',
  'CREATE INDEX ix_db_dblink_db_dblink_label ON db_dblink (label)',
  table('db_dblog', [
    'id INTEGER NOT NULL',
    'uuid VARCHAR(32) NOT NULL',
    'time DATETIME NOT NULL',
    'loggername VARCHAR(255) NOT NULL',
    'levelname VARCHAR(50) NOT NULL',
    'dbnode_id INTEGER NOT NULL',
    'message TEXT NOT NULL',
    'metadata JSON NOT NULL',
    'CONSTRAINT db_dblog_pkey PRIMARY KEY (id)',
    'CONSTRAINT uq_db_dblog_uuid UNIQUE (uuid)',
    'CONSTRAINT fk_db_dblog_dbnode_id_db_dbnode FOREIGN KEY(dbnode_id) REFERENCES db_dbnode (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
  ]),
  'CREATE INDEX ix_db_dblog_db_dblog_dbnode_id ON db_dblog (dbnode_id)',
  'CREATE INDEX ix_db_dblog_db_dblog_levelname ON db_dblog (levelname)',
  'CREATE INDEX ix_db_dblog_db_dblog_loggername ON db_dblog (loggername)',
];

/** The tables of an archive database, in an order where each table only references tables before it. */
export const ARCHIVE_TABLES = [
  'db_dbuser',
  'db_dbcomputer',
  'db_dbauthinfo',
  'db_dbgroup',
  'db_dbnode',
  'db_dbcomment',
  'db_dblog',
  'db_dbgroup_dbnodes',
  'db_dblink',
] as const;
export type ArchiveTable = (typeof ARCHIVE_TABLES)[number];

/** The columns of each archive table, in schema order (what export writes and import reads). */
export const ARCHIVE_COLUMNS: { readonly [T in ArchiveTable]: readonly string[] } = {
  db_dbuser: ['id', 'email', 'first_name', 'last_name', 'institution'],
  db_dbcomputer: [
    'id',
    'uuid',
    'label',
    'hostname',
    'description',
    'scheduler_type',
    'transport_type',
    'metadata',
  ],
  db_dbauthinfo: ['id', 'aiidauser_id', 'dbcomputer_id', 'metadata', 'auth_params', 'enabled'],
  db_dbgroup: ['id', 'uuid', 'label', 'type_string', 'time', 'description', 'extras', 'user_id'],
  db_dbnode: DB_DBNODE_COLUMNS,
  db_dbcomment: ['id', 'uuid', 'dbnode_id', 'ctime', 'mtime', 'user_id', 'content'],
  db_dblog: ['id', 'uuid', 'time', 'loggername', 'levelname', 'dbnode_id', 'message', 'metadata'],
  db_dbgroup_dbnodes: ['id', 'dbnode_id', 'dbgroup_id'],
  db_dblink: ['id', 'input_id', 'output_id', 'label', 'type'],
};

/** The JSON columns of each table: copied as text, so numbers keep their exact spelling (`2.0` stays `2.0`). */
export const ARCHIVE_JSON_COLUMNS: { readonly [T in ArchiveTable]?: readonly string[] } = {
  db_dbcomputer: ['metadata'],
  db_dbauthinfo: ['metadata', 'auth_params'],
  db_dbgroup: ['extras'],
  db_dbnode: ['attributes', 'extras', 'repository_metadata'],
  db_dblog: ['metadata'],
};

/** The timestamp columns of each table (naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff` in the archive). */
export const ARCHIVE_TIMESTAMP_COLUMNS: { readonly [T in ArchiveTable]?: readonly string[] } = {
  db_dbgroup: ['time'],
  db_dbnode: ['ctime', 'mtime'],
  db_dbcomment: ['ctime', 'mtime'],
  db_dblog: ['time'],
};

/** Creates the schema in an empty database (a new archive, or the target of a migration). */
export function createArchiveSchema(db: BetterSqlite3.Database): void {
  db.transaction(() => {
    for (const statement of ARCHIVE_SCHEMA_STATEMENTS) db.exec(statement);
  })();
}
