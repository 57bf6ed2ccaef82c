import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  MissingConfigurationError,
  ProfileConfigurationError,
} from '../../src/errors.js';
import {
  CURRENT_CONFIG_VERSION,
  Config,
  Profile,
  configNeedsMigrating,
  getConfig,
  getConfigLoadReport,
  getConfigOption,
  resetConfig,
  resolveConfigDir,
  selectProfile,
  setConfigDir,
  upgradeConfig,
  withFileLock,
} from '../../src/config.js';

const run = promisify(execFile);

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aiida-ts-config-'));
  file = join(dir, 'config.json');
});

afterEach(() => {
  setConfigDir(undefined);
  rmSync(dir, { recursive: true, force: true });
});

function sqliteProfile(name: string): Profile {
  return Profile.create(name, {
    storage: { backend: 'core.sqlite_dos', config: { filepath: join(dir, name) } },
  });
}

describe('configuration folder', () => {
  it('is ~/.aiida-ts by default and follows AIIDA_TS_PATH like AIIDA_PATH', () => {
    expect(resolveConfigDir({ HOME: '/home/x' })).toMatch(/\.aiida-ts$/);
    expect(resolveConfigDir({ AIIDA_TS_PATH: '/some/base' })).toBe('/some/base/.aiida-ts');
    expect(resolveConfigDir({ AIIDA_TS_PATH: '/some/base/.aiida-ts' })).toBe('/some/base/.aiida-ts');
    mkdirSync(join(dir, 'b', '.aiida-ts'), { recursive: true });
    // The first listed folder that holds a configuration folder wins; else the last one listed.
    expect(resolveConfigDir({ AIIDA_TS_PATH: `${join(dir, 'a')}:${join(dir, 'b')}:${join(dir, 'c')}` })).toBe(
      join(dir, 'b', '.aiida-ts'),
    );
    expect(resolveConfigDir({ AIIDA_TS_PATH: `${join(dir, 'a')}:${join(dir, 'c')}` })).toBe(
      join(dir, 'c', '.aiida-ts'),
    );
  });
});

