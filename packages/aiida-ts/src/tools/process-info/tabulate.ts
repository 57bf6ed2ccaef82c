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
  const columns = Math.max(headers?.length ?? 0, ...rows.map((row) => row.length));
  const numeric: boolean[] = [];
  const widths: number[] = [];
  const cells = rows.map((row) =>
    Array.from({ length: columns }, (_, index) => text(row[index]).split('\n')),
  );
  for (let column = 0; column < columns; column++) {
    const values = rows.map((row) => row[column]).filter((cell) => !isEmpty(cell));
    numeric.push(values.length > 0 && values.every(isNumeric));
    const data = Math.max(0, ...cells.map((row) => Math.max(...row[column]!.map((line) => line.length))));
    const header = headers === undefined ? 0 : (headers[column]?.length ?? 0) + MIN_PADDING;
    widths.push(Math.max(data, header));
  }
  const align = (value: string, column: number): string =>
    numeric[column] ? value.padStart(widths[column]!) : value.padEnd(widths[column]!);
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  const lines: string[] = [];
  if (headers !== undefined) lines.push(headers.map((header, column) => align(header, column)).join('  '));
  if (format === 'simple') lines.push(rule);
  for (const row of cells) {
    const height = Math.max(1, ...row.map((parts) => parts.length));
    for (let line = 0; line < height; line++) {
      lines.push(row.map((parts, column) => align(parts[line] ?? '', column)).join('  '));
    }
  }
  // without headers, `simple` closes the rows with a rule as it opened them
  if (headers === undefined && format === 'simple') lines.push(rule);
  return lines.map((line) => line.trimEnd()).join('\n');
}
