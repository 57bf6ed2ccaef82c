import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { copyOptionValue, getOption, validateOption } from './options.js';
import {
  BROKER_DEFAULTS,
  type BrokerBackend,
  type BrokerConfig,
  type OptionsData,
  type ProfileData,
  ProfileSchema,
} from './schema.js';

/** What a new profile is made of; the uuid is generated when not given. */
export interface ProfileInit {
  readonly uuid?: string;
  readonly storage: { readonly backend: string; readonly config: Record<string, unknown> };
  readonly processControl?: {
    readonly backend: BrokerBackend | null;
    readonly config?: Partial<BrokerConfig> | null;
  };
  readonly defaultUserEmail?: string | null;
  readonly isTestProfile?: boolean;
  readonly options?: OptionsData;
}

/** A complete broker connection: the given keys over {@link BROKER_DEFAULTS}. */
export function withBrokerDefaults(
  config: Partial<Record<keyof BrokerConfig, unknown>> | null | undefined,
): BrokerConfig {
  const defined = Object.fromEntries(Object.entries(config ?? {}).filter(([, value]) => value !== undefined));
  return { ...structuredClone(BROKER_DEFAULTS), ...structuredClone(defined) };
}

/** A new profile uuid, in AiiDA's form (32 hex digits, no dashes). */
export function newProfileUuid(): string {
  return randomUUID().replaceAll('-', '');
}

/**
 * A profile as stored in `config.json`: a storage, an optional broker, a default user and per-profile options.
 * Instances are plain values; nothing is written until the owning {@link Config} is stored.
 */
export class Profile {
  readonly name: string;
  #data: ProfileData;

  /** Wrap the profile's entry of `config.json`; the data is validated and copied. */
  constructor(name: string, data: ProfileData) {
    const parsed = ProfileSchema.safeParse(data);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (issue) => `${[name, ...issue.path].join('.')}: ${issue.message}`,
      );
      throw new ConfigurationError(`invalid profile \`${name}\`: ${issues.join('; ')}`, {
        cause: parsed.error,
      });
    }
    this.name = name;
    this.#data = structuredClone(parsed.data);
  }

  /** Build a profile from its parts, giving it a fresh uuid unless one is passed. */
  static create(name: string, init: ProfileInit): Profile {
    return new Profile(name, {
      PROFILE_UUID: init.uuid ?? newProfileUuid(),
      storage: { backend: init.storage.backend, config: { ...init.storage.config } },
      process_control: {
        backend: init.processControl?.backend ?? null,
        config: init.processControl?.backend ? withBrokerDefaults(init.processControl.config) : null,
      },
      default_user_email: init.defaultUserEmail ?? null,
      test_profile: init.isTestProfile ?? false,
      options: { ...(init.options ?? {}) },
    });
  }

  /** The profile's uuid (`PROFILE_UUID`), which names its broker queues. */
  get uuid(): string {
    return this.#data.PROFILE_UUID;
  }

  /** Entry point name of the storage backend, e.g. `core.sqlite_dos`. */
  get storageBackend(): string {
    return this.#data.storage.backend;
  }

  /** The storage backend's own configuration (a copy). */
  get storageConfig(): Record<string, unknown> {
    return structuredClone(this.#data.storage.config);
  }

  /** Replace the storage backend and its configuration. */
  setStorage(backend: string, config: Record<string, unknown>): void {
    this.#data.storage = { backend, config: structuredClone(config) };
  }

  /** Entry point name of the broker, or `null` when the profile has none. */
  get processControlBackend(): BrokerBackend | null {
    return this.#data.process_control.backend;
  }

  /** The broker connection with every missing key filled from {@link BROKER_DEFAULTS}. */
  get processControlConfig(): BrokerConfig {
    return withBrokerDefaults(this.#data.process_control.config);
  }

  /** Replace the broker; `null` removes it. */
  setProcessControl(backend: BrokerBackend | null, config: Partial<BrokerConfig> | null = null): void {
    this.#data.process_control = {
      backend,
      config: backend === null ? null : withBrokerDefaults(config),
    };
  }

  /** Email of the profile's default user, when one was set. */
  get defaultUserEmail(): string | null {
    return this.#data.default_user_email ?? null;
  }

  set defaultUserEmail(email: string | null) {
    this.#data.default_user_email = email;
  }

  /** True only when `test_profile` is literally `true`: a test profile may be wiped by test fixtures. */
  get isTestProfile(): boolean {
    return this.#data.test_profile === true;
  }

  set isTestProfile(value: boolean) {
    this.#data.test_profile = value;
  }

  /** The options set on this profile (a copy), without defaults. */
  get options(): OptionsData {
    return structuredClone(this.#data.options ?? {});
  }

  /** The option's value as set on this profile, or `undefined`. */
  getOption(name: string): unknown {
    getOption(name);
    return copyOptionValue(this.#data.options?.[name]);
  }

  /**
   * Set an option on this profile.
   *
   * @throws ConfigurationError when the option is unknown, global-only or the value invalid.
   */
  setOption(name: string, value: unknown): unknown {
    const option = getOption(name);
    if (option.globalOnly) {
      throw new ConfigurationError(`the option \`${name}\` can only be set globally`);
    }
    const parsed = validateOption(name, value);
    this.#data.options = { ...(this.#data.options ?? {}), [name]: parsed };
    return parsed;
  }

  /** Remove an option from this profile (it then falls back to the global value or the default). */
  unsetOption(name: string): void {
    getOption(name);
    if (this.#data.options === undefined) return;
    const { [name]: _removed, ...rest } = this.#data.options;
    this.#data.options = rest;
  }

  /** A copy under another name (same uuid), e.g. for a rename. */
  withName(name: string): Profile {
    return new Profile(name, this.toJSON());
  }

  /** The profile's entry of `config.json`, with AiiDA's keys. */
  toJSON(): ProfileData {
    return structuredClone(this.#data);
  }
}
