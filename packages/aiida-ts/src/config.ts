/**
 * `aiida-ts/config`: the configuration folder, `config.json` (profiles, options, migrations) and the current
 * profile.
 */
export {
  AIIDA_TS_PATH_VARIABLE,
  DEFAULT_CONFIG_DIR_NAME,
  DEFAULT_CONFIG_FILE_NAME,
  DEFAULT_USER_EMAIL,
  configFilePath,
  resolveConfigDir,
} from './config/settings.js';
export {
  LogLevel,
  OPTIONS,
  getOption,
  getOptionNames,
  isOptionName,
  optionJsonSchema,
  parseOptionValue,
  validateOption,
  type OptionDefinition,
  type OptionKind,
  type OptionName,
  type OptionValues,
} from './config/options.js';
export { checkIdentifierPattern, matchWildcard, ENTRY_POINT_GROUPS } from './config/identifier-pattern.js';
export {
  BROKER_DEFAULTS,
  BrokerBackend,
  BrokerConfigSchema,
  ConfigSchema,
  ProfileName,
  ProfileSchema,
  type BrokerConfig,
  type ConfigData,
  type OptionsData,
  type ProfileData,
} from './config/schema.js';
export {
  CONFIG_MIGRATIONS,
  CURRENT_CONFIG_VERSION,
  OLDEST_COMPATIBLE_CONFIG_VERSION,
  configNeedsMigrating,
  upgradeConfig,
  type ConfigMigration,
  type RawConfig,
} from './config/migrations.js';
export { Profile, newProfileUuid, withBrokerDefaults, type ProfileInit } from './config/profile.js';
export {
  Config,
  formatConfigIssues,
  type ConfigLoadReport,
  type OptionSource,
  type OptionValue,
} from './config/config.js';
export { withFileLock, type FileLockOptions } from './config/file-lock.js';
export { writeFileAtomic } from './config/atomic-write.js';
export {
  clearProfile,
  createInstanceDirectories,
  getConfig,
  getConfigDir,
  getConfigLoadReport,
  getConfigOption,
  getProfile,
  resetConfig,
  selectProfile,
  setConfigDir,
  type LoadProfileOptions,
} from './config/manager.js';
export { loadProfile, openProfileStorage, unloadProfile } from './config/load-profile.js';
export { wirePlugins } from './config/plugin-wiring.js';
export {
  AccessKind,
  AccessRecordSchema,
  ProcessLiveness,
  ProfileAccessManager,
  ProfileLock,
  acquireProfileAccess,
  describeAccessEntry,
  type AccessEntry,
  type AccessRecord,
  type ProfileAccessHandle,
  type ProfileAccessOptions,
} from './config/profile-access.js';
export {
  createProfile,
  deleteProfile,
  type CreateProfileOptions,
  type DefaultUserInit,
} from './config/create-profile.js';
