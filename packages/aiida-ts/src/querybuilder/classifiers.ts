import { QueryError } from '../errors.js';
import { getNodeClassInfo } from '../orm/nodes/registry.js';
import { GROUP_ENTITY_TYPE_PREFIX, SIMPLE_ENTITY_TYPES, type OrmBase } from './entities.js';
import type { FilterSpec } from './query-dict.js';

/**
 * What `append` accepts to say which entities a vertex stands for, besides an entity type string: an ORM class
 * (or any object) that names its type.
 * - Node classes registered with the ORM (`Int`, `Dict`, `CalcJobNode`, … and plugin classes): their `node_type`;
 *   an unregistered subclass stands for its nearest registered ancestor.
 * - Objects or classes with a static `nodeType` (`data.core.int.Int.`); process classes add `processType`
 *   (`aiida.calculations:core.arithmetic.add`), which adds a filter on `process_type` as aiida-core does.
 * - Group classes (`Group`, `AutoGroup`, …): `group.<typeString>`.
 * - `User`, `Computer`, `AuthInfo`, `Comment`, `Log` (by class name), or any object with `entityType`, an
 *   entity type string (`group.core.auto`, `user`, `computer`, …).
 */
export interface EntityClassLike {
  readonly nodeType?: string;
  readonly processType?: string;
  readonly entityType?: string;
  readonly name?: string;
}

/**
 * Any class (also one with a private constructor): ORM classes are recognised by their registration or by their
 * (base) class name.
 */
export type AnyClass = { readonly prototype: unknown };

/** A class or an entity type string naming what a vertex stands for. */
export type AppendTarget = string | EntityClassLike | AnyClass;

/** The type strings of one appended class (aiida-core's `Classifier`). */
export interface Classifier {
  /** `data.core.int.Int.`, `''` (every node), `group.core`, `user`, `computer`, `authinfo`, `comment`, `log`, `link`. */
  readonly ormclassTypeString: string;
  /** For process classes: the process type string their nodes carry. */
  readonly processTypeString: string | null;
}

/** An append target resolved to the entity kind and its classifiers. */
export interface ResolvedTarget {
  readonly ormBase: OrmBase;
  readonly classifiers: readonly Classifier[];
}

const NAMED_CLASSES: Readonly<Record<string, string>> = {
  Group: 'group.core',
  User: 'user',
  Computer: 'computer',
  AuthInfo: 'authinfo',
  Comment: 'comment',
  Log: 'log',
};

const VALID_TYPE_HELP =
  "node type strings end with a dot (e.g. 'data.core.int.Int.', '' for every node); other entity types are " +
  "'group.<type_string>', 'computer', 'user', 'authinfo', 'comment', 'log' and 'link'";

/** aiida-core's check of a node type string: empty, or ending with a dot and holding more than one dot. */
export function isValidNodeTypeString(typeString: string): boolean {
  if (typeString === '') return true;
  return typeString.endsWith('.') && typeString.split('.').length - 1 !== 1;
}

function fromString(typeString: string): { ormBase: OrmBase; classifier: Classifier } {
  const lower = typeString.toLowerCase();
  if (lower.startsWith(GROUP_ENTITY_TYPE_PREFIX)) {
    const groupType = typeString.slice(GROUP_ENTITY_TYPE_PREFIX.length);
    if (groupType === '')
      throw new QueryError(`The entity type string '${typeString}' names no group type; ${VALID_TYPE_HELP}`);
    return {
      ormBase: 'group',
      classifier: { ormclassTypeString: `${GROUP_ENTITY_TYPE_PREFIX}${groupType}`, processTypeString: null },
    };
  }
  for (const [base, name] of Object.entries(SIMPLE_ENTITY_TYPES)) {
    if (lower === name)
      return { ormBase: base as OrmBase, classifier: { ormclassTypeString: name, processTypeString: null } };
  }
  if (!isValidNodeTypeString(typeString)) {
    throw new QueryError(`The entity type string '${typeString}' is invalid: ${VALID_TYPE_HELP}`);
  }
  return { ormBase: 'node', classifier: { ormclassTypeString: typeString, processTypeString: null } };
}

