/**
 * StructureData to and from text formats (XYZ, XSF, CIF), as `verdi data core.structure export|import` need them.
 * XYZ and XSF are written as aiida-core writes them; CIF is written in space group P1 with fractional coordinates,
 * and read with its symmetry operations applied.
 */
import { ValidationError } from '../../errors.js';
import { ATOMIC_MASSES } from '../../orm/nodes/data/elements.js';
import type { Cell, Pbc, StructureData, Vector3 } from '../../orm/nodes/data/structure.js';

/** An atom read from a file: its element and Cartesian position (Å). */
export interface ParsedAtom {
  readonly symbol: string;
  readonly position: Vector3;
}

/** A structure read from a file. */
export interface ParsedStructure {
  readonly cell?: Cell;
  readonly pbc?: Pbc;
  readonly atoms: readonly ParsedAtom[];
}

/** Python's `repr` of a float (`5.0`, `0.1`, `1e-05`), as aiida-core's `'{}'.format(x)` writes cell values. */
export function pythonFloat(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return `${String(value)}.0`;
  const text = String(value);
  if (Math.abs(value) < 1e-4 && value !== 0) {
    const [mantissa, exponent] = value.toExponential().split('e');
    const power = Number(exponent);
    return `${mantissa ?? ''}e${power < 0 ? '-' : '+'}${String(Math.abs(power)).padStart(2, '0')}`;
  }
  return text;
}

const fixed = (value: number): string => value.toFixed(10).padStart(18);

/** The one element of each site; alloys and vacancies have no single element, as in aiida-core. */
function siteSymbols(structure: StructureData, format: string): string[] {
  return structure.sites.map((site) => {
    const kind = structure.getKind(site.kindName);
    const weight = kind.weights.reduce((sum, w) => sum + w, 0);
    if (kind.symbols.length !== 1 || weight < 1 - 1e-4)
      throw new ValidationError(`${format} for alloys or systems with vacancies not implemented.`);
    return kind.symbols[0] ?? 'X';
  });
}

/** The structure as aiida-core's XYZ (extended XYZ with `Lattice` and `pbc`). */
export function structureToXyz(structure: StructureData): string {
  const symbols = siteSymbols(structure, 'XYZ');
  const cell = structure.cell.flat().map(pythonFloat).join(' ');
  const pbc = structure.pbc.map((value) => (value ? 'True' : 'False')).join(' ');
  const lines = [String(structure.sites.length), `Lattice="${cell}" pbc="${pbc}"`];
  structure.sites.forEach((site, index) => {
    lines.push(`${(symbols[index] ?? '').padEnd(6)} ${site.position.map(fixed).join(' ')}`);
  });
  return lines.join('\n');
}

/** The atomic number of an element (its place in the periodic table; `X` is 0). */
function atomicNumber(symbol: string): number {
  return [...ATOMIC_MASSES.keys()].indexOf(symbol);
}

/** The structure as aiida-core's XSF (for XCrySDen). */
export function structureToXsf(structure: StructureData): string {
  const symbols = siteSymbols(structure, 'XSF');
  let text = 'CRYSTAL\nPRIMVEC 1\n';
  for (const vector of structure.cell) text += `${vector.map(fixed).join(' ')}\n`;
  text += `PRIMCOORD 1\n${String(structure.sites.length)} 1\n`;
  structure.sites.forEach((site, index) => {
    text += `${String(atomicNumber(symbols[index] ?? 'X'))} ${site.position.map(fixed).join(' ')}\n`;
  });
  return text;
}

// --- linear algebra of cells ---------------------------------------------------------------------------------

