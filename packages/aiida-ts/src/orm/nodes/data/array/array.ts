import { NotExistentError, ValidationError } from '../../../../errors.js';
import type { NodeOptions } from '../../node.js';
import { registerNodeClass } from '../../registry.js';
import { Data } from '../data.js';
import { NdArray, readNpy, writeNpy, type NestedArray } from './npy.js';

const ARRAY_PREFIX = 'array|';
const ARRAY_NAME = /^[A-Za-z0-9_]+$/;

/**
 * Named n-dimensional arrays (`data.core.array.ArrayData.`): each array is the repository file `<name>.npy`
 * (numpy's format) and the attribute `array|<name>` holds its shape. Arrays set before storing are kept in
 * memory and written to the repository when the node is stored.
 */
export class ArrayData extends Data {
  readonly #cache = new Map<string, NdArray>();
  readonly #pending = new Set<string>();

  constructor(arrays?: NdArray | Readonly<Record<string, NdArray | NestedArray>>, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored || arrays === undefined) return;
    if (arrays instanceof NdArray) this.setArray('default', arrays);
    else for (const [name, array] of Object.entries(arrays)) this.setArray(name, array);
  }

  /** Sets (or replaces) the array `name`; unstored nodes only. */
  setArray(name: string, array: NdArray | NestedArray): void {
    if (typeof name !== 'string' || !ARRAY_NAME.test(name)) {
      throw new ValidationError(
        `invalid array name \`${String(name)}\`: use letters, digits and underscores`,
      );
    }
    const value = array instanceof NdArray ? array : NdArray.from(array);
    this.base.attributes.set(`${ARRAY_PREFIX}${name}`, [...value.shape]);
    this.#cache.set(name, value);
    this.#pending.add(name);
  }

  /** Names of the arrays, in the order they were set. */
  getArrayNames(): string[] {
    return this.base.attributes
      .keys()
      .filter((key) => key.startsWith(ARRAY_PREFIX))
      .map((key) => key.slice(ARRAY_PREFIX.length));
  }

  /** The shape of the array `name`. */
  getShape(name: string): number[] {
    return this.base.attributes.get(`${ARRAY_PREFIX}${name}`) as number[];
  }

  /**
   * The array `name`; without a name, the only array (`ValidationError` when there are none or several).
   * `NotExistentError` for an unknown name.
   */
  async getArray(name?: string): Promise<NdArray> {
    let key = name;
    if (key === undefined) {
      const names = this.getArrayNames();
      if (names.length !== 1) {
        throw new ValidationError(
          `a name is required when the node holds ${names.length} arrays (${names.join(', ')})`,
        );
      }
      key = names[0]!;
    }
    if (!this.base.attributes.has(`${ARRAY_PREFIX}${key}`))
      throw new NotExistentError(`array \`${key}\` does not exist`);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const array = readNpy(await this.repository.getObjectContent(`${key}.npy`));
    this.#cache.set(key, array);
    return array;
  }

  /** Every array by name. */
  async getArrays(): Promise<Record<string, NdArray>> {
    const out: Record<string, NdArray> = {};
    for (const name of this.getArrayNames()) out[name] = await this.getArray(name);
    return out;
  }

  /** Removes the array `name` (unstored nodes only). */
  async deleteArray(name: string): Promise<void> {
    if (!this.base.attributes.has(`${ARRAY_PREFIX}${name}`))
      throw new NotExistentError(`array \`${name}\` does not exist`);
    this.base.attributes.delete(`${ARRAY_PREFIX}${name}`);
    this.#cache.delete(name);
    this.#pending.delete(name);
    if (this.repository.hasObject(`${name}.npy`)) await this.repository.deleteObject(`${name}.npy`);
  }

  /** Writes the arrays set in memory as `.npy` files (storing does it too). */
  async flushArrays(): Promise<void> {
    for (const name of [...this.#pending]) {
      await this.repository.putObjectFromBuffer(`${name}.npy`, writeNpy(this.#cache.get(name)!));
      this.#pending.delete(name);
    }
  }

  protected override async validateBeforeStore(): Promise<void> {
    await super.validateBeforeStore();
    await this.flushArrays();
    for (const name of this.getArrayNames()) {
      if (!this.repository.hasObject(`${name}.npy`))
        throw new ValidationError(`array \`${name}\` has no \`${name}.npy\` file`);
    }
  }
}
registerNodeClass(ArrayData, { group: 'aiida.data', name: 'core.array', className: 'ArrayData' });
