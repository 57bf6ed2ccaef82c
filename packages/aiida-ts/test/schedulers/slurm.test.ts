import { describe, expect, it } from 'vitest';
import {
  FeatureNotAvailableError,
  SchedulerError,
  SchedulerParsingError,
  ValidationError,
} from '../../src/errors.js';
import {
  CalcJobSchedulerExitCodes,
  JobState,
  SlurmScheduler,
  shellUser,
  type JobTemplateInput,
} from '../../src/schedulers.js';
import { parseSlurmDuration } from '../../src/schedulers/time-formats.js';
import { fixture, recordingLogger } from './fixtures.js';

const ok = (stdout: string, stderr = '') => ({ retval: 0, stdout, stderr });

describe('squeue parsing (recorded from slurm 22.05)', () => {
  const scheduler = new SlurmScheduler();
  const jobs = scheduler.parseJoblistOutput(ok(fixture('slurm/squeue-mixed.stdout')));
  const byId = Object.fromEntries(jobs.map((job) => [job.jobId, job]));

  it('reads every job with its state', () => {
    expect(jobs.map((job) => [job.jobId, job.jobState])).toEqual([
      ['7', JobState.QUEUED],
      ['8', JobState.QUEUED],
      ['10', JobState.QUEUED_HELD],
      ['11', JobState.QUEUED],
      ['9', JobState.QUEUED_HELD],
      ['6', JobState.RUNNING],
    ]);
    expect(byId['10']!.annotation).toBe('BeginTime');
    expect(byId['9']!.annotation).toBe('JobHeldUser');
  });

  it('reads owners, counts, partitions, limits and times', () => {
    const running = byId['6']!;
    expect(running).toMatchObject({
      jobOwner: 'root',
      numMachines: 1,
      numMpiprocs: 1,
      queueName: 'debug',
      title: 'aiida-101',
      allocatedMachinesRaw: 'localhost',
      wallclockTimeSeconds: 2,
      requestedWallclockTimeSeconds: 2147483647,
      jobSubstate: 'R',
    });
    expect(running.dispatchTime).toEqual(new Date(2026, 10, 25, 6, 28, 39));
    expect(running.submissionTime).toEqual(new Date(2026, 10, 25, 6, 28, 38));
    expect(byId['7']!.numMpiprocs).toBe(2);
    expect(byId['8']!.requestedWallclockTimeSeconds).toBe(600);
    expect(byId['9']!.requestedWallclockTimeSeconds).toBe(86400 + 2 * 3600 + 4 * 60);
    // Pending jobs have no meaningful elapsed time or start.
    expect(byId['8']!.wallclockTimeSeconds).toBeUndefined();
    expect(byId['8']!.dispatchTime).toBeUndefined();
  });

  it('keeps a job name that contains the separator', () => {
    expect(byId['11']!.title).toBe('title with ^^^ sep');
    expect(byId['11']!.submissionTime).toEqual(new Date(2026, 10, 25, 6, 28, 38));
  });

  it('reads a header-only reply as an empty queue', () => {
    expect(scheduler.parseJoblistOutput(ok(fixture('slurm/squeue-empty.stdout')))).toEqual([]);
  });

  it('refuses empty, headless, truncated and failed output instead of reporting jobs as gone', () => {
    expect(() => scheduler.parseJoblistOutput(ok(''))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseJoblistOutput(ok('\n\n'))).toThrow('does not start with its header');
    const lines = fixture('slurm/squeue-mixed.stdout').split('\n');
    expect(() => scheduler.parseJoblistOutput(ok(lines.slice(1).join('\n')))).toThrow(SchedulerParsingError);
    const truncated = [lines[0], lines[1]!.slice(0, 40)].join('\n');
    expect(() => scheduler.parseJoblistOutput(ok(truncated))).toThrow(/has \d+ fields instead of 14/);
    expect(() =>
      scheduler.parseJoblistOutput(ok(`${lines[0]!}\nslurm_load_jobs error: Socket timed out`)),
    ).toThrow(SchedulerParsingError);
    expect(() =>
      scheduler.parseJoblistOutput({
        retval: 1,
        stdout: '',
        stderr: 'slurm_load_jobs error: Invalid job id specified',
      }),
    ).toThrow(/squeue returned exit code 1/);
    expect(() => scheduler.parseJoblistOutput({ retval: 1, stdout: '', stderr: '' })).toThrow(SchedulerError);
  });

  it('only logs text on stderr when squeue succeeded', () => {
    const logger = recordingLogger();
    const jobs = new SlurmScheduler({ logger }).parseJoblistOutput(
      ok(fixture('slurm/squeue-mixed.stdout'), 'a warning'),
    );
    expect(jobs).toHaveLength(6);
    expect(logger.messages.some((m) => m.level === 'warn' && m.message.includes('non-empty stderr'))).toBe(
      true,
    );
  });

  it('warns about unknown states and unreadable numbers without dropping the job', () => {
    const logger = recordingLogger();
    const header = fixture('slurm/squeue-mixed.stdout').split('\n')[0]!;
    const line =
      '99^^^XX^^^None^^^n/a^^^u^^^n/a^^^?^^^(None)^^^p^^^bogus^^^0:00^^^N/A^^^t^^^2026-11-25T06:28:38';
    const [job] = new SlurmScheduler({ logger }).parseJoblistOutput(ok(`${header}\n${line}\n`));
    expect(job).toMatchObject({ jobId: '99', jobState: JobState.UNDETERMINED, title: 't' });
    expect(job!.numMachines).toBeUndefined();
    expect(logger.messages.map((m) => m.message).join('\n')).toMatch(
      /Unrecognized job_state 'XX'[\s\S]*not an integer/,
    );
  });
});

