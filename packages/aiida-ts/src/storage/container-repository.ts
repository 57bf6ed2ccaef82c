import { DiskObjectStoreRepositoryBackend } from '../repository/disk-object-store/disk-object-store-backend.js';
import type { RepositoryBackend } from '../repository/repository-backend.js';

/** Makes the repository backend of a `*_dos` profile from its disk-objectstore container folder. */
export type ContainerRepositoryFactory = (containerFolder: string) => RepositoryBackend;

const diskObjectStore: ContainerRepositoryFactory = (folder) =>
  new DiskObjectStoreRepositoryBackend({ folder });

let factory: ContainerRepositoryFactory = diskObjectStore;

/**
 * Replaces the function the `core.sqlite_dos` and `core.psql_dos` plugins use to open a profile's container (the
 * disk-objectstore backend by default; `undefined` restores it).
 */
export function setContainerRepositoryFactory(next: ContainerRepositoryFactory | undefined): void {
  factory = next ?? diskObjectStore;
}

/** The container factory in use. */
export function getContainerRepositoryFactory(): ContainerRepositoryFactory {
  return factory;
}
