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
  LsfScheduler,
  type JobInfo,
  type JobTemplateInput,
} from '../../src/schedulers.js';
import { fixture } from './fixtures.js';

const ok = (stdout: string, stderr = '') => ({ retval: 0, stdout, stderr });
const inState = (jobs: JobInfo[], state: string) => jobs.filter((j) => j.jobState === state);

describe('bjobs parsing', () => {
  const scheduler = new LsfScheduler();
  const jobs = scheduler.parseJoblistOutput(ok(fixture('lsf/bjobs.stdout')));
  const byId = Object.fromEntries(jobs.map((job) => [job.jobId, job]));

  it('refuses a failed bjobs', () => {
    expect(() =>
      scheduler.parseJoblistOutput({
        retval: 255,
        stdout: fixture('lsf/bjobs.stdout'),
        stderr: 'Job <864220165> is not found',
      }),
    ).toThrow(SchedulerError);
  });

  it('reads queued, finished and running jobs', () => {
    expect(jobs).toHaveLength(7);
    expect(inState(jobs, JobState.QUEUED).map((j) => j.queueName)).toEqual(['8nh', 'normal']);
    const done = inState(jobs, JobState.DONE);
    expect(done.map((j) => j.title)).toEqual(['aiida-5001', 'bands']);
    expect(done.map((j) => j.annotation)).toEqual([
      'TERM_RUNLIMIT: job killed after reaching LSF run time limit',
      '-',
    ]);
    const running = inState(jobs, JobState.RUNNING);
    expect(running.map((j) => [j.jobId, j.jobOwner, j.numMachines, j.allocatedMachinesRaw])).toEqual([
      ['5501004', 'fiona', 1, 'hostB'],
      ['5501005', 'fiona', 1, 'hostC'],
      ['5501006', 'gus', 1, 'hostC'],
    ]);
    expect(byId['5501006']!.numMpiprocs).toBe(8);
    // The leading space of the last line is not part of the id.
    expect(byId['5501007']).toBeDefined();
  });

  it('derives the walltime from start, finish and percentage, across a new year', () => {
    expect(byId['5501004']!.requestedWallclockTimeSeconds).toBe(60);
    expect(byId['5501005']!.wallclockTimeSeconds).toBe(9);
    // Dec 31 23:48 to Jan 1 05:07 is 5 h 19 min; 25 % of it.
    expect(byId['5501006']!.requestedWallclockTimeSeconds).toBe(19140);
    expect(byId['5501006']!.wallclockTimeSeconds).toBe(4785);
    expect(byId['5501006']!.submissionTime).toEqual(new Date(new Date().getFullYear(), 11, 31, 23, 40));
  });

  it('keeps a job name that contains the separator', () => {
    expect(byId['5501006']!.title).toBe('nye|run');
  });

  it('refuses lines it cannot read instead of skipping them', () => {
    expect(() => scheduler.parseJoblistOutput(ok('5501002|PEND|-|-|fiona\n'))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseJoblistOutput(ok('No unfinished job found\n'))).toThrow(
      SchedulerParsingError,
    );
    expect(scheduler.parseJoblistOutput(ok('', 'No unfinished job found'))).toEqual([]);
  });
});

describe('LSF commands', () => {
  const scheduler = new LsfScheduler();
  it('builds bjobs, bsub, bkill and bjobs -l', () => {
    expect(scheduler.getJoblistCommand({ jobs: ['1', '2'] })).toBe(
      `bjobs -noheader -o 'id stat exit_reason exec_host user slots max_req_proc exec_host queue finish_time start_time %complete submit_time name delimiter="|"' '1' '2'`,
    );
    expect(() => scheduler.getJoblistCommand({ user: 'u', jobs: ['1'] })).toThrow(FeatureNotAvailableError);
    expect(scheduler.getSubmitCommand("'s.sh'")).toBe("bsub < 's.sh'");
    expect(scheduler.getDetailedJobInfoCommand('7')).toBe("bjobs -l '7'");
  });

  it('reads bsub and bkill output', () => {
    expect(scheduler.parseSubmitOutput(ok(fixture('lsf/bsub.stdout')))).toBe('5501004');
    expect(() => scheduler.parseSubmitOutput(ok('Bad-Output-String'))).toThrow('`Bad-Output-String`');
    expect(scheduler.parseKillOutput(ok(fixture('lsf/bkill.stdout')))).toBe(true);
    expect(scheduler.parseKillOutput({ retval: 255, stdout: '', stderr: 'Job has already finished' })).toBe(
      false,
    );
  });

  it('reads LSF’s termination reasons', () => {
    expect(
      scheduler.parseOutput({ retval: 0, stdout: fixture('lsf/bjobs-l-runlimit.stdout'), stderr: '' }),
    ).toBe(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME);
    expect(
      scheduler.parseOutput(null, '', 'TERM_MEMLIMIT: job killed after reaching LSF memory usage limit'),
    ).toBe(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY);
    expect(scheduler.parseOutput(null, '', '')).toBeUndefined();
  });
});

