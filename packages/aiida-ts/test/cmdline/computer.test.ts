import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { Computer, RemoteData } from '../../src/orm.js';
import { runOnTerminal } from '../computers/terminal.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
const { verdi, base, configDir } = sandbox;

beforeAll(async () => {
  const created = await verdi(['presto']);
  expect(created.code, describeResult(created)).toBe(0);
});
afterAll(() => sandbox.cleanup());

interface ComputerJson {
  label: string;
  hostname: string;
  description: string;
  transport_type: string;
  scheduler_type: string;
  work_dir: string;
  shebang: string;
  mpirun_command: string;
  default_mpiprocs_per_machine: number | null;
  default_memory_per_machine: number | null;
  use_double_quotes: boolean;
  prepend_text: string;
  append_text: string;
}

describe('verdi computer', () => {
  it('setup from options, non-interactively, then show and list', async () => {
    const result = await verdi([
      'computer',
      'setup',
      '-n',
      '--label',
      'cluster',
      '--hostname',
      'cluster.example.org',
      '--description',
      'A cluster',
      '--transport',
      'core.ssh',
      '--scheduler',
      'core.slurm',
      '--work-dir',
      '/scratch/{username}/aiida',
      '--mpirun-command',
      'srun -n {tot_num_mpiprocs}',
      '--mpiprocs-per-machine',
      '36',
      '--default-memory-per-machine',
      '1000000',
      '--prepend-text',
      'module load x',
      '--append-text',
      'echo done',
      '--use-double-quotes',
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(/Success: Computer<\d+> cluster created/);
    const show = await verdi(['computer', 'show', 'cluster', '--json']);
    expect(show.json<ComputerJson>()).toMatchObject({
      label: 'cluster',
      hostname: 'cluster.example.org',
      description: 'A cluster',
      transport_type: 'core.ssh',
      scheduler_type: 'core.slurm',
      work_dir: '/scratch/{username}/aiida',
      shebang: '#!/bin/bash',
      mpirun_command: 'srun -n {tot_num_mpiprocs}',
      default_mpiprocs_per_machine: 36,
      default_memory_per_machine: 1000000,
      use_double_quotes: true,
      prepend_text: 'module load x',
      append_text: 'echo done',
    });
    const table = await verdi(['computer', 'show', 'cluster']);
    expect(table.stdout).toMatch(/^Mpirun command\s+srun -n \{tot_num_mpiprocs\}$/m);
    const list = await verdi(['computer', 'list']);
    expect(list.stdout).toMatch(/^\s*\d+\s+cluster\s+cluster\.example\.org\s+core\.ssh\s+core\.slurm$/m);
    expect(list.stdout).toMatch(/^\s*\d+\s+localhost\s+localhost\s+core\.local\s+core\.direct$/m);
    expect((await verdi(['computer', 'list', '--raw'])).stdout.trim().split('\n')).toEqual([
      'cluster',
      'localhost',
    ]);
  });

  it('names every missing option when not interactive, and checks the values', async () => {
    const missing = await verdi(['computer', 'setup', '-n', '--label', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing options --hostname, --transport, --scheduler');
    const piped = await verdi(['computer', 'setup', '--label', 'x']);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('missing options --hostname, --transport, --scheduler');
    const base = ['computer', 'setup', '-n', '-L', 'bad', '-H', 'h'];
    const transport = await verdi([...base, '-T', 'core.ftp', '-S', 'core.direct']);
    expect(transport.code).toBe(2);
    expect(transport.stderr).toMatch(
      /invalid value for --transport: unknown transport `core\.ftp` \(known: .*core\.local/,
    );
    const scheduler = await verdi([...base, '-T', 'core.local', '-S', 'core.cron']);
    expect(scheduler.stderr).toMatch(/invalid value for --scheduler: unknown scheduler `core\.cron`/);
    const shebang = await verdi([...base, '-T', 'core.local', '-S', 'core.direct', '--shebang', '/bin/bash']);
    expect(shebang.stderr).toContain('invalid value for --shebang: the shebang line has to start with #!');
    const mpirun = await verdi([
      ...base,
      '-T',
      'core.local',
      '-S',
      'core.direct',
      '-m',
      'mpirun -np {nprocs}',
    ]);
    expect(mpirun.stderr).toContain('unknown replacement field `{nprocs}`');
    const procs = await verdi([
      ...base,
      '-T',
      'core.local',
      '-S',
      'core.direct',
      '--mpiprocs-per-machine',
      'many',
    ]);
    expect(procs.stderr).toContain('invalid value for --mpiprocs-per-machine: `many` is not an integer');
    const sge = await verdi([...base, '-T', 'core.local', '-S', 'core.sge', '--mpiprocs-per-machine', '2']);
    expect(sge.code).toBe(2);
    expect(sge.stderr).toContain('the scheduler `core.sge` does not accept --mpiprocs-per-machine');
    const workdir = await verdi([...base, '-T', 'core.local', '-S', 'core.direct', '-w', 'relative/dir']);
    expect(workdir.code).toBe(1);
    expect(workdir.stderr).toContain('The workdir must be an absolute path');
    const taken = await verdi([
      'computer',
      'setup',
      '-n',
      '-L',
      'cluster',
      '-H',
      'h',
      '-T',
      'core.local',
      '-S',
      'core.direct',
    ]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('a computer called cluster already exists');
    expect((await verdi(['computer', 'list', '--raw'])).stdout.trim().split('\n')).toEqual([
      'cluster',
      'localhost',
    ]);
  });

  it('setup from a YAML file, with command-line options winning', async () => {
    const file = join(base, 'computer.yaml');
    writeFileSync(
      file,
      [
        'label: from-yaml',
        'hostname: yaml.example.org',
        'transport: core.local',
        'scheduler: core.direct',
        'work_dir: /tmp/aiida-yaml',
        'mpiprocs_per_machine: 2',
        'prepend_text: |',
        '  export A=1',
        '  export B=2',
      ].join('\n'),
    );
    const result = await verdi(['computer', 'setup', '--config', file, '--hostname', 'override.example.org']);
    expect(result.code, describeResult(result)).toBe(0);
    expect((await verdi(['computer', 'show', 'from-yaml', '--json'])).json<ComputerJson>()).toMatchObject({
      hostname: 'override.example.org',
      work_dir: '/tmp/aiida-yaml',
      default_mpiprocs_per_machine: 2,
      prepend_text: 'export A=1\nexport B=2\n',
    });
    writeFileSync(file, 'label: y\nhost: h\n');
    const unknown = await verdi(['computer', 'setup', '--config', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown key `host`');
  });

  it('setup asks for what is missing when a person is at the terminal', async () => {
    const { code, output } = await runOnTerminal(
      base,
      ['computer', 'setup', '--label', 'asked'],
      [
        [/Hostname: /, 'asked.example.org'],
        [/Description: /, 'made by answering'],
        [/Transport plugin: /, 'core.ftp'],
        [/Transport plugin: /, 'core.local'],
        [/Scheduler plugin: /, 'core.direct'],
        [/Shebang line.*: /, ''],
        [/Work directory on the computer.*: /, '/tmp/asked'],
        [/Mpirun command.*: /, ''],
        [/Default number of CPUs per machine: /, '4'],
        [/Prepend script: /, ''],
        [/Append script: /, 'echo bye'],
      ],
    );
    expect(code, output).toBe(0);
    expect(output).toContain('unknown transport `core.ftp`');
    expect(output).toMatch(/Success: Computer<\d+> asked created/);
    expect((await verdi(['computer', 'show', 'asked', '--json'])).json<ComputerJson>()).toMatchObject({
      hostname: 'asked.example.org',
      description: 'made by answering',
      transport_type: 'core.local',
      scheduler_type: 'core.direct',
      shebang: '#!/bin/bash',
      work_dir: '/tmp/asked',
      mpirun_command: 'mpirun -np {tot_num_mpiprocs}',
      default_mpiprocs_per_machine: 4,
      default_memory_per_machine: null,
      prepend_text: '',
      append_text: 'echo bye',
    });
  });

  it('relabel, and delete after confirmation', async () => {
    const relabel = await verdi(['computer', 'relabel', 'from-yaml', 'renamed']);
    expect(relabel.code, describeResult(relabel)).toBe(0);
    expect(relabel.stdout).toContain("Success: Computer 'from-yaml' relabeled to 'renamed'");
    const clash = await verdi(['computer', 'relabel', 'renamed', 'cluster']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('Unable to relabel the computer');
    const refused = await verdi(['computer', 'delete', 'renamed'], { input: 'n\n' });
    expect(refused.code).toBe(1);
    const deleted = await verdi(['computer', 'delete', 'renamed'], { input: 'y\n' });
    expect(deleted.code, describeResult(deleted)).toBe(0);
    expect(deleted.stdout).toContain("Success: Computer 'renamed' deleted.");
    const gone = await verdi(['computer', 'show', 'renamed']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('no computer found with label, pk or uuid `renamed`');
  });

  it('refuses to delete a computer that nodes use', async () => {
    setConfigDir(configDir);
    try {
      await loadProfile();
      const cluster = await Computer.get({ label: 'cluster' });
      await new RemoteData({ computer: cluster, remotePath: '/scratch/run' }).store();
    } finally {
      await unloadProfile();
      setConfigDir(undefined);
    }
    const result = await verdi(['computer', 'delete', 'cluster', '--force']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Unable to delete the requested computer: there are nodes using this computer',
    );
    expect((await verdi(['computer', 'list', '--raw'])).stdout).toContain('cluster');
  });
});
