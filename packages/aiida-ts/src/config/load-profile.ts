import type { StorageBackend } from '../storage/backend.js';
import { getDefaultStorage, setDefaultStorage } from '../storage/context.js';
import { openStorage } from '../storage/factory.js';
import { clearProfile, getConfigDir, getProfile, selectProfile, type LoadProfileOptions } from './manager.js';
import { acquireProfileAccess } from './profile-access.js';
import type { Profile } from './profile.js';
import { wirePlugins } from './plugin-wiring.js';

let openedFor: { profile: Profile; storage: StorageBackend } | undefined;

/**
 * Open a profile's storage (validating its `storage.config` with the backend's schema). The caller owns it and must
 * close it. This process is registered as a user of the profile (aiida-core's `ProfileAccessManager`, a record in
 * `<config>/access/<profile>/`) until the storage closes, so that full maintenance refuses to run meanwhile.
 *
 * @throws LockedProfileError when another process holds the profile exclusively (full maintenance),
 *   IncompatibleStorageSchemaError when the schema needs `verdi storage migrate`, CorruptStorageError when the
 *   database and repository do not belong together, ValidationError naming a bad `storage.config` key.
 */
export async function openProfileStorage(profile: Profile): Promise<StorageBackend> {
  wirePlugins();
  const access = acquireProfileAccess(profile.name, { configDir: getConfigDir() });
  try {
    return await openStorage(profile.storageBackend, profile.storageConfig, {
      defaultUserEmail: profile.defaultUserEmail,
      profileName: profile.name,
      profileAccess: {
        lockExclusive: (purpose) => access.manager.lock(purpose),
        release: () => access.release(),
      },
    });
  } catch (error) {
    access.release();
    throw error;
  }
}

/**
 * Load a profile: make it current (the named one, else the current one, else the default) and open its storage as
 * the default storage of every ORM call (`setDefaultStorage`). Loading the profile that is already loaded returns it
 * without reopening anything; switching to another profile needs `allowSwitch` and closes the previous storage.
 *
 * @returns the loaded profile.
 * @throws MissingConfigurationError when no profile is configured, ProfileConfigurationError for an unknown name,
 *   and the errors of {@link openProfileStorage}.
 */
export async function loadProfile(name?: string, options: LoadProfileOptions = {}): Promise<Profile> {
  const previous = getProfile();
  const profile = selectProfile(name, options);
  if (openedFor !== undefined && openedFor.profile === profile && !openedFor.storage.isClosed) {
    if (getDefaultStorage() !== openedFor.storage) setDefaultStorage(openedFor.storage);
    return profile;
  }
  let storage: StorageBackend;
  try {
    storage = await openProfileStorage(profile);
  } catch (error) {
    if (previous === undefined) clearProfile();
    throw error;
  }
  await unloadStorage();
  openedFor = { profile, storage };
  setDefaultStorage(storage);
  return profile;
}

async function unloadStorage(): Promise<void> {
  const current = openedFor;
  openedFor = undefined;
  if (current === undefined) return;
  if (getDefaultStorage() === current.storage) setDefaultStorage(null);
  await current.storage.close();
}

/** Close the storage opened by {@link loadProfile} and forget the current profile. */
export async function unloadProfile(): Promise<void> {
  await unloadStorage();
  clearProfile();
}
