import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonPids, submittedPk } from './daemon-helpers.js';
import { describeResult, verdiSandbox, type VerdiResult } from './verdi-process.js';

// `verdi daemon stop` never hangs: a worker stuck in a step that blocks its event loop ignores every request to
// stop, and is killed at the bound; its process is then killed in place by `verdi process kill`.
const sandbox = verdiSandbox('aiida-ts-daemon-stop-');
const { verdi, base, configDir } = sandbox;
const pids = new DaemonPids(configDir, ['presto']);

writeFileSync(join(base, 'package.json'), '{ "type": "module" }\n');
writeFileSync(
  join(base, 'stuck.ts'),
  `import { WorkChain } from 'aiida-ts/engine';

/** Blocks its worker's event loop for a minute in its only step. */
export class Stuck extends WorkChain.define((spec) => spec) {
  static {
    this.outline('block');
  }
  block(): void {
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      // busy: no timer, signal handler or heartbeat of this worker runs
    }
  }
}
`,
);
writeFileSync(
  join(base, 'submit-stuck.ts'),
  `import { submit } from 'aiida-ts/engine';
import { Stuck } from './stuck.ts';

console.log((await submit(Stuck, {})).pk);
`,
);

afterAll(() => {
  const left = pids.killLeft();
  sandbox.cleanup();
  expect(left, 'processes a test left running').toEqual([]);
});

const detect = { env: { AIIDA_TS_PRESTO_BROKER: undefined } };
const owners = async (): Promise<VerdiResult> =>
  await verdi(['process', 'list', '-P', 'pk', 'owner', '--json']);

describe('verdi daemon stop with a worker that does not stop', () => {
  let stuck = 0;

  it('presto --no-broker makes a profile without a broker even where RabbitMQ runs; incr adds a worker', async () => {
    const presto = await verdi(['presto', '--no-broker'], detect);
    expect(presto.code, describeResult(presto)).toBe(0);
    expect(presto.stdout).toContain('Option `--no-broker` given: configuring the profile without a broker.');
    const start = await verdi(['daemon', 'start', '1']);
    pids.note();
    expect(start.code, describeResult(start)).toBe(0);
    const incr = await verdi(['daemon', 'incr', '1']);
    pids.note();
    expect(incr.code, describeResult(incr)).toBe(0);
    expect(incr.stdout).toContain('Starting 1 daemon worker... OK');
    const status = await verdi(['daemon', 'status', '--all', '--json']);
    pids.note();
    expect(status.json()).toEqual([
      expect.objectContaining({
        profile: 'presto',
        running: true,
        target: 2,
        workers: [expect.objectContaining({ ready: true }), expect.objectContaining({ ready: true })],
      }),
    ]);
  });

  it('stop kills, at its bound, the worker that ignores it, and says which one', async () => {
    const run = await verdi(['run', join(base, 'submit-stuck.ts')]);
    expect(run.code, describeResult(run)).toBe(0);
    stuck = submittedPk(run.stdout);
    let worker = '';
    for (let attempt = 0; attempt < 40 && worker === ''; attempt += 1) {
      const rows = (await owners()).json<{ pk: number; owner: string | null }[]>();
      worker = rows.find((row) => row.pk === stuck && row.owner?.startsWith('worker ') === true)?.owner ?? '';
    }
    expect(worker).toMatch(/^worker \d+$/);
    const blocked = worker.slice('worker '.length);
    const stop = await verdi(['daemon', 'stop', '--timeout', '3']);
    expect(stop.code, describeResult(stop)).toBe(0);
    expect(stop.stdout).toContain('Stopping the daemon... OK (escalated)');
    expect(stop.stderr).toMatch(
      new RegExp(`worker ${blocked} \\(\\S+\\) did not stop: it was killed \\(SIGKILL\\)`),
    );
    pids.expectAllGone();
  });

  it('the process of the killed worker is killed in place when no worker runs', async () => {
    const kill = await verdi(['process', 'kill', String(stuck)]);
    expect(kill.code, describeResult(kill)).toBe(0);
    expect(kill.stdout + kill.stderr).toContain(`Process<${stuck}> killed`);
    const repair = await verdi(['process', 'repair', '--dry-run', '--json']);
    expect(repair.json()).toEqual([]);
  });
});
