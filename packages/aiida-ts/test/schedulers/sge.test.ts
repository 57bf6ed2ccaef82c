import { describe, expect, it } from 'vitest';
import { FeatureNotAvailableError, SchedulerError, SchedulerParsingError } from '../../src/errors.js';
import {
  JobState,
  SgeScheduler,
  parseJobTemplate,
  shellUser,
  type JobTemplateInput,
} from '../../src/schedulers.js';
import { fixture } from './fixtures.js';

const ok = (stdout: string, stderr = '') => ({ retval: 0, stdout, stderr });

describe('qstat -xml parsing (recorded from gridengine 8.1.9)', () => {
  const scheduler = new SgeScheduler();
  const jobs = scheduler.parseJoblistOutput(ok(fixture('sge/qstat-xml-mixed.xml')));
  const byId = Object.fromEntries(jobs.map((job) => [job.jobId, job]));

  it('reads running, queued and held jobs', () => {
    expect(jobs.map((j) => [j.jobId, j.jobState])).toEqual([
      ['5', JobState.RUNNING],
      ['8', JobState.RUNNING],
      ['6', JobState.QUEUED],
      ['7', JobState.QUEUED_HELD],
    ]);
  });

  it('reads owners, names, queues, slots and times', () => {
    expect(byId['5']).toMatchObject({
      jobOwner: 'root',
      title: 'long',
      queueName: 'all.q@vm',
      numMpiprocs: 1,
      jobSubstate: 'r',
    });
    expect(byId['5']!.dispatchTime).toEqual(new Date(2026, 10, 25, 6, 28, 12));
    expect(byId['8']!.title).toBe('aiida-42');
    expect(byId['6']).toMatchObject({ numMpiprocs: 2, jobSubstate: 'qw' });
    expect(byId['6']!.queueName).toBeUndefined();
    expect(byId['6']!.submissionTime).toEqual(new Date(2026, 10, 25, 6, 28, 12));
  });

  it('keeps each job’s XML as raw data', () => {
    const raw = byId['7']!.rawData as string;
    expect(raw.startsWith('<job_list state="pending">')).toBe(true);
    expect(raw).toContain('<JB_job_number>7</JB_job_number>');
    expect(raw.endsWith('</job_list>')).toBe(true);
  });

  it('reads the empty queue as no jobs', () => {
    expect(scheduler.parseJoblistOutput(ok(fixture('sge/qstat-xml-empty.xml')))).toEqual([]);
  });

  it('refuses malformed, empty and foreign output', () => {
    const broken = fixture('sge/qstat-xml-mixed.xml').replace('<queue_info>', '<queue_infoXXXX>');
    expect(() => scheduler.parseJoblistOutput(ok(broken))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseJoblistOutput(ok(fixture('sge/qstat-xml-mixed.xml').slice(0, 500)))).toThrow(
      SchedulerParsingError,
    );
    expect(() => scheduler.parseJoblistOutput(ok(''))).toThrow('no stdout produced');
    const noQueueInfo = `<?xml version='1.0'?>\n<job_info><job_info><job_list state="pending"><JB_job_number>99</JB_job_number></job_list></job_info></job_info>`;
    expect(() => scheduler.parseJoblistOutput(ok(noQueueInfo))).toThrow(SchedulerError);
    const noId = `<?xml version='1.0'?>\n<job_info><queue_info></queue_info><job_info><job_list state="running"><JB_job_number></JB_job_number><state>qw</state></job_list></job_info></job_info>`;
    expect(() => scheduler.parseJoblistOutput(ok(noId))).toThrow('no job id is given');
    expect(() =>
      scheduler.parseJoblistOutput({ retval: 1, stdout: '', stderr: 'error: commlib error' }),
    ).toThrow('Error during joblist retrieval, retval=1');
  });
});

describe('SGE commands', () => {
  const scheduler = new SgeScheduler();

  it('lists by user only', () => {
    const own = scheduler.getJoblistCommand({ user: shellUser('ExamplUsr') });
    expect(own).toBe("qstat -ext -urg -xml -u 'ExamplUsr'");
    expect(scheduler.getJoblistCommand({})).toBe("qstat -ext -urg -xml -u '*'");
    expect(() => scheduler.getJoblistCommand({ jobs: ['1'] })).toThrow(FeatureNotAvailableError);
    expect(scheduler.getFeature('can_query_by_user')).toBe(true);
  });

  it('submits with -terse and reads the id', () => {
    expect(scheduler.getSubmitCommand("'script.sh'")).toBe("qsub -terse 'script.sh'");
    expect(scheduler.parseSubmitOutput(ok(fixture('sge/qsub-terse.stdout')))).toBe('5');
    expect(scheduler.parseSubmitOutput(ok(' 1176936'))).toBe('1176936');
    expect(scheduler.parseSubmitOutput(ok('1176937.1-10:1\n'))).toBe('1176937');
    expect(() => scheduler.parseSubmitOutput({ retval: 1, stdout: '', stderr: '' })).toThrow(
      /^Error during submission, retval=1/,
    );
    expect(() => scheduler.parseSubmitOutput(ok('Your job 12 ("x") has been submitted'))).toThrow(
      SchedulerParsingError,
    );
  });

  it('kills with qdel and accounts with qacct', () => {
    expect(scheduler.getKillCommand('5')).toBe("qdel '5'");
    expect(scheduler.parseKillOutput(ok(fixture('sge/qdel.stdout')))).toBe(true);
    expect(
      scheduler.parseKillOutput({ retval: 1, stdout: '', stderr: 'denied: job "999" does not exist' }),
    ).toBe(false);
    expect(scheduler.getDetailedJobInfoCommand('123456')).toBe("qacct -j '123456'");
  });
});

