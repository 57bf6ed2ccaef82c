/**
 * The daemon on PostgreSQL with RabbitMQ: the broker carries the tasks (a script's submissions and those of work
 * chain steps), each delivery is acknowledged right after the claim in the storage, and futures resolve across
 * workers from state broadcasts. On a private RabbitMQ node with `consumer_timeout` at 5 s, a step longer than that
 * is neither interrupted nor run twice (while a consumer that holds a delivery unacknowledged is cut off).
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Communicator } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateBroker, type PrivateBroker } from '@aiida-ts/test-services';
import { Runner } from '../../src/engine.js';
import {
  awaitControl,
  requestControl,
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import { loadNode } from '../../src/orm/loaders.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { Gated, gate, Parent, Sleeper, TwoSteps } from './fixtures.js';
import { openSharedStorage, type SharedStorage } from './services.js';

const SHARED_BROKER = 'amqp://guest:guest@127.0.0.1:5672';

function resultOf(node: ProcessNode): Promise<number> {
  return node.base.links
    .getOutgoing({ linkType: 'return' })
    .then((links) => (links.getNodeByLabel('result') as Int).value);
}

async function countNodes(shared: SharedStorage, processType: string): Promise<number> {
  const row = await shared.storage
    .executor()
    .selectFrom('db_dbnode')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('process_type', '=', processType)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

describe('the daemon on PostgreSQL with RabbitMQ', () => {
  let shared: SharedStorage;
  const opened: Communicator[] = [];
  const workers: DaemonWorkerHandle[] = [];

  async function broker(url: string, prefix: string, prefetch = 0): Promise<Communicator> {
    const communicator = await connect({ url, prefix, testingMode: true, taskPrefetchCount: prefetch });
    opened.push(communicator);
    return communicator;
  }

  /** A script's runner submitting to the daemon through the shared broker under `prefix`. */
  async function submitter(prefix: string): Promise<Runner> {
    const client = await broker(SHARED_BROKER, prefix);
    return new Runner({
      storage: shared.storage,
      communicator: client,
      pollInterval: 0.1,
      ownership: new RunnerOwnership(shared.storage, { broker: client }),
    });
  }

  /** Two workers on the shared broker under `prefix`, with `slots` each, looking at the storage every `pollMs`. */
  async function startWorkers(prefix: string, slots: number, pollMs: number): Promise<void> {
    const options = {
      storage: shared.storage,
      slots,
      leaseTtlMs: 5_000,
      poll: { minMs: pollMs, maxMs: pollMs },
    };
    for (let i = 0; i < 2; i += 1)
      workers.push(
        await startDaemonWorker(undefined, {
          ...options,
          communicator: await broker(SHARED_BROKER, prefix, slots),
        }),
      );
  }

  beforeAll(async () => {
    shared = await openSharedStorage('psql');
    setDefaultStorage(shared.storage);
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all(opened.map((communicator) => communicator.close().catch(() => undefined)));
    setDefaultStorage(null);
    await shared?.cleanup();
  });

  it('carries the submissions of scripts and of work chain steps, and futures resolve across workers', async () => {
    const prefix = `aiida-ts-daemon-${randomBytes(4).toString('hex')}`;
    const { storage } = shared;
    // polling so slow that only the broker (or a worker's own hand-over) can explain a prompt claim
    await startWorkers(prefix, 4, 60_000);
    const client = await broker(SHARED_BROKER, prefix);
    const runner = new Runner({
      storage,
      communicator: client,
      ownership: new RunnerOwnership(storage, { broker: client }),
    });
    try {
      // idle workers (60 s between looks at the storage): only the broker can bring this one to them at once
      const first = await runner.submit(TwoSteps, { x: new Int(10) });
      // the runner has no poll interval: only the workers' state broadcasts can resolve its futures
      expect((await runner.getProcessFuture(first.pk!)).processState).toBe('finished');
      const claims = (): number => workers.reduce((total, worker) => total + worker.stats().brokerClaims, 0);
      expect(claims()).toBe(1);
      const nodes: ProcessNode[] = [];
      for (let i = 0; i < 4; i += 1) nodes.push(await runner.submit(Parent, { x: new Int(i) }));
      const done = await Promise.all(nodes.map((node) => runner.getProcessFuture(node.pk!)));
      expect(done.map((node) => node.processState)).toEqual(Array(4).fill('finished'));
      expect(await Promise.all([first, ...done].map(resultOf))).toEqual([22, 3, 5, 7, 9]);
      // children submitted in steps were handed over through the broker too (or claimed by a worker it woke)
      expect(claims()).toBeGreaterThan(1);
      expect(await countNodes(shared, 'fixtures.TwoSteps')).toBe(5);
      const rows = await withAiidaTsTables(storage.executor())
        .selectFrom('aiida_ts_task')
        .selectAll()
        .execute();
      expect(rows).toEqual([]);
    } finally {
      await runner.close();
      await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    }
  });

  it('leaves what it publishes to the broker, and claims from the storage a process nothing published', async () => {
    const prefix = `aiida-ts-daemon-${randomBytes(4).toString('hex')}`;
    const { storage } = shared;
    // looks at the storage twice a second: often enough to race deliveries if a look claimed what was just queued
    await startWorkers(prefix, 8, 500);
    const total = (key: 'claimed' | 'brokerClaims'): number =>
      workers.reduce((sum, worker) => sum + worker.stats()[key], 0);
    const runner = await submitter(prefix);
    // a script without a broker on the same profile: its submission is in the storage only
    const offline = new Runner({ storage, pollInterval: 0.1, ownership: new RunnerOwnership(storage) });
    try {
      const nodes: ProcessNode[] = [];
      for (let i = 0; i < 6; i += 1) nodes.push(await runner.submit(TwoSteps, { x: new Int(i) }));
      const done = await Promise.all(nodes.map((node) => runner.getProcessFuture(node.pk!)));
      expect(done.map((node) => node.processState)).toEqual(Array(6).fill('finished'));
      // every one claimed by its delivery: no look at the storage took one first (and made its delivery a miss)
      expect(total('claimed')).toBe(6);
      expect(total('brokerClaims')).toBe(6);
      const lost = await offline.submit(TwoSteps, { x: new Int(100) });
      const ended = await runner.getProcessFuture(lost.pk!);
      expect(ended.processState).toBe('finished');
      expect(await resultOf(ended)).toBe(202);
      expect(total('claimed')).toBe(7);
      expect(total('brokerClaims')).toBe(6);
    } finally {
      await offline.close();
      await runner.close();
      await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    }
  });

  it(
    'kills a process running in a worker from another OS process (a request in the storage)',
    { timeout: 60_000 },
    async () => {
      const prefix = `aiida-ts-daemon-${randomBytes(4).toString('hex')}`;
      const { storage } = shared;
      const worker = await startDaemonWorker(undefined, {
        storage,
        slots: 2,
        leaseTtlMs: 5_000,
        communicator: await broker(SHARED_BROKER, prefix, 2),
      });
      workers.push(worker);
      const client = await broker(SHARED_BROKER, prefix);
      const runner = new Runner({
        storage,
        communicator: client,
        pollInterval: 0.1,
        ownership: new RunnerOwnership(storage, { broker: client }),
      });
      try {
        const node = await runner.submit(Gated, { gate: `broker-kill-${prefix}`, x: new Int(1) });
        await expect
          .poll(() => worker.stats().loaded.includes(node.pk!), { timeout: 20_000, interval: 20 })
          .toBe(true);
        const requests = await requestControl(node.pk!, 'kill', {
          storage,
          communicator: client,
          message: 'enough',
        });
        // the worker picked the request up (applied when the step in progress ends, or at once between steps)
        await expect
          .poll(
            async () =>
              worker.stats().applying.includes(requests[0]!.id) ||
              (await loadNode<ProcessNode>(node.pk!)).isTerminated,
            { timeout: 20_000, interval: 20 },
          )
          .toBe(true);
        gate(`broker-kill-${prefix}`).open();
        const { pending } = await awaitControl(requests, { storage, timeoutMs: 20_000 });
        expect(pending).toEqual([]);
        expect((await runner.getProcessFuture(node.pk!)).processState).toBe('killed');
      } finally {
        await runner.close();
        await Promise.all(workers.splice(0).map((handle) => handle.stop()));
      }
    },
  );

  it(
    'a task delivered while every slot is taken waits for one instead of going back and forth with the broker',
    { timeout: 60_000 },
    async () => {
      const prefix = `aiida-ts-daemon-${randomBytes(4).toString('hex')}`;
      const { storage } = shared;
      const communicator = await broker(SHARED_BROKER, prefix, 1);
      // every delivery to the worker, by process pk
      const deliveries = new Map<number, number>();
      const subscribe = communicator.addTaskSubscriber.bind(communicator);
      communicator.addTaskSubscriber = (subscriber, identifier) =>
        subscribe((task, context) => {
          const pid = Number((task as { args?: { pid?: unknown } }).args?.pid);
          deliveries.set(pid, (deliveries.get(pid) ?? 0) + 1);
          return subscriber(task, context);
        }, identifier);
      const worker = await startDaemonWorker(undefined, {
        storage,
        slots: 1,
        leaseTtlMs: 5_000,
        communicator,
      });
      workers.push(worker);
      const runner = await submitter(prefix);
      try {
        const name = `broker-full-${prefix}`;
        const first = await runner.submit(Gated, { gate: name, x: new Int(1) });
        await gate(name).reached;
        const second = await runner.submit(Gated, { gate: name, x: new Int(2) });
        await expect.poll(() => deliveries.get(second.pk!) ?? 0, { timeout: 20_000, interval: 20 }).toBe(1);
        // the slot is taken until the gate opens: the delivery waits for it (handed back, it came again at once)
        expect(worker.stats().loaded).toEqual([first.pk]);
        gate(name).open();
        expect(await resultOf(await runner.getProcessFuture(first.pk!))).toBe(2);
        expect(await resultOf(await runner.getProcessFuture(second.pk!))).toBe(3);
        expect(deliveries.get(second.pk!)).toBe(1);
      } finally {
        await runner.close();
        await Promise.all(workers.splice(0).map((handle) => handle.stop()));
      }
    },
  );

  describe('on a RabbitMQ node with consumer_timeout at 5 s', () => {
    let rabbit: PrivateBroker;

    beforeAll(async () => {
      rabbit = await startPrivateBroker({
        rabbitEnv: { consumer_timeout: 5_000, channel_tick_interval: 500 },
      });
    }, 90_000);
    afterAll(async () => {
      await rabbit?.stop();
    });

    it(
      'runs a step longer than the timeout once, while a consumer holding a delivery is cut off',
      { timeout: 60_000 },
      async () => {
        // the control: a consumer that does not acknowledge loses its channel after the timeout
        const connection = await amqp.connect(rabbit.url);
        const channel = await connection.createChannel();
        const closed = new Promise<string>((resolve) => {
          channel.on('error', (error: Error) => resolve(error.message));
          channel.on('close', () => resolve('closed'));
        });
        await channel.assertQueue('control', { durable: false, autoDelete: true });
        channel.sendToQueue('control', Buffer.from('x'));
        await channel.consume('control', () => undefined, { noAck: false });

        const prefix = `aiida-ts-timeout-${randomBytes(4).toString('hex')}`;
        const { storage } = shared;
        const worker = await startDaemonWorker(undefined, {
          storage,
          slots: 2,
          leaseTtlMs: 5_000,
          poll: { minMs: 60_000, maxMs: 60_000 },
          communicator: await broker(rabbit.url, prefix, 2),
        });
        workers.push(worker);
        const client = await broker(rabbit.url, prefix);
        const runner = new Runner({
          storage,
          communicator: client,
          ownership: new RunnerOwnership(storage, { broker: client }),
        });
        try {
          const node = await runner.submit(Sleeper, { ms: 7_000, x: new Int(1) });
          expect(await closed).toMatch(/PRECONDITION_FAILED|timeout|closed/i);
          const done = await runner.getProcessFuture(node.pk!);
          expect(done.processState).toBe('finished');
          expect(await resultOf(done)).toBe(2);
          expect(worker.stats().claimed).toBe(1);
          expect(worker.stats().brokerClaims).toBe(1);
          expect(await countNodes(shared, 'fixtures.addOne')).toBe(
            // the earlier tests': 4 parents × 2 (child + parent) + 1, 7 (delivered or not), and 2 (a full
            // worker's); this one: 1
            4 * 2 + 1 + 7 + 2 + 1,
          );
          // the worker's own connection survived the whole step
          expect(worker.worker.broker?.isClosed()).toBe(false);
        } finally {
          await runner.close();
          await connection.close().catch(() => undefined);
          // everything on the private node is closed before the node stops
          await Promise.all(workers.splice(0).map((handle) => handle.stop()));
          await Promise.all(
            opened.splice(0).map((communicator) => communicator.close().catch(() => undefined)),
          );
        }
      },
    );
  });
});
