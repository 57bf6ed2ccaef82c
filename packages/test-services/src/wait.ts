import { ServiceTimeoutError } from './errors.js';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long (ms); generous by default because the machine may be loaded. Default 30 s. */
  readonly timeoutMs?: number;
  /** Pause between probes (ms). Default 100. */
  readonly intervalMs?: number;
  /** Named in the timeout error (`private <service>: timed out waiting for <what>`). Default `service`. */
  readonly service?: string;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns true; a probe that throws counts as false. Rejects with a
 * {@link ServiceTimeoutError} naming `what` (and the probe's last error as `cause`) once the deadline passes.
 * This is how tests wait for a condition instead of sleeping a fixed time.
 */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new ServiceTimeoutError(
        options.service ?? 'service',
        `timed out waiting for ${what}`,
        last === undefined ? undefined : { cause: last },
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}
