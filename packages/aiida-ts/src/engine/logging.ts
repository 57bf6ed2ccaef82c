import pc from 'picocolors';
import { createRequire } from 'node:module';
import type { Logger as PinoLogger, pino as PinoFactory } from 'pino';
import { z } from 'zod';
import { getConfigOption } from '../config/manager.js';
import type { LogLevel } from '../config/options.js';
import { ValidationError } from '../errors.js';

/** The loggers of the engine and the option that sets each one's level (aiida's `logging.*_loglevel`). */
export const LOGGER_OPTIONS = {
  aiida: 'logging.aiida_loglevel',
  plumpy: 'logging.plumpy_loglevel',
  kiwipy: 'logging.kiwipy_loglevel',
  db: 'logging.db_loglevel',
} as const;
export type EngineLoggerName = keyof typeof LOGGER_OPTIONS;

/** aiida's level names as pino levels; `REPORT` (aiida's 23, between INFO and WARNING) is a custom level. */
const PINO_LEVEL: Record<LogLevel, string> = {
  DEBUG: 'debug',
  INFO: 'info',
  REPORT: 'report',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'fatal',
};
const LEVEL_VALUE: Record<LogLevel, number> = {
  DEBUG: 20,
  INFO: 30,
  REPORT: 35,
  WARNING: 40,
  ERROR: 50,
  CRITICAL: 60,
};
const LEVEL_NAME = new Map<number, LogLevel>();
for (const [name, value] of Object.entries(LEVEL_VALUE)) if (isLogLevel(name)) LEVEL_NAME.set(value, name);

/** An engine logger: pino's, with aiida's `report` level. */
export type EngineLogger = PinoLogger<'report'>;

interface Sink {
  write(line: string): void;
}

function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in LEVEL_VALUE;
}

/**
 * How engine log records are written (stderr):
 * - `halfverbose` (default): aiida-core's console format, `<MM/DD/YYYY hh:mm:ss AM> <pid> <logger>: [REPORT] <message>`,
 *   where a process's report names its node's logger and reads `[pk|Class|step]: message`;
 * - `cli`: aiida-core's `verdi` format, `Report: <message>`;
 * - `json`: one pino JSON object per line (`level`, `time`, `pid`, `name`, `msg`, `pk`, `process`, …), for machines.
 * Colour (the level, as aiida-core colours it) only on a terminal, never with `NO_COLOR`, always with `FORCE_COLOR`.
 */
export const LogFormat = z.enum(['halfverbose', 'cli', 'json']);
export type LogFormat = z.infer<typeof LogFormat>;

/** The environment variable choosing the {@link LogFormat} when no format was set in code or with `--log-format`. */
export const LOG_FORMAT_ENV = 'AIIDA_TS_LOG_FORMAT';

/** Colours always on: whether to use them is decided per line ({@link colorsOnStderr}), not at import. */
const colors = pc.createColors(true);

/** aiida-core's colours of the level names (`aiida.cmdline.utils.echo.COLORS`). */
const LEVEL_COLOR: Record<LogLevel, (text: string) => string> = {
  DEBUG: colors.white,
  INFO: colors.blue,
  REPORT: colors.blue,
  WARNING: colors.yellowBright,
  ERROR: colors.red,
  CRITICAL: colors.red,
};

let chosenFormat: LogFormat | undefined;
let warnedFormat: string | undefined;

/**
 * Parses a log format named by the user; a {@link ValidationError} naming `source` (the option or variable) and the
 * accepted values otherwise.
 */
export function parseLogFormat(value: string, source: string): LogFormat {
  const parsed = LogFormat.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    `${source}: '${value}' is not a log format (choose ${LogFormat.options.join(', ')})`,
  );
}

/** Sets the log format of this JS process (`undefined`: back to {@link LOG_FORMAT_ENV}, else `halfverbose`). */
export function setLogFormat(format: LogFormat | undefined): void {
  chosenFormat = format;
}

/**
 * The log format in effect: the one set with {@link setLogFormat}, else {@link LOG_FORMAT_ENV}, else `halfverbose`.
 * A wrong value of the variable is named once on stderr and ignored (a logger never throws).
 */
export function getLogFormat(): LogFormat {
  if (chosenFormat !== undefined) return chosenFormat;
  const fromEnv = process.env[LOG_FORMAT_ENV];
  if (fromEnv === undefined || fromEnv === '') return 'halfverbose';
  const parsed = LogFormat.safeParse(fromEnv);
  if (parsed.success) return parsed.data;
  if (warnedFormat !== fromEnv) {
    warnedFormat = fromEnv;
    process.stderr.write(
      `Warning: ${LOG_FORMAT_ENV}='${fromEnv}' is not a log format (choose ${LogFormat.options.join(', ')}); using halfverbose\n`,
    );
  }
  return 'halfverbose';
}

/** Whether log lines on stderr are coloured: never with `NO_COLOR`, always with `FORCE_COLOR`, else on a terminal. */
function colorsOnStderr(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  return process.stderr.isTTY === true;
}

const two = (value: number): string => String(value).padStart(2, '0');

