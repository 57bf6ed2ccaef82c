/**
 * The logging surface kiwipy-ts writes to. Its shape is pino's (`logger.warn(fields, message)`), so a pino
 * logger can be passed as it is; the default writes warnings and errors to stderr.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Drops everything. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Writes warnings and errors as one JSON line each to stderr. */
export const stderrLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields, message) => write('warn', fields, message),
  error: (fields, message) => write('error', fields, message),
};

function write(level: string, fields: object, message: string): void {
  process.stderr.write(
    `${JSON.stringify({ level, name: 'kiwipy-ts', msg: message, ...describe(fields) })}\n`,
  );
}

function describe(fields: object): object {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { message: value.message, stack: value.stack } : value;
  }
  return out;
}
