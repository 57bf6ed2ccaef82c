/**
 * `core.direct` end to end: jobs really run on this machine, submitted, listed and killed through the
 * `core.local` transport and through `core.ssh` to a private sshd on loopback.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DirectScheduler, JobState, type JobInfo, type JobTemplateInput } from '../../src/schedulers.js';
import { LocalTransport, SshTransport, type Transport } from '../../src/transports.js';
import { isAlive, startPrivateSshd, type PrivateSshd } from '@aiida-ts/test-services';
import { describeSchedulerContract, until } from './scheduler-contract.js';

let sshd: PrivateSshd;
const workRoot = mkdtempSync(path.join(tmpdir(), 'aiida-ts-direct-'));

beforeAll(async () => {
  sshd = await startPrivateSshd();
});

afterAll(async () => {
  await sshd.dispose();
  rmSync(workRoot, { recursive: true, force: true });
});

// Plain shells (use_login_shell off): a login shell reads this machine's profile, whose side effects
// (a version manager waiting up to a minute for its lock) have nothing to do with the scheduler.
const transports: [string, () => Transport][] = [
  ['core.local', () => new LocalTransport({ useLoginShell: false })],
  [
    'core.ssh',
    () =>
      SshTransport.fromAuthParams(
        sshd.host,
        {
          port: sshd.port,
          key_filename: sshd.clientKey,
          look_for_keys: false,
          load_system_host_keys: false,
          safe_interval: 0,
          use_login_shell: false,
        },
        { knownHostsFiles: [sshd.knownHostsFile] },
      ),
  ],
];

describe.each(transports)('core.direct through %s', (name, createTransport) => {
  let transport: Transport;
  let scheduler: DirectScheduler;

  beforeAll(async () => {
    transport = createTransport();
    await transport.open();
    scheduler = new DirectScheduler({ transport });
  });

  afterAll(async () => {
    await transport.close();
  });

  describeSchedulerContract(`core.direct through ${name}`, {
    scheduler: () => scheduler,
    workRoot: () => workRoot,
    resources: { num_machines: 1, num_mpiprocs_per_machine: 1 },
    supportsHold: false,
  });

  function writeJob(label: string, template: Partial<JobTemplateInput>): string {
    const workdir = mkdtempSync(path.join(workRoot, `${name}-${label}-`));
    const script = scheduler.getSubmitScript({
      jobResource: scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
      codesRunMode: 'serial',
      schedOutputPath: '_scheduler-stdout.txt',
      schedErrorPath: '_scheduler-stderr.txt',
      ...template,
    });
    writeFileSync(path.join(workdir, '_aiidasubmit.sh'), script);
    return workdir;
  }

  it('submits without waiting, shows the job running, then done, with its output', async () => {
    const workdir = writeJob('run', {
      jobEnvironment: { GREETING: "it's $HOME" },
      // the job waits for the test to let it go: it is surely running when listed, however slow the machine
      prependText: 'until [ -e go ]; do sleep 0.1; done',
      codesInfo: [
        {
          cmdlineParams: ['bash', '-c', 'echo "$GREETING"; echo $((6 * 7)); echo oops >&2'],
          stdoutName: 'out.txt',
          stderrName: 'err.txt',
        },
      ],
      appendText: 'echo appended',
    });
    // submitJob returns while the job still waits: it did not wait for the job
    const jobId = await scheduler.submitJob(workdir, '_aiidasubmit.sh');
    expect(jobId).toMatch(/^\d+$/);

    // submitJob returned while the job still runs (its script starts with `sleep 2`): it did not wait for the job
    const running = await scheduler.getJobs({ jobs: [jobId as string], asDict: true });
    expect(running[jobId as string]).toMatchObject({ jobId, jobState: JobState.RUNNING });
    expect(running[jobId as string]!.jobOwner).toBe(execFileSync('id', ['-un']).toString().trim());
    const mine = await scheduler.getJobs({ user: '$USER' });
    expect(mine.map((job) => job.jobId)).toContain(jobId);
    writeFileSync(path.join(workdir, 'go'), '');

    const done = await until('the job to finish', async () => {
      const [job] = await scheduler.getJobs({ jobs: [jobId as string] });
      return job?.jobState === JobState.DONE ? job : undefined;
    });
    // A finished process is gone, or a zombie until its parent reaps it; both are done.
    expect(done).toMatchObject({ jobId, jobState: JobState.DONE });
    // The single-quoted value is not expanded, and the environment was cleared before the job ran.
    expect(readFileSync(path.join(workdir, 'out.txt'), 'utf8')).toBe("it's $HOME\n42\n");
    expect(readFileSync(path.join(workdir, 'err.txt'), 'utf8')).toBe('oops\n');
    expect(readFileSync(path.join(workdir, '_scheduler-stdout.txt'), 'utf8')).toBe('appended\n');
  });

  it('runs parallel codes together and waits for both', async () => {
    // A code that marks itself started and waits (20 s at most) for the other one's mark: it prints its name when
    // the other one runs at the same time, `<name> alone` when it gave up.
    const meetsOther = (self: string, other: string): string =>
      `touch ${self}.started; for i in $(seq 1 400); do [ -e ${other}.started ] && break; sleep 0.05; done; ` +
      `if [ -e ${other}.started ]; then echo ${self}; else echo "${self} alone"; fi`;
    const workdir = writeJob('parallel', {
      codesRunMode: 'parallel',
      codesInfo: [
        { cmdlineParams: ['bash', '-c', meetsOther('a', 'b')], stdoutName: 'a.txt' },
        { cmdlineParams: ['bash', '-c', meetsOther('b', 'a')], stdoutName: 'b.txt' },
      ],
      appendText: 'cat a.txt b.txt > both.txt',
    });
    const jobId = (await scheduler.submitJob(workdir, '_aiidasubmit.sh')) as string;
    await until('the parallel job to finish', async () => {
      const jobs = await scheduler.getJobs({ jobs: [jobId] });
      return jobs[0]?.jobState === JobState.DONE ? true : undefined;
    });
    // Each code saw the other one running: run one after the other, the first would have given up alone.
    expect(readFileSync(path.join(workdir, 'both.txt'), 'utf8')).toBe('a\nb\n');
  });

  it('kills the job and every process it started', async () => {
    const workdir = writeJob('kill', { codesInfo: [{ cmdlineParams: ['sleep', '60'] }] });
    const jobId = (await scheduler.submitJob(workdir, '_aiidasubmit.sh')) as string;
    const child = await until('the job to start its sleep', () => {
      try {
        const out = execFileSync('pgrep', ['-P', jobId, '-x', 'sleep']).toString().trim();
        return out ? Number(out.split('\n')[0]) : undefined;
      } catch {
        return undefined;
      }
    });
    expect(isAlive(child)).toBe(true);
    expect(await scheduler.killJob(jobId)).toBe(true);
    await until('the job to go', async () => {
      const [job] = await scheduler.getJobs({ jobs: [jobId] });
      return job?.jobState === JobState.DONE ? true : undefined;
    });
    await until('the sleep to go', () => (isAlive(child) ? undefined : true));
    // Killing a process that is gone is reported, not thrown.
    expect(await scheduler.killJob(jobId)).toBe(false);
  });

  it('reports a stopped job as suspended', async () => {
    const workdir = writeJob('stop', { codesInfo: [{ cmdlineParams: ['sleep', '30'] }] });
    const jobId = (await scheduler.submitJob(workdir, '_aiidasubmit.sh')) as string;
    process.kill(Number(jobId), 'SIGSTOP');
    try {
      // the kernel stops the process a moment after the signal is sent: a listing made at once may still see it run
      const state = await until('the job to be listed as stopped', async () => {
        const [job] = await scheduler.getJobs({ jobs: [jobId] });
        return (job as JobInfo).jobState === JobState.RUNNING ? undefined : (job as JobInfo).jobState;
      });
      expect(state).toBe(JobState.SUSPENDED);
    } finally {
      process.kill(Number(jobId), 'SIGCONT');
      expect(await scheduler.killJob(jobId)).toBe(true);
    }
  });

  // A runner with many jobs asks for them by user: reading every process of the user from /proc would be hundreds of
  // file reads in the runner, which ps does in a process of its own. A few job ids on this machine are read from
  // /proc (no process); through ssh both run ps on the other side.
  const local = name === 'core.local';
  it(`lists a user with ps, a few job ids ${local ? 'from /proc' : 'with ps'}`, async () => {
    const user = execFileSync('id', ['-un']).toString().trim();
    const workdir = writeJob('listing', { codesInfo: [{ cmdlineParams: ['sleep', '30'] }] });
    const jobId = (await scheduler.submitJob(workdir, '_aiidasubmit.sh')) as string;
    const commands = vi.spyOn(transport, 'execCommandWait');
    try {
      const byIds = await scheduler.getJobs({ jobs: [jobId] });
      expect(byIds.map((job) => job.jobId)).toEqual([jobId]);
      expect(commands).toHaveBeenCalledTimes(local ? 0 : 1);
      const byUser = await scheduler.getJobs({ user });
      expect(byUser.map((job) => job.jobId)).toContain(jobId);
      expect(commands).toHaveBeenCalledTimes(local ? 1 : 2);
      for (const [command] of commands.mock.calls) expect(command).toMatch(/\bps\b/);
    } finally {
      commands.mockRestore();
      expect(await scheduler.killJob(jobId)).toBe(true);
    }
  });

  it('fails clearly when the script is missing or the directory does not exist', async () => {
    await expect(
      scheduler.submitJob(path.join(workRoot, 'no-such-dir'), '_aiidasubmit.sh'),
    ).rejects.toThrow();
  });
});
