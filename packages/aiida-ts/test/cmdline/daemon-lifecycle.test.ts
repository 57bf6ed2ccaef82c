import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentProcessIdentity } from '../../src/engine/coordination/process-identity.js';
import { DaemonPids, isAlive, pidFilePath, readPid, until } from './daemon-helpers.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

// `verdi daemon` on the embedded default (SQLite, no broker): the real CLI, a real supervisor and real workers.
const sandbox = verdiSandbox('aiida-ts-daemon-');
const { verdi, configDir } = sandbox;
const pids = new DaemonPids(configDir, ['presto']);

afterAll(() => {
  const left = pids.killLeft();
  sandbox.cleanup();
  expect(left, 'processes a test left running').toEqual([]);
});

interface StatusJson {
  running: boolean;
  pid: number | null;
  target: number;
  restarts: number;
  workers: {
    pid: number;
    workerId: string | null;
    ready: boolean;
    slots: number | null;
    running: number | null;
  }[];
  processes: { running: number; parked: number; runnable: number } | null;
}

describe('verdi daemon on SQLite without a broker', () => {
  it('status says the daemon is not running, with exit code 3', async () => {
    const presto = await verdi(['presto']);
    expect(presto.code, describeResult(presto)).toBe(0);
    const status = await verdi(['daemon', 'status']);
    expect(status.code, describeResult(status)).toBe(3);
    expect(status.stdout).toContain('Profile: presto');
    expect(status.stdout).toContain('The daemon is not running.');
  });

  it('start waits for its workers; status shows them with their slots; a second start is refused', async () => {
    const start = await verdi(['daemon', 'start', '1']);
    pids.note();
    expect(start.code, describeResult(start)).toBe(0);
    expect(start.stdout).toContain('Starting the daemon with 1 workers... OK');
    const status = await verdi(['daemon', 'status', '--json']);
    pids.note();
    expect(status.code, describeResult(status)).toBe(0);
    const json = status.json<StatusJson>();
    expect(json).toMatchObject({ running: true, target: 1, restarts: 0 });
    expect(json.workers).toEqual([
      expect.objectContaining({
        ready: true,
        slots: 200,
        running: 0,
        workerId: expect.stringContaining(':'),
      }),
    ]);
    expect(json.processes).toEqual({ running: 0, parked: 0, runnable: 0 });
    const again = await verdi(['daemon', 'start']);
    expect(again.code, describeResult(again)).toBe(1);
    expect(again.stderr).toContain(`the daemon is already running (pid ${String(json.pid)})`);
  });

  it('a worker killed with SIGKILL is restarted by the supervisor', async () => {
    const before = readPid(configDir, 'presto');
    const victim = before?.workers[0]?.pid;
    expect(victim).toBeGreaterThan(0);
    process.kill(victim!, 'SIGKILL');
    const replacement = await until('a new ready worker', () =>
      readPid(configDir, 'presto')?.workers.find(
        (worker) => worker.pid !== victim && worker.workerId !== null,
      ),
    );
    pids.note();
    const status = (await verdi(['daemon', 'status', '--json'])).json<StatusJson>();
    expect(status.restarts).toBe(1);
    expect(status.workers.map((worker) => worker.pid)).toEqual([replacement.pid]);
    const log = readFileSync(join(configDir, 'daemon', 'log', 'aiida-presto.log'), 'utf8');
    expect(log).toContain(`worker ${String(victim)} ended on its own (signal SIGKILL)`);
    expect(log).toMatch(/restarting a worker in \d+ ms \(restart 1\)/);
  });

  it('restart replaces the workers with fresh ones (the supervisor stays)', async () => {
    const before = readPid(configDir, 'presto')!;
    const restart = await verdi(['daemon', 'restart']);
    pids.note();
    expect(restart.code, describeResult(restart)).toBe(0);
    expect(restart.stdout).toContain('Restarting the daemon workers... OK');
    const after = readPid(configDir, 'presto')!;
    expect(after.supervisor.pid).toBe(before.supervisor.pid);
    expect(after.workers).toHaveLength(1);
    expect(after.workers[0]?.workerId).not.toBeNull();
    expect(after.workers[0]?.pid).not.toBe(before.workers[0]?.pid);
  });

  it('decr stops a worker gracefully (not counted as a crash); stop ends the supervisor and removes its files', async () => {
    const decr = await verdi(['daemon', 'decr']);
    expect(decr.code, describeResult(decr)).toBe(0);
    await until('no worker left', () =>
      readPid(configDir, 'presto')?.workers.length === 0 ? true : undefined,
    );
    const status = (await verdi(['daemon', 'status', '--json'])).json<StatusJson>();
    expect(status).toMatchObject({ running: true, target: 0, restarts: 1, workers: [] });
    const supervisor = readPid(configDir, 'presto')!.supervisor.pid;
    const stop = await verdi(['daemon', 'stop']);
    expect(stop.code, describeResult(stop)).toBe(0);
    expect(stop.stdout).toContain('Stopping the daemon... OK');
    expect(existsSync(pidFilePath(configDir, 'presto'))).toBe(false);
    expect(isAlive(supervisor)).toBe(false);
    pids.expectAllGone();
  });

  it('a stale pid file (its supervisor is gone) is recognised and removed', async () => {
    // this machine's identity with a pid that no longer runs: what a killed supervisor leaves behind
    writeFileSync(
      pidFilePath(configDir, 'presto'),
      JSON.stringify({
        supervisor: { ...currentProcessIdentity(), pid: 999_999 },
        socket: '/nonexistent.sock',
        logFile: '/nonexistent.log',
        startedAt: new Date().toISOString(),
        workers: [],
      }),
    );
    const status = await verdi(['daemon', 'status']);
    expect(status.code, describeResult(status)).toBe(3);
    expect(status.stdout).toContain('The daemon is not running.');
    const stop = await verdi(['daemon', 'stop']);
    expect(stop.code, describeResult(stop)).toBe(0);
    expect(stop.stdout).toContain('it was not running (a stale pid file was removed)');
    expect(existsSync(pidFilePath(configDir, 'presto'))).toBe(false);
  });
});
