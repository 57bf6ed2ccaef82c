/**
 * Values that aiida-core's YAML message format can carry and plain JSON values cannot: a Python tuple, a
 * float that happens to be integral, a reference to a stored node, group or computer, and a Python object
 * built by a callable (`!!python/object/apply:<callable>`, how PyYAML writes an enum member).
 */

import { asTuple, isTuple } from 'kiwipy-ts';

/** Marks `items` as a Python tuple (written `!!python/tuple`); the array itself is returned. */
export function pyTuple<T extends unknown[]>(items: T): T {
  return asTuple(items);
}

/** Whether `value` is an array marked as a Python tuple (kiwipy-ts's task envelope is one). */
export function isPyTuple(value: unknown): value is unknown[] {
  return isTuple(value);
}

/** A float, written with a `.` even when integral (`2.0`), so that Python reads a float back. */
export class PyFloat {
  readonly value: number;

  constructor(value: number) {
    this.value = value;
  }

  valueOf(): number {
    return this.value;
  }

  toJSON(): number {
    return this.value;
  }
}

/** The entity tags of aiida-core's YAML dumper, each followed by the entity's uuid. */
export const EntityTag = {
  NODE: '!aiida_node',
  GROUP: '!aiida_group',
  COMPUTER: '!aiida_computer',
} as const;
export type EntityTag = (typeof EntityTag)[keyof typeof EntityTag];

/**
 * A stored node, group or computer as a message carries it: its uuid and its kind. Decoding never loads it
 * (that needs the storage, and is asynchronous); `loadNode(ref.uuid)` does.
 */
export class EntityRef {
  readonly tag: EntityTag;
  readonly uuid: string;

  constructor(tag: EntityTag, uuid: string) {
    this.tag = tag;
    this.uuid = uuid;
  }

  toJSON(): { uuid: string } {
    return { uuid: this.uuid };
  }
}

/** A mapping with an explicit tag: `!aiida_attributedict` or `!plumpy:attributes_frozendict`. */
export const MappingTag = {
  ATTRIBUTE_DICT: '!aiida_attributedict',
  ATTRIBUTES_FROZENDICT: '!plumpy:attributes_frozendict',
} as const;
export type MappingTag = (typeof MappingTag)[keyof typeof MappingTag];

/** A mapping written with one of aiida's mapping tags; reads as its `value`. */
export class TaggedMapping {
  readonly tag: MappingTag;
  readonly value: Readonly<Record<string, unknown>>;

  constructor(tag: MappingTag, value: Readonly<Record<string, unknown>>) {
    this.tag = tag;
    this.value = value;
  }

  toJSON(): Readonly<Record<string, unknown>> {
    return this.value;
  }
}

/**
 * A Python object made by calling `callable` with `args` (`!!python/object/apply:<callable>`), e.g. the enum
 * member `plumpy.process_states.ProcessState('finished')`.
 */
export class PyObjectApply {
  readonly callable: string;
  readonly args: readonly unknown[];

  constructor(callable: string, args: readonly unknown[]) {
    this.callable = callable;
    this.args = args;
  }

  /** A member of a Python enum, written as PyYAML writes one. */
  static enumMember(enumClass: string, value: unknown): PyObjectApply {
    return new PyObjectApply(enumClass, [value]);
  }

  toJSON(): unknown {
    return this.args.length === 1 ? this.args[0] : this.args;
  }
}
