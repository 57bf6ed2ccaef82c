import type { Logger } from 'kiwipy-ts';

/**
 * The default logger of processes: warnings and errors as one JSON line each on stderr (pass a pino
 * logger, or any kiwipy-ts `Logger`, to a process to log elsewhere).
 */
export const defaultLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields, message) => write('warn', fields, message),
  error: (fields, message) => write('error', fields, message),
};

function write(level: string, fields: object, message: string): void {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] =
      value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
  }
  let line: string;
  try {
    line = JSON.stringify({ level, name: 'plumpy-ts', msg: message, ...out });
  } catch {
    line = JSON.stringify({ level, name: 'plumpy-ts', msg: message });
  }
  process.stderr.write(`${line}\n`);
}
