import { describe, expect, it } from 'vitest';
import { InvalidOperationError, MissingEntryPointError, ValidationError } from '../../src/errors.js';
import {
  DirectScheduler,
  LsfScheduler,
  PbsproScheduler,
  SgeScheduler,
  SlurmScheduler,
  TorqueScheduler,
  listSchedulerEntryPoints,
  loadScheduler,
  registerScheduler,
} from '../../src/schedulers.js';

describe('scheduler registry', () => {
  it('loads aiida’s six plugins by entry point name', () => {
    expect(loadScheduler('core.direct')).toBeInstanceOf(DirectScheduler);
    expect(loadScheduler('core.slurm')).toBeInstanceOf(SlurmScheduler);
    expect(loadScheduler('core.pbspro')).toBeInstanceOf(PbsproScheduler);
    expect(loadScheduler('core.torque')).toBeInstanceOf(TorqueScheduler);
    expect(loadScheduler('core.sge')).toBeInstanceOf(SgeScheduler);
    expect(loadScheduler('core.lsf')).toBeInstanceOf(LsfScheduler);
    expect(loadScheduler('core.slurm').entryPoint).toBe('core.slurm');
  });

  it('has aiida’s can_query_by_user flags', () => {
    const flags = Object.fromEntries(
      ['core.direct', 'core.slurm', 'core.pbspro', 'core.torque', 'core.sge', 'core.lsf'].map((name) => [
        name,
        loadScheduler(name).getFeature('can_query_by_user'),
      ]),
    );
    expect(flags).toEqual({
      'core.direct': true,
      'core.slurm': false,
      'core.pbspro': false,
      'core.torque': false,
      'core.sge': true,
      'core.lsf': false,
    });
    expect(() => loadScheduler('core.slurm').getFeature('can_fly')).toThrow(
      'Feature can_fly not implemented',
    );
  });

  it('names the known entry points when one is missing', () => {
    expect(() => loadScheduler('core.condor')).toThrow(MissingEntryPointError);
    expect(() => loadScheduler('core.condor')).toThrow(/known: .*core\.direct.*core\.slurm/);
  });

  it('registers plugin schedulers, refusing taken or invalid names', () => {
    registerScheduler('test.my_slurm', (options) => new SlurmScheduler(options));
    expect(listSchedulerEntryPoints()).toContain('test.my_slurm');
    expect(loadScheduler('test.my_slurm')).toBeInstanceOf(SlurmScheduler);
    expect(() => registerScheduler('core.slurm', (o) => new SlurmScheduler(o))).toThrow(
      InvalidOperationError,
    );
    expect(() => registerScheduler('bad name!', (o) => new SlurmScheduler(o))).toThrow(ValidationError);
  });

  it('needs a transport before running commands', async () => {
    await expect(loadScheduler('core.direct').getJobs()).rejects.toThrow('setTransport');
  });
});

describe('job listing through a transport', () => {
  const canned = (stdout: string, stderr = '', retval = 0) => ({
    execCommandWait: () => Promise.resolve({ retval, exitCode: retval, stdout, stderr }),
  });

  it('refuses a reply that says nothing at all about the jobs asked for', async () => {
    for (const scheduler of [
      new PbsproScheduler({ transport: canned('') }),
      new LsfScheduler({ transport: canned('') }),
    ]) {
      await expect(scheduler.getJobs({ jobs: ['1'] })).rejects.toThrow('printed nothing at all for jobs 1');
    }
  });

  it('reads finished jobs reported on stderr as absent, and an empty user listing as no jobs', async () => {
    const pbs = new PbsproScheduler({ transport: canned('', 'qstat: Unknown Job Id 1.srv\n', 153) });
    await expect(pbs.getJobs({ jobs: ['1.srv'] })).resolves.toEqual([]);
    const lsf = new LsfScheduler({ transport: canned('', 'Job <5> is not found\n') });
    await expect(lsf.getJobs({ jobs: ['5'] })).resolves.toEqual([]);
    await expect(new PbsproScheduler({ transport: canned('') }).getJobs({ user: 'alice' })).resolves.toEqual(
      [],
    );
  });

  it('returns a record keyed by job id', async () => {
    const header =
      'JOBID^^^ST^^^REASON^^^EXEC_HOST^^^USER^^^NODES^^^CPUS^^^NODELIST(REASON)^^^PARTITION^^^TIME_LIMIT^^^TIME^^^START_TIME^^^NAME^^^SUBMIT_TIME';
    const line =
      '42^^^PD^^^Priority^^^n/a^^^u^^^1^^^1^^^(Priority)^^^debug^^^10:00^^^0:00^^^N/A^^^t^^^2026-01-01T00:00:00';
    const slurm = new SlurmScheduler({ transport: canned(`${header}\n${line}\n`) });
    const byId = await slurm.getJobs({ jobs: ['42'], asDict: true });
    expect(Object.keys(byId)).toEqual(['42']);
    expect(byId['42']!.jobState).toBe('queued');
  });
});
