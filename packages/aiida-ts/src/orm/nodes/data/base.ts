import { IndexError, ModificationNotAllowedError, ValidationError } from '../../../errors.js';
import type { JsonValue } from '../../utils/clean.js';
import { cleanValue, cloneJson } from '../../utils/clean.js';
import type { NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { Data } from './data.js';

/** A data node wrapping one plain value in its `value` attribute (`Int`, `Float`, `Str`, `Bool`). */
export abstract class BaseType<T> extends Data {
  constructor(value: T | undefined, defaultValue: T, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored) return;
    this.value = value ?? defaultValue;
  }

  /** Converts/validates a new value; throws `ValidationError` for a value of the wrong kind. */
  protected abstract coerce(value: unknown): T;

  get value(): T {
    return this.base.attributes.get('value') as T;
  }
  set value(value: T) {
    this.base.attributes.set('value', this.coerce(value));
  }

  /** The plain value, so base types inside attributes are stored as their values. */
  toStorableValue(): unknown {
    return this.value;
  }

  /** Equality of values with a plain value or another node of the same class. */
  override equals(other: unknown): boolean {
    if (other instanceof BaseType)
      return other.constructor === this.constructor && other.value === this.value;
    return other === this.value;
  }

  override valueOf(): T {
    return this.value;
  }

  override toString(): string {
    return `${super.toString()} value: ${String(this.value)}`;
  }
}

/** Numeric base types (`Int`, `Float`). */
export abstract class NumericType extends BaseType<number> {}

/**
 * An integer (`data.core.int.Int.`), held exactly: from −(2^53 − 1) to 2^53 − 1, the integers a JavaScript number
 * (and the JSON both backends read back) represents without rounding. A larger value (a bigint, or a number that
 * may already have been rounded) is refused rather than stored rounded; keep it in a `Str` or a `Float`.
 */
export class Int extends NumericType {
  constructor(value?: number | bigint, options: NodeOptions = {}) {
    super(value as number | undefined, 0, options);
  }
  protected coerce(value: unknown): number {
    if (typeof value === 'bigint') {
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new ValidationError(
          `Int holds integers up to ±(2^53 − 1) exactly; ${value}n would be rounded (keep it in a Str or a Float)`,
        );
      }
      return Number(value);
    }
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw new ValidationError(`Int needs an integer, got ${String(value)}`);
    if (!Number.isSafeInteger(value)) {
      throw new ValidationError(
        `Int holds integers up to ±(2^53 − 1) exactly; ${value} is beyond that and may already be rounded ` +
          '(keep it in a Str or a Float)',
      );
    }
    return value;
  }
}
registerNodeClass(Int, { group: 'aiida.data', name: 'core.int', className: 'Int' });

/** A floating point number (`data.core.float.Float.`). */
export class Float extends NumericType {
  static override readonly floatAttributes = ['value'];

  constructor(value?: number, options: NodeOptions = {}) {
    super(value, 0, options);
  }
  protected coerce(value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new ValidationError(`Float needs a finite number, got ${String(value)}`);
    return value;
  }
}
registerNodeClass(Float, { group: 'aiida.data', name: 'core.float', className: 'Float' });

/** A string (`data.core.str.Str.`). */
export class Str extends BaseType<string> {
  constructor(value?: string, options: NodeOptions = {}) {
    super(value, '', options);
  }
  protected coerce(value: unknown): string {
    if (typeof value !== 'string') throw new ValidationError(`Str needs a string, got ${typeof value}`);
    return value;
  }
}
registerNodeClass(Str, { group: 'aiida.data', name: 'core.str', className: 'Str' });

/** A boolean (`data.core.bool.Bool.`). */
export class Bool extends BaseType<boolean> {
  constructor(value?: boolean, options: NodeOptions = {}) {
    super(value, false, options);
  }
  protected coerce(value: unknown): boolean {
    if (typeof value !== 'boolean') throw new ValidationError(`Bool needs a boolean, got ${typeof value}`);
    return value;
  }
}
registerNodeClass(Bool, { group: 'aiida.data', name: 'core.bool', className: 'Bool' });

