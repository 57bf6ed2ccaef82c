import { describe, expect, it } from 'vitest';
import {
  FeatureNotAvailableError,
  SchedulerError,
  SchedulerParsingError,
  ValidationError,
} from '../../src/errors.js';
import { DirectScheduler, JobState, shellUser, type JobTemplateInput } from '../../src/schedulers.js';
import { fixture, recordingLogger } from './fixtures.js';

const ok = (stdout: string, stderr = '') => ({ retval: 0, stdout, stderr });

describe('ps parsing', () => {
  const scheduler = new DirectScheduler();

  it('reads the recorded Linux output', () => {
    const jobs = scheduler.parseJoblistOutput(ok(fixture('direct/ps-linux.stdout')));
    expect(jobs).toEqual([
      { jobId: '22322', jobState: JobState.RUNNING, jobSubstate: 'S', jobOwner: 'root', cpuTime: 0 },
      { jobId: '22323', jobState: JobState.SUSPENDED, jobSubstate: 'T', jobOwner: 'root', cpuTime: 0 },
    ]);
  });

  it('reads macOS output, blank lines and long times', () => {
    const mac =
      '  PID STAT USER      TIME\n21259 S+   broeder   0:00.04\n\n87619 R+   broeder   1:02.44\n87634 ?    broeder   0:00.01\n';
    const jobs = scheduler.parseJoblistOutput(ok(mac));
    expect(jobs.map((j) => [j.jobId, j.jobState, j.cpuTime])).toEqual([
      ['21259', JobState.RUNNING, 0],
      ['87619', JobState.RUNNING, 62],
      ['87634', JobState.UNDETERMINED, 0],
    ]);
    const linux =
      '    PID STAT USER         TIME\n  11354 Ss   aiida    1-02:03:04\n  11355 Z    aiida    00:00:00\n';
    expect(scheduler.parseJoblistOutput(ok(linux)).map((j) => [j.jobState, j.cpuTime])).toEqual([
      [JobState.RUNNING, 93784],
      [JobState.DONE, 0],
    ]);
  });

  it('reads a header with no process as no jobs (ps exits 1 then)', () => {
    expect(
      scheduler.parseJoblistOutput({ retval: 1, stdout: '    PID STAT USER         TIME\n', stderr: '' }),
    ).toEqual([]);
  });

  it('refuses garbage and empty output rather than calling every job done', () => {
    expect(() => scheduler.parseJoblistOutput(ok('aaa'))).toThrow(SchedulerError);
    expect(() => scheduler.parseJoblistOutput(ok(''))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseJoblistOutput(ok('  PID STAT USER TIME\naaa\n'))).toThrow('not a ps line');
    expect(() => scheduler.parseJoblistOutput({ retval: 1, stdout: '', stderr: 'ps: bad option' })).toThrow(
      SchedulerError,
    );
  });

  it('lists by process id, by user, or the own processes', () => {
    expect(scheduler.getJoblistCommand({ jobs: ['12', '34'] })).toBe('ps -o pid,stat,user,time -p 12,34');
    expect(scheduler.getJoblistCommand({ user: shellUser('$USER') })).toBe(
      'ps -o pid,stat,user,time -U "${USER:-$(id -un)}"',
    );
    expect(scheduler.getJoblistCommand({ user: shellUser('alice') })).toBe(
      "ps -o pid,stat,user,time -U 'alice'",
    );
    expect(scheduler.getJoblistCommand({})).toBe('ps -o pid,stat,user,time -U "$(id -u)"');
    expect(() => scheduler.getJoblistCommand({ jobs: ['12.cluster'] })).toThrow(ValidationError);
  });
});

