import { NotExistentError, ValidationError } from '../../../errors.js';
import type { NodeOptions } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { Data } from './data.js';
import { ATOMIC_MASSES, isElementSymbol } from './elements.js';

/** A 3×3 matrix (rows are the cell vectors, Å) or a 3-vector. */
export type Vector3 = readonly [number, number, number];
export type Cell = readonly [Vector3, Vector3, Vector3];
export type Pbc = readonly [boolean, boolean, boolean];

/** A species of a structure: one element, or a mixture with weights (aiida-core's `Kind`). */
export interface Kind {
  readonly name: string;
  readonly symbols: readonly string[];
  readonly weights: readonly number[];
  readonly mass: number;
}

/** An atom position referring to a kind by name (aiida-core's `Site`). */
export interface Site {
  readonly kindName: string;
  readonly position: Vector3;
}

/** What {@link StructureData.appendAtom} takes. */
export interface AtomInit {
  readonly position: Vector3;
  /** One symbol, or several for a mixture (with `weights`). */
  readonly symbols: string | readonly string[];
  readonly weights?: readonly number[];
  readonly name?: string;
  readonly mass?: number;
}

const DEFAULT_CELL: Cell = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

function checkVector(value: unknown, what: string): Vector3 {
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    !value.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    throw new ValidationError(`${what} must be three finite numbers`);
  }
  return [value[0] as number, value[1] as number, value[2] as number];
}

function checkCell(cell: unknown): Cell {
  if (!Array.isArray(cell) || cell.length !== 3) throw new ValidationError('the cell must be a 3x3 matrix');
  return [
    checkVector(cell[0], 'cell vector 1'),
    checkVector(cell[1], 'cell vector 2'),
    checkVector(cell[2], 'cell vector 3'),
  ];
}

