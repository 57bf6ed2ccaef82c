import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError, MissingConfigurationError } from '../errors.js';
import { Config, type ConfigLoadReport } from './config.js';
import { copyOptionValue, getOption } from './options.js';
import type { Profile } from './profile.js';
import { CONFIG_SUBDIRS, configFilePath, resolveConfigDir } from './settings.js';

interface State {
  config: Config | undefined;
  configDir: string | undefined;
  profile: Profile | undefined;
  report: ConfigLoadReport;
}

const state: State = { config: undefined, configDir: undefined, profile: undefined, report: {} };

/**
 * The configuration folder in use: the one set with {@link setConfigDir}, else the one `AIIDA_TS_PATH` names, else
 * `~/.aiida-ts`.
 */
export function getConfigDir(): string {
  return state.configDir ?? resolveConfigDir();
}

/** Use another configuration folder from now on (forgets the loaded configuration and profile). */
export function setConfigDir(dir: string | undefined): void {
  resetConfig();
  state.configDir = dir;
}

/** Create the configuration folder and its sub-folders (daemon, logs, access) with owner-only permissions. */
export function createInstanceDirectories(dir: string = getConfigDir()): void {
  for (const sub of ['', CONFIG_SUBDIRS.daemon, CONFIG_SUBDIRS.daemonLog, CONFIG_SUBDIRS.access]) {
    const path = sub === '' ? dir : join(dir, sub);
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ConfigurationError(
        `could not create the \`${path}\` configuration directory: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}

/**
 * The configuration of this instance, read on first use and then cached. Reading migrates an old file (see
 * {@link Config.fromFile}); a missing file gives an empty configuration that is written on the first change.
 *
 * @throws ConfigurationError when the file cannot be read or is invalid; the message names the failing keys.
 */
export function getConfig(): Config {
  if (state.config === undefined) {
    const report: { migratedFrom?: ConfigLoadReport['migratedFrom'] } = {};
    state.config = Config.fromFile(configFilePath(getConfigDir()), report);
    state.report = report.migratedFrom === undefined ? {} : { migratedFrom: report.migratedFrom };
  }
  return state.config;
}

/** What happened while the configuration was last read (for instance a migration), for the CLI to report. */
export function getConfigLoadReport(): ConfigLoadReport {
  return state.report;
}

/** Forget the cached configuration and the current profile; the next {@link getConfig} re-reads the file. */
export function resetConfig(): void {
  state.config = undefined;
  state.profile = undefined;
  state.report = {};
}

/** The profile made current by {@link loadProfile}, if any. */
export function getProfile(): Profile | undefined {
  return state.profile;
}

/** Options of {@link loadProfile}. */
export interface LoadProfileOptions {
  /** Allow replacing a different profile that is already current (default false, as in AiiDA). */
  readonly allowSwitch?: boolean;
}

/**
 * Make a profile current: the named one, else the one already current, else the default profile.
 *
 * @returns the profile.
 * @throws MissingConfigurationError when no profile is configured; ProfileConfigurationError when the name is
 *   unknown; ConfigurationError when another profile is current and `allowSwitch` is not set.
 */
export function selectProfile(name?: string, options: LoadProfileOptions = {}): Profile {
  const config = getConfig();
  if (name === undefined && state.profile !== undefined) return state.profile;
  if (name === undefined && config.defaultProfileName === undefined) {
    if (config.profileNames.length === 0) {
      throw new MissingConfigurationError(
        `no profile configured in \`${config.dirpath}\`: run \`verdi presto\` or \`verdi profile setup\` first`,
      );
    }
  }
  const profile = config.getProfile(name);
  if (state.profile !== undefined && state.profile.name !== profile.name && options.allowSwitch !== true) {
    throw new ConfigurationError(
      `cannot switch from profile \`${state.profile.name}\` to \`${profile.name}\` without \`allowSwitch\``,
    );
  }
  state.profile = profile;
  return profile;
}

/** Forget the current profile. */
export function clearProfile(): void {
  state.profile = undefined;
}

/**
 * The effective value of an option for the current profile: the profile's value, else the global one, else the
 * default. Without a current profile, the global value or the default.
 */
export function getConfigOption(name: string): unknown {
  getOption(name);
  let config: Config;
  try {
    config = getConfig();
  } catch {
    // An unreadable configuration must not stop code that only wants a default (as AiiDA does).
    return copyOptionValue(getOption(name).default);
  }
  return config.getOption(name, state.profile?.name);
}
