import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import { expect } from 'vitest';
import { recordedAsAmqplib, type RecordedMessage } from './wire-fixtures.js';

/**
 * aiida-core's side of a shared broker, played with raw amqplib: what kiwipy 0.9 declares (topology.json) and how
 * its messages' properties compare with the recorded ones.
 */

/** kiwipy's declarations (topology.json, typed as pamqp sends them: 32-bit signed int, unsigned short). */
export async function declareLikeKiwipy(channel: amqp.Channel, prefix: string): Promise<{ replies: string }> {
  await channel.assertExchange(`${prefix}.messages`, 'topic', { durable: false, autoDelete: false });
  await channel.assertExchange(`${prefix}.tasks`, 'topic', { durable: false, autoDelete: false });
  await channel.assertQueue(`${prefix}.process.queue`, {
    durable: true,
    exclusive: false,
    autoDelete: false,
    arguments: { 'x-message-ttl': { '!': 'int', value: 604_800_000 } },
  });
  await channel.bindQueue(`${prefix}.process.queue`, `${prefix}.tasks`, `${prefix}.process.queue`);
  const replies = `${prefix}.messages-reply-${randomUUID()}`;
  await channel.assertQueue(replies, {
    exclusive: true,
    durable: false,
    autoDelete: false,
    arguments: { 'x-expires': { '!': 'unsignedshort', value: 60_000 } },
  });
  await channel.bindQueue(replies, `${prefix}.messages`, replies);
  await channel.assertQueue(`broadcast-${randomUUID().replace(/-/g, '').slice(0, 22)}`, {
    exclusive: true,
    durable: false,
    autoDelete: false,
    arguments: { 'x-message-ttl': { '!': 'int', value: 66_000 } },
  });
  await channel.assertQueue(`amq_${randomUUID().replace(/-/g, '')}`, {
    exclusive: true,
    durable: false,
    autoDelete: false,
    arguments: {
      'x-message-ttl': { '!': 'int', value: 66_000 },
      'x-expires': { '!': 'unsignedshort', value: 60_000 },
    },
  });
  return { replies };
}

/** The recorded properties, with the values that differ by nature (ids, queue names) taken from `actual`. */
export function expectRecordedProperties(actual: amqp.MessageProperties, recorded: RecordedMessage): void {
  const expected = recordedAsAmqplib(recorded.properties);
  const { messageId, ...rest } = actual as unknown as Record<string, unknown>;
  expect(messageId).toMatch(/^[0-9a-f]{32}$/);
  const comparable = { ...expected };
  if (comparable['correlationId'] !== undefined) {
    expect(rest['correlationId']).toMatch(/^[0-9a-f-]{36}$/);
    comparable['correlationId'] = rest['correlationId'];
  }
  if (comparable['replyTo'] !== undefined) comparable['replyTo'] = rest['replyTo'];
  expect(rest).toEqual(comparable);
}

/** kiwipy's task reply queue (one per task publisher): exclusive, bound to the task exchange under its own name. */
export async function declareTaskReplyQueue(channel: amqp.Channel, prefix: string): Promise<string> {
  const replies = `${prefix}.tasks-reply-${randomUUID()}`;
  await channel.assertQueue(replies, {
    exclusive: true,
    durable: false,
    autoDelete: false,
    arguments: { 'x-expires': { '!': 'unsignedshort', value: 60_000 } },
  });
  await channel.bindQueue(replies, `${prefix}.tasks`, replies);
  return replies;
}