describe('LSF submission script', () => {
  const scheduler = new LsfScheduler();
  const template = (extra: Partial<JobTemplateInput> = {}): JobTemplateInput => ({
    shebang: '#!/bin/bash',
    jobResource: scheduler.createJobResource({ tot_num_mpiprocs: 2, parallel_env: 'b681e480bd.cern.ch' }),
    maxWallclockSeconds: 24 * 3600,
    codesRunMode: 'serial',
    codesInfo: [{ cmdlineParams: ['mpirun', '-np', '2', 'pw.x', '-npool', '1'], stdinName: 'aiida.in' }],
    account: 'account_id',
    ...extra,
  });

  it('writes aiida’s directives and the LSB_OUTDIR copies', () => {
    const script = scheduler.getSubmitScript(template());
    expect(script.startsWith('#!/bin/bash')).toBe(true);
    for (const text of [
      '#BSUB -rn',
      '#BSUB -n 2',
      '#BSUB -m "b681e480bd.cern.ch"',
      '#BSUB -W 24:00',
      '#BSUB -G account_id',
    ]) {
      expect(script).toContain(text);
    }
    expect(script).toContain("'mpirun' '-np' '2' 'pw.x' '-npool' '1' < 'aiida.in'");
    expect(script).toContain('cp -R "$LSB_OUTDIR"/* .');
    expect(script.indexOf('cp -R * "$LSB_OUTDIR"')).toBeGreaterThan(script.indexOf("'pw.x'"));
    expect(scheduler.getSubmitScript(template({ maxWallclockSeconds: 3601 }))).toContain('#BSUB -W 01:01');
  });

  it('uses -r, -nnodes, -M and sends stderr next to stdout when asked to join', () => {
    expect(scheduler.getSubmitScript(template({ rerunnable: true }))).toContain('#BSUB -r\n');
    const nodes = scheduler.createJobResource({
      tot_num_mpiprocs: 4,
      use_num_machines: true,
      num_machines: 2,
    });
    expect(scheduler.getSubmitScript(template({ jobResource: nodes }))).toContain('#BSUB -nnodes 2');
    expect(scheduler.getSubmitScript(template({ maxMemoryKb: 2048 }))).toContain('#BSUB -M 2048');
    const joined = scheduler.getSubmitScript(
      template({ schedOutputPath: 'out.txt', schedErrorPath: 'err.txt', schedJoinFiles: true }),
    );
    expect(joined).toContain('#BSUB -o out.txt');
    expect(joined).toContain('#BSUB -e out.txt_');
    expect(joined).not.toContain('err.txt');
  });

  it('refuses what aiida refuses', () => {
    expect(() => scheduler.getSubmitScript(template({ jobResource: null }))).toThrow(ValidationError);
    expect(() => scheduler.getSubmitScript(template({ maxWallclockSeconds: 'Not-a-Number' }))).toThrow(
      ValidationError,
    );
    expect(() => scheduler.getSubmitScript(template({ maxMemoryKb: 'Not-a-Number' }))).toThrow(
      ValidationError,
    );
    expect(() => scheduler.getSubmitScript(template({ maxMemoryKb: -5 }))).toThrow(
      'max_memory_kb must be a positive integer',
    );
    const { codesRunMode: _unused, ...withoutMode } = template();
    expect(() => scheduler.getSubmitScript(withoutMode as JobTemplateInput)).toThrow('codesRunMode');
  });
});
