/** Error codes of a database that cannot be reached now (network, PostgreSQL shutting down or starting up). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, connection_exception and its subclasses
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

const UNAVAILABLE_MESSAGE =
  /connection terminated|terminating connection|the database system is (?:shutting down|starting up|in recovery mode)|client has encountered a connection error|connection (?:is )?closed/i;

/**
 * Whether an error (or one of its causes) says the database could not be reached, rather than that what was asked of
 * it is wrong: a step that failed so is not the process's failure, and the process is continued from its checkpoint
 * once the database answers again.
 */
export function isStorageUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    current = cause;
  }
  return false;
}
