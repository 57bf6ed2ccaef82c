import { NotExistentError, ValidationError } from '../../../../errors.js';
import type { NodeOptions } from '../../node.js';
import { registerNodeClass } from '../../registry.js';
import { determinant, type Cell, type Pbc, type StructureData, type Vector3 } from '../structure.js';
import { ArrayData } from './array.js';
import { NdArray } from './npy.js';

/** The reciprocal cell `2π (A⁻¹)ᵀ` of a cell whose rows are the lattice vectors. */
export function reciprocalCell(cell: Cell): Cell {
  const det = determinant(cell);
  if (Math.abs(det) < 1e-12) throw new ValidationError('the cell has zero volume');
  const [[a, b, c], [d, e, f], [g, h, i]] = cell;
  // rows of (A⁻¹)ᵀ are the cofactor rows divided by the determinant
  const factor = (2 * Math.PI) / det;
  return [
    [(e * i - f * h) * factor, (f * g - d * i) * factor, (d * h - e * g) * factor],
    [(c * h - b * i) * factor, (a * i - c * g) * factor, (b * g - a * h) * factor],
    [(b * f - c * e) * factor, (c * d - a * f) * factor, (a * e - b * d) * factor],
  ];
}

/**
 * k-points (`data.core.array.kpoints.KpointsData.`): a Monkhorst-Pack mesh with offset (attributes `mesh`,
 * `offset`) or an explicit list (array `kpoints`, optional `weights`) in crystal coordinates, with the cell and
 * pbc of the structure they belong to.
 */
export class KpointsData extends ArrayData {
  static override readonly floatAttributes = ['cell.*.*', 'offset.*'];

  constructor(init?: undefined, options: NodeOptions = {}) {
    super(undefined, options);
  }

  setCell(cell: Cell, pbc: Pbc = [true, true, true]): void {
    const rows = cell.map((row) => {
      if (row.length !== 3 || !row.every((x) => Number.isFinite(x)))
        throw new ValidationError('the cell must be a 3x3 matrix');
      return [...row];
    });
    if (rows.length !== 3) throw new ValidationError('the cell must be a 3x3 matrix');
    this.base.attributes.setMany({ cell: rows, pbc1: pbc[0], pbc2: pbc[1], pbc3: pbc[2] });
  }

  /** Takes cell and pbc from a structure. */
  setCellFromStructure(structure: StructureData): void {
    this.setCell(structure.cell, structure.pbc);
  }

  get cell(): Cell {
    if (!this.base.attributes.has('cell')) throw new NotExistentError('the cell has not been set');
    return this.base.attributes.get('cell') as Cell;
  }

  get pbc(): Pbc {
    return [1, 2, 3].map((i) => this.base.attributes.get(`pbc${i}`, true) === true) as unknown as Pbc;
  }

  get reciprocalCell(): Cell {
    return reciprocalCell(this.cell);
  }

  /** A mesh of `mesh` points per direction, shifted by `offset` (fractions of a mesh step, each in [0, 1)). */
  setKpointsMesh(mesh: readonly [number, number, number], offset: Vector3 = [0, 0, 0]): void {
    if (mesh.length !== 3 || !mesh.every((n) => Number.isInteger(n) && n > 0)) {
      throw new ValidationError('the mesh must be three positive integers');
    }
    if (offset.length !== 3 || !offset.every((x) => Number.isFinite(x) && x >= 0 && x < 1)) {
      throw new ValidationError('the offset must be three numbers in [0, 1)');
    }
    this.base.attributes.setMany({ mesh: [...mesh], offset: [...offset] });
  }

  /** The mesh and offset; `NotExistentError` when no mesh was set. */
  getKpointsMesh(): { mesh: [number, number, number]; offset: [number, number, number] } {
    if (!this.base.attributes.has('mesh')) throw new NotExistentError('no k-points mesh has been set');
    return {
      mesh: this.base.attributes.get('mesh') as [number, number, number],
      offset: this.base.attributes.get('offset', [0, 0, 0]) as [number, number, number],
    };
  }

  /**
   * An explicit list of k-points, in crystal coordinates or (with `cartesian`, needing the cell) in Å⁻¹, with
   * optional weights (one per point).
   */
  setKpoints(
    kpoints: readonly Vector3[],
    options: { readonly weights?: readonly number[]; readonly cartesian?: boolean } = {},
  ): void {
    const points = kpoints.map((k, i) => {
      if (k.length !== 3 || !k.every((x) => Number.isFinite(x)))
        throw new ValidationError(`k-point ${i} must be three numbers`);
      return [...k] as [number, number, number];
    });
    const crystal =
      options.cartesian === true ? points.map((k) => toCrystal(k, this.reciprocalCell)) : points;
    this.setArray('kpoints', NdArray.from(crystal, 'float64'));
    if (options.weights !== undefined) {
      if (options.weights.length !== points.length) throw new ValidationError('give one weight per k-point');
      this.setArray('weights', NdArray.from([...options.weights], 'float64'));
    }
  }

  /** The explicit k-points (crystal coordinates, or Cartesian with `cartesian`). */
  async getKpoints(options: { readonly cartesian?: boolean } = {}): Promise<[number, number, number][]> {
    const array = await this.getArray('kpoints');
    const points = array.toNested() as [number, number, number][];
    if (options.cartesian !== true) return points;
    const rec = this.reciprocalCell;
    return points.map(
      (k) =>
        [0, 1, 2].map((j) => k[0] * rec[0][j]! + k[1] * rec[1][j]! + k[2] * rec[2][j]!) as [
          number,
          number,
          number,
        ],
    );
  }

  /** The weights of the explicit k-points, or null. */
  async getWeights(): Promise<number[] | null> {
    if (!this.getArrayNames().includes('weights')) return null;
    return (await this.getArray('weights')).toNested() as number[];
  }
}
registerNodeClass(KpointsData, { group: 'aiida.data', name: 'core.array.kpoints', className: 'KpointsData' });

function toCrystal(k: Vector3, rec: Cell): [number, number, number] {
  // solve x · rec = k for x (rows of rec are the reciprocal vectors)
  const inverse = reciprocalCell(rec);
  return [0, 1, 2].map(
    (j) => (k[0] * inverse[j]![0] + k[1] * inverse[j]![1] + k[2] * inverse[j]![2]) / (2 * Math.PI),
  ) as [number, number, number];
}
