import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  CodeRunMode,
  DirectScheduler,
  buildJobTemplateCodeInfo,
  formatMpirunCommand,
  listSchedulerEntryPoints,
  loadScheduler,
  type JobResource,
  type JobTemplateInput,
  type Scheduler,
} from '../../src/schedulers.js';

/** A resource each plugin accepts. */
function resourceFor(scheduler: Scheduler): JobResource {
  switch (scheduler.jobResourceClass.validKeys.includes('parallel_env') ? scheduler.entryPoint : 'node') {
    case 'core.sge':
      return scheduler.createJobResource({ parallel_env: 'smp', tot_num_mpiprocs: 2 });
    case 'core.lsf':
      return scheduler.createJobResource({ tot_num_mpiprocs: 2 });
    default:
      return scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 2 });
  }
}

const ALL = listSchedulerEntryPoints().filter((name) => name.startsWith('core.'));

describe.each(ALL)('%s submission script', (entryPoint) => {
  const scheduler = loadScheduler(entryPoint);
  const base = (extra: Partial<JobTemplateInput> = {}): JobTemplateInput => ({
    jobResource: resourceFor(scheduler),
    codesRunMode: CodeRunMode.SERIAL,
    codesInfo: [{ cmdlineParams: ['pw.x', '-npool', '1'], stdinName: 'aiida.in', stdoutName: 'aiida.out' }],
    ...extra,
  });

  it('exports the job environment with single or double quotes (aiida’s test_all)', () => {
    const env = { SOME_STRING: 'value', SOME_INTEGER: 1, WITH_QUOTE: `it's "x"` };
    const single = scheduler.getSubmitScript(base({ jobEnvironment: env }));
    expect(single).toContain("export SOME_STRING='value'");
    expect(single).toContain("export SOME_INTEGER='1'");
    expect(single).toContain(`export WITH_QUOTE='it'"'"'s "x"'`);
    const double = scheduler.getSubmitScript(
      base({ jobEnvironment: env, environmentVariablesDoubleQuotes: true }),
    );
    expect(double).toContain('export SOME_STRING="value"');
    expect(double).toContain('export SOME_INTEGER="1"');
    expect(double).toContain(`export WITH_QUOTE="it's "'"'"x"'"'""`);
    expect(double).toMatch(/# ENVIRONMENT VARIABLES BEGIN ###\n[\s\S]*# ENVIRONMENT VARIABLES END ###/);
  });

  it('uses #!/bin/bash unless told otherwise, and keeps an explicit empty first line', () => {
    expect(scheduler.getSubmitScript(base()).split('\n')[0]).toBe('#!/bin/bash');
    expect(scheduler.getSubmitScript(base({ shebang: null })).split('\n')[0]).toBe('#!/bin/bash');
    expect(scheduler.getSubmitScript(base({ shebang: '' })).split('\n')[0]).toBe('');
    expect(scheduler.getSubmitScript(base({ shebang: '#!/bin/bash -l' })).split('\n')[0]).toBe(
      '#!/bin/bash -l',
    );
  });

  it('places prepend text, the run line, append text and custom commands in aiida’s order', () => {
    const script = scheduler.getSubmitScript(
      base({
        prependText: 'module load qe',
        appendText: 'echo finished',
        customSchedulerCommands: '# CUSTOM-LINE',
      }),
    );
    const at = (text: string) => script.indexOf(text);
    expect(at("'pw.x' '-npool' '1' < 'aiida.in' > 'aiida.out'")).toBeGreaterThan(at('module load qe'));
    expect(at('echo finished')).toBeGreaterThan(at("'pw.x'"));
    expect(at('# CUSTOM-LINE')).toBeGreaterThan(0);
    expect(at('# CUSTOM-LINE')).toBeLessThan(at('module load qe'));
  });

  it('refuses a template without a run mode or with a non-numeric walltime', () => {
    const { codesRunMode: _unused, ...withoutMode } = base();
    expect(() => scheduler.getSubmitScript(withoutMode as JobTemplateInput)).toThrow(ValidationError);
    expect(() => scheduler.getSubmitScript(base({ maxWallclockSeconds: 'Not-a-Number' }))).toThrow(
      /max_wallclock_seconds must be an integer/,
    );
  });

  it('refuses environment variable names that are not names', () => {
    expect(() => scheduler.getSubmitScript(base({ jobEnvironment: { 'A; rm -rf ~': 'x' } }))).toThrow(
      'is not a variable name',
    );
  });
});

describe('run lines', () => {
  const scheduler = new DirectScheduler();
  const resource = scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 1 });

  it('runs codes one after the other in serial mode', () => {
    const script = scheduler.getSubmitScript({
      jobResource: resource,
      codesRunMode: 'serial',
      codesInfo: [
        {
          prependCmdlineParams: ['mpirun', '-np', '4'],
          cmdlineParams: ['a.x'],
          stdinName: 'in',
          stderrName: 'err',
        },
        { cmdlineParams: ['b.x'], stdoutName: 'out', joinFiles: true, stderrName: 'ignored' },
      ],
    });
    expect(script).toContain("'mpirun' '-np' '4' 'a.x' < 'in' 2> 'err'\n\n'b.x' > 'out' 2>&1\n");
  });

  it('runs codes in the background and waits in parallel mode', () => {
    const script = scheduler.getSubmitScript({
      jobResource: resource,
      codesRunMode: 'parallel',
      codesInfo: [{ cmdlineParams: ['a.x'] }, { cmdlineParams: ['b.x'] }],
    });
    expect(script).toContain("'a.x' &\n\n'b.x' &\n\nwait\n");
  });

  it('quotes with double quotes where asked and wraps the arguments for container engines', () => {
    const script = scheduler.getSubmitScript({
      jobResource: resource,
      codesRunMode: 'serial',
      codesInfo: [
        {
          prependCmdlineParams: ['docker', 'run', 'img', 'sh', '-c'],
          cmdlineParams: ['pw.x', '$HOME/in'],
          useDoubleQuotes: [false, true],
          wrapCmdlineParams: true,
          stdinName: 'aiida.in',
        },
      ],
    });
    // One word for the container's shell: `"pw.x" "$HOME/in" < 'aiida.in'` ($HOME expands in the job).
    expect(script).toContain(
      `'docker' 'run' 'img' 'sh' '-c' ""'"'"pw.x"'"'" "'"'"$HOME/in"'"'" < 'aiida.in'"`,
    );
  });
});