describe('slurm durations', () => {
  it.each([
    ['2', 120],
    ['02', 120],
    ['02:3', 123],
    ['02:03', 123],
    ['1:02:03', 3723],
    ['01:02:03', 3723],
    ['1-3', 86400 + 3 * 3600],
    ['01-03', 86400 + 3 * 3600],
    ['1-3:5', 86400 + 3 * 3600 + 300],
    ['01-03:05', 86400 + 3 * 3600 + 300],
    ['1-3:5:7', 86400 + 3 * 3600 + 307],
    ['01-03:05:07', 86400 + 3 * 3600 + 307],
    ['UNLIMITED', 2 ** 31 - 1],
    ['NOT_SET', null],
  ])('%s is %s seconds', (text, seconds) => {
    expect(parseSlurmDuration(text)).toBe(seconds);
  });
  it.each(['', '1-', '1:2-3', 'abc'])('%j is not a duration', (text) => {
    expect(parseSlurmDuration(text)).toBeUndefined();
  });
});

describe('slurm commands', () => {
  const scheduler = new SlurmScheduler();
  it('lists one job twice so squeue’s exit status stays meaningful', () => {
    expect(scheduler.getJoblistCommand({ jobs: ['123'] })).toContain('--jobs=123,123');
    const multi = scheduler.getJoblistCommand({ jobs: ['123', '456'] });
    expect(multi).toContain('--jobs=123,456');
    expect(multi).not.toContain('456,456');
    expect(multi).toMatch(/^SLURM_TIME_FORMAT='standard' squeue -o '%i\^\^\^%t\^\^\^/);
    expect(scheduler.getJoblistCommand({ user: shellUser('$USER') })).toContain('-u"${USER:-$(id -un)}"');
    expect(() => scheduler.getJoblistCommand({ user: 'a', jobs: ['1'] })).toThrow(FeatureNotAvailableError);
  });

  it('refuses job ids and user names that could inject shell code', async () => {
    await expect(scheduler.getJobs({ jobs: ['1; rm -rf ~'] })).rejects.toThrow(ValidationError);
    await expect(scheduler.getJobs({ user: '$(reboot)' })).rejects.toThrow(ValidationError);
    await expect(scheduler.killJob('1 2')).rejects.toThrow(ValidationError);
    expect(scheduler.getKillCommand('42')).toBe("scancel '42'");
  });

  it('reads the job id from sbatch', () => {
    expect(scheduler.parseSubmitOutput(ok(fixture('slurm/sbatch.stdout')))).toBe('6');
    expect(scheduler.parseSubmitOutput(ok('salloc: Granted job allocation 65537\n'))).toBe('65537');
    expect(() => scheduler.parseSubmitOutput(ok('nothing useful'))).toThrow(SchedulerParsingError);
    expect(() =>
      scheduler.parseSubmitOutput({
        retval: 1,
        stdout: '',
        stderr: fixture('slurm/sbatch-invalid-partition.stderr'),
      }),
    ).toThrow(/Error during submission, retval=1[\s\S]*Invalid partition name/);
  });

  it('turns an invalid account into exit code 131 instead of an error', () => {
    const stderr =
      'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified';
    expect(scheduler.parseSubmitOutput({ retval: 1, stdout: '', stderr })).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_INVALID_ACCOUNT,
    );
  });

  it('accepts scancel’s silent success', () => {
    expect(scheduler.parseKillOutput(ok(fixture('slurm/scancel.stdout')))).toBe(true);
    expect(
      scheduler.parseKillOutput({ retval: 1, stdout: '', stderr: 'scancel: error: Invalid job id' }),
    ).toBe(false);
  });
});

