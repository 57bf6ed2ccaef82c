/**
 * `aiida-ts/storage`: profile storage backends (`core.sqlite_dos`, `core.psql_dos`, `core.sqlite_temp`), the
 * relational schema, the SQL dialect helpers and the current-storage context the ORM uses.
 */
export {
  StorageEntryPoint,
  type BatchLink,
  type InitialiseOptions,
  type MigrationReport,
  type OpenOptions,
  type StorageBackend,
  type StorageInfo,
  type StoragePlugin,
  type TransactionOptions,
} from './storage/backend.js';
export {
  canonicalTimestamp,
  DialectName,
  getDialect,
  parseTimestamp,
  postgresDialect,
  sqliteDialect,
  sqliteJsonPath,
  type JsonPath,
  type JsonTypeName,
  type SqlDialect,
} from './storage/dialect.js';
export * from './storage/schema.js';
export {
  SCHEMA_MIGRATIONS,
  SCHEMA_VERSION_HEAD,
  createSchema,
  migrateSchema,
  readSchemaVersion,
  schemaDdl,
  type SchemaMigration,
} from './storage/migrations.js';
export {
  AIIDA_TS_MIGRATIONS,
  AIIDA_TS_SCHEMA_HEAD,
  aiidaTsColumnTypes,
  type AiidaTsColumnTypes,
  type AiidaTsMigration,
} from './storage/aiida-ts-schema/migrations.js';
export {
  aiidaTsSchemaStatus,
  aiidaTsTablesReadable,
  ensureAiidaTsSchema,
  readAiidaTsSchemaVersion,
  type AiidaTsSchemaStatus,
} from './storage/aiida-ts-schema/schema-state.js';
export * from './storage/aiida-ts-schema/schema.js';
export {
  addComputerToQuota,
  computerPool,
  createQuota,
  deleteQuota,
  getPoolLimit,
  getQuota,
  JobLimitSchema,
  listPools,
  parseJobLimit,
  parsePool,
  poolsForComputer,
  QuotaNameSchema,
  quotaPool,
  quotasOfComputer,
  removeComputerFromQuota,
  setPoolLimit,
  type CreateQuotaOptions,
  type PoolConfig,
  type PoolRef,
} from './storage/aiida-ts-schema/job-limits.js';
export {
  getDefaultStorage,
  getStorage,
  setDefaultStorage,
  withStorage,
  type StorageOption,
} from './storage/context.js';
export {
  getStoragePlugin,
  listStoragePlugins,
  openStorage,
  registerStoragePlugin,
} from './storage/factory.js';
export {
  getContainerRepositoryFactory,
  setContainerRepositoryFactory,
  type ContainerRepositoryFactory,
} from './storage/container-repository.js';
export { MemoryRepositoryBackend } from './storage/memory-repository.js';
export { SqlStorageBackend } from './storage/sql-backend.js';
export {
  openSqliteDatabase,
  optimizeSqliteDatabase,
  SQLITE_ANALYSIS_LIMIT,
  SQLITE_OPTIMIZE_AFTER_ROWS,
  SqliteStorageBackend,
  type OptimizeSqliteOptions,
  type SqliteConnectionOptions,
} from './storage/sqlite/sqlite-backend.js';
export { jsonContains, jsonEquals, registerSqliteFunctions } from './storage/sqlite/functions.js';
export {
  SQLITE_DOS_CONTAINER_FOLDER,
  SQLITE_DOS_DATABASE_FILENAME,
  SqliteDosConfigSchema,
  SqliteDosStorage,
  type SqliteDosConfig,
  type SqliteDosStorageOptions,
} from './storage/sqlite/sqlite-dos.js';
export {
  SqliteTempConfigSchema,
  SqliteTempStorage,
  type SqliteTempConfig,
} from './storage/sqlite/sqlite-temp.js';
export {
  createPostgresPool,
  PostgresStorageBackend,
  type PostgresConnectionOptions,
} from './storage/postgres/postgres-backend.js';
export {
  createPostgresDatabase,
  dropPostgresDatabase,
  psqlDosContainerFolder,
  PsqlDosConfigSchema,
  PsqlDosStorage,
  type PsqlDosConfig,
  type PsqlDosStorageOptions,
} from './storage/postgres/psql-dos.js';
