/**
 * `verdi run` on a `core.psql_dos` profile whose PostgreSQL connection drops (pg_terminate_backend) or whose server
 * goes away (a private PostgreSQL stopped and started again): no crash on an unhandled 'error' event, the run goes on
 * once the database answers, and a database that stays away ends the run with one line naming the profile and the
 * database.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usePrivatePsqlProfile } from './private-psql-profile.js';
import { startVerdiRun, verdiSandbox } from './verdi-process.js';

const WAITER = `
import { existsSync } from 'node:fs';
import { calcfunction, run, WorkChain } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
const add = calcfunction({ name: 'add', inputs: { x: Int, y: Int }, outputs: Int }, ({ x, y }) => new Int(x.value + y.value));
const until = async (file: string): Promise<void> => {
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20));
};
const [first, second] = process.argv.slice(2);
class Waiter extends WorkChain.define((spec) => spec) {
  static { this.outline('wait', 'compute', 'waitAgain', 'compute'); }
  async wait(): Promise<void> {
    console.log('waiting', this.pk);
    await until(first);
    console.log('released');
  }
  async compute(): Promise<void> {
    const sum = await add({ x: new Int(1), y: new Int(2) });
    console.log('sum', sum.value);
  }
  async waitAgain(): Promise<void> {
    if (second === undefined) return;
    console.log('waiting again');
    await until(second);
    console.log('released again');
  }
}
await run(Waiter);
console.log('done');
`;

describe('verdi run when the PostgreSQL connection drops', () => {
  const sandbox = verdiSandbox('aiida-ts-run-pg-');
  const { verdi, base } = sandbox;
  const pg = usePrivatePsqlProfile(sandbox);
  const script = sandbox.script;
  afterAll(() => sandbox.cleanup());

  it('goes on after pg_terminate_backend ended its connections and after the server was stopped and started', async () => {
    const [first, second] = [join(base, 'release-1'), join(base, 'release-2')];
    const run = startVerdiRun(base, [script('waiter.ts', WAITER), first, second]);
    const pk = (await run.waitFor(/waiting (\d+)/))[1];
    // every connection of the run's pool ended by the server (57P01): the idle ones must not crash the run
    expect(await pg.postgres.terminateConnections(pg.database)).toBeGreaterThan(0);
    writeFileSync(first, '');
    await run.waitFor(/waiting again/);
    await pg.postgres.stop('fast');
    writeFileSync(second, '');
    // the step returned while the server was down: its end (a checkpoint) waits for the database to come back
    await run.waitFor(/released again/);
    await pg.postgres.start();
    expect(await run.exited, run.describe()).toBe(0);
    expect(run.out.stdout.match(/sum 3/g)).toHaveLength(2);
    expect(run.out.stdout).toContain('done');
    expect(run.out.stderr, run.describe()).toBe('');
    const state = await pg.postgres.psql(
      `SELECT attributes->>'process_state' FROM db_dbnode WHERE id = ${pk}`,
      pg.database,
    );
    expect(state.trim()).toBe('finished');
  }, 60_000);

  it('ends with one line naming the profile and the database when the database stays away', async () => {
    const release = join(base, 'release-3');
    const run = startVerdiRun(base, [script('waiter.ts', WAITER), release], {
      AIIDA_TS_DATABASE_RECONNECT_SECONDS: '1',
    });
    const pk = (await run.waitFor(/waiting (\d+)/))[1];
    await pg.postgres.stop('fast');
    writeFileSync(release, '');
    const code = await run.exited;
    await pg.postgres.start();
    expect(code, run.describe()).toBe(1);
    expect(run.out.stderr).not.toContain("Unhandled 'error' event");
    const line = `Error: the database \`${pg.database}\` (postgresql://postgres@${pg.postgres.host}:${pg.postgres.port}) of profile \`pg\` could not be reached`;
    expect(run.out.stderr.split(line), run.describe()).toHaveLength(2);
    // once the database is back the process is seen as what it is: left running by a runner that is gone
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_state', 'owner', '--json']);
    const row = list.json<{ pk: number }[]>().find((candidate) => candidate.pk === Number(pk));
    expect(row, list.stdout).toEqual({
      pk: Number(pk),
      process_state: 'running',
      owner: `script ${String(run.child.pid)} (gone)`,
    });
  }, 60_000);
});
