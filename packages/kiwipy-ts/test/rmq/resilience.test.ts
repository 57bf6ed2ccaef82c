import { CommunicatorClosedError, ConnectionLostError, deferred, type Deferred } from 'kiwipy-ts';
import {
  connect,
  type RmqCommunicator,
  type RmqCommunicatorEvents,
  type RmqConnectOptions,
} from 'kiwipy-ts/rmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, memoryLogger, sleep, uniquePrefix, within } from './helpers.js';
import { type PrivateBroker, startPrivateBroker } from '@aiida-ts/test-services';

/**
 * Everything that disturbs the broker runs on a private node started once for this file: a consumer
 * timeout shortened to 5 s (checked every second), dropped connections, the broker stopped and started.
 */
describe('RmqCommunicator resilience (private RabbitMQ node)', () => {
  let broker: PrivateBroker;
  const opened: RmqCommunicator[] = [];

  beforeAll(async () => {
    broker = await startPrivateBroker({
      rabbitEnv: { consumer_timeout: 5_000, channel_tick_interval: 1_000 },
    });
  }, 90_000);

  afterAll(async () => {
    await broker?.stop();
  }, 30_000);

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((comm) => comm.close()));
  });

  async function communicator(prefix: string, options: RmqConnectOptions = {}): Promise<RmqCommunicator> {
    const comm = await connect({
      url: broker.url,
      prefix,
      testingMode: true,
      logger: memoryLogger(),
      reconnect: { initialDelay: 50, maxDelay: 500 },
      ...options,
    });
    opened.push(comm);
    return comm;
  }

  it('negotiates the heartbeat it was given and names its connection', async () => {
    await communicator(uniquePrefix('hb'), { heartbeat: 7, connectionName: 'kiwipy-heartbeat-test' });
    const listing = await broker.ctl('list_connections', 'timeout', 'client_properties', '--quiet');
    const line = listing.split('\n').find((l) => l.includes('kiwipy-heartbeat-test'));
    expect(line).toBeDefined();
    expect(line?.trim().startsWith('7')).toBe(true);
  });

  it('survives the broker consumer timeout: reopens the channel, re-attaches the redelivered task, never runs it twice', async () => {
    const prefix = uniquePrefix('timeout');
    const sender = await communicator(prefix);
    const worker = await communicator(prefix);
    expect(worker.broker.version).toMatch(/^3\.10\./);
    expect(worker.broker.perQueueConsumerTimeout).toBe(false);

    const timeouts: RmqCommunicatorEvents['consumerTimeout'][] = [];
    const redelivered: RmqCommunicatorEvents['taskRedelivered'][] = [];
    worker.on('consumerTimeout', (event) => timeouts.push(event));
    worker.on('taskRedelivered', (event) => redelivered.push(event));

    const runs: unknown[] = [];
    const release = deferred<void>();
    await worker.addTaskSubscriber(async (task) => {
      runs.push(task);
      await release.promise; // a long task: held well past the 5 s consumer timeout
      return `finished ${String(task)}`;
    });
    const reply = sender.taskSend<string>('long job');
    await within(reply.accepted, 5_000, 'the worker to take the task');

    // The broker closes the channel ~6 s after delivery and puts the task back in the queue; the worker
    // reopens the channel, consumes again, gets the task back and attaches it to the running job.
    await eventually(() => redelivered.length > 0, 15_000, 'the task to come back to the worker');
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]!.queue).toBe(`${prefix}.process.queue`);
    expect(timeouts[0]!.message).toMatch(/delivery acknowledgement on channel \d+ timed out/);
    expect(timeouts[0]!.tasks.map((t) => t.task)).toEqual(['long job']);
    expect(redelivered[0]).toMatchObject({
      queue: `${prefix}.process.queue`,
      task: 'long job',
      alreadyFinished: false,
    });

    release.resolve();
    expect(await within(reply, 5_000, 'the result')).toBe('finished long job');
    expect(runs).toEqual(['long job']);

    // The re-subscribed consumer takes new tasks, and the finished task was acknowledged: once the worker
    // is gone nothing of it is left in the queue.
    expect(await within(sender.taskSend('short job'), 5_000, 'a new task')).toBe('finished short job');
    await worker.close();
    await expect(sender.defaultTaskQueue.next({ timeout: 500 })).rejects.toThrow(/no task/);
  }, 40_000);

  it('comes back after the broker drops every connection: subscribers return, persistent tasks are not lost', async () => {
    const prefix = uniquePrefix('dropped');
    const sender = await communicator(prefix);
    const worker = await communicator(prefix);
    const reconnected = Promise.all([worker.nextEvent('reconnected'), sender.nextEvent('reconnected')]);
    const disconnected: RmqCommunicatorEvents['disconnected'][] = [];
    worker.on('disconnected', (event) => disconnected.push(event));
    const redelivered: RmqCommunicatorEvents['taskRedelivered'][] = [];
    worker.on('taskRedelivered', (event) => redelivered.push(event));

    await worker.addRpcSubscriber((message) => `pong ${String(message)}`, 'svc');
    const heard: unknown[] = [];
    await worker.addBroadcastSubscriber((message) => void heard.push(message.body));
    const customQueue = await worker.taskQueue(`${prefix}.custom`);
    await customQueue.addTaskSubscriber((task) => `custom ${String(task)}`);

    const runs: unknown[] = [];
    const holding: Deferred<void> = deferred();
    await worker.addTaskSubscriber(async (task) => {
      runs.push(task);
      if (task === 'held') await holding.promise;
      return `done ${String(task)}`;
    });
    const held = sender.taskSend<string>('held');
    await within(held.accepted, 5_000, 'the worker to take the task');

    await broker.closeAllConnections('kiwipy-ts test');
    await eventually(() => disconnected.length === 1, 5_000, 'the worker to notice');
    expect(disconnected[0]!.inFlightTasks.map((t) => t.task)).toEqual(['held']);
    // The job finishes while the connection is down: it cannot be acknowledged, so the broker redelivers
    // it after the reconnection, and the worker acknowledges the copy instead of running it again.
    holding.resolve();
    await within(reconnected, 10_000, 'both to reconnect');

    expect(await within(held, 10_000, 'the held task result')).toBe('done held');
    await eventually(() => redelivered.length === 1, 5_000, 'the redelivered copy');
    expect(redelivered[0]).toMatchObject({ task: 'held', alreadyFinished: true });
    expect(runs).toEqual(['held']);

    // Every kind of subscriber was declared again.
    expect(await within(sender.rpcSend('svc', 1), 5_000, 'rpc after reconnection')).toBe('pong 1');
    await sender.broadcastSend('after');
    await eventually(() => heard.includes('after'), 5_000, 'a broadcast after reconnection');
    expect(await within(sender.taskSend('again'), 5_000, 'a task after reconnection')).toBe('done again');
    const senderCustom = await sender.taskQueue(`${prefix}.custom`);
    expect(await within(senderCustom.taskSend('c'), 5_000, 'a custom-queue task after reconnection')).toBe(
      'custom c',
    );
  }, 40_000);

  it('comes back after the broker is stopped and started; durable tasks sent before survive', async () => {
    const prefix = uniquePrefix('restart');
    // Not testing mode: durable queue and exchanges, as in production.
    const sender = await communicator(prefix, { testingMode: false });
    const worker = await communicator(prefix, { testingMode: false });
    await worker.addRpcSubscriber(() => 'still here', 'svc');
    await sender.addRpcSubscriber(() => 'sender here', 'self');
    const queued = sender.taskSend<string>('queued before the outage');
    await sleep(100); // confirmed and on disk before the broker stops

    const lost = Promise.all([worker.nextEvent('disconnected'), sender.nextEvent('disconnected')]);
    const back = Promise.all([worker.nextEvent('reconnected'), sender.nextEvent('reconnected')]);
    await broker.stopApp();
    await within(lost, 5_000, 'both to notice the outage');
    expect(worker.connectionState).toBe('reconnecting');
    // A request made during the outage waits for the connection instead of failing (sent to the sender's
    // own subscriber, which is declared again before waiting requests go out).
    const duringOutage = sender.rpcSend<string>('self', null);
    await sleep(500);
    await broker.startApp();
    await within(back, 15_000, 'both to reconnect');

    await worker.addTaskSubscriber((task) => `worked on ${String(task)}`);
    expect(await within(queued, 10_000, 'the durable task')).toBe('worked on queued before the outage');
    expect(await within(duringOutage, 5_000, 'the rpc sent during the outage')).toBe('sender here');
    expect(await within(sender.rpcSend('svc', null), 5_000, 'the worker rpc subscriber')).toBe('still here');
  }, 60_000);

  it('rejects pending requests with ConnectionLostError when the connection does not come back in time, and closes promptly', async () => {
    const prefix = uniquePrefix('lost');
    const worker = await communicator(prefix);
    const sender = await communicator(prefix, {
      reconnect: { initialDelay: 50, maxDelay: 300, timeout: 1_500 },
    });
    await worker.addRpcSubscriber(() => new Promise(() => undefined), 'never');
    const pending = sender.rpcSend('never', null);
    await within(pending.accepted, 5_000, 'the pending reply');
    const timedOut = sender.nextEvent('reconnectTimedOut');

    await broker.stopApp();
    try {
      const started = Date.now();
      const error = await within(
        pending.result.catch((e: unknown) => e),
        10_000,
        'the pending rpc to fail',
      );
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      await within(timedOut, 10_000, 'the reconnectTimedOut event');
      // Still down: new requests fail instead of hanging until the broker is back (it is started again only at the
      // end of the test; the deadlines only keep a hang from stalling the run).
      await expect(within(sender.rpcSend('never', null), 10_000)).rejects.toBeInstanceOf(ConnectionLostError);
      await expect(within(sender.taskSend('x', { noReply: true }), 10_000)).rejects.toBeInstanceOf(
        ConnectionLostError,
      );

      // close() returns while the broker is down (it does not wait for a reconnection).
      await sender.close();
      await worker.close();
      expect(sender.connectionState).toBe('closed');
      await expect(sender.addRpcSubscriber(() => 1)).rejects.toBeInstanceOf(CommunicatorClosedError);
    } finally {
      await broker.startApp();
    }
    // And a new communicator works again.
    const fresh = await communicator(prefix);
    await fresh.addRpcSubscriber(() => 'ok', 'fresh');
    expect(await within(fresh.rpcSend('fresh', null), 5_000)).toBe('ok');
  }, 60_000);

  it('fails to connect with ConnectionLostError when no broker listens, and gives up after maxAttempts', async () => {
    await expect(
      connect({ url: 'amqp://guest:guest@127.0.0.1:1/', connectTimeout: 2_000, logger: memoryLogger() }),
    ).rejects.toBeInstanceOf(ConnectionLostError);
    const prefix = uniquePrefix('giveup');
    const comm = await communicator(prefix, {
      reconnect: { initialDelay: 50, maxDelay: 100, maxAttempts: 3 },
    });
    const failed = comm.nextEvent('reconnectFailed');
    await broker.stopApp();
    try {
      const event = await within(failed, 10_000, 'the communicator to give up');
      expect(event.error).toBeInstanceOf(ConnectionLostError);
      expect(comm.connectionState).toBe('failed');
      await expect(within(comm.rpcSend('x', null), 1_000)).rejects.toBeInstanceOf(ConnectionLostError);
    } finally {
      await broker.startApp();
    }
  }, 60_000);
});
