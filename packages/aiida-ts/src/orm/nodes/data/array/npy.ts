import { IndexError, ValidationError } from '../../../../errors.js';

/** The element types an {@link NdArray} can hold (numpy's names). */
export const NpyDtype = {
  FLOAT64: 'float64',
  FLOAT32: 'float32',
  INT64: 'int64',
  INT32: 'int32',
  INT16: 'int16',
  INT8: 'int8',
  UINT64: 'uint64',
  UINT32: 'uint32',
  UINT16: 'uint16',
  UINT8: 'uint8',
  BOOL: 'bool',
} as const;
export type NpyDtype = (typeof NpyDtype)[keyof typeof NpyDtype];

type TypedArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | BigUint64Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

interface DtypeSpec {
  readonly descr: string;
  readonly size: number;
  readonly make: (length: number) => TypedArray;
}

const SPECS: Record<NpyDtype, DtypeSpec> = {
  float64: { descr: '<f8', size: 8, make: (n) => new Float64Array(n) },
  float32: { descr: '<f4', size: 4, make: (n) => new Float32Array(n) },
  int64: { descr: '<i8', size: 8, make: (n) => new BigInt64Array(n) },
  int32: { descr: '<i4', size: 4, make: (n) => new Int32Array(n) },
  int16: { descr: '<i2', size: 2, make: (n) => new Int16Array(n) },
  int8: { descr: '|i1', size: 1, make: (n) => new Int8Array(n) },
  uint64: { descr: '<u8', size: 8, make: (n) => new BigUint64Array(n) },
  uint32: { descr: '<u4', size: 4, make: (n) => new Uint32Array(n) },
  uint16: { descr: '<u2', size: 2, make: (n) => new Uint16Array(n) },
  uint8: { descr: '|u1', size: 1, make: (n) => new Uint8Array(n) },
  bool: { descr: '|b1', size: 1, make: (n) => new Uint8Array(n) },
};

const KIND_TO_DTYPE: Record<string, NpyDtype> = {
  f8: 'float64',
  f4: 'float32',
  i8: 'int64',
  i4: 'int32',
  i2: 'int16',
  i1: 'int8',
  u8: 'uint64',
  u4: 'uint32',
  u2: 'uint16',
  u1: 'uint8',
  b1: 'bool',
};

/** A nested list of numbers, booleans or bigints, as `toNested()` gives and `NdArray.from` takes. */
export type NestedArray = number | bigint | boolean | readonly NestedArray[];

/**
 * An n-dimensional array in C order with a numpy element type: the value `ArrayData` stores, one `.npy` file
 * per array. Integers of 64 bits are bigints in `data`.
 */
