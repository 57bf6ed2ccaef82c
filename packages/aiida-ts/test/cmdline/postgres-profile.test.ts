import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { Int } from '../../src/orm.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

// PostgreSQL on 127.0.0.1:5432, user postgres, trust authentication: each run uses fresh databases and roles.
const sandbox = verdiSandbox();
const { verdi, base, configDir } = sandbox;
const suffix = randomBytes(4).toString('hex');
const databaseName = `aiida_ts_cli_${suffix}`;
const prestoProfile = `pgpresto${suffix}`;

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const databaseExists = (name: string) =>
  admin(
    async (client) =>
      (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1,
  );

afterAll(async () => {
  await admin(async (client) => {
    for (const name of [databaseName, `aiida-${prestoProfile}`]) {
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    }
    await client.query(`DROP ROLE IF EXISTS "aiida-${prestoProfile}"`);
  });
  sandbox.cleanup();
});

describe('a core.psql_dos profile', () => {
  it('is set up from options, creating its database', async () => {
    const result = await verdi([
      'profile',
      'setup',
      'core.psql_dos',
      '-n',
      '--profile-name',
      'pg',
      '--email',
      'pg@example.org',
      '--database-hostname',
      '127.0.0.1',
      '--database-port',
      '5432',
      '--database-username',
      'postgres',
      '--database-name',
      databaseName,
      '--repository-uri',
      pathToFileURL(join(base, 'pg-repository')).href,
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(await databaseExists(databaseName)).toBe(true);
    const status = await verdi(['status', '--json']);
    expect(status.code, describeResult(status)).toBe(0);
    expect(status.stdout).toMatch(/core\.psql_dos at postgresql:\/\/postgres@127\.0\.0\.1:5432\//);
  });

  it('serves the node, group and user commands', async () => {
    setConfigDir(configDir);
    let pk: number;
    try {
      await loadProfile('pg');
      pk = (await new Int(42).store()).pk!;
    } finally {
      await unloadProfile();
      setConfigDir(undefined);
    }
    const attributes = await verdi(['node', 'attributes', String(pk), '--json']);
    expect(attributes.json()).toEqual([{ PK: pk, attributes: { value: 42 } }]);
    expect((await verdi(['group', 'create', 'answers'])).code).toBe(0);
    expect((await verdi(['group', 'add-nodes', '-G', 'answers', String(pk)])).code).toBe(0);
    expect((await verdi(['group', 'show', 'answers', '-r'])).stdout.trim()).toBe(String(pk));
    expect((await verdi(['user', 'list', '--json'])).json()).toMatchObject([
      { email: 'pg@example.org', is_default: true },
    ]);
    const info = await verdi(['storage', 'info', '--json']);
    expect(info.json()).toMatchObject({
      entryPoint: 'core.psql_dos',
      entities: { Nodes: { count: 1 }, Groups: { count: 1 } },
    });
    const deleted = await verdi(['node', 'delete', String(pk), '--force']);
    expect(deleted.code, describeResult(deleted)).toBe(0);
  });

  it('is deleted with its database by `profile delete --delete-data`', async () => {
    const result = await verdi(['profile', 'delete', '--force', '--delete-data', 'pg']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(await databaseExists(databaseName)).toBe(false);
  });

  it('presto --use-postgres creates a role and a database for the profile', async () => {
    const result = await verdi([
      'presto',
      '--profile-name',
      prestoProfile,
      '--use-postgres',
      '--postgres-hostname',
      '127.0.0.1',
      '--postgres-username',
      'postgres',
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain('`--use-postgres` enabled and database creation successful');
    expect(await databaseExists(`aiida-${prestoProfile}`)).toBe(true);
    const show = await verdi(['profile', 'show', prestoProfile, '--json']);
    expect(show.json()).toMatchObject({
      storage: {
        backend: 'core.psql_dos',
        config: { database_name: `aiida-${prestoProfile}`, database_username: `aiida-${prestoProfile}` },
      },
    });
    const status = await verdi(['status']);
    expect(status.code, describeResult(status)).toBe(0);
    const removed = await verdi(['profile', 'delete', '--force', '--delete-data', prestoProfile]);
    expect(removed.code, describeResult(removed)).toBe(0);
    expect(await databaseExists(`aiida-${prestoProfile}`)).toBe(false);
  });
});