describe('codes info with MPI', () => {
  const resource = new DirectScheduler().createJobResource({ num_machines: 2, num_mpiprocs_per_machine: 4 });

  it('fills the mpirun placeholders from the resources', () => {
    expect(
      formatMpirunCommand(
        ['mpirun', '-np', '{tot_num_mpiprocs}', '--map-by', 'ppr:{num_mpiprocs_per_machine}:node', '{{x}}'],
        resource,
      ),
    ).toEqual(['mpirun', '-np', '8', '--map-by', 'ppr:4:node', '{x}']);
    expect(() => formatMpirunCommand(['srun', '-n', '{nprocs}'], resource)).toThrow(
      "unknown placeholder '{nprocs}'",
    );
  });

  it('puts the mpirun command before the executable only with withmpi', () => {
    const parallel = buildJobTemplateCodeInfo({
      withmpi: true,
      mpirunCommand: ['mpirun', '-np', '{tot_num_mpiprocs}'],
      mpirunExtraParams: ['--bind-to', 'core'],
      jobResource: resource,
      executable: '/opt/qe/bin/pw.x',
      cmdlineParams: ['-in', 'aiida.in'],
      stdoutName: 'aiida.out',
    });
    expect(parallel.prependCmdlineParams).toEqual(['mpirun', '-np', '8', '--bind-to', 'core']);
    expect(parallel.cmdlineParams).toEqual(['/opt/qe/bin/pw.x', '-in', 'aiida.in']);
    const serial = buildJobTemplateCodeInfo({ withmpi: false, jobResource: resource, executable: 'pw.x' });
    expect(serial.prependCmdlineParams).toEqual([]);
    expect(() =>
      buildJobTemplateCodeInfo({ withmpi: true, jobResource: resource, executable: 'pw.x' }),
    ).toThrow('no mpirun command');
  });
});