describe('slurm submission script', () => {
  const scheduler = new SlurmScheduler();
  const template = (extra: Partial<JobTemplateInput> = {}): JobTemplateInput => ({
    shebang: '#!/bin/bash',
    jobResource: scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
    maxWallclockSeconds: 24 * 3600,
    codesRunMode: 'serial',
    codesInfo: [{ cmdlineParams: ['mpirun', '-np', '23', 'pw.x', '-npool', '1'], stdinName: 'aiida.in' }],
    ...extra,
  });

  it('writes aiida’s directives', () => {
    const script = scheduler.getSubmitScript(template());
    expect(script.startsWith('#!/bin/bash\n#SBATCH --no-requeue\n')).toBe(true);
    expect(script).toContain('#SBATCH --time=1-00:00:00');
    expect(script).toContain('#SBATCH --nodes=1');
    expect(script).toContain('#SBATCH --ntasks-per-node=1');
    expect(script).toContain('#SBATCH --error=slurm-%j.err');
    expect(script).toContain("'mpirun' '-np' '23' 'pw.x' '-npool' '1' < 'aiida.in'");
    expect(scheduler.getSubmitScript(template({ maxWallclockSeconds: 3723 }))).toContain(
      '#SBATCH --time=01:02:03',
    );
  });

  it('asks for cores per task from either core count', () => {
    const fromMachine = scheduler.createJobResource({
      num_machines: 1,
      num_mpiprocs_per_machine: 2,
      num_cores_per_machine: 24,
    });
    const script = scheduler.getSubmitScript(template({ jobResource: fromMachine }));
    expect(script).toContain('#SBATCH --ntasks-per-node=2');
    expect(script).toContain('#SBATCH --cpus-per-task=12');
    const fromProc = scheduler.createJobResource({
      num_machines: 1,
      num_mpiprocs_per_machine: 1,
      num_cores_per_mpiproc: 24,
    });
    expect(scheduler.getSubmitScript(template({ jobResource: fromProc }))).toContain(
      '#SBATCH --cpus-per-task=24',
    );
  });

  it('writes memory in MB and refuses negative memory or walltime', () => {
    expect(scheduler.getSubmitScript(template({ maxMemoryKb: 316 * 1024 }))).toContain('#SBATCH --mem=316');
    expect(scheduler.getSubmitScript(template({ maxMemoryKb: 0 }))).toContain('#SBATCH --mem=0');
    expect(() => scheduler.getSubmitScript(template({ maxMemoryKb: -9 }))).toThrow(
      'max_memory_kb must be a non-negative integer (in kB)! It is instead `-9`',
    );
    expect(() => scheduler.getSubmitScript(template({ maxWallclockSeconds: 0 }))).toThrow(
      "max_wallclock_seconds must be a positive integer (in seconds)! It is instead '0'",
    );
  });

  it('writes the options aiida maps, cleaning the job name', () => {
    const script = scheduler.getSubmitScript(
      template({
        rerunnable: true,
        submitAsHold: true,
        email: 'me@example.org',
        emailOnStarted: true,
        emailOnTerminated: true,
        jobName: '-my job/#1',
        importSysEnvironment: true,
        schedOutputPath: '_scheduler-stdout.txt',
        schedErrorPath: '_scheduler-stderr.txt',
        queueName: 'debug',
        account: 'proj',
        qos: 'high',
        priority: 100,
      }),
    );
    for (const line of [
      '#SBATCH -H',
      '#SBATCH --requeue',
      '#SBATCH --mail-user=me@example.org',
      '#SBATCH --mail-type=BEGIN',
      '#SBATCH --mail-type=FAIL',
      '#SBATCH --mail-type=END',
      '#SBATCH --job-name="j-myjob1"',
      '#SBATCH --get-user-env',
      '#SBATCH --output=_scheduler-stdout.txt',
      '#SBATCH --error=_scheduler-stderr.txt',
      '#SBATCH --partition=debug',
      '#SBATCH --account=proj',
      '#SBATCH --qos=high',
      '#SBATCH --nice=100',
    ]) {
      expect(script.split('\n')).toContain(line);
    }
    expect(script).not.toContain('--no-requeue');
    const joined = scheduler.getSubmitScript(
      template({ schedOutputPath: 'out', schedErrorPath: 'err', schedJoinFiles: true }),
    );
    expect(joined).not.toContain('--error');
  });

  it('refuses resources of another kind and directive values with newlines', () => {
    expect(() =>
      scheduler.getSubmitScript(
        template({ jobResource: { kind: 'par-env', parallelEnv: 'x', totNumMpiprocs: 1 } }),
      ),
    ).toThrow('node-number');
    expect(() => scheduler.getSubmitScript(template({ jobResource: null }))).toThrow('Job resources');
    expect(() => scheduler.getSubmitScript(template({ queueName: 'debug\nrm -rf ~' }))).toThrow('newline');
  });
});

