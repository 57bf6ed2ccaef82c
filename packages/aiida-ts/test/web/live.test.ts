import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNode, type ProcessNode } from 'aiida-ts/orm';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { useEngine } from '../engine/helpers.js';
import { openPsqlDos, openSqliteDos } from '../storage/helpers.js';
import { HeldWorkChain, openGate } from './held-workchain.js';
import { processEvent, SseClient } from './sse-client.js';

describe.each([
  ['from broadcasts, control over the broker', true, openSqliteDos],
  ['from reading SQLite', false, openSqliteDos],
  ['from reading PostgreSQL', false, openPsqlDos],
] as const)('process events %s', (_name, withBroker, open) => {
  const engine = useEngine(open);
  let server: WebServer;
  let address: string;
  beforeAll(async () => {
    server = await createWebServer({
      storage: engine().storage,
      communicator: withBroker ? engine().communicator : null,
      token: 'the-token',
      page: false,
      pollIntervalMs: 50,
    });
    address = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('streams a work chain appearing and changing state', async () => {
    const events = new SseClient(`${address}/api/v4/processes/events`);
    await events.next((event) => event.event === 'hello');
    const gate = `live-${_name}`;
    const process = await engine().runner.instantiate(HeldWorkChain, { gate });
    const done = engine().runner.executeProcess(process);
    const pk = process.pk!;
    await events.next(processEvent(pk, { process_label: 'HeldWorkChain' }));
    openGate(gate);
    await done;
    // with a broker the storage is still read now and then (what broadcasts do not tell): both may report the end
    const source = withBroker ? 'broker' : 'storage';
    const finished = await events.next(
      (event) =>
        processEvent(pk, { process_state: 'finished' })(event) &&
        (event.data as { source?: string }).source === source,
    );
    expect(finished.event).toBe('process');
    events.close();
  });
});

describe('process control from the page, over the broker', () => {
  const engine = useEngine(openSqliteDos);
  let server: WebServer;
  let address: string;
  beforeAll(async () => {
    server = await createWebServer({
      storage: engine().storage,
      communicator: engine().communicator,
      token: 'the-token',
      page: false,
      pollIntervalMs: 50,
    });
    address = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('pauses and plays with the token, refuses without it', async () => {
    const gate = 'control';
    const process = await engine().runner.instantiate(HeldWorkChain, { gate });
    const done = engine().runner.executeProcess(process);
    await expect.poll(() => process.state).toBe('waiting');
    const pk = process.pk!;
    const post = (action: string, headers: Record<string, string> = {}) =>
      fetch(`${address}/api/v4/processes/${pk}/${action}`, { method: 'POST', headers });
    expect((await post('pause')).status).toBe(401);
    expect((await post('pause', { authorization: 'Bearer wrong-token' })).status).toBe(403);
    expect((await post('kill', { 'x-aiida-token': 'nope' })).status).toBe(403);
    const paused = await post('pause', { authorization: 'Bearer the-token' });
    expect(paused.status).toBe(200);
    expect(((await paused.json()) as { data: { action: string } }).data.action).toBe('pause');
    await expect.poll(async () => (await loadNode<ProcessNode>(pk)).paused).toBe(true);
    const played = await post('play', { authorization: 'Bearer the-token' });
    expect(played.status).toBe(200);
    await expect.poll(async () => (await loadNode<ProcessNode>(pk)).paused).toBe(false);
    openGate(gate);
    await done;
    const killTerminated = await post('kill', { authorization: 'Bearer the-token' });
    expect(killTerminated.status).toBe(200);
    expect(((await killTerminated.json()) as { data: { state: string } }).data.state).toBe('failed');
  });
});

describe('a read-only server', () => {
  const engine = useEngine(openSqliteDos);
  it('refuses control with a 403 whatever the token', async () => {
    await using server = await createWebServer({ storage: engine().storage, token: null, page: false });
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/v4/processes/1/pause',
      headers: { authorization: 'Bearer anything' },
    });
    expect(response.statusCode).toBe(403);
  });
});
