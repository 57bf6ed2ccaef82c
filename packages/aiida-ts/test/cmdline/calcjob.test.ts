/**
 * `verdi calcjob …`, `verdi computer goto` and `verdi data core.remote …` on jobs that really ran on the `localhost`
 * computer of a `verdi presto` profile: what each prints, its exit code, and the bad input it names.
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { ArithmeticAddCalculation, runGetNode, TemplatereplacerCalculation } from '../../src/engine.js';
import { getManager } from '../../src/engine/manager.js';
import { CalcJobNode, Computer, Dict, InstalledCode, Int } from '../../src/orm.js';
import { verdiInProcess } from './verdi-in-process.js';
import { verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-calcjob-');
const verdi = verdiInProcess;
const pk = { active: 0, add: 0, template: 0, int: 0, remote: 0, templateRemote: 0, cleaned: 0 };
let addWorkdir = '';
let templateWorkdir = '';

/** The output of a run, for failure messages. */
const show = (result: { code: number; stdout: string; stderr: string }) =>
  `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

// The jobs run in login shells (the localhost of `verdi presto`): a HOME of the test's own keeps the machine user's
// start-up files out of them.
const previousHome = process.env['HOME'];

beforeAll(async () => {
  setConfigDir(sandbox.configDir);
  process.env['HOME'] = sandbox.base;
  const created = await verdi(['presto']);
  expect(created.code, show(created)).toBe(0);
  await loadProfile();
  try {
    const localhost = await Computer.get({ label: 'localhost' });
    await localhost.setProperties({ minimum_scheduler_poll_interval: 0.05 });
    const code = await new InstalledCode(
      { computer: localhost, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
      { label: 'bash' },
    ).store();
    const add = await runGetNode(ArithmeticAddCalculation, { x: 4, y: 5, code });
    pk.add = add.node.pk!;
    addWorkdir = String((add.node as CalcJobNode).getRemoteWorkdir());
    pk.remote = ((await (add.node as CalcJobNode).getRemoteFolder()) ?? { pk: 0 }).pk ?? 0;
    const template = await runGetNode(TemplatereplacerCalculation, {
      code,
      parameters: new Dict({ greeting: 'hello' }),
      template: new Dict({
        input_file_template: 'echo {greeting}\nmkdir -p sub/deeper\necho inner > sub/inner.txt\n',
        input_file_name: 'job.sh',
        cmdline_params: ['job.sh'],
        output_file_name: 'job.out',
      }),
      metadata: {
        options: { resources: { num_machines: 1 }, additional_retrieve_list: ['sub'] },
      },
    });
    pk.template = template.node.pk!;
    templateWorkdir = String((template.node as CalcJobNode).getRemoteWorkdir());
    pk.templateRemote = ((await (template.node as CalcJobNode).getRemoteFolder()) ?? { pk: 0 }).pk ?? 0;
    pk.int = (await new Int(1).store()).pk!;
    // a job in the middle of its life, as the engine leaves it while the scheduler runs it
    const active = await new CalcJobNode(undefined, { computer: localhost }).store();
    await active.setProcessLabel('ArithmeticAddCalculation');
    await active.setProcessState('waiting');
    await active.setProcessStatus('Monitoring scheduler: job state RUNNING');
    await active.setState('withscheduler');
    await active.setJobId('4242');
    await active.setSchedulerState('running');
    pk.active = active.pk!;
  } finally {
    await getManager().close();
    await unloadProfile();
  }
}, 120_000);
afterAll(() => {
  if (previousHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = previousHome;
  setConfigDir(undefined);
  sandbox.cleanup();
});

describe('verdi calcjob: input and output files', () => {
  it('inputls lists the input files, inputcat prints one (by default the input_filename option)', async () => {
    const listed = await verdi(['calcjob', 'inputls', String(pk.add)]);
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual(['.aiida', '_aiidasubmit.sh', 'aiida.in']);
    const nested = await verdi(['calcjob', 'inputls', String(pk.add), '.aiida']);
    expect(nested.stdout.split('\n').filter(Boolean)).toEqual(['calcinfo.json', 'job_tmpl.json']);
    const input = await verdi(['calcjob', 'inputcat', String(pk.add)]);
    expect(input.code, show(input)).toBe(0);
    expect(input.stdout).toBe('echo $((4 + 5))\n');
    const script = await verdi(['calcjob', 'inputcat', String(pk.add), '_aiidasubmit.sh']);
    expect(script.stdout).toMatch(/^#!\/bin\/bash/);
  });

  it('outputls and outputcat read the retrieved files (by default the output_filename option)', async () => {
    const listed = await verdi(['calcjob', 'outputls', String(pk.add)]);
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual([
      '_scheduler-stderr.txt',
      '_scheduler-stdout.txt',
      'aiida.out',
    ]);
    const output = await verdi(['calcjob', 'outputcat', String(pk.add)]);
    expect(output.code, show(output)).toBe(0);
    expect(output.stdout).toBe('9\n');
    const nested = await verdi(['calcjob', 'outputls', String(pk.template), 'sub']);
    expect(nested.stdout.split('\n').filter(Boolean)).toEqual(['deeper', 'inner.txt']);
    const coloured = await verdi(['calcjob', 'outputls', '-c', String(pk.template), 'sub'], {
      FORCE_COLOR: '1',
    });
    expect(coloured.stdout).toContain('\u001b[34mdeeper');
    expect((await verdi(['calcjob', 'outputcat', String(pk.template), 'sub/inner.txt'])).stdout).toBe(
      'inner\n',
    );
  });

  it('names a missing file, a folder, a job with no default file and a node that is no job', async () => {
    const missing = await verdi(['calcjob', 'inputcat', String(pk.add), 'nope.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`"nope.txt" does not exist for CalcJob<${String(pk.add)}>`);
    const folder = await verdi(['calcjob', 'outputcat', String(pk.template), 'sub']);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain('"sub" is a directory');
    const noDefault = await verdi(['calcjob', 'inputcat', String(pk.template)]);
    expect(noDefault.code).toBe(1);
    expect(noDefault.stderr).toContain('no default input file (option input_filename): give a PATH');
    const badPath = await verdi(['calcjob', 'inputls', String(pk.add), 'nowhere']);
    expect(badPath.code).toBe(1);
    expect(badPath.stderr).toContain('`nowhere` does not exist in the repository');
    const notJob = await verdi(['calcjob', 'inputls', String(pk.int)]);
    expect(notJob.code).toBe(2);
    expect(notJob.stderr).toContain(
      `invalid value for CALCJOB: node ${String(pk.int)} is a Int, not a CalcJobNode`,
    );
    const unknown = await verdi(['calcjob', 'outputls', '999999']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid value for CALCJOB');
  });
});

describe('verdi calcjob res', () => {
  it('prints the default output Dict, or some keys of it, and names a missing key', async () => {
    const all = await verdi(['calcjob', 'res', String(pk.template)]);
    expect(all.code, show(all)).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({ retrieved_temporary_files: [], value: 'hello\n' });
    const some = await verdi(['calcjob', 'res', String(pk.template), '-k', 'value']);
    expect(JSON.parse(some.stdout)).toEqual({ value: 'hello\n' });
    const yaml = await verdi(['calcjob', 'res', String(pk.template), '-f', 'yaml']);
    expect(yaml.stdout).toMatch(/^value: /);
    const missing = await verdi(['calcjob', 'res', String(pk.template), '-k', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("key 'nope' was not found in the results dictionary");
  });

  it('refuses a job class with no default output node and a bad format', async () => {
    const add = await verdi(['calcjob', 'res', String(pk.add)]);
    expect(add.code).toBe(1);
    expect(add.stderr).toContain('names no default output node');
    const badFormat = await verdi(['calcjob', 'res', String(pk.template), '-f', 'xml']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("'xml'");
  });
});

describe('the remote work directory: remotecat, verdi data core.remote, gotocomputer, goto', () => {
  it('remotecat prints a file of the work directory and names a missing one or an escape', async () => {
    const out = await verdi(['calcjob', 'remotecat', String(pk.add), 'aiida.out']);
    expect(out.code, show(out)).toBe(0);
    expect(out.stdout).toBe('9\n');
    const missing = await verdi(['calcjob', 'remotecat', String(pk.add), 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('the file `nope` does not exist in the remote folder');
    const escape = await verdi(['calcjob', 'remotecat', String(pk.add), '../../x']);
    expect(escape.code).toBe(1);
    expect(escape.stderr).toContain('`../../x` leaves the remote folder');
    const noArg = await verdi(['calcjob', 'remotecat', String(pk.add)]);
    expect(noArg.code).toBe(2);
  });

  it('data core.remote ls (-l), cat, show and size', async () => {
    const listed = await verdi(['data', 'core.remote', 'ls', String(pk.remote)]);
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual(readdirSync(addWorkdir).sort());
    const long = await verdi(['data', 'core.remote', 'ls', '-l', String(pk.remote)]);
    expect(long.stdout).toMatch(/^-rw.{7} +\d+ {2}\d\d \w{3} \d{4} \d\d:\d\d {2}aiida\.in$/m);
    expect(long.stdout).toMatch(/^drwx.{6} +\d+ .* \.aiida$/m);
    const cat = await verdi(['data', 'core.remote', 'cat', String(pk.remote), 'aiida.in']);
    expect(cat.stdout).toBe('echo $((4 + 5))\n');
    const shown = await verdi(['data', 'core.remote', 'show', String(pk.remote)]);
    expect(shown.stdout).toBe(
      `- Remote computer name:\n  localhost\n- Remote folder full path:\n  ${addWorkdir}\n`,
    );
    const bytes = await verdi([
      'data',
      'core.remote',
      'size',
      String(pk.remote),
      '-m',
      'stat',
      '-b',
      '-p',
      'aiida.in',
    ]);
    expect(bytes.code, show(bytes)).toBe(0);
    expect(bytes.stdout).toBe(`${'echo $((4 + 5))\n'.length}\n`);
    const du = await verdi(['data', 'core.remote', 'size', String(pk.remote)]);
    expect(du.code, show(du)).toBe(0);
    expect(du.stdout).toMatch(/obtained via `du`: \d/);
  });

  it('data core.remote names a node that is no RemoteData, a missing folder and a bad method', async () => {
    const notRemote = await verdi(['data', 'core.remote', 'show', String(pk.int)]);
    expect(notRemote.code).toBe(2);
    expect(notRemote.stderr).toContain('is a Int, not a RemoteData');
    const missing = await verdi(['data', 'core.remote', 'ls', String(pk.remote), 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist, is not a directory or has been deleted');
    const absolute = await verdi(['data', 'core.remote', 'ls', String(pk.remote), '/etc']);
    expect(absolute.code).toBe(1);
    expect(absolute.stderr).toContain('`/etc` is absolute');
    const method = await verdi(['data', 'core.remote', 'size', String(pk.remote), '-m', 'guess']);
    expect(method.code).toBe(2);
  });

  it('calcjob gotocomputer and computer goto open a shell in the work directory', async () => {
    const job = await verdi(['calcjob', 'gotocomputer', String(pk.add)], {}, 'pwd\n');
    expect(job.code, show(job)).toBe(0);
    expect(job.stdout.trim().split('\n').at(-1)).toBe(addWorkdir);
    const computer = await verdi(['computer', 'goto', 'localhost'], {}, 'pwd\n');
    expect(computer.code, show(computer)).toBe(0);
    expect(computer.stdout.trim().split('\n').at(-1)).toMatch(/scratch\/presto/);
    const unknown = await verdi(['computer', 'goto', 'nowhere']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid value for COMPUTER');
  });
});

describe('verdi process show, status and list: where a calculation job is', () => {
  it('show gives the step, the job id, the scheduler state and the work directory', async () => {
    const active = await verdi(['process', 'show', String(pk.active)]);
    expect(active.code, show(active)).toBe(0);
    expect(active.stdout).toMatch(/^calcjob state +withscheduler$/m);
    expect(active.stdout).toMatch(/^job id +4242$/m);
    expect(active.stdout).toMatch(/^scheduler state +running$/m);
    const finished = await verdi(['process', 'show', String(pk.add)]);
    expect(finished.stdout).toMatch(/^job id +\d+$/m);
    expect(finished.stdout).toContain(`remote workdir   ${addWorkdir}`);
    const json = (await verdi(['process', 'show', String(pk.active), '--json'])).stdout;
    expect(JSON.parse(json)).toMatchObject([
      { calcjob_state: 'withscheduler', job_id: '4242', scheduler_state: 'running' },
    ]);
  });

  it('status draws an active job with its step and scheduler state, a finished one with its exit status', async () => {
    const active = await verdi(['process', 'status', String(pk.active)]);
    expect(active.stdout.trim()).toBe(
      `ArithmeticAddCalculation<${String(pk.active)}> Waiting [withscheduler | job 4242: running]`,
    );
    const finished = await verdi(['process', 'status', String(pk.add)]);
    expect(finished.stdout.trim()).toBe(`ArithmeticAddCalculation<${String(pk.add)}> Finished [0]`);
  });

  it('list projects the job id, the step and the scheduler state', async () => {
    const listed = await verdi([
      'process',
      'list',
      '-a',
      '-P',
      'pk',
      'job_id',
      'job_state',
      'scheduler_state',
      'process_status',
      '--json',
    ]);
    expect(listed.code, show(listed)).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual({
      pk: pk.active,
      job_id: '4242',
      job_state: 'withscheduler',
      scheduler_state: 'running',
      process_status: 'Monitoring scheduler: job state RUNNING',
    });
  });
});

describe('verdi calcjob cleanworkdir', () => {
  it('refuses jobs with filters, asks before cleaning, cleans once, then finds nothing', async () => {
    const both = await verdi(['calcjob', 'cleanworkdir', String(pk.template), '-p', '1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give either calculation jobs or the filters');
    const badDays = await verdi(['calcjob', 'cleanworkdir', '-p', 'soon']);
    expect(badDays.code).toBe(2);
    expect(badDays.stderr).toContain('invalid value for -p/--past-days: `soon` is not a whole number');
    const notJob = await verdi(['calcjob', 'cleanworkdir', String(pk.int), '-f']);
    expect(notJob.code).toBe(2);
    const declined = await verdi(['calcjob', 'cleanworkdir', String(pk.template)], {}, 'n\n');
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('Cleaning cancelled.');
    expect(existsSync(`${templateWorkdir}/job.sh`)).toBe(true);
    const cleaned = await verdi(['calcjob', 'cleanworkdir', String(pk.template), '-f']);
    expect(cleaned.code, show(cleaned)).toBe(0);
    expect(cleaned.stdout).toContain('1 remote folders cleaned on localhost');
    expect(readdirSync(templateWorkdir)).toEqual([]);
    // the other job's work directory is untouched
    expect(existsSync(`${addWorkdir}/aiida.in`)).toBe(true);
    const again = await verdi(['calcjob', 'cleanworkdir', String(pk.template), '-f']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no calculation jobs found with the given criteria');
    // filters select the jobs: the add job is the only one left that has not been cleaned
    const filtered = await verdi(['calcjob', 'cleanworkdir', '-p', '1', '-c', 'localhost', '-f']);
    expect(filtered.code, show(filtered)).toBe(0);
    expect(readdirSync(addWorkdir)).toEqual([]);
  });
});