export class NdArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: TypedArray;

  constructor(data: TypedArray, shape: readonly number[], dtype?: NpyDtype) {
    const size = shape.reduce((a, b) => a * b, 1);
    for (const dim of shape) {
      if (!Number.isInteger(dim) || dim < 0)
        throw new ValidationError(`invalid array shape (${shape.join(', ')})`);
    }
    if (data.length !== size) {
      throw new ValidationError(
        `array data has ${data.length} elements but the shape (${shape.join(', ')}) needs ${size}`,
      );
    }
    this.dtype = dtype ?? NdArray.#dtypeOf(data);
    this.shape = [...shape];
    this.data = data;
  }

  static #dtypeOf(data: TypedArray): NpyDtype {
    if (data instanceof Float64Array) return 'float64';
    if (data instanceof Float32Array) return 'float32';
    if (data instanceof BigInt64Array) return 'int64';
    if (data instanceof Int32Array) return 'int32';
    if (data instanceof Int16Array) return 'int16';
    if (data instanceof Int8Array) return 'int8';
    if (data instanceof BigUint64Array) return 'uint64';
    if (data instanceof Uint32Array) return 'uint32';
    if (data instanceof Uint16Array) return 'uint16';
    return 'uint8';
  }

  /**
   * An array from nested lists of equal lengths. The element type defaults to `bool` for booleans, `int64` when
   * every element is an integer (or a bigint), else `float64`.
   */
  static from(nested: NestedArray, dtype?: NpyDtype): NdArray {
    const shape: number[] = [];
    let probe: NestedArray = nested;
    while (Array.isArray(probe)) {
      shape.push(probe.length);
      probe = (probe as readonly NestedArray[])[0] as NestedArray;
      if (probe === undefined) break;
    }
    const flat: (number | bigint | boolean)[] = [];
    const walk = (value: NestedArray, depth: number, path: string): void => {
      if (depth === shape.length) {
        if (Array.isArray(value)) throw new ValidationError(`ragged nested array at ${path}`);
        flat.push(value as number | bigint | boolean);
        return;
      }
      if (!Array.isArray(value) || value.length !== shape[depth])
        throw new ValidationError(`ragged nested array at ${path}`);
      (value as readonly NestedArray[]).forEach((item, i) => walk(item, depth + 1, `${path}[${i}]`));
    };
    walk(nested, 0, 'array');
    const kind =
      dtype ??
      (flat.length > 0 && flat.every((v) => typeof v === 'boolean')
        ? 'bool'
        : flat.every((v) => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)))
          ? 'int64'
          : 'float64');
    const spec = SPECS[kind];
    const data = spec.make(flat.length);
    flat.forEach((value, i) => {
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
        if (typeof value === 'number' && !Number.isInteger(value)) {
          throw new ValidationError(`element ${i} (${value}) is not an integer for dtype ${kind}`);
        }
        data[i] = BigInt(value);
      } else {
        const numeric = typeof value === 'bigint' ? Number(value) : Number(value);
        if (Number.isNaN(numeric) && typeof value !== 'number')
          throw new ValidationError(`element ${i} is not numeric`);
        data[i] = numeric;
      }
    });
    return new NdArray(data, shape, kind);
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  #element(i: number): number | bigint | boolean {
    const value = this.data[i]!;
    return this.dtype === 'bool' ? value !== 0 : value;
  }

  /** The element at a multi-index. */
  get(...index: number[]): number | bigint | boolean {
    if (index.length !== this.shape.length)
      throw new IndexError(`expected ${this.shape.length} indices, got ${index.length}`);
    let flat = 0;
    index.forEach((i, axis) => {
      const dim = this.shape[axis]!;
      if (!Number.isInteger(i) || i < 0 || i >= dim)
        throw new IndexError(`index ${i} out of range for axis ${axis} of size ${dim}`);
      flat = flat * dim + i;
    });
    return this.#element(flat);
  }

  /** Nested lists (bigints of safe magnitude as numbers). */
  toNested(): NestedArray {
    let offset = 0;
    const build = (depth: number): NestedArray => {
      if (depth === this.shape.length) {
        const value = this.#element(offset++);
        return typeof value === 'bigint' &&
          value <= BigInt(Number.MAX_SAFE_INTEGER) &&
          value >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(value)
          : value;
      }
      return Array.from({ length: this.shape[depth]! }, () => build(depth + 1));
    };
    return build(0);
  }

  /** Same dtype, shape and elements (NaN equal to NaN). */
  equals(other: NdArray): boolean {
    if (this.dtype !== other.dtype || this.shape.length !== other.shape.length) return false;
    if (this.shape.some((d, i) => d !== other.shape[i])) return false;
    for (let i = 0; i < this.data.length; i += 1) {
      const a = this.data[i]!;
      const b = other.data[i]!;
      if (a !== b && !(typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)))
        return false;
    }
    return true;
  }
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
/** numpy aligns the data to this many bytes. */
const ARRAY_ALIGN = 64;
/** numpy leaves room in the header for the first axis to grow to this many digits. */
const GROWTH_AXIS_MAX_DIGITS = 21;

function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * The `.npy` bytes of an array in numpy's format version 1.0, byte for byte as numpy writes them (header dict,
 * growth padding, 64-byte alignment), so equal arrays give equal repository keys in both implementations.
 */
