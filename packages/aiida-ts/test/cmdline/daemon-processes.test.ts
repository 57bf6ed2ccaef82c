import { afterAll, describe, expect, it } from 'vitest';
import { DaemonPids, submittedPk, writeWorkflowFiles } from './daemon-helpers.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

// Submitting to the daemon and controlling its processes from the command line, on the embedded default (SQLite, no
// broker): the workers and `verdi process` coordinate through the storage alone.
const sandbox = verdiSandbox('aiida-ts-daemon-processes-');
const { verdi, base, configDir } = sandbox;
const pids = new DaemonPids(configDir, ['presto']);
const { submit, submitSlow } = writeWorkflowFiles(base);

afterAll(() => {
  const left = pids.killLeft();
  sandbox.cleanup();
  expect(left, 'processes a test left running').toEqual([]);
});

let quick = 0;
let slow = 0;

describe('processes submitted to the daemon on SQLite without a broker', () => {
  it('a work chain submitted by a script runs in a worker; watch follows it to its end', async () => {
    expect((await verdi(['presto'])).code).toBe(0);
    // one slot per worker: the slow process fills it
    expect((await verdi(['config', 'set', 'daemon.worker_process_slots', '1'])).code).toBe(0);
    const start = await verdi(['daemon', 'start', '1']);
    pids.note();
    expect(start.code, describeResult(start)).toBe(0);
    // the README's quick start: a work chain in its own module, submitted by a script
    const run = await verdi(['run', submit]);
    expect(run.code, describeResult(run)).toBe(0);
    expect(run.stdout).toMatch(/^Submitted AddMultiply<\d+>$/m);
    quick = submittedPk(run.stdout);
    const runSlow = await verdi(['run', submitSlow]);
    expect(runSlow.code, describeResult(runSlow)).toBe(0);
    slow = submittedPk(runSlow.stdout);
    const watch = await verdi(['process', 'watch', String(quick)]);
    expect(watch.code, describeResult(watch)).toBe(0);
    // either it was seen running, or it had already ended when watch started
    expect(watch.stdout + watch.stderr).toMatch(
      new RegExp(`Process<${quick}> (\\[state_changed\\.\\w+\\.finished\\]|is already terminated)`),
    );
    const show = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_label', 'state', '--json']);
    expect(show.json()).toContainEqual({
      pk: quick,
      process_label: 'AddMultiply',
      state: { process_state: 'finished', paused: false, exit_status: 0 },
    });
  });

  it('process list shows the worker that runs a process, and warns when the slots run short', async () => {
    const list = await verdi(['process', 'list']);
    expect(list.code, describeResult(list)).toBe(0);
    const row = list.stdout.split('\n').find((line) => line.trim().startsWith(`${slow} `)) ?? '';
    expect(row).toMatch(/Slow .*worker \d+$/);
    expect(list.stdout).toMatch(/Owner/);
    expect(list.stderr).toContain('Warning: 100% of the available daemon worker slots have been used!');
    expect(list.stderr).toContain('Warning: Increase the number of workers with `verdi daemon incr`.');
  });

  it('pause parks the process (it holds no slot), play resumes it, kill ends it', async () => {
    const pause = await verdi(['process', 'pause', String(slow), '--wait', '-t', '20']);
    expect(pause.code, describeResult(pause)).toBe(0);
    expect(pause.stdout + pause.stderr).toContain(`Process<${slow}> paused`);
    const paused = await verdi(['process', 'list', '-P', 'pk', 'process_status', 'owner']);
    expect(paused.stdout).toMatch(
      new RegExp(`^ *${slow} +Paused through \`verdi process pause\` +parked$`, 'm'),
    );
    expect(paused.stdout).toMatch(/Using 0% of the available daemon worker slots \(0 of 1; 1 parked/);
    const play = await verdi(['process', 'play', String(slow), '--wait', '-t', '20']);
    expect(play.code, describeResult(play)).toBe(0);
    expect(play.stdout + play.stderr).toContain(`Process<${slow}> played`);
    const kill = await verdi(['process', 'kill', String(slow), '--wait', '-t', '20']);
    expect(kill.code, describeResult(kill)).toBe(0);
    expect(kill.stdout + kill.stderr).toContain(`Process<${slow}> killed`);
    const killed = await verdi(['process', 'list', '-a', '-P', 'pk', 'state', 'process_status', '--json']);
    expect(killed.json()).toContainEqual({
      pk: slow,
      state: { process_state: 'killed', paused: false, exit_status: null },
      process_status: 'Killed through `verdi process kill`',
    });
  });

  it('kill of a terminated process fails with the reason; repair finds nothing to repair; stop ends the daemon', async () => {
    const again = await verdi(['process', 'kill', String(quick)]);
    expect(again.stderr).toContain(`Process<${quick}>: process<${quick}> has already terminated (finished)`);
    const repair = await verdi(['process', 'repair', '--dry-run', '--json']);
    expect(repair.code, describeResult(repair)).toBe(0);
    expect(repair.json()).toEqual([]);
    const stop = await verdi(['daemon', 'stop']);
    expect(stop.code, describeResult(stop)).toBe(0);
    pids.expectAllGone();
  });
});