/** A dictionary stored as the node's attributes (`data.core.dict.Dict.`). */
export class Dict extends Data {
  constructor(value?: Readonly<Record<string, unknown>>, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored) return;
    if (value !== undefined) this.base.attributes.reset({ ...value });
  }

  /** The whole dictionary (a copy once stored). */
  getDict(): Record<string, unknown> {
    return this.base.attributes.all();
  }
  get(key: string, defaultValue: unknown = null): unknown {
    return this.base.attributes.get(key, defaultValue);
  }
  /** The value of `key`; `NotExistentError` when missing. */
  getItem(key: string): unknown {
    return this.base.attributes.get(key);
  }
  set(key: string, value: unknown): void {
    this.base.attributes.set(key, value);
  }
  has(key: string): boolean {
    return this.base.attributes.has(key);
  }
  keys(): string[] {
    return this.base.attributes.keys();
  }
  items(): [string, unknown][] {
    return this.base.attributes.items();
  }
  /** Replaces the content (unstored only). */
  setDict(value: Readonly<Record<string, unknown>>): void {
    this.base.attributes.reset({ ...value });
  }
  /** Merges `value` into the content (unstored only). */
  updateDict(value: Readonly<Record<string, unknown>>): void {
    this.base.attributes.setMany(value);
  }
  toStorableValue(): unknown {
    return this.getDict();
  }
  /** Content equality with a plain object or another Dict. */
  override equals(other: unknown): boolean {
    const mine = JSON.stringify(sortKeys(cleanValue(this.getDict())));
    if (other instanceof Dict) return mine === JSON.stringify(sortKeys(cleanValue(other.getDict())));
    if (typeof other === 'object' && other !== null && !(other instanceof Data)) {
      try {
        return mine === JSON.stringify(sortKeys(cleanValue(other)));
      } catch {
        return false;
      }
    }
    return false;
  }
}
registerNodeClass(Dict, { group: 'aiida.data', name: 'core.dict', className: 'Dict' });

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k]!)]),
    );
  }
  return value;
}

/** A list stored in the `list` attribute (`data.core.list.List.`); immutable once stored. */
export class List extends Data {
  constructor(value?: readonly unknown[], options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored) return;
    this.base.attributes.set('list', [...(value ?? [])]);
  }

  #list(): unknown[] {
    return this.base.attributes.get('list') as unknown[];
  }

  #mutate<T>(fn: (list: unknown[]) => T): T {
    if (this.isStored) throw new ModificationNotAllowedError('the list of a stored List is immutable');
    const list = this.#list();
    const result = fn(list);
    this.base.attributes.set('list', list);
    return result;
  }

  /** A copy of the list. */
  getList(): unknown[] {
    return cloneJson(cleanValue(this.#list())) as unknown[];
  }
  get length(): number {
    return this.#list().length;
  }
  /** The element at `index` (negative counts from the end); `RangeError` when out of range. */
  get(index: number): unknown {
    const list = this.#list();
    const at = index < 0 ? list.length + index : index;
    if (at < 0 || at >= list.length) throw new IndexError('list index out of range');
    return list[at];
  }
  set(index: number, value: unknown): void {
    this.#mutate((list) => {
      const at = index < 0 ? list.length + index : index;
      if (at < 0 || at >= list.length) throw new IndexError('list assignment index out of range');
      list[at] = value;
    });
  }
  /** Removes the element at `index`. */
  deleteAt(index: number): void {
    this.#mutate((list) => {
      const at = index < 0 ? list.length + index : index;
      if (at < 0 || at >= list.length) throw new IndexError('list assignment index out of range');
      list.splice(at, 1);
    });
  }
  append(value: unknown): void {
    this.#mutate((list) => list.push(value));
  }
  extend(values: readonly unknown[]): void {
    this.#mutate((list) => list.push(...values));
  }
  insert(index: number, value: unknown): void {
    this.#mutate((list) => list.splice(index < 0 ? Math.max(0, list.length + index) : index, 0, value));
  }
  /** Removes the first element equal to `value`; `ValidationError` "x not in list" when absent. */
  remove(value: unknown): void {
    this.#mutate((list) => {
      const at = list.findIndex((item) => jsonEqual(item, value));
      if (at < 0) throw new ValidationError('list.remove(x): x not in list');
      list.splice(at, 1);
    });
  }
  /** Removes and returns the element at `index` (default the last). */
  pop(index = -1): unknown {
    return this.#mutate((list) => {
      const at = index < 0 ? list.length + index : index;
      if (at < 0 || at >= list.length) throw new IndexError('pop index out of range');
      return list.splice(at, 1)[0];
    });
  }
  index(value: unknown): number {
    const at = this.#list().findIndex((item) => jsonEqual(item, value));
    if (at < 0) throw new ValidationError(`${JSON.stringify(value)} is not in list`);
    return at;
  }
  count(value: unknown): number {
    return this.#list().filter((item) => jsonEqual(item, value)).length;
  }
  /** Sorts in place; mixed strings and numbers are refused as in Python. */
  sort(compare?: (a: unknown, b: unknown) => number): void {
    this.#mutate((list) => {
      if (compare === undefined) {
        const kinds = new Set(list.map((item) => typeof item));
        if (kinds.size > 1)
          throw new ValidationError(`'<' not supported between ${[...kinds].join(' and ')}`);
        list.sort((a, b) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0));
      } else {
        list.sort(compare);
      }
    });
  }
  reverse(): void {
    this.#mutate((list) => list.reverse());
  }
  toStorableValue(): unknown {
    return this.#list();
  }
  override equals(other: unknown): boolean {
    if (other instanceof List) return jsonEqual(this.#list(), other.#list());
    if (Array.isArray(other)) return jsonEqual(this.#list(), other);
    return false;
  }
}
registerNodeClass(List, { group: 'aiida.data', name: 'core.list', className: 'List' });

function jsonEqual(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(sortKeys(cleanValue(a))) === JSON.stringify(sortKeys(cleanValue(b)));
  } catch {
    return a === b;
  }
}

