/**
 * `aiida-ts/testing`: helpers for the tests of code built on aiida-ts (plugins, workflows). Each gives a
 * throwaway in-memory profile storage (`core.sqlite_temp`: SQLite in memory and an in-memory file
 * repository), so a test stores and queries real nodes without touching any profile on the machine.
 */
import { wirePlugins } from './config/plugin-wiring.js';
import type { StorageBackend } from './storage/backend.js';
import { withStorage } from './storage/context.js';
import { openStorage } from './storage/factory.js';

/** Options of {@link createTemporaryStorage}. */
export interface TemporaryStorageOptions {
  /** The email of the default user that owns the nodes stored (aiida's `autofill.user.email`). */
  readonly defaultUserEmail?: string;
}

/** Opens a fresh in-memory storage; close it (or `await using` it) when done. */
export function createTemporaryStorage(options: TemporaryStorageOptions = {}): Promise<StorageBackend> {
  wirePlugins();
  return openStorage(
    'core.sqlite_temp',
    {},
    { defaultUserEmail: options.defaultUserEmail ?? 'test@aiida-ts.local' },
  );
}

/**
 * Runs `fn` with a fresh in-memory storage as the current storage of every ORM call it makes, then closes
 * the storage, also when `fn` throws.
 */
export async function withTemporaryStorage<T>(
  fn: (storage: StorageBackend) => Promise<T> | T,
  options: TemporaryStorageOptions = {},
): Promise<T> {
  const storage = await createTemporaryStorage(options);
  try {
    return await withStorage(storage, () => fn(storage));
  } finally {
    await storage.close();
  }
}