describe('slurm output parsing', () => {
  const scheduler = new SlurmScheduler();
  const info = (stdout: string) => ({ retval: 0, stdout, stderr: '' });

  it('maps sacct’s final state to aiida’s exit codes', () => {
    expect(scheduler.parsesOutput).toBe(true);
    expect(scheduler.parseOutput(info('Account|State|\nroot|OUT_OF_MEMORY|\n'), '', '')).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY,
    );
    expect(scheduler.parseOutput(info('Account|State|\nroot|TIMEOUT|\n'))).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME,
    );
    expect(scheduler.parseOutput(info('Account|State|\nroot|NODE_FAIL|\n'))).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_NODE_FAILURE,
    );
    expect(scheduler.parseOutput({ stdout: 'State|Account|\n||\n' }, '', '')).toBeUndefined();
    expect(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY.status).toBe(110);
    expect(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME.status).toBe(120);
    expect(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_NODE_FAILURE.status).toBe(140);
  });

  it('reads scontrol’s and the jobcomp file’s state when accounting is off', () => {
    const failed = fixture('slurm/scontrol-failed-exit-3.stdout');
    expect(scheduler.parseOutput(info(failed))).toBeUndefined();
    expect(scheduler.parseOutput(info(failed.replace('JobState=FAILED', 'JobState=TIMEOUT')))).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME,
    );
    const jobcompLine = fixture('slurm/jobcomp.log')
      .split('\n')
      .find((l) => l.startsWith('JobId=3 '))!;
    expect(
      scheduler.parseOutput(info(jobcompLine.replace('JobState=FAILED', 'JobState=OUT_OF_MEMORY'))),
    ).toBe(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY);
  });

  it('finds slurm’s messages on any line of the job’s stderr', () => {
    const stderr = 'line one\nslurmstepd: error: Job 5 exceeded memory limit (2048 > 1024), being killed\n';
    expect(scheduler.parseOutput(undefined, '', stderr)).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY,
    );
    expect(
      scheduler.parseOutput(null, '', 'slurmstepd: error: Detected 1 oom-kill event(s) in StepId=5.batch'),
    ).toBe(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY);
    expect(
      scheduler.parseOutput(
        null,
        '',
        'slurmstepd: error: *** JOB 5 ON n1 CANCELLED AT 2024-01-01T00:00:00 DUE TO TIME LIMIT ***',
      ),
    ).toBe(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME);
    expect(scheduler.parseOutput(null, '', 'all fine')).toBeUndefined();
  });

  it.each<[unknown, string]>([
    ['string', 'a string'],
    [{ stderr: '' }, 'no stdout'],
    [{ stdout: null }, 'stdout not a string'],
    [{ stdout: '' }, 'empty stdout'],
    [{ stdout: 'Account|State|\nValue|' }, 'short second line'],
    [{ stdout: 'Account|State|\n' }, 'one line'],
  ])('refuses malformed detailed job info: %j (%s)', (value) => {
    expect(() => scheduler.parseOutput(value, '', '')).toThrow(ValidationError);
  });
});

