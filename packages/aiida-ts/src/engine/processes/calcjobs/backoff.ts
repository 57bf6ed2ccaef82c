import { getConfigOption } from '../../../config/manager.js';
import { InternalError } from '../../../errors.js';
import { asError } from '../../../utils/as-error.js';
import { getLogger } from '../../logging.js';

/** The option with the first retry interval of a failed transport task, in seconds (aiida's). */
export const RETRY_INTERVAL_OPTION = 'transport.task_retry_initial_interval';
/** The option with the number of attempts of a transport task before the job is paused (aiida's). */
export const MAX_ATTEMPTS_OPTION = 'transport.task_maximum_attempts';

/** The backoff settings of transport tasks, read from the current profile's configuration. */
export interface BackoffSettings {
  /** Seconds before the second attempt; doubled after each failure. */
  readonly initialInterval: number;
  /** Attempts in all (the first included). */
  readonly maxAttempts: number;
}

/** The backoff settings of the profile (`transport.task_retry_initial_interval`, `transport.task_maximum_attempts`). */
export function backoffSettings(): BackoffSettings {
  const interval = getConfigOption(RETRY_INTERVAL_OPTION);
  const attempts = getConfigOption(MAX_ATTEMPTS_OPTION);
  return {
    initialInterval: typeof interval === 'number' ? interval : 20,
    maxAttempts: typeof attempts === 'number' ? attempts : 5,
  };
}

/** The reason of an aborted signal as an error to throw (an interruption, as plumpy's). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason === undefined ? new InternalError('aborted') : asError(reason);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `work`, or a rejection with the signal's reason as soon as the signal aborts (plumpy's `with_interrupt`): the work
 * itself goes on in the background and its outcome is ignored.
 */
export function interruptible<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      work.catch(() => undefined);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(asError(error));
      },
    );
  });
}

/** Whether the signal has aborted (read afresh: it may abort while an attempt runs). */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted ?? false;
}

/** Options of {@link exponentialBackoffRetry}. */
export interface BackoffOptions extends Partial<BackoffSettings> {
  /** Stops waiting (and retrying) at once; the retry loop rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Errors that are thrown at once, never retried (aiida's `ignore_exceptions`). */
  readonly noRetry?: (error: unknown) => boolean;
  /** What is tried, for the log. */
  readonly what?: string;
  /** Called before each retry with the failure and the delay in seconds. */
  readonly onRetry?: (error: unknown, attempt: number, delaySeconds: number) => void;
}

/**
 * Runs `fn` until it succeeds (aiida's `exponential_backoff_retry`): after the n-th failure it waits
 * `initialInterval × 2^(n−1)` seconds and tries again, at most `maxAttempts` times in all; then the last failure is
 * thrown. An abort of the signal, and errors `noRetry` accepts, are thrown at once.
 */
export async function exponentialBackoffRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: BackoffOptions = {},
): Promise<T> {
  const defaults = options.initialInterval === undefined || options.maxAttempts === undefined;
  const settings = defaults ? backoffSettings() : undefined;
  const initial = options.initialInterval ?? settings!.initialInterval;
  const maxAttempts = Math.max(1, options.maxAttempts ?? settings!.maxAttempts);
  const signal = options.signal;
  for (let attempt = 1; ; attempt += 1) {
    if (signal?.aborted === true) throw abortReason(signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (isAborted(signal)) throw abortReason(signal!);
      if (options.noRetry?.(error) === true) throw error;
      if (attempt >= maxAttempts) throw error;
      const delay = initial * 2 ** (attempt - 1);
      getLogger('aiida').warn(
        { err: error, attempt, maxAttempts },
        `${options.what ?? 'a transport task'} failed (attempt ${attempt} of ${maxAttempts}); retrying in ${delay} s`,
      );
      options.onRetry?.(error, attempt, delay);
      await sleep(delay * 1000, signal);
    }
  }
}
