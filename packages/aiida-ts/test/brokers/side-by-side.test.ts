import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { deferred, silentLogger, UnroutableError } from 'kiwipy-ts';
import { connect, type RmqCommunicator } from 'kiwipy-ts/rmq';
import { createContinueBody, MessageBuilder, Process, RemoteProcessController, Wait } from 'plumpy-ts';
import { afterEach, describe, expect, it } from 'vitest';
import { aiidaCodec } from '../../src/engine.js';
import { declareLikeKiwipy, expectRecordedProperties } from './kiwipy-side.js';
import { recording, type RecordedMessage } from './wire-fixtures.js';

/**
 * aiida-ts and aiida-core on one broker. aiida-core is not installed here: its side is played by raw amqplib,
 * declaring exactly what kiwipy 0.9 declares (topology.json) and publishing the recorded bytes with the
 * recorded properties (fixtures/aiida-wire).
 */
const RMQ_URL = process.env['AIIDA_TEST_RMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** What `connectProfileBroker` sets for a profile (testing mode off: a real profile's declaration). */
function aiidaTs(prefix: string): Promise<RmqCommunicator> {
  return connect({ url: RMQ_URL, prefix, codec: aiidaCodec, errorReplies: 'message', logger: silentLogger });
}

class Holder extends Process {
  override run(): Wait {
    return new Wait('never');
  }
  never(): void {}
}

