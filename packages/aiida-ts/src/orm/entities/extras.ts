import { NotExistentError } from '../../errors.js';
import { cleanValue, cloneJson, validateKey, type JsonValue } from '../utils/clean.js';

/** What {@link EntityExtras} needs from the entity (a node or a group) that owns them. */
export interface ExtrasHost {
  isStored(): boolean;
  /** The live extras object of the entity. */
  values(): Record<string, JsonValue>;
  /**
   * Persists a change of a stored entity (keys written, keys removed, or with `reset` the whole object), as a write
   * the storage tracks (`StorageBackend.trackWrite`).
   */
  persist(change: {
    readonly set: Record<string, JsonValue>;
    readonly remove: readonly string[];
    readonly reset?: Record<string, JsonValue>;
  }): Promise<void>;
}

/**
 * The extras of a node or group: free-form JSON values that stay mutable after storing. Every change is checked and
 * applied in memory at once, in the call itself: a value that cannot be stored throws right there (not in a promise
 * nobody may be waiting for), and a read just after an unawaited `set()` sees it. On an unstored entity that is all
 * (the returned promise is already resolved); on a stored one the change is also written to the database, touching
 * only the keys it changes, and the returned promise says when that is done: await it. The write is tracked by the
 * storage (see `StorageBackend.trackWrite`), so a forgotten `await` never loses it, and when it fails the change is
 * undone in memory and the promise rejects. Reads of a stored entity return copies.
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

  /** Sets an extra (see the class for when it is written; await the result on a stored entity). */
  set(key: string, value: unknown): Promise<void> {
    return this.setMany({ [key]: value });
  }

  /** Sets several extras at once; nothing changes when one value cannot be stored (that throws at once). */
  setMany(values: Readonly<Record<string, unknown>>): Promise<void> {
    const cleaned: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(values)) {
      validateKey(key, 'extra key');
      cleaned[key] = cleanValue(value, `extras.${key}`, { depth: 1 });
    }
    return this.#apply(cleaned, [], false, { set: cleaned, remove: [] });
  }

  /** Replaces all extras. */
  reset(values: Readonly<Record<string, unknown>>): Promise<void> {
    const cleaned: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(values)) {
      validateKey(key, 'extra key');
      cleaned[key] = cleanValue(value, `extras.${key}`, { depth: 1 });
    }
    return this.#apply(cleaned, [], true, { set: {}, remove: [], reset: cleaned });
  }

  delete(key: string): Promise<void> {
    return this.deleteMany([key]);
  }

  /** Deletes several extras; `NotExistentError` (thrown at once, nothing deleted) when one is missing. */
  deleteMany(keys: readonly string[]): Promise<void> {
    const live = this.#host.values();
    const missing = keys.filter((key) => !Object.hasOwn(live, key));
    if (missing.length > 0) throw new NotExistentError(`extra \`${missing[0]}\` does not exist`);
    return this.#apply({}, keys, false, { set: {}, remove: keys });
  }

  clear(): Promise<void> {
    return this.reset({});
  }

  /**
   * Changes the live extras now and, for a stored entity, writes the change; a failed write puts back what was
   * there before (the keys this change touched, or everything for a reset).
   */
  #apply(
    set: Record<string, JsonValue>,
    remove: readonly string[],
    replace: boolean,
    change: Parameters<ExtrasHost['persist']>[0],
  ): Promise<void> {
    const live = this.#host.values();
    const touched = replace ? Object.keys(live) : [...Object.keys(set), ...remove];
    const before = new Map(touched.filter((key) => Object.hasOwn(live, key)).map((key) => [key, live[key]!]));
    if (replace) for (const key of Object.keys(live)) delete live[key];
    for (const key of remove) delete live[key];
    Object.assign(live, set);
    if (!this.#host.isStored()) return Promise.resolve();
    const undo = (): void => {
      for (const key of [...touched, ...Object.keys(set)]) delete live[key];
      for (const [key, value] of before) live[key] = value;
    };
    let written: Promise<void>;
    try {
      written = this.#host.persist(change);
    } catch (error) {
      // refused before it started (a closed storage): nothing changed, and the caller hears it at once
      undo();
      throw error;
    }
    return written.catch((error: unknown) => {
      undo();
      throw error;
    });
  }
}
