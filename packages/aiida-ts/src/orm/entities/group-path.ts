import { NotExistentError, ValidationError } from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import { Group } from './group.js';

/** Options of {@link GroupPath}. */
export interface GroupPathOptions extends StorageOption {
  /** Only groups of this type string belong to the hierarchy (default `core`). */
  readonly typeString?: string;
}

/**
 * A `/`-separated path in the hierarchy group labels form (`fixtures/sub`), as aiida-core's `GroupPath`. A path
 * may exist only virtually (some group label starts with it but no group has exactly that label).
 */
export class GroupPath {
  readonly path: string;
  readonly typeString: string;
  readonly #storage: StorageBackend;

  constructor(path = '', options: GroupPathOptions = {}) {
    if (path.startsWith('/') || path.endsWith('/') || path.includes('//')) {
      throw new ValidationError(`invalid group path \`${path}\`: no leading, trailing or double \`/\``);
    }
    this.path = path;
    this.typeString = options.typeString ?? 'core';
    this.#storage = getStorage(options);
  }

  #child(path: string): GroupPath {
    return new GroupPath(path, { storage: this.#storage, typeString: this.typeString });
  }

  /** The last segment. */
  get key(): string | null {
    return this.path === '' ? null : this.path.split('/').at(-1)!;
  }

  /** The enclosing path, or null at the root. */
  get parent(): GroupPath | null {
    if (this.path === '') return null;
    const parts = this.path.split('/');
    return this.#child(parts.slice(0, -1).join('/'));
  }

  /** The path extended by `segment`. */
  get(segment: string): GroupPath {
    return this.#child(this.path === '' ? segment : `${this.path}/${segment}`);
  }

  /** The group labelled exactly with the path, or null. */
  async getGroup(): Promise<Group | null> {
    if (this.path === '') return null;
    try {
      return await Group.get({ label: this.path, typeString: this.typeString }, { storage: this.#storage });
    } catch (error) {
      if (error instanceof NotExistentError) return null;
      throw error;
    }
  }

  /** The group of the path, created (type `core` only) when missing. */
  async getOrCreateGroup(): Promise<Group> {
    if (this.path === '') throw new ValidationError('the root path has no group');
    if (this.typeString !== 'core')
      throw new ValidationError('only `core` groups can be created from a path');
    return (await Group.getOrCreate({ label: this.path }, { storage: this.#storage })).group;
  }

  /** Whether no group has exactly this label. */
  async isVirtual(): Promise<boolean> {
    return (await this.getGroup()) === null;
  }

  /** The paths one level below, sorted. */
  async children(): Promise<GroupPath[]> {
    const prefix = this.path === '' ? '' : `${this.path}/`;
    const labels = await Group.labelsStartingWith(prefix, this.typeString, { storage: this.#storage });
    const next = new Set<string>();
    for (const label of labels) {
      const rest = label.slice(prefix.length);
      const segment = rest.split('/')[0];
      // labels that would form invalid paths (`a//b`, `a/`) are not part of the hierarchy
      if (segment !== undefined && segment !== '' && !label.endsWith('/') && !label.includes('//'))
        next.add(segment);
    }
    return [...next].sort().map((segment) => this.get(segment));
  }

  /** Every path below this one, depth first. */
  async *walk(): AsyncGenerator<GroupPath> {
    for (const child of await this.children()) {
      yield child;
      yield* child.walk();
    }
  }

  toString(): string {
    return `GroupPath('${this.path}', type='${this.typeString}')`;
  }
}
