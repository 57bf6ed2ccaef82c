import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  ConfigurationError,
  IntegrityError,
  InvalidOperationError,
  NotExistentError,
  ValidationError,
} from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { DbAuthInfoRow, DbComputerRow } from '../../storage/schema.js';
import { cleanValue, cloneJson, type JsonValue } from '../utils/clean.js';
import { isForeignKeyViolation, isUniqueViolation } from '../utils/db-errors.js';
import { User } from './user.js';

/** The keys of `db_dbcomputer.metadata` aiida-core defines, with their defaults where it has one. */
export const ComputerProperty = {
  WORKDIR: 'workdir',
  SHEBANG: 'shebang',
  MPIRUN_COMMAND: 'mpirun_command',
  DEFAULT_MPIPROCS_PER_MACHINE: 'default_mpiprocs_per_machine',
  DEFAULT_MEMORY_PER_MACHINE: 'default_memory_per_machine',
  PREPEND_TEXT: 'prepend_text',
  APPEND_TEXT: 'append_text',
  USE_DOUBLE_QUOTES: 'use_double_quotes',
  MINIMUM_SCHEDULER_POLL_INTERVAL: 'minimum_scheduler_poll_interval',
} as const;

/** aiida-core's defaults for unset computer properties. */
export const COMPUTER_DEFAULTS = {
  workdir: '/scratch/{username}/aiida_run/',
  shebang: '#!/bin/bash',
  mpirun_command: ['mpirun', '-np', '{tot_num_mpiprocs}'],
  prepend_text: '',
  append_text: '',
  use_double_quotes: false,
  minimum_scheduler_poll_interval: 10.0,
} as const;

/**
 * How computers reach the transport and scheduler plugins, installed by those modules (the ORM does not depend
 * on them): valid authentication parameters of a transport type, and factories.
 */
export interface ComputerPluginHooks {
  validAuthParams?(transportType: string): readonly string[] | undefined;
  createTransport?(options: { readonly computer: Computer; readonly authInfo: AuthInfo }): unknown;
  createScheduler?(options: { readonly computer: Computer }): unknown;
}

let hooks: ComputerPluginHooks = {};

/** Installs the transport/scheduler hooks (merged with the ones already installed). */
export function setComputerPluginHooks(next: ComputerPluginHooks): void {
  hooks = { ...hooks, ...next };
}

/** The fields of a new {@link Computer}. */
export interface ComputerInit {
  readonly label: string;
  readonly hostname?: string;
  readonly description?: string;
  /** Transport entry point, e.g. `core.local`, `core.ssh`. */
  readonly transportType?: string;
  /** Scheduler entry point, e.g. `core.direct`, `core.slurm`. */
  readonly schedulerType?: string;
  readonly workdir?: string;
  readonly metadata?: Record<string, unknown>;
  readonly uuid?: string;
}

/** A machine processes run on (`db_dbcomputer`); label unique. */
export class Computer {
  #storage: StorageBackend | undefined;
  #pk: number | null = null;
  readonly #uuid: string;
  #label: string;
  #hostname: string;
  #description: string;
  #transportType: string;
  #schedulerType: string;
  #metadata: Record<string, JsonValue>;

  constructor(init: ComputerInit, options: StorageOption = {}) {
    this.#uuid = init.uuid ?? randomUUID();
    this.#label = init.label;
    this.#hostname = init.hostname ?? '';
    this.#description = init.description ?? '';
    this.#transportType = init.transportType ?? '';
    this.#schedulerType = init.schedulerType ?? '';
    this.#metadata = cleanValue(init.metadata ?? {}, 'metadata') as Record<string, JsonValue>;
    if (init.workdir !== undefined) this.#metadata[ComputerProperty.WORKDIR] = init.workdir;
    this.#storage = options.storage;
  }

  /** @internal */
  static fromRow(storage: StorageBackend, row: DbComputerRow): Computer {
    const computer = new Computer(
      {
        uuid: row.uuid,
        label: row.label,
        hostname: row.hostname,
        description: row.description,
        transportType: row.transport_type,
        schedulerType: row.scheduler_type,
        metadata: (storage.dialect.decodeJson(row.metadata) ?? {}) as Record<string, unknown>,
      },
      { storage },
    );
    computer.#pk = row.id;
    return computer;
  }