describe('slurm detailed job info', () => {
  const scheduler = new SlurmScheduler();
  const info = (stdout: string) => ({ retval: 0, stdout, stderr: '' });

  it('reads a failed job’s exit status from scontrol', () => {
    const job = scheduler.parseDetailedJobInfo('3', info(fixture('slurm/scontrol-failed-exit-3.stdout')));
    expect(job).toMatchObject({
      jobId: '3',
      jobState: JobState.DONE,
      jobSubstate: 'FAILED',
      exitStatus: 3,
      title: 'fail',
      jobOwner: 'root',
      queueName: 'debug',
      annotation: 'NonZeroExitCode',
      numMachines: 1,
      numCpus: 1,
      requestedWallclockTimeSeconds: 2147483647,
      wallclockTimeSeconds: 0,
    });
    expect(job.terminatingSignal).toBeUndefined();
    expect(job.finishTime).toEqual(new Date(2026, 10, 25, 6, 25, 10));
  });

  it('reads completed and cancelled jobs', () => {
    expect(
      scheduler.parseDetailedJobInfo('1', info(fixture('slurm/scontrol-completed.stdout'))),
    ).toMatchObject({
      jobSubstate: 'COMPLETED',
      exitStatus: 0,
      wallclockTimeSeconds: 4,
    });
    const cancelled = scheduler.parseDetailedJobInfo('6', info(fixture('slurm/scontrol-cancelled.stdout')));
    expect(cancelled.jobSubstate).toBe('CANCELLED');
    expect(cancelled.jobState).toBe(JobState.DONE);
  });

  it('reads the jobcomp line, whose time limit is in minutes', () => {
    const log = fixture('slurm/jobcomp.log');
    const job = scheduler.parseDetailedJobInfo(
      '3',
      info(log.split('\n').find((l) => l.startsWith('JobId=3 '))!),
    );
    expect(job).toMatchObject({ exitStatus: 3, jobSubstate: 'FAILED', numCpus: 1, wallclockTimeSeconds: 0 });
    const limited = scheduler.parseDetailedJobInfo(
      '8',
      info(log.split('\n').find((l) => l.startsWith('JobId=8 '))!),
    );
    expect(limited.requestedWallclockTimeSeconds).toBe(600);
    expect(limited.title).toBe('aiida-101');
    const spaced = scheduler.parseDetailedJobInfo(
      '11',
      info(log.split('\n').find((l) => l.startsWith('JobId=11 '))!),
    );
    expect(spaced.title).toBe('title with ^^^ sep');
  });

  it('reads sacct’s allocation line and the signal of ExitCode', () => {
    const sacct =
      'JobID|JobName|State|ExitCode|Elapsed|Partition|User|NNodes|NCPUS|\n' +
      '77|aiida-9|CANCELLED by 0|0:15|00:01:05|debug|alice|2|8|\n77.batch|batch|CANCELLED|0:15|00:01:05||||8|\n';
    expect(scheduler.parseDetailedJobInfo('77', info(sacct))).toMatchObject({
      jobSubstate: 'CANCELLED',
      exitStatus: 0,
      terminatingSignal: 15,
      wallclockTimeSeconds: 65,
      numMachines: 2,
      numCpus: 8,
      jobOwner: 'alice',
    });
  });

  it('refuses output about nothing or about another job', () => {
    expect(() =>
      scheduler.parseDetailedJobInfo('4242', {
        retval: 1,
        stdout: '',
        stderr: fixture('slurm/scontrol-unknown.stderr'),
      }),
    ).toThrow(SchedulerParsingError);
    expect(() =>
      scheduler.parseDetailedJobInfo('4', info(fixture('slurm/scontrol-failed-exit-3.stdout'))),
    ).toThrow('not 4');
  });

  it('falls back from sacct to scontrol to the jobcomp file', () => {
    const command = scheduler.getDetailedJobInfoCommand('42');
    expect(command).toMatch(/^\{ out=\$\(sacct --format=.* --parsable --jobs='42' 2>\/dev\/null\)/);
    expect(command).toContain("|| scontrol show job --oneliner '42'");
    expect(command).toContain('JobCompLoc');
  });
});