export function writeNpy(array: NdArray): Buffer {
  const spec = SPECS[array.dtype];
  let header = `{'descr': '${spec.descr}', 'fortran_order': False, 'shape': ${shapeRepr(array.shape)}, }`;
  if (array.shape.length > 0) header += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(array.shape[0]).length);
  const headerLength = header.length + 1;
  // numpy pads a whole block even when the header is already aligned
  const padding = ARRAY_ALIGN - ((MAGIC.length + 2 + 2 + headerLength) % ARRAY_ALIGN);
  const total = headerLength + padding;
  const prefix = Buffer.alloc(10);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(total, 8);
  const text = Buffer.from(`${header}${' '.repeat(total - headerLength)}\n`, 'latin1');
  const body = Buffer.alloc(array.size * spec.size);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const data = array.data;
  for (let i = 0; i < data.length; i += 1) {
    const offset = i * spec.size;
    switch (array.dtype) {
      case 'float64':
        view.setFloat64(offset, data[i] as number, true);
        break;
      case 'float32':
        view.setFloat32(offset, data[i] as number, true);
        break;
      case 'int64':
        view.setBigInt64(offset, data[i] as bigint, true);
        break;
      case 'uint64':
        view.setBigUint64(offset, data[i] as bigint, true);
        break;
      case 'int32':
        view.setInt32(offset, data[i] as number, true);
        break;
      case 'uint32':
        view.setUint32(offset, data[i] as number, true);
        break;
      case 'int16':
        view.setInt16(offset, data[i] as number, true);
        break;
      case 'uint16':
        view.setUint16(offset, data[i] as number, true);
        break;
      case 'int8':
        view.setInt8(offset, data[i] as number);
        break;
      case 'uint8':
        view.setUint8(offset, data[i] as number);
        break;
      case 'bool':
        view.setUint8(offset, data[i] === 0 ? 0 : 1);
        break;
    }
  }
  return Buffer.concat([prefix, text, body]);
}

function parseHeader(text: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new ValidationError(`not a valid .npy header: ${text.trim()}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  return { descr, fortranOrder: fortran === 'True', shape };
}

/** Reads `.npy` bytes (format 1.0–3.0, either byte order, C or Fortran order) into a C-order array. */
export function readNpy(content: Uint8Array): NdArray {
  const buffer = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  if (buffer.length < 10 || !buffer.subarray(0, 6).equals(MAGIC))
    throw new ValidationError('not a .npy file (bad magic)');
  const major = buffer[6]!;
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = buffer.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLength = buffer.readUInt32LE(8);
    start = 12;
  } else {
    throw new ValidationError(`unsupported .npy format version ${major}`);
  }
  const header = parseHeader(
    buffer.subarray(start, start + headerLength).toString(major === 3 ? 'utf8' : 'latin1'),
  );
  const byteOrder = header.descr[0]!;
  const dtype = KIND_TO_DTYPE[header.descr.slice(1)];
  if (dtype === undefined) throw new ValidationError(`unsupported .npy dtype ${header.descr}`);
  const spec = SPECS[dtype];
  const little = byteOrder !== '>';
  const size = header.shape.reduce((a, b) => a * b, 1);
  const body = buffer.subarray(start + headerLength);
  if (body.length < size * spec.size) throw new ValidationError('truncated .npy data');
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const flat = spec.make(size);
  for (let i = 0; i < size; i += 1) {
    const offset = i * spec.size;
    switch (dtype) {
      case 'float64':
        flat[i] = view.getFloat64(offset, little);
        break;
      case 'float32':
        flat[i] = view.getFloat32(offset, little);
        break;
      case 'int64':
        flat[i] = view.getBigInt64(offset, little);
        break;
      case 'uint64':
        flat[i] = view.getBigUint64(offset, little);
        break;
      case 'int32':
        flat[i] = view.getInt32(offset, little);
        break;
      case 'uint32':
        flat[i] = view.getUint32(offset, little);
        break;
      case 'int16':
        flat[i] = view.getInt16(offset, little);
        break;
      case 'uint16':
        flat[i] = view.getUint16(offset, little);
        break;
      case 'int8':
        flat[i] = view.getInt8(offset);
        break;
      case 'uint8':
      case 'bool':
        flat[i] = view.getUint8(offset);
        break;
    }
  }
  if (!header.fortranOrder || header.shape.length < 2) return new NdArray(flat, header.shape, dtype);
  // Fortran order: element (i0, i1, …) sits at i0 + d0*(i1 + d1*(…)); rewrite in C order
  const shape = header.shape;
  const out = spec.make(size);
  const index = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < size; c += 1) {
    let f = 0;
    for (let axis = shape.length - 1; axis >= 0; axis -= 1) f = f * shape[axis]! + index[axis]!;
    out[c] = flat[f]!;
    for (let axis = shape.length - 1; axis >= 0; axis -= 1) {
      index[axis]! += 1;
      if (index[axis]! < shape[axis]!) break;
      index[axis] = 0;
    }
  }
  return new NdArray(out, shape, dtype);
}
