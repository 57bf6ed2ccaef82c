/**
 * An aiida-ts daemon worker on aiida-core's broker, sent aiida-core's `continue` tasks (the recorded bytes, with the
 * pk of a process of this test): it answers as aiida-core's worker does, byte for byte (recordings 07–21: `pending`,
 * then the result as a YAML document, the outputs of a process that had already ended, `false` for a missing pk, the
 * exception message), and it hands back the task of a process whose class is Python (aiida-core's), never marking
 * it excepted, and says so in its log.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { silentLogger } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiidaCodec, Runner, setLogSink, WorkChain } from '../../src/engine.js';
import {
  RunnerOwnership,
  startDaemonWorker,
  type DaemonWorkerHandle,
} from '../../src/engine/daemon/index.js';
import { loadNode } from '../../src/orm/loaders.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { openSharedStorage, type SharedStorage } from '../daemon/services.js';
import { TwoSteps } from '../daemon/fixtures.js';
import { declareLikeKiwipy, declareTaskReplyQueue, expectRecordedProperties } from './kiwipy-side.js';
import { recording } from './wire-fixtures.js';

const RMQ_URL = process.env['AIIDA_TEST_RMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** Fails in its only step, as the FailingWorkChain of the recordings. */
class FailingWorkChain extends WorkChain.define((spec) => spec) {
  static {
    this.outline('explode');
  }
  explode(): void {
    throw new Error('deliberate failure in FailingWorkChain.fail');
  }
}

/** The recorded body with the capture's host, pk and output uuid replaced by this run's. */
function expected(number: number, values: { pk?: number; uuid?: string } = {}): string {
  let text = recording(number).body_text.replace(
    'hostname: vm\n  pid: 6963',
    `hostname: ${hostname()}\n  pid: ${process.pid}`,
  );
  if (values.uuid !== undefined)
    text = text.replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/, values.uuid);
  if (values.pk !== undefined) text = text.replace("'14\n", `'${values.pk}\n`);
  return text;
}

/** A recorded continue task with the pid of this run. */
function continueTask(number: number, pk: number): Buffer {
  return Buffer.from(recording(number).body_text.replace(/pid: \d+/, `pid: ${pk}`));
}

