import { afterAll, beforeAll } from 'vitest';
import type { StorageBackend } from '../../src/storage/backend.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import type { TestStorage } from '../storage/helpers.js';

/**
 * Opens a storage for the enclosing `describe` and makes it the default storage of the ORM; returns a getter
 * (the storage exists only once `beforeAll` ran).
 */
export function useStorage(open: () => Promise<TestStorage>): () => StorageBackend {
  let handle: TestStorage | undefined;
  beforeAll(async () => {
    handle = await open();
    setDefaultStorage(handle.storage);
  });
  afterAll(async () => {
    setDefaultStorage(null);
    await handle?.cleanup();
  });
  return () => {
    if (handle === undefined) throw new Error('storage not open yet');
    return handle.storage;
  };
}
