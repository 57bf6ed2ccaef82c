import { CancelledError } from './errors.js';

/**
 * A pending action (a pause or kill requested while the process is stepping) that runs at most once, when
 * the step returns, or is cancelled before that. Await it for the action's result; a cancelled action
 * rejects with {@link CancelledError}.
 */
export class CancellableAction<R = unknown> implements PromiseLike<R> {
  /** What correlates the action with the interruption that asked for it. */
  readonly cookie: unknown;
  readonly #promise: Promise<R>;
  #resolve!: (value: R) => void;
  #reject!: (error: unknown) => void;
  #action: ((arg: unknown) => R) | undefined;
  #state: 'pending' | 'done' | 'cancelled' = 'pending';

  constructor(action: (arg: unknown) => R, cookie: unknown) {
    this.#action = action;
    this.cookie = cookie;
    this.#promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Cancelling an action nobody awaits is normal.
    this.#promise.catch(() => undefined);
  }

  /** Runs the action with `arg` (once); its result or error settles this action. */
  run(arg: unknown): void {
    const action = this.#action;
    if (this.#state !== 'pending' || action === undefined) return;
    this.#state = 'done';
    this.#action = undefined;
    try {
      this.#resolve(action(arg));
    } catch (error) {
      this.#reject(error);
    }
  }

  /** Cancels the action if it has not run; true if it was cancelled by this call. */
  cancel(): boolean {
    if (this.#state !== 'pending') return false;
    this.#state = 'cancelled';
    this.#action = undefined;
    this.#reject(new CancelledError('the action was cancelled'));
    return true;
  }

  cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  done(): boolean {
    return this.#state !== 'pending';
  }

  then<R1 = R, R2 = never>(
    onfulfilled?: ((value: R) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise.then(onfulfilled, onrejected);
  }
}
