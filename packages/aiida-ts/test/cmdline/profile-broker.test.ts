import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

interface ConfigFile {
  readonly profiles: Record<
    string,
    { readonly process_control: { backend: string | null; config: unknown } }
  >;
}

describe('verdi profile configure-broker', () => {
  const sandbox = verdiSandbox('aiida-ts-verdi-broker-');
  const processControl = (): { backend: string | null; config: unknown } | undefined =>
    (JSON.parse(readFileSync(join(sandbox.configDir, 'config.json'), 'utf8')) as ConfigFile).profiles[
      'presto'
    ]?.process_control;
  beforeAll(async () => {
    const presto = await sandbox.verdi(['presto']);
    expect(presto.code, describeResult(presto)).toBe(0);
  }, 60_000);
  afterAll(() => sandbox.cleanup());

  it('sets RabbitMQ after checking it, or no broker, and needs --broker', async () => {
    const rabbit = await sandbox.verdi(['profile', 'configure-broker', '--broker', 'core.rabbitmq']);
    expect(rabbit.code, describeResult(rabbit)).toBe(0);
    expect(rabbit.stdout).toContain('Connected to RabbitMQ');
    expect(processControl()).toMatchObject({
      backend: 'core.rabbitmq',
      config: { broker_host: '127.0.0.1', broker_port: 5672 },
    });

    const none = await sandbox.verdi(['profile', 'configure-broker', 'presto', '--broker', 'none']);
    expect(none.code, describeResult(none)).toBe(0);
    expect(none.stdout).toContain('now has no broker');
    expect(processControl()).toEqual({ backend: null, config: null });

    const unreachable = await sandbox.verdi([
      'profile',
      'configure-broker',
      '--broker',
      'core.rabbitmq',
      '--broker-port',
      '1',
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('Unable to connect to RabbitMQ server');
    expect(processControl()?.backend).toBeNull();

    const missing = await sandbox.verdi(['profile', 'configure-broker']);
    expect(missing.code).toBe(2);
    const wrong = await sandbox.verdi(['profile', 'configure-broker', '--broker', 'kafka']);
    expect(wrong.code).toBe(2);
  });
});
