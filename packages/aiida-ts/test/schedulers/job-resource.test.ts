import { describe, expect, it } from 'vitest';
import { ConfigurationError, ValidationError } from '../../src/errors.js';
import {
  DirectScheduler,
  LsfJobResourceClass,
  NodeNumberJobResourceClass,
  ParEnvJobResourceClass,
  PbsJobResourceClass,
  SlurmJobResourceClass,
  SlurmScheduler,
  SgeScheduler,
  jobResourceToAiidaDict,
  preprocessResources,
} from '../../src/schedulers.js';

describe('NodeNumberJobResource', () => {
  const validate = (input: Record<string, unknown>) => NodeNumberJobResourceClass.validate(input);

  it('derives the missing third count from the other two', () => {
    expect(validate({ num_mpiprocs_per_machine: 8, tot_num_mpiprocs: 16 })).toEqual({
      kind: 'node-number',
      numMachines: 2,
      numMpiprocsPerMachine: 8,
      totNumMpiprocs: 16,
      numCoresPerMachine: null,
      numCoresPerMpiproc: null,
    });
    expect(validate({ num_machines: 2, tot_num_mpiprocs: 16 }).numMpiprocsPerMachine).toBe(8);
    expect(validate({ num_machines: 3, num_mpiprocs_per_machine: 4 }).totNumMpiprocs).toBe(12);
  });

  it('accepts camelCase keys and integer strings', () => {
    expect(validate({ numMachines: '2', numMpiprocsPerMachine: 4 }).totNumMpiprocs).toBe(8);
  });

  it('needs two of the three counts', () => {
    expect(() => validate({ num_machines: 1 })).toThrow(
      'At least two among `num_machines`, `num_mpiprocs_per_machine` or `tot_num_mpiprocs` must be specified.',
    );
    expect(() => validate({})).toThrow(ValidationError);
  });

  it('refuses inconsistent totals with aiida’s message', () => {
    expect(() => validate({ num_machines: 2, num_mpiprocs_per_machine: 8, tot_num_mpiprocs: 32 })).toThrow(
      '`tot_num_mpiprocs` is not equal to `num_mpiprocs_per_machine * num_machines`.',
    );
    // 15 is not a multiple of 8: aiida's floor division gives 1 machine, and 8 != 15.
    expect(() => validate({ num_mpiprocs_per_machine: 8, tot_num_mpiprocs: 15 })).toThrow(
      '`tot_num_mpiprocs` is not equal',
    );
  });

  it('refuses zero, negative, non-integer and unknown values', () => {
    expect(() => validate({ num_machines: 0, num_mpiprocs_per_machine: 1 })).toThrow(
      '`num_machines` must be greater than or equal to one.',
    );
    expect(() => validate({ num_machines: 1, num_mpiprocs_per_machine: -2 })).toThrow(
      '`num_mpiprocs_per_machine` must be greater than or equal to one.',
    );
    expect(() => validate({ num_machines: 'two', num_mpiprocs_per_machine: 1 })).toThrow(
      '`num_machines` must be an integer when specified',
    );
    expect(() => validate({ num_machines: 1.5, num_mpiprocs_per_machine: 1 })).toThrow('must be an integer');
    expect(() => validate({ num_machines: 1, num_mpiprocs_per_machine: 1, foo: 1, bar: 2 })).toThrow(
      'these parameters were not recognized: foo, bar',
    );
    expect(() => validate({ num_machines: 1, numMachines: 1, num_mpiprocs_per_machine: 1 })).toThrow(
      'given twice',
    );
  });

  it('serialises to aiida’s dictionary', () => {
    expect(jobResourceToAiidaDict(validate({ num_machines: 1, num_mpiprocs_per_machine: 2 }))).toEqual({
      num_machines: 1,
      num_mpiprocs_per_machine: 2,
      num_cores_per_machine: null,
      num_cores_per_mpiproc: null,
      tot_num_mpiprocs: 2,
    });
  });
});

describe('SlurmJobResource', () => {
  const validate = (input: Record<string, unknown>) => SlurmJobResourceClass.validate(input);

  it('derives cores per process from cores per machine', () => {
    expect(
      validate({ num_machines: 1, num_mpiprocs_per_machine: 2, num_cores_per_machine: 24 })
        .numCoresPerMpiproc,
    ).toBe(12);
  });

  it('refuses inconsistent core counts with aiida’s messages', () => {
    expect(() =>
      validate({ num_cores_per_machine: 1, tot_num_mpiprocs: 1, num_mpiprocs_per_machine: 2 }),
    ).toThrow('`tot_num_mpiprocs` is not equal to `num_mpiprocs_per_machine * num_machines`.');
    expect(() => validate({ num_machines: 1, tot_num_mpiprocs: 1, num_cores_per_machine: 0 })).toThrow(
      'num_cores_per_machine must be greater than or equal to one.',
    );
    expect(() => validate({ num_machines: 1, tot_num_mpiprocs: 4, num_cores_per_machine: 3 })).toThrow(
      '`num_cores_per_machine` must be equal to `num_cores_per_mpiproc * num_mpiprocs_per_machine`',
    );
    expect(() =>
      validate({
        num_machines: 1,
        num_mpiprocs_per_machine: 1,
        num_cores_per_machine: 24,
        num_cores_per_mpiproc: 23,
      }),
    ).toThrow('`num_cores_per_machine` must be equal to');
  });
});

