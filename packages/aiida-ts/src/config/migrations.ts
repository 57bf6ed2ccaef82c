import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

/**
 * Version of the `config.json` layout this code writes, and the oldest layout it can read without migrating. The
 * numbering is AiiDA's: version 9 is the layout of aiida-core 2.x (`PROFILE_UUID`, `storage`, `process_control`,
 * `core.`-prefixed backends), so a configuration written by aiida-core 1.x or 2.x migrates forward with the same
 * steps.
 */
export const CURRENT_CONFIG_VERSION = 9;
export const OLDEST_COMPATIBLE_CONFIG_VERSION = 9;

/** A configuration as raw JSON, before validation. */
export type RawConfig = Record<string, unknown>;
type RawProfile = Record<string, unknown>;

/** One step of the configuration layout, from `downRevision` to `upRevision`. */
export interface ConfigMigration {
  readonly downRevision: number;
  readonly upRevision: number;
  /** `OLDEST_COMPATIBLE` written after the step. */
  readonly upCompatible: number;
  readonly description: string;
  /** Rewrite the configuration in place. */
  upgrade(config: RawConfig): void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function profilesOf(config: RawConfig): [string, RawProfile][] {
  const profiles = config.profiles;
  if (!isRecord(profiles)) return [];
  return Object.entries(profiles).filter((entry): entry is [string, RawProfile] => isRecord(entry[1]));
}

function child(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = parent[key];
  if (isRecord(value)) return value;
  const created: Record<string, unknown> = {};
  parent[key] = created;
  return created;
}

const OPTION_RENAMES_V5: readonly (readonly [string, string])[] = [
  ['runner_poll_interval', 'runner.poll.interval'],
  ['daemon_default_workers', 'daemon.default_workers'],
  ['daemon_timeout', 'daemon.timeout'],
  ['daemon_worker_process_slots', 'daemon.worker_process_slots'],
  ['db_batch_size', 'db.batch_size'],
  ['verdi_shell_auto_import', 'verdi.shell.auto_import'],
  ['logging_aiida_log_level', 'logging.aiida_loglevel'],
  ['logging_db_log_level', 'logging.db_loglevel'],
  ['logging_plumpy_log_level', 'logging.plumpy_loglevel'],
  ['logging_kiwipy_log_level', 'logging.kiwipy_loglevel'],
  ['logging_paramiko_log_level', 'logging.paramiko_loglevel'],
  ['logging_alembic_log_level', 'logging.alembic_loglevel'],
  ['logging_sqlalchemy_loglevel', 'logging.sqlalchemy_loglevel'],
  ['logging_circus_log_level', 'logging.circus_loglevel'],
  ['user_email', 'autofill.user.email'],
  ['user_first_name', 'autofill.user.first_name'],
  ['user_last_name', 'autofill.user.last_name'],
  ['user_institution', 'autofill.user.institution'],
  ['show_deprecations', 'warnings.showdeprecations'],
  ['task_retry_initial_interval', 'transport.task_retry_initial_interval'],
  ['task_maximum_attempts', 'transport.task_maximum_attempts'],
];

const STORAGE_KEYS_V6: readonly (readonly [string, string])[] = [
  ['AIIDADB_ENGINE', 'database_engine'],
  ['AIIDADB_HOST', 'database_hostname'],
  ['AIIDADB_PORT', 'database_port'],
  ['AIIDADB_USER', 'database_username'],
  ['AIIDADB_PASS', 'database_password'],
  ['AIIDADB_NAME', 'database_name'],
  ['AIIDADB_REPOSITORY_URI', 'repository_uri'],
];

const BROKER_KEYS = [
  'broker_protocol',
  'broker_username',
  'broker_password',
  'broker_host',
  'broker_port',
  'broker_virtual_host',
  'broker_parameters',
] as const;

function renameOptions(options: unknown): void {
  if (!isRecord(options)) return;
  for (const [oldName, newName] of OPTION_RENAMES_V5) {
    if (oldName in options) {
      options[newName] = options[oldName];
      delete options[oldName];
    }
  }
}

/** Every step from an empty configuration (version 0) to {@link CURRENT_CONFIG_VERSION}, in order. */
export const CONFIG_MIGRATIONS: readonly ConfigMigration[] = [
  {
    downRevision: 0,
    upRevision: 1,
    upCompatible: 0,
    description: 'initial version',
    upgrade: () => undefined,
  },
  {
    downRevision: 1,
    upRevision: 2,
    upCompatible: 0,
    description: 'give every profile a PROFILE_UUID',
    upgrade: (config) => {
      for (const [, profile] of profilesOf(config)) {
        if (typeof profile.PROFILE_UUID !== 'string') profile.PROFILE_UUID = randomUUID().replaceAll('-', '');
      }
    },
  },
  {
    downRevision: 2,
    upRevision: 3,
    upCompatible: 3,
    description: 'replace the per-process `default_profiles` with one `default_profile`',
    upgrade: (config) => {
      const defaults = config.default_profiles;
      delete config.default_profiles;
      if (isRecord(defaults)) {
        const chosen = defaults.daemon ?? defaults.verdi;
        if (typeof chosen === 'string') config.default_profile = chosen;
      }
    },
  },
  {
    downRevision: 3,
    upRevision: 4,
    upCompatible: 3,
    description: 'add the RabbitMQ connection keys with their defaults',
    upgrade: (config) => {
      const defaults: Record<string, unknown> = {
        broker_protocol: 'amqp',
        broker_username: 'guest',
        broker_password: 'guest',
        broker_host: '127.0.0.1',
        broker_port: 5672,
        broker_virtual_host: '',
      };
      for (const [, profile] of profilesOf(config)) {
        for (const [key, value] of Object.entries(defaults)) {
          if (!(key in profile)) profile[key] = value;
        }
      }
    },
  },
  {
    downRevision: 4,
    upRevision: 5,
    upCompatible: 5,
    description: 'rename options to their dotted names',
    upgrade: (config) => {
      renameOptions(config.options);
      for (const [, profile] of profilesOf(config)) renameOptions(profile.options);
    },
  },
  {
    downRevision: 5,
    upRevision: 6,
    upCompatible: 6,
    description: 'move the database keys under `storage` and the broker keys under `process_control`',
    upgrade: (config) => {
      for (const [, profile] of profilesOf(config)) {
        const storage = child(profile, 'storage');
        storage.backend = profile.AIIDADB_BACKEND ?? null;
        delete profile.AIIDADB_BACKEND;
        const storageConfig = child(storage, 'config');
        for (const [oldKey, newKey] of STORAGE_KEYS_V6) {
          if (oldKey in profile) {
            storageConfig[newKey] = profile[oldKey];
            delete profile[oldKey];
          }
        }
        const processControl = child(profile, 'process_control');
        processControl.backend = 'rabbitmq';
        const brokerConfig = child(processControl, 'config');
        for (const key of BROKER_KEYS) {
          if (key in profile) {
            brokerConfig[key] = profile[key];
            delete profile[key];
          }
        }
      }
    },
  },
  {
    downRevision: 6,
    upRevision: 7,
    upCompatible: 7,
    description: 'merge the `django` and `sqlalchemy` storage backends into `psql_dos`',
    upgrade: (config) => {
      for (const [, profile] of profilesOf(config)) {
        const storage = profile.storage;
        if (isRecord(storage) && (storage.backend === 'django' || storage.backend === 'sqlalchemy')) {
          storage._v6_backend = storage.backend;
          storage.backend = 'psql_dos';
        }
      }
    },
  },
  {
    downRevision: 7,
    upRevision: 8,
    upCompatible: 8,
    description: 'add the `test_profile` key',
    upgrade: (config) => {
      for (const [name, profile] of profilesOf(config)) profile.test_profile = name.startsWith('test_');
    },
  },
  {
    downRevision: 8,
    upRevision: 9,
    upCompatible: 9,
    description: 'prefix the storage and broker backend names with `core.`',
    upgrade: (config) => {
      for (const [, profile] of profilesOf(config)) {
        const storage = profile.storage;
        if (
          isRecord(storage) &&
          typeof storage.backend === 'string' &&
          !storage.backend.startsWith('core.')
        ) {
          if (['psql_dos', 'sqlite_zip', 'sqlite_temp', 'sqlite_dos'].includes(storage.backend)) {
            storage.backend = `core.${storage.backend}`;
          }
        }
        // aiida-core kept the bare `rabbitmq` here and mapped it when loading; aiida-ts writes the entry point name.
        const processControl = profile.process_control;
        if (isRecord(processControl) && processControl.backend === 'rabbitmq') {
          processControl.backend = 'core.rabbitmq';
        }
      }
    },
  },
];

/** `CONFIG_VERSION.CURRENT` of a raw configuration, 0 when absent. */
export function getConfigVersion(config: RawConfig): number {
  const version = config.CONFIG_VERSION;
  if (version === undefined) return 0;
  if (!isRecord(version) || !Number.isInteger(version.CURRENT)) {
    throw new ConfigurationError('invalid configuration: `CONFIG_VERSION.CURRENT` must be an integer');
  }
  return version.CURRENT as number;
}

/** `CONFIG_VERSION.OLDEST_COMPATIBLE` of a raw configuration, 0 when absent. */
export function getOldestCompatibleVersion(config: RawConfig): number {
  const version = config.CONFIG_VERSION;
  if (version === undefined) return 0;
  if (!isRecord(version) || !Number.isInteger(version.OLDEST_COMPATIBLE)) {
    throw new ConfigurationError(
      'invalid configuration: `CONFIG_VERSION.OLDEST_COMPATIBLE` must be an integer',
    );
  }
  return version.OLDEST_COMPATIBLE as number;
}

/**
 * True when the configuration is older than {@link CURRENT_CONFIG_VERSION} and must be migrated.
 *
 * @throws ConfigurationError when the configuration was written by a newer version this code cannot read.
 */
export function configNeedsMigrating(config: RawConfig, filepath = 'the configuration file'): boolean {
  const current = getConfigVersion(config);
  const oldest = getOldestCompatibleVersion(config);
  if (oldest > CURRENT_CONFIG_VERSION) {
    throw new ConfigurationError(
      `${filepath} has version ${current} (oldest compatible ${oldest}), which is newer than the highest version ` +
        `this aiida-ts supports (${CURRENT_CONFIG_VERSION}); use a newer aiida-ts or recreate the profiles.`,
    );
  }
  return current < CURRENT_CONFIG_VERSION;
}

/**
 * Run the migrations from the configuration's version up to `target`, in place, and return it.
 *
 * @throws ConfigurationError when no migration leads from a version onwards.
 */
export function upgradeConfig(
  config: RawConfig,
  target: number = CURRENT_CONFIG_VERSION,
  migrations: readonly ConfigMigration[] = CONFIG_MIGRATIONS,
): RawConfig {
  let current = getConfigVersion(config);
  const used = new Set<ConfigMigration>();
  while (current < target) {
    const migration = migrations.find((candidate) => candidate.downRevision === current);
    if (migration === undefined)
      throw new ConfigurationError(`no migration found to upgrade version ${current}`);
    if (used.has(migration))
      throw new ConfigurationError(`circular migration detected, upgrading to ${target}`);
    used.add(migration);
    migration.upgrade(config);
    current = migration.upRevision;
    config.CONFIG_VERSION = { CURRENT: current, OLDEST_COMPATIBLE: migration.upCompatible };
  }
  if (current !== target) {
    throw new ConfigurationError(`could not upgrade to version ${target}, current version is ${current}`);
  }
  return config;
}
