import { NotExistentError } from '../../errors.js';
import { cleanValue, cloneJson, validateKey, type JsonValue } from '../utils/clean.js';

/** What {@link EntityExtras} needs from the entity (a node or a group) that owns them. */
export interface ExtrasHost {
  isStored(): boolean;
  /** The live extras object of the entity. */
  values(): Record<string, JsonValue>;
  /** Persists a change of a stored entity: keys written, keys removed, or (with `reset`) the whole object. */
  persist(change: {
    readonly set: Record<string, JsonValue>;
    readonly remove: readonly string[];
    readonly reset?: Record<string, JsonValue>;
  }): Promise<void>;
}

/**
 * The extras of a node or group: free-form JSON values that stay mutable after storing. Values are cleaned (and
 * base-type nodes converted) at once; on a stored entity every change is written immediately, touching only the
 * keys it changes. Reads of a stored entity return copies.
 */
export class EntityExtras {
  readonly #host: ExtrasHost;

  constructor(host: ExtrasHost) {
    this.#host = host;
  }

  #read<T extends JsonValue>(value: T): T {
    return this.#host.isStored() ? cloneJson(value) : value;
  }

  /** The value of `key`; `NotExistentError` when missing and no default is given. */
  get(key: string, ...defaultValue: [unknown?]): unknown {
    const values = this.#host.values();
    if (Object.hasOwn(values, key)) return this.#read(values[key]!);
    if (defaultValue.length > 0) return defaultValue[0];
    throw new NotExistentError(`extra \`${key}\` does not exist`);
  }

  /** The values of `keys`; `NotExistentError` naming the first missing key. */
  getMany(keys: readonly string[]): unknown[] {
    return keys.map((key) => this.get(key));
  }

  /** Every extra (a copy when stored). */
  all(): Record<string, JsonValue> {
    return this.#read(this.#host.values());
  }

  keys(): string[] {
    return Object.keys(this.#host.values());
  }

  items(): [string, JsonValue][] {
    return Object.entries(this.all());
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#host.values(), key);
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.setMany({ [key]: value });
  }

  /** Sets several extras at once; nothing changes when one value cannot be stored. */
  async setMany(values: Readonly<Record<string, unknown>>): Promise<void> {
    const cleaned: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(values)) {
      validateKey(key, 'extra key');
      cleaned[key] = cleanValue(value, `extras.${key}`, { depth: 1 });
    }
    if (this.#host.isStored()) await this.#host.persist({ set: cleaned, remove: [] });
    Object.assign(this.#host.values(), cleaned);
  }

  /** Replaces all extras. */
  async reset(values: Readonly<Record<string, unknown>>): Promise<void> {
    const cleaned: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(values)) {
      validateKey(key, 'extra key');
      cleaned[key] = cleanValue(value, `extras.${key}`, { depth: 1 });
    }
    if (this.#host.isStored()) await this.#host.persist({ set: {}, remove: [], reset: cleaned });
    const live = this.#host.values();
    for (const key of Object.keys(live)) delete live[key];
    Object.assign(live, cleaned);
  }

  async delete(key: string): Promise<void> {
    await this.deleteMany([key]);
  }

  /** Deletes several extras; `NotExistentError` (and nothing deleted) when one is missing. */
  async deleteMany(keys: readonly string[]): Promise<void> {
    const live = this.#host.values();
    const missing = keys.filter((key) => !Object.hasOwn(live, key));
    if (missing.length > 0) throw new NotExistentError(`extra \`${missing[0]}\` does not exist`);
    if (this.#host.isStored()) await this.#host.persist({ set: {}, remove: keys });
    for (const key of keys) delete live[key];
  }

  async clear(): Promise<void> {
    await this.reset({});
  }
}
