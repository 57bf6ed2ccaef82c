import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits `ms` milliseconds, or rejects with the reason of the first of `signals` to abort. The timer is cleared on
 * abort, so nothing is left behind.
 */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  try {
    await sleep(Math.max(0, ms), undefined, { signal });
  } catch (error) {
    // node's AbortError wraps the reason; callers expect the reason itself, as fetch and friends give it
    if (signal.aborted) throw signal.reason;
    throw error;
  }
}

/** A pause that starts short and doubles up to a ceiling, back to short when something changed. */
export class AdaptiveDelay {
  readonly #min: number;
  readonly #max: number;
  #current: number;

  constructor(min: number, max: number) {
    this.#min = min;
    this.#max = Math.max(min, max);
    this.#current = min;
  }

  /** The pause to take now; the next one is twice as long (at most the ceiling). */
  next(): number {
    const value = this.#current;
    this.#current = Math.min(this.#max, this.#current * 2);
    return value;
  }

  /** Something changed: look again soon. */
  reset(): void {
    this.#current = this.#min;
  }
}
