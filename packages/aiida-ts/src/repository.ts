/**
 * `aiida-ts/repository`: the file repository. A node's virtual folder ({@link Repository}) over a content-addressed
 * object store ({@link RepositoryBackend}): disk-objectstore's container format on disk, or memory.
 */
export type { MaintainOptions, MaintainReport, RepositoryBackend } from './repository/repository-backend.js';
export { Repository } from './repository/repository.js';
export type {
  ByteStream,
  DeleteObjectOptions,
  RepositoryOptions,
  WalkEntry,
} from './repository/repository.js';
export { File, FileType, RepositoryMetadataSchema, SerializedFileSchema } from './repository/file.js';
export type { FileOptions, RepositoryMetadata, SerializedFile } from './repository/file.js';
export { SandboxRepositoryBackend } from './repository/sandbox-backend.js';
export { DiskObjectStoreRepositoryBackend } from './repository/disk-object-store/disk-object-store-backend.js';
export type { DiskObjectStoreRepositoryBackendOptions } from './repository/disk-object-store/disk-object-store-backend.js';
export { CompressMode } from './repository/disk-object-store/pack-writer.js';
export type {
  AddObjectsToPackOptions,
  PackAllLooseOptions,
  PackSource,
} from './repository/disk-object-store/pack-writer.js';
export type {
  CleanStorageOptions,
  ObjectCount,
  TotalSize,
} from './repository/disk-object-store/container-maintenance.js';
export { ContainerConfigSchema } from './repository/disk-object-store/container-config.js';
export type { ContainerConfig } from './repository/disk-object-store/container-config.js';
export { EMPTY_OBJECT_KEY, isValidObjectKey } from './repository/object-key.js';
export { splitRepositoryPath } from './repository/repository-path.js';
export { AIIDA_FLOAT_PRECISION, HashFloat, floatToText, makeHash } from './repository/make-hash.js';
export type { Hashable } from './repository/make-hash.js';
