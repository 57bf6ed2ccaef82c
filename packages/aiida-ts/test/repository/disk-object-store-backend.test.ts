import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskObjectStoreRepositoryBackend } from '../../src/repository.js';
import { describeRepositoryBackendContract } from './backend-contract.js';

describeRepositoryBackendContract('DiskObjectStoreRepositoryBackend', {
  create: async () => {
    const parent = await mkdtemp(join(tmpdir(), 'aiida-ts-dos-'));
    const backend = new DiskObjectStoreRepositoryBackend({ folder: join(parent, 'container') });
    await backend.initialise();
    return backend;
  },
  cleanup: async (backend) => {
    const folder = (backend as DiskObjectStoreRepositoryBackend).folder;
    await backend.close();
    await rm(join(folder, '..'), { recursive: true, force: true });
  },
  inMemory: false,
});
