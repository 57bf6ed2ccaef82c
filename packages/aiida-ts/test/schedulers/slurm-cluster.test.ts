/**
 * `core.slurm` end to end against a real single-node slurm cluster (started once for this file by
 * `@aiida-ts/test-services`), through the `core.local` transport.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureNotAvailableError, SchedulerError } from '../../src/errors.js';
import { JobState, SlurmScheduler, type JobInfo, type JobTemplateInput } from '../../src/schedulers.js';
import { LocalTransport } from '../../src/transports.js';
import { startPrivateSlurm, type PrivateSlurm } from '@aiida-ts/test-services';
import { describeSchedulerContract, until } from './scheduler-contract.js';

let slurm: PrivateSlurm;
let transport: LocalTransport;
let scheduler: SlurmScheduler;
const previousConf = process.env['SLURM_CONF'];

beforeAll(async () => {
  // A short MinJobAge so that a finished job leaves `scontrol` within seconds (the jobcomp fallback test).
  slurm = await startPrivateSlurm({ minJobAge: 2 });
  // Commands run by the transport inherit this process's environment.
  process.env['SLURM_CONF'] = slurm.conf;
  // A plain shell: the login profile of this machine's user has nothing to do with the scheduler.
  transport = new LocalTransport({ useLoginShell: false });
  await transport.open();
  scheduler = new SlurmScheduler({ transport });
});

afterAll(async () => {
  await transport?.close();
  await slurm?.stop();
  if (previousConf === undefined) delete process.env['SLURM_CONF'];
  else process.env['SLURM_CONF'] = previousConf;
});

/** The job as squeue lists it, or `null` once squeue no longer lists it (finished). */
async function current(jobId: string): Promise<JobInfo | null> {
  const jobs = await scheduler.getJobs({ jobs: [jobId], asDict: true });
  return jobs[jobId] ?? null;
}

function submitDir(label: string, template: Partial<JobTemplateInput>): string {
  const workdir = mkdtempSync(path.join(slurm.workRoot, `${label}-`));
  const script = scheduler.getSubmitScript({
    jobName: `aiida-${label}`,
    jobResource: scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
    maxWallclockSeconds: 600,
    codesRunMode: 'serial',
    schedOutputPath: '_scheduler-stdout.txt',
    schedErrorPath: '_scheduler-stderr.txt',
    ...template,
  });
  writeFileSync(path.join(workdir, '_aiidasubmit.sh'), script);
  return workdir;
}

async function submit(
  label: string,
  template: Partial<JobTemplateInput>,
): Promise<{ jobId: string; workdir: string }> {
  const workdir = submitDir(label, template);
  const jobId = await scheduler.submitJob(workdir, '_aiidasubmit.sh');
  if (typeof jobId !== 'string') throw new Error(`submission refused with exit code ${jobId.status}`);
  return { jobId, workdir };
}

describeSchedulerContract('core.slurm', {
  scheduler: () => scheduler,
  workRoot: () => slurm.workRoot,
  resources: { num_machines: 1, num_mpiprocs_per_machine: 1 },
  supportsHold: true,
});