describe('direct submission', () => {
  const scheduler = new DirectScheduler();

  it('backgrounds the script and reads its pid', () => {
    expect(scheduler.getSubmitCommand("'_aiidasubmit.sh'")).toBe(
      "(bash '_aiidasubmit.sh' > /dev/null 2>&1 & echo $!) &",
    );
    expect(scheduler.parseSubmitOutput(ok('4242\n'))).toBe('4242');
    expect(() => scheduler.parseSubmitOutput(ok(''))).toThrow('Unable to get the PID');
    expect(() => scheduler.parseSubmitOutput(ok('not a pid'))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseSubmitOutput({ retval: 2, stdout: '', stderr: 'x' })).toThrow('retval=2');
  });

  it('kills the process tree, and only process ids', () => {
    expect(scheduler.getKillCommand('4242')).toContain('pids=4242;');
    expect(() => scheduler.getKillCommand('$(id)')).toThrow(ValidationError);
    expect(scheduler.parseKillOutput(ok(''))).toBe(true);
    expect(
      scheduler.parseKillOutput({ retval: 1, stdout: '', stderr: 'kill: (4242) - No such process' }),
    ).toBe(false);
  });

  it('has no detailed job info and no output parsing, as in aiida', async () => {
    await expect(scheduler.getDetailedJobInfo('1')).rejects.toThrow(FeatureNotAvailableError);
    expect(() => scheduler.parseOutput({ stdout: '' })).toThrow(
      'output parsing is not available for `core.direct`',
    );
    // says so beforehand, so that the engine does not read a job's scheduler output back for nothing
    expect(scheduler.parsesOutput).toBe(false);
  });
});

describe('direct submission script', () => {
  const template = (scheduler: DirectScheduler, extra: Partial<JobTemplateInput> = {}): JobTemplateInput => ({
    codesRunMode: 'serial',
    codesInfo: [{ cmdlineParams: [] }],
    jobResource: scheduler.createJobResource({ num_machines: 1, tot_num_mpiprocs: 1 }),
    ...extra,
  });

  it('warns that rerunnable has no effect', () => {
    const logger = recordingLogger();
    const scheduler = new DirectScheduler({ logger });
    scheduler.getSubmitScript(template(scheduler, { rerunnable: true }));
    expect(
      logger.messages.some((m) => m.message.includes('rerunnable') && m.message.includes('has no effect')),
    ).toBe(true);
  });

  it('sets OMP_NUM_THREADS from the cores per process', () => {
    const scheduler = new DirectScheduler();
    const resource = scheduler.createJobResource({
      num_machines: 1,
      tot_num_mpiprocs: 1,
      num_cores_per_mpiproc: 24,
    });
    expect(scheduler.getSubmitScript(template(scheduler, { jobResource: resource }))).toContain(
      'export OMP_NUM_THREADS=24',
    );
  });

  it('redirects the script’s own output and clears the environment unless imported', () => {
    const scheduler = new DirectScheduler();
    const script = scheduler.getSubmitScript(
      template(scheduler, {
        schedOutputPath: '_scheduler-stdout.txt',
        schedErrorPath: '_scheduler-stderr.txt',
      }),
    );
    // Bare, as aiida-core writes them, when bash reads the names literally; quoted when it would not.
    expect(script).toContain('exec > _scheduler-stdout.txt\nexec 2> _scheduler-stderr.txt');
    const odd = scheduler.getSubmitScript(
      template(scheduler, { schedOutputPath: 'out $1.txt', schedErrorPath: "it's.err" }),
    );
    expect(odd).toContain(`exec > 'out $1.txt'\nexec 2> 'it'"'"'s.err'`);
    expect(script).toContain('exec env --ignore-environment');
    const kept = scheduler.getSubmitScript(
      template(scheduler, { importSysEnvironment: true, schedJoinFiles: true }),
    );
    expect(kept).not.toContain('--ignore-environment');
    expect(kept).not.toContain('exec 2>');
    expect(scheduler.getSubmitScript(template(scheduler))).toContain('exec 2>&1');
  });

  it('warns that memory cannot be limited', () => {
    const logger = recordingLogger();
    const scheduler = new DirectScheduler({ logger });
    scheduler.getSubmitScript(template(scheduler, { maxMemoryKb: 1024 }));
    expect(logger.messages.map((m) => m.message)).toContain(
      'Physical memory limiting is not supported by the direct scheduler.',
    );
  });
});
