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
  PbsproScheduler,
  TorqueScheduler,
  shellUser,
  type JobInfo,
  type JobTemplateInput,
} from '../../src/schedulers.js';
import { fixture } from './fixtures.js';

const ok = (stdout: string, stderr = '') => ({ retval: 0, stdout, stderr });
const countBy = (jobs: JobInfo[], state: string) => jobs.filter((j) => j.jobState === state).length;

describe('qstat -f parsing (PBSPro format)', () => {
  const jobs = new PbsproScheduler().parseJoblistOutput(ok(fixture('pbspro/qstat-f-mixed.stdout')));
  const byId = Object.fromEntries(jobs.map((job) => [job.jobId, job]));

  it('reads every job and its state', () => {
    expect(jobs).toHaveLength(6);
    expect(countBy(jobs, JobState.RUNNING)).toBe(2);
    expect(countBy(jobs, JobState.QUEUED_HELD)).toBe(2);
    expect(countBy(jobs, JobState.QUEUED)).toBe(2);
    expect(jobs.filter((j) => j.jobState === JobState.RUNNING).map((j) => [j.jobId, j.jobOwner])).toEqual([
      ['4090.pbs-head', 'bob'],
      ['4100.pbs-head', 'carol'],
    ]);
  });

  it('reads resources, times and allocated machines', () => {
    const md = byId['4090.pbs-head']!;
    expect(md).toMatchObject({
      title: 'md-water-long',
      queueName: 'long',
      account: 'proj42',
      numCpus: 32,
      numMpiprocs: 32,
      numMachines: 2,
      requestedWallclockTimeSeconds: 48 * 3600,
      wallclockTimeSeconds: 31 * 3600 + 48 * 60 + 2,
      cpuTime: 1017 * 3600 + 36 * 60 + 12,
      jobSubstate: '42',
    });
    expect(md.submissionTime).toEqual(new Date(2024, 2, 2, 1, 0, 0));
    expect(md.dispatchTime).toEqual(new Date(2024, 2, 2, 9, 30, 15));
    expect(md.allocatedMachines).toEqual([
      { name: 'cn017', jobIndex: 0, numCpus: 16 },
      { name: 'cn018', jobIndex: 0, numCpus: 16 },
    ]);
    const cpus = md.allocatedMachines!.reduce((sum, m) => sum + m.numCpus!, 0);
    expect(cpus).toBe(md.numCpus);
    // A single-node `host/N` has no `*ncpus`: one machine with one cpu, as in aiida.
    expect(byId['4100.pbs-head']!.allocatedMachines).toEqual([{ name: 'cn003', jobIndex: 24, numCpus: 1 }]);
    expect(byId['4101.pbs-head']!.annotation).toBe('Not Running: Insufficient amount of resource: ncpus');
  });

  it('joins TAB continuations and keeps the raw fields', () => {
    const raw = byId['4090.pbs-head']!.rawData as Record<string, unknown>;
    expect(raw['depend']).toBe('beforeok:4091.pbs-head@pbs-head,beforeok:4092.pbs-head@pbs-head');
    expect(raw['exec_vnode']).toBe('(cn017:ncpus=16)+(cn018:ncpus=16)');
    const raw1 = byId['4101.pbs-head']!.rawData as Record<string, unknown>;
    expect(raw1['error_path']).toBe('login1.cluster:/scratch/alice/calcs/relax/run-01/relax-Si8.e4101');
    expect(raw1['warning_fields_with_newlines']).toBeUndefined();
  });

  it.each([
    [
      'tab continuation',
      'Job Id: 1.c\n    Resource_List.select = 1:ncpus=1:j\n\tobfs=104857600\n',
      'resource_list.select',
      '1:ncpus=1:jobfs=104857600',
      undefined,
    ],
    [
      'space without =',
      'Job Id: 1.c\n    Variable_List = f=() {  echo hi\n echo bye; }\n    queue = normal\n',
      'variable_list',
      'f=() {  echo hi\n echo bye; }',
      ['variable_list'],
    ],
    [
      'no indentation',
      'Job Id: 1.c\n    comment = line one\nline two\n',
      'comment',
      'line one\nline two',
      ['comment'],
    ],
  ])('folds a %s into the previous field', (_name, stdout, field, value, warned) => {
    const [job] = new PbsproScheduler().parseJoblistOutput(ok(stdout));
    const raw = job!.rawData as Record<string, unknown>;
    expect(raw[field]).toBe(value);
    expect(raw['warning_fields_with_newlines']).toEqual(warned);
  });

  it('reads an empty reply as an empty queue and tolerates finished jobs on stderr', () => {
    expect(new PbsproScheduler().parseJoblistOutput(ok(''))).toEqual([]);
    expect(
      new PbsproScheduler().parseJoblistOutput({
        retval: 153,
        stdout: '',
        stderr: 'qstat: Unknown Job Id 4099.pbs-head\n',
      }),
    ).toEqual([]);
  });

  it('refuses malformed output', () => {
    const scheduler = new PbsproScheduler();
    expect(() => scheduler.parseJoblistOutput(ok('    job_state = R\n'))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseJoblistOutput(ok('garbage\n'))).toThrow("does not start with 'Job Id:'");
    expect(() => scheduler.parseJoblistOutput(ok('Job Id: 1\n\tstarts with a tab\n'))).toThrow(
      'starts with a TAB',
    );
    expect(() => scheduler.parseJoblistOutput(ok('Job Id: 1\n    no equals sign here\n'))).toThrow(
      'without equals sign',
    );
    expect(() => scheduler.parseJoblistOutput(ok('Job Id: \n    job_state = R\n'))).toThrow('without an id');
    expect(() =>
      scheduler.parseJoblistOutput({ retval: 2, stdout: '', stderr: 'qstat: cannot connect to server' }),
    ).toThrow(SchedulerError);
    expect(() => scheduler.parseJoblistOutput({ retval: 1, stdout: '', stderr: '' })).toThrow(
      'without a message',
    );
  });
});

