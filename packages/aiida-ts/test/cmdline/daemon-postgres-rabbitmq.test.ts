import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonPids, submittedPk, writeWorkflowFiles } from './daemon-helpers.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

// The scale-out setup: PostgreSQL storage and RabbitMQ (127.0.0.1:5432 trust, 127.0.0.1:5672 guest) found by
// `verdi presto`; the workers take tasks from the broker, `verdi process kill` reaches a running process by RPC.
const sandbox = verdiSandbox('aiida-ts-daemon-pg-');
const { verdi, base, configDir } = sandbox;
const profile = `pgdaemon${randomBytes(4).toString('hex')}`;
const pids = new DaemonPids(configDir, [profile]);
const { submit, submitSlow } = writeWorkflowFiles(base);
// presto's RabbitMQ detection is on here
const detect = { env: { AIIDA_TS_PRESTO_BROKER: undefined } };

async function admin(fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  const left = pids.killLeft();
  await admin(async (client) => {
    const name = `aiida-${profile}`;
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    await client.query(`DROP ROLE IF EXISTS "${name}"`);
  });
  sandbox.cleanup();
  expect(left, 'processes a test left running').toEqual([]);
});

describe('the daemon on PostgreSQL with RabbitMQ', () => {
  it('presto detects the running RabbitMQ and configures it as the broker', async () => {
    const presto = await verdi(
      ['presto', '-p', profile, '--use-postgres', '--postgres-hostname', '127.0.0.1'],
      detect,
    );
    expect(presto.code, describeResult(presto)).toBe(0);
    expect(presto.stdout).toMatch(/RabbitMQ server detected at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672/);
    const config = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as {
      profiles: Record<string, { process_control: { backend: string | null } }>;
    };
    expect(config.profiles[profile]?.process_control.backend).toBe('core.rabbitmq');
  });

  it('workers take the submitted processes from the broker; kill reaches a running one', async () => {
    const start = await verdi(['daemon', 'start', '2']);
    pids.note();
    expect(start.code, describeResult(start)).toBe(0);
    const status = await verdi(['daemon', 'status', '--json']);
    pids.note();
    const workers = status.json<{ workers: { broker: boolean | null; ready: boolean }[] }>().workers;
    expect(workers).toEqual([
      expect.objectContaining({ ready: true, broker: true }),
      expect.objectContaining({ ready: true, broker: true }),
    ]);
    const run = await verdi(['run', submit]);
    expect(run.code, describeResult(run)).toBe(0);
    const quick = submittedPk(run.stdout);
    const runSlow = await verdi(['run', submitSlow]);
    expect(runSlow.code, describeResult(runSlow)).toBe(0);
    const slow = submittedPk(runSlow.stdout);
    const watch = await verdi(['process', 'watch', String(quick)]);
    expect(watch.code, describeResult(watch)).toBe(0);
    const kill = await verdi(['process', 'kill', String(slow), '--wait', '-t', '20']);
    expect(kill.code, describeResult(kill)).toBe(0);
    expect(kill.stdout + kill.stderr).toContain(`Process<${slow}> killed`);
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'state', '--json']);
    const states = list.json<{ pk: number; state: { process_state: string } }[]>();
    expect(states.find((row) => row.pk === quick)?.state.process_state).toBe('finished');
    expect(states.find((row) => row.pk === slow)?.state.process_state).toBe('killed');
    const stop = await verdi(['daemon', 'stop']);
    expect(stop.code, describeResult(stop)).toBe(0);
    pids.expectAllGone();
  });
});
