import type { RepositoryBackend } from '../repository/repository-backend.js';

/** Makes the repository backend of a `*_dos` profile from its disk-objectstore container folder. */
export type ContainerRepositoryFactory = (containerFolder: string) => RepositoryBackend;

let factory: ContainerRepositoryFactory | undefined;

/**
 * Installs the function the `core.sqlite_dos` and `core.psql_dos` plugins use to open a profile's container.
 * The repository module installs its disk-objectstore backend here; tests may install another.
 */
export function setContainerRepositoryFactory(next: ContainerRepositoryFactory | undefined): void {
  factory = next;
}

/** The installed container factory, or undefined when none is. */
export function getContainerRepositoryFactory(): ContainerRepositoryFactory | undefined {
  return factory;
}
