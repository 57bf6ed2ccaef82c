/**
 * The baselines: the same work as kiwipy-ts does, written directly against amqplib with no communicator
 * in between (same exchanges, confirms, persistence, acknowledgements and JSON bodies).
 */
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`broker refused the message: ${JSON.stringify(error)}`);
}

/** A raw task publisher and a raw task worker on their own connections, as two processes would have. */
export interface RawTaskPair {
  /** Sends a task and resolves with the worker's reply. */
  send(task: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export async function rawTaskPair(url: string, prefix: string): Promise<RawTaskPair> {
  const exchange = `${prefix}.tasks`;
  const queue = `${prefix}.process.queue`;

  const workerConnection = await amqp.connect(url);
  const workerChannel = await workerConnection.createChannel();
  const workerReplies = await workerConnection.createConfirmChannel();
  await workerChannel.assertExchange(exchange, 'topic', { autoDelete: true });
  await workerChannel.assertQueue(queue, {
    durable: false,
    arguments: { 'x-message-ttl': 604_800_000, 'x-expires': 10_000 },
  });
  await workerChannel.bindQueue(queue, exchange, queue);
  await workerChannel.consume(queue, (message) => {
    if (message === null) return;
    const [task] = JSON.parse(message.content.toString('utf8')) as [unknown, boolean];
    workerChannel.ack(message);
    const body = { result: task, host: { hostname: 'bench', pid: process.pid } };
    workerReplies.publish(
      exchange,
      message.properties.replyTo as string,
      Buffer.from(JSON.stringify(body)),
      { correlationId: message.properties.correlationId as string, contentType: 'application/json' },
      () => undefined,
    );
  });

  const senderConnection = await amqp.connect(url);
  const sender = await senderConnection.createConfirmChannel();
  const replyQueue = `${prefix}.raw-reply-${randomUUID()}`;
  await sender.assertQueue(replyQueue, { exclusive: true, arguments: { 'x-expires': 60_000 } });
  await sender.bindQueue(replyQueue, exchange, replyQueue);
  const waiting = new Map<string, (value: unknown) => void>();
  await sender.consume(
    replyQueue,
    (message) => {
      if (message === null) return;
      const id = message.properties.correlationId as string;
      const resolve = waiting.get(id);
      waiting.delete(id);
      resolve?.((JSON.parse(message.content.toString('utf8')) as { result: unknown }).result);
    },
    { noAck: true },
  );

  return {
    send(task) {
      const correlationId = randomUUID();
      return new Promise((resolve, reject) => {
        waiting.set(correlationId, resolve);
        sender.publish(
          exchange,
          queue,
          Buffer.from(JSON.stringify([task, false])),
          {
            correlationId,
            replyTo: replyQueue,
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
          },
          (error: unknown) => {
            if (error !== null && error !== undefined) reject(asError(error));
          },
        );
      });
    },
    async close() {
      await senderConnection.close();
      await workerConnection.close();
    },
  };
}

/** A raw RPC client and server on their own connections. */
export interface RawRpcPair {
  call(message: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export async function rawRpcPair(url: string, prefix: string): Promise<RawRpcPair> {
  const exchange = `${prefix}.messages`;
  const serverConnection = await amqp.connect(url);
  const server = await serverConnection.createConfirmChannel();
  await server.assertExchange(exchange, 'topic', { autoDelete: true });
  const { queue } = await server.assertQueue('', {
    exclusive: true,
    arguments: { 'x-message-ttl': 66_000, 'x-expires': 60_000 },
  });
  await server.bindQueue(queue, exchange, '[rpc].server');
  await server.consume(
    queue,
    (message) => {
      if (message === null) return;
      const body = JSON.parse(message.content.toString('utf8')) as unknown;
      server.publish(
        exchange,
        message.properties.replyTo as string,
        Buffer.from(JSON.stringify({ result: body })),
        { correlationId: message.properties.correlationId as string, contentType: 'application/json' },
        () => undefined,
      );
    },
    { noAck: true },
  );

  const clientConnection = await amqp.connect(url);
  const client = await clientConnection.createConfirmChannel();
  const replyQueue = `${exchange}-reply-${randomUUID()}`;
  await client.assertQueue(replyQueue, { exclusive: true, arguments: { 'x-expires': 60_000 } });
  await client.bindQueue(replyQueue, exchange, replyQueue);
  const waiting = new Map<string, (value: unknown) => void>();
  await client.consume(
    replyQueue,
    (message) => {
      if (message === null) return;
      const id = message.properties.correlationId as string;
      const resolve = waiting.get(id);
      waiting.delete(id);
      resolve?.((JSON.parse(message.content.toString('utf8')) as { result: unknown }).result);
    },
    { noAck: true },
  );
  return {
    call(message) {
      const correlationId = randomUUID();
      return new Promise((resolve, reject) => {
        waiting.set(correlationId, resolve);
        client.publish(
          exchange,
          '[rpc].server',
          Buffer.from(JSON.stringify(message)),
          { correlationId, replyTo: replyQueue, mandatory: true, contentType: 'application/json' },
          (error: unknown) => {
            if (error !== null && error !== undefined) reject(asError(error));
          },
        );
      });
    },
    async close() {
      await clientConnection.close();
      await serverConnection.close();
    },
  };
}

/** A raw broadcaster and `listeners` raw subscribers, each on its own connection. */
export interface RawFanOut {
  /** Publishes one broadcast; resolves when the broker confirms it. */
  send(body: unknown): Promise<void>;
  /** Deliveries seen so far, over all listeners. */
  readonly received: () => number;
  close(): Promise<void>;
}

export async function rawFanOut(url: string, prefix: string, listeners: number): Promise<RawFanOut> {
  const exchange = `${prefix}.messages`;
  const connections: amqp.ChannelModel[] = [];
  let received = 0;
  for (let i = 0; i < listeners; i++) {
    const connection = await amqp.connect(url);
    connections.push(connection);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { autoDelete: true });
    const { queue } = await channel.assertQueue(`broadcast-${randomUUID()}`, {
      exclusive: true,
      arguments: { 'x-message-ttl': 66_000 },
    });
    await channel.bindQueue(queue, exchange, '[broadcast]');
    await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        JSON.parse(message.content.toString('utf8'));
        received += 1;
      },
      { noAck: true },
    );
  }
  const publisherConnection = await amqp.connect(url);
  connections.push(publisherConnection);
  const publisher = await publisherConnection.createConfirmChannel();
  return {
    send(body) {
      return new Promise((resolve, reject) => {
        publisher.publish(
          exchange,
          '[broadcast]',
          Buffer.from(JSON.stringify({ body, sender: null, subject: 'bench', correlation_id: null })),
          { contentType: 'application/json' },
          (error: unknown) => (error === null || error === undefined ? resolve() : reject(asError(error))),
        );
      });
    },
    received: () => received,
    async close() {
      for (const connection of connections.reverse()) await connection.close();
    },
  };
}