/** Determinant of a 3×3 matrix. */
export function determinant(m: Cell): number {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/**
 * A crystal or molecule (`data.core.structure.StructureData.`): the cell, periodic boundary conditions, kinds
 * and sites, with aiida-core's attribute layout (`cell`, `pbc1`–`pbc3`, `kinds`, `sites`). Immutable once stored.
 */
export class StructureData extends Data {
  static override readonly floatAttributes = [
    'cell.*.*',
    'sites.*.position.*',
    'kinds.*.mass',
    'kinds.*.weights.*',
  ];

  constructor(init?: { readonly cell?: Cell; readonly pbc?: Pbc }, options: NodeOptions = {}) {
    super(undefined, options);
    if (this.isStored) return;
    this.setCell(init?.cell ?? DEFAULT_CELL);
    this.setPbc(init?.pbc ?? [true, true, true]);
    this.base.attributes.setMany({ kinds: [], sites: [] });
  }

  get cell(): Cell {
    return this.base.attributes.get('cell') as Cell;
  }
  setCell(cell: Cell): void {
    this.base.attributes.set('cell', checkCell(cell));
  }

  get pbc(): Pbc {
    return [1, 2, 3].map((i) => this.base.attributes.get(`pbc${i}`, true) === true) as unknown as Pbc;
  }
  setPbc(pbc: Pbc | boolean): void {
    const value = typeof pbc === 'boolean' ? [pbc, pbc, pbc] : pbc;
    if (!Array.isArray(value) || value.length !== 3 || !value.every((b) => typeof b === 'boolean')) {
      throw new ValidationError('pbc must be a boolean or three booleans');
    }
    this.base.attributes.setMany({ pbc1: value[0], pbc2: value[1], pbc3: value[2] });
  }

  get kinds(): Kind[] {
    return (
      this.base.attributes.get('kinds', []) as {
        name: string;
        symbols: string[];
        weights: number[];
        mass: number;
      }[]
    ).map((k) => ({
      name: k.name,
      symbols: [...k.symbols],
      weights: [...k.weights],
      mass: k.mass,
    }));
  }

  get sites(): Site[] {
    return (this.base.attributes.get('sites', []) as { kind_name: string; position: Vector3 }[]).map((s) => ({
      kindName: s.kind_name,
      position: [...s.position] as unknown as Vector3,
    }));
  }

  /** The kind named `name`; `NotExistentError` when there is none. */
  getKind(name: string): Kind {
    const kind = this.kinds.find((k) => k.name === name);
    if (kind === undefined) throw new NotExistentError(`no kind named \`${name}\``);
    return kind;
  }

  /** Adds a kind; `ValidationError` when the name is taken or the kind is invalid. */
  appendKind(
    kind: Omit<Kind, 'mass' | 'weights'> & { readonly weights?: readonly number[]; readonly mass?: number },
  ): void {
    const full = StructureData.makeKind(kind);
    if (this.kinds.some((k) => k.name === full.name))
      throw new ValidationError(`a kind named \`${full.name}\` already exists`);
    this.#writeKinds([...this.kinds, full]);
  }

  /** Adds a site of an existing kind. */
  appendSite(site: Site): void {
    this.getKind(site.kindName);
    const position = checkVector(site.position, 'site position');
    this.base.attributes.set('sites', [
      ...(this.base.attributes.get('sites') as unknown[]),
      { position: [...position], kind_name: site.kindName },
    ]);
  }

  /**
   * Adds an atom: reuses the kind of the same name when it has the same symbols, weights and mass, creates it
   * otherwise; `ValidationError` when the name is taken by a different kind.
   */
  appendAtom(atom: AtomInit): void {
    const symbols = typeof atom.symbols === 'string' ? [atom.symbols] : [...atom.symbols];
    const kind = StructureData.makeKind({
      name: atom.name ?? symbols.join(''),
      symbols,
      ...(atom.weights === undefined ? {} : { weights: atom.weights }),
      ...(atom.mass === undefined ? {} : { mass: atom.mass }),
    });
    const existing = this.kinds.find((k) => k.name === kind.name);
    if (existing === undefined) {
      this.#writeKinds([...this.kinds, kind]);
    } else if (
      existing.mass !== kind.mass ||
      existing.symbols.join() !== kind.symbols.join() ||
      existing.weights.join() !== kind.weights.join()
    ) {
      throw new ValidationError(
        `a different kind named \`${kind.name}\` already exists: give the atom another name`,
      );
    }
    this.appendSite({ kindName: kind.name, position: atom.position });
  }

  /** Removes every kind and site. */
  clearKinds(): void {
    this.base.attributes.setMany({ kinds: [], sites: [] });
  }
  clearSites(): void {
    this.base.attributes.set('sites', []);
  }

  #writeKinds(kinds: readonly Kind[]): void {
    this.base.attributes.set(
      'kinds',
      kinds.map((k) => ({ symbols: [...k.symbols], weights: [...k.weights], mass: k.mass, name: k.name })),
    );
  }

  /** A validated kind with aiida's defaults: weight 1 for one symbol, mass from the symbols' weighted masses. */
  static makeKind(kind: {
    readonly name: string;
    readonly symbols: readonly string[];
    readonly weights?: readonly number[];
    readonly mass?: number;
  }): Kind {
    if (typeof kind.name !== 'string' || kind.name === '') throw new ValidationError('a kind needs a name');
    if (kind.symbols.length === 0)
      throw new ValidationError(`kind \`${kind.name}\` needs at least one symbol`);
    for (const symbol of kind.symbols) {
      if (!isElementSymbol(symbol))
        throw new ValidationError(`kind \`${kind.name}\`: \`${symbol}\` is not a valid element symbol`);
    }
    const weights = kind.weights ?? (kind.symbols.length === 1 ? [1.0] : undefined);
    if (weights === undefined || weights.length !== kind.symbols.length) {
      throw new ValidationError(`kind \`${kind.name}\`: give one weight per symbol`);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    if (weights.some((w) => w < 0 || w > 1) || total > 1 + 1e-12) {
      throw new ValidationError(`kind \`${kind.name}\`: weights must be in [0, 1] and sum to at most 1`);
    }
    const mass =
      kind.mass ??
      kind.symbols.reduce((sum, symbol, i) => sum + ATOMIC_MASSES.get(symbol)! * weights[i]!, 0) / total;
    return { name: kind.name, symbols: [...kind.symbols], weights: [...weights], mass };
  }

  /** The cell volume (Å³). */
  getCellVolume(): number {
    return Math.abs(determinant(this.cell));
  }

  /** The lengths of the cell vectors. */
  getCellLengths(): [number, number, number] {
    return this.cell.map((v) => Math.hypot(...v)) as [number, number, number];
  }

  /**
   * The chemical formula: `hill` (C, then H, then the rest alphabetically), `hill_compact` (divided by the
   * greatest common divisor), or `count` (symbols in site order, consecutive repeats counted).
   */
  getFormula(mode: 'hill' | 'hill_compact' | 'count' = 'hill'): string {
    const symbols = this.sites.map((site) => {
      const kind = this.getKind(site.kindName);
      return kind.symbols.length === 1 ? kind.symbols[0]! : `{${kind.symbols.join('')}}`;
    });
    if (mode === 'count') {
      const parts: string[] = [];
      for (let i = 0; i < symbols.length;) {
        let j = i;
        while (j < symbols.length && symbols[j] === symbols[i]) j += 1;
        parts.push(`${symbols[i]}${j - i === 1 ? '' : j - i}`);
        i = j;
      }
      return parts.join('');
    }
    const counts = new Map<string, number>();
    for (const symbol of symbols) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
    let divisor = 1;
    if (mode === 'hill_compact')
      divisor = [...counts.values()].reduce((a, b) => greatestCommonDivisor(a, b), 0) || 1;
    const order = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const ordered = counts.has('C')
      ? ['C', ...(counts.has('H') ? ['H'] : []), ...order.filter((s) => s !== 'C' && s !== 'H')]
      : order;
    return ordered
      .map((s) => `${s}${counts.get(s)! / divisor === 1 ? '' : counts.get(s)! / divisor}`)
      .join('');
  }

  protected override validateBeforeStore(): void | Promise<void> {
    const cell = this.cell;
    checkCell(cell);
    const names = new Set<string>();
    for (const kind of this.kinds) {
      if (names.has(kind.name)) throw new ValidationError(`duplicate kind name \`${kind.name}\``);
      names.add(kind.name);
    }
    for (const site of this.sites) {
      if (!names.has(site.kindName))
        throw new ValidationError(`site refers to the unknown kind \`${site.kindName}\``);
    }
    return super.validateBeforeStore();
  }
}
registerNodeClass(StructureData, { group: 'aiida.data', name: 'core.structure', className: 'StructureData' });
