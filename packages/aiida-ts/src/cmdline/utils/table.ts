import { createRequire } from 'node:module';
import type TableConstructor from 'cli-table3';
import type { Colors } from './colors.js';
import { printable } from '../../utils/printable.js';

/** Options of {@link renderTable}. */
export interface TableOptions {
  readonly colors?: Colors;
  /** Indices of columns to align right (numbers). */
  readonly alignRight?: readonly number[];
}

// Loaded on first use, to keep the start-up of commands that print no table short.
const require = createRequire(import.meta.url);

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(cell).join('\n');
  if (value instanceof Date) return value.toISOString();
  // escaped before the widths are measured, so that an escaped label keeps its column aligned
  if (typeof value === 'string') return printable(value, { tabs: true });
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString();
  return printable(JSON.stringify(value) ?? '', { tabs: true });
}

/**
 * Render rows as a plain table in the style of AiiDA's `tabulate` output: a header, a dashed rule, and columns
 * separated by two spaces, with no borders to get in the way of `grep` and `awk`.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly unknown[])[],
  options: TableOptions = {},
): string {
  const Table = require('cli-table3') as typeof TableConstructor;
  const table = new Table({
    head: headers.map((header) => (options.colors ? options.colors.bold(header) : header)),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '-',
      'mid-mid': '  ',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns: headers.map((_, index) => (options.alignRight?.includes(index) ? 'right' : 'left')),
  });
  for (const row of rows) table.push(row.map(cell));
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}
