import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Computer, User } from '../../src/orm.js';
import { runOnTerminal, serveText, withProfile } from '../computers/terminal.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-computer-configure-');
const { verdi, base, configDir } = sandbox;

async function ok(args: readonly string[], input?: string): Promise<string> {
  const result = await verdi(args, input === undefined ? {} : { input });
  expect(result.code, describeResult(result)).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  await ok(['presto']);
  await ok([
    'computer',
    'setup',
    '-n',
    '-L',
    'remote',
    '-H',
    'cluster.example.org',
    '-T',
    'core.ssh',
    '-S',
    'core.slurm',
    '-w',
    '/scratch/{username}/aiida',
  ]);
  await withProfile(configDir, async () => {
    await new User({ email: 'second@example.com', firstName: 'Second', lastName: 'User' }).store();
  });
});
afterAll(() => sandbox.cleanup());

describe('verdi computer configure', () => {
  it('offers one subcommand per transport, with options made from its auth-param schema', async () => {
    const help = await ok(['computer', 'configure', '--help']);
    expect(help).toMatch(/core\.local \[options\] <computer>/);
    expect(help).toMatch(/core\.ssh \[options\] <computer>/);
    expect(help).toMatch(/show \[options\] <computer>/);
    const ssh = await ok(['computer', 'configure', 'core.ssh', '--help']);
    for (const flag of [
      '--username <value>',
      '--port <value>',
      '--key-filename <value>',
      '--look-for-keys',
      '--no-look-for-keys',
      '--key-policy <value>',
      '--safe-interval <value>',
      '--config <file-or-url>',
      '--non-interactive',
      '--user <email>',
    ])
      expect(ssh).toContain(flag);
    expect(ssh.replace(/\s+/g, ' ')).toContain('(choices: "RejectPolicy", "WarningPolicy", "AutoAddPolicy")');
  });

  it('configures non-interactively with defaults and options, and shows the result', async () => {
    expect(await ok(['computer', 'configure', 'show', 'remote'])).toMatch(/^\* port\s+-$/m);
    const out = await ok([
      'computer',
      'configure',
      'core.ssh',
      'remote',
      '-n',
      '--username',
      'alice',
      '--port',
      '2200',
      '--no-look-for-keys',
      '--key-policy',
      'AutoAddPolicy',
    ]);
    expect(out).toContain('Report: Configuring computer remote for user aiida@localhost.');
    expect(out).toContain('Success: remote successfully configured for aiida@localhost');
    const stored = (await verdi(['computer', 'configure', 'show', 'remote', '--json'])).json<
      Record<string, unknown>
    >();
    expect(stored).toEqual({
      username: 'alice',
      port: 2200,
      look_for_keys: false,
      timeout: 60,
      allow_agent: false,
      compress: true,
      gss_auth: false,
      gss_kex: false,
      gss_deleg_creds: false,
      load_system_host_keys: true,
      key_policy: 'AutoAddPolicy',
      max_io_allowed: 8,
      use_login_shell: true,
      safe_interval: 15,
    });
    const table = await ok(['computer', 'configure', 'show', 'remote']);
    expect(table).toMatch(/^\* username\s+alice$/m);
    expect(table).toMatch(/^\* key_filename\s+-$/m);
    expect(await ok(['computer', 'configure', 'show', 'remote', '--as-option-string'])).toContain(
      '--username=alice --port=2200 --no-look-for-keys --timeout=60',
    );
    expect(await ok(['computer', 'configure', 'show', 'remote', '--defaults'])).toMatch(/^\* port\s+22$/m);
    // a second run keeps what is stored unless told otherwise
    await ok(['computer', 'configure', 'core.ssh', 'remote', '-n', '--port', '2201']);
    const again = (await verdi(['computer', 'configure', 'show', 'remote', '--json'])).json<
      Record<string, unknown>
    >();
    expect(again).toMatchObject({
      username: 'alice',
      port: 2201,
      look_for_keys: false,
      key_policy: 'AutoAddPolicy',
    });
  });

  it('configures per user', async () => {
    await ok([
      'computer',
      'configure',
      'core.local',
      'localhost',
      '-n',
      '--user',
      'second@example.com',
      '--safe-interval',
      '3',
    ]);
    const second = (
      await verdi(['computer', 'configure', 'show', 'localhost', '-u', 'second@example.com', '--json'])
    ).json();
    expect(second).toEqual({ use_login_shell: true, safe_interval: 3 });
    const mine = (await verdi(['computer', 'configure', 'show', 'localhost', '--json'])).json();
    expect(mine).not.toEqual(second);
    const unknown = await verdi([
      'computer',
      'configure',
      'core.local',
      'localhost',
      '-n',
      '-u',
      'nobody@example.com',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no user with the email `nobody@example.com`');
  });

  it('refuses bad values, unknown keys and a computer of another transport, naming what is wrong', async () => {
    const port = await verdi(['computer', 'configure', 'core.ssh', 'remote', '-n', '--port', 'twenty']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('invalid value for --port: `twenty` is not an integer');
    const range = await verdi(['computer', 'configure', 'core.ssh', 'remote', '-n', '--port', '70000']);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/invalid value for --port: .*65535/);
    const policy = await verdi([
      'computer',
      'configure',
      'core.ssh',
      'remote',
      '-n',
      '--key-policy',
      'Trust',
    ]);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toContain("argument 'Trust' is invalid");
    const wrong = await verdi(['computer', 'configure', 'core.local', 'remote', '-n']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('Computer remote has transport of type "core.ssh", not core.local!');
    const file = join(base, 'bad-config.yaml');
    await writeFile(file, 'username: bob\nhostname: nope\nproxy_hop: x\n');
    const badFile = await verdi(['computer', 'configure', 'core.ssh', 'remote', '-n', '--config', file]);
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toContain('unknown key `hostname`');
  });

  it('exports the configuration and reads it back with --config (file and URL)', async () => {
    const file = join(base, 'remote-config.yaml');
    const out = await ok(['computer', 'export', 'config', 'remote', file]);
    expect(out).toContain(`Success: Computer<`);
    const exported = parseYaml(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(exported).toMatchObject({ username: 'alice', port: 2201, key_policy: 'AutoAddPolicy' });
    expect(Object.keys(exported)).toEqual([...Object.keys(exported)].sort());
    const refused = await verdi(['computer', 'export', 'config', 'remote', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already exists; use --overwrite');
    await ok(['computer', 'export', 'config', 'remote', file, '--overwrite', '--no-sort']);

    await ok([
      'computer',
      'setup',
      '-n',
      '-L',
      'remote2',
      '-H',
      'other.example.org',
      '-T',
      'core.ssh',
      '-S',
      'core.direct',
      '-w',
      '/tmp/{username}',
    ]);
    await ok(['computer', 'configure', 'core.ssh', 'remote2', '-n', '--config', file]);
    const copied = (await verdi(['computer', 'configure', 'show', 'remote2', '--json'])).json();
    expect(copied).toEqual((await verdi(['computer', 'configure', 'show', 'remote', '--json'])).json());

    const server = await serveText('username: carol\nport: 2022\n');
    try {
      await ok([
        'computer',
        'configure',
        'core.ssh',
        'remote2',
        '-n',
        '--config',
        server.url,
        '--port',
        '2023',
      ]);
    } finally {
      await server.close();
    }
    expect((await verdi(['computer', 'configure', 'show', 'remote2', '--json'])).json()).toMatchObject({
      username: 'carol',
      port: 2023,
    });
    const unconfigured = await verdi([
      'computer',
      'export',
      'config',
      'remote',
      join(base, 'x.yaml'),
      '-u',
      'second@example.com',
    ]);
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toContain('has not been configured yet for second@example.com');
  });

  it('asks for each option on a terminal, suggesting the stored values', async () => {
    const { code, output } = await runOnTerminal(
      base,
      ['computer', 'configure', 'core.ssh', 'remote2'],
      [
        [/User name \[carol\]: /, 'dave'],
        [/Port number \[2023\]: /, 'not-a-port'],
        [/Port number \[2023\]: /, '2024'],
        [/Look for keys \[y\/N\]: /, 'n'],
        [/SSH key file: /, ''],
        [/Connection timeout in s \[60\]: /, '30'],
        [/Allow ssh agent \[y\/N\]: /, ''],
        [/SSH proxy jump: /, ''],
        [/SSH proxy command: /, ''],
        [/Compress file transfers \[Y\/n\]: /, ''],
        [/GSS auth \[y\/N\]: /, ''],
        [/GSS kex \[y\/N\]: /, ''],
        [/GSS deleg_creds \[y\/N\]: /, ''],
        [/GSS host: /, ''],
        [/Load system host keys \[Y\/n\]: /, ''],
        [/Key policy \[AutoAddPolicy\]: /, 'WarningPolicy'],
        [/Maximum number of concurrent I\/O operations \[8\]: /, ''],
        [/Use login shell when executing command \[Y\/n\]: /, 'n'],
        [/Connection cooldown time \(s\) \[15\]: /, '5'],
      ],
    );
    expect(code, output).toBe(0);
    expect(output).toContain('Error: `not-a-port` is not an integer');
    expect(output).toContain('Success: remote2 successfully configured for aiida@localhost');
    expect((await verdi(['computer', 'configure', 'show', 'remote2', '--json'])).json()).toMatchObject({
      username: 'dave',
      port: 2024,
      look_for_keys: false,
      timeout: 30,
      key_policy: 'WarningPolicy',
      use_login_shell: false,
      safe_interval: 5,
    });
  }, 90_000);
});

describe('verdi computer enable / disable', () => {
  it('switch a configured computer per user and refuse an unconfigured user', async () => {
    expect(await ok(['computer', 'disable', 'localhost'])).toContain(
      "Report: Computer 'localhost' disabled for user aiida@localhost.",
    );
    expect(await ok(['computer', 'disable', 'localhost'])).toContain('was already disabled');
    await withProfile(configDir, async () => {
      const computer = await Computer.get({ label: 'localhost' });
      expect(await computer.isUserEnabled()).toBe(false);
      expect(await computer.isUserEnabled(await User.get('second@example.com'))).toBe(true);
    });
    expect(await ok(['computer', 'enable', 'localhost'])).toContain("Computer 'localhost' enabled for user");
    expect(await ok(['computer', 'disable', 'localhost', '--user', 'second@example.com'])).toContain(
      'disabled for user Second User.',
    );
    const unconfigured = await verdi(['computer', 'enable', 'remote', '-u', 'second@example.com']);
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toContain(
      "User with email 'second@example.com' is not configured for computer 'remote' yet.",
    );
    const missing = await verdi(['computer', 'enable', 'no-such-computer']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no computer found');
  });
});

describe('verdi computer duplicate and export setup', () => {
  it('duplicates with changes, copying everything else', async () => {
    const out = await ok([
      'computer',
      'duplicate',
      'remote',
      '-n',
      '-L',
      'remote-copy',
      '-H',
      'copy.example.org',
      '--mpiprocs-per-machine',
      '8',
    ]);
    expect(out).toMatch(/Success: Computer<\d+> remote-copy created/);
    expect(out).toContain('computer configure core.ssh remote-copy');
    const original = (await verdi(['computer', 'show', 'remote', '--json'])).json<Record<string, unknown>>();
    const copy = (await verdi(['computer', 'show', 'remote-copy', '--json'])).json<Record<string, unknown>>();
    expect(copy).toMatchObject({
      ...original,
      label: 'remote-copy',
      hostname: 'copy.example.org',
      pk: copy.pk,
      uuid: copy.uuid,
      default_mpiprocs_per_machine: 8,
    });
    expect(copy.uuid).not.toBe(original.uuid);
    const taken = await verdi(['computer', 'duplicate', 'remote', '-n']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('A computer called remote already exists');
  });

  it('duplicates interactively with the old values as suggestions', async () => {
    const { code, output } = await runOnTerminal(
      base,
      ['computer', 'duplicate', 'localhost'],
      [
        [/Computer label \[localhost\]: /, 'localhost-2'],
        [/Hostname \[localhost\]: /, ''],
        [/Description \[Localhost automatically created by `verdi presto`\]: /, 'second local'],
        [/Transport plugin \[core\.local\]: /, ''],
        [/Scheduler plugin \[core\.direct\]: /, ''],
        [/Shebang line .*\[#!\/bin\/bash\]: /, ''],
        [/Work directory on the computer \[[^\]]+\]: /, '/tmp/{username}/second'],
        [/Mpirun command \[mpirun -np \{tot_num_mpiprocs\}\]: /, ''],
        [/Default number of CPUs per machine \[1\]: /, '2'],
        [/Prepend script: /, ''],
        [/Append script: /, ''],
      ],
    );
    expect(code, output).toBe(0);
    const copy = (await verdi(['computer', 'show', 'localhost-2', '--json'])).json<Record<string, unknown>>();
    expect(copy).toMatchObject({
      label: 'localhost-2',
      description: 'second local',
      transport_type: 'core.local',
      work_dir: '/tmp/{username}/second',
      default_mpiprocs_per_machine: 2,
    });
  }, 90_000);

  it('exports the setup as YAML that setup --config reads back, also from a URL', async () => {
    const file = join(base, 'remote-copy-setup.yaml');
    await ok(['computer', 'export', 'setup', 'remote-copy', file]);
    const exported = parseYaml(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(exported).toEqual({
      append_text: '',
      description: '',
      hostname: 'copy.example.org',
      label: 'remote-copy',
      mpiprocs_per_machine: 8,
      mpirun_command: 'mpirun -np {tot_num_mpiprocs}',
      prepend_text: '',
      scheduler: 'core.slurm',
      shebang: '#!/bin/bash',
      transport: 'core.ssh',
      use_double_quotes: false,
      work_dir: '/scratch/{username}/aiida',
    });
    const text = (await readFile(file, 'utf8')).replace('label: remote-copy', 'label: from-url');
    const server = await serveText(text);
    try {
      await ok(['computer', 'setup', '-n', '--config', server.url]);
    } finally {
      await server.close();
    }
    const fromUrl = (await verdi(['computer', 'show', 'from-url', '--json'])).json<Record<string, unknown>>();
    const copy = (await verdi(['computer', 'show', 'remote-copy', '--json'])).json<Record<string, unknown>>();
    expect({ ...fromUrl, pk: 0, uuid: '' }).toEqual({ ...copy, label: 'from-url', pk: 0, uuid: '' });
    // the default file name is <label>-setup.yaml in the working directory of verdi
    const defaultName = await verdi(['computer', 'export', 'setup', 'from-url']);
    expect(defaultName.code, describeResult(defaultName)).toBe(0);
    expect(defaultName.stdout).toContain("exported to file 'from-url-setup.yaml'");
    const { rm } = await import('node:fs/promises');
    await rm(join(import.meta.dirname, '..', '..', 'from-url-setup.yaml'));
  });
});
