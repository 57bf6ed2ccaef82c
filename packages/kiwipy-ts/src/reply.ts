/**
 * The answer to an RPC or a task, in two stages as kiwipy's nested futures: `accepted` settles as soon as
 * the recipient says it holds the request (a `pending` reply, or the final one), `result` when the
 * recipient's work settles, however long that takes. Awaiting the reply itself awaits `result`.
 */
export class Reply<T> implements PromiseLike<T> {
  /** Resolves once the recipient has the request; rejects if it failed before that. */
  readonly accepted: Promise<void>;
  /** The final value, or the error the recipient (or the transport) reported. */
  readonly result: Promise<T>;
  readonly #accept: () => void;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  #settled = false;

  constructor() {
    const accepted = deferred<void>();
    const result = deferred<T>();
    this.accepted = accepted.promise;
    this.result = result.promise;
    this.#accept = accepted.resolve;
    this.#resolve = (value) => {
      accepted.resolve();
      result.resolve(value);
    };
    this.#reject = (error) => {
      accepted.reject(error);
      result.reject(error);
    };
    // Either may be ignored by a caller that only wants the other; neither should surface as unhandled.
    this.accepted.catch(() => undefined);
    this.result.catch(() => undefined);
  }

  /** True once the final value or error is known. */
  get settled(): boolean {
    return this.#settled;
  }

  /** The recipient holds the request and will answer later. */
  markAccepted(): void {
    this.#accept();
  }

  resolve(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(value);
  }

  reject(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }

  /** Settles this reply with whatever `value` settles to: a plain value, a Promise or another Reply. */
  follow(value: unknown): void {
    if (isPromiseLike(value)) {
      this.markAccepted();
      value.then(
        (v) => this.resolve(v as T),
        (e: unknown) => this.reject(e),
      );
    } else {
      this.resolve(value as T);
    }
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.result.then(onfulfilled, onrejected);
  }
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** A Promise with its settle functions, for code that settles it from elsewhere. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej as (error: unknown) => void;
  });
  return { promise, resolve, reject };
}