/** The member of a closed set of values to wrap in {@link EnumData}. */
export interface EnumMember {
  readonly name: string;
  readonly value: string | number | boolean | null;
  /** Where the set is defined, as `module:Name` (aiida-core's `identifier`, e.g. `aiida.common.links:LinkType`). */
  readonly identifier: string;
}

/** A member of an enumeration (`data.core.enum.EnumData.`): attributes `name`, `value`, `identifier`. */
export class EnumData extends Data {
  constructor(member?: EnumMember, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored) return;
    if (member === undefined) return;
    if (typeof member.name !== 'string' || typeof member.identifier !== 'string') {
      throw new ValidationError('EnumData needs a member with a name, a value and an identifier');
    }
    this.base.attributes.setMany({ name: member.name, value: member.value, identifier: member.identifier });
  }

  /** A member of an `as const` object used as enumeration, e.g. `EnumData.fromObject(LinkType, 'CALL_CALC', 'aiida.common.links:LinkType')`. */
  static fromObject(
    values: Readonly<Record<string, string | number | boolean | null>>,
    name: string,
    identifier: string,
    options: NodeOptions = {},
  ): EnumData {
    if (!Object.hasOwn(values, name))
      throw new ValidationError(`\`${name}\` is not a member of ${identifier}`);
    return new EnumData({ name, value: values[name]!, identifier }, options);
  }

  get name(): string {
    return this.base.attributes.get('name') as string;
  }
  get value(): string | number | boolean | null {
    return this.base.attributes.get('value') as string | number | boolean | null;
  }
  get identifier(): string {
    return this.base.attributes.get('identifier') as string;
  }
  getMember(): EnumMember {
    return { name: this.name, value: this.value, identifier: this.identifier };
  }
  override equals(other: unknown): boolean {
    if (other instanceof EnumData)
      return other.identifier === this.identifier && other.name === this.name && other.value === this.value;
    if (typeof other === 'object' && other !== null && 'identifier' in other && 'name' in other) {
      const member = other as EnumMember;
      return (
        member.identifier === this.identifier && member.name === this.name && member.value === this.value
      );
    }
    return false;
  }
}
registerNodeClass(EnumData, { group: 'aiida.data', name: 'core.enum', className: 'EnumData' });

/**
 * An object serialised to a JSON dict (`data.core.jsonable.JsonableData.`): its fields plus `@class` and
 * `@module` naming the (Python) class, kept so archives round-trip.
 */
export class JsonableData extends Data {
  constructor(
    init?: {
      readonly fields: Readonly<Record<string, unknown>>;
      readonly className: string;
      readonly module: string;
    },
    options: NodeOptions = {},
  ) {
    super(undefined, options);
    if (this.isStored || init === undefined) return;
    this.base.attributes.reset({ ...init.fields, '@class': init.className, '@module': init.module });
  }
  get className(): string {
    return this.base.attributes.get('@class') as string;
  }
  get module(): string {
    return this.base.attributes.get('@module') as string;
  }
  /** The object's fields, without `@class`/`@module`. */
  getFields(): Record<string, unknown> {
    const { '@class': _c, '@module': _m, ...fields } = this.base.attributes.all();
    void _c;
    void _m;
    return fields;
  }
}
registerNodeClass(JsonableData, { group: 'aiida.data', name: 'core.jsonable', className: 'JsonableData' });
