import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
const { verdi, base, configDir } = sandbox;

interface ConfigFile {
  default_profile?: string;
  profiles: Record<
    string,
    {
      storage: { backend: string; config: Record<string, unknown> };
      default_user_email: string | null;
      process_control: { backend: string | null };
    }
  >;
}
const readConfig = (): ConfigFile =>
  JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as ConfigFile;

let server: Server;
let serverUrl: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/profile.yaml') {
      response.writeHead(200, { 'content-type': 'application/yaml' });
      response.end(
        [
          'profile_name: from-url',
          'email: url@example.org',
          'first_name: Url',
          `filepath: ${join(base, 'url-storage')}`,
          'set_as_default: false',
        ].join('\n'),
      );
    } else {
      response.writeHead(404);
      response.end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  sandbox.cleanup();
});

describe('verdi profile', () => {
  it('lists no profiles on a fresh configuration folder and says where it looked', async () => {
    const result = await verdi(['profile', 'list']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Report: configuration folder: ${configDir}`);
    expect(result.stderr).toContain('no profiles configured');
  });

  it('sets up a core.sqlite_dos profile non-interactively from options', async () => {
    const filepath = join(base, 'first-storage');
    const result = await verdi([
      'profile',
      'setup',
      'core.sqlite_dos',
      '-n',
      '--profile-name',
      'first',
      '--email',
      'First@Example.ORG',
      '--first-name',
      'Ada',
      '--last-name',
      'Lovelace',
      '--institution',
      'Analytical',
      '--filepath',
      filepath,
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain('Success: Created new profile `first`.');
    expect(result.stdout).toContain('Success: first set as default profile');
    const config = readConfig();
    expect(config.default_profile).toBe('first');
    expect(config.profiles.first).toMatchObject({
      storage: { backend: 'core.sqlite_dos', config: { filepath } },
      process_control: { backend: null },
      default_user_email: 'First@example.org',
    });
    expect(existsSync(join(filepath, 'database.sqlite'))).toBe(true);
    const users = await verdi(['user', 'list', '--json']);
    expect(users.json()).toEqual([
      {
        pk: 1,
        email: 'First@example.org',
        first_name: 'Ada',
        last_name: 'Lovelace',
        institution: 'Analytical',
        is_default: true,
      },
    ]);
  });

  it('names every missing option when not interactive, and refuses a taken name', async () => {
    const missing = await verdi(['profile', 'setup', 'core.sqlite_dos', '-n']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing options --profile-name, --email');
    const taken = await verdi([
      'profile',
      'setup',
      'core.sqlite_dos',
      '-n',
      '-p',
      'first',
      '--email',
      'a@b.c',
    ]);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('invalid value for --profile-name: the profile `first` already exists');
    const psql = await verdi(['profile', 'setup', 'core.psql_dos', '-n', '-p', 'pg', '--email', 'a@b.c']);
    expect(psql.code).toBe(2);
    expect(psql.stderr).toContain('missing options --database-username, --database-name');
  });

  it('sets up a profile from a YAML file, command-line options winning over the file', async () => {
    const file = join(base, 'setup.yaml');
    writeFileSync(
      file,
      [
        'profile_name: from-file',
        'email: file@example.org',
        'institution: From File',
        `filepath: ${join(base, 'file-storage')}`,
        'set_as_default: false',
      ].join('\n'),
    );
    const result = await verdi([
      'profile',
      'setup',
      'core.sqlite_dos',
      '--config',
      file,
      '--institution',
      'Command Line',
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(readConfig().profiles['from-file']).toMatchObject({
      storage: { config: { filepath: join(base, 'file-storage') } },
    });
    expect(readConfig().default_profile).toBe('first');
    const users = await verdi(['-p', 'from-file', 'user', 'list', '--json']);
    expect(users.json()).toMatchObject([{ email: 'file@example.org', institution: 'Command Line' }]);
  });

  it('rejects unknown keys and bad values in the YAML file, naming them', async () => {
    const file = join(base, 'bad.yaml');
    writeFileSync(file, 'profile_name: bad\nemail: x@y.z\nfile_path: /tmp/x\n');
    const unknown = await verdi(['profile', 'setup', 'core.sqlite_dos', '--config', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown key `file_path`');
    writeFileSync(file, 'profile_name: bad\nemail: not-an-email\n');
    const invalid = await verdi(['profile', 'setup', 'core.sqlite_dos', '--config', file]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(
      /invalid value for --email \(from .*bad\.yaml\): `not-an-email` is not an email address/,
    );
    const absent = await verdi([
      'profile',
      'setup',
      'core.sqlite_dos',
      '--config',
      join(base, 'absent.yaml'),
    ]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain('could not read the configuration file');
  });

  it('sets up a profile from YAML served over http', async () => {
    const result = await verdi([
      'profile',
      'setup',
      'core.sqlite_dos',
      '--config',
      `${serverUrl}/profile.yaml`,
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(readConfig().profiles['from-url']).toMatchObject({
      storage: { config: { filepath: join(base, 'url-storage') } },
    });
    const users = await verdi(['-p', 'from-url', 'user', 'list', '--json']);
    expect(users.json()).toMatchObject([{ email: 'url@example.org', first_name: 'Url' }]);
    const missing = await verdi([
      'profile',
      'setup',
      'core.sqlite_dos',
      '--config',
      `${serverUrl}/nothing.yaml`,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('HTTP 404');
  });

  it('lists and shows profiles, as text and JSON', async () => {
    const list = await verdi(['profile', 'list']);
    expect(list.stdout).toMatch(/^\* first$/m);
    expect(list.stdout).toMatch(/^ {2}from-file$/m);
    const json = await verdi(['profile', 'list', '--json']);
    expect(json.json()).toMatchObject({
      config_folder: configDir,
      default_profile: 'first',
      profiles: expect.arrayContaining([
        {
          name: 'from-url',
          is_default: false,
          storage_backend: 'core.sqlite_dos',
          process_control_backend: null,
        },
      ]),
    });
    const show = await verdi(['profile', 'show', 'from-file']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('Report: Profile: from-file');
    expect(show.stdout).toMatch(/^ {2}backend: core\.sqlite_dos$/m);
    const showJson = await verdi(['profile', 'show', '--json']);
    expect(showJson.json()).toMatchObject({ name: 'first', storage: { backend: 'core.sqlite_dos' } });
    const unknown = await verdi(['profile', 'show', 'frist']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('profile `frist` does not exist');
  });

  it('sets the default profile', async () => {
    const result = await verdi(['profile', 'set-default', 'from-url']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Success: from-url set as default profile');
    expect(readConfig().default_profile).toBe('from-url');
    const back = await verdi(['profile', 'set-default', 'first']);
    expect(back.code).toBe(0);
  });

  it('asks before deleting a profile and keeps it when the answer is no', async () => {
    const result = await verdi(['profile', 'delete', 'from-file'], { input: 'n\nn\n' });
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain('Deleting of `from-file` cancelled.');
    expect(readConfig().profiles['from-file']).toBeDefined();
  });

  it('aborts when the confirmation gets no answer', async () => {
    const result = await verdi(['profile', 'delete', 'from-file']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Aborted!');
    expect(readConfig().profiles['from-file']).toBeDefined();
  });

  it('deletes a profile keeping its data after confirmation', async () => {
    const result = await verdi(['profile', 'delete', 'from-file'], { input: 'n\ny\n' });
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain('Success: Profile `from-file` was deleted.');
    expect(readConfig().profiles['from-file']).toBeUndefined();
    expect(existsSync(join(base, 'file-storage', 'database.sqlite'))).toBe(true);
  });

  it('insists on --delete-data or --keep-data with --force, and deletes the storage with --delete-data', async () => {
    const vague = await verdi(['profile', 'delete', '--force', 'from-url']);
    expect(vague.code).toBe(2);
    expect(vague.stderr).toContain('either `--delete-data` or `--keep-data` has to be given');
    const result = await verdi(['profile', 'delete', '--force', '--delete-data', 'from-url', 'first']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(existsSync(join(base, 'url-storage'))).toBe(false);
    expect(existsSync(join(base, 'first-storage'))).toBe(false);
    expect(result.stderr).toContain('`first` was the default profile, no profiles remain to set as default.');
    expect(readConfig().profiles).toEqual({});
    expect(readConfig().default_profile).toBeUndefined();
  });
});