function className(target: object): string {
  const name = (target as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name : Object.prototype.toString.call(target);
}

function isGroupClass(target: unknown): boolean {
  for (
    let cls: unknown = target;
    typeof cls === 'function' && cls !== Function.prototype;
    cls = Object.getPrototypeOf(cls)
  ) {
    if ((cls as { name: string }).name === 'Group') return true;
  }
  return false;
}

function fromClass(target: EntityClassLike | AnyClass): { ormBase: OrmBase; classifier: Classifier } {
  const described = target as EntityClassLike;
  if (typeof described.nodeType === 'string') {
    if (!isValidNodeTypeString(described.nodeType)) {
      throw new QueryError(
        `The class ${className(target)} has an invalid node type '${described.nodeType}': ${VALID_TYPE_HELP}`,
      );
    }
    const processType =
      typeof described.processType === 'string' && described.processType !== ''
        ? described.processType
        : null;
    return {
      ormBase: 'node',
      classifier: { ormclassTypeString: described.nodeType, processTypeString: processType },
    };
  }
  if (typeof described.entityType === 'string') return fromString(described.entityType);
  // an ORM node class: the registered class itself or its nearest registered ancestor
  for (
    let cls: unknown = target;
    typeof cls === 'function' && cls !== Function.prototype;
    cls = Object.getPrototypeOf(cls)
  ) {
    const info = getNodeClassInfo(cls);
    if (info !== undefined)
      return { ormBase: 'node', classifier: { ormclassTypeString: info.nodeType, processTypeString: null } };
  }
  // a group class names its type string
  const typeString = (target as { typeString?: unknown }).typeString;
  if (typeof typeString === 'string' && typeString !== '' && isGroupClass(target)) {
    return fromString(`${GROUP_ENTITY_TYPE_PREFIX}${typeString}`);
  }
  // walk the class hierarchy for one of the entity base classes
  for (
    let cls: unknown = target;
    typeof cls === 'function' && cls !== Function.prototype;
    cls = Object.getPrototypeOf(cls)
  ) {
    const mapped = NAMED_CLASSES[(cls as { name: string }).name];
    if (mapped !== undefined) return fromString(mapped);
  }
  throw new QueryError(
    `Cannot query for ${className(target)}: it is neither an entity type string nor a class with a static ` +
      `'nodeType' or 'entityType' (nor a Group, User, Computer, AuthInfo, Comment or Log class)`,
  );
}

/**
 * Resolves one target or a list of them (aiida's tuples of classes, all of one entity kind). Throws
 * {@link QueryError} for an invalid type string, an unknown class, or a list mixing entity kinds.
 */
export function resolveTarget(target: AppendTarget | readonly AppendTarget[]): ResolvedTarget {
  const items: readonly AppendTarget[] = Array.isArray(target) ? target : [target as AppendTarget];
  if (items.length === 0)
    throw new QueryError('append() needs a class or an entity type string, got an empty list');
  let ormBase: OrmBase | undefined;
  const classifiers: Classifier[] = [];
  for (const item of items) {
    let resolved: { ormBase: OrmBase; classifier: Classifier };
    if (typeof item === 'string') resolved = fromString(item);
    else if ((typeof item === 'function' || typeof item === 'object') && item !== null)
      resolved = fromClass(item);
    else throw new QueryError(`append() needs a class or an entity type string, got ${String(item)}`);
    if (ormBase !== undefined && resolved.ormBase !== ormBase) {
      throw new QueryError(
        `Cannot append entities of different kinds together (${ormBase} and ${resolved.ormBase})`,
      );
    }
    ormBase = resolved.ormBase;
    classifiers.push(resolved.classifier);
  }
  return { ormBase: ormBase!, classifiers };
}

/** Escapes `%` and `_` for a LIKE pattern (aiida-core's `escape_for_sql_like`). */
export function escapeForSqlLike(text: string): string {
  return text.replaceAll('%', '\\%').replaceAll('_', '\\_');
}

/** The prefix shared by a node type and its subclasses: `data.core.int.Int.` → `data.core.int.`. */
export function queryTypeFromTypeString(typeString: string): string {
  if (typeString === '') return '';
  const withoutDot = typeString.slice(0, -1);
  return `${withoutDot.slice(0, withoutDot.lastIndexOf('.'))}.`;
}

const ABSTRACT_CODE_TYPE = 'data.core.code.abstract.AbstractCode.';

function nodeTypeFilter(classifier: Classifier, subclassing: boolean): Record<string, unknown> {
  const value = classifier.ormclassTypeString;
  if (value === ABSTRACT_CODE_TYPE) {
    // every code (the legacy Code, InstalledCode, PortableCode, …) lives under `data.core.code.`, while
    // AbstractCode's own type string sits one level deeper; aiida-core widens to that prefix too
    return subclassing ? { like: 'data.core.code.%' } : { '==': 'data.core.code.' };
  }
  if (!subclassing) return { '==': value };
  return { like: `${escapeForSqlLike(queryTypeFromTypeString(value))}%` };
}

/** Python's `text.rsplit('.', count)[0]`: the text without its last `count` dot-separated parts. */
function dropLastParts(text: string, count: number): string {
  let end = text.length;
  for (let i = 0; i < count; i++) {
    const dot = text.lastIndexOf('.', end - 1);
    if (dot < 0) break;
    end = dot;
  }
  return text.slice(0, end);
}

function processTypeFilter(processType: string, subclassing: boolean): Record<string, unknown> {
  if (!subclassing) return { '==': processType };
  if (processType.startsWith('aiida.engine')) return { like: '%' };
  const queryString = processType.includes(':') ? `${processType}.` : `${dropLastParts(processType, 2)}.`;
  return { or: [{ '==': processType }, { like: escapeForSqlLike(queryString) }] };
}

function groupTypeFilter(classifier: Classifier, subclassing: boolean): Record<string, unknown> {
  let value = classifier.ormclassTypeString.slice(GROUP_ENTITY_TYPE_PREFIX.length);
  if (!subclassing) return { '==': value };
  // the base Group's entry point is `core`, yet it must match every group type, also those of plugins
  if (value === 'core') value = '';
  return { like: `${escapeForSqlLike(value)}%` };
}

function combine(filters: readonly Record<string, unknown>[]): Record<string, unknown> {
  return filters.length === 1 ? filters[0]! : { or: filters };
}

/**
 * The filters `append` adds for the classes of a vertex: `node_type` (and `process_type` for process classes)
 * for nodes, `type_string` for groups; none for the other entities.
 */
export function typeFilters(resolved: ResolvedTarget, subclassing: boolean): FilterSpec {
  if (resolved.ormBase === 'node') {
    const filters: FilterSpec = {
      node_type: combine(resolved.classifiers.map((c) => nodeTypeFilter(c, subclassing))),
    };
    const processTypes = resolved.classifiers.flatMap((c) =>
      c.processTypeString === null ? [] : [c.processTypeString],
    );
    if (processTypes.length > 0)
      filters.process_type = combine(processTypes.map((p) => processTypeFilter(p, subclassing)));
    return filters;
  }
  if (resolved.ormBase === 'group') {
    return { type_string: combine(resolved.classifiers.map((c) => groupTypeFilter(c, subclassing))) };
  }
  return {};
}

/** The `entity_type` recorded in the path: one string, or a list for several classes. */
export function pathEntityType(resolved: ResolvedTarget): string | string[] {
  const types = resolved.classifiers.map((c) => c.ormclassTypeString);
  return types.length === 1 ? types[0]! : types;
}

/** aiida's automatic tag base: the last part of each type string (`Int`, `node` for every node), joined by `-`. */
export function tagBase(resolved: ResolvedTarget): string {
  return resolved.classifiers
    .map((c) => c.ormclassTypeString.replace(/\.+$/, '').split('.').pop() || 'node')
    .join('-');
}
