import { randomUUID } from 'node:crypto';
import { BroadcastFilter } from './broadcast-filter.js';
import type {
  BroadcastMessage,
  BroadcastSubscriber,
  SubscriberContext,
  TaskSubscriber,
} from './communicator.js';
import { DuplicateSubscriberIdentifierError, TaskRejectedError, UnknownSubscriberError } from './errors.js';
import type { Logger } from './logger.js';
import { isPromiseLike } from './reply.js';

/** A short unique identifier for a subscriber added without one. */
export function generateIdentifier(): string {
  return randomUUID().replaceAll('-', '').slice(0, 22);
}

/**
 * The subscribers of one kind, keyed by identifier, in the order they were added (task delivery tries them
 * in that order, as kiwipy does).
 */
export class SubscriberSet<S> {
  readonly #kind: string;
  readonly #subscribers = new Map<string, S>();

  constructor(kind: string) {
    this.#kind = kind;
  }

  add(subscriber: S, identifier: string = generateIdentifier()): string {
    if (this.#subscribers.has(identifier)) {
      throw new DuplicateSubscriberIdentifierError(
        `${this.#kind} subscriber '${identifier}' is already added`,
      );
    }
    this.#subscribers.set(identifier, subscriber);
    return identifier;
  }

  remove(identifier: string): S {
    const subscriber = this.#subscribers.get(identifier);
    if (subscriber === undefined) {
      throw new UnknownSubscriberError(`no ${this.#kind} subscriber with identifier '${identifier}'`);
    }
    this.#subscribers.delete(identifier);
    return subscriber;
  }

  get(identifier: string): S | undefined {
    return this.#subscribers.get(identifier);
  }

  has(identifier: string): boolean {
    return this.#subscribers.has(identifier);
  }

  get size(): number {
    return this.#subscribers.size;
  }

  values(): S[] {
    return [...this.#subscribers.values()];
  }

  clear(): void {
    this.#subscribers.clear();
  }
}

/** What became of a task offered to the task subscribers. */
export type TaskOutcome =
  | { readonly kind: 'done'; readonly value: unknown }
  | { readonly kind: 'answer-later'; readonly answer: Promise<unknown> }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'rejected' };

/** A task taken on whose reply comes later: see {@link answerLater}. */
export class LaterAnswer {
  readonly answer: Promise<unknown>;

  constructor(answer: PromiseLike<unknown>) {
    this.answer = Promise.resolve(answer);
    // Settled by the queue that delivered the task; never surfaced as unhandled before that.
    this.answer.catch(() => undefined);
  }
}

/**
 * Returned by a task subscriber (or what its Promise settles to): the task is taken, so it is acknowledged at
 * once, and the sender (unless it asked for no reply) gets `pending` now and the outcome of `answer` whenever
 * that settles. For work that outlives the delivery (a process continued from storage, whose ownership is held
 * elsewhere), so that the broker's consumer_timeout can never take the task back while the sender waits.
 */
export function answerLater(answer: PromiseLike<unknown>): LaterAnswer {
  return new LaterAnswer(answer);
}

/**
 * Offers a task to each subscriber in turn until one takes it, and waits for the work to settle. A
 * subscriber takes a task by returning (a Promise counts: `onPending` is called as it is returned, so the
 * sender learns the task is held); it passes by throwing, or rejecting with, {@link TaskRejectedError};
 * any other error fails the task.
 */
export async function runTask(
  subscribers: readonly TaskSubscriber[],
  task: unknown,
  context: SubscriberContext,
  onPending: () => void = () => undefined,
): Promise<TaskOutcome> {
  for (const subscriber of subscribers) {
    try {
      let value = subscriber(task, context);
      let pendingSent = false;
      if (isPromiseLike(value)) {
        onPending();
        pendingSent = true;
        value = await value;
      }
      if (value instanceof LaterAnswer) {
        if (!pendingSent) onPending();
        return { kind: 'answer-later', answer: value.answer };
      }
      return { kind: 'done', value };
    } catch (error) {
      if (error instanceof TaskRejectedError) continue;
      return { kind: 'failed', error };
    }
  }
  return { kind: 'rejected' };
}

/** Calls every broadcast subscriber; an error in one is logged and does not stop the others. */
export function fireBroadcast(
  subscribers: readonly (BroadcastSubscriber | BroadcastFilter)[],
  message: BroadcastMessage,
  context: SubscriberContext,
  logger: Logger,
): void {
  for (const subscriber of subscribers) {
    try {
      const result =
        subscriber instanceof BroadcastFilter
          ? subscriber.deliver(message, context)
          : subscriber(message, context);
      if (isPromiseLike(result)) {
        Promise.resolve(result).catch((error: unknown) =>
          logger.error({ error, subject: message.subject }, 'broadcast subscriber failed'),
        );
      }
    } catch (error) {
      logger.error({ error, subject: message.subject }, 'broadcast subscriber failed');
    }
  }
}