const dot = (a: Vector3, b: Vector3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const norm = (a: Vector3): number => Math.sqrt(dot(a, a));
const degrees = (radians: number): number => (radians * 180) / Math.PI;

/** Fractional coordinates of a Cartesian position in `cell` (rows are the cell vectors). */
function toFractional(cell: Cell, position: Vector3): Vector3 {
  const [a, b, c] = cell;
  const det = dot(a, [b[1] * c[2] - b[2] * c[1], b[2] * c[0] - b[0] * c[2], b[0] * c[1] - b[1] * c[0]]);
  if (Math.abs(det) < 1e-12) throw new ValidationError('the cell is singular: no fractional coordinates');
  // Solve position = f · cell by Cramer's rule.
  const solve = (u: Vector3, v: Vector3, w: Vector3): number =>
    dot(u, [v[1] * w[2] - v[2] * w[1], v[2] * w[0] - v[0] * w[2], v[0] * w[1] - v[1] * w[0]]) / det;
  return [solve(position, b, c), solve(a, position, c), solve(a, b, position)];
}

const toCartesian = (cell: Cell, f: Vector3): Vector3 => [
  f[0] * cell[0][0] + f[1] * cell[1][0] + f[2] * cell[2][0],
  f[0] * cell[0][1] + f[1] * cell[1][1] + f[2] * cell[2][1],
  f[0] * cell[0][2] + f[1] * cell[1][2] + f[2] * cell[2][2],
];

/** The cell of lengths and angles (degrees), `a` along x and `b` in the xy plane (the CIF convention). */
export function cellFromParameters(
  a: number,
  b: number,
  c: number,
  alpha: number,
  beta: number,
  gamma: number,
): Cell {
  const rad = Math.PI / 180;
  const [ca, cb, cg, sg] = [
    Math.cos(alpha * rad),
    Math.cos(beta * rad),
    Math.cos(gamma * rad),
    Math.sin(gamma * rad),
  ];
  const cx = c * cb;
  const cy = (c * (ca - cb * cg)) / sg;
  const cz = Math.sqrt(Math.max(c * c - cx * cx - cy * cy, 0));
  const clean = (x: number) => (Math.abs(x) < 1e-12 ? 0 : x);
  return [
    [a, 0, 0],
    [clean(b * cg), clean(b * sg), 0],
    [clean(cx), clean(cy), clean(cz)],
  ];
}

/** The structure as CIF: cell parameters, space group P1, one fractional site per atom. */
export function structureToCif(structure: StructureData): string {
  const symbols = siteSymbols(structure, 'CIF');
  const [a, b, c] = structure.cell;
  const angle = (u: Vector3, v: Vector3) => degrees(Math.acos(dot(u, v) / (norm(u) * norm(v))));
  const number = (x: number) => x.toFixed(8);
  const lines = [
    '#\\#CIF_1.1',
    `data_${structure.getFormula('hill_compact')}`,
    `_chemical_formula_sum '${structure.getFormula('hill')}'`,
    `_cell_length_a ${number(norm(a))}`,
    `_cell_length_b ${number(norm(b))}`,
    `_cell_length_c ${number(norm(c))}`,
    `_cell_angle_alpha ${number(angle(b, c))}`,
    `_cell_angle_beta ${number(angle(a, c))}`,
    `_cell_angle_gamma ${number(angle(a, b))}`,
    "_symmetry_space_group_name_H-M 'P 1'",
    '_symmetry_Int_Tables_number 1',
    'loop_',
    '  _symmetry_equiv_pos_as_xyz',
    "  'x, y, z'",
    'loop_',
    '  _atom_site_label',
    '  _atom_site_type_symbol',
    '  _atom_site_fract_x',
    '  _atom_site_fract_y',
    '  _atom_site_fract_z',
    '  _atom_site_occupancy',
  ];
  // CIF cell parameters fix the orientation: fractional coordinates are taken in the structure's own cell.
  const counts = new Map<string, number>();
  structure.sites.forEach((site, index) => {
    const symbol = symbols[index] ?? 'X';
    const count = (counts.get(symbol) ?? 0) + 1;
    counts.set(symbol, count);
    const f = toFractional(structure.cell, site.position);
    lines.push(`  ${symbol}${String(count)} ${symbol} ${f.map(number).join(' ')} 1.0`);
  });
  return `${lines.join('\n')}\n`;
}

// --- readers -------------------------------------------------------------------------------------------------

function parseNumber(text: string, what: string): number {
  // CIF numbers may carry an uncertainty: `3.567(2)`.
  const value = Number(text.replace(/\(\d+\)$/, ''));
  if (!Number.isFinite(value)) throw new ValidationError(`${what}: \`${text}\` is not a number`);
  return value;
}

/**
 * The atoms of the last frame of an XYZ file (aiida-core's `_parse_xyz`): a count line, a comment line and one
 * `symbol x y z` line per atom, frame after frame.
 */
export function parseXyz(text: string): ParsedStructure {
  const lines = text.split(/\r?\n/);
  let index = 0;
  let atoms: ParsedAtom[] | undefined;
  while (index < lines.length) {
    const countLine = (lines[index] ?? '').trim();
    if (countLine === '') {
      index += 1;
      continue;
    }
    if (!/^\d+$/.test(countLine))
      throw new ValidationError(
        `line ${String(index + 1)}: expected the number of atoms, got \`${countLine}\``,
      );
    const count = Number(countLine);
    const frame: ParsedAtom[] = [];
    for (let i = 0; i < count; i += 1) {
      const lineNumber = index + 3 + i;
      const fields = (lines[lineNumber - 1] ?? '').trim().split(/\s+/);
      if (fields.length < 4 || fields[0] === '')
        throw new ValidationError(
          `line ${String(lineNumber)}: expected \`symbol x y z\` (${String(count)} atoms declared)`,
        );
      const symbol = fields[0] ?? '';
      const position = fields.slice(1, 4).map((field) => parseNumber(field, `line ${String(lineNumber)}`));
      frame.push({ symbol, position: [position[0] ?? 0, position[1] ?? 0, position[2] ?? 0] });
    }
    atoms = frame;
    index += 2 + count;
  }
  if (atoms === undefined) throw new ValidationError('The data does not contain any XYZ data');
  return { atoms };
}

/**
 * The cell of a structure read from XYZ (aiida-core's `_adjust_default_cell`): the atoms moved so that their
 * smallest coordinates are zero, in an orthorhombic box of their extent × `vacuumFactor` + `vacuumAddition`.
 */
export function adjustDefaultCell(
  atoms: readonly ParsedAtom[],
  options: { vacuumFactor: number; vacuumAddition: number; pbc: Pbc },
): ParsedStructure {
  const axes = [0, 1, 2] as const;
  const min = axes.map((axis) => Math.min(...atoms.map((atom) => atom.position[axis])));
  const moved = atoms.map((atom) => ({
    symbol: atom.symbol,
    position: axes.map((axis) => atom.position[axis] - (min[axis] ?? 0)) as unknown as Vector3,
  }));
  const size = axes.map(
    (axis) =>
      Math.max(...moved.map((atom) => atom.position[axis])) * options.vacuumFactor + options.vacuumAddition,
  );
  const [x, y, z] = [size[0] ?? 0, size[1] ?? 0, size[2] ?? 0];
  return {
    atoms: moved,
    pbc: options.pbc,
    cell: [
      [x, 0, 0],
      [0, y, 0],
      [0, 0, z],
    ],
  };
}

/** Splits a CIF into tokens: words, quoted strings (quotes removed), `;`-text fields; comments dropped. */
function cifTokens(text: string): string[] {
  const tokens: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    if (line.startsWith(';')) {
      const field = [line.slice(1)];
      for (i += 1; i < lines.length && !(lines[i] ?? '').startsWith(';'); i += 1) field.push(lines[i] ?? '');
      tokens.push(field.join('\n'));
      continue;
    }
    const pattern = /'([^']*)'(?=\s|$)|"([^"]*)"(?=\s|$)|(#.*$)|(\S+)/g;
    for (const match of line.matchAll(pattern)) {
      if (match[3] !== undefined) break;
      tokens.push(match[1] ?? match[2] ?? match[4] ?? '');
    }
  }
  return tokens;
}

