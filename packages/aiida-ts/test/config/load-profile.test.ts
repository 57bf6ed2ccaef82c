import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createProfile,
  deleteProfile,
  getConfig,
  getProfile,
  loadProfile,
  resetConfig,
  setConfigDir,
  unloadProfile,
} from '../../src/config.js';
import {
  MissingConfigurationError,
  ProfileConfigurationError,
  StorageMigrationError,
} from '../../src/errors.js';
import { Int, User } from '../../src/orm.js';
import { getDefaultStorage, getStorage } from '../../src/storage.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aiida-ts-load-profile-'));
  setConfigDir(join(dir, '.aiida-ts'));
});

afterEach(async () => {
  await unloadProfile();
  setConfigDir(undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('createProfile, loadProfile, deleteProfile', () => {
  it('creates a profile with an initialised storage and its default user, written to config.json', async () => {
    const config = getConfig();
    const profile = await createProfile(config, {
      name: 'main',
      storageBackend: 'core.sqlite_dos',
      storageConfig: { filepath: join(dir, 'main-storage') },
      user: { email: 'Me@Example.ORG', firstName: 'Ada', lastName: 'Lovelace', institution: 'Engine' },
    });
    expect(profile.defaultUserEmail).toBe('Me@example.org');
    expect(config.defaultProfileName).toBe('main');
    resetConfig();
    expect(getConfig().getProfile('main').storageConfig).toEqual({ filepath: join(dir, 'main-storage') });

    const loaded = await loadProfile();
    expect(loaded.name).toBe('main');
    expect(getProfile()).toBe(loaded);
    const storage = getStorage();
    expect(getDefaultStorage()).toBe(storage);
    const user = await User.getDefault();
    expect([user.email, user.firstName, user.lastName, user.institution]).toEqual([
      'Me@example.org',
      'Ada',
      'Lovelace',
      'Engine',
    ]);
    const node = await new Int(5).store();
    expect(node.pk).toBe(1);
    // Loading the same profile again reuses the open storage.
    await loadProfile('main');
    expect(getStorage()).toBe(storage);
    await unloadProfile();
    expect(storage.isClosed).toBe(true);
    expect(getDefaultStorage()).toBeNull();
    expect(getProfile()).toBeUndefined();
  });

  it('switches profiles only when allowed, closing the previous storage', async () => {
    const config = getConfig();
    await createProfile(config, {
      name: 'a',
      storageBackend: 'core.sqlite_dos',
      storageConfig: { filepath: join(dir, 'a') },
    });
    await createProfile(config, { name: 'b', storageBackend: 'core.sqlite_temp', storageConfig: {} });
    expect(config.defaultProfileName).toBe('a');
    await loadProfile('a');
    const first = getStorage();
    await expect(loadProfile('b')).rejects.toThrow(/cannot switch from profile `a` to `b`/);
    await loadProfile('b', { allowSwitch: true });
    expect(first.isClosed).toBe(true);
    expect(getStorage().entryPoint).toBe('core.sqlite_temp');
    expect(getProfile()?.name).toBe('b');
  });

  it('fails clearly without profiles, for an unknown name, a taken name or a bad storage configuration', async () => {
    await expect(loadProfile()).rejects.toThrow(MissingConfigurationError);
    const config = getConfig();
    await createProfile(config, { name: 'only', storageBackend: 'core.sqlite_temp', storageConfig: {} });
    await expect(loadProfile('other')).rejects.toThrow(ProfileConfigurationError);
    await expect(
      createProfile(config, { name: 'only', storageBackend: 'core.sqlite_temp', storageConfig: {} }),
    ).rejects.toThrow(/the profile `only` already exists/);
    await expect(
      createProfile(config, { name: 'bad name', storageBackend: 'core.sqlite_temp', storageConfig: {} }),
    ).rejects.toThrow(/invalid profile name `bad name`/);
    await expect(
      createProfile(config, { name: 'nope', storageBackend: 'core.unknown', storageConfig: {} }),
    ).rejects.toThrow(/core\.unknown/);
    await expect(
      createProfile(config, {
        name: 'pg',
        storageBackend: 'core.psql_dos',
        storageConfig: { database_name: 'x' },
      }),
    ).rejects.toThrow(/storage\.config\.database_username/);
    await expect(
      createProfile(config, {
        name: 'unreachable',
        storageBackend: 'core.psql_dos',
        storageConfig: {
          database_hostname: '127.0.0.1',
          database_port: 1,
          database_username: 'postgres',
          database_name: 'never',
          repository_uri: `file://${join(dir, 'never')}`,
        },
      }),
    ).rejects.toThrow(StorageMigrationError);
    expect(getConfig().profileNames).toEqual(['only']);
  });

  it('deletes a profile with or without its storage', async () => {
    const config = getConfig();
    await createProfile(config, {
      name: 'keep',
      storageBackend: 'core.sqlite_dos',
      storageConfig: { filepath: join(dir, 'keep') },
    });
    await createProfile(config, {
      name: 'drop',
      storageBackend: 'core.sqlite_dos',
      storageConfig: { filepath: join(dir, 'drop') },
    });
    expect(await deleteProfile(config, 'keep', { deleteStorage: false })).toBe('drop');
    expect(existsSync(join(dir, 'keep', 'database.sqlite'))).toBe(true);
    expect(await deleteProfile(config, 'drop', { deleteStorage: true })).toBeUndefined();
    expect(existsSync(join(dir, 'drop'))).toBe(false);
    resetConfig();
    expect(getConfig().profileNames).toEqual([]);
  });
});
