import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { CliExit, ExitCode } from '../exit-codes.js';
import { colorEnabled, makeColors, type Colors } from './colors.js';
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
 * JSON document and every message goes to stderr, so `verdi … --json | jq` always works.
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

  #shows(level: Verbosity): boolean {
    return RANK[level] >= RANK[this.verbosity];
  }

  #messageStream(): { stream: NodeJS.WriteStream; colors: Colors } {
    return this.json
      ? { stream: this.stderr, colors: this.errColors }
      : { stream: this.stdout, colors: this.colors };
  }

  /** Print text as is (a result) to stdout. */
  echo(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** Print a value as the JSON result of the command. */
  printJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Print a value as YAML (what `verdi profile show` and friends print). */
  printYaml(value: unknown): void {
    this.stdout.write(toYaml(value));
  }

  /** Print a table with a header row. */
  table(headers: readonly string[], rows: readonly (readonly unknown[])[], options: TableOptions = {}): void {
    this.echo(renderTable(headers, rows, { colors: this.colors, ...options }));
  }

  debug(message: string): void {
    if (!this.#shows('DEBUG')) return;
    this.stderr.write(`${this.errColors.gray('Debug:')} ${message}\n`);
  }

  info(message: string): void {
    if (!this.#shows('INFO')) return;
    const { stream, colors } = this.#messageStream();
    stream.write(`${colors.blue(colors.bold('Info:'))} ${message}\n`);
  }

  report(message: string): void {
    if (!this.#shows('REPORT')) return;
    const { stream, colors } = this.#messageStream();
    stream.write(`${colors.blue(colors.bold('Report:'))} ${message}\n`);
  }

  success(message: string): void {
    if (!this.#shows('REPORT')) return;
    const { stream, colors } = this.#messageStream();
    stream.write(`${colors.green(colors.bold('Success:'))} ${message}\n`);
  }

  warning(message: string): void {
    if (!this.#shows('WARNING')) return;
    this.stderr.write(`${this.errColors.yellow(this.errColors.bold('Warning:'))} ${message}\n`);
  }

  error(message: string): void {
    if (!this.#shows('ERROR')) return;
    this.stderr.write(`${this.errColors.red(this.errColors.bold('Error:'))} ${message}\n`);
  }

  /** Print a critical message and end the command with exit code 1. */
  critical(message: string): never {
    this.stderr.write(`${this.errColors.red(this.errColors.bold('Critical:'))} ${message}\n`);
    throw new CliExit(ExitCode.CRITICAL, message);
  }
}
