/**
 * `verdi run` on a `core.psql_dos` profile whose PostgreSQL connection drops (pg_terminate_backend) or whose server
 * goes away (a private PostgreSQL stopped and started again): no crash on an unhandled 'error' event, the run goes on
 * once the database answers, and a database that stays away ends the run with one line naming the profile and the
 * database.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startPrivatePostgres, type PrivatePostgres } from '@aiida-ts/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, VERDI_ARGV, verdiSandbox } from './verdi-process.js';

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

function startRun(base: string, args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...VERDI_ARGV, 'run', ...args], {
    env: { ...process.env, AIIDA_TS_PATH: base, FORCE_COLOR: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    out,
    exited,
    describe: () => `stdout: ${out.stdout}\nstderr: ${out.stderr}`,
    async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
      await expect.poll(() => pattern.test(out.stdout), { timeout: 60_000, interval: 20 }).toBe(true);
      const match = pattern.exec(out.stdout);
      if (match === null) throw new Error('unreachable');
      return match;
    },
  };
}

describe('verdi run when the PostgreSQL connection drops', () => {
  const sandbox = verdiSandbox('aiida-ts-run-pg-');
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

  it('goes on after pg_terminate_backend ended its connections and after the server was stopped and started', async () => {
    const [first, second] = [join(base, 'release-1'), join(base, 'release-2')];
    const run = startRun(base, [script('waiter.ts', WAITER), first, second]);
    const pk = (await run.waitFor(/waiting (\d+)/))[1];
    // every connection of the run's pool ended by the server (57P01): the idle ones must not crash the run
    expect(await postgres.terminateConnections(database)).toBeGreaterThan(0);
    writeFileSync(first, '');
    await run.waitFor(/waiting again/);
    await postgres.stop('fast');
    writeFileSync(second, '');
    // the step returned while the server was down: its end (a checkpoint) waits for the database to come back
    await run.waitFor(/released again/);
    await postgres.start();
    expect(await run.exited, run.describe()).toBe(0);
    expect(run.out.stdout.match(/sum 3/g)).toHaveLength(2);
    expect(run.out.stdout).toContain('done');
    expect(run.out.stderr, run.describe()).toBe('');
    const state = await postgres.psql(
      `SELECT attributes->>'process_state' FROM db_dbnode WHERE id = ${pk}`,
      database,
    );
    expect(state.trim()).toBe('finished');
  }, 60_000);

  it('ends with one line naming the profile and the database when the database stays away', async () => {
    const release = join(base, 'release-3');
    const run = startRun(base, [script('waiter.ts', WAITER), release], {
      AIIDA_TS_DATABASE_RECONNECT_SECONDS: '1',
    });
    const pk = (await run.waitFor(/waiting (\d+)/))[1];
    await postgres.stop('fast');
    writeFileSync(release, '');
    const code = await run.exited;
    await postgres.start();
    expect(code, run.describe()).toBe(1);
    expect(run.out.stderr).not.toContain("Unhandled 'error' event");
    const line = `Error: the database \`${database}\` (postgresql://postgres@${postgres.host}:${postgres.port}) of profile \`pg\` could not be reached`;
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