  get pk(): number | null {
    return this.#pk;
  }
  get uuid(): string {
    return this.#uuid;
  }
  get label(): string {
    return this.#label;
  }
  get hostname(): string {
    return this.#hostname;
  }
  get description(): string {
    return this.#description;
  }
  get transportType(): string {
    return this.#transportType;
  }
  get schedulerType(): string {
    return this.#schedulerType;
  }
  /** A copy of the metadata (`workdir`, `shebang`, `mpirun_command`, …). */
  get metadata(): Record<string, JsonValue> {
    return cloneJson(this.#metadata);
  }
  get isStored(): boolean {
    return this.#pk !== null;
  }
  get storage(): StorageBackend | undefined {
    return this.#storage;
  }

  /** A metadata property, or `defaultValue`, or aiida's default; `NotExistentError` when none applies. */
  getProperty(name: string, defaultValue?: unknown): unknown {
    if (Object.hasOwn(this.#metadata, name)) return cloneJson(this.#metadata[name]);
    if (defaultValue !== undefined) return defaultValue;
    if (Object.hasOwn(COMPUTER_DEFAULTS, name))
      return cloneJson(COMPUTER_DEFAULTS[name as keyof typeof COMPUTER_DEFAULTS] as JsonValue);
    throw new NotExistentError(`'${name}' property not found`);
  }

  getWorkdir(): string {
    return this.getProperty(ComputerProperty.WORKDIR) as string;
  }
  getShebang(): string {
    return this.getProperty(ComputerProperty.SHEBANG) as string;
  }
  getMpirunCommand(): string[] {
    return this.getProperty(ComputerProperty.MPIRUN_COMMAND) as string[];
  }
  getDefaultMpiprocsPerMachine(): number | null {
    return (this.getProperty(ComputerProperty.DEFAULT_MPIPROCS_PER_MACHINE, null) as number | null) ?? null;
  }
  getDefaultMemoryPerMachine(): number | null {
    return (this.getProperty(ComputerProperty.DEFAULT_MEMORY_PER_MACHINE, null) as number | null) ?? null;
  }
  getPrependText(): string {
    return this.getProperty(ComputerProperty.PREPEND_TEXT) as string;
  }
  getAppendText(): string {
    return this.getProperty(ComputerProperty.APPEND_TEXT) as string;
  }
  getUseDoubleQuotes(): boolean {
    return this.getProperty(ComputerProperty.USE_DOUBLE_QUOTES) as boolean;
  }
  /** The minimum seconds between scheduler polls (aiida's default 10). */
  getMinimumJobPollInterval(): number {
    return this.getProperty(ComputerProperty.MINIMUM_SCHEDULER_POLL_INTERVAL) as number;
  }

  /** Sets metadata properties (validated) and, for a stored computer, saves them. */
  async setProperties(values: Record<string, unknown>): Promise<void> {
    const next = { ...this.#metadata, ...(cleanValue(values, 'metadata') as Record<string, JsonValue>) };
    Computer.validateMetadata(next);
    this.#metadata = next;
    if (this.#pk === null || this.#storage === undefined) return;
    await this.#save({ metadata: this.#storage.dialect.encodeJson(next) });
  }

  /** Changes label, hostname, description (and saves them when stored). */
  async update(fields: { label?: string; hostname?: string; description?: string }): Promise<void> {
    const previous = { label: this.#label, hostname: this.#hostname, description: this.#description };
    if (fields.label !== undefined) this.#label = fields.label;
    if (fields.hostname !== undefined) this.#hostname = fields.hostname;
    if (fields.description !== undefined) this.#description = fields.description;
    try {
      this.validate();
      await this.#save({ label: this.#label, hostname: this.#hostname, description: this.#description });
    } catch (error) {
      if (error instanceof NotStoredYet) return;
      this.#label = previous.label;
      this.#hostname = previous.hostname;
      this.#description = previous.description;
      if (isUniqueViolation(error))
        throw new IntegrityError(`a computer labelled \`${fields.label}\` already exists`, { cause: error });
      throw error;
    }
  }

  async #save(set: {
    label?: string;
    hostname?: string;
    description?: string;
    metadata?: string;
  }): Promise<void> {
    if (this.#pk === null || this.#storage === undefined) throw new NotStoredYet();
    await this.#storage.executor().updateTable('db_dbcomputer').set(set).where('id', '=', this.#pk).execute();
  }

  private static validateMetadata(metadata: Record<string, JsonValue>): void {
    const workdir = metadata[ComputerProperty.WORKDIR];
    if (workdir !== undefined) {
      if (typeof workdir !== 'string' || workdir === '') throw new ValidationError('No workdir specified');
      const unknown = [...workdir.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((f) => f !== 'username');
      if (unknown.length > 0)
        throw new ValidationError(`In workdir there is an unknown replacement field ${unknown[0]}`);
      if (!path.posix.isAbsolute(workdir.replaceAll('{username}', 'user'))) {
        throw new ValidationError('The workdir must be an absolute path');
      }
    }
    const mpirun = metadata[ComputerProperty.MPIRUN_COMMAND];
    if (
      mpirun !== undefined &&
      (!Array.isArray(mpirun) || !mpirun.every((item) => typeof item === 'string'))
    ) {
      throw new ValidationError('the mpirun_command must be a list of strings');
    }
    const shebang = metadata[ComputerProperty.SHEBANG];
    if (shebang !== undefined && (typeof shebang !== 'string' || !shebang.startsWith('#!'))) {
      throw new ValidationError(`${JSON.stringify(shebang)} is invalid. A shebang line has to start with #!`);
    }
  }

  /** Throws a `ValidationError` when the computer cannot be stored. */
  validate(): void {
    if (typeof this.#label !== 'string' || this.#label.trim() === '')
      throw new ValidationError('No label specified');
    if (this.#hostname.trim() === '') throw new ValidationError('No hostname specified');
    if (this.#transportType === '') throw new ValidationError('No transport type specified');
    if (this.#schedulerType === '') throw new ValidationError('No scheduler type specified');
    Computer.validateMetadata(this.#metadata);
  }

  /** Stores the computer; `IntegrityError` when the label is taken. */
  async store(options: StorageOption = {}): Promise<this> {
    if (this.isStored) return this;
    this.validate();
    const storage = this.#storage ?? getStorage(options);
    try {
      const row = await storage
        .executor()
        .insertInto('db_dbcomputer')
        .values({
          uuid: this.#uuid,
          label: this.#label,
          hostname: this.#hostname,
          description: this.#description,
          transport_type: this.#transportType,
          scheduler_type: this.#schedulerType,
          metadata: storage.dialect.encodeJson(this.#metadata),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      this.#pk = row.id;
      this.#storage = storage;
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new IntegrityError(
          `a computer labelled \`${this.#label}\` (or with uuid ${this.#uuid}) already exists`,
          { cause: error },
        );
      }
      throw error;
    }
    return this;
  }

  #stored(): { storage: StorageBackend; pk: number } {
    if (this.#pk === null || this.#storage === undefined) {
      throw new InvalidOperationError(`computer \`${this.#label}\` is not stored`);
    }
    return { storage: this.#storage, pk: this.#pk };
  }

  /** The AuthInfo of `user` (default user) on this computer; `NotExistentError` when not configured. */
  async getAuthInfo(user?: User): Promise<AuthInfo> {
    const { storage, pk } = this.#stored();
    const who = user ?? (await User.getDefault({ storage }));
    const row = await storage
      .executor()
      .selectFrom('db_dbauthinfo')
      .selectAll()
      .where('dbcomputer_id', '=', pk)
      .where('aiidauser_id', '=', who.pk!)
      .executeTakeFirst();
    if (row === undefined) {
      throw new NotExistentError(
        `Computer \`${this.#label}\` (ID=${pk}) not configured for user \`${who.getShortName()}\` (ID=${String(who.pk)}) - ` +
          'use `verdi computer configure` first',
      );
    }
    return AuthInfo.fromRow(storage, row, this, who);
  }

  /** Whether the default user (or `user`) has an AuthInfo here. */
  async isUserConfigured(user?: User): Promise<boolean> {
    try {
      await this.getAuthInfo(user);
      return true;
    } catch (error) {
      if (error instanceof NotExistentError) return false;
      throw error;
    }
  }

  /** Whether the AuthInfo of the user exists and is enabled. */
  async isUserEnabled(user?: User): Promise<boolean> {
    try {
      return (await this.getAuthInfo(user)).enabled;
    } catch (error) {
      if (error instanceof NotExistentError) return false;
      throw error;
    }
  }

  /**
   * Configures the computer for `user` (default user): creates or updates its AuthInfo with `authParams`, which
   * must be valid parameters of the transport type when the transport module says which are.
   */
  async configure(authParams: Record<string, unknown> = {}, user?: User): Promise<AuthInfo> {
    const { storage } = this.#stored();
    const who = user ?? (await User.getDefault({ storage }));
    const valid = hooks.validAuthParams?.(this.#transportType);
    if (valid !== undefined) {
      const invalid = Object.keys(authParams).filter((key) => !valid.includes(key));
      if (invalid.length > 0) {
        throw new ValidationError(
          `${this.#transportType}: received invalid authentication parameter(s) ${JSON.stringify(invalid)}`,
        );
      }
    }
    let authInfo: AuthInfo;
    try {
      authInfo = await this.getAuthInfo(who);
    } catch (error) {
      if (!(error instanceof NotExistentError)) throw error;
      authInfo = new AuthInfo({ computer: this, user: who });
    }
    await authInfo.setAuthParams({ ...authInfo.getAuthParams(), ...authParams });
    return authInfo.store();
  }

  /** A (closed) transport for the default user (or `user`), from the transport module. */
  async getTransport<T = unknown>(user?: User): Promise<T> {
    return (await this.getAuthInfo(user)).getTransport<T>();
  }

  /** A scheduler instance of this computer's type, from the scheduler module. */
  getScheduler<T = unknown>(): T {
    if (hooks.createScheduler === undefined) {
      throw new ConfigurationError(
        `No scheduler found for ${this.#label} [type ${this.#schedulerType}]: no scheduler module is loaded`,
      );
    }
    return hooks.createScheduler({ computer: this }) as T;
  }

  /** The stored computer with this label, pk or uuid. */
  static async get(
    identifier: { label: string } | { pk: number } | { uuid: string },
    options: StorageOption = {},
  ): Promise<Computer> {
    const storage = getStorage(options);
    let query = storage.executor().selectFrom('db_dbcomputer').selectAll();
    if ('label' in identifier) query = query.where('label', '=', identifier.label);
    else if ('pk' in identifier) query = query.where('id', '=', identifier.pk);
    else query = query.where('uuid', '=', identifier.uuid);
    const row = await query.executeTakeFirst();
    if (row === undefined) throw new NotExistentError(`no computer with ${JSON.stringify(identifier)}`);
    return Computer.fromRow(storage, row);
  }

  /** The stored computer with this label, or a new stored one made from `init`. */
  static async getOrCreate(
    init: ComputerInit,
    options: StorageOption = {},
  ): Promise<{ computer: Computer; created: boolean }> {
    const storage = getStorage(options);
    return storage.transaction(async () => {
      try {
        return { computer: await Computer.get({ label: init.label }, { storage }), created: false };
      } catch (error) {
        if (!(error instanceof NotExistentError)) throw error;
        return { computer: await new Computer(init, { storage }).store(), created: true };
      }
    });
  }

  static async all(options: StorageOption = {}): Promise<Computer[]> {
    const storage = getStorage(options);
    const rows = await storage.executor().selectFrom('db_dbcomputer').selectAll().orderBy('id').execute();
    return rows.map((row) => Computer.fromRow(storage, row));
  }

  /** Deletes a computer with its AuthInfos; `InvalidOperationError` while nodes use it. */
  static async delete(pk: number, options: StorageOption = {}): Promise<void> {
    const storage = getStorage(options);
    await storage.transaction(async (trx) => {
      const used = await trx
        .selectFrom('db_dbnode')
        .select('id')
        .where('dbcomputer_id', '=', pk)
        .limit(1)
        .execute();
      if (used.length > 0) throw new InvalidOperationError(`computer ${pk} cannot be deleted: nodes use it`);
      await trx.deleteFrom('db_dbauthinfo').where('dbcomputer_id', '=', pk).execute();
      const result = await trx.deleteFrom('db_dbcomputer').where('id', '=', pk).executeTakeFirst();
      if (result.numDeletedRows === 0n) throw new NotExistentError(`Computer with id '${pk}' not found`);
    });
  }

  toString(): string {
    return `${this.#label} (${this.#hostname}), pk: ${String(this.#pk)}`;
  }
}

class NotStoredYet extends Error {}

/** The fields of a new {@link AuthInfo}. */
export interface AuthInfoInit {
  readonly computer: Computer;
  readonly user: User;
  readonly authParams?: Record<string, unknown>;
  readonly metadata?: Record<string, unknown>;
  readonly enabled?: boolean;
}

/** How one user reaches one computer (`db_dbauthinfo`): transport parameters and an enabled flag. */
export class AuthInfo {
  #storage: StorageBackend | undefined;
  #pk: number | null = null;
  readonly #computer: Computer;
  readonly #user: User;
  #authParams: Record<string, JsonValue>;
  #metadata: Record<string, JsonValue>;
  #enabled: boolean;

  constructor(init: AuthInfoInit) {
    this.#computer = init.computer;
    this.#user = init.user;
    this.#authParams = cleanValue(init.authParams ?? {}, 'auth_params') as Record<string, JsonValue>;
    this.#metadata = cleanValue(init.metadata ?? {}, 'metadata') as Record<string, JsonValue>;
    this.#enabled = init.enabled ?? true;
    this.#storage = init.computer.storage;
  }

  /** @internal */
  static fromRow(storage: StorageBackend, row: DbAuthInfoRow, computer: Computer, user: User): AuthInfo {
    const info = new AuthInfo({
      computer,
      user,
      authParams: (storage.dialect.decodeJson(row.auth_params) ?? {}) as Record<string, unknown>,
      metadata: (storage.dialect.decodeJson(row.metadata) ?? {}) as Record<string, unknown>,
      enabled: storage.dialect.decodeBool(row.enabled),
    });
    info.#pk = row.id;
    info.#storage = storage;
    return info;
  }

  get pk(): number | null {
    return this.#pk;
  }
  get isStored(): boolean {
    return this.#pk !== null;
  }
  get computer(): Computer {
    return this.#computer;
  }
  get user(): User {
    return this.#user;
  }
  get enabled(): boolean {
    return this.#enabled;
  }

  getAuthParams(): Record<string, JsonValue> {
    return cloneJson(this.#authParams);
  }
  getMetadata(): Record<string, JsonValue> {
    return cloneJson(this.#metadata);
  }

  async setAuthParams(params: Record<string, unknown>): Promise<void> {
    this.#authParams = cleanValue(params, 'auth_params') as Record<string, JsonValue>;
    await this.#save();
  }
  async setMetadata(metadata: Record<string, unknown>): Promise<void> {
    this.#metadata = cleanValue(metadata, 'metadata') as Record<string, JsonValue>;
    await this.#save();
  }
  async setEnabled(enabled: boolean): Promise<void> {
    this.#enabled = enabled;
    await this.#save();
  }

  async #save(): Promise<void> {
    if (this.#pk === null || this.#storage === undefined) return;
    const dialect = this.#storage.dialect;
    await this.#storage
      .executor()
      .updateTable('db_dbauthinfo')
      .set({
        auth_params: dialect.encodeJson(this.#authParams),
        metadata: dialect.encodeJson(this.#metadata),
        enabled: dialect.encodeBool(this.#enabled),
      })
      .where('id', '=', this.#pk)
      .execute();
  }

  async store(options: StorageOption = {}): Promise<this> {
    if (this.isStored) return this;
    if (!this.#computer.isStored)
      throw new InvalidOperationError('the computer of an AuthInfo must be stored first');
    if (!this.#user.isStored) throw new InvalidOperationError('the user of an AuthInfo must be stored first');
    const storage = this.#storage ?? getStorage(options);
    const dialect = storage.dialect;
    try {
      const row = await storage
        .executor()
        .insertInto('db_dbauthinfo')
        .values({
          aiidauser_id: this.#user.pk!,
          dbcomputer_id: this.#computer.pk!,
          auth_params: dialect.encodeJson(this.#authParams),
          metadata: dialect.encodeJson(this.#metadata),
          enabled: dialect.encodeBool(this.#enabled),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      this.#pk = row.id;
      this.#storage = storage;
    } catch (error) {
      if (isUniqueViolation(error) || isForeignKeyViolation(error)) {
        throw new IntegrityError(
          `computer \`${this.#computer.label}\` is already configured for ${this.#user.email}`,
          { cause: error },
        );
      }
      throw error;
    }
    return this;
  }

  /** A (closed) transport configured with these parameters, from the transport module. */
  getTransport<T = unknown>(): T {
    if (hooks.createTransport === undefined) {
      throw new ConfigurationError(
        `No transport found for ${this.#computer.label} [type ${this.#computer.transportType}]: no transport module is loaded`,
      );
    }
    return hooks.createTransport({ computer: this.#computer, authInfo: this }) as T;
  }

  /** Deletes an AuthInfo; `NotExistentError` when there is none with this pk. */
  static async delete(pk: number, options: StorageOption = {}): Promise<void> {
    const storage = getStorage(options);
    const result = await storage
      .executor()
      .deleteFrom('db_dbauthinfo')
      .where('id', '=', pk)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new NotExistentError(`AuthInfo with id '${pk}' not found`);
  }
}