describe('aiida-ts beside aiida-core on one broker (aiida-core side replayed with amqplib)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  async function raw(): Promise<amqp.Channel> {
    const connection = await amqp.connect(RMQ_URL);
    cleanups.push(() => connection.close());
    const channel = await connection.createChannel();
    return channel;
  }

  function forget(prefix: string): void {
    cleanups.push(async () => {
      const connection = await amqp.connect(RMQ_URL);
      const channel = await connection.createChannel();
      await channel.deleteQueue(`${prefix}.process.queue`);
      await channel.deleteExchange(`${prefix}.messages`);
      await channel.deleteExchange(`${prefix}.tasks`);
      await connection.close();
    });
  }

  async function aiidaTsSide(prefix: string): Promise<RmqCommunicator> {
    const comm = await aiidaTs(prefix);
    cleanups.push(() => comm.close());
    return comm;
  }

  it('starts after aiida-core has declared everything, and before it', async () => {
    const first = `aiida-${randomUUID().replace(/-/g, '')}`;
    forget(first);
    await declareLikeKiwipy(await raw(), first);
    const comm = await aiidaTsSide(first);
    await comm.addRpcSubscriber(() => true, '7');
    await comm.addBroadcastSubscriber(() => undefined);

    const second = `aiida-${randomUUID().replace(/-/g, '')}`;
    forget(second);
    const early = await aiidaTsSide(second);
    await early.addRpcSubscriber(() => true, '7');
    await early.addBroadcastSubscriber(() => undefined);
    const channel = await raw();
    const closed = deferred<unknown>();
    channel.on('error', (error: unknown) => closed.resolve(error));
    await declareLikeKiwipy(channel, second);
    // A PRECONDITION_FAILED would have closed the channel: a round trip proves it is still open.
    await channel.checkExchange(`${second}.messages`);
  });

  it("sends aiida-core's continue task, byte for byte", async () => {
    const prefix = `aiida-${randomUUID().replace(/-/g, '')}`;
    forget(prefix);
    const channel = await raw();
    await declareLikeKiwipy(channel, prefix);
    const got = deferred<amqp.ConsumeMessage>();
    await channel.consume(`${prefix}.process.queue`, (message) => message && got.resolve(message), {
      noAck: true,
    });
    const comm = await aiidaTsSide(prefix);
    await comm.taskSend(createContinueBody(4, { nowait: false }), { noReply: true });
    const message = await got.promise;
    const recorded = recording(1);
    expect(message.content.toString()).toBe(recorded.body_text);
    expect(message.fields.exchange).toBe(`${prefix}.tasks`);
    expect(message.fields.routingKey).toBe(`${prefix}.process.queue`);
    expectRecordedProperties(message.properties, recorded);
    expect(message.properties.replyTo).toBe(comm.taskReplyQueue);
    expect(comm.taskReplyQueue).toMatch(new RegExp(`^${prefix}\\.tasks-reply-[0-9a-f-]{36}$`));
  });

  it("answers aiida-core's status, pause and unknown RPCs of a process as aiida-core does", async () => {
    const prefix = `aiida-${randomUUID().replace(/-/g, '')}`;
    forget(prefix);
    const channel = await raw();
    const { replies } = await declareLikeKiwipy(channel, prefix);
    const comm = await aiidaTsSide(prefix);
    const process = new Holder({ pid: 30, communicator: comm, logger: silentLogger });
    const running = process.stepUntilTerminated().catch(() => undefined);
    cleanups.push(async () => {
      process.kill('test over');
      await running;
    });
    await expect.poll(() => process.state).toBe('waiting');

    const received: amqp.ConsumeMessage[] = [];
    const arrived = new Map<string, (message: amqp.ConsumeMessage) => void>();
    await channel.consume(
      replies,
      (message) => {
        if (message === null) return;
        received.push(message);
        arrived.get(String(message.properties.correlationId))?.(message);
      },
      { noAck: true },
    );
    /** Publishes a recorded request as aiida-core does and collects replies until a final one. */
    async function replay(request: RecordedMessage): Promise<amqp.ConsumeMessage[]> {
      const correlationId = randomUUID();
      const mine: amqp.ConsumeMessage[] = [];
      const final = deferred<void>();
      arrived.set(correlationId, (message) => {
        mine.push(message);
        if (!message.content.toString().startsWith('pending:')) final.resolve();
      });
      channel.publish(`${prefix}.messages`, '[rpc].30', Buffer.from(request.body_text), {
        headers: {},
        deliveryMode: 1,
        priority: 0,
        correlationId,
        replyTo: replies,
        messageId: randomUUID().replace(/-/g, ''),
        mandatory: true,
      });
      await final.promise;
      return mine;
    }

    const status = await replay(recording(36));
    const lastStatus = status.at(-1)!;
    expect(lastStatus.content.toString()).toMatch(
      /^result:\n {2}ctime: \d+\.\d+\n {2}paused: false\n {2}process_string: <Holder> \(ProcessState\.WAITING\)\n {2}state: ProcessState\.WAITING\n$/,
    );
    expectRecordedProperties(lastStatus.properties, recording(38));
    expect(lastStatus.fields.routingKey).toBe(replies);
    expect(lastStatus.fields.exchange).toBe(`${prefix}.messages`);

    const pause = await replay(recording(41));
    expect(pause[0]!.content.toString()).toBe(recording(42).body_text);
    expectRecordedProperties(pause[0]!.properties, recording(42));
    expect(pause.at(-1)!.content.toString()).toBe(recording(44).body_text);
    expect(process.paused).toBe(true);

    const unknown = await replay(recording(52));
    expect(unknown.at(-1)!.content.toString()).toBe(recording(54).body_text);
    expectRecordedProperties(unknown.at(-1)!.properties, recording(54));
  });

  it("controls a process the way aiida-core's controller does: intents, pending replies, unroutable", async () => {
    const prefix = `aiida-${randomUUID().replace(/-/g, '')}`;
    forget(prefix);
    const channel = await raw();
    await declareLikeKiwipy(channel, prefix);
    // The "aiida-core process" 30: its RPC queue, answering with the recorded replies (pending twice, then true).
    const { queue } = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: false,
      arguments: { 'x-message-ttl': 66_000, 'x-expires': 60_000 },
    });
    await channel.bindQueue(queue, `${prefix}.messages`, '[rpc].30');
    const requests: amqp.ConsumeMessage[] = [];
    await channel.consume(queue, (message) => {
      if (message === null) return;
      channel.ack(message);
      requests.push(message);
      const reply = (recorded: RecordedMessage) =>
        channel.publish(
          `${prefix}.messages`,
          String(message.properties.replyTo),
          Buffer.from(recorded.body_text),
          {
            headers: {},
            deliveryMode: 1,
            priority: 0,
            correlationId: String(message.properties.correlationId),
            messageId: randomUUID().replace(/-/g, ''),
          },
        );
      reply(recording(56));
      reply(recording(57));
      reply(recording(58));
    });
    const comm = await aiidaTsSide(prefix);
    const controller = new RemoteProcessController(comm);
    const killText = (recording(55).body_decoded as { message: string }).message;
    expect(await controller.killProcess(30, { message: killText })).toBe(true);
    const kill = requests[0]!;
    expect(kill.content.toString()).toBe(recording(55).body_text);
    expectRecordedProperties(kill.properties, recording(55));
    expect(kill.properties.replyTo).toBe(comm.replyQueue);

    expect(
      await controller.pauseProcess(30, (recording(41).body_decoded as { message: string }).message),
    ).toBe(true);
    expect(requests[1]!.content.toString()).toBe(recording(41).body_text);

    // Nobody listens for 31: the broker returns the request, and the sender learns it at once.
    await expect(controller.getStatus(31)).rejects.toBeInstanceOf(UnroutableError);

    // Intent broadcasts as aiida-core sends them.
    const seen: unknown[] = [];
    const got = deferred<void>();
    await comm.addBroadcastSubscriber((message) => {
      seen.push(message);
      if (message.subject === 'play') got.resolve();
    });
    for (const recorded of [recording(64), recording(65)]) {
      channel.publish(`${prefix}.messages`, '[broadcast]', Buffer.from(recorded.body_text), {
        headers: {},
        deliveryMode: 1,
        priority: 0,
        messageId: randomUUID().replace(/-/g, ''),
      });
    }
    await got.promise;
    expect(seen).toEqual([
      {
        body: (recording(64).body_decoded as { body: unknown }).body,
        sender: null,
        subject: 'pause',
        correlationId: null,
      },
      { body: null, sender: null, subject: 'play', correlationId: null },
    ]);
    expect(MessageBuilder.play()).toEqual({ intent: 'play', message: null });
  });
});
