import { InvalidStateError } from '../errors.js';

/** Where a pulled task is in its life (kiwipy's `TASK_PENDING` … `TASK_REQUEUED`). */
export const TaskState = {
  PENDING: 'pending',
  PROCESSING: 'processing',
  FINISHED: 'finished',
  REQUEUED: 'requeued',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** What an incoming task needs from its queue. Not public API. */
export interface TaskSettler {
  /** Acknowledges and, unless the sender asked for none, replies with the result or the error. */
  finish(
    outcome: { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown },
  ): Promise<void>;
  /** Puts the task back in the queue. */
  requeue(): Promise<void>;
}

/** The handle {@link RmqIncomingTask.process} returns: settle it once the work is done. */
export interface TaskOutcome {
  /** The work succeeded: acknowledges the task and replies `value`. */
  resolve(value: unknown): Promise<void>;
  /** The work failed: acknowledges the task (it is not retried) and replies the error. */
  reject(error: unknown): Promise<void>;
  /** The work will not be done here after all: the task goes back to the queue. */
  abandon(): Promise<void>;
}

/**
 * A task taken from a queue with `next()` or by iterating it. Until it is processed or requeued it is
 * held (unacknowledged) by this communicator; `await using` puts it back if it was neither.
 */
export class RmqIncomingTask<T = unknown> implements AsyncDisposable {
  /** The task as the sender sent it. */
  readonly body: T;
  /** The sender asked for no result. */
  readonly noReply: boolean;
  /** The sender's correlation id. */
  readonly correlationId: string | undefined;
  readonly #settler: TaskSettler;
  #state: TaskState = TaskState.PENDING;

  constructor(body: T, noReply: boolean, correlationId: string | undefined, settler: TaskSettler) {
    this.body = body;
    this.noReply = noReply;
    this.correlationId = correlationId;
    this.#settler = settler;
  }

  get state(): TaskState {
    return this.#state;
  }

  /** Takes the task on; settle the returned outcome when the work is done. */
  process(): TaskOutcome {
    this.#expect([TaskState.PENDING], 'process');
    this.#state = TaskState.PROCESSING;
    const settleOnce = (fn: () => Promise<void>): Promise<void> => {
      if (this.#state !== TaskState.PROCESSING)
        return Promise.reject(new InvalidStateError(`the task is already ${this.#state}`));
      return fn();
    };
    return {
      resolve: (value) =>
        settleOnce(() => {
          this.#state = TaskState.FINISHED;
          return this.#settler.finish({ ok: true, value });
        }),
      reject: (error) =>
        settleOnce(() => {
          this.#state = TaskState.FINISHED;
          return this.#settler.finish({ ok: false, error });
        }),
      abandon: () =>
        settleOnce(() => {
          this.#state = TaskState.REQUEUED;
          return this.#settler.requeue();
        }),
    };
  }

  /**
   * Processes the task with `work` (a value, a Promise, or a function returning either): acknowledges it
   * and replies with the result, or with the error, which is then thrown to the caller too.
   */
  async settle<R>(work: R | PromiseLike<R> | (() => R | PromiseLike<R>)): Promise<R> {
    const outcome = this.process();
    let value: R;
    try {
      value = await (typeof work === 'function' ? (work as () => R | PromiseLike<R>)() : work);
    } catch (error) {
      await outcome.reject(error);
      throw error;
    }
    await outcome.resolve(value);
    return value;
  }

  /** Puts the task back in the queue for someone else. */
  async requeue(): Promise<void> {
    this.#expect([TaskState.PENDING, TaskState.PROCESSING], 'requeue');
    this.#state = TaskState.REQUEUED;
    await this.#settler.requeue();
  }

  /** Requeues the task if nobody processed it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === TaskState.PENDING) await this.requeue();
  }

  #expect(states: readonly TaskState[], action: string): void {
    if (!states.includes(this.#state))
      throw new InvalidStateError(`cannot ${action} a task that is ${this.#state}`);
  }
}
