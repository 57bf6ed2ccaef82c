/**
 * How a database that cannot be reached now shows in an error: one list for the storage (which retries connection
 * attempts) and the daemon (which gives back a process whose step failed only for that).
 */

/** Error codes of a database that cannot be reached now (network, PostgreSQL shutting down or starting up). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
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
  return [...errorChain(error)].some(unavailable);
}

/**
 * Whether a failed connection attempt says the server is not there now (nothing was sent, so trying again is safe):
 * only the error itself counts, not what caused it.
 */
export function isConnectUnavailable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && unavailable(error);
}

function unavailable(error: object): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
    (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message))
  );
}

/** An error and its causes, each once. */
function* errorChain(error: unknown): Generator<object> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}
