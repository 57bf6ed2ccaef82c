import { describe, expect, it } from 'vitest';
import { SandboxRepositoryBackend } from '../../src/repository.js';
import { describeRepositoryBackendContract } from './backend-contract.js';

describeRepositoryBackendContract('SandboxRepositoryBackend', {
  create: () => Promise.resolve(new SandboxRepositoryBackend()),
  cleanup: (backend) => backend.erase(),
  inMemory: true,
});

describe('SandboxRepositoryBackend', () => {
  it('has no uuid and is not initialised until used', async () => {
    const backend = new SandboxRepositoryBackend();
    expect(backend.uuid).toBeNull();
    expect(await backend.isInitialised()).toBe(false);
    await backend.putObjectFromBuffer(Buffer.from('x'));
    expect(await backend.isInitialised()).toBe(true);
  });
});