describe('an aiida-ts daemon worker answering aiida-core continue tasks (real broker)', () => {
  let shared: SharedStorage;
  let worker: DaemonWorkerHandle;
  let runner: Runner;
  let connection: amqp.ChannelModel;
  let channel: amqp.Channel;
  let replies: string;
  const prefix = `aiida-${randomUUID().replace(/-/g, '')}`;
  const received = new Map<string, amqp.ConsumeMessage[]>();
  const arrivals = new Map<string, () => void>();
  const lines: string[] = [];
  let restoreSink: () => void = () => undefined;

  beforeAll(async () => {
    shared = await openSharedStorage('sqlite');
    setDefaultStorage(shared.storage);
    restoreSink = setLogSink({ write: (line) => lines.push(line) });
    connection = await amqp.connect(RMQ_URL);
    channel = await connection.createChannel();
    await declareLikeKiwipy(channel, prefix);
    replies = await declareTaskReplyQueue(channel, prefix);
    await channel.consume(
      replies,
      (message) => {
        if (message === null) return;
        const id = String(message.properties.correlationId);
        received.set(id, [...(received.get(id) ?? []), message]);
        arrivals.get(id)?.();
      },
      { noAck: true },
    );
    const broker = await connect({
      url: RMQ_URL,
      prefix,
      codec: aiidaCodec,
      errorReplies: 'message',
      logger: silentLogger,
      taskPrefetchCount: 4,
    });
    // polling so slow that the recorded tasks alone bring the processes to the worker
    worker = await startDaemonWorker(undefined, {
      storage: shared.storage,
      communicator: broker,
      slots: 4,
      leaseTtlMs: 5_000,
      poll: { minMs: 60_000, maxMs: 60_000 },
    });
    runner = new Runner({
      storage: shared.storage,
      pollInterval: 0.05,
      ownership: new RunnerOwnership(shared.storage),
    });
  });

  afterAll(async () => {
    await runner?.close();
    await worker?.stop();
    await channel?.deleteQueue(`${prefix}.process.queue`).catch(() => undefined);
    await channel?.deleteExchange(`${prefix}.messages`).catch(() => undefined);
    await channel?.deleteExchange(`${prefix}.tasks`).catch(() => undefined);
    await connection?.close().catch(() => undefined);
    restoreSink();
    setDefaultStorage(null);
    await shared?.cleanup();
  });

  /** Publishes recording `number` (pid replaced) as aiida-core does; resolves with the first `count` replies. */
  async function send(number: number, pk: number, count: number): Promise<amqp.ConsumeMessage[]> {
    const correlationId = randomUUID();
    const enough = new Promise<void>((resolve) =>
      arrivals.set(correlationId, () => {
        if ((received.get(correlationId)?.length ?? 0) >= count) resolve();
      }),
    );
    channel.publish(`${prefix}.tasks`, `${prefix}.process.queue`, continueTask(number, pk), {
      headers: {},
      deliveryMode: 2,
      priority: 0,
      correlationId,
      replyTo: replies,
      messageId: randomUUID().replace(/-/g, ''),
      mandatory: true,
    });
    await enough;
    return received.get(correlationId) ?? [];
  }

  function expectReplies(got: amqp.ConsumeMessage[], bodies: string[], numbers: number[]): void {
    expect(got.map((message) => message.content.toString())).toEqual(bodies);
    got.forEach((message, index) => {
      expectRecordedProperties(message.properties, recording(numbers[index] ?? 0));
      expect(message.fields.exchange).toBe(`${prefix}.tasks`);
      expect(message.fields.routingKey).toBe(replies);
    });
  }

  async function outputUuid(pk: number): Promise<string> {
    const links = await (await loadNode<ProcessNode>(pk)).base.links.getOutgoing({ linkType: 'return' });
    return links.getNodeByLabel('result').uuid;
  }

  it('nowait false: pending, then the outputs as a YAML document (07–09)', async () => {
    const node = await runner.submitToDaemon(TwoSteps, { x: new Int(1) });
    const got = await send(7, node.pk!, 2);
    expectReplies(got, [expected(8), expected(9, { uuid: await outputUuid(node.pk!) })], [8, 9]);
    expect(worker.stats().brokerClaims).toBeGreaterThanOrEqual(1);

    // the same process, now over: its outputs as a plain mapping (13–15)
    const again = await send(13, node.pk!, 2);
    expectReplies(again, [expected(14), expected(15, { uuid: await outputUuid(node.pk!) })], [14, 15]);
  });

  it('nowait true: pending, then the pk as a YAML document (10–12)', async () => {
    const node = await runner.submitToDaemon(TwoSteps, { x: new Int(2) });
    const got = await send(10, node.pk!, 2);
    expectReplies(got, [expected(11), expected(12, { pk: node.pk! })], [11, 12]);
    expect((await runner.getProcessFuture(node.pk!)).processState).toBe('finished');
  });

  it('a missing pk: pending, then false (16–18)', async () => {
    const got = await send(16, 999_999, 2);
    expectReplies(got, [expected(17), expected(18)], [17, 18]);
  });

  it('a process that excepts: pending, then its exception message (19–21)', async () => {
    const node = await runner.submitToDaemon(FailingWorkChain, {});
    const got = await send(19, node.pk!, 2);
    expectReplies(got, [expected(20), expected(21)], [20, 21]);
    expect((await loadNode<ProcessNode>(node.pk!)).processState).toBe('excepted');
  });

  it('hands back the task of a process whose class is Python, never marks it excepted, and logs it (01)', async () => {
    // an aiida-core process in the shared storage: its node, with aiida-core's process type, and no aiida-ts task row
    const node = await runner.submitToDaemon(TwoSteps, { x: new Int(3) });
    const pythonType = 'aiida.workflows.arithmetic.multiply_add.MultiplyAddWorkChain';
    await shared.storage
      .executor()
      .updateTable('db_dbnode')
      .set({ process_type: pythonType })
      .where('id', '=', node.pk!)
      .execute();
    await withAiidaTsTables(shared.storage.executor())
      .deleteFrom('aiida_ts_task')
      .where('process_id', '=', node.pk!)
      .execute();
    const said = (): number =>
      lines.filter((line) => line.includes(`process<${node.pk!}> is not an aiida-ts process`)).length;

    const body = continueTask(1, node.pk!);
    channel.publish(`${prefix}.tasks`, `${prefix}.process.queue`, body, {
      headers: {},
      deliveryMode: 2,
      priority: 0,
      correlationId: randomUUID(),
      replyTo: replies,
      messageId: randomUUID().replace(/-/g, ''),
      mandatory: true,
    });
    await expect.poll(said, { timeout: 20_000, interval: 20 }).toBe(1);

    // an aiida-core worker consuming the launch queue now gets the task: the aiida-ts worker gave it back
    const coreWorker = await connection.createChannel();
    const handedBack = new Promise<amqp.ConsumeMessage>((resolve) => {
      void coreWorker.consume(`${prefix}.process.queue`, (message) => message && resolve(message), {
        noAck: true,
      });
    });
    const message = await handedBack;
    expect(message.content.equals(body)).toBe(true);
    expect(message.fields.redelivered).toBe(true);
    await coreWorker.close();

    const after = await loadNode<ProcessNode>(node.pk!);
    expect(after.processState).toBe('created');
    expect(after.exception).toBeNull();
    expect(after.processType).toBe(pythonType);
    expect(worker.stats().loaded).not.toContain(node.pk!);
    // said once, however often the broker offered it
    expect(said()).toBe(1);
  });
});
