import { pino, type Logger as PinoLogger } from 'pino';
import { getConfigOption } from '../config/manager.js';
import type { LogLevel } from '../config/options.js';

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
const LEVEL_NAME = new Map<number, string>(Object.entries(LEVEL_VALUE).map(([name, value]) => [value, name]));

/** An engine logger: pino's, with aiida's `report` level. */
export type EngineLogger = PinoLogger<'report'>;

interface Sink {
  write(line: string): void;
}

function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in LEVEL_VALUE;
}

/** One line a person reads: `time [LEVEL] logger: message`, plus the error's stack when there is one. */
function humanLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toISOString() : '';
  const level = LEVEL_NAME.get(record['level'] as number) ?? String(record['level']);
  const name = typeof record['name'] === 'string' ? record['name'] : 'aiida';
  let text = `${time} [${level}] ${name}: ${typeof record['msg'] === 'string' ? record['msg'] : JSON.stringify(record['msg'] ?? '')}\n`;
  const error = record['err'] ?? record['error'];
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { stack?: unknown }).stack === 'string'
  ) {
    text += `${(error as { stack: string }).stack}\n`;
  }
  return text;
}

let sink: Sink = {
  write(line) {
    const pretty =
      process.env['AIIDA_TS_LOG_FORMAT'] === 'pretty' ||
      (process.env['AIIDA_TS_LOG_FORMAT'] !== 'json' && process.stderr.isTTY);
    process.stderr.write(pretty ? humanLine(line) : line);
  },
};

let root: EngineLogger | undefined;
const children = new Map<EngineLoggerName, EngineLogger>();

function rootLogger(): EngineLogger {
  root ??= pino<'report'>(
    {
      base: { pid: process.pid },
      customLevels: { report: LEVEL_VALUE.REPORT },
      level: 'debug',
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    { write: (line: string) => sink.write(line) },
  );
  return root;
}

/** The level set for a logger by the current profile's options (or the global ones, or the default). */
export function configuredLevel(name: EngineLoggerName): LogLevel {
  const value = getConfigOption(LOGGER_OPTIONS[name]);
  return isLogLevel(value) ? value : 'REPORT';
}

/**
 * The engine logger `name` (`aiida`, `plumpy`, `kiwipy`, `db`), at the level its option sets. Structured (pino):
 * JSON lines on stderr, human-readable lines on a terminal (`AIIDA_TS_LOG_FORMAT=json|pretty` forces one).
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

/** Redirects every engine log line (for tests and for the CLI); returns a function restoring the previous sink. */
export function setLogSink(next: Sink): () => void {
  const previous = sink;
  sink = next;
  return () => {
    sink = previous;
  };
}
