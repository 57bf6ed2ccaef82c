import type { Message } from 'amqplib';
import type { SubscriberContext } from '../communicator.js';
import type { BrokerInfo } from './broker-info.js';
import type { RobustConnection } from './connection.js';
import type { RmqCommunicatorEvents, TypedEvents } from './events.js';
import type { ResolvedRmqOptions } from './options.js';
import type { Publisher } from './publisher.js';

/** What the parts of an RmqCommunicator share. Not public API. */
export interface RmqInternals {
  readonly options: ResolvedRmqOptions;
  readonly connection: RobustConnection;
  readonly publisher: Publisher;
  readonly context: SubscriberContext;
  readonly events: TypedEvents<RmqCommunicatorEvents>;
  /** What the broker of the current (or last) connection said about itself. */
  broker(): BrokerInfo;
  /** Logs a malformed message with its routing key and emits `malformedMessage`. */
  reportMalformed(message: Message, error: Error, deadLettered: boolean): void;
  /** Sends a response to `replyTo` on `exchange`; failures are logged, never thrown. */
  respond(exchange: string, message: Message, body: Record<string, unknown>): void;
}
