import * as amqp from 'amqplib';
import { DecodeError, deferred, RemoteError } from 'kiwipy-ts';
import { connect, type RmqCommunicator, type RmqCommunicatorEvents } from 'kiwipy-ts/rmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, memoryLogger, RMQ_URL, sleep, uniquePrefix, within } from './helpers.js';

/** A raw amqplib connection with a reply queue bound to both exchanges, to inject messages by hand. */
interface Injector {
  readonly channel: amqp.Channel;
  readonly replyQueue: string;
  readonly replies: amqp.ConsumeMessage[];
  close(): Promise<void>;
}

async function injector(prefix: string): Promise<Injector> {
  const connection = await amqp.connect(RMQ_URL);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, `${prefix}.messages`, queue);
  await channel.bindQueue(queue, `${prefix}.tasks`, queue);
  const replies: amqp.ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m && replies.push(m), { noAck: true });
  return { channel, replyQueue: queue, replies, close: () => connection.close() };
}

/** The next message in the dead-letter queue (waits up to 5 s). */
async function deadLetter(raw: Injector, prefix: string): Promise<amqp.GetMessage> {
  for (let i = 0; i < 100; i++) {
    const message = await raw.channel.get(`${prefix}.tasks.dead-letter`, { noAck: true });
    if (message !== false) return message;
    await sleep(50);
  }
  throw new Error('nothing was dead-lettered');
}