describe('qstat -f parsing (Torque format)', () => {
  const jobs = new TorqueScheduler().parseJoblistOutput(ok(fixture('torque/qstat-f-mixed.stdout')));
  const byId = Object.fromEntries(jobs.map((job) => [job.jobId, job]));

  it('reads every job, also around unexpected newlines', () => {
    expect(jobs).toHaveLength(7);
    expect(countBy(jobs, JobState.RUNNING)).toBe(2);
    expect(countBy(jobs, JobState.QUEUED_HELD)).toBe(1);
    expect(countBy(jobs, JobState.QUEUED)).toBe(3);
    expect(countBy(jobs, JobState.DONE)).toBe(1);
    const raw = byId['88003.torque-srv']!.rawData as Record<string, unknown>;
    expect(raw['warning_fields_with_newlines']).toEqual(['sched_hint']);
    expect(String(raw['sched_hint'])).toContain('\nUnknown resource type');
  });

  it('counts Torque’s slot ranges as cpus and reads start, completion and exit status', () => {
    expect(byId['88002.torque-srv']!.allocatedMachines).toEqual([
      { name: 'n12', jobIndex: 0, numCpus: 12 },
      { name: 'n13', jobIndex: 0, numCpus: 12 },
    ]);
    expect(byId['88003.torque-srv']!.allocatedMachines).toEqual([{ name: 'n07', jobIndex: 0, numCpus: 4 }]);
    expect(byId['88002.torque-srv']!.dispatchTime).toEqual(new Date(2024, 6, 9, 5, 0, 0));
    const completed = byId['88004.torque-srv']!;
    expect(completed).toMatchObject({ jobState: JobState.DONE, exitStatus: 271, terminatingSignal: 15 });
    expect(completed.finishTime).toEqual(new Date(2024, 6, 8, 9, 0, 9));
    expect(byId['88001.torque-srv']!.account).toBe('acct-dana');
  });
});

describe('PBS commands', () => {
  const scheduler = new PbsproScheduler();
  it('builds qstat, qsub, qdel and tracejob commands', () => {
    expect(scheduler.getJoblistCommand({ jobs: ['1.srv', '2.srv'] })).toBe("qstat -f '1.srv' '2.srv'");
    expect(scheduler.getJoblistCommand({ user: shellUser('$USER') })).toBe('qstat -f -u"${USER:-$(id -un)}"');
    expect(() => scheduler.getJoblistCommand({ user: 'a', jobs: ['1'] })).toThrow(FeatureNotAvailableError);
    expect(scheduler.getSubmitCommand("'_aiidasubmit.sh'")).toBe("qsub '_aiidasubmit.sh'");
    expect(scheduler.getKillCommand('1.srv')).toBe("qdel '1.srv'");
    expect(scheduler.getDetailedJobInfoCommand('1.srv')).toBe("tracejob -v '1.srv'");
  });

  it('reads qsub’s job id and refuses anything else', () => {
    expect(scheduler.parseSubmitOutput(ok('4103.pbs-head\n'))).toBe('4103.pbs-head');
    expect(() => scheduler.parseSubmitOutput(ok(''))).toThrow(SchedulerParsingError);
    expect(() => scheduler.parseSubmitOutput(ok('qsub: would you like fries with that'))).toThrow(
      SchedulerParsingError,
    );
    expect(() =>
      scheduler.parseSubmitOutput({ retval: 38, stdout: '', stderr: 'qsub: Bad UID for job execution' }),
    ).toThrow(/retval=38/);
  });

  it('reads PBS’s job-killed messages', () => {
    expect(scheduler.parseOutput(null, '', '=>> PBS: job killed: walltime 3650 exceeded limit 3600')).toBe(
      CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME,
    );
    expect(
      scheduler.parseOutput(null, '', '=>> PBS: job killed: mem 2100000kb exceeded limit 2000000kb'),
    ).toBe(CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY);
    expect(
      scheduler.parseOutput({ retval: 0, stdout: 'Job: 1.srv\nexit status 0', stderr: '' }),
    ).toBeUndefined();
  });
});

