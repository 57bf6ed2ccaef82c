/**
 * Services restarted under running daemon workers (private instances, so nothing else is disturbed): RabbitMQ
 * stopped and started again while work chains run (the workers go on through the storage and reconnect), and
 * PostgreSQL stopped and started again while steps run (the workers' writes fail, the processes are continued from
 * their checkpoints): every process finishes, none is run twice (one calcfunction per process), no record is left.
 */
import { randomBytes } from 'node:crypto';
import type { Communicator } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startPrivateBroker,
  startPrivatePostgres,
  type PrivateBroker,
  type PrivatePostgres,
} from '@aiida-ts/test-services';
import { Runner } from '../../src/engine.js';
import {
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { Sleeper } from './fixtures.js';
import { openSharedStorage, type SharedStorage } from './services.js';

async function callsOf(node: ProcessNode): Promise<number> {
  return (await node.base.links.getOutgoing({ linkType: 'call_calc' })).all().length;
}

async function resultOf(node: ProcessNode): Promise<number> {
  const links = await node.base.links.getOutgoing({ linkType: 'return' });
  return (links.getNodeByLabel('result') as Int).value;
}

async function expectAllDone(
  shared: SharedStorage,
  runner: Runner,
  nodes: readonly ProcessNode[],
): Promise<void> {
  const done = await Promise.all(nodes.map((node) => runner.getProcessFuture(node.pk!)));
  expect(done.map((node) => `${node.pk} ${String(node.processState)}`)).toEqual(
    done.map((node) => `${node.pk} finished`),
  );
  expect(await Promise.all(done.map(callsOf))).toEqual(done.map(() => 1));
  expect(await Promise.all(done.map(resultOf))).toEqual(done.map((_node, i) => i + 1));
  const rows = await withAiidaTsTables(shared.storage.executor())
    .selectFrom('aiida_ts_task')
    .selectAll()
    .execute();
  expect(rows).toEqual([]);
}

describe('RabbitMQ restarted under running daemon workers', () => {
  let rabbit: PrivateBroker;
  let shared: SharedStorage;
  const opened: Communicator[] = [];
  const workers: DaemonWorkerHandle[] = [];

  beforeAll(async () => {
    rabbit = await startPrivateBroker();
    shared = await openSharedStorage('psql');
    setDefaultStorage(shared.storage);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all(opened.map((communicator) => communicator.close().catch(() => undefined)));
    await rabbit?.stop();
    setDefaultStorage(null);
    await shared?.cleanup();
  });

  it('loses and repeats nothing', { timeout: 60_000 }, async () => {
    const prefix = `aiida-ts-restart-${randomBytes(4).toString('hex')}`;
    const link = async (): Promise<Communicator> => {
      const communicator = await connect({
        url: rabbit.url,
        prefix,
        testingMode: true,
        reconnect: { enabled: true, timeout: 60_000 },
      });
      opened.push(communicator);
      return communicator;
    };
    const { storage } = shared;
    for (let i = 0; i < 2; i += 1)
      workers.push(
        await startDaemonWorker(undefined, {
          storage,
          slots: 4,
          leaseTtlMs: 3_000,
          communicator: await link(),
        }),
      );
    const client = await link();
    const runner = new Runner({
      storage,
      communicator: client,
      pollInterval: 0.1,
      ownership: new RunnerOwnership(storage, { broker: client }),
    });
    try {
      const nodes: ProcessNode[] = [];
      for (let i = 0; i < 4; i += 1) nodes.push(await runner.submit(Sleeper, { ms: 1_500, x: new Int(i) }));
      await expect
        .poll(() => workers.reduce((total, worker) => total + worker.stats().running, 0), { timeout: 20_000 })
        .toBeGreaterThan(0);
      await rabbit.stopApp();
      await rabbit.startApp();
      for (let i = 4; i < 6; i += 1) nodes.push(await runner.submit(Sleeper, { ms: 200, x: new Int(i) }));
      await expectAllDone(shared, runner, nodes);
    } finally {
      await runner.close();
    }
  });
});

describe('PostgreSQL restarted under running daemon workers', () => {
  let postgres: PrivatePostgres;
  let shared: SharedStorage;
  const workers: DaemonWorkerHandle[] = [];

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    shared = await openSharedStorage('psql', { host: postgres.host, port: postgres.port });
    setDefaultStorage(shared.storage);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    setDefaultStorage(null);
    await shared?.cleanup().catch(() => undefined);
    await postgres?.dispose();
  });

  it('loses and repeats nothing', { timeout: 60_000 }, async () => {
    const { storage } = shared;
    for (let i = 0; i < 2; i += 1)
      workers.push(
        await startDaemonWorker(undefined, { storage, communicator: null, slots: 4, leaseTtlMs: 3_000 }),
      );
    const runner = new Runner({ storage, pollInterval: 0.1, ownership: new RunnerOwnership(storage) });
    try {
      const nodes: ProcessNode[] = [];
      for (let i = 0; i < 4; i += 1) nodes.push(await runner.submit(Sleeper, { ms: 1_500, x: new Int(i) }));
      await expect
        .poll(() => workers.reduce((total, worker) => total + worker.stats().running, 0), { timeout: 20_000 })
        .toBeGreaterThan(0);
      await postgres.stop('fast');
      await postgres.start();
      for (let i = 4; i < 6; i += 1) nodes.push(await runner.submit(Sleeper, { ms: 200, x: new Int(i) }));
      await expectAllDone(shared, runner, nodes);
    } finally {
      await runner.close();
    }
  });
});