describe('Config', () => {
  it('starts empty when the file is missing and writes nothing until stored', () => {
    const config = Config.fromFile(file);
    expect(config.profileNames).toEqual([]);
    expect(config.version).toBe(CURRENT_CONFIG_VERSION);
    expect(() => statSync(file)).toThrow();
    config.addProfile(sqliteProfile('one')).setDefaultProfile('one').store();
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(raw).toMatchObject({
      CONFIG_VERSION: { CURRENT: 9, OLDEST_COMPATIBLE: 9 },
      default_profile: 'one',
      profiles: {
        one: {
          storage: { backend: 'core.sqlite_dos', config: { filepath: join(dir, 'one') } },
          process_control: { backend: null, config: null },
          test_profile: false,
        },
      },
    });
    expect((raw.profiles as Record<string, { PROFILE_UUID: string }>).one!.PROFILE_UUID).toMatch(
      /^[0-9a-f]{32}$/,
    );
    // Owner-only, like AiiDA's umask 0077: it may hold database and broker passwords.
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('round-trips profiles, brokers and options', () => {
    const config = Config.fromFile(file);
    const profile = sqliteProfile('p');
    profile.setProcessControl('core.rabbitmq', { broker_host: 'rmq.example.org', broker_port: 5673 });
    profile.defaultUserEmail = 'me@example.org';
    config.addProfile(profile).setDefaultProfile('p');
    config.setOption('daemon.default_workers', 3, 'p');
    config.setOption('logging.aiida_loglevel', 'DEBUG');
    config.setOption('autofill.user.email', 'auto@example.org', 'p'); // global-only: goes to the global options
    config.store();
    const again = Config.fromFile(file);
    expect(again.toJSON()).toEqual(config.toJSON());
    const loaded = again.getProfile();
    expect(loaded.processControlBackend).toBe('core.rabbitmq');
    expect(loaded.processControlConfig).toEqual({
      broker_protocol: 'amqp',
      broker_username: 'guest',
      broker_password: 'guest',
      broker_host: 'rmq.example.org',
      broker_port: 5673,
      broker_virtual_host: '',
      broker_parameters: {},
    });
    expect(again.getOption('daemon.default_workers', 'p')).toBe(3);
    expect(again.getOption('daemon.default_workers')).toBe(1);
    expect(again.getOption('logging.aiida_loglevel', 'p')).toBe('DEBUG');
    expect(again.getOption('autofill.user.email')).toBe('auto@example.org');
    expect(again.getOptions('p').get('daemon.default_workers')).toMatchObject({
      source: 'profile',
      value: 3,
    });
    expect(again.getOptions('p').get('logging.aiida_loglevel')).toMatchObject({
      source: 'global',
      value: 'DEBUG',
    });
    expect(again.getOptions('p').get('daemon.timeout')).toMatchObject({ source: 'default', value: 2 });
    again.unsetOption('daemon.default_workers', 'p');
    expect(again.getOption('daemon.default_workers', 'p')).toBe(1);
  });

  it('names the profile and the nearest names when a profile does not exist', () => {
    const config = Config.fromFile(file).addProfile(sqliteProfile('production'));
    expect(() => config.getProfile('prod')).toThrow(ProfileConfigurationError);
    expect(() => config.getProfile('prod')).toThrow(/profile `prod` does not exist.*`production`/);
    expect(() => config.getProfile()).toThrow(/no default profile/);
    expect(() => config.addProfile(sqliteProfile('production'))).toThrow(/already exists/);
  });

  it('moves the default to a remaining profile when the default is removed', () => {
    const config = Config.fromFile(file).addProfile(sqliteProfile('a')).addProfile(sqliteProfile('b'));
    config.setDefaultProfile('a');
    expect(config.removeProfile('a')).toBe('b');
    expect(config.defaultProfileName).toBe('b');
    expect(config.removeProfile('b')).toBeUndefined();
    expect(config.defaultProfileName).toBeUndefined();
  });
});

describe('validation of a hand-edited file', () => {
  function write(content: unknown): void {
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }
  const version = { CURRENT: 9, OLDEST_COMPATIBLE: 9 };
  const goodProfile = {
    PROFILE_UUID: 'abc',
    storage: { backend: 'core.sqlite_dos', config: {} },
    process_control: { backend: null, config: null },
  };

  it('reports text that is not JSON', () => {
    write('{"CONFIG_VERSION": ');
    expect(() => Config.fromFile(file)).toThrow(/not valid JSON/);
  });

  it('names the key path of each failing value', () => {
    write({
      CONFIG_VERSION: version,
      profiles: {
        main: {
          ...goodProfile,
          storage: { backend: 42, config: {} },
          process_control: { backend: 'core.rabbitmq', config: { broker_port: 'five' } },
        },
      },
    });
    let error: unknown;
    try {
      Config.fromFile(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(/profiles\.main\.storage\.backend: .*string/);
    expect(message).toMatch(/profiles\.main\.process_control\.config\.broker_port: .*number/);
  });

  it('names an unknown option with the closest known one, and a global-only option set on a profile', () => {
    write({
      CONFIG_VERSION: version,
      profiles: {
        main: { ...goodProfile, options: { 'autofill.user.email': 'x@y', 'daemon.timeout': 'soon' } },
      },
      options: { 'daemon.default_worker': 2 },
    });
    expect(() => Config.fromFile(file)).toThrow(
      /options\.daemon\.default_worker: unknown key.*daemon\.default_workers/s,
    );
    expect(() => Config.fromFile(file)).toThrow(
      /profiles\.main\.options\.autofill\.user\.email: this option can only be set globally/,
    );
  });

  it('rejects a default profile that does not exist and keys it does not know', () => {
    write({
      CONFIG_VERSION: version,
      profiles: { main: goodProfile },
      default_profile: 'other',
      extra: true,
    });
    expect(() => Config.fromFile(file)).toThrow(/default_profile: profile `other` does not exist/);
    expect(() => Config.fromFile(file)).toThrow(/extra: unknown key/);
  });

  it('refuses a file written by a newer version, naming both versions', () => {
    write({ CONFIG_VERSION: { CURRENT: 12, OLDEST_COMPATIBLE: 11 }, profiles: {} });
    expect(() => Config.fromFile(file)).toThrow(
      /version 12 .*newer than the highest version this aiida-ts supports \(9\)/,
    );
    write({ CONFIG_VERSION: { CURRENT: 'nine', OLDEST_COMPATIBLE: 9 } });
    expect(() => Config.fromFile(file)).toThrow(/CONFIG_VERSION.CURRENT/);
  });
});

describe('migrations', () => {
  const aiida1 = {
    CONFIG_VERSION: { CURRENT: 1, OLDEST_COMPATIBLE: 0 },
    default_profiles: { verdi: 'quick', daemon: 'main' },
    profiles: {
      main: {
        AIIDADB_ENGINE: 'postgresql_psycopg2',
        AIIDADB_BACKEND: 'django',
        AIIDADB_HOST: 'localhost',
        AIIDADB_PORT: 5432,
        AIIDADB_USER: 'aiida',
        AIIDADB_PASS: 'secret',
        AIIDADB_NAME: 'aiidadb',
        AIIDADB_REPOSITORY_URI: 'file:///home/aiida/.aiida/repository/main',
        default_user_email: 'me@example.org',
        options: { daemon_default_workers: 2, logging_aiida_log_level: 'DEBUG' },
      },
      test_quick: {
        AIIDADB_ENGINE: 'postgresql_psycopg2',
        AIIDADB_BACKEND: 'sqlalchemy',
        AIIDADB_HOST: 'localhost',
        AIIDADB_PORT: 5432,
        AIIDADB_USER: 'aiida',
        AIIDADB_PASS: 'secret',
        AIIDADB_NAME: 'quick',
        AIIDADB_REPOSITORY_URI: 'file:///tmp/quick',
        PROFILE_UUID: 'fixed-uuid',
        broker_host: 'rmq.local',
      },
    },
    options: { user_email: 'me@example.org', show_deprecations: false },
  };

  it('upgrades an aiida-core 1.x layout to the current one step by step', () => {
    const raw = structuredClone(aiida1) as Record<string, unknown>;
    expect(configNeedsMigrating(raw)).toBe(true);
    const migrated = upgradeConfig(raw);
    expect(migrated.CONFIG_VERSION).toEqual({ CURRENT: 9, OLDEST_COMPATIBLE: 9 });
    expect(migrated.default_profile).toBe('main');
    expect(migrated).not.toHaveProperty('default_profiles');
    expect(migrated.options).toEqual({
      'autofill.user.email': 'me@example.org',
      'warnings.showdeprecations': false,
    });
    const profiles = migrated.profiles as Record<string, Record<string, unknown>>;
    expect(profiles.main).toMatchObject({
      storage: {
        backend: 'core.psql_dos',
        _v6_backend: 'django',
        config: {
          database_engine: 'postgresql_psycopg2',
          database_hostname: 'localhost',
          database_port: 5432,
          database_username: 'aiida',
          database_password: 'secret',
          database_name: 'aiidadb',
          repository_uri: 'file:///home/aiida/.aiida/repository/main',
        },
      },
      process_control: {
        backend: 'core.rabbitmq',
        config: {
          broker_protocol: 'amqp',
          broker_host: '127.0.0.1',
          broker_port: 5672,
          broker_virtual_host: '',
        },
      },
      test_profile: false,
      options: { 'daemon.default_workers': 2, 'logging.aiida_loglevel': 'DEBUG' },
    });
    expect(profiles.main?.PROFILE_UUID).toMatch(/^[0-9a-f]{32}$/);
    expect(profiles.main).not.toHaveProperty('AIIDADB_BACKEND');
    expect(profiles.test_quick).toMatchObject({
      PROFILE_UUID: 'fixed-uuid',
      test_profile: true,
      storage: { backend: 'core.psql_dos', _v6_backend: 'sqlalchemy' },
      process_control: { config: { broker_host: 'rmq.local' } },
    });
  });

  it('migrates the file on read, after backing up the original', () => {
    writeFileSync(file, JSON.stringify(aiida1));
    const config = Config.fromFile(file);
    expect(config.version).toBe(9);
    expect(config.getProfile().name).toBe('main');
    expect(config.getProfile().storageBackend).toBe('core.psql_dos');
    const backups = readdirSync(dir).filter((name) => name.startsWith('config.json.'));
    expect(backups).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, backups[0]!), 'utf8'))).toEqual(aiida1);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ CONFIG_VERSION: { CURRENT: 9 } });
    // Reading again finds nothing to migrate and leaves no second backup.
    Config.fromFile(file);
    expect(readdirSync(dir).filter((name) => name.startsWith('config.json.'))).toHaveLength(1);
  });

  it('reports the migration through the manager', () => {
    mkdirSync(join(dir, '.aiida-ts'));
    writeFileSync(join(dir, '.aiida-ts', 'config.json'), JSON.stringify(aiida1));
    setConfigDir(join(dir, '.aiida-ts'));
    expect(getConfig().version).toBe(9);
    expect(getConfigLoadReport().migratedFrom).toMatchObject({ version: 1 });
  });
});

