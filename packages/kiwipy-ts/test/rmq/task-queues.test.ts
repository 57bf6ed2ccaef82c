import * as amqp from 'amqplib';
import {
  answerLater,
  deferred,
  InvalidStateError,
  QueueEmptyError,
  RemoteError,
  silentLogger,
  UnroutableError,
} from 'kiwipy-ts';
import { connect, type RmqCommunicator, TaskState } from 'kiwipy-ts/rmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, RMQ_URL, sleep, uniquePrefix, within } from './helpers.js';

describe('RmqCommunicator task queues (shared broker)', () => {
  let prefix: string;
  const opened: RmqCommunicator[] = [];

  async function communicator(options: { taskPrefetchCount?: number } = {}): Promise<RmqCommunicator> {
    const comm = await connect({ url: RMQ_URL, prefix, testingMode: true, logger: silentLogger, ...options });
    opened.push(comm);
    return comm;
  }

  beforeEach(() => {
    prefix = uniquePrefix('tasks');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((comm) => comm.close()));
  });

  it('declares the topology under AiiDA names, as kiwipy does, and reports the server', async () => {
    // Not testing mode: the production declaration, which must equal kiwipy's.
    const comm = await connect({ url: RMQ_URL, prefix, logger: silentLogger });
    opened.push(comm);
    expect(comm.options.taskQueue).toBe(`${prefix}.process.queue`);
    expect(comm.replyQueue.startsWith(`${prefix}.messages-reply-`)).toBe(true);
    expect(comm.serverProperties.product).toBe('RabbitMQ');
    expect(String(comm.serverProperties.platform)).toMatch(/^Erlang/);
    expect(comm.broker.version).toMatch(/^\d+\.\d+\.\d+/);
    const raw = await amqp.connect(RMQ_URL);
    try {
      const channel = await raw.createChannel();
      // kiwipy's own declarations succeed against what is there (the broker refuses any difference).
      await channel.assertExchange(`${prefix}.messages`, 'topic', { durable: false, autoDelete: false });
      await channel.assertExchange(`${prefix}.tasks`, 'topic', { durable: false, autoDelete: false });
      await channel.assertQueue(`${prefix}.process.queue`, {
        durable: true,
        arguments: { 'x-message-ttl': 604_800_000 },
      });
      // The dead-letter exchange and queue are declared only when a malformed task needs them.
      const probe = await raw.createChannel();
      probe.on('error', () => undefined);
      await expect(probe.checkExchange(`${prefix}.tasks.dead-letter`)).rejects.toThrow(/NOT_FOUND/);
      await channel.deleteQueue(`${prefix}.process.queue`);
      await channel.deleteExchange(`${prefix}.messages`);
      await channel.deleteExchange(`${prefix}.tasks`);
    } finally {
      await raw.close();
    }
  });

  it('sends tasks between communicators with the kiwipy message format', async () => {
    const sender = await communicator();
    const worker = await communicator();
    await worker.addTaskSubscriber((task) => ({ doubled: (task as number) * 2 }));
    expect(await within(sender.taskSend(21), 5_000)).toEqual({ doubled: 42 });

    // A raw look at what travels: a persistent [task, no_reply] with correlation_id and reply_to, and a
    // response dict with the host entry.
    const raw = await amqp.connect(RMQ_URL);
    try {
      const channel = await raw.createChannel();
      const { queue: replies } = await channel.assertQueue('', { exclusive: true });
      await channel.bindQueue(replies, `${prefix}.tasks`, replies);
      const response = deferred<amqp.ConsumeMessage>();
      await channel.consume(replies, (m) => m && response.resolve(m), { noAck: true });
      channel.publish(`${prefix}.tasks`, `${prefix}.process.queue`, Buffer.from(JSON.stringify([5, false])), {
        correlationId: 'raw-1',
        replyTo: replies,
        persistent: true,
      });
      const message = await within(response.promise, 5_000);
      expect(message.properties.correlationId).toBe('raw-1');
      const body = JSON.parse(message.content.toString()) as Record<string, unknown>;
      expect(body.result).toEqual({ doubled: 10 });
      expect(body.host).toEqual({ hostname: expect.any(String) as string, pid: process.pid });
    } finally {
      await raw.close();
    }
  });

  it('acknowledges a task answered later at once, then replies pending and the answer when it settles', async () => {
    const sender = await communicator();
    const worker = await communicator();
    const answer = deferred<string>();
    const seen: { noReply: boolean | undefined }[] = [];
    await worker.addTaskSubscriber((_task, context) => {
      seen.push({ noReply: context.noReply });
      return answerLater(answer.promise);
    });
    const reply = sender.taskSend('slow');
    await within(reply.accepted, 5_000);
    // taken and acknowledged: closing the worker now gives nothing back to the queue
    await worker.close();
    const raw = await amqp.connect(RMQ_URL);
    try {
      const channel = await raw.createChannel();
      expect((await channel.checkQueue(`${prefix}.process.queue`)).messageCount).toBe(0);
    } finally {
      await raw.close();
    }
    expect(reply.settled).toBe(false);
    expect(seen).toEqual([{ noReply: false }]);
  });

  it('replies what a later answer settles to, or its error', async () => {
    const sender = await communicator();
    const worker = await communicator();
    await worker.addTaskSubscriber((task) =>
      task === 'fail'
        ? answerLater(Promise.reject(new Error('later failure')))
        : answerLater(Promise.resolve(`later ${String(task)}`)),
    );
    expect(await within(sender.taskSend('one'), 5_000)).toBe('later one');
    await expect(within(sender.taskSend('fail'), 5_000)).rejects.toThrow(/later failure/);
  });

  it('rejects a task for a queue nobody declared with UnroutableError', async () => {
    const sender = await communicator();
    const queue = await sender.taskQueue(`${prefix}.custom`);
    // Delete the queue behind the communicator's back: the next task has nowhere to go.
    const raw = await amqp.connect(RMQ_URL);
    try {
      const channel = await raw.createChannel();
      await channel.deleteQueue(`${prefix}.custom`);
    } finally {
      await raw.close();
    }
    await expect(within(queue.taskSend('lost?'), 5_000)).rejects.toBeInstanceOf(UnroutableError);
    await expect(queue.taskSend('lost?', { noReply: true })).rejects.toBeInstanceOf(UnroutableError);
  });

  it('runs a custom task queue with its own subscribers, separate from the default one', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.custom`);
    expect(await comm.taskQueue(`${prefix}.custom`)).toBe(queue);
    const later = deferred<number>();
    const seen: unknown[] = [];
    await queue.addTaskSubscriber((task) => {
      seen.push(task);
      return later.promise;
    });
    const defaultSeen: unknown[] = [];
    await comm.addTaskSubscriber((task) => void defaultSeen.push(task));
    const reply = queue.taskSend<number>('The meaning?');
    await within(reply.accepted, 5_000);
    later.resolve(42);
    expect(await within(reply, 5_000)).toBe(42);
    expect(seen).toEqual(['The meaning?']);
    expect(defaultSeen).toEqual([]);
    // A second communicator reaches the same queue by name.
    const other = await communicator();
    const otherQueue = await other.taskQueue(`${prefix}.custom`);
    expect(await within(otherQueue.taskSend('from elsewhere'), 5_000)).toBe(42); // the same subscriber answered
    expect(seen).toEqual(['The meaning?', 'from elsewhere']);
  });

  it('pulls the next task, processes it and replies', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.pull`);
    const reply = queue.taskSend<string>('Hello!');
    const task = await queue.next({ timeout: 2_000 });
    expect(task.body).toBe('Hello!');
    expect(task.state).toBe(TaskState.PENDING);
    const outcome = task.process();
    expect(task.state).toBe(TaskState.PROCESSING);
    await outcome.resolve('Goodbye');
    expect(task.state).toBe(TaskState.FINISHED);
    expect(await within(reply, 5_000)).toBe('Goodbye');
    await expect(outcome.resolve('again')).rejects.toBeInstanceOf(InvalidStateError);
    expect(() => task.process()).toThrow(InvalidStateError);
    await expect(queue.next({ timeout: 100 })).rejects.toBeInstanceOf(QueueEmptyError);
  });

  it('rejects next() with QueueEmptyError on an empty queue after the timeout', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.empty`);
    const started = Date.now();
    await expect(queue.next({ timeout: 300 })).rejects.toBeInstanceOf(QueueEmptyError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await expect(queue.next({ timeout: 0 })).rejects.toBeInstanceOf(QueueEmptyError);
  });

  it('waits within the timeout for a task that arrives later', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.later`);
    const next = queue.next({ timeout: 3_000 });
    await sleep(200);
    await queue.taskSend('late', { noReply: true });
    const task = await next;
    expect(task.body).toBe('late');
    expect(task.noReply).toBe(true);
    await task.settle(() => 'ignored');
  });

  it('iterates a queue, and a second iteration finds it empty', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.iter`);
    const replies = Array.from({ length: 10 }, (_, i) => queue.taskSend<number>(i));
    for await (const task of queue.iterate({ timeout: 300 })) {
      await task.settle(() => (task.body as number) * 10);
    }
    expect(await within(Promise.all(replies.map((r) => r.result)), 5_000)).toEqual(
      Array.from({ length: 10 }, (_, i) => i * 10),
    );
    for await (const task of queue.iterate({ timeout: 200 })) {
      throw new Error(`the queue should be empty, got ${JSON.stringify(task.body)}`);
    }
  });

  it('puts back tasks an iteration handed out but did not process', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.partial`);
    const replies = Array.from({ length: 10 }, (_, i) => queue.taskSend<number>(i));
    for await (const task of queue.iterate({ timeout: 300 })) {
      if ((task.body as number) < 5) await task.settle((task.body as number) * 10);
    }
    expect(await within(Promise.all(replies.slice(0, 5).map((r) => r.result)), 5_000)).toEqual([
      0, 10, 20, 30, 40,
    ]);
    for await (const task of queue) {
      await task.settle((task.body as number) * 10);
    }
    expect(await within(Promise.all(replies.map((r) => r.result)), 5_000)).toEqual([
      0, 10, 20, 30, 40, 50, 60, 70, 80, 90,
    ]);
  });

  it('puts back a task that is disposed unprocessed, or abandoned', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.dispose`);
    const reply = queue.taskSend<number>(1);
    {
      await using task = await queue.next({ timeout: 2_000 });
      expect(task.body).toBe(1);
      // Held here: nobody else can take it meanwhile.
      await expect(queue.next({ timeout: 100 })).rejects.toBeInstanceOf(QueueEmptyError);
    }
    const again = await queue.next({ timeout: 2_000 });
    await again.process().abandon();
    expect(again.state).toBe(TaskState.REQUEUED);
    const third = await queue.next({ timeout: 2_000 });
    await third.settle(10);
    expect(await within(reply, 5_000)).toBe(10);
  });

  it('acknowledges a task whose processing failed, and replies with the error', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.fails`);
    const reply = queue.taskSend('Do this');
    const task = await queue.next({ timeout: 2_000 });
    await expect(
      task.settle(() => {
        throw new Error('Cannae do it captain!');
      }),
    ).rejects.toThrow('Cannae do it captain!');
    const error = await within(
      reply.result.catch((e: unknown) => e),
      5_000,
    );
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteMessage).toBe('Error: Cannae do it captain!');
    await expect(queue.next({ timeout: 300 })).rejects.toBeInstanceOf(QueueEmptyError);
  });

  it('takes a task without acknowledgement, and sends it again when requeued', async () => {
    const comm = await communicator();
    const queue = await comm.taskQueue(`${prefix}.noack`);
    const reply = queue.taskSend<string>('fragile');
    const task = await queue.next({ timeout: 2_000, noAck: true });
    await task.requeue();
    const again = await queue.next({ timeout: 2_000 });
    expect(again.body).toBe('fragile');
    await again.settle('handled');
    expect(await within(reply, 5_000)).toBe('handled');
  });

  it('holds at most taskPrefetchCount tasks per consumer', async () => {
    const sender = await communicator();
    const worker = await communicator({ taskPrefetchCount: 2 });
    const held: { task: number; done: () => void }[] = [];
    await worker.addTaskSubscriber(
      (task) =>
        new Promise<number>((resolve) => {
          held.push({ task: task as number, done: () => resolve(task as number) });
        }),
    );
    const replies = [1, 2, 3, 4, 5].map((n) => sender.taskSend<number>(n));
    await eventually(() => held.length === 2, 5_000, 'two tasks held');
    await sleep(300);
    expect(held.map((h) => h.task)).toEqual([1, 2]);
    held[0]!.done();
    await eventually(() => held.length === 3, 5_000, 'a third task once one is done');
    await sleep(100);
    expect(held).toHaveLength(3);
    for (let i = 1; i < 5; i++) {
      await eventually(() => held.length > i, 5_000, `task ${i + 1} delivered`);
      held[i]!.done();
    }
    expect(await within(Promise.all(replies.map((r) => r.result)), 5_000)).toEqual([1, 2, 3, 4, 5]);
  });

  it('requeues a task every subscriber of one consumer rejects, so another consumer takes it', async () => {
    const sender = await communicator();
    const picky = await communicator();
    const pickySeen: unknown[] = [];
    const { TaskRejectedError } = await import('kiwipy-ts');
    await picky.addTaskSubscriber((task) => {
      pickySeen.push(task);
      throw new TaskRejectedError('not for me');
    });
    const reply = sender.taskSend<string>('job');
    await eventually(() => pickySeen.length >= 1, 5_000, 'the picky worker saw the task');
    const willing = await communicator();
    await willing.addTaskSubscriber((task) => `willing did ${String(task)}`);
    expect(await within(reply, 10_000)).toBe('willing did job');
  });

  it('does not run a task twice when many workers compete', async () => {
    const sender = await communicator();
    const runs = new Map<number, number>();
    for (let w = 0; w < 3; w++) {
      const worker = await communicator();
      await worker.addTaskSubscriber(async (task) => {
        runs.set(task as number, (runs.get(task as number) ?? 0) + 1);
        await sleep(1);
        return task;
      });
    }
    const results = await within(
      Promise.all(Array.from({ length: 60 }, (_, i) => sender.taskSend<number>(i).result)),
      10_000,
    );
    expect(results).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(runs.size).toBe(60);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
  });

  it('delivers RPCs and broadcasts between communicators', async () => {
    const a = await communicator();
    const b = await communicator();
    await b.addRpcSubscriber((message) => `b got ${JSON.stringify(message)}`, 'b');
    expect(await within(a.rpcSend('b', { n: 1 }), 5_000)).toBe('b got {"n":1}');
    const heard = deferred<unknown>();
    await b.addBroadcastSubscriber((message) => heard.resolve(message));
    await a.broadcastSend('hello', { sender: 'a', subject: 'greeting', correlationId: 7 });
    expect(await within(heard.promise, 5_000)).toEqual({
      body: 'hello',
      sender: 'a',
      subject: 'greeting',
      correlationId: 7,
    });
  });
});
