import { randomBytes, randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import type { Codec } from '../codec.js';

/** What a message is, which decides its AMQP properties (see {@link messageProperties}). */
export type MessageKind = 'task' | 'request' | 'reply' | 'broadcast';

/** Options of {@link messageProperties}. */
export interface MessagePropertiesOptions {
  readonly kind: MessageKind;
  readonly codec: Codec;
  /** The request's or task's correlation id (ignored for broadcasts, which carry theirs in the body). */
  readonly correlationId?: string | undefined;
  /** Where replies go (requests and tasks only). */
  readonly replyTo?: string | undefined;
}

/**
 * The AMQP properties kiwipy's publishers (aio-pika over aiormq) put on a message, so that a message from
 * here cannot be told from one sent by Python: `headers` an empty table, `priority` 0 and a fresh
 * 32-hex-digit `message_id` on every message; `delivery_mode` 2 for tasks and 1 otherwise; a
 * `correlation_id` on requests, tasks and replies but not on broadcasts; `reply_to` on requests and
 * tasks only. `content_type` is set only when the codec names one. `mandatory` (not visible to a
 * receiver) is true for requests and tasks, so that one no queue takes rejects with `UnroutableError`.
 */
export function messageProperties(options: MessagePropertiesOptions): Options.Publish {
  const { kind, codec } = options;
  const properties: Options.Publish = {
    headers: {},
    deliveryMode: kind === 'task' ? 2 : 1,
    priority: 0,
    messageId: randomBytes(16).toString('hex'),
    mandatory: kind === 'task' || kind === 'request',
  };
  if (codec.contentType !== undefined) properties.contentType = codec.contentType;
  if (kind !== 'broadcast') properties.correlationId = options.correlationId ?? randomUUID();
  if ((kind === 'task' || kind === 'request') && options.replyTo !== undefined)
    properties.replyTo = options.replyTo;
  return properties;
}

const SHORTUUID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/**
 * A 22-character identifier in shortuuid's alphabet (a random uuid4 in base 57), the form kiwipy gives
 * its broadcast queues (`broadcast-<id>`).
 */
export function shortUuid(): string {
  let value = BigInt(`0x${randomUUID().replace(/-/g, '')}`);
  const base = BigInt(SHORTUUID_ALPHABET.length);
  let out = '';
  for (let i = 0; i < 22; i += 1) {
    out = SHORTUUID_ALPHABET[Number(value % base)] + out;
    value /= base;
  }
  return out;
}
