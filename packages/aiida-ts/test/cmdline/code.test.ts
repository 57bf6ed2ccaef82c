import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalcJobNode, Int, LinkType, loadCode, User } from '../../src/orm.js';
import { runOnTerminal, serveText, withProfile } from '../computers/terminal.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-code-');
const { verdi, base, configDir } = sandbox;
let scratch: string;
let files: string;

async function ok(args: readonly string[], input?: string): Promise<string> {
  const result = await verdi(args, input === undefined ? {} : { input });
  expect(result.code, describeResult(result)).toBe(0);
  return result.stdout;
}

interface CodeJson {
  pk: number;
  uuid: string;
  label: string;
  full_label: string;
  entry_point: string;
  computer: string | null;
  user: string;
  default_calc_job_plugin: string | null;
  hidden: boolean;
}

const listJson = async (...args: string[]): Promise<CodeJson[]> =>
  (await verdi(['code', 'list', '--json', ...args])).json<CodeJson[]>();

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'aiida-ts-verdi-code-files-'));
  files = join(scratch, 'code-files');
  await mkdir(join(files, 'lib'), { recursive: true });
  await writeFile(join(files, 'run.sh'), '#!/bin/bash\necho run\n');
  await writeFile(join(files, 'lib', 'helper.txt'), 'helper');
  await ok(['presto']);
  await ok([
    'computer',
    'setup',
    '-n',
    '-L',
    'other',
    '-H',
    'localhost',
    '-T',
    'core.local',
    '-S',
    'core.direct',
    '-w',
    join(scratch, 'work'),
  ]);
}, 60_000);
afterAll(async () => {
  sandbox.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

describe('verdi code create', () => {
  it('lists the code types it can create', async () => {
    const help = await ok(['code', 'create', '--help']);
    expect(help).toContain('core.code.installed');
    expect(help).toContain('core.code.portable');
    const installed = await ok(['code', 'create', 'core.code.installed', '--help']);
    for (const flag of [
      '-Y, --computer <value>',
      '-X, --filepath-executable <value>',
      '-L, --label <value>',
      '-P, --default-calc-job-plugin <value>',
      '--with-mpi',
      '--no-with-mpi',
      '--config <file-or-url>',
    ])
      expect(installed).toContain(flag);
  });

  it('creates an installed code from options and shows it', async () => {
    const out = await ok([
      'code',
      'create',
      'core.code.installed',
      '-n',
      '-Y',
      'localhost',
      '-X',
      '/bin/bash',
      '-L',
      'bash',
      '-D',
      'bash shell',
      '-P',
      'core.arithmetic.add',
      '--prepend-text',
      'module load bash',
    ]);
    expect(out).toMatch(/^Success: Created InstalledCode<\d+>$/m);
    const show = await ok(['code', 'show', 'bash@localhost']);
    expect(show).toMatch(/^Type\s+core\.code\.installed$/m);
    expect(show).toMatch(/^Label\s+bash$/m);
    expect(show).toMatch(/^Description\s+bash shell$/m);
    expect(show).toMatch(/^Computer\s+localhost \(localhost\), pk: \d+$/m);
    expect(show).toMatch(/^Default `CalcJob` plugin\s+core\.arithmetic\.add$/m);
    expect(show).toMatch(/^Prepend script\s+module load bash$/m);
    expect(show).toMatch(/^Filepath executable\s+\/bin\/bash$/m);
    expect(show).toMatch(/^Run with MPI$/m);
    const json = (await verdi(['code', 'show', 'bash', '--json'])).json<Record<string, unknown>>();
    expect(json).toMatchObject({
      type: 'core.code.installed',
      full_label: 'bash@localhost',
      computer: 'localhost',
      filepath_executable: '/bin/bash',
      default_calc_job_plugin: 'core.arithmetic.add',
      prepend_text: 'module load bash',
      hidden: false,
    });
    expect(json).not.toHaveProperty('with_mpi');
  });

  it('refuses a taken full label, a label with @, an unknown computer and missing options', async () => {
    const taken = await verdi([
      'code',
      'create',
      'core.code.installed',
      '-n',
      '-Y',
      'localhost',
      '-X',
      '/bin/sh',
      '-L',
      'bash',
    ]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('A code called `bash@localhost` already exists');
    // the same label on another computer is a different full label
    await ok(['code', 'create', 'core.code.installed', '-n', '-Y', 'other', '-X', '/bin/sh', '-L', 'bash']);
    const at = await verdi([
      'code',
      'create',
      'core.code.installed',
      '-n',
      '-Y',
      'localhost',
      '-X',
      '/bin/sh',
      '-L',
      'a@b',
    ]);
    expect(at.code).toBe(2);
    expect(at.stderr).toContain('invalid value for --label: the label may not contain `@`');
    const nowhere = await verdi([
      'code',
      'create',
      'core.code.installed',
      '-n',
      '-Y',
      'nowhere',
      '-X',
      '/bin/sh',
      '-L',
      'x',
    ]);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('Failed to create the code: no computer found');
    const missing = await verdi(['code', 'create', 'core.code.installed', '-n', '-L', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing options --computer, --filepath-executable');
  });

  it('creates a portable code from a folder', async () => {
    const out = await ok([
      'code',
      'create',
      'core.code.portable',
      '-n',
      '-X',
      'run.sh',
      '-F',
      files,
      '-L',
      'portable',
      '--with-mpi',
    ]);
    expect(out).toMatch(/Success: Created PortableCode<\d+>/);
    const show = await ok(['code', 'show', 'portable']);
    expect(show).toMatch(/^Type\s+core\.code\.portable$/m);
    expect(show).toMatch(/^Files\s+lib\/helper\.txt, run\.sh$/m);
    expect(show).toMatch(/^Run with MPI\s+true$/m);
    expect(show).not.toMatch(/^Computer/m);
    const absolute = await verdi([
      'code',
      'create',
      'core.code.portable',
      '-n',
      '-X',
      '/abs/run.sh',
      '-F',
      files,
      '-L',
      'p2',
    ]);
    expect(absolute.code).toBe(2);
    expect(absolute.stderr).toContain('the executable must be a relative path');
    const missingExe = await verdi([
      'code',
      'create',
      'core.code.portable',
      '-n',
      '-X',
      'nope.sh',
      '-F',
      files,
      '-L',
      'p3',
    ]);
    expect(missingExe.code).toBe(1);
    expect(missingExe.stderr).toContain('The executable `nope.sh` is not one of the uploaded files');
    const noDir = await verdi([
      'code',
      'create',
      'core.code.portable',
      '-n',
      '-X',
      'run.sh',
      '-F',
      join(scratch, 'none'),
      '-L',
      'p4',
    ]);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toContain('does not exist');
  });

  it('creates from a YAML file and from a URL, options winning', async () => {
    const file = join(scratch, 'code.yaml');
    await writeFile(
      file,
      [
        'label: from-yaml',
        'description: from a file',
        'computer: localhost',
        'filepath_executable: /bin/cat',
        'default_calc_job_plugin: core.templatereplacer',
        'use_double_quotes: true',
        'with_mpi: false',
        'prepend_text: |',
        '  export A=1',
        '  export B=2',
        '',
      ].join('\n'),
    );
    await ok(['code', 'create', 'core.code.installed', '-n', '--config', file, '-D', 'overridden']);
    const json = (await verdi(['code', 'show', 'from-yaml@localhost', '--json'])).json<
      Record<string, unknown>
    >();
    expect(json).toMatchObject({
      description: 'overridden',
      filepath_executable: '/bin/cat',
      default_calc_job_plugin: 'core.templatereplacer',
      use_double_quotes: true,
      with_mpi: false,
      prepend_text: 'export A=1\nexport B=2\n',
    });
    const server = await serveText('label: from-url\ncomputer: other\nfilepath_executable: /bin/true\n');
    try {
      await ok(['code', 'create', 'core.code.installed', '-n', '--config', server.url]);
    } finally {
      await server.close();
    }
    expect((await verdi(['code', 'show', 'from-url@other', '--json'])).json()).toMatchObject({
      computer: 'other',
    });
    await writeFile(file, 'label: x\ncomputer: localhost\nfilepath_executable: /bin/cat\nhostname: nope\n');
    const unknown = await verdi(['code', 'create', 'core.code.installed', '-n', '--config', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown key `hostname`');
  });

  it('asks for what is missing on a terminal', async () => {
    const { code, output } = await runOnTerminal(
      base,
      ['code', 'create', 'core.code.installed'],
      [
        [/Computer: /, 'localhost'],
        [/Absolute filepath executable: /, '/usr/bin/env'],
        [/Label: /, 'bad@label'],
        [/Label: /, 'env'],
        [/Description: /, 'the env tool'],
        [/Default `CalcJob` plugin: /, ''],
        [/Escape using double quotes \[y\/N\]: /, 'y'],
        [/Wrap command line parameters \[y\/N\]: /, ''],
        [/Prepend script: /, ''],
        [/Append script: /, 'echo done'],
      ],
    );
    expect(code, output).toBe(0);
    expect(output).toContain('Error: invalid value for --label: the label may not contain `@`');
    expect(output).toMatch(/Success: Created InstalledCode<\d+>/);
    expect((await verdi(['code', 'show', 'env@localhost', '--json'])).json()).toMatchObject({
      description: 'the env tool',
      filepath_executable: '/usr/bin/env',
      use_double_quotes: true,
      wrap_cmdline_params: false,
      append_text: 'echo done',
    });
  }, 90_000);
});

describe('verdi code list, hide, reveal, relabel', () => {
  it('lists visible codes of the default user, filtered and projected', async () => {
    const all = await listJson();
    const labels = all.map((code) => code.full_label);
    expect(labels).toEqual([...labels].sort());
    expect(labels).toEqual(
      expect.arrayContaining(['bash@localhost', 'bash@other', 'portable', 'env@localhost']),
    );
    expect((await listJson('-Y', 'other')).map((code) => code.full_label)).toEqual([
      'bash@other',
      'from-url@other',
    ]);
    expect((await listJson('-c', 'other')).map((code) => code.full_label)).toEqual([
      'bash@other',
      'from-url@other',
    ]);
    expect((await listJson('-d', 'core.arithmetic.add')).map((code) => code.full_label)).toEqual([
      'bash@localhost',
    ]);
    const table = await ok(['code', 'list']);
    expect(table).toMatch(/^Full label\s+Pk\s+Entry point$/m);
    expect(table).toMatch(/^bash@localhost\s+\d+\s+core\.code\.installed$/m);
    expect(table).toMatch(/^portable\s+\d+\s+core\.code\.portable$/m);
    expect(table).toContain('Use `verdi code show IDENTIFIER` to see details for a code');
    const raw = await ok(['code', 'list', '-r', '-P', 'label', 'computer', 'user', '-Y', 'other']);
    expect(raw.trim().split('\n')).toEqual(['bash other aiida@localhost', 'from-url other aiida@localhost']);
    const none = await ok(['code', 'list', '-d', 'core.nothing']);
    expect(none).toContain('No codes found matching the specified criteria.');
  });

  it('hides and reveals codes; -a shows hidden ones', async () => {
    const out = await ok(['code', 'hide', 'bash@other', 'portable']);
    expect(out).toMatch(/Success: Code<\d+> bash@other hidden/);
    expect(out).toMatch(/Success: Code<\d+> portable hidden/);
    const visible = (await listJson()).map((code) => code.full_label);
    expect(visible).not.toContain('bash@other');
    expect(visible).not.toContain('portable');
    const withHidden = await listJson('-a');
    expect(withHidden.find((code) => code.full_label === 'portable')?.hidden).toBe(true);
    expect(await ok(['code', 'reveal', 'portable'])).toMatch(/Success: Code<\d+> portable revealed/);
    expect((await listJson()).map((code) => code.full_label)).toContain('portable');
  });

  it('shows the codes of other users only with -A', async () => {
    await withProfile(configDir, async () => {
      const other = await new User({ email: 'colleague@example.com' }).store();
      const mine = await loadCode('bash@localhost');
      const copy = await mine.clone();
      copy.label = 'theirs';
      copy.user = other;
      await copy.store();
    });
    expect((await listJson()).map((code) => code.full_label)).not.toContain('theirs@localhost');
    const everyone = await listJson('-A');
    expect(everyone.find((code) => code.full_label === 'theirs@localhost')?.user).toBe(
      'colleague@example.com',
    );
  });

  it('relabels, keeping full labels unique', async () => {
    expect(await ok(['code', 'relabel', 'env@localhost', 'env2'])).toMatch(
      /Success: Code<\d+> relabeled from env@localhost to env2@localhost/,
    );
    const clash = await verdi(['code', 'relabel', 'env2@localhost', 'bash']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('A code called `bash@localhost` already exists');
    const bad = await verdi(['code', 'relabel', 'env2@localhost', 'x@y']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid code label');
  });
});

describe('verdi code duplicate, export, test', () => {
  it('duplicates an installed code with changes, optionally hiding the original', async () => {
    const out = await ok([
      'code',
      'duplicate',
      'bash@localhost',
      '-n',
      '-L',
      'bash-copy',
      '-Y',
      'other',
      '--append-text',
      'echo bye',
      '--hide-original',
    ]);
    expect(out).toMatch(/Success: Code<\d+> bash-copy@other created/);
    const copy = (await verdi(['code', 'show', 'bash-copy@other', '--json'])).json<Record<string, unknown>>();
    expect(copy).toMatchObject({
      computer: 'other',
      filepath_executable: '/bin/bash',
      default_calc_job_plugin: 'core.arithmetic.add',
      prepend_text: 'module load bash',
      append_text: 'echo bye',
      hidden: false,
    });
    expect((await verdi(['code', 'show', 'bash@localhost', '--json'])).json()).toMatchObject({
      hidden: true,
    });
    await ok(['code', 'reveal', 'bash@localhost']);
    const same = await verdi(['code', 'duplicate', 'bash@localhost', '-n']);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('A code called `bash@localhost` already exists');
  });

  it('duplicates a portable code with its files', async () => {
    await ok(['code', 'duplicate', 'portable', '-n', '-L', 'portable-copy', '-X', 'lib/helper.txt']);
    const show = await ok(['code', 'show', 'portable-copy']);
    expect(show).toMatch(/^Files\s+lib\/helper\.txt, run\.sh$/m);
    expect(show).toMatch(/^Filepath executable\s+lib\/helper\.txt$/m);
    const portableWithComputer = await verdi([
      'code',
      'duplicate',
      'portable',
      '-n',
      '-L',
      'x',
      '-Y',
      'other',
    ]);
    expect(portableWithComputer.code).toBe(2);
  });

  it('exports YAML that create --config reads back (installed and portable)', async () => {
    const file = join(scratch, 'bash.yaml');
    await ok(['code', 'export', 'bash@localhost', file]);
    const exported = parseYaml(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(exported).toEqual({
      label: 'bash',
      description: 'bash shell',
      default_calc_job_plugin: 'core.arithmetic.add',
      use_double_quotes: false,
      wrap_cmdline_params: false,
      prepend_text: 'module load bash',
      append_text: '',
      filepath_executable: '/bin/bash',
      computer: 'localhost',
    });
    const refused = await verdi(['code', 'export', 'bash@localhost', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already exists; use --overwrite');
    const again = await verdi([
      'code',
      'create',
      'core.code.installed',
      '-n',
      '--config',
      file,
      '-Y',
      'other',
      '-L',
      'bash-reimported',
    ]);
    expect(again.code, describeResult(again)).toBe(0);
    const reimported = (await verdi(['code', 'show', 'bash-reimported@other', '--json'])).json<
      Record<string, unknown>
    >();
    const original = (await verdi(['code', 'show', 'bash@localhost', '--json'])).json<
      Record<string, unknown>
    >();
    expect({ ...reimported, pk: 0, uuid: '', label: '', full_label: '', computer: '' }).toEqual({
      ...original,
      pk: 0,
      uuid: '',
      label: '',
      full_label: '',
      computer: '',
    });

    const portableFile = join(scratch, 'exports', 'portable.yaml');
    await mkdir(join(scratch, 'exports'));
    await ok(['code', 'export', 'portable', portableFile]);
    const portable = parseYaml(await readFile(portableFile, 'utf8')) as Record<string, unknown>;
    expect(portable.filepath_files).toBe(join(scratch, 'exports', 'portable'));
    expect(await readFile(join(scratch, 'exports', 'portable', 'lib', 'helper.txt'), 'utf8')).toBe('helper');
    await ok([
      'code',
      'create',
      'core.code.portable',
      '-n',
      '--config',
      portableFile,
      '-L',
      'portable-reimported',
    ]);
    expect(await ok(['code', 'show', 'portable-reimported'])).toMatch(/^Files\s+lib\/helper\.txt, run\.sh$/m);
  });

  it('tests that the executable of an installed code exists and is executable', async () => {
    expect(await ok(['code', 'test', 'bash@localhost'])).toContain('Success: all tests succeeded.');
    expect(await ok(['code', 'test', 'portable'])).toContain('Success: all tests succeeded.');
    await ok([
      'code',
      'create',
      'core.code.installed',
      '-n',
      '-Y',
      'localhost',
      '-X',
      join(scratch, 'missing-tool'),
      '-L',
      'missing',
    ]);
    const missing = await verdi(['code', 'test', 'missing@localhost']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('validation failed: The provided remote absolute path');
    expect(missing.stderr).toContain('does not exist on the computer.');
    const plain = join(scratch, 'plain-file');
    await writeFile(plain, 'data');
    await chmod(plain, 0o644);
    await ok(['code', 'create', 'core.code.installed', '-n', '-Y', 'localhost', '-X', plain, '-L', 'plain']);
    const notExecutable = await verdi(['code', 'test', 'plain@localhost']);
    expect(notExecutable.code).toBe(1);
    expect(notExecutable.stderr).toContain('might not actually be executable');
    // 'other' was never configured: no transport can be opened
    const unconfigured = await verdi(['code', 'test', 'bash-copy@other']);
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toContain('Could not connect to the configured computer');
    expect((await stat(plain)).isFile()).toBe(true);
  });
});

describe('verdi code delete', () => {
  it('deletes an unused code after confirmation', async () => {
    const declined = await verdi(['code', 'delete', 'plain@localhost'], { input: 'n\n' });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('YOU ARE ABOUT TO DELETE 1 NODES! THIS CANNOT BE UNDONE!');
    expect((await listJson()).map((code) => code.full_label)).toContain('plain@localhost');
    const out = await ok(['code', 'delete', 'plain@localhost'], 'y\n');
    expect(out).toContain('Success: Finished deletion.');
    expect((await listJson('-a')).map((code) => code.full_label)).not.toContain('plain@localhost');
    const gone = await verdi(['code', 'show', 'plain@localhost']);
    expect(gone.code).toBe(2);
  });

  it('warns that the calculations using a code go with it, and deletes them only when confirmed', async () => {
    const pks = await withProfile(configDir, async () => {
      const code = await loadCode('missing@localhost');
      const job = new CalcJobNode();
      job.computer = (await code.getComputer())!;
      await job.links.addIncoming(code, LinkType.INPUT_CALC, 'code');
      await job.store();
      const output = new Int(3);
      await output.links.addIncoming(job, LinkType.CREATE, 'sum');
      await output.store();
      return { code: code.pk!, job: job.pk!, output: output.pk! };
    });
    const dry = await verdi(['code', 'delete', 'missing@localhost', '--dry-run']);
    expect(dry.code, describeResult(dry)).toBe(0);
    expect(dry.stderr).toContain(
      'the code(s) were used by 1 calculation(s): deleting the code(s) deletes 2 more node(s)',
    );
    expect(dry.stdout).toMatch(new RegExp(`^\\s*${pks.job}\\s+\\S+\\s+CalcJobNode`, 'm'));
    expect(dry.stdout).toMatch(new RegExp(`^\\s*${pks.output}\\s+\\S+\\s+Int`, 'm'));
    expect(dry.stdout).toContain('Dry run: 3 node(s) would be deleted; nothing was deleted.');
    const forced = await verdi(['code', 'delete', 'missing@localhost', '--force']);
    expect(forced.code, describeResult(forced)).toBe(0);
    await withProfile(configDir, async () => {
      const { loadNode } = await import('../../src/orm.js');
      for (const pk of [pks.code, pks.job, pks.output]) {
        expect(
          await loadNode(pk).then(
            () => 'found',
            () => 'gone',
          ),
          `node ${pk}`,
        ).toBe('gone');
      }
    });
  });
});