/** One symmetry operation `-x+1/2, y, z` applied to fractional coordinates. */
function symmetryOperation(text: string): (f: Vector3) => Vector3 {
  const parts = text.toLowerCase().replace(/\s+/g, '').split(',');
  if (parts.length !== 3) throw new ValidationError(`invalid symmetry operation \`${text}\``);
  const compiled = parts.map((part) => {
    const terms = part.match(/[+-]?[^+-]+/g) ?? [];
    return terms.map((term) => {
      const sign = term.startsWith('-') ? -1 : 1;
      const body = term.replace(/^[+-]/, '');
      const axis = ['x', 'y', 'z'].indexOf(body.slice(-1));
      if (axis >= 0) {
        const factor = body.length > 1 ? Number(body.slice(0, -1).replace(/\*$/, '')) : 1;
        if (!Number.isFinite(factor)) throw new ValidationError(`invalid symmetry operation \`${text}\``);
        return (f: Vector3) => sign * factor * f[axis as 0 | 1 | 2];
      }
      const [num, den] = body.split('/');
      const value = Number(num) / (den === undefined ? 1 : Number(den));
      if (!Number.isFinite(value)) throw new ValidationError(`invalid symmetry operation \`${text}\``);
      return () => sign * value;
    });
  });
  return (f) => compiled.map((terms) => terms.reduce((sum, term) => sum + term(f), 0)) as unknown as Vector3;
}

