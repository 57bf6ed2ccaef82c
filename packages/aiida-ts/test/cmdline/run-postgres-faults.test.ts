/**
 * `verdi run` on a `core.psql_dos` profile (a private PostgreSQL): a step that never settles is noticed as on SQLite
 * (idle pool connections do not keep Node alive), and a database dropped under the profile gives one line naming the
 * profile and the database, not a stack.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { usePrivatePsqlProfile } from './private-psql-profile.js';
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
  const { verdi } = sandbox;
  const pg = usePrivatePsqlProfile(sandbox);
  const script = sandbox.script;
  afterAll(() => sandbox.cleanup());

  it('marks a process whose step never settles excepted and says so (idle connections keep nothing alive)', async () => {
    const result = await verdi(['run', script('hang.ts', NEVER_SETTLES)], { timeoutMs: 30_000 });
    expect(result.code, describeResult(result)).toBe(1);
    const pk = /hanging (\d+)/.exec(result.stdout)?.[1];
    expect(result.stderr).toContain(
      `Error: Hang<${pk}> never finished: nothing was left to run while it was still active`,
    );
    const state = await pg.postgres.psql(
      `SELECT attributes->>'process_state' FROM db_dbnode WHERE id = ${pk}`,
      pg.database,
    );
    expect(state.trim()).toBe('excepted');
  }, 60_000);

  it('names the profile and the database in one line when the database was dropped', async () => {
    await pg.postgres.terminateConnections(pg.database);
    await pg.postgres.psql(`DROP DATABASE "${pg.database}"`);
    const result = await verdi(['run', script('nothing.ts', 'console.log("never");\n')]);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `Critical: the database \`${pg.database}\` (postgresql://postgres@${pg.postgres.host}:${pg.postgres.port}) of profile ` +
        `\`pg\` cannot be used: database "${pg.database}" does not exist\n`,
    );
  }, 60_000);
});