describe('PbsJobResource', () => {
  it('derives cores per machine from cores per process', () => {
    const r = PbsJobResourceClass.validate({
      num_machines: 1,
      num_mpiprocs_per_machine: 2,
      num_cores_per_mpiproc: 3,
    });
    expect(r.numCoresPerMachine).toBe(6);
  });
  it('refuses an inconsistent pair', () => {
    expect(() =>
      PbsJobResourceClass.validate({
        num_machines: 1,
        num_mpiprocs_per_machine: 1,
        num_cores_per_machine: 24,
        num_cores_per_mpiproc: 23,
      }),
    ).toThrow(ValidationError);
  });
});

describe('ParEnvJobResource', () => {
  const validate = (input: Record<string, unknown>) => ParEnvJobResourceClass.validate(input);
  it('needs a parallel environment name and a process count', () => {
    expect(validate({ parallel_env: 'mpi8', tot_num_mpiprocs: 16 })).toEqual({
      kind: 'par-env',
      parallelEnv: 'mpi8',
      totNumMpiprocs: 16,
    });
    expect(() => validate({ tot_num_mpiprocs: 16 })).toThrow(
      '`parallel_env` must be specified and must be a string',
    );
    expect(() => validate({ parallel_env: 3, tot_num_mpiprocs: 16 })).toThrow(
      '`parallel_env` must be specified',
    );
    expect(() => validate({ parallel_env: 'mpi' })).toThrow(
      '`tot_num_mpiprocs` must be specified and must be an integer',
    );
    expect(() => validate({ parallel_env: 'mpi', tot_num_mpiprocs: 0 })).toThrow(
      '`tot_num_mpiprocs` must be greater than or equal to one.',
    );
    expect(() => validate({ parallel_env: 'mpi', tot_num_mpiprocs: 1, num_machines: 1 })).toThrow(
      'these parameters were not recognized: num_machines',
    );
  });
});

describe('LsfJobResource', () => {
  const validate = (input: Record<string, unknown>) => LsfJobResourceClass.validate(input);
  it.each([
    [
      { tot_num_mpiprocs: 'Not-a-Number' },
      ValidationError,
      '`tot_num_mpiprocs` must be specified and must be an integer',
    ],
    [{ parallel_env: 0, tot_num_mpiprocs: 1 }, ValidationError, '`parallel_env` must be a string'],
    [
      { num_machines: 1, tot_num_mpiprocs: 1 },
      ConfigurationError,
      '`num_machines` cannot be set unless `use_num_machines` is `True`.',
    ],
    [
      { use_num_machines: true, tot_num_mpiprocs: 1 },
      ConfigurationError,
      'must set `num_machines` when `use_num_machines` is `True`.',
    ],
    [
      { num_machines: 'string', use_num_machines: true, tot_num_mpiprocs: 1 },
      ValidationError,
      '`num_machines` must be an integer',
    ],
    [{}, ValidationError, '`tot_num_mpiprocs` must be specified and must be an integer'],
    [{ tot_num_mpiprocs: 0 }, ValidationError, 'tot_num_mpiprocs must be >= 1'],
    [
      { default_mpiprocs_per_machine: 1, tot_num_mpiprocs: 1 },
      ConfigurationError,
      '`default_mpiprocs_per_machine` cannot be set.',
    ],
  ])('refuses %j', (input, errorClass, message) => {
    expect(() => validate(input)).toThrow(errorClass);
    expect(() => validate(input)).toThrow(message);
  });
  it('accepts a host selection and a node count', () => {
    expect(
      validate({ tot_num_mpiprocs: 2, parallel_env: 'hostA', use_num_machines: true, num_machines: 2 }),
    ).toEqual({
      kind: 'lsf',
      parallelEnv: 'hostA',
      totNumMpiprocs: 2,
      useNumMachines: true,
      numMachines: 2,
    });
  });
});

describe('scheduler resource helpers', () => {
  it('createJobResource uses the plugin’s class', () => {
    expect(new SgeScheduler().createJobResource({ parallel_env: 'smp', tot_num_mpiprocs: 2 }).kind).toBe(
      'par-env',
    );
    expect(() =>
      new SlurmScheduler().createJobResource({ parallel_env: 'smp', tot_num_mpiprocs: 2 }),
    ).toThrow('these parameters were not recognized: parallel_env');
  });

  it('preprocessResources fills the computer default only where aiida does', () => {
    const direct = new DirectScheduler();
    expect(direct.preprocessResources({ num_machines: 2 }, 4)).toEqual({
      num_machines: 2,
      num_mpiprocs_per_machine: 4,
    });
    // Two counts already fix the third: the default is not used.
    expect(direct.preprocessResources({ num_machines: 2, tot_num_mpiprocs: 6 }, 4)).toEqual({
      num_machines: 2,
      tot_num_mpiprocs: 6,
    });
    expect(direct.createJobResource(direct.preprocessResources({ numMachines: 2 }, 4)).totNumMpiprocs).toBe(
      8,
    );
    // SGE's resources take no per-machine count.
    expect(preprocessResources(new SgeScheduler().jobResourceClass, { parallel_env: 'smp' }, 4)).toEqual({
      parallel_env: 'smp',
    });
  });
});
