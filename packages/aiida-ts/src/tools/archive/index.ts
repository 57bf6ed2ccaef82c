/** Archives in aiida-core's `core.sqlite_zip` format: create, import, inspect and migrate. */
export { ArchiveReader, readArchiveVersion, type ArchiveReaderOptions } from './archive-reader.js';
export { ARCHIVE_SCHEMA_STATEMENTS, createArchiveSchema } from './archive-schema.js';
export {
  createArchive,
  DEFAULT_BATCH_SIZE,
  type ArchiveEntityCounts,
  type CreateArchiveOptions,
  type CreateArchiveResult,
  type ExportEntities,
  type LicenceRule,
} from './create.js';
export { discoverArchiveLinks, downloadArchive, isArchiveUrl } from './download.js';
export {
  ARCHIVE_VERSION_HEAD,
  ArchiveMetadataSchema,
  listArchiveVersions,
  validateArchiveVersions,
  type ArchiveMetadata,
} from './format.js';
export {
  EXTRAS_MODE_EXISTING,
  importArchive,
  MergeCommentsSchema,
  MergeExtrasSchema,
  type ExtrasModeExisting,
  type ImportArchiveOptions,
  type ImportArchiveResult,
  type ImportCounts,
  type MergeComments,
  type MergeExtras,
} from './import.js';
export { getArchiveInfo, type ArchiveInfo } from './info.js';
export { migrateArchive, type MigrateArchiveOptions } from './migrate.js';
export type { ArchiveListener, ArchiveProgress } from './progress.js';
export { SafeZipReader, unsafeEntryReason, type ZipEntryInfo } from './zip-reader.js';