describe('writes', () => {
  it('leave no temporary files and keep the previous file when validation fails', () => {
    const config = Config.fromFile(file).addProfile(sqliteProfile('a'));
    config.store();
    const before = readFileSync(file, 'utf8');
    expect(() =>
      config.update((fresh) => {
        fresh.setOption('daemon.timeout', 5, 'a');
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['config.json']);
  });

  it('keep every change of concurrent writers in separate processes', async () => {
    Config.fromFile(file).store();
    const writers = 4;
    const perWriter = 8;
    const script = join(import.meta.dirname, 'fixtures', 'concurrent-writer.ts');
    await Promise.all(
      Array.from({ length: writers }, (_, index) =>
        run(process.execPath, ['--import', 'tsx', script, file, String(index), String(perWriter)], {
          cwd: join(import.meta.dirname, '..', '..'),
        }),
      ),
    );
    const config = Config.fromFile(file);
    expect(config.profileNames).toHaveLength(writers * perWriter);
    for (let w = 0; w < writers; w += 1) {
      for (let i = 0; i < perWriter; i += 1)
        expect(config.getOption('daemon.timeout', `w${w}-${i}`)).toBe(i + 1);
    }
    expect(readdirSync(dir).sort()).toEqual(['config.json']);
  }, 60_000);

  it('take over a lock left by a dead process and time out on a live one, naming it', () => {
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), token: 'gone' }));
    expect(withFileLock(file, () => 'ran')).toBe('ran');
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.ppid, host: hostname(), token: 'alive' }));
    expect(() => withFileLock(file, () => 'never', { timeoutMs: 100 })).toThrow(
      new RegExp(`timed out after 100 ms .*held by process ${process.ppid}`),
    );
    rmSync(`${file}.lock`);
    expect(() => withFileLock(file, () => withFileLock(file, () => 1))).toThrow(
      /already held by this process/,
    );
  });
});

describe('current profile', () => {
  it('selects the default profile, refuses to switch silently and reads options through it', () => {
    setConfigDir(dir);
    expect(() => selectProfile()).toThrow(MissingConfigurationError);
    const config = Config.fromFile(file).addProfile(sqliteProfile('a')).addProfile(sqliteProfile('b'));
    config.setDefaultProfile('a').setOption('daemon.timeout', 7, 'b');
    config.store();
    resetConfig();
    expect(selectProfile().name).toBe('a');
    expect(getConfigOption('daemon.timeout')).toBe(2);
    expect(() => selectProfile('b')).toThrow(/cannot switch/);
    expect(selectProfile('b', { allowSwitch: true }).name).toBe('b');
    expect(getConfigOption('daemon.timeout')).toBe(7);
  });
});
