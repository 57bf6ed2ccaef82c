/**
 * An async iterator over decoded rows fed by batches. Rows of a batch already fetched are handed out through an
 * already-settled promise, which costs far less per row than an async generator's queue; the next batch is
 * fetched only when the previous one is used up. `return()` (a `break` in `for await`) releases the batch
 * source at once: its cursor, its connection.
 */
export class RowStream<T> implements AsyncIterableIterator<T>, AsyncDisposable {
  readonly #batches: AsyncIterator<readonly T[]>;
  #buffer: readonly T[] = [];
  #index = 0;
  #done = false;
  // next() calls that arrive while a batch is being fetched wait for it, in order
  #tail: Promise<unknown> = Promise.resolve();

  constructor(batches: AsyncIterator<readonly T[]>) {
    this.#batches = batches;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#index < this.#buffer.length) {
      return Promise.resolve({ value: this.#buffer[this.#index++]!, done: false });
    }
    const result = this.#tail.then(() => this.#slowNext());
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #slowNext(): Promise<IteratorResult<T, undefined>> {
    while (this.#index >= this.#buffer.length) {
      if (this.#done) return { value: undefined, done: true };
      let step: IteratorResult<readonly T[]>;
      try {
        step = await this.#batches.next();
      } catch (error) {
        this.#done = true;
        throw error;
      }
      if (step.done === true) {
        this.#done = true;
        return { value: undefined, done: true };
      }
      this.#buffer = step.value;
      this.#index = 0;
    }
    return { value: this.#buffer[this.#index++]!, done: false };
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.#buffer = [];
    this.#index = 0;
    if (!this.#done) {
      this.#done = true;
      await this.#batches.return?.();
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