/** The element of an atom site label (`Fe2+`, `O1` → `Fe`, `O`). */
function elementOf(label: string): string {
  const match = /^([A-Z][a-z]?)/.exec(label.trim());
  return match?.[1] ?? 'X';
}

/**
 * The first data block of a CIF as a periodic structure: the cell from its parameters, one atom per site and per
 * distinct image under the symmetry operations (images within 1e-4 of each other counted once).
 */
export function parseCif(text: string): ParsedStructure {
  const tokens = cifTokens(text);
  const values = new Map<string, string>();
  const loops: Map<string, string[]>[] = [];
  let i = 0;
  let blocks = 0;
  while (i < tokens.length) {
    const token = tokens[i] ?? '';
    if (token.toLowerCase().startsWith('data_')) {
      blocks += 1;
      if (blocks > 1) break;
      i += 1;
    } else if (token.toLowerCase() === 'loop_') {
      const names: string[] = [];
      i += 1;
      while (i < tokens.length && (tokens[i] ?? '').startsWith('_'))
        names.push((tokens[i++] ?? '').toLowerCase());
      const loop = new Map<string, string[]>(names.map((name) => [name, []]));
      let column = 0;
      while (i < tokens.length) {
        const value = tokens[i] ?? '';
        const lower = value.toLowerCase();
        if (value.startsWith('_') || lower === 'loop_' || lower.startsWith('data_')) break;
        loop.get(names[column % names.length] ?? '')?.push(value);
        column += 1;
        i += 1;
      }
      loops.push(loop);
    } else if (token.startsWith('_')) {
      values.set(token.toLowerCase(), tokens[i + 1] ?? '');
      i += 2;
    } else i += 1;
  }
  if (blocks === 0) throw new ValidationError('no data block (`data_…`) found: this is not a CIF file');
  const parameter = (name: string): number => {
    const value = values.get(`_cell_${name}`);
    if (value === undefined) throw new ValidationError(`the CIF has no _cell_${name}`);
    return parseNumber(value, `_cell_${name}`);
  };
  const cell = cellFromParameters(
    parameter('length_a'),
    parameter('length_b'),
    parameter('length_c'),
    parameter('angle_alpha'),
    parameter('angle_beta'),
    parameter('angle_gamma'),
  );
  const sites = loops.find((loop) => loop.has('_atom_site_fract_x'));
  if (sites === undefined) throw new ValidationError('the CIF has no _atom_site_fract_x/y/z loop');
  const column = (name: string) => sites.get(name) ?? [];
  const labels = column('_atom_site_label');
  const types = column('_atom_site_type_symbol');
  const [fx, fy, fz] = [
    column('_atom_site_fract_x'),
    column('_atom_site_fract_y'),
    column('_atom_site_fract_z'),
  ];
  const operationsLoop = loops.find(
    (loop) => loop.has('_symmetry_equiv_pos_as_xyz') || loop.has('_space_group_symop_operation_xyz'),
  );
  const operationTexts = operationsLoop?.get('_symmetry_equiv_pos_as_xyz') ??
    operationsLoop?.get('_space_group_symop_operation_xyz') ?? ['x, y, z'];
  const operations = operationTexts.map(symmetryOperation);
  const atoms: ParsedAtom[] = [];
  const seen: { symbol: string; f: Vector3 }[] = [];
  const wrap = (x: number) => {
    const wrapped = x - Math.floor(x);
    return wrapped > 1 - 1e-6 ? 0 : wrapped;
  };
  const same = (a: Vector3, b: Vector3) =>
    a.every((x, k) => {
      const d = Math.abs(x - (b[k] ?? 0));
      return Math.min(d, 1 - d) < 1e-4;
    });
  fx.forEach((x, k) => {
    const symbol = elementOf(types[k] ?? labels[k] ?? 'X');
    const base: Vector3 = [
      parseNumber(x, '_atom_site_fract_x'),
      parseNumber(fy[k] ?? '', '_atom_site_fract_y'),
      parseNumber(fz[k] ?? '', '_atom_site_fract_z'),
    ];
    for (const operation of operations) {
      const image = operation(base).map(wrap) as unknown as Vector3;
      if (seen.some((entry) => entry.symbol === symbol && same(entry.f, image))) continue;
      seen.push({ symbol, f: image });
      atoms.push({ symbol, position: toCartesian(cell, image) });
    }
  });
  if (atoms.length === 0) throw new ValidationError('the CIF has no atom sites');
  return { cell, pbc: [true, true, true], atoms };
}
