import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Config, Profile } from '../../src/config.js';
import { ensureContainerRepositoryFactory } from '../../src/config/repository-wiring.js';
import { SqliteDosStorage } from '../../src/storage.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
afterAll(() => sandbox.cleanup());
const { verdi, base, configDir } = sandbox;

beforeAll(async () => {
  const created = await verdi(['presto', '--profile-name', 'current']);
  expect(created.code, describeResult(created)).toBe(0);
  // A second profile whose storage was written by an older version: schema `main_0001`.
  ensureContainerRepositoryFactory();
  const filepath = join(base, 'old-storage');
  await new SqliteDosStorage().initialise({ filepath }, { schemaVersion: 'main_0001' });
  Config.fromFile(join(configDir, 'config.json')).update((config) => {
    config.addProfile(
      Profile.create('old', {
        storage: { backend: 'core.sqlite_dos', config: { filepath } },
        defaultUserEmail: 'old@example.org',
      }),
    );
  });
});

describe('verdi storage', () => {
  it('version: the head and the profile schema versions', async () => {
    const result = await verdi(['storage', 'version']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toContain("Latest storage schema version: 'main_0002'");
    expect(result.stdout).toContain("Storage schema version of 'current': 'main_0002'");
    const old = await verdi(['-p', 'old', 'storage', 'version', '--json']);
    expect(old.json()).toEqual({ profile: 'old', head: 'main_0002', version: 'main_0001' });
  });

  it('info: entity counts and the repository, as YAML and JSON', async () => {
    const result = await verdi(['storage', 'info']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(/Users:\n\s+count: 1/);
    expect(result.stdout).toMatch(/Computers:\n\s+count: 1/);
    const json = await verdi(['storage', 'info', '--detailed', '--json']);
    expect(json.json()).toMatchObject({
      entryPoint: 'core.sqlite_dos',
      schemaVersion: 'main_0002',
      entities: { Users: { count: 1 }, Nodes: { count: 0 } },
    });
  });

  it('an outdated schema: status and other commands refuse it and say to migrate', async () => {
    const status = await verdi(['-p', 'old', 'status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(
      "Storage schema version is incompatible with the code version 'main_0002'",
    );
    expect(status.stdout).toContain('Run `verdi storage migrate` to solve this.');
    const info = await verdi(['-p', 'old', 'storage', 'info']);
    expect(info.code).toBe(1);
    expect(info.stderr).toMatch(
      /Critical: Database schema version `main_0001` is incompatible.*verdi -p old storage migrate/s,
    );
  });

  it('migrate refuses while another process uses the profile', async () => {
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '..', 'config', 'fixtures', 'hold-profile.ts'),
        configDir,
        'old',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      const refused = await verdi(['-p', 'old', 'storage', 'migrate', '--force']);
      expect(refused.code, describeResult(refused)).toBe(1);
      expect(refused.stderr).toContain('cannot lock profile `old` because other processes are using it');
      expect(refused.stderr).toContain(`pid ${holder.pid}`);
      const version = await verdi(['-p', 'old', 'storage', 'version', '--json']);
      expect(version.json()).toMatchObject({ version: 'main_0001' });
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('migrate asks first, stops when refused, and migrates when confirmed', async () => {
    const refused = await verdi(['-p', 'old', 'storage', 'migrate'], { input: 'n\n' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Migration cancelled.');
    const migrated = await verdi(['-p', 'old', 'storage', 'migrate'], { input: 'y\n' });
    expect(migrated.code, describeResult(migrated)).toBe(0);
    expect(migrated.stdout).toContain("Success: Migration completed: 'main_0001' -> 'main_0002'.");
    const again = await verdi(['-p', 'old', 'storage', 'migrate', '--force']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already at the latest schema version');
    const status = await verdi(['-p', 'old', 'status']);
    expect(status.code, describeResult(status)).toBe(0);
  });

  it('maintain: safe operations by default, a dry run of the full maintenance', async () => {
    const refused = await verdi(['storage', 'maintain'], { input: 'n\n' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Maintenance cancelled.');
    const live = await verdi(['storage', 'maintain', '--force']);
    expect(live.code, describeResult(live)).toBe(0);
    expect(live.stdout).toContain('Success: 0 loose objects were packed');
    const dry = await verdi(['storage', 'maintain', '--full', '--dry-run', '--json']);
    expect(dry.code, describeResult(dry)).toBe(0);
    expect(dry.json()).toMatchObject({
      looseObjectsPacked: 0,
      actions: expect.arrayContaining([expect.stringMatching(/vacuum=True/)]),
    });
    expect(dry.stderr).toContain('Full maintenance needs exclusive use');
  });
});
