import { randomBytes } from 'node:crypto';
import { silentLogger } from 'kiwipy-ts';
import { connect, type RmqCommunicator } from 'kiwipy-ts/rmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aiidaCodec, Runner } from '../../src/engine.js';
import { loadNode, setDefaultStorage, type ProcessNode } from '../../src/orm.js';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { openSqliteDos, type TestStorage } from '../storage/helpers.js';
import { HeldWorkChain, openGate } from './held-workchain.js';
import { processEvent, SseClient } from './sse-client.js';

const RMQ_URL = process.env['AIIDA_TEST_RMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** As `connectProfileBroker` connects: aiida-core's wire format. */
function broker(prefix: string): Promise<RmqCommunicator> {
  return connect({
    url: RMQ_URL,
    prefix,
    codec: aiidaCodec,
    errorReplies: 'message',
    logger: silentLogger,
    testingMode: true,
  });
}

describe('verdi web on a RabbitMQ broker', () => {
  const prefix = `aiida-ts-web-${randomBytes(6).toString('hex')}`;
  let handle: TestStorage;
  let runnerBroker: RmqCommunicator;
  let webBroker: RmqCommunicator;
  let runner: Runner;
  let server: WebServer;
  let address: string;

  beforeAll(async () => {
    handle = await openSqliteDos();
    setDefaultStorage(handle.storage);
    runnerBroker = await broker(prefix);
    webBroker = await broker(prefix);
    runner = new Runner({ storage: handle.storage, communicator: runnerBroker, pollInterval: 0.05 });
    // the server's own connection, as `verdi web` opens one; polling slow, so that events come from broadcasts
    server = await createWebServer({
      storage: handle.storage,
      communicator: webBroker,
      token: 'rmq',
      page: false,
      pollIntervalMs: 60_000,
    });
    address = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    openGate('rmq');
    await server?.close();
    await runner?.close();
    await webBroker?.close();
    await runnerBroker?.close();
    setDefaultStorage(null);
    await handle?.cleanup();
  });

  it('streams state changes from the broadcasts and pauses and plays by RPC', async () => {
    const events = new SseClient(`${address}/api/v4/processes/events`);
    const hello = await events.next((event) => event.event === 'hello');
    expect(hello.data).toEqual({ broker: true });
    const process = await runner.instantiate(HeldWorkChain, { gate: 'rmq' });
    const done = runner.executeProcess(process);
    const pk = process.pk!;
    const waiting = await events.next(processEvent(pk, { process_state: 'waiting' }));
    expect(waiting.data).toMatchObject({
      source: 'broker',
      subject: expect.stringMatching(/^state_changed\./),
    });

    const headers = { authorization: 'Bearer rmq' };
    const paused = await fetch(`${address}/api/v4/processes/${pk}/pause`, { method: 'POST', headers });
    expect(((await paused.json()) as { data: { state: string; result: string } }).data).toMatchObject({
      state: 'done',
      result: 'pause done by RPC',
    });
    await expect.poll(async () => (await loadNode<ProcessNode>(pk)).paused).toBe(true);
    const played = await fetch(`${address}/api/v4/processes/${pk}/play`, { method: 'POST', headers });
    expect(played.status).toBe(200);
    await expect.poll(async () => (await loadNode<ProcessNode>(pk)).paused).toBe(false);

    openGate('rmq');
    await done;
    const finished = await events.next(processEvent(pk, { process_state: 'finished' }));
    expect(finished.data).toMatchObject({
      source: 'broker',
      subject: expect.stringMatching(/^state_changed\.[a-z]+\.finished$/),
    });
    events.close();
  });
});
