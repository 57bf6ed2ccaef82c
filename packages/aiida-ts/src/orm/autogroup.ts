import { IntegrityError, ValidationError } from '../errors.js';
import type { StorageBackend } from '../storage/backend.js';
import { AutoGroup } from './entities/group.js';
import type { Node } from './nodes/node.js';
import { getNodeClassInfo } from './nodes/registry.js';
import { addNodesStoredHook } from './nodes/store-hooks.js';

/** The entry point groups an include/exclude filter may name (aiida-core's). */
const FILTER_PREFIXES = ['aiida.calculations', 'aiida.data', 'aiida.node', 'aiida.workflows'] as const;

/**
 * A filter string as a regular expression: without `%` an exact match; with it, SQL LIKE (`%` any run, `_` one
 * character, a backslash escapes either), as aiida-core matches them.
 */
function filterRegExp(filter: string): RegExp | string {
  if (!filter.includes('%')) return filter;
  let source = '';
  for (let i = 0; i < filter.length; i += 1) {
    const char = filter.charAt(i);
    if (char === '\\' && i + 1 < filter.length) {
      source += filter.charAt(i + 1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i += 1;
    } else if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

function matches(entryPoint: string, filter: string): boolean {
  const pattern = filterRegExp(filter);
  return typeof pattern === 'string' ? entryPoint === pattern : pattern.test(entryPoint);
}

function two(value: number): string {
  return String(value).padStart(2, '0');
}

/** aiida-core's default label prefix: `Verdi autogroup on YYYY-MM-DD HH:MM:SS` (local time). */
function defaultLabelPrefix(now = new Date()): string {
  return (
    `Verdi autogroup on ${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())} ` +
    `${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`
  );
}

/**
 * Puts every node stored while it is enabled into one {@link AutoGroup} (aiida-core's `AutogroupManager`, what
 * `verdi run --auto-group` turns on), optionally only the node classes an include list names or all but those an
 * exclude list names. One manager per storage ({@link getAutogroupManager}); disabled by default.
 */
export class AutogroupManager {
  readonly storage: StorageBackend;
  #enabled = false;
  #exclude: readonly string[] | undefined;
  #include: readonly string[] | undefined;
  #labelPrefix = defaultLabelPrefix();
  #group: AutoGroup | undefined;

  constructor(storage: StorageBackend) {
    this.storage = storage;
  }

  get isEnabled(): boolean {
    return this.#enabled;
  }

  enable(): void {
    this.#enabled = true;
  }

  disable(): void {
    this.#enabled = false;
  }

  /** The exclude list, or undefined when none was set. */
  getExclude(): readonly string[] | undefined {
    return this.#exclude;
  }

  /** The include list, or undefined when none was set. */
  getInclude(): readonly string[] | undefined {
    return this.#include;
  }

  /** The prefix of the label of the group (`Verdi autogroup on <date time>` unless set). */
  getGroupLabelPrefix(): string {
    return this.#labelPrefix;
  }

  /**
   * Checks include/exclude filters: each is `<group>:<name>` with group one of `aiida.calculations`, `aiida.data`,
   * `aiida.node`, `aiida.workflows`, and `%`/`_` wildcards in the name. A {@link ValidationError} lists every bad one.
   */
  static validate(filters: readonly string[] | undefined): void {
    if (filters === undefined) return;
    const issues = filters.flatMap((filter) => {
      const pieces = filter.split(':');
      if (pieces.length !== 2)
        return [
          {
            path: filter,
            message: 'not a valid include/exclude filter, must contain two parts split by a colon',
          },
        ];
      if (!(FILTER_PREFIXES as readonly string[]).includes(pieces[0] ?? ''))
        return [
          { path: filter, message: `has an invalid prefix, must be among: ${FILTER_PREFIXES.join(', ')}` },
        ];
      return [];
    });
    if (issues.length > 0) throw new ValidationError('invalid auto-group filters', issues);
  }

  /** Groups every node but those whose entry point matches one of `exclude` (undefined: unset). */
  setExclude(exclude: string | readonly string[] | undefined): void {
    const list = typeof exclude === 'string' ? [exclude] : exclude;
    AutogroupManager.validate(list);
    if (list !== undefined && this.#include !== undefined)
      throw new ValidationError('Cannot both specify exclude and include');
    this.#exclude = list;
  }

  /** Groups only the nodes whose entry point matches one of `include` (undefined: unset). */
  setInclude(include: string | readonly string[] | undefined): void {
    const list = typeof include === 'string' ? [include] : include;
    AutogroupManager.validate(list);
    if (list !== undefined && this.#exclude !== undefined)
      throw new ValidationError('Cannot both specify exclude and include');
    this.#include = list;
  }

  /** Sets the label prefix of the group to create (undefined: `Verdi autogroup on <now>`). */
  setGroupLabelPrefix(prefix: string | undefined): void {
    this.#labelPrefix = prefix ?? defaultLabelPrefix();
    this.#group = undefined;
  }

  /**
   * The entry point string the filters are matched against: the process type of a process node, else the
   * node class's entry point (`aiida.data:core.int`).
   */
  static entryPointOf(node: Node): string {
    const processType = (node as { readonly processType?: unknown }).processType;
    if (typeof processType === 'string' && processType !== '') return processType;
    return getNodeClassInfo(node.constructor)?.entryPoint ?? '';
  }

  /** Whether `node` goes into the group: enabled, and allowed by the include or exclude list. */
  isToBeGrouped(node: Node): boolean {
    if (!this.#enabled) return false;
    const entryPoint = AutogroupManager.entryPointOf(node);
    if (this.#include !== undefined) return this.#include.some((filter) => matches(entryPoint, filter));
    if (this.#exclude !== undefined) return !this.#exclude.some((filter) => matches(entryPoint, filter));
    return true;
  }

  /**
   * The group of this run: made on first use with the prefix as label, or `<prefix>_<n>` with the next free `n`
   * when that label is taken (also by a `verdi run` racing this one: the loser of the insert takes the next number).
   */
  async getOrCreateGroup(): Promise<AutoGroup> {
    if (this.#group !== undefined) {
      const pk = this.#group.pk;
      const still =
        pk === null
          ? undefined
          : await AutoGroup.get({ pk }, { storage: this.storage }).catch(() => undefined);
      if (still !== undefined) return this.#group;
      this.#group = undefined;
    }
    const prefix = this.#labelPrefix;
    const taken = await AutoGroup.labelsStartingWith(prefix, AutoGroup.typeString, { storage: this.storage });
    const counters = taken.flatMap((label) => {
      const rest = label.slice(prefix.length);
      if (rest === '') return [0];
      const match = /^_(\d+)$/.exec(rest);
      return match === null ? [] : [Number(match[1])];
    });
    let counter = counters.length === 0 ? 0 : Math.max(...counters) + 1;
    for (;;) {
      const label = counter === 0 ? prefix : `${prefix}_${counter}`;
      try {
        this.#group = await new AutoGroup({ label }, { storage: this.storage }).store();
        return this.#group;
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw error;
        counter += 1;
      }
    }
  }

  /** Adds the nodes to be grouped among `nodes` to the group (called after every store). */
  async addStored(nodes: readonly Node[]): Promise<void> {
    if (!this.#enabled) return;
    const grouped = nodes.filter((node) => this.isToBeGrouped(node));
    if (grouped.length === 0) return;
    const group = await this.getOrCreateGroup();
    await group.addNodes(grouped);
  }
}

const managers = new WeakMap<StorageBackend, AutogroupManager>();
let hookInstalled = false;

/** The auto-group manager of `storage` (aiida-core's `storage.autogroup`), made on first use. */
export function getAutogroupManager(storage: StorageBackend): AutogroupManager {
  let manager = managers.get(storage);
  if (manager === undefined) {
    manager = new AutogroupManager(storage);
    managers.set(storage, manager);
  }
  if (!hookInstalled) {
    hookInstalled = true;
    addNodesStoredHook(async (stored, nodes) => {
      await managers.get(stored)?.addStored(nodes);
    });
  }
  return manager;
}
