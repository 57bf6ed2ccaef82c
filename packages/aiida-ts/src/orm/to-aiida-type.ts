import { ValidationError } from '../errors.js';
import { NdArray } from './nodes/data/array/npy.js';
import { ArrayData } from './nodes/data/array/array.js';
import { Bool, Dict, Float, Int, List, Str } from './nodes/data/base.js';
import { Data } from './nodes/data/data.js';

/**
 * The data node for a plain value, as aiida-core's `to_aiida_type`: boolean → Bool, integer → Int, other number →
 * Float, string → Str, array → List, plain object → Dict, NdArray → ArrayData. Data nodes pass through.
 */
export function toAiidaType(value: unknown): Data {
  if (value instanceof Data) return value;
  if (typeof value === 'boolean') return new Bool(value);
  if (typeof value === 'bigint') return new Int(value);
  if (typeof value === 'number') return Number.isInteger(value) ? new Int(value) : new Float(value);
  if (typeof value === 'string') return new Str(value);
  if (Array.isArray(value)) return new List(value);
  if (value instanceof NdArray) return new ArrayData(value);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return new Dict(value as Record<string, unknown>);
  }
  throw new ValidationError(`cannot convert a value of type ${typeof value} to a data node`);
}
