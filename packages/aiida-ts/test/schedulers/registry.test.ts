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
    expect(() => loadScheduler('core.slurm').getFeature('can_fly')).toThrow('Feature can_fly not implemented');
  });

  it('names the known entry points when one is missing', () => {
    expect(() => loadScheduler('core.condor')).toThrow(MissingEntryPointError);
    expect(() => loadScheduler('core.condor')).toThrow(/known: .*core\.direct.*core\.slurm/);
  });

  it('registers plugin schedulers, refusing taken or invalid names', () => {
    registerScheduler('test.my_slurm', (options) => new SlurmScheduler(options));
    expect(listSchedulerEntryPoints()).toContain('test.my_slurm');
    expect(loadScheduler('test.my_slurm')).toBeInstanceOf(SlurmScheduler);
    expect(() => registerScheduler('core.slurm', (o) => new SlurmScheduler(o))).toThrow(InvalidOperationError);
    expect(() => registerScheduler('bad name!', (o) => new SlurmScheduler(o))).toThrow(ValidationError);
  });

  it('needs a transport before running commands', async () => {
    await expect(loadScheduler('core.direct').getJobs()).rejects.toThrow('setTransport');
  });
});
