import { NotExistentError, ValidationError } from '../../../../errors.js';
import type { NodeOptions } from '../../node.js';
import { registerNodeClass } from '../../registry.js';
import { ArrayData } from './array.js';
import { NdArray, type NestedArray } from './npy.js';

/** One named array with units, as {@link XyData} keeps x and each y. */
export interface XyArray {
  readonly name: string;
  readonly units: string;
  readonly array: NdArray;
}

function asArray(value: NdArray | NestedArray): NdArray {
  const array = value instanceof NdArray ? value : NdArray.from(value, 'float64');
  if (array.ndim !== 1) throw new ValidationError('x and y arrays must be one-dimensional');
  return array;
}

/** A set of y arrays over one x array (`data.core.array.xy.XyData.`): e.g. a density of states. */
export class XyData extends ArrayData {
  constructor(init?: { readonly x: XyInput; readonly y: readonly XyInput[] }, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored || init === undefined) return;
    if (init.x === undefined || init.y === undefined) throw new ValidationError('XyData needs both x and y');
    this.setX(init.x.array, init.x.name, init.x.units);
    this.setY(init.y);
  }

  /** Sets the x array with its name and units. */
  setX(array: NdArray | NestedArray, name: string, units: string): void {
    this.setArray('x_array', asArray(array));
    this.base.attributes.setMany({ x_name: name, x_units: units });
  }

  /** Sets the y arrays; each must have the shape of x. */
  setY(ys: readonly XyInput[]): void {
    if (!this.base.attributes.has('array|x_array'))
      throw new ValidationError('set the x array before the y arrays');
    const xShape = this.getShape('x_array');
    const arrays = ys.map((y) => asArray(y.array));
    arrays.forEach((array, i) => {
      if (array.shape[0] !== xShape[0]) {
        throw new ValidationError(
          `y array ${i} has shape (${array.shape.join(', ')}) but x has (${xShape.join(', ')})`,
        );
      }
    });
    arrays.forEach((array, i) => this.setArray(`y_array_${i}`, array));
    this.base.attributes.setMany({ y_names: ys.map((y) => y.name), y_units: ys.map((y) => y.units) });
  }

  async getX(): Promise<XyArray> {
    if (!this.base.attributes.has('x_name')) throw new NotExistentError('no x array has been set yet');
    return {
      name: this.base.attributes.get('x_name') as string,
      units: this.base.attributes.get('x_units') as string,
      array: await this.getArray('x_array'),
    };
  }

  async getY(): Promise<XyArray[]> {
    if (!this.base.attributes.has('y_names')) throw new NotExistentError('no y arrays have been set yet');
    const names = this.base.attributes.get('y_names') as string[];
    const units = this.base.attributes.get('y_units') as string[];
    const out: XyArray[] = [];
    for (let i = 0; i < names.length; i += 1)
      out.push({ name: names[i]!, units: units[i]!, array: await this.getArray(`y_array_${i}`) });
    return out;
  }
}
registerNodeClass(XyData, { group: 'aiida.data', name: 'core.array.xy', className: 'XyData' });

/** An x or y array given to {@link XyData}. */
export interface XyInput {
  readonly array: NdArray | NestedArray;
  readonly name: string;
  readonly units: string;
}