describe('PBS submission scripts', () => {
  const template = (
    scheduler: PbsproScheduler | TorqueScheduler,
    resources: Record<string, number>,
    extra: Partial<JobTemplateInput> = {},
  ): JobTemplateInput => ({
    shebang: '#!/bin/bash -l',
    jobResource: scheduler.createJobResource(resources),
    maxWallclockSeconds: 24 * 3600,
    codesRunMode: 'serial',
    codesInfo: [{ cmdlineParams: ['mpirun', '-np', '23', 'pw.x', '-npool', '1'], stdinName: 'aiida.in' }],
    ...extra,
  });

  it('PBSPro asks with one select statement', () => {
    const s = new PbsproScheduler();
    const script = s.getSubmitScript(template(s, { num_machines: 1, num_mpiprocs_per_machine: 1 }));
    expect(script.startsWith('#!/bin/bash -l\n#PBS -r n\n#PBS -m n\n')).toBe(true);
    expect(script).toContain('#PBS -l walltime=24:00:00');
    expect(script).toContain('#PBS -l select=1:mpiprocs=1\n');
    expect(script).toContain('cd "$PBS_O_WORKDIR"');
    expect(script).toContain("'mpirun' '-np' '23' 'pw.x' '-npool' '1' < 'aiida.in'");
    expect(
      s.getSubmitScript(
        template(s, { num_machines: 1, num_mpiprocs_per_machine: 2, num_cores_per_machine: 24 }),
      ),
    ).toContain('#PBS -l select=1:mpiprocs=2:ncpus=24');
    expect(
      s.getSubmitScript(
        template(s, { num_machines: 1, num_mpiprocs_per_machine: 1, num_cores_per_mpiproc: 24 }),
      ),
    ).toContain('#PBS -l select=1:mpiprocs=1:ncpus=24');
    expect(
      s.getSubmitScript(template(s, { num_machines: 2, num_mpiprocs_per_machine: 1 }, { maxMemoryKb: 1000 })),
    ).toContain('#PBS -l select=2:mpiprocs=1:mem=1000kb');
    expect(() =>
      s.getSubmitScript(template(s, { num_machines: 1, num_mpiprocs_per_machine: 1 }, { maxMemoryKb: -1 })),
    ).toThrow('max_memory_kb must be a positive integer');
  });

  it('Torque asks with one nodes statement', () => {
    const s = new TorqueScheduler();
    expect(s.getSubmitScript(template(s, { num_machines: 1, num_mpiprocs_per_machine: 1 }))).toContain(
      '#PBS -l nodes=1:ppn=1,walltime=24:00:00',
    );
    expect(
      s.getSubmitScript(
        template(s, { num_machines: 1, num_mpiprocs_per_machine: 2, num_cores_per_machine: 24 }),
      ),
    ).toContain('#PBS -l nodes=1:ppn=24,walltime=24:00:00');
    expect(
      s.getSubmitScript(
        template(
          s,
          { num_machines: 1, num_mpiprocs_per_machine: 1 },
          { maxMemoryKb: 512, maxWallclockSeconds: 90 },
        ),
      ),
    ).toContain('#PBS -l nodes=1:ppn=1,walltime=00:01:30,mem=512kb');
  });

  it('writes the common PBS options', () => {
    const s = new PbsproScheduler();
    const script = s.getSubmitScript(
      template(
        s,
        { num_machines: 1, num_mpiprocs_per_machine: 1 },
        {
          rerunnable: true,
          submitAsHold: true,
          email: 'me@example.org',
          emailOnStarted: true,
          emailOnTerminated: true,
          jobName: 'a-very-long-job-name-indeed',
          importSysEnvironment: true,
          schedOutputPath: 'out.txt',
          schedJoinFiles: true,
          queueName: 'workq',
          account: 'proj',
          priority: 10,
        },
      ),
    );
    for (const line of [
      '#PBS -h',
      '#PBS -r y',
      '#PBS -M me@example.org',
      '#PBS -m bea',
      '#PBS -N a-very-long-job',
      '#PBS -V',
      '#PBS -o out.txt',
      '#PBS -j oe',
      '#PBS -q workq',
      '#PBS -A proj',
      '#PBS -p 10',
    ]) {
      expect(script.split('\n')).toContain(line);
    }
    expect(() =>
      s.getSubmitScript(template(s, { num_machines: 1, num_mpiprocs_per_machine: 1 }, { jobResource: null })),
    ).toThrow(ValidationError);
  });
});
