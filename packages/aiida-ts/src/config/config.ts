import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { ConfigurationError, ProfileConfigurationError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { withFileLock, type FileLockOptions } from './file-lock.js';
import {
  CURRENT_CONFIG_VERSION,
  OLDEST_COMPATIBLE_CONFIG_VERSION,
  configNeedsMigrating,
  getConfigVersion,
  upgradeConfig,
  type RawConfig,
} from './migrations.js';
import {
  copyOptionValue,
  getOption,
  getOptionNames,
  isOptionName,
  validateOption,
  type OptionDefinition,
} from './options.js';
import { Profile } from './profile.js';
import { ConfigSchema, type ConfigData, type OptionsData } from './schema.js';
import { DEFAULT_CONFIG_INDENT_SIZE } from './settings.js';

/** Where an option's effective value comes from. */
export type OptionSource = 'profile' | 'global' | 'default';

/** An option's effective value for a scope, and where it comes from. */
export interface OptionValue {
  readonly option: OptionDefinition;
  readonly source: OptionSource;
  readonly value: unknown;
}

/** What happened while reading a configuration file, for the caller to report. */
export interface ConfigLoadReport {
  /** Set when the file was migrated: the version it had and the backup written before migrating. */
  readonly migratedFrom?: { readonly version: number; readonly backup: string };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeKeyPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Turn zod issues into one message per failing key, each naming the key path in the file. */
export function formatConfigIssues(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const where = describeKeyPath([...issue.path, key]);
        const inOptions = issue.path.at(-1) === 'options';
        let hint = '';
        if (inOptions && !isOptionName(key)) {
          try {
            getOption(key);
          } catch (optionError) {
            hint = ` (${(optionError as Error).message})`;
          }
        }
        lines.push(`${where}: unknown key${hint}`);
      }
    } else {
      lines.push(`${describeKeyPath(issue.path) || '<root>'}: ${issue.message}`);
    }
  }
  return lines;
}

function timestamp(): string {
  const now = new Date();
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return (
    `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-` +
    `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`
  );
}

/**
 * The configuration of an aiida-ts instance: the content of `config.json` (profiles, the default profile and global
 * options), with the file it belongs to.
 *
 * Mutations change this object only. {@link Config.update} is the safe way to change the file: it takes the lock,
 * re-reads the file, applies the change to what is on disk and writes it back atomically, so that two processes
 * changing different things both see their change kept.
 */
export class Config {
  readonly filepath: string;
  #schemaUrl: string | undefined;
  #version: { CURRENT: number; OLDEST_COMPATIBLE: number };
  #profiles = new Map<string, Profile>();
  #options: OptionsData = {};
  #defaultProfile: string | undefined;

  private constructor(filepath: string, data: ConfigData) {
    this.filepath = filepath;
    this.#schemaUrl = data.$schema;
    this.#version = { ...data.CONFIG_VERSION };
    for (const [name, profile] of Object.entries(data.profiles ?? {}))
      this.#profiles.set(name, new Profile(name, profile));
    this.#options = structuredClone(data.options ?? {});
    this.#defaultProfile = data.default_profile;
  }

  /** An empty configuration at the current version, not yet written. */
  static empty(filepath: string): Config {
    return new Config(filepath, {
      CONFIG_VERSION: {
        CURRENT: CURRENT_CONFIG_VERSION,
        OLDEST_COMPATIBLE: OLDEST_COMPATIBLE_CONFIG_VERSION,
      },
      profiles: {},
    });
  }

