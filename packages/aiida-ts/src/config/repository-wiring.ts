import { DiskObjectStoreRepositoryBackend } from '../repository/disk-object-store/disk-object-store-backend.js';
import {
  getContainerRepositoryFactory,
  setContainerRepositoryFactory,
} from '../storage/container-repository.js';

/**
 * Make sure the `*_dos` storage plugins can open a profile's disk-objectstore container: install aiida-ts's
 * disk-objectstore backend as the container factory unless something (a test, another backend) installed one.
 */
export function ensureContainerRepositoryFactory(): void {
  if (getContainerRepositoryFactory() !== undefined) return;
  setContainerRepositoryFactory((folder) => new DiskObjectStoreRepositoryBackend({ folder }));
}
