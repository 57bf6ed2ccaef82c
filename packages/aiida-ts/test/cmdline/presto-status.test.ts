import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
afterAll(() => sandbox.cleanup());
const { verdi, configDir } = sandbox;

interface Status {
  services: { service: string; status: string; message: string; error?: string }[];
  exit_code: number;
}
const byService = (status: Status) => Object.fromEntries(status.services.map((line) => [line.service, line]));
const readConfig = () =>
  JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as {
    default_profile?: string;
    profiles: Record<
      string,
      {
        storage: { config: { filepath: string } };
        options?: Record<string, unknown>;
        process_control: { backend: string | null; config: Record<string, unknown> | null };
      }
    >;
  };

describe('verdi presto and verdi status', () => {
  it('status on a fresh folder: no profile yet is a warning, not a failure', async () => {
    const result = await verdi(['status']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(/ ✔ version: +aiida-ts v\d/);
    expect(result.stdout).toContain(` ✔ config:      ${configDir}`);
    expect(result.stdout).toContain(' ⏺ profile:     no profile configured yet');
    expect(result.stdout).toContain('Run `verdi presto`');
  });

  it('presto makes a working profile with no services, sets it as default, creates the user and localhost', async () => {
    const result = await verdi(['presto']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain(
      'Option `--use-postgres` not enabled: configuring the profile to use SQLite.',
    );
    expect(result.stdout).toContain(
      'Broker detection disabled (AIIDA_TS_PRESTO_BROKER=none): configuring the profile without a broker.',
    );
    expect(result.stdout).toContain('Success: Created new profile `presto`.');
    expect(result.stdout).toContain('Success: Configured the localhost as a computer.');
    const config = readConfig();
    expect(config.default_profile).toBe('presto');
    expect(config.profiles.presto).toMatchObject({
      process_control: { backend: null },
      options: { 'runner.poll.interval': 1 },
    });
    const users = await verdi(['user', 'list', '--json']);
    expect(users.json()).toMatchObject([{ email: 'aiida@localhost', is_default: true }]);
  });

  it('status after presto: every service up, storage at the head schema, no broker, no daemon', async () => {
    const text = await verdi(['status']);
    expect(text.code, describeResult(text)).toBe(0);
    expect(text.stdout).toContain(' ✔ profile:     presto');
    expect(text.stdout).toMatch(
      / ✔ storage: +core\.sqlite_dos at .*schema version main_\d+ \(head main_\d+\)/,
    );
    expect(text.stdout).toContain(' ⏺ broker:      none');
    expect(text.stdout).toMatch(/ ⏺ daemon: +not running/);
    const json = await verdi(['status', '--json']);
    const services = byService(json.json<Status>());
    expect(json.json<Status>().exit_code).toBe(0);
    expect(services.storage?.status).toBe('up');
    expect(services.broker?.status).toBe('warning');
  });

  it('presto picks the next free name, takes the email from autofill, and refuses a taken name with exit 2', async () => {
    const set = await verdi(['config', 'set', 'autofill.user.email', 'auto@example.org']);
    expect(set.code).toBe(0);
    const second = await verdi(['presto']);
    expect(second.code, describeResult(second)).toBe(0);
    expect(second.stdout).toContain('Created new profile `presto-1`.');
    const users = await verdi(['-p', 'presto-1', 'user', 'list', '--json']);
    expect(users.json()).toMatchObject([{ email: 'auto@example.org' }]);
    const taken = await verdi(['presto', '--profile-name', 'presto']);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('the profile `presto` already exists');
  });

  it('presto --use-rabbitmq probes the broker and configures it; status then checks it', async () => {
    const result = await verdi(['presto', '-p', 'with-broker', '--use-rabbitmq']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain('RabbitMQ server detected');
    expect(readConfig().profiles['with-broker']?.process_control).toMatchObject({
      backend: 'core.rabbitmq',
      config: { broker_host: '127.0.0.1', broker_port: 5672, broker_username: 'guest' },
    });
    const status = await verdi(['-p', 'with-broker', 'status', '--json']);
    expect(status.code, describeResult(status)).toBe(0);
    expect(byService(status.json<Status>()).broker).toMatchObject({
      status: 'up',
      message: expect.stringMatching(/^RabbitMQ v3/),
    });
  });

  it('presto --use-rabbitmq fails (exit 1) and creates nothing when the broker cannot be reached', async () => {
    const result = await verdi(['presto', '-p', 'no-broker', '--use-rabbitmq', '--broker-port', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Critical: RabbitMQ server not reachable at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/,
    );
    expect(readConfig().profiles['no-broker']).toBeUndefined();
  });

  it('status exits 1 when the broker of the profile is unreachable', async () => {
    const configure = await verdi([
      'profile',
      'configure-rabbitmq',
      'presto-1',
      '--broker-port',
      '1',
      '--force',
    ]);
    expect(configure.code, describeResult(configure)).toBe(0);
    expect(configure.stderr).toContain('Unable to connect to RabbitMQ server');
    const status = await verdi(['-p', 'presto-1', 'status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(
      ' ✘ broker:      Unable to connect to broker: RabbitMQ @ amqp://guest:***@127.0.0.1:1',
    );
  });

  it('status exits 1 when the storage is broken, naming the problem', async () => {
    const folder = readConfig().profiles.presto!.storage.config.filepath;
    renameSync(join(folder, 'database.sqlite'), join(folder, 'moved.sqlite'));
    try {
      const status = await verdi(['-p', 'presto', 'status', '--json']);
      expect(status.code).toBe(1);
      const storage = byService(status.json<Status>()).storage;
      expect(storage).toMatchObject({ status: 'down', message: 'Storage is corrupted.' });
      expect(storage?.error).toMatch(/CorruptStorageError: no core\.sqlite_dos database/);
      const text = await verdi(['-p', 'presto', 'status']);
      expect(text.code).toBe(1);
      expect(text.stdout).toContain(' ✘ storage:     Storage is corrupted.');
      expect(text.stderr).toContain('Error: CorruptStorageError: no core.sqlite_dos database');
    } finally {
      renameSync(join(folder, 'moved.sqlite'), join(folder, 'database.sqlite'));
    }
  });
});
