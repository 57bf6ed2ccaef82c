/**
 * A `core.psql_dos` profile named `pg` on a PostgreSQL instance of the suite's own (its tests stop, restart or
 * damage the server), set up with `verdi profile setup` before the suite's tests and disposed of after them.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startPrivatePostgres, type PrivatePostgres } from '@aiida-ts/test-services';
import { afterAll, beforeAll, expect } from 'vitest';
import { describeResult, type verdiSandbox } from './verdi-process.js';

/** Registers the hooks; the server and the database name are there once `beforeAll` has run. */
export function usePrivatePsqlProfile(sandbox: ReturnType<typeof verdiSandbox>): {
  readonly postgres: PrivatePostgres;
  readonly database: string;
} {
  let postgres: PrivatePostgres | undefined;
  let database: string | undefined;
  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    database = await postgres.createDatabase();
    const setup = await sandbox.verdi([
      'profile',
      'setup',
      'core.psql_dos',
      '-n',
      '--profile-name',
      'pg',
      '--email',
      'pg@example.org',
      '--database-hostname',
      postgres.host,
      '--database-port',
      String(postgres.port),
      '--database-username',
      'postgres',
      '--database-name',
      database,
      '--repository-uri',
      pathToFileURL(join(sandbox.base, 'repository')).href,
    ]);
    expect(setup.code, describeResult(setup)).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await postgres?.dispose();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the private PostgreSQL is only there once beforeAll has run');
    return value;
  };
  return {
    get postgres() {
      return started(postgres);
    },
    get database() {
      return started(database);
    },
  };
}
