import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { CliExit, ExitCode } from '../exit-codes.js';
import { colorEnabled, makeColors, type Colors } from './colors.js';
import { printable } from '../../utils/printable.js';
import { renderTable, type TableOptions } from './table.js';

/** Verbosity levels of `verdi -v`, AiiDA's log levels; messages below the level are not printed. */
export const VERBOSITY_LEVELS = ['CRITICAL', 'ERROR', 'WARNING', 'REPORT', 'INFO', 'DEBUG'] as const;
export type Verbosity = (typeof VERBOSITY_LEVELS)[number];

// Loaded on first use: most commands never print YAML, and `verdi --version` must not pay for the parser.
const require = createRequire(import.meta.url);
const toYaml = (value: unknown): string =>
  (require('yaml') as typeof Yaml).stringify(value, { sortMapEntries: false });

const RANK: Record<Verbosity, number> = {
  CRITICAL: 50,
  ERROR: 40,
  WARNING: 30,
  REPORT: 23,
  INFO: 20,
  DEBUG: 10,
};

/** Where `verdi` writes and how. */
export interface OutputOptions {
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
  readonly verbosity?: Verbosity;
}

/**
 * The voice of `verdi`. Results go to stdout; warnings and errors to stderr, prefixed as AiiDA prefixes them
 * (`Report:`, `Success:`, `Warning:`, `Error:`, `Critical:`). With {@link Output.json} set, stdout carries only the
 * JSON document and every message goes to stderr, so `verdi … --json | jq` always works. Everything written goes
 * through `printable`: control characters and terminal escape sequences in data (a label, a description, a log
 * message) are shown as `\u001b`-style escapes, never obeyed by the terminal; only `verdi`'s own colours pass.
 */
export class Output {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Colours for stdout. */
  readonly colors: Colors;
  /** Colours for stderr. */
  readonly errColors: Colors;
  verbosity: Verbosity;
  json = false;

  constructor(options: OutputOptions = {}) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    const env = options.env ?? process.env;
    this.colors = makeColors(colorEnabled(this.stdout, env));
    this.errColors = makeColors(colorEnabled(this.stderr, env));
    this.verbosity = options.verbosity ?? 'REPORT';
  }

  /** Writes `text` to stdout as it may reach a terminal (see {@link printable}). */
  writeOut(text: string): void {
    this.stdout.write(printable(text, { colors: this.colors.isColorSupported }));
  }

  /** Writes `text` to stderr as it may reach a terminal (see {@link printable}). */
  writeErr(text: string): void {
    this.stderr.write(printable(text, { colors: this.errColors.isColorSupported }));
  }

  #shows(level: Verbosity): boolean {
    return RANK[level] >= RANK[this.verbosity];
  }

  #messageStream(): { write: (text: string) => void; colors: Colors } {
    return this.json
      ? { write: (text) => this.writeErr(text), colors: this.errColors }
      : { write: (text) => this.writeOut(text), colors: this.colors };
  }

  /** Print text as is (a result) to stdout. */
  echo(text = ''): void {
    this.writeOut(`${text}\n`);
  }

  /** Print a value as the JSON result of the command. */
  printJson(value: unknown): void {
    this.writeOut(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Print a value as YAML (what `verdi profile show` and friends print). */
  printYaml(value: unknown): void {
    this.writeOut(toYaml(value));
  }

  /** Print a table with a header row. */
  table(headers: readonly string[], rows: readonly (readonly unknown[])[], options: TableOptions = {}): void {
    this.echo(renderTable(headers, rows, { colors: this.colors, ...options }));
  }

  debug(message: string): void {
    if (!this.#shows('DEBUG')) return;
    this.writeErr(`${this.errColors.gray('Debug:')} ${message}\n`);
  }

  info(message: string): void {
    if (!this.#shows('INFO')) return;
    const { write, colors } = this.#messageStream();
    write(`${colors.blue(colors.bold('Info:'))} ${message}\n`);
  }

  report(message: string): void {
    if (!this.#shows('REPORT')) return;
    const { write, colors } = this.#messageStream();
    write(`${colors.blue(colors.bold('Report:'))} ${message}\n`);
  }

  success(message: string): void {
    if (!this.#shows('REPORT')) return;
    const { write, colors } = this.#messageStream();
    write(`${colors.green(colors.bold('Success:'))} ${message}\n`);
  }

  warning(message: string): void {
    if (!this.#shows('WARNING')) return;
    this.writeErr(`${this.errColors.yellow(this.errColors.bold('Warning:'))} ${message}\n`);
  }

  error(message: string): void {
    if (!this.#shows('ERROR')) return;
    this.writeErr(`${this.errColors.red(this.errColors.bold('Error:'))} ${message}\n`);
  }

  /** Print a critical message and end the command with exit code 1. */
  critical(message: string): never {
    this.writeErr(`${this.errColors.red(this.errColors.bold('Critical:'))} ${message}\n`);
    throw new CliExit(ExitCode.CRITICAL, message);
  }
}
