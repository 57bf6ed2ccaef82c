/**
 * Calculation jobs on remote-looking computers, on services this file starts for itself: `core.ssh` + `core.direct`
 * and `core.ssh` + `core.slurm` through a private sshd, with a private single-node Slurm cluster. Kills while queued
 * (a held job) and while running show up with the scheduler; an sshd stopped in the middle of a job pauses it after
 * the backoff, and `play` once sshd is back finishes it with exactly one scheduler job.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import {
  startPrivateSlurm,
  startPrivateSshd,
  type PrivateSlurm,
  type PrivateSshd,
} from '@aiida-ts/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig, resetConfig, setConfigDir } from '../../src/config/manager.js';
import { ArithmeticAddCalculation, runGetNode } from '../../src/engine.js';
import { loadNode } from '../../src/orm/loaders.js';
import type { CalcJobNode, Int } from '../../src/orm.js';
import { linkSummary, useEngine } from '../engine/helpers.js';
import { openSqliteDos } from '../storage/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';
import { until } from './until.js';

const engine = useEngine(openSqliteDos);
let slurm: PrivateSlurm;
let sshd: PrivateSshd;
let home: string;
let previousHome: string | undefined;
let configDir: string;
let sshDirect: CodeFixture;
let sshSlurm: CodeFixture;

async function fresh(pk: number): Promise<CalcJobNode> {
  return loadNode<CalcJobNode>(pk);
}

/** The jobs slurm finished named `aiida-<pk>` (its jobcomp log has one line per finished job). */
function finishedSlurmJobs(pk: number): string[] {
  let text = '';
  try {
    text = readFileSync(slurm.jobcompFile, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => new RegExp(`\\bName=aiida-${pk}\\b`).test(line));
}

beforeAll(async () => {
  configDir = await mkdtemp(path.join(tmpdir(), 'aiida-ts-calcjob-config-'));
  setConfigDir(configDir);
  getConfig().setOption('transport.task_retry_initial_interval', 1);
  getConfig().setOption('transport.task_maximum_attempts', 2);
  slurm = await startPrivateSlurm({ minJobAge: 2 });
  home = await mkdtemp(path.join(tmpdir(), 'aiida-ts-ssh-home-'));
  // Commands of the ssh sessions find the private cluster through SLURM_CONF, and run with the fixture's HOME so that
  // the machine user's shell start-up files play no part.
  sshd = await startPrivateSshd([`SetEnv SLURM_CONF=${slurm.conf} HOME=${home}`]);
  await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
  await copyFile(sshd.knownHostsFile, path.join(home, '.ssh', 'known_hosts'));
  previousHome = process.env['HOME'];
  // The ssh transport reads known_hosts under HOME: the fixture's, never the real ~/.ssh.
  process.env['HOME'] = home;
  const authParams = {
    username: userInfo().username,
    port: sshd.port,
    key_filename: sshd.clientKey,
    look_for_keys: false,
    allow_agent: false,
    use_login_shell: false,
    safe_interval: 0,
  };
  sshDirect = await setupComputer(
    engine().storage,
    { transportType: 'core.ssh', hostname: '127.0.0.1' },
    authParams,
  );
  sshSlurm = await setupComputer(
    engine().storage,
    {
      transportType: 'core.ssh',
      hostname: '127.0.0.1',
      schedulerType: 'core.slurm',
      workdir: slurm.workRoot,
    },
    authParams,
    { minimum_scheduler_poll_interval: 0.2 },
  );
}, 120_000);

afterAll(async () => {
  if (previousHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = previousHome;
  await sshDirect?.cleanup();
  await sshd?.dispose();
  await slurm?.stop();
  await rm(home, { recursive: true, force: true });
  resetConfig();
  setConfigDir(undefined);
  await rm(configDir, { recursive: true, force: true });
});

describe('core.arithmetic.add over core.ssh', () => {
  it('runs through core.direct with its provenance link by link', async () => {
    const { result, node } = await runGetNode(ArithmeticAddCalculation, {
      x: 20,
      y: 22,
      code: sshDirect.code,
    });
    expect(node.exitStatus).toBe(0);
    expect((result as { sum: Int }).sum.value).toBe(42);
    expect(await linkSummary(node, 'outgoing')).toEqual([
      'create remote_folder RemoteData',
      'create retrieved FolderData',
      'create sum Int',
    ]);
  });

  it('runs through core.slurm: one slurm job named aiida-<pk>, parsed, with the scheduler’s accounting asked', async () => {
    const { result, node } = await runGetNode(ArithmeticAddCalculation, { x: 2, y: 3, code: sshSlurm.code });
    expect(node.exitStatus).toBe(0);
    expect((result as { sum: Int }).sum.value).toBe(5);
    const job = node as CalcJobNode;
    expect(job.getJobId()).toMatch(/^\d+$/);
    expect(job.getDetailedJobInfo()).not.toBeNull();
    await until('slurm to record the job', () => finishedSlurmJobs(node.pk!).length === 1);
    expect(finishedSlurmJobs(node.pk!)[0]).toMatch(/JobState=COMPLETED/);
  });
});

describe('kill with the scheduler', () => {
  it('cancels a held (queued) slurm job', async () => {
    const node = await engine().runner.submit(ArithmeticAddCalculation, {
      x: 1,
      y: 1,
      code: sshSlurm.code,
      metadata: { options: { custom_scheduler_commands: '#SBATCH --hold' } },
    });
    const pk = node.pk!;
    await until(
      'the job to be queued held',
      async () => (await fresh(pk)).getSchedulerState() === 'queued held',
    );
    await engine().runner.getLiveProcess(pk)?.kill('no longer needed');
    await until('the node to be killed', async () => (await fresh(pk)).isTerminated);
    const killed = await fresh(pk);
    expect(killed.processState).toBe('killed');
    expect(killed.processStatus).toBe('no longer needed');
    await until('slurm to record the cancellation', () => finishedSlurmJobs(pk).length === 1);
    expect(finishedSlurmJobs(pk)[0]).toMatch(/JobState=CANCELLED/);
  });

  it('cancels a running slurm job', async () => {
    const node = await engine().runner.submit(ArithmeticAddCalculation, {
      x: 1,
      y: 1,
      code: sshSlurm.code,
      metadata: { options: { sleep: 60 } as never },
    });
    const pk = node.pk!;
    await until('the job to run', async () => (await fresh(pk)).getSchedulerState() === 'running', 60_000);
    await engine().runner.getLiveProcess(pk)?.kill('stop it');
    await until('the node to be killed', async () => (await fresh(pk)).isTerminated);
    expect((await fresh(pk)).processState).toBe('killed');
    await until('slurm to record the cancellation', () => finishedSlurmJobs(pk).length === 1);
    expect(finishedSlurmJobs(pk)[0]).toMatch(/JobState=CANCELLED/);
  });
});

describe('faults', () => {
  it('pauses after the backoff when sshd stops mid-run, and play finishes the job with exactly one slurm job', async () => {
    // The job holds until the test opens the gate: it is surely still with slurm when sshd stops (a job that only
    // slept could end before the test saw it queued on a loaded machine).
    const gate = path.join(home, 'gate-sshd-stop');
    const node = await engine().runner.submit(ArithmeticAddCalculation, {
      x: 6,
      y: 7,
      code: sshSlurm.code,
      metadata: { options: { prepend_text: `while [ ! -e '${gate}' ]; do sleep 0.05; done` } },
    });
    const pk = node.pk!;
    await until(
      'the job to be with slurm',
      async () => (await fresh(pk)).getState() === 'withscheduler',
      60_000,
    );
    await sshd.stop();
    await until('the job to pause', async () => (await fresh(pk)).paused, 60_000);
    const paused = await fresh(pk);
    expect(paused.processStatus).toMatch(
      /^Pausing after failed transport task: update_calculation failed 2 times consecutively/,
    );
    expect(paused.processState).toBe('waiting');
    await writeFile(gate, '');
    await sshd.start();
    engine().runner.getLiveProcess(pk)?.play();
    await until('the job to end', async () => (await fresh(pk)).isTerminated, 60_000);
    const done = await fresh(pk);
    expect(done.exitStatus).toBe(0);
    expect(done.paused).toBe(false);
    await until('slurm to record the job', () => finishedSlurmJobs(pk).length >= 1);
    expect(finishedSlurmJobs(pk)).toHaveLength(1);
    // the transport's backoff (two failed updates) and sshd's restart take their time on a loaded machine
  }, 120_000);
});
