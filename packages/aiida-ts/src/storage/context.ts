import { AsyncLocalStorage } from 'node:async_hooks';
import { MissingConfigurationError } from '../errors.js';
import type { StorageBackend } from './backend.js';

/** The `storage` option every ORM call accepts; without it the current storage is used. */
export interface StorageOption {
  readonly storage?: StorageBackend;
}

let defaultStorage: StorageBackend | null = null;
const scopedStorage = new AsyncLocalStorage<StorageBackend>();

/**
 * Sets the storage ORM calls use when none is given (`loadProfile()` calls this with the profile's storage).
 * Pass null to unset. Does not close the previous one.
 */
export function setDefaultStorage(storage: StorageBackend | null): void {
  defaultStorage = storage;
}

/** The storage set with {@link setDefaultStorage}, or null. */
export function getDefaultStorage(): StorageBackend | null {
  return defaultStorage;
}

/**
 * The storage an ORM call works on: `options.storage` if given, else the one of the enclosing
 * {@link withStorage}, else the default. Throws `MissingConfigurationError` when there is none.
 */
export function getStorage(options: StorageOption = {}): StorageBackend {
  const storage = options.storage ?? scopedStorage.getStore() ?? defaultStorage;
  if (storage === null) {
    throw new MissingConfigurationError(
      'no storage is loaded: call loadProfile() or setDefaultStorage(storage) first',
    );
  }
  if (storage.isClosed) throw new MissingConfigurationError(`the storage ${storage.entryPoint} is closed`);
  return storage;
}

/** Runs `fn` with `storage` as the current storage of every ORM call it makes (across awaits). */
export function withStorage<T>(storage: StorageBackend, fn: () => T): T {
  return scopedStorage.run(storage, fn);
}