describe('qacct parsing', () => {
  const scheduler = new SgeScheduler();

  it('reads a failed job’s exit status', () => {
    const job = scheduler.parseDetailedJobInfo('4', ok(fixture('sge/qacct-exit-3.stdout')));
    expect(job).toMatchObject({
      jobId: '4',
      jobState: JobState.DONE,
      exitStatus: 3,
      title: 'failjob',
      jobOwner: 'root',
      queueName: 'all.q',
      numMpiprocs: 1,
    });
    expect(job.terminatingSignal).toBeUndefined();
    expect(job.annotation).toBeUndefined();
    expect(job.finishTime).toEqual(new Date(2026, 10, 25, 6, 27, 49));
  });

  it('reads a killed job’s signal and failure note', () => {
    const job = scheduler.parseDetailedJobInfo('5', ok(fixture('sge/qacct-killed.stdout')));
    expect(job).toMatchObject({
      exitStatus: 137,
      terminatingSignal: 9,
      annotation: '100 : assumedly after job',
    });
  });

  it('refuses a job qacct does not know or output about another job', () => {
    expect(() =>
      scheduler.parseDetailedJobInfo('12345', {
        retval: 1,
        stdout: '',
        stderr: fixture('sge/qacct-unknown.stderr'),
      }),
    ).toThrow('qacct knows no job 12345');
    expect(() => scheduler.parseDetailedJobInfo('9', ok(fixture('sge/qacct-exit-3.stdout')))).toThrow(
      'not about job 9',
    );
    expect(() => scheduler.parseDetailedJobInfo('9', ok(''))).toThrow(SchedulerParsingError);
  });

  it('has no output parsing, as in aiida', () => {
    expect(() => scheduler.parseOutput({ retval: 0, stdout: '', stderr: '' })).toThrow(
      FeatureNotAvailableError,
    );
  });
});

describe('SGE submission script', () => {
  const scheduler = new SgeScheduler();
  const template = (extra: Partial<JobTemplateInput> = {}): JobTemplateInput => ({
    codesInfo: [],
    codesRunMode: 'serial',
    jobResource: scheduler.createJobResource({ parallel_env: 'mpi8', tot_num_mpiprocs: 16 }),
    ...extra,
  });

  it('writes aiida’s directives and environment', () => {
    const script = scheduler.getSubmitScript(
      template({
        workingDirectory: '/home/users/someone/test',
        jobName: 'BestJobEver',
        queueName: 'FavQ.q',
        maxWallclockSeconds: '3600',
        jobEnvironment: { HOME: '/home/users/someone/', WIENROOT: '$HOME:/WIEN2k' },
        environmentVariablesDoubleQuotes: true,
      }),
    );
    expect(script).toContain('#$ -wd /home/users/someone/test');
    expect(script).toContain('#$ -S /bin/bash');
    expect(script).toContain('#$ -N BestJobEver');
    expect(script).toContain('#$ -q FavQ.q');
    expect(script).toContain('#$ -pe mpi8 16');
    expect(script).toContain('#$ -l h_rt=01:00:00');
    expect(script).toContain('# ENVIRONMENT VARIABLES BEGIN ###');
    expect(script).toContain('export HOME="/home/users/someone/"');
    expect(script).toContain('export WIENROOT="$HOME:/WIEN2k"');
    expect(script).toContain('#$ -r no');
    expect(script).not.toContain('#$ -r yes');
  });

  it('writes the remaining options', () => {
    const script = scheduler.getSubmitScript(
      template({
        rerunnable: true,
        submitAsHold: true,
        schedOutputPath: 'o',
        schedJoinFiles: true,
        account: 'p',
        priority: -5,
        emailOnTerminated: true,
      }),
    );
    for (const line of [
      '#$ -cwd',
      '#$ -r yes',
      '#$ -h',
      '#$ -o o',
      '#$ -j y',
      '#$ -P p',
      '#$ -p -5',
      '#$ -m ea',
    ]) {
      expect(script.split('\n')).toContain(line);
    }
    expect(() =>
      scheduler.getSubmitScript(
        template({
          jobResource: scheduler.createJobResource({ parallel_env: 'x', tot_num_mpiprocs: 1 }),
          maxWallclockSeconds: -1,
        }),
      ),
    ).toThrow('max_wallclock_seconds must be a positive integer');
  });

  it('strips characters SGE refuses from the job name', () => {
    const header = scheduler.getSubmitScriptHeader(
      parseJobTemplate(template({ jobName: 'Some/job:name@with*invalid-characters.' })),
    );
    expect(header).toContain('#$ -N Somejobnamewithinvalid-characters.');
    expect(scheduler.getSubmitScript(template({ jobName: '42-answer' }))).toContain('#$ -N j42-answer');
  });
});
