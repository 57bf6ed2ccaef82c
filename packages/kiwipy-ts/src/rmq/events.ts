import type { Logger } from '../logger.js';
import type { BrokerInfo } from './broker-info.js';

/** A task that was being worked on when the broker took its delivery back. */
export interface AffectedTask {
  /** The task queue it came from. */
  readonly queue: string;
  /** The sender's correlation id: how the redelivered copy is recognised. */
  readonly correlationId: string | undefined;
  /** The decoded task. */
  readonly task: unknown;
}

/** The events of an {@link RmqCommunicator}, with what each listener receives. */
export interface RmqCommunicatorEvents {
  /** The connection was lost; requests wait for it to come back (up to `reconnect.timeout`). */
  disconnected: { readonly error: Error; readonly inFlightTasks: readonly AffectedTask[] };
  /** The connection is back and every subscriber is declared again. */
  reconnected: { readonly attempts: number; readonly downtimeMs: number; readonly broker: BrokerInfo };
  /** One reconnection attempt failed; another is scheduled after `delayMs`. */
  reconnectAttemptFailed: { readonly attempt: number; readonly delayMs: number; readonly error: Error };
  /** The connection did not come back within `reconnect.timeout`: pending requests were rejected. */
  reconnectTimedOut: { readonly error: Error };
  /** The communicator gave up reconnecting (`reconnect.maxAttempts`, or reconnection disabled). */
  reconnectFailed: { readonly error: Error };
  /**
   * The broker closed a task channel because a delivery stayed unacknowledged longer than its
   * `consumer_timeout` (RabbitMQ ≥ 3.8.15; aiida-core #5105). The channel has been reopened and its
   * subscribers consume again; the listed tasks are still being worked on here, but the broker has put
   * them back in the queue: see `taskRedelivered`.
   */
  consumerTimeout: {
    readonly queue: string;
    readonly message: string;
    readonly tasks: readonly AffectedTask[];
  };
  /**
   * A task whose delivery the broker took back (consumer timeout or lost connection) came back to this
   * communicator while its first run was still going (or had just finished). It was attached to that run
   * instead of being run twice: it is acknowledged, and answered, when the run settles.
   */
  taskRedelivered: AffectedTask & { readonly alreadyFinished: boolean };
  /** A message was malformed: logged, answered with an error where a reply was asked for, dead-lettered if a task. */
  malformedMessage: {
    readonly routingKey: string;
    readonly exchange: string;
    readonly error: Error;
    readonly deadLettered: boolean;
  };
}

export type RmqCommunicatorEventName = keyof RmqCommunicatorEvents;
export type RmqCommunicatorListener<E extends RmqCommunicatorEventName> = (
  event: RmqCommunicatorEvents[E],
) => void;

/**
 * A small typed event emitter. A listener that throws is logged and does not stop the others or the
 * communicator.
 */
export class TypedEvents<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(event: never) => void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Calls `listener` on every `event`; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: (event: Events[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Calls `listener` on the next `event` only. */
  once<E extends keyof Events>(event: E, listener: (event: Events[E]) => void): () => void {
    const off = this.on(event, (value) => {
      off();
      listener(value);
    });
    return off;
  }

  off<E extends keyof Events>(event: E, listener: (event: Events[E]) => void): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Resolves with the next `event`. */
  next<E extends keyof Events>(event: E): Promise<Events[E]> {
    return new Promise((resolve) => this.once(event, resolve));
  }

  emit<E extends keyof Events>(event: E, value: Events[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (event: Events[E]) => void)(value);
      } catch (error) {
        this.#logger.error({ error, event: String(event) }, 'event listener failed');
      }
    }
  }

  removeAll(): void {
    this.#listeners.clear();
  }
}
