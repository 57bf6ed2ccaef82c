/**
 * `verdi run` on a `core.psql_dos` profile (a private PostgreSQL): a step that never settles is noticed as on SQLite
 * (idle pool connections do not keep Node alive), and a database dropped under the profile gives one line naming the
 * profile and the database, not a stack.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startPrivatePostgres, type PrivatePostgres } from '@aiida-ts/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

const NEVER_SETTLES = `
import { run, WorkChain } from 'aiida-ts/engine';
class Hang extends WorkChain.define((spec) => spec) {
  static { this.outline('hang'); }
  async hang(): Promise<void> {
    console.log('hanging', this.pk);
    await new Promise(() => {});
  }
}
await run(Hang);
`;

describe('verdi run on a core.psql_dos profile', () => {
  const sandbox = verdiSandbox('aiida-ts-run-pg-faults-');
  const { verdi, base } = sandbox;
  let postgres: PrivatePostgres;
  let database: string;
  const script = (name: string, text: string): string => {
    const file = join(base, name);
    writeFileSync(file, text);
    return file;
  };
  beforeAll(async () => {
    postgres = await startPrivatePostgres();
    database = await postgres.createDatabase();
    const setup = await verdi([
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
      pathToFileURL(join(base, 'repository')).href,
    ]);
    expect(setup.code, describeResult(setup)).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await postgres?.dispose();
    sandbox.cleanup();
  });

  it('marks a process whose step never settles excepted and says so (idle connections keep nothing alive)', async () => {
    const result = await verdi(['run', script('hang.ts', NEVER_SETTLES)], { timeoutMs: 30_000 });
    expect(result.code, describeResult(result)).toBe(1);
    const pk = /hanging (\d+)/.exec(result.stdout)?.[1];
    expect(result.stderr).toContain(
      `Error: Hang<${pk}> never finished: nothing was left to run while it was still active`,
    );
    const state = await postgres.psql(
      `SELECT attributes->>'process_state' FROM db_dbnode WHERE id = ${pk}`,
      database,
    );
    expect(state.trim()).toBe('excepted');
  }, 60_000);

  it('names the profile and the database in one line when the database was dropped', async () => {
    await postgres.terminateConnections(database);
    await postgres.psql(`DROP DATABASE "${database}"`);
    const result = await verdi(['run', script('nothing.ts', 'console.log("never");\n')]);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `Critical: the database \`${database}\` (postgresql://postgres@${postgres.host}:${postgres.port}) of profile ` +
        `\`pg\` cannot be used: database "${database}" does not exist\n`,
    );
  }, 60_000);
});