/** aiida-core's console time (`%m/%d/%Y %I:%M:%S %p`), in local time. */
export function halfverboseTime(date: Date): string {
  const hours = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  return (
    `${two(date.getMonth() + 1)}/${two(date.getDate())}/${date.getFullYear()} ` +
    `${two(hours)}:${two(date.getMinutes())}:${two(date.getSeconds())} ${date.getHours() < 12 ? 'AM' : 'PM'}`
  );
}

/** Options of {@link formatLogRecord}. */
export interface FormatLogRecordOptions {
  /** Colour the level. */
  readonly color?: boolean;
}

/**
 * One pino record (parsed) as a person reads it, in aiida-core's `halfverbose` or `cli` layout, ending with a newline;
 * the error's stack follows when the record carries one.
 */
export function formatLogRecord(
  record: Readonly<Record<string, unknown>>,
  format: Exclude<LogFormat, 'json'>,
  options: FormatLogRecordOptions = {},
): string {
  const level = LEVEL_NAME.get(record['level'] as number);
  const levelName = level ?? String(record['level']);
  const paint = (text: string): string =>
    options.color === true && level !== undefined ? colors.bold(LEVEL_COLOR[level](text)) : text;
  const msg = record['msg'];
  const message = typeof msg === 'string' ? msg : JSON.stringify(msg ?? '');
  let text: string;
  if (format === 'cli') {
    text = `${paint(levelName.charAt(0) + levelName.slice(1).toLowerCase())}: ${message}\n`;
  } else {
    const time = typeof record['time'] === 'number' ? new Date(record['time']) : new Date();
    const logger =
      typeof record['logger'] === 'string'
        ? record['logger']
        : typeof record['name'] === 'string'
          ? record['name']
          : 'aiida';
    const pid = typeof record['pid'] === 'number' ? record['pid'] : process.pid;
    text = `${halfverboseTime(time)} <${pid}> ${logger}: ${paint(`[${levelName}]`)} ${message}\n`;
  }
  const error = record['err'] ?? record['error'];
  if (typeof error === 'object' && error !== null) {
    const stack = (error as { stack?: unknown }).stack;
    if (typeof stack === 'string') text += `${stack}\n`;
  }
  return text;
}

/** One line pino wrote, in the format in effect. */
function renderLine(line: string): string {
  const format = getLogFormat();
  if (format === 'json') return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  return formatLogRecord(record, format, { color: colorsOnStderr() });
}

let sink: Sink = {
  write(line) {
    process.stderr.write(renderLine(line));
  },
};

let root: EngineLogger | undefined;
const children = new Map<EngineLoggerName, EngineLogger>();

/**
 * pino, loaded when the first engine logger is made: commands that only read (`verdi process list`, `node show`)
 * import engine modules but never log, and pino is a dozen CommonJS files.
 */
function loadPino(): typeof PinoFactory {
  return (createRequire(import.meta.url)('pino') as { pino: typeof PinoFactory }).pino;
}

function rootLogger(): EngineLogger {
  if (root === undefined) {
    const pino = loadPino();
    root = pino<'report'>(
      {
        base: { pid: process.pid },
        customLevels: { report: LEVEL_VALUE.REPORT },
        level: 'debug',
        serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      },
      { write: (line: string) => sink.write(line) },
    );
  }
  return root;
}

/** The level set for a logger by the current profile's options (or the global ones, or the default). */
export function configuredLevel(name: EngineLoggerName): LogLevel {
  const value = getConfigOption(LOGGER_OPTIONS[name]);
  return isLogLevel(value) ? value : 'REPORT';
}

/**
 * The engine logger `name` (`aiida`, `plumpy`, `kiwipy`, `db`), at the level its option sets. Structured (pino),
 * written to stderr in the {@link LogFormat} in effect (aiida-core's human format unless JSON is asked for).
 */
export function getLogger(name: EngineLoggerName): EngineLogger {
  let logger = children.get(name);
  if (logger === undefined) {
    logger = rootLogger().child({ name });
    logger.level = PINO_LEVEL[configuredLevel(name)];
    children.set(name, logger);
  }
  return logger;
}

/** Re-reads every logger's level from the options (after a profile is loaded or `verdi config set`). */
export function configureLogging(): void {
  for (const [name, logger] of children) logger.level = PINO_LEVEL[configuredLevel(name)];
}

/** Whether records at `level` reach the database (`logging.db_loglevel`, REPORT by default). */
export function storesDbRecords(level: LogLevel): boolean {
  return LEVEL_VALUE[level] >= LEVEL_VALUE[configuredLevel('db')];
}

/**
 * Redirects every engine log line, as pino's JSON (for tests and tools; {@link formatLogRecord} renders one for a
 * person); returns a function restoring the previous sink.
 */
export function setLogSink(next: Sink): () => void {
  const previous = sink;
  sink = next;
  return () => {
    sink = previous;
  };
}

/**
 * Drops the engine log lines (pino's JSON, as {@link setLogSink} receives them) for which `drop` returns true,
 * passing the others on to the sink in effect; returns a function restoring it.
 */
export function filterLogLines(drop: (line: string) => boolean): () => void {
  const previous = sink;
  sink = {
    write(line) {
      if (!drop(line)) previous.write(line);
    },
  };
  return () => {
    sink = previous;
  };
}
