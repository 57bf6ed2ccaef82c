import { ProfileConfigurationError, StorageMigrationError } from '../errors.js';
import { User } from '../orm/entities/user.js';
import { getStoragePlugin } from '../storage/factory.js';
import type { Config } from './config.js';
import { createInstanceDirectories } from './manager.js';
import { Profile } from './profile.js';
import { ensureContainerRepositoryFactory } from './repository-wiring.js';
import { ProfileName, type BrokerBackend, type BrokerConfig, type OptionsData } from './schema.js';
import { DEFAULT_USER_EMAIL } from './settings.js';

/** The default user of a new profile. */
export interface DefaultUserInit {
  readonly email: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly institution?: string;
}

/** What {@link createProfile} makes. */
export interface CreateProfileOptions {
  readonly name: string;
  /** Storage entry point: `core.sqlite_dos`, `core.psql_dos`, `core.sqlite_temp`. */
  readonly storageBackend: string;
  /** The storage's configuration, validated (and completed with defaults) by the storage plugin. */
  readonly storageConfig: Record<string, unknown>;
  readonly brokerBackend?: BrokerBackend | null;
  readonly brokerConfig?: Partial<BrokerConfig> | null;
  /** Default user; its email becomes `default_user_email`. Default `aiida@localhost`. */
  readonly user?: DefaultUserInit;
  readonly isTestProfile?: boolean;
  /** Make it the default profile (default: only when there is no default yet). */
  readonly setAsDefault?: boolean;
  /** Options set on the new profile. */
  readonly options?: OptionsData;
  /** Use this uuid (to share the services of a profile of another instance); generated when absent. */
  readonly uuid?: string;
}

/**
 * Create a profile: validate its storage configuration with the storage plugin, initialise the storage (database
 * schema and repository), create the default user in it, and add the profile to the configuration file (under the
 * file lock, re-reading the file first). Nothing is added to the file when any step fails.
 *
 * @returns the new profile as written.
 * @throws ProfileConfigurationError when the name is invalid or taken; MissingEntryPointError for an unknown
 *   storage backend; ValidationError naming a bad storage key; StorageMigrationError when initialisation fails.
 */
export async function createProfile(config: Config, options: CreateProfileOptions): Promise<Profile> {
  const name = ProfileName.safeParse(options.name);
  if (!name.success) {
    throw new ProfileConfigurationError(
      `invalid profile name \`${options.name}\`: ${name.error.issues[0]?.message ?? ''}`,
    );
  }
  if (config.hasProfile(options.name))
    throw new ProfileConfigurationError(`the profile \`${options.name}\` already exists`);

  ensureContainerRepositoryFactory();
  const plugin = getStoragePlugin(options.storageBackend);
  const storageConfig = plugin.parseConfig(options.storageConfig) as Record<string, unknown>;
  const user = options.user ?? { email: DEFAULT_USER_EMAIL };
  const email = User.normalizeEmail(user.email);

  createInstanceDirectories(config.dirpath);
  try {
    await plugin.initialise(storageConfig);
  } catch (error) {
    throw new StorageMigrationError(
      `storage backend initialisation failed, probably because the configuration is incorrect: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const storage = await plugin.open(storageConfig, { defaultUserEmail: email, profileName: options.name });
  try {
    const { user: stored } = await User.getOrCreate(
      {
        email,
        ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
        ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
        ...(user.institution === undefined ? {} : { institution: user.institution }),
      },
      { storage },
    );
    await stored.update({
      ...(user.firstName === undefined ? {} : { firstName: user.firstName }),
      ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
      ...(user.institution === undefined ? {} : { institution: user.institution }),
    });
  } finally {
    await storage.close();
  }

  const profile = Profile.create(options.name, {
    ...(options.uuid === undefined ? {} : { uuid: options.uuid }),
    storage: { backend: options.storageBackend, config: storageConfig },
    processControl: { backend: options.brokerBackend ?? null, config: options.brokerConfig ?? null },
    defaultUserEmail: email,
    isTestProfile: options.isTestProfile ?? false,
    options: options.options ?? {},
  });
  config.update((fresh) => {
    fresh.addProfile(profile);
    for (const [option, value] of Object.entries(options.options ?? {}))
      fresh.setOption(option, value, profile.name);
    if (options.setAsDefault === true || fresh.defaultProfileName === undefined)
      fresh.setDefaultProfile(profile.name);
  });
  return config.getProfile(profile.name);
}

/**
 * Delete a profile from the configuration and, when `deleteStorage`, its storage (database and repository). When it
 * was the default, the first remaining profile becomes the default.
 *
 * @returns the new default profile name when the default changed.
 */
export async function deleteProfile(
  config: Config,
  name: string,
  options: { readonly deleteStorage: boolean },
): Promise<string | undefined> {
  const profile = config.getProfile(name);
  if (options.deleteStorage) {
    ensureContainerRepositoryFactory();
    const plugin = getStoragePlugin(profile.storageBackend);
    await plugin.destroy(plugin.parseConfig(profile.storageConfig));
  }
  return config.update((fresh) => fresh.removeProfile(name));
}