describe('malformed messages (shared broker)', () => {
  let prefix: string;
  let log: ReturnType<typeof memoryLogger>;
  let worker: RmqCommunicator;
  let raw: Injector;
  let malformed: RmqCommunicatorEvents['malformedMessage'][];

  beforeEach(async () => {
    prefix = uniquePrefix('malformed');
    log = memoryLogger();
    worker = await connect({ url: RMQ_URL, prefix, testingMode: true, logger: log });
    malformed = [];
    worker.on('malformedMessage', (event) => malformed.push(event));
    raw = await injector(prefix);
  });

  afterEach(async () => {
    await raw.close();
    await worker.close();
  });

  it('dead-letters a task that is not JSON, logs it, and answers the sender with an error', async () => {
    const seen: unknown[] = [];
    await worker.addTaskSubscriber((task) => {
      seen.push(task);
      return 'ok';
    });
    raw.channel.publish(`${prefix}.tasks`, `${prefix}.process.queue`, Buffer.from('{not json'), {
      correlationId: 'bad-1',
      replyTo: raw.replyQueue,
      persistent: true,
    });
    await eventually(() => raw.replies.length === 1, 5_000, 'an error reply');
    const reply = JSON.parse(raw.replies[0]!.content.toString()) as Record<string, unknown>;
    expect(raw.replies[0]!.properties.correlationId).toBe('bad-1');
    expect(String(reply.exception)).toContain('could not be decoded');
    expect(reply.host).toBeDefined();

    // Kept for inspection in the dead-letter queue, with why and where from.
    const letter = await deadLetter(raw, prefix);
    expect(letter.content.toString()).toBe('{not json');
    expect(letter.properties.correlationId).toBe('bad-1');
    expect(letter.properties.headers?.['x-kiwipy-original-queue']).toBe(`${prefix}.process.queue`);
    expect(String(letter.properties.headers?.['x-kiwipy-error'])).toContain('not valid JSON');

    // Logged with its routing key, reported, never handed to a subscriber, never redelivered.
    const entry = log.entries.find((e) => e.message === 'malformed message');
    expect(entry?.level).toBe('error');
    expect(entry?.fields.routingKey).toBe(`${prefix}.process.queue`);
    expect(malformed).toEqual([
      {
        routingKey: `${prefix}.process.queue`,
        exchange: `${prefix}.tasks`,
        error: expect.any(DecodeError) as unknown,
        deadLettered: true,
      },
    ]);
    expect(seen).toEqual([]);
    const check = await raw.channel.checkQueue(`${prefix}.process.queue`);
    expect(check.messageCount).toBe(0);

    // The consumer is alive and well.
    const sender = await connect({ url: RMQ_URL, prefix, testingMode: true, logger: log });
    try {
      expect(await within(sender.taskSend('good'), 5_000)).toBe('ok');
    } finally {
      await sender.close();
    }
    expect(seen).toEqual(['good']);
  });

  it('dead-letters a JSON task that is not a [task, no_reply] pair', async () => {
    await worker.addTaskSubscriber(() => 'ok');
    raw.channel.publish(
      `${prefix}.tasks`,
      `${prefix}.process.queue`,
      Buffer.from(JSON.stringify({ task: 1 })),
      { persistent: true },
    );
    await eventually(() => malformed.length === 1, 5_000, 'a malformed report');
    expect(malformed[0]!.deadLettered).toBe(true);
    expect(malformed[0]!.error.message).toContain('[task, no_reply]');
    const letter = await deadLetter(raw, prefix);
    expect(JSON.parse(letter.content.toString())).toEqual({ task: 1 });
  });

  it('dead-letters a task pulled with next() that cannot be decoded, and hands out the next good one', async () => {
    const queue = await worker.taskQueue(`${prefix}.pull`);
    raw.channel.publish(`${prefix}.tasks`, `${prefix}.pull`, Buffer.from([0xff, 0xfe]), { persistent: true });
    // queued before the good task is sent: messages published over two connections have no order between them, and a
    // good task first would be handed out without next() ever meeting the bad one
    while ((await raw.channel.checkQueue(`${prefix}.pull`)).messageCount === 0);
    const reply = queue.taskSend<string>('fine');
    const task = await queue.next({ timeout: 3_000 });
    expect(task.body).toBe('fine');
    await task.settle('done');
    expect(await within(reply, 5_000)).toBe('done');
    await eventually(() => malformed.length === 1, 5_000, 'a malformed report');
    expect(malformed[0]!.routingKey).toBe(`${prefix}.pull`);
  });

  it('answers an RPC that is not JSON with an error reply and keeps serving', async () => {
    const seen: unknown[] = [];
    await worker.addRpcSubscriber((message) => {
      seen.push(message);
      return 'pong';
    }, 'svc');
    raw.channel.publish(`${prefix}.messages`, '[rpc].svc', Buffer.from('<<garbage>>'), {
      correlationId: 'rpc-bad',
      replyTo: raw.replyQueue,
    });
    await eventually(() => raw.replies.length === 1, 5_000, 'an error reply');
    const reply = JSON.parse(raw.replies[0]!.content.toString()) as Record<string, unknown>;
    expect(Object.keys(reply)).toEqual(['exception']);
    expect(String(reply.exception)).toContain('DecodeError');
    expect(raw.replies[0]!.properties.correlationId).toBe('rpc-bad');
    expect(malformed[0]?.routingKey).toBe('[rpc].svc');
    expect(
      log.entries.some((e) => e.message === 'malformed message' && e.fields.routingKey === '[rpc].svc'),
    ).toBe(true);
    raw.channel.publish(`${prefix}.messages`, '[rpc].svc', Buffer.from('"ping"'), {
      correlationId: 'rpc-good',
      replyTo: raw.replyQueue,
    });
    await eventually(() => raw.replies.length === 2, 5_000, 'a good reply');
    expect(JSON.parse(raw.replies[1]!.content.toString())).toEqual({ result: 'pong' });
    expect(seen).toEqual(['ping']);
  });

  it('logs a malformed broadcast and keeps delivering the good ones', async () => {
    const heard: unknown[] = [];
    await worker.addBroadcastSubscriber((message) => void heard.push(message.body));
    raw.channel.publish(`${prefix}.messages`, '[broadcast]', Buffer.from('nope'));
    raw.channel.publish(
      `${prefix}.messages`,
      '[broadcast]',
      Buffer.from(JSON.stringify({ body: 1, subject: 42 })),
    );
    raw.channel.publish(
      `${prefix}.messages`,
      '[broadcast]',
      Buffer.from(JSON.stringify({ body: 'good', sender: null, subject: null, correlation_id: null })),
    );
    await eventually(
      () => heard.length === 1 && malformed.length === 2,
      5_000,
      'one good broadcast, two bad',
    );
    expect(heard).toEqual(['good']);
    expect(malformed.map((m) => [m.routingKey, m.deadLettered])).toEqual([
      ['[broadcast]', false],
      ['[broadcast]', false],
    ]);
  });

  it('rejects a request whose reply cannot be decoded with DecodeError', async () => {
    // A raw worker that answers every task with garbage, then with a dict that has no outcome.
    await raw.channel.assertQueue(`${prefix}.process.queue`, {
      durable: false,
      arguments: { 'x-message-ttl': 604_800_000, 'x-expires': 10_000 },
    });
    let answered = 0;
    await raw.channel.consume(`${prefix}.process.queue`, (m) => {
      if (m === null) return;
      const body =
        answered++ === 0
          ? Buffer.from('}{')
          : Buffer.from(JSON.stringify({ host: { hostname: 'x', pid: 1 } }));
      raw.channel.publish(`${prefix}.tasks`, m.properties.replyTo as string, body, {
        correlationId: m.properties.correlationId as string,
      });
      raw.channel.ack(m);
    });
    const garbage = await within(
      worker.taskSend('x').result.catch((e: unknown) => e),
      5_000,
    );
    expect(garbage).toBeInstanceOf(DecodeError);
    const empty = await within(
      worker.taskSend('y').result.catch((e: unknown) => e),
      5_000,
    );
    expect(empty).toBeInstanceOf(DecodeError);
    expect((empty as Error).message).toContain('exactly one of');
    expect(malformed).toHaveLength(2);
  });

  it('logs a reply for an unknown request without failing', async () => {
    raw.channel.publish(`${prefix}.messages`, worker.replyQueue, Buffer.from('{"result":1}'), {
      correlationId: 'who-asked',
    });
    await eventually(
      () => log.entries.some((e) => e.fields.correlationId === 'who-asked'),
      5_000,
      'a warning',
    );
    // Still working afterwards.
    await worker.addRpcSubscriber(() => 'alive', 'alive');
    expect(await within(worker.rpcSend('alive', null), 5_000)).toBe('alive');
  });

  it('answers with an error when a result cannot be encoded', async () => {
    await worker.addRpcSubscriber(() => ({ big: 10n }), 'bigint');
    const error = await within(
      worker.rpcSend('bigint', null).result.catch((e: unknown) => e),
      5_000,
    );
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteMessage).toContain('could not be encoded');
    const pending = deferred<void>();
    await worker.addTaskSubscriber(() => {
      pending.resolve();
      return { big: 1n };
    });
    const taskError = await within(
      worker.taskSend(null).result.catch((e: unknown) => e),
      5_000,
    );
    expect(taskError).toBeInstanceOf(RemoteError);
  });
});
