/**
 * A script's submission to the daemon on PostgreSQL with RabbitMQ is all or nothing: a submission whose write is
 * refused leaves no process node, no task row and no task on the broker (a node without a task row would be a
 * process that never runs; a task without a committed row would name nothing), while the one before it is complete.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { connect } from 'kiwipy-ts/rmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine.js';
import { RunnerOwnership } from '../../src/engine/daemon/index.js';
import { IntegrityError } from '../../src/errors.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { TwoSteps } from './fixtures.js';
import { openSharedStorage, type SharedStorage } from './services.js';

const RABBITMQ = 'amqp://guest:guest@127.0.0.1:5672';

describe('a submission to the daemon on PostgreSQL with RabbitMQ', () => {
  let shared: SharedStorage;

  beforeAll(async () => {
    shared = await openSharedStorage('psql');
    setDefaultStorage(shared.storage);
  });
  afterAll(async () => {
    setDefaultStorage(null);
    await shared?.cleanup();
  });

  async function stored(): Promise<{ nodes: number[]; tasks: number[] }> {
    const nodes = await shared.storage
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('process_type', '=', 'fixtures.TwoSteps')
      .orderBy('id')
      .execute();
    const tasks = await withAiidaTsTables(shared.storage.executor())
      .selectFrom('aiida_ts_task')
      .select('process_id')
      .orderBy('process_id')
      .execute();
    return { nodes: nodes.map((row) => Number(row.id)), tasks: tasks.map((row) => Number(row.process_id)) };
  }

  it('whose input cannot be stored leaves no node, no task row and no task on the broker', async () => {
    const prefix = `aiida-ts-submit-${randomBytes(4).toString('hex')}`;
    const client = await connect({ url: RABBITMQ, prefix, testingMode: true });
    const { storage } = shared;
    const runner = new Runner({
      storage,
      communicator: client,
      ownership: new RunnerOwnership(storage, { broker: client }),
    });
    let good: number | null = null;
    try {
      good = (await runner.submit(TwoSteps, { x: new Int(1) })).pk;
      // an input this script holds as stored whose row is gone: only the link insert can find that out
      const gone = new Int(2);
      await gone.store();
      await storage.executor().deleteFrom('db_dbnode').where('id', '=', gone.pk!).execute();
      await expect(runner.submit(TwoSteps, { x: gone })).rejects.toThrow(IntegrityError);
      expect(await stored()).toEqual({ nodes: [good], tasks: [good] });
    } finally {
      // waits for the publishing of what was submitted
      await runner.close();
      await client.close();
    }
    const connection = await amqp.connect(RABBITMQ);
    try {
      const channel = await connection.createChannel();
      const queue = await channel.checkQueue(`${prefix}.process.queue`);
      expect(queue.messageCount).toBe(1);
      const message = await channel.get(queue.queue, { noAck: true });
      expect(message === false ? undefined : message.content.toString()).toContain(`"pid":${good}`);
      await channel.deleteQueue(queue.queue);
    } finally {
      await connection.close();
    }
  });
});
