/**
 * `core.sge` end to end against a real Grid Engine cell (Debian's gridengine 8.1.9, started once for this
 * file by `@aiida-ts/test-services`), through the `core.local` transport.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureNotAvailableError } from '../../src/errors.js';
import { JobState, SgeScheduler, type JobInfo, type JobTemplateInput } from '../../src/schedulers.js';
import { LocalTransport } from '../../src/transports.js';
import { startPrivateSge, type PrivateSge } from '@aiida-ts/test-services';
import { describeSchedulerContract, until } from './scheduler-contract.js';

let sge: PrivateSge;
let transport: LocalTransport;
let scheduler: SgeScheduler;
const previous: Record<string, string | undefined> = {};

beforeAll(async () => {
  sge = await startPrivateSge();
  // Commands run by the transport inherit this process's environment.
  for (const [key, value] of Object.entries(sge.env)) {
    previous[key] = process.env[key];
    process.env[key] = value;
  }
  // A plain shell: the login profile of this machine's user has nothing to do with the scheduler.
  transport = new LocalTransport({ useLoginShell: false });
  await transport.open();
  scheduler = new SgeScheduler({ transport });
}, 90_000);

afterAll(async () => {
  await transport?.close();
  await sge?.stop();
  for (const [key, value] of Object.entries(previous)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

/** The job as qstat lists it, or `null` once it is no longer listed (finished). */
async function current(jobId: string): Promise<JobInfo | null> {
  const jobs = await scheduler.getJobs({ user: '$USER', asDict: true });
  return jobs[jobId] ?? null;
}

async function submit(
  label: string,
  template: Partial<JobTemplateInput>,
): Promise<{ jobId: string; workdir: string }> {
  const workdir = mkdtempSync(path.join(sge.workRoot, `${label}-`));
  const script = scheduler.getSubmitScript({
    jobName: `aiida-${label}`,
    workingDirectory: workdir,
    queueName: sge.queue,
    jobResource: scheduler.createJobResource({ parallel_env: sge.parallelEnv, tot_num_mpiprocs: 1 }),
    maxWallclockSeconds: 600,
    codesRunMode: 'serial',
    schedOutputPath: '_scheduler-stdout.txt',
    schedErrorPath: '_scheduler-stderr.txt',
    ...template,
  });
  writeFileSync(path.join(workdir, '_aiidasubmit.sh'), script);
  const jobId = await scheduler.submitJob(workdir, '_aiidasubmit.sh');
  if (typeof jobId !== 'string') throw new Error(`submission refused with exit code ${jobId.status}`);
  return { jobId, workdir };
}

/** qacct's record, once the accounting file has it. */
async function accounting(jobId: string): Promise<JobInfo> {
  return until('qacct to know the job', async () => {
    const info = await scheduler.getDetailedJobInfo(jobId);
    return info.retval === 0 ? scheduler.parseDetailedJobInfo(jobId, info) : undefined;
  });
}

describeSchedulerContract('core.sge', {
  scheduler: () => scheduler,
  workRoot: () => sge.workRoot,
  resources: { parallel_env: 'smp', tot_num_mpiprocs: 1 },
  template: { queueName: 'all.q' },
  supportsHold: true,
});

describe('core.sge on a real Grid Engine', () => {
  it('submits a job, sees it queued or running, then finished with its output and accounting', async () => {
    const { jobId, workdir } = await submit('ok', {
      jobEnvironment: { ANSWER: 42 },
      codesInfo: [{ cmdlineParams: ['bash', '-c', 'sleep 2; echo "answer=$ANSWER"'], stdoutName: 'out.txt' }],
    });
    expect(jobId).toMatch(/^\d+$/);
    const first = await current(jobId);
    expect([JobState.QUEUED, JobState.RUNNING]).toContain(first?.jobState);
    expect(first).toMatchObject({ jobId, title: 'aiida-ok', numMpiprocs: 1 });
    const running = await until('the job to run', async () => {
      const job = await current(jobId);
      return job?.jobState === JobState.RUNNING ? job : undefined;
    });
    expect(running.queueName).toMatch(/^all\.q@/);
    expect(running.dispatchTime).toBeInstanceOf(Date);
    await until('the job to finish', async () => ((await current(jobId)) === null ? true : undefined));
    expect(readFileSync(path.join(workdir, 'out.txt'), 'utf8')).toBe('answer=42\n');
    expect(await accounting(jobId)).toMatchObject({
      jobState: JobState.DONE,
      exitStatus: 0,
      title: 'aiida-ok',
    });
  });

  it('reads a failed job’s exit status from qacct', async () => {
    const { jobId } = await submit('fail', { codesInfo: [{ cmdlineParams: ['bash', '-c', 'exit 3'] }] });
    await until('the job to finish', async () => ((await current(jobId)) === null ? true : undefined));
    expect(await accounting(jobId)).toMatchObject({
      jobState: JobState.DONE,
      exitStatus: 3,
      title: 'aiida-fail',
    });
  });

  it('kills a running job', async () => {
    const { jobId } = await submit('kill', { codesInfo: [{ cmdlineParams: ['sleep', '120'] }] });
    await until('the job to run', async () =>
      (await current(jobId))?.jobState === JobState.RUNNING ? true : undefined,
    );
    expect(await scheduler.killJob(jobId)).toBe(true);
    await until('the job to go', async () => ((await current(jobId)) === null ? true : undefined));
    expect(await accounting(jobId)).toMatchObject({ exitStatus: 137, terminatingSignal: 9 });
  });

  it('shows a job submitted on hold as queued held, and cannot list by job id', async () => {
    const { jobId } = await submit('held', { submitAsHold: true, codesInfo: [{ cmdlineParams: ['true'] }] });
    expect(await current(jobId)).toMatchObject({ jobState: JobState.QUEUED_HELD, jobSubstate: 'hqw' });
    await expect(scheduler.getJobs({ jobs: [jobId] })).rejects.toThrow(FeatureNotAvailableError);
    expect(await scheduler.killJob(jobId)).toBe(true);
    await until('the held job to go', async () => ((await current(jobId)) === null ? true : undefined));
    expect(await scheduler.killJob(jobId)).toBe(false);
  });
});
