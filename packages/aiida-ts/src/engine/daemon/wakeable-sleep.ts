/**
 * A pause that can be cut short: {@link wait} resolves after `ms`, or at once when {@link poke} is called (now or
 * since the last wait), so a loop that polls also reacts to local events without waiting for its next turn.
 */
export class WakeableSleep {
  #poked = false;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  wait(ms: number): Promise<void> {
    if (this.#poked) {
      this.#poked = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      };
      this.#timer = setTimeout(() => this.#wake?.(), ms);
    });
  }

  poke(): void {
    if (this.#wake !== undefined) this.#wake();
    else this.#poked = true;
  }
}

/** A pause that starts short and doubles up to a ceiling, back to short when something happened. */
export class AdaptiveDelay {
  readonly #min: number;
  readonly #max: number;
  #current: number;

  constructor(min: number, max: number) {
    this.#min = min;
    this.#max = Math.max(min, max);
    this.#current = min;
  }

  next(): number {
    const value = this.#current;
    this.#current = Math.min(this.#max, this.#current * 2);
    return value;
  }

  reset(): void {
    this.#current = this.#min;
  }
}
