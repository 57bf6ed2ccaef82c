import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  MultipleObjectsError,
  NotExistentError,
  ValidationError,
} from '../../src/errors.js';
import {
  AuthInfo,
  Computer,
  loadComputer,
  resetComputerPluginHooks,
  setComputerPluginHooks,
  User,
} from '../../src/orm.js';
import { DirectScheduler } from '../../src/schedulers/plugins/direct.js';
import { LocalTransport, SshTransport } from '../../src/transports.js';
import { useStorage } from '../orm/setup.js';
import { openPsqlDos, openSqliteDos, openSqliteTemp } from '../storage/helpers.js';
import { localComputer, startSshFixture, unique, type SshFixture } from './helpers.js';

const SQLITE_BACKENDS = [
  { name: 'core.sqlite_temp', open: openSqliteTemp },
  { name: 'core.sqlite_dos', open: openSqliteDos },
] as const;

describe.each(SQLITE_BACKENDS)('computer configuration on $name', ({ open }) => {
  useStorage(open);
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-computer-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('configures core.local per user and stores exactly the params given', async () => {
    const computer = await localComputer().store();
    expect(await computer.isConfigured()).toBe(false);
    expect(await computer.getConfiguration()).toEqual({});
    const info = await computer.configure();
    expect(info).toBeInstanceOf(AuthInfo);
    expect(info.getAuthParams()).toEqual({});
    expect(await computer.isConfigured()).toBe(true);
    await computer.configure({ use_login_shell: false, safe_interval: 2 });
    expect(await computer.getConfiguration()).toEqual({ use_login_shell: false, safe_interval: 2 });
    // a second configure merges into what is stored
    await computer.configure({ safe_interval: 3 });
    expect(await computer.getConfiguration()).toEqual({ use_login_shell: false, safe_interval: 3 });
  });

  it('refuses unknown auth params and bad values, naming each key, and stores nothing', async () => {
    const computer = await localComputer().store();
    const error = await computer
      .configure({ username: 'me', bogus: 1, safe_interval: -1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues.map((issue) => issue.path);
    expect(issues).toEqual(expect.arrayContaining(['username', 'bogus', 'safe_interval']));
    expect((error as Error).message).toMatch(/username: not an auth parameter of core\.local/);
    expect((error as Error).message).toMatch(
      /bogus: not an auth parameter of core\.local \(valid: use_login_shell, safe_interval\)/,
    );
    expect(await computer.isConfigured()).toBe(false);

    const ssh = await localComputer({ transportType: 'core.ssh' }).store();
    await ssh.configure({ username: 'someone', port: 2222 });
    expect(await ssh.getConfiguration()).toEqual({ username: 'someone', port: 2222 });
    const bad = await ssh
      .configure({ port: 'twenty-two', key_policy: 'TrustEveryone' })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).issues.map((i) => i.path).sort()).toEqual(['key_policy', 'port']);
    expect(await ssh.getConfiguration()).toEqual({ username: 'someone', port: 2222 });
  });

  it('keeps configuration, enabled state and transports per user', async () => {
    const computer = await localComputer().store();
    const other = await new User({ email: `${unique('other')}@example.com` }).store();
    await computer.configure({ safe_interval: 1 });
    expect(await computer.isUserConfigured(other)).toBe(false);
    await expect(computer.getTransport(other)).rejects.toBeInstanceOf(NotExistentError);
    await computer.configure({ safe_interval: 7 }, other);
    expect(await computer.getConfiguration(other)).toEqual({ safe_interval: 7 });
    expect(await computer.getConfiguration()).toEqual({ safe_interval: 1 });

    expect(await computer.isUserEnabled()).toBe(true);
    await computer.disable();
    expect(await computer.isUserEnabled()).toBe(false);
    expect(await computer.isUserEnabled(other)).toBe(true);
    await computer.enable();
    expect(await computer.isUserEnabled()).toBe(true);
    await computer.disable(other);
    expect(await (await Computer.get({ pk: computer.pk! })).isUserEnabled(other)).toBe(false);
    const unconfigured = await localComputer().store();
    await expect(unconfigured.enable()).rejects.toBeInstanceOf(NotExistentError);

    expect((await computer.getTransport()).getSafeOpenInterval()).toBe(1);
    expect((await computer.getTransport(other)).getSafeOpenInterval()).toBe(7);
  });

  it('gives a closed core.local transport that opens on demand and sees local files', async () => {
    const computer = await localComputer().store();
    await computer.configure({ use_login_shell: false });
    const transport = await computer.getTransport();
    expect(transport).toBeInstanceOf(LocalTransport);
    expect(transport.isOpen).toBe(false);
    const file = path.join(scratch, 'seen.txt');
    await writeFile(file, 'x');
    await transport.open();
    try {
      expect(await transport.isfile(file)).toBe(true);
      await rm(file);
      expect(await transport.isfile(file)).toBe(false);
      expect(await transport.whoami()).toBe(userInfo().username);
    } finally {
      await transport.close();
    }
    const opened = await computer.openTransport();
    expect(opened.isOpen).toBe(true);
    await opened.close();
  });

  it('gives a scheduler of its type with the transport attached', async () => {
    const computer = await localComputer().store();
    await computer.configure({ use_login_shell: false });
    const bare = await computer.getScheduler();
    expect(bare).toBeInstanceOf(DirectScheduler);
    expect(() => bare.transport).toThrow(/setTransport/);
    const jobs = await computer.withTransport(async ({ transport, scheduler }) => {
      expect(scheduler).toBeInstanceOf(DirectScheduler);
      expect(scheduler.transport).toBe(transport);
      return scheduler.getJobs({ asDict: true });
    });
    expect(typeof jobs).toBe('object');

    const odd = await localComputer({ schedulerType: 'core.nothing' }).store();
    await expect(odd.getScheduler()).rejects.toBeInstanceOf(ConfigurationError);
    await expect(odd.getScheduler()).rejects.toThrow(/No scheduler found for .* \[type core\.nothing\]/);
    const oddTransport = await localComputer({ transportType: 'core.nothing' }).store();
    await expect(oddTransport.configure({})).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('defaults safe_interval per transport type', async () => {
    const local = await localComputer().store();
    const ssh = await localComputer({ transportType: 'core.ssh' }).store();
    expect(await (await local.configure()).getSafeOpenInterval()).toBe(0);
    expect(await (await ssh.configure({ username: 'x' })).getSafeOpenInterval()).toBe(15);
    expect(await (await ssh.configure({ safe_interval: 4 })).getSafeOpenInterval()).toBe(4);
    expect((await ssh.getTransport()).getSafeOpenInterval()).toBe(4);
    expect(await ssh.getTransport()).toBeInstanceOf(SshTransport);
  });

  it('keeps the metadata aiida keeps, with its defaults and checks', async () => {
    const computer = await localComputer().store();
    expect(computer.getWorkdir()).toBe('/scratch/{username}/aiida_run/');
    expect(computer.getShebang()).toBe('#!/bin/bash');
    expect(computer.getMpirunCommand()).toEqual(['mpirun', '-np', '{tot_num_mpiprocs}']);
    expect(computer.getDefaultMpiprocsPerMachine()).toBeNull();
    expect(computer.getDefaultMemoryPerMachine()).toBeNull();
    expect(computer.getPrependText()).toBe('');
    expect(computer.getAppendText()).toBe('');
    expect(computer.getUseDoubleQuotes()).toBe(false);
    expect(computer.getMinimumJobPollInterval()).toBe(10);

    await computer.setWorkdir('/tmp/{username}/work/');
    await computer.setShebang('#!/bin/sh');
    await computer.setMpirunCommand(['srun', '-n', '{tot_num_mpiprocs}']);
    await computer.setDefaultMpiprocsPerMachine(4);
    await computer.setDefaultMemoryPerMachine(1_000_000);
    await computer.setPrependText('module load x');
    await computer.setAppendText('echo done');
    await computer.setUseDoubleQuotes(true);
    await computer.setMinimumJobPollInterval(0.5);
    const loaded = await Computer.get({ pk: computer.pk! });
    expect(loaded.metadata).toEqual({
      workdir: '/tmp/{username}/work/',
      shebang: '#!/bin/sh',
      mpirun_command: ['srun', '-n', '{tot_num_mpiprocs}'],
      default_mpiprocs_per_machine: 4,
      default_memory_per_machine: 1_000_000,
      prepend_text: 'module load x',
      append_text: 'echo done',
      use_double_quotes: true,
      minimum_scheduler_poll_interval: 0.5,
    });
    expect(loaded.getMinimumJobPollInterval()).toBe(0.5);

    await expect(computer.setDefaultMpiprocsPerMachine(0)).rejects.toThrow(/default_mpiprocs_per_machine/);
    await expect(computer.setDefaultMemoryPerMachine(-5)).rejects.toThrow(/default_memory_per_machine/);
    await expect(computer.setProperties({ minimum_scheduler_poll_interval: 'often' })).rejects.toThrow(
      /minimum_scheduler_poll_interval/,
    );
    await expect(computer.setProperties({ use_double_quotes: 'yes' })).rejects.toThrow(/use_double_quotes/);
    await expect(computer.setWorkdir('relative/dir')).rejects.toThrow(/absolute/);
    expect((await Computer.get({ pk: computer.pk! })).getDefaultMpiprocsPerMachine()).toBe(4);
  });

  it('loads computers by label, pk, uuid, uuid prefix and forced label', async () => {
    const computer = await localComputer().store();
    expect((await loadComputer(computer.label)).uuid).toBe(computer.uuid);
    expect((await loadComputer(computer.pk!)).uuid).toBe(computer.uuid);
    expect((await loadComputer(String(computer.pk))).uuid).toBe(computer.uuid);
    expect((await loadComputer(computer.uuid)).pk).toBe(computer.pk);
    expect((await loadComputer(computer.uuid.slice(0, 13))).pk).toBe(computer.pk);
    const digits = await localComputer({ label: String(9_000_000 + (computer.pk ?? 0)) }).store();
    expect((await loadComputer(`${digits.label}!`)).pk).toBe(digits.pk);
    // a pk reading that finds nothing falls back to the label
    expect((await loadComputer(digits.label)).pk).toBe(digits.pk);
    await expect(loadComputer('no-such-computer')).rejects.toBeInstanceOf(NotExistentError);
    await expect(loadComputer('')).rejects.toBeInstanceOf(ValidationError);
    const computers = await Computer.all();
    if (computers.length > 16) {
      // with many computers some pair shares a first hex digit: an ambiguous one-character prefix
      const first = computers.map((c) => c.uuid[0]!);
      const shared = first.find((c, i) => first.indexOf(c) !== i)!;
      await expect(loadComputer(shared)).rejects.toBeInstanceOf(MultipleObjectsError);
    }
  });

  it('lets plugins replace single hooks', async () => {
    const computer = await localComputer().store();
    const calls: string[] = [];
    setComputerPluginHooks({
      validateAuthParams: (type, params) => {
        calls.push(`${type}:${Object.keys(params).join(',')}`);
      },
    });
    try {
      await computer.configure({ anything: 1 });
      expect(calls).toEqual(['core.local:anything']);
    } finally {
      resetComputerPluginHooks();
    }
    await expect(computer.configure({ other: 1 })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('computer configuration on core.psql_dos (fresh database)', () => {
  useStorage(openPsqlDos);

  it('configures, loads and opens a core.local computer', async () => {
    const computer = await localComputer().store();
    await computer.configure({ use_login_shell: false, safe_interval: 1 });
    const loaded = await loadComputer(computer.label);
    expect(await loaded.getConfiguration()).toEqual({ use_login_shell: false, safe_interval: 1 });
    await loaded.disable();
    expect(await loaded.isUserEnabled()).toBe(false);
    const whoami = await loaded.withTransport(({ transport }) => transport.whoami());
    expect(whoami).toBe(userInfo().username);
    await expect(loaded.configure({ port: 22 })).rejects.toThrow(
      /port: not an auth parameter of core\.local/,
    );
  });
});

describe('computer configuration for core.ssh to a private sshd', () => {
  useStorage(openSqliteTemp);
  let ssh: SshFixture;
  let home: string | undefined;
  beforeAll(async () => {
    ssh = await startSshFixture();
    home = process.env.HOME;
    // the transport reads known_hosts under HOME: point it at the fixture's, never the real ~/.ssh
    process.env.HOME = ssh.home;
  });
  afterAll(async () => {
    if (home === undefined) delete process.env.HOME;
    else process.env.HOME = home;
    await ssh.dispose();
  });

  it('opens the transport from the stored auth params and runs the scheduler through it', async () => {
    const computer = await localComputer({ transportType: 'core.ssh', hostname: '127.0.0.1' }).store();
    await computer.configure({ ...ssh.authParams, username: userInfo().username });
    const result = await computer.withTransport(async ({ transport, scheduler }) => {
      expect(transport).toBeInstanceOf(SshTransport);
      const jobs = await scheduler.getJobs();
      return { user: await transport.whoami(), jobs };
    });
    expect(result.user).toBe(userInfo().username);
    expect(Array.isArray(result.jobs)).toBe(true);
    const marker = path.join(ssh.home, 'marker.txt');
    await writeFile(marker, 'over ssh');
    const transport = await computer.openTransport();
    try {
      const local = path.join(ssh.home, 'copy.txt');
      await transport.getfile(marker, local);
      expect(await readFile(local, 'utf8')).toBe('over ssh');
    } finally {
      await transport.close();
    }
  });
});
