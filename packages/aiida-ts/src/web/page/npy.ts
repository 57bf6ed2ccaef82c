/** A numpy array read from a `.npy` file: its shape and values in C order. */
export interface NpyArray {
  readonly shape: number[];
  readonly values: (number | bigint | boolean)[];
}

/** Reads numpy's `.npy` format (version 1–3; little- or big-endian numbers and booleans, C order). */
export function readNpy(buffer: ArrayBuffer): NpyArray {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== '\x93NUMPY') throw new Error('not a .npy file');
  const major = bytes[6] ?? 1;
  const view = new DataView(buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map(Number);
  if (fortran) throw new Error('Fortran-ordered arrays are not shown');
  const count = shape.reduce((product, size) => product * size, 1);
  const little = !descr.startsWith('>');
  const kind = descr.replace(/^[<>|=]/, '');
  const offset = start + headerLength;
  const values: (number | bigint | boolean)[] = [];
  const size = Number(kind.slice(1));
  for (let index = 0; index < count; index += 1) {
    const at = offset + index * size;
    switch (kind) {
      case 'f8':
        values.push(view.getFloat64(at, little));
        break;
      case 'f4':
        values.push(view.getFloat32(at, little));
        break;
      case 'i8':
        values.push(view.getBigInt64(at, little));
        break;
      case 'u8':
        values.push(view.getBigUint64(at, little));
        break;
      case 'i4':
        values.push(view.getInt32(at, little));
        break;
      case 'u4':
        values.push(view.getUint32(at, little));
        break;
      case 'i2':
        values.push(view.getInt16(at, little));
        break;
      case 'u2':
        values.push(view.getUint16(at, little));
        break;
      case 'i1':
        values.push(view.getInt8(at));
        break;
      case 'u1':
        values.push(view.getUint8(at));
        break;
      case 'b1':
        values.push(view.getUint8(at) !== 0);
        break;
      default:
        throw new Error(`dtype ${descr} is not shown`);
    }
  }
  return { shape, values };
}