  /**
   * Validate raw JSON (at the current version) and wrap it.
   *
   * @throws ConfigurationError listing every failing key path.
   */
  static fromData(filepath: string, raw: unknown): Config {
    const parsed = ConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const lines = formatConfigIssues(parsed.error);
      throw new ConfigurationError(`invalid configuration file \`${filepath}\`:\n  ${lines.join('\n  ')}`, {
        cause: parsed.error,
      });
    }
    return new Config(filepath, parsed.data);
  }

  /**
   * Read a configuration file. A missing file gives an empty configuration (nothing is written). An older layout is
   * migrated: the original is first copied to `config.json.<timestamp>`, then the migrated file is written.
   *
   * @throws ConfigurationError when the file is not JSON, is from a newer version, or fails validation (the message
   *   names each failing key).
   */
  static fromFile(
    filepath: string,
    report: { migratedFrom?: ConfigLoadReport['migratedFrom'] } = {},
  ): Config {
    const raw = Config.#readRaw(filepath);
    if (raw === undefined) return Config.empty(filepath);
    if (!configNeedsMigrating(raw, filepath)) return Config.fromData(filepath, raw);
    return withFileLock(filepath, () => {
      // Another process may have migrated it while we waited.
      const fresh = Config.#readRaw(filepath) ?? {};
      if (!configNeedsMigrating(fresh, filepath)) return Config.fromData(filepath, fresh);
      const version = getConfigVersion(fresh);
      const backup = Config.backup(filepath);
      const config = Config.fromData(filepath, upgradeConfig(fresh));
      config.#write();
      report.migratedFrom = { version, backup };
      return config;
    });
  }

  static #readRaw(filepath: string): RawConfig | undefined {
    let text: string;
    try {
      text = readFileSync(filepath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigurationError(`could not read \`${filepath}\`: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new ConfigurationError(
        `invalid configuration file \`${filepath}\`: not valid JSON: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (!isRecord(raw)) {
      throw new ConfigurationError(
        `invalid configuration file \`${filepath}\`: <root>: expected a JSON object`,
      );
    }
    return raw;
  }

  /** Copy a configuration file to `<file>.<timestamp>` and return the copy's path. */
  static backup(filepath: string): string {
    let target = `${filepath}.${timestamp()}`;
    for (let attempt = 1; existsSync(target); attempt += 1) target = `${filepath}.${timestamp()}-${attempt}`;
    copyFileSync(filepath, target);
    return target;
  }

  /** Folder holding the configuration file. */
  get dirpath(): string {
    return dirname(this.filepath);
  }

  /** `CONFIG_VERSION.CURRENT`. */
  get version(): number {
    return this.#version.CURRENT;
  }

  /** `CONFIG_VERSION.OLDEST_COMPATIBLE`. */
  get versionOldestCompatible(): number {
    return this.#version.OLDEST_COMPATIBLE;
  }

  /** Name of the default profile, if one is set. */
  get defaultProfileName(): string | undefined {
    return this.#defaultProfile;
  }

  /** Names of all profiles, in file order. */
  get profileNames(): string[] {
    return [...this.#profiles.keys()];
  }

  /** All profiles, in file order. */
  get profiles(): Profile[] {
    return [...this.#profiles.values()];
  }

  /** The global options as set (without defaults). */
  get options(): OptionsData {
    return structuredClone(this.#options);
  }

  /**
   * Throw unless a profile of that name exists.
   *
   * @throws ProfileConfigurationError naming the folder and the closest existing names.
   */
  validateProfile(name: string): void {
    if (this.#profiles.has(name)) return;
    const similar = this.profileNames.filter(
      (candidate) => candidate.includes(name) || name.includes(candidate) || candidate[0] === name[0],
    );
    const hint =
      similar.length > 0
        ? `The most similar ones are: ${similar.map((s) => `\`${s}\``).join(', ')}.`
        : 'Run `verdi profile list` to see the ones it does define.';
    throw new ProfileConfigurationError(`profile \`${name}\` does not exist in \`${this.dirpath}\`. ${hint}`);
  }

  /**
   * The named profile, or the default one when no name is given.
   *
   * @throws ProfileConfigurationError when it does not exist or no default is set.
   */
  getProfile(name?: string): Profile {
    const chosen = name ?? this.#defaultProfile;
    if (chosen === undefined) {
      throw new ProfileConfigurationError(
        `no default profile defined in \`${this.dirpath}\`: run \`verdi presto\` or \`verdi profile setup\``,
      );
    }
    this.validateProfile(chosen);
    return this.#profiles.get(chosen) as Profile;
  }

  /** True when a profile of that name exists. */
  hasProfile(name: string): boolean {
    return this.#profiles.has(name);
  }

  /**
   * Add a new profile.
   *
   * @throws ProfileConfigurationError when the name is taken.
   */
  addProfile(profile: Profile): this {
    if (this.#profiles.has(profile.name)) {
      throw new ProfileConfigurationError(`the profile \`${profile.name}\` already exists`);
    }
    this.#profiles.set(profile.name, profile);
    return this;
  }

  /** Replace an existing profile with a changed copy. */
  updateProfile(profile: Profile): this {
    this.validateProfile(profile.name);
    this.#profiles.set(profile.name, profile);
    return this;
  }

  /**
   * Remove a profile. When it was the default, the first remaining profile becomes the default.
   *
   * @returns the new default profile name, if it changed.
   */
  removeProfile(name: string): string | undefined {
    this.validateProfile(name);
    this.#profiles.delete(name);
    if (this.#defaultProfile !== name) return undefined;
    this.#defaultProfile = this.profileNames[0];
    return this.#defaultProfile;
  }

  /** Set the default profile; unless `overwrite`, an existing default is kept. */
  setDefaultProfile(name: string, overwrite = true): this {
    if (this.#defaultProfile !== undefined && !overwrite) return this;
    this.validateProfile(name);
    this.#defaultProfile = name;
    return this;
  }

  /**
   * Set an option for a profile (`scope`) or globally (no scope, or a global-only option).
   *
   * @returns the stored value.
   * @throws ConfigurationError when the option is unknown or the value invalid.
   */
  setOption(name: string, value: unknown, scope?: string): unknown {
    const option = getOption(name);
    if (scope !== undefined && !option.globalOnly) {
      const profile = this.getProfile(scope);
      return profile.setOption(name, value);
    }
    const parsed = validateOption(name, value);
    this.#options = { ...this.#options, [name]: parsed };
    return parsed;
  }

  /** Remove an option from a profile or from the global options. */
  unsetOption(name: string, scope?: string): void {
    getOption(name);
    if (scope !== undefined) {
      this.getProfile(scope).unsetOption(name);
      return;
    }
    const { [name]: _removed, ...rest } = this.#options;
    this.#options = rest;
  }

  /**
   * The effective value of an option for a profile (`scope`) or globally: the profile's value, else the global
   * one, else the default (unless `withDefault` is false).
   */
  getOption(name: string, scope?: string, withDefault = true): unknown {
    const option = getOption(name);
    if (scope !== undefined) {
      const value = this.getProfile(scope).getOption(name);
      if (value !== undefined) return value;
    }
    if (name in this.#options) return copyOptionValue(this.#options[name]);
    return withDefault ? copyOptionValue(option.default) : undefined;
  }

  /** Every option with a value for the scope, with where the value comes from. */
  getOptions(scope?: string): Map<string, OptionValue> {
    const profile = scope === undefined ? undefined : this.getProfile(scope);
    const profileOptions = profile?.options ?? {};
    const values = new Map<string, OptionValue>();
    for (const name of getOptionNames()) {
      const option = getOption(name);
      if (name in profileOptions)
        values.set(name, { option, source: 'profile', value: profileOptions[name] });
      else if (name in this.#options)
        values.set(name, { option, source: 'global', value: this.#options[name] });
      else if (option.default !== undefined)
        values.set(name, { option, source: 'default', value: option.default });
    }
    return values;
  }

  /** The content of `config.json`, with AiiDA's keys. */
  toJSON(): ConfigData {
    const data: ConfigData = {
      ...(this.#schemaUrl === undefined ? {} : { $schema: this.#schemaUrl }),
      CONFIG_VERSION: { ...this.#version },
      profiles: Object.fromEntries(this.profiles.map((profile) => [profile.name, profile.toJSON()])),
      ...(this.#defaultProfile === undefined ? {} : { default_profile: this.#defaultProfile }),
      ...(Object.keys(this.#options).length === 0 ? {} : { options: structuredClone(this.#options) }),
    };
    return data;
  }

  #write(): void {
    // Validate what is about to be written: a bug must never leave a file that cannot be read back.
    Config.fromData(this.filepath, this.toJSON());
    mkdirSync(this.dirpath, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.filepath, `${JSON.stringify(this.toJSON(), null, DEFAULT_CONFIG_INDENT_SIZE)}\n`);
  }

  /**
   * Write this configuration as it is in memory, under the lock, replacing the file atomically. Prefer
   * {@link Config.update} when other processes may change the file meanwhile.
   */
  store(lock: FileLockOptions = {}): this {
    withFileLock(this.filepath, () => this.#write(), lock);
    return this;
  }

  /**
   * Change the configuration file safely: under the lock, re-read the file (so changes made by other processes since
   * this object was read are kept), apply `mutate` to it, validate, write it atomically, and make this object equal
   * to the result. When `mutate` throws, nothing is written.
   *
   * @returns what `mutate` returned.
   */
  update<T>(mutate: (config: Config) => T, lock: FileLockOptions = {}): T {
    return withFileLock(
      this.filepath,
      () => {
        const raw = Config.#readRaw(this.filepath);
        const fresh =
          raw === undefined
            ? Config.empty(this.filepath)
            : Config.fromData(
                this.filepath,
                configNeedsMigrating(raw, this.filepath) ? upgradeConfig(raw) : raw,
              );
        const result = mutate(fresh);
        fresh.#write();
        this.#adopt(fresh);
        return result;
      },
      lock,
    );
  }

  /** Re-read the file into this object, dropping unsaved changes. */
  reload(): this {
    this.#adopt(Config.fromFile(this.filepath));
    return this;
  }

  #adopt(other: Config): void {
    this.#schemaUrl = other.#schemaUrl;
    this.#version = { ...other.#version };
    this.#profiles = new Map(other.profiles.map((profile) => [profile.name, profile.withName(profile.name)]));
    this.#options = structuredClone(other.#options);
    this.#defaultProfile = other.#defaultProfile;
  }
}