describe('core.slurm on a real cluster', () => {
  it('submits a job, sees it queued or running, then finished with its output', async () => {
    const { jobId, workdir } = await submit('ok', {
      jobEnvironment: { ANSWER: 42 },
      codesInfo: [{ cmdlineParams: ['bash', '-c', 'sleep 2; echo "answer=$ANSWER"'], stdoutName: 'out.txt' }],
    });
    expect(jobId).toMatch(/^\d+$/);
    const first = await current(jobId);
    expect([JobState.QUEUED, JobState.RUNNING]).toContain(first?.jobState);
    expect(first).toMatchObject({
      jobId,
      title: 'aiida-ok',
      queueName: 'debug',
      requestedWallclockTimeSeconds: 600,
    });
    const running = await until('the job to run', async () => {
      const job = await current(jobId);
      return job?.jobState === JobState.RUNNING ? job : undefined;
    });
    expect(running.allocatedMachinesRaw).toBe('localhost');
    expect(running.dispatchTime).toBeInstanceOf(Date);
    await until('the job to finish', async () => ((await current(jobId)) === null ? true : undefined));
    expect(readFileSync(path.join(workdir, 'out.txt'), 'utf8')).toBe('answer=42\n');

    const info = await scheduler.getDetailedJobInfo(jobId);
    const done = scheduler.parseDetailedJobInfo(jobId, info);
    expect(done).toMatchObject({
      jobState: JobState.DONE,
      jobSubstate: 'COMPLETED',
      exitStatus: 0,
      title: 'aiida-ok',
    });
    expect(
      scheduler.parseOutput(info, '', readFileSync(path.join(workdir, '_scheduler-stderr.txt'), 'utf8')),
    ).toBeUndefined();
  });

  it('cancels a running job', async () => {
    const { jobId } = await submit('cancel', { codesInfo: [{ cmdlineParams: ['sleep', '120'] }] });
    await until('the job to run', async () =>
      (await current(jobId))?.jobState === JobState.RUNNING ? true : undefined,
    );
    expect(await scheduler.killJob(jobId)).toBe(true);
    await until('the job to go', async () => ((await current(jobId)) === null ? true : undefined));
    const job = scheduler.parseDetailedJobInfo(jobId, await scheduler.getDetailedJobInfo(jobId));
    expect(job).toMatchObject({ jobState: JobState.DONE, jobSubstate: 'CANCELLED' });
  });

  it('reads a failed job’s exit code from scontrol, then from the jobcomp file', async () => {
    const { jobId } = await submit('fail', { codesInfo: [{ cmdlineParams: ['bash', '-c', 'exit 3'] }] });
    await until('the job to finish', async () => ((await current(jobId)) === null ? true : undefined));
    const fromScontrol = await scheduler.getDetailedJobInfo(jobId);
    expect(fromScontrol.stdout).toMatch(new RegExp(`^JobId=${jobId} JobName=aiida-fail `));
    expect(scheduler.parseDetailedJobInfo(jobId, fromScontrol)).toMatchObject({
      jobState: JobState.DONE,
      jobSubstate: 'FAILED',
      exitStatus: 3,
      annotation: 'NonZeroExitCode',
    });
    expect(scheduler.parseOutput(fromScontrol)).toBeUndefined();

    // Once slurmctld has purged the job, only the jobcomp file remembers it.
    const fromJobcomp = await until(
      'slurmctld to forget the job',
      async () => {
        const info = await scheduler.getDetailedJobInfo(jobId);
        return info.stdout.startsWith(`JobId=${jobId} UserId=`) ? info : undefined;
      },
      40_000,
    );
    expect(scheduler.parseDetailedJobInfo(jobId, fromJobcomp)).toMatchObject({
      jobSubstate: 'FAILED',
      exitStatus: 3,
    });
    expect(readFileSync(slurm.jobcompFile, 'utf8')).toContain(`JobId=${jobId} `);
  }, 60_000);

  it('lists several jobs with slurm’s hold reason, and none once they are gone', async () => {
    const a = await submit('list-a', { submitAsHold: true, codesInfo: [{ cmdlineParams: ['true'] }] });
    const b = await submit('list-b', { submitAsHold: true, codesInfo: [{ cmdlineParams: ['true'] }] });
    const jobs = await scheduler.getJobs({ jobs: [a.jobId, b.jobId] });
    expect(jobs.map((job) => job.jobId).sort()).toEqual([a.jobId, b.jobId].sort());
    for (const job of jobs)
      expect(job).toMatchObject({
        jobState: JobState.QUEUED_HELD,
        annotation: 'JobHeldUser',
        jobSubstate: 'PD',
      });
    expect(await scheduler.killJob(a.jobId)).toBe(true);
    expect(await scheduler.killJob(b.jobId)).toBe(true);
    await until('both jobs to go', async () =>
      (await scheduler.getJobs({ jobs: [a.jobId, b.jobId] })).length === 0 ? true : undefined,
    );
    // A single finished id: squeue would exit 1 for it alone, the duplicated id keeps this an empty list.
    expect(await scheduler.getJobs({ jobs: [a.jobId] })).toEqual([]);
    await expect(scheduler.getJobs({ user: '$USER' })).resolves.toEqual([]);
    await expect(scheduler.getJobs({ user: '$USER', jobs: [a.jobId] })).rejects.toThrow(
      FeatureNotAvailableError,
    );
  });

  it('reports sbatch’s refusal', async () => {
    const workdir = submitDir('bad-partition', {
      queueName: 'nopart',
      codesInfo: [{ cmdlineParams: ['true'] }],
    });
    await expect(scheduler.submitJob(workdir, '_aiidasubmit.sh')).rejects.toThrow(SchedulerError);
    await expect(scheduler.submitJob(workdir, '_aiidasubmit.sh')).rejects.toThrow(
      /Invalid partition name specified/,
    );
  });
});
