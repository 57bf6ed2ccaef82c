import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
afterAll(() => sandbox.cleanup());
const { verdi, configDir } = sandbox;

const readConfig = () =>
  JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as {
    options?: Record<string, unknown>;
    profiles: Record<string, { options?: Record<string, unknown>; default_user_email?: string }>;
  };

describe('verdi config without a profile', () => {
  it('sets options globally and lists them with their source', async () => {
    const set = await verdi(['config', 'set', 'daemon.default_workers', '3']);
    expect(set.code, describeResult(set)).toBe(0);
    expect(set.stdout).toContain("Success: 'daemon.default_workers' set to 3 globally");
    expect(set.stdout).toContain('Run `verdi daemon restart` for this change to take effect.');
    expect(readConfig().options).toEqual({ 'daemon.default_workers': 3 });
    const list = await verdi(['config', 'list', 'daemon', '--json']);
    expect(list.json()).toMatchObject({
      'daemon.default_workers': { value: 3, source: 'global' },
      'daemon.timeout': { value: 2, source: 'default' },
    });
    expect(
      Object.keys(list.json<Record<string, unknown>>()).every((name) => name.startsWith('daemon.')),
    ).toBe(true);
  });
});

describe('verdi config and verdi user on a profile', () => {
  beforeAll(async () => {
    const created = await verdi(['presto', '--email', 'owner@example.org']);
    expect(created.code, describeResult(created)).toBe(0);
  });

  it('sets an option on the current profile by default and globally with --global', async () => {
    const profile = await verdi(['config', 'set', 'daemon.timeout', '7']);
    expect(profile.stdout).toContain("'daemon.timeout' set to 7 for 'presto' profile");
    const global = await verdi(['config', 'set', '--global', 'daemon.timeout', '9']);
    expect(global.stdout).toContain("'daemon.timeout' set to 9 globally");
    expect(readConfig().profiles.presto?.options).toMatchObject({ 'daemon.timeout': 7 });
    expect(readConfig().options).toMatchObject({ 'daemon.timeout': 9 });
    expect((await verdi(['config', 'get', 'daemon.timeout'])).stdout.trim()).toBe('7');
    const table = await verdi(['config', 'list', 'daemon.timeout']);
    expect(table.stdout).toMatch(/^daemon\.timeout\s+profile\s+7$/m);
    const unset = await verdi(['config', 'unset', 'daemon.timeout']);
    expect(unset.stdout).toContain("'daemon.timeout' unset for 'presto' profile");
    expect((await verdi(['config', 'get', 'daemon.timeout', '--json'])).json()).toBe(9);
    await verdi(['config', 'unset', '-g', 'daemon.timeout']);
    expect((await verdi(['config', 'get', 'daemon.timeout'])).stdout.trim()).toBe('2');
  });

  it('keeps global-only options global and handles list options with --append/--remove', async () => {
    const email = await verdi(['config', 'set', 'autofill.user.email', 'auto@example.org']);
    expect(email.stdout).toContain('globally');
    expect(readConfig().options).toMatchObject({ 'autofill.user.email': 'auto@example.org' });
    await verdi(['config', 'set', 'caching.enabled_for', 'aiida.calculations:core.arithmetic.add']);
    await verdi(['config', 'set', '--append', 'caching.enabled_for', 'aiida.workflows:*']);
    expect((await verdi(['config', 'get', 'caching.enabled_for', '--json'])).json()).toEqual([
      'aiida.calculations:core.arithmetic.add',
      'aiida.workflows:*',
    ]);
    await verdi(['config', 'set', '-r', 'caching.enabled_for', 'aiida.calculations:core.arithmetic.add']);
    expect((await verdi(['config', 'get', 'caching.enabled_for', '--json'])).json()).toEqual([
      'aiida.workflows:*',
    ]);
    const both = await verdi(['config', 'set', '-a', '-r', 'caching.enabled_for', 'x']);
    expect(both.code).toBe(2);
    const notList = await verdi(['config', 'set', '--append', 'daemon.timeout', '3']);
    expect(notList.code).toBe(1);
  });

  it('refuses unknown options and invalid values with exit 1, naming them', async () => {
    const unknown = await verdi(['config', 'set', 'daemon.worker', '3']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /Critical: the option `daemon\.worker` does not exist\. Did you mean .*`daemon\.default_workers`/,
    );
    const invalid = await verdi(['config', 'set', 'logging.aiida_loglevel', 'LOUD']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('invalid value for option `logging.aiida_loglevel`');
    const pattern = await verdi(['config', 'set', 'caching.disabled_for', 'a:b:c']);
    expect(pattern.code).toBe(1);
    expect(pattern.stderr).toContain('at most one entry point string separator');
  });

  it('shows the schema and the values of an option', async () => {
    const result = await verdi(['config', 'show', 'daemon.worker_process_slots']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/schema:\n\s+type: integer/);
    expect(result.stdout).toMatch(/values:\n\s+default: 200\n\s+global: <NOTSET>\n\s+profile: <NOTSET>/);
  });

  it('lists users and configures new and existing ones', async () => {
    const created = await verdi([
      'user',
      'configure',
      '--email',
      'new@example.org',
      '--first-name',
      'New',
      '--last-name',
      'User',
      '--institution',
      'Lab',
      '-n',
    ]);
    expect(created.code, describeResult(created)).toBe(0);
    expect(created.stdout).toContain('Success: new@example.org successfully created');
    const updated = await verdi([
      'user',
      'configure',
      '--email',
      'new@example.org',
      '--institution',
      'Other Lab',
      '-n',
    ]);
    expect(updated.stdout).toContain('Success: new@example.org successfully updated');
    const table = await verdi(['user', 'list']);
    expect(table.stdout).toMatch(/^\*\s+owner@example\.org/m);
    expect(table.stdout).toMatch(/^\s+new@example\.org\s+New\s+User\s+Other Lab$/m);
    const bad = await verdi(['user', 'configure', '--email', 'nope']);
    expect(bad.code).toBe(2);
  });

  it('changes the default user of the profile', async () => {
    const result = await verdi(['user', 'set-default', 'new@example.org']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(readConfig().profiles.presto?.default_user_email).toBe('new@example.org');
    const users = await verdi(['user', 'list', '--json']);
    expect(users.json()).toMatchObject(
      expect.arrayContaining([
        expect.objectContaining({ email: 'new@example.org', is_default: true }),
        expect.objectContaining({ email: 'owner@example.org', is_default: false }),
      ]),
    );
    const missing = await verdi(['user', 'set-default', 'ghost@example.org']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no user with email `ghost@example.org`');
  });
});
