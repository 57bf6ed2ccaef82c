/**
 * Tables as aiida-core prints them through Python's `tabulate`: the `simple` format (a dashed rule under the headers,
 * or above and below the rows when there are none; columns two spaces apart, each at least two wider than its header)
 * and the `plain` format (no rules). Numeric
 * columns are right-aligned, header included; text columns left-aligned; multi-line cells span several lines; empty
 * cells (null, undefined, '') do not change a column's type. Trailing blanks are not printed, as tabulate does not.
 */

import { printable } from '../../utils/printable.js';

/** One cell: anything printable; null and undefined print as nothing. */
export type Cell = string | number | boolean | null | undefined;

const MIN_PADDING = 2;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function text(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'boolean') return cell ? 'True' : 'False';
  // escaped before the widths are measured (see printable)
  return printable(String(cell), { tabs: true });
}

function isNumeric(cell: Cell): boolean {
  if (typeof cell === 'number') return Number.isFinite(cell);
  return typeof cell === 'string' && NUMBER.test(cell.trim());
}

const isEmpty = (cell: Cell): boolean => cell === null || cell === undefined || cell === '';

/** Options of {@link tabulate}. */
export interface TabulateOptions {
  /** Column headers. */
  readonly headers?: readonly string[];
  /** tabulate's `tablefmt`: by default `simple` with headers and `plain` without. */
  readonly format?: 'simple' | 'plain';
}

/** Render rows as tabulate's `simple` or `plain` format. */
export function tabulate(rows: readonly (readonly Cell[])[], options: TabulateOptions = {}): string {
  const headers = options.headers;
  const format = options.format ?? (headers === undefined ? 'plain' : 'simple');
  let columns = headers?.length ?? 0;
  for (const row of rows) if (row.length > columns) columns = row.length;
  // one pass over the cells (`verdi node show` prints several tables per call): each cell's lines, each column's
  // width and whether all its non-empty cells are numbers
  const widths = new Array<number>(columns).fill(0);
  const numeric = new Array<boolean>(columns).fill(true);
  const filled = new Array<boolean>(columns).fill(false);
  const cells: string[][][] = [];
  for (const row of rows) {
    const lines: string[][] = [];
    for (let column = 0; column < columns; column++) {
      const cell = row[column];
      const parts = text(cell).split('\n');
      lines.push(parts);
      for (const part of parts) if (part.length > widths[column]!) widths[column] = part.length;
      if (!isEmpty(cell)) {
        filled[column] = true;
        if (numeric[column] && !isNumeric(cell)) numeric[column] = false;
      }
    }
    cells.push(lines);
  }
  for (let column = 0; column < columns; column++) {
    numeric[column] = numeric[column]! && filled[column]!;
    if (headers !== undefined)
      widths[column] = Math.max(widths[column]!, (headers[column]?.length ?? 0) + MIN_PADDING);
  }
  const align = (value: string, column: number): string =>
    numeric[column] ? value.padStart(widths[column]!) : value.padEnd(widths[column]!);
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  const lines: string[] = [];
  if (headers !== undefined) lines.push(headers.map((header, column) => align(header, column)).join('  '));
  if (format === 'simple') lines.push(rule);
  for (const row of cells) {
    let height = 1;
    for (const parts of row) if (parts.length > height) height = parts.length;
    for (let line = 0; line < height; line++) {
      lines.push(row.map((parts, column) => align(parts[line] ?? '', column)).join('  '));
    }
  }
  // without headers, `simple` closes the rows with a rule as it opened them
  if (headers === undefined && format === 'simple') lines.push(rule);
  return lines.map((line) => line.trimEnd()).join('\n');
}
