import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import {
  ConfigurationError,
  IntegrityError,
  InvalidOperationError,
  MultipleObjectsError,
  NotExistentError,
  ValidationError,
} from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { Scheduler } from '../../schedulers/scheduler.js';
import {
  addComputerToQuota,
  computerPool,
  deleteComputerLimits,
  getPoolLimit,
  quotasOfComputer,
  removeComputerFromQuota,
  setPoolLimit,
} from '../../storage/aiida-ts-schema/job-limits.js';
import type { DbAuthInfoRow, DbComputerRow } from '../../storage/schema.js';
import type { Transport } from '../../transports/transport.js';
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
 * How computers reach the transport and scheduler plugins. The ORM knows no plugin itself: the code that wires a
 * profile together (`loadProfile`, `aiida-ts/testing`, the engine's `Runner`; see `wirePlugins` in `aiida-ts/config`)
 * installs the transport and scheduler registries as the default hooks, loaded on first use, so importing the ORM
 * never loads ssh2 or the scheduler plugins; {@link setComputerPluginHooks} replaces single hooks (a plugin package,
 * a test double). A hook may answer with a Promise.
 */
export interface ComputerPluginHooks {
  /**
   * Checks the auth params of a transport type; throws a `ValidationError` naming every unknown key and every
   * bad value. Returns nothing: the params are stored as given.
   */
  validateAuthParams?(
    transportType: string,
    authParams: Readonly<Record<string, unknown>>,
  ): void | Promise<void>;
  /** The `safe_interval` (seconds between openings) that applies with these auth params. */
  safeOpenInterval?(
    transportType: string,
    authParams: Readonly<Record<string, unknown>>,
  ): number | Promise<number>;
  /** A new, closed transport to the computer, configured with the AuthInfo's auth params. */
  createTransport?(options: {
    readonly computer: Computer;
    readonly authInfo: AuthInfo;
  }): Transport | Promise<Transport>;
  /** A new scheduler of the computer's type, with `transport` attached when one is given. */
  createScheduler?(options: {
    readonly computer: Computer;
    readonly transport?: Transport;
  }): Scheduler | Promise<Scheduler>;
}

let installedHooks: ComputerPluginHooks = {};
let defaultHooks: ComputerPluginHooks | undefined;

/** Installs transport/scheduler hooks, merged over the ones installed before (and over the defaults). */
export function setComputerPluginHooks(next: ComputerPluginHooks): void {
  installedHooks = { ...installedHooks, ...next };
}

/** Drops every hook installed with {@link setComputerPluginHooks}: the defaults apply again. */
export function resetComputerPluginHooks(): void {
  installedHooks = {};
}

/**
 * Installs the hooks that apply where {@link setComputerPluginHooks} set none: the wiring of a profile installs the
 * transport and scheduler registries here (once; later calls replace them).
 */
export function setDefaultComputerPluginHooks(hooks: ComputerPluginHooks): void {
  defaultHooks = hooks;
}

/** Whether default hooks are installed (the wiring installs them once). */
export function hasDefaultComputerPluginHooks(): boolean {
  return defaultHooks !== undefined;
}

/** The hooks in force: the installed ones over the defaults. */
function pluginHooks(): ComputerPluginHooks {
  return { ...defaultHooks, ...installedHooks };
}

/** The `ConfigurationError` for a hook nobody installed: a storage opened without wiring its plugins. */
function notWired(what: string): ConfigurationError {
  return new ConfigurationError(
    `${what}: no transport and scheduler plugins are wired (load a profile with loadProfile(), or call wirePlugins() from aiida-ts/config after opening a storage yourself)`,
  );
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

  setWorkdir(workdir: string): Promise<void> {
    return this.setProperties({ [ComputerProperty.WORKDIR]: workdir });
  }
  setShebang(shebang: string): Promise<void> {
    return this.setProperties({ [ComputerProperty.SHEBANG]: shebang });
  }
  setMpirunCommand(command: readonly string[]): Promise<void> {
    return this.setProperties({ [ComputerProperty.MPIRUN_COMMAND]: [...command] });
  }
  /** A positive integer, or null for no default. */
  setDefaultMpiprocsPerMachine(value: number | null): Promise<void> {
    return this.setProperties({ [ComputerProperty.DEFAULT_MPIPROCS_PER_MACHINE]: value });
  }
  /** A positive integer (kB), or null for no default. */
  setDefaultMemoryPerMachine(value: number | null): Promise<void> {
    return this.setProperties({ [ComputerProperty.DEFAULT_MEMORY_PER_MACHINE]: value });
  }
  setPrependText(text: string): Promise<void> {
    return this.setProperties({ [ComputerProperty.PREPEND_TEXT]: text });
  }
  setAppendText(text: string): Promise<void> {
    return this.setProperties({ [ComputerProperty.APPEND_TEXT]: text });
  }
  setUseDoubleQuotes(value: boolean): Promise<void> {
    return this.setProperties({ [ComputerProperty.USE_DOUBLE_QUOTES]: value });
  }
  /** Seconds between two scheduler polls of this computer. */
  setMinimumJobPollInterval(seconds: number): Promise<void> {
    return this.setProperties({ [ComputerProperty.MINIMUM_SCHEDULER_POLL_INTERVAL]: seconds });
  }

  /**
   * The most jobs this computer may have with its scheduler at once, counted across every process of the profile
   * (null: no limit). Kept in the aiida-ts tables, not in `metadata`, so aiida-core sees nothing new.
   */
  async getJobLimit(): Promise<number | null> {
    const { storage } = this.#stored();
    return getPoolLimit(storage, computerPool(this.#uuid));
  }
  /**
   * Sets the cap on queued jobs (null removes it). Jobs waiting for a slot see the new limit within a second;
   * `getCoordinator(storage).setLimit(...)` (aiida-ts/engine) also grants what now fits at once.
   */
  async setJobLimit(limit: number | null): Promise<void> {
    const { storage } = this.#stored();
    await setPoolLimit(storage, computerPool(this.#uuid), limit);
  }
  /** The names of the quotas (shared by several computers) that jobs on this computer count against. */
  async getQuotas(): Promise<string[]> {
    const { storage } = this.#stored();
    return quotasOfComputer(storage, this.#uuid);
  }
  /** Makes jobs on this computer count against the quota `name` (which must exist). */
  async addToQuota(name: string): Promise<void> {
    const { storage } = this.#stored();
    await addComputerToQuota(storage, name, this.#uuid);
  }
  /** Stops jobs on this computer counting against the quota `name`. */
  async removeFromQuota(name: string): Promise<void> {
    const { storage } = this.#stored();
    await removeComputerFromQuota(storage, name, this.#uuid);
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
    if (this.#pk === null || this.#storage === undefined)
      throw new NotStoredYet('the computer is not stored');
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
    for (const key of [
      ComputerProperty.DEFAULT_MPIPROCS_PER_MACHINE,
      ComputerProperty.DEFAULT_MEMORY_PER_MACHINE,
    ]) {
      const value = metadata[key];
      if (value !== undefined && value !== null && !(Number.isInteger(value) && (value as number) > 0)) {
        throw new ValidationError(
          `Invalid value for ${key}: ${JSON.stringify(value)}; it must be a positive integer (or null for no default)`,
        );
      }
    }
    const interval = metadata[ComputerProperty.MINIMUM_SCHEDULER_POLL_INTERVAL];
    if (interval !== undefined && (typeof interval !== 'number' || !Number.isFinite(interval))) {
      throw new ValidationError(
        `Invalid value for minimum_scheduler_poll_interval: ${JSON.stringify(interval)}; it must be a number of seconds`,
      );
    }
    const quotes = metadata[ComputerProperty.USE_DOUBLE_QUOTES];
    if (quotes !== undefined && typeof quotes !== 'boolean') {
      throw new ValidationError(
        `Invalid value for use_double_quotes: ${JSON.stringify(quotes)}; it must be a boolean`,
      );
    }
    for (const key of [ComputerProperty.PREPEND_TEXT, ComputerProperty.APPEND_TEXT]) {
      const text = metadata[key];
      if (text !== undefined && typeof text !== 'string') {
        throw new ValidationError(`Invalid value for ${key}: ${JSON.stringify(text)}; it must be a string`);
      }
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
    // a fixed text, prepared once per connection: every calculation job reads its AuthInfo
    const [row] = await storage.executeRead<DbAuthInfoRow>(
      'SELECT * FROM db_dbauthinfo WHERE dbcomputer_id = $1 AND aiidauser_id = $2',
      [pk, who.pk],
    );
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

  /** Whether the computer is configured for the default user (aiida's `is_configured`). */
  async isConfigured(): Promise<boolean> {
    return this.isUserConfigured();
  }

  /** Enables the computer for `user` (default user); `NotExistentError` when it is not configured for them. */
  async enable(user?: User): Promise<void> {
    await (await this.getAuthInfo(user)).setEnabled(true);
  }

  /**
   * Disables the computer for `user` (default user), e.g. during maintenance: the engine does not submit to a
   * disabled computer. `NotExistentError` when it is not configured for them.
   */
  async disable(user?: User): Promise<void> {
    await (await this.getAuthInfo(user)).setEnabled(false);
  }

  /**
   * Configures the computer for `user` (default user): creates or updates its AuthInfo, merging `authParams` into
   * the parameters stored before. The merged parameters must pass the transport type's schema: a
   * `ValidationError` names every unknown key and every bad value, and nothing is stored.
   */
  async configure(authParams: Record<string, unknown> = {}, user?: User): Promise<AuthInfo> {
    const { storage } = this.#stored();
    const who = user ?? (await User.getDefault({ storage }));
    let authInfo: AuthInfo;
    try {
      authInfo = await this.getAuthInfo(who);
    } catch (error) {
      if (!(error instanceof NotExistentError)) throw error;
      authInfo = new AuthInfo({ computer: this, user: who });
    }
    const merged = { ...authInfo.getAuthParams(), ...authParams };
    const hooks = pluginHooks();
    if (hooks.validateAuthParams === undefined)
      throw notWired(`cannot check the auth params of ${this.#label} [type ${this.#transportType}]`);
    await hooks.validateAuthParams(this.#transportType, merged);
    await authInfo.setAuthParams(merged);
    return authInfo.store();
  }

  /** The stored auth params of `user` (default user), or `{}` when not configured (aiida's `get_configuration`). */
  async getConfiguration(user?: User): Promise<Record<string, JsonValue>> {
    try {
      return (await this.getAuthInfo(user)).getAuthParams();
    } catch (error) {
      if (error instanceof NotExistentError) return {};
      throw error;
    }
  }

  /**
   * A new, closed transport for the default user (or `user`), built by the transport registry from the user's
   * auth params; open it (and close it) yourself, or use {@link openTransport}. `NotExistentError` when the
   * computer is not configured for the user.
   */
  async getTransport(user?: User): Promise<Transport> {
    return (await this.getAuthInfo(user)).getTransport();
  }

  /** Like {@link getTransport} but already open; close it (or `await using` it) when done. */
  async openTransport(user?: User): Promise<Transport> {
    const transport = await this.getTransport(user);
    await transport.open();
    return transport;
  }

  /**
   * A new scheduler of this computer's type from the scheduler registry, with `options.transport` attached (it
   * must be open before the scheduler runs commands). `ConfigurationError` for an unknown scheduler type.
   */
  async getScheduler(options: { readonly transport?: Transport } = {}): Promise<Scheduler> {
    const hooks = pluginHooks();
    if (hooks.createScheduler === undefined)
      throw notWired(`No scheduler found for ${this.#label} [type ${this.#schedulerType}]`);
    return hooks.createScheduler({
      computer: this,
      ...(options.transport === undefined ? {} : { transport: options.transport }),
    });
  }

  /**
   * Opens a transport for `user` (default user), gives it with a scheduler attached to `action`, and closes the
   * transport afterwards, also when `action` fails.
   */
  async withTransport<T>(
    action: (connection: { readonly transport: Transport; readonly scheduler: Scheduler }) => Promise<T>,
    user?: User,
  ): Promise<T> {
    const transport = await this.openTransport(user);
    try {
      return await action({ transport, scheduler: await this.getScheduler({ transport }) });
    } finally {
      await transport.close();
    }
  }

  /** The stored computer with this label, pk or uuid. */
  static async get(
    identifier: { label: string } | { pk: number } | { uuid: string },
    options: StorageOption = {},
  ): Promise<Computer> {
    const storage = getStorage(options);
    if ('pk' in identifier) {
      // by pk (a node's computer, for every `verdi node show` of a calculation): a prepared text, no query to build
      const [row] = await storage.executeRead<DbComputerRow>('SELECT * FROM db_dbcomputer WHERE id = $1', [
        identifier.pk,
      ]);
      if (row === undefined) throw new NotExistentError(`no computer with ${JSON.stringify(identifier)}`);
      return Computer.fromRow(storage, row);
    }
    let query = storage.executor().selectFrom('db_dbcomputer').selectAll();
    if ('label' in identifier) query = query.where('label', '=', identifier.label);
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
    const uuid = await storage.transaction(async (trx) => {
      const used = await trx
        .selectFrom('db_dbnode')
        .select('id')
        .where('dbcomputer_id', '=', pk)
        .limit(1)
        .execute();
      if (used.length > 0) throw new InvalidOperationError(`computer ${pk} cannot be deleted: nodes use it`);
      await trx.deleteFrom('db_dbauthinfo').where('dbcomputer_id', '=', pk).execute();
      const row = await trx
        .deleteFrom('db_dbcomputer')
        .where('id', '=', pk)
        .returning('uuid')
        .executeTakeFirst();
      if (row === undefined) throw new NotExistentError(`Computer with id '${pk}' not found`);
      return row.uuid;
    });
    // its cap on queued jobs and quota memberships go with it
    await deleteComputerLimits(storage, uuid);
  }

  toString(): string {
    return `${this.#label} (${this.#hostname}), pk: ${String(this.#pk)}`;
  }
}

/** Internal signal: the computer is not stored yet, so there is nothing to write through. */
class NotStoredYet extends InvalidOperationError {}

/**
 * The stored computer an identifier names, as aiida's `load_computer`: a number or digits is a pk, hex digits
 * with dashes a uuid (or a prefix of one), anything else a label; a trailing `!` forces a label. When a pk or
 * uuid reading finds nothing the identifier is tried as a label. `NotExistentError` when nothing matches,
 * `MultipleObjectsError` for an ambiguous uuid prefix.
 */
export async function loadComputer(
  identifier: string | number,
  options: StorageOption = {},
): Promise<Computer> {
  const storage = getStorage(options);
  const text = String(identifier);
  if (text === '') throw new ValidationError('the identifier of a computer cannot be empty');
  if (text.endsWith('!')) return Computer.get({ label: text.replace(/!+$/u, '') }, { storage });
  const attempt = async (): Promise<Computer | undefined> => {
    if (/^\d+$/u.test(text)) {
      const row = await storage
        .executor()
        .selectFrom('db_dbcomputer')
        .selectAll()
        .where('id', '=', Number(text))
        .executeTakeFirst();
      return row === undefined ? undefined : Computer.fromRow(storage, row);
    }
    if (/^[0-9a-f-]+$/iu.test(text) && text.replaceAll('-', '').length <= 32) {
      const rows = await storage
        .executor()
        .selectFrom('db_dbcomputer')
        .selectAll()
        .where(storage.dialect.uuidText(sql.ref('uuid')), 'like', `${text.toLowerCase()}%`)
        .limit(2)
        .execute();
      if (rows.length > 1)
        throw new MultipleObjectsError(`more than one computer has a uuid starting with \`${text}\``);
      return rows[0] === undefined ? undefined : Computer.fromRow(storage, rows[0]);
    }
    return undefined;
  };
  const found = await attempt();
  if (found !== undefined) return found;
  try {
    return await Computer.get({ label: text }, { storage });
  } catch (error) {
    if (error instanceof NotExistentError)
      throw new NotExistentError(`no computer found with label, pk or uuid \`${text}\``, { cause: error });
    throw error;
  }
}

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

  /** A new, closed transport configured with these parameters, from the transport registry. */
  async getTransport(): Promise<Transport> {
    const hooks = pluginHooks();
    if (hooks.createTransport === undefined)
      throw notWired(`No transport found for ${this.#computer.label} [type ${this.#computer.transportType}]`);
    return hooks.createTransport({ computer: this.#computer, authInfo: this });
  }

  /**
   * Seconds to leave between two openings of a transport with these parameters: the stored `safe_interval`, else
   * the transport type's default (0 for `core.local`, 15 for `core.ssh`).
   */
  async getSafeOpenInterval(): Promise<number> {
    const hooks = pluginHooks();
    const given = this.#authParams['safe_interval'];
    if (hooks.safeOpenInterval === undefined) return typeof given === 'number' ? given : 0;
    return hooks.safeOpenInterval(this.#computer.transportType, this.#authParams);
  }

  /** The computer's work directory template (`{username}` not yet filled in). */
  getWorkdir(): string {
    return this.#computer.getWorkdir();
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
