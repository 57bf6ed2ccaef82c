import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
const { verdi, configDir } = sandbox;

/** The tables of the presto profile's database, and its `alembic_version` rows (read with a separate handle). */
function database(): { tables: string[]; alembic: unknown[] } {
  const config = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as {
    profiles: Record<string, { storage: { config: { filepath: string } } }>;
  };
  const db = new BetterSqlite3(join(config.profiles.presto!.storage.config.filepath, 'database.sqlite'), {
    readonly: true,
  });
  try {
    const tables = (
      db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]
    )
      .map((row) => row.name)
      .sort();
    return { tables, alembic: db.prepare('SELECT * FROM alembic_version').all() };
  } finally {
    db.close();
  }
}

interface ShownComputer {
  label: string;
  max_queued_jobs: number | null;
  queued_jobs: string;
  quotas: { name: string; limit: number | null; usage: string }[];
}

let versionBefore: unknown;
beforeAll(async () => {
  const created = await verdi(['presto']);
  expect(created.code, describeResult(created)).toBe(0);
  const setup = await verdi([
    'computer',
    'setup',
    '-n',
    '--label',
    'cluster',
    '--hostname',
    'cluster.example.org',
    '--transport',
    'core.ssh',
    '--scheduler',
    'core.slurm',
  ]);
  expect(setup.code, describeResult(setup)).toBe(0);
  versionBefore = (await verdi(['storage', 'version', '--json'])).json();
}, 120_000);
afterAll(() => sandbox.cleanup());

describe('verdi computer set-limits, verdi computer show and verdi quota', () => {
  it('show prints no limits and writes nothing while none is set', { timeout: 60_000 }, async () => {
    const before = database();
    const shown = await verdi(['computer', 'show', 'localhost']);
    expect(shown.code, describeResult(shown)).toBe(0);
    expect(shown.stdout).toMatch(/Max queued jobs\s+│?\s*unlimited/);
    expect(shown.stdout).toMatch(/Queued jobs\s+│?\s*0 of unlimited in use/);
    expect(database()).toEqual(before);
    expect(before.tables.filter((name) => name.startsWith('aiida_ts_'))).toEqual([]);
  });

  it(
    'set-limits caps a computer; quotas group computers; show and list report them',
    { timeout: 120_000 },
    async () => {
      const created = await verdi([
        'quota',
        'create',
        'licence',
        '--max-queued-jobs',
        '3',
        '-D',
        'one licence, two clusters',
        '--computer',
        'localhost',
      ]);
      expect(created.code, describeResult(created)).toBe(0);
      expect(created.stdout).toContain("Success: Quota 'licence' created (at most 3 queued jobs).");
      const capped = await verdi([
        'computer',
        'set-limits',
        'cluster',
        '--max-queued-jobs',
        '2',
        '--quota',
        'licence',
      ]);
      expect(capped.code, describeResult(capped)).toBe(0);
      expect(capped.stdout).toContain(
        "Success: Computer 'cluster' may have at most 2 jobs with its scheduler at once.",
      );
      expect(capped.stdout).toContain(
        "Success: Jobs on computer 'cluster' count against the quota 'licence'.",
      );

      const table = await verdi(['computer', 'show', 'cluster']);
      expect(table.stdout).toMatch(/Max queued jobs\s+│?\s*2\s/);
      expect(table.stdout).toMatch(/Queued jobs\s+│?\s*0 of 2 in use/);
      expect(table.stdout).toMatch(/Quotas\s+│?\s*licence \(0 of 3 in use\)/);
      const list = await verdi(['quota', 'list', '--json']);
      expect(list.json()).toEqual([
        {
          name: 'licence',
          max_queued_jobs: 3,
          in_use: 0,
          waiting: 0,
          description: 'one licence, two clusters',
          computers: ['cluster', 'localhost'],
        },
      ]);

      const raised = await verdi(['quota', 'set-limits', 'licence', '--max-queued-jobs', '5']);
      expect(raised.stdout).toContain("Success: Quota 'licence' allows 5 queued jobs.");
      const removed = await verdi(['quota', 'remove-computer', 'licence', 'cluster']);
      expect(removed.code, describeResult(removed)).toBe(0);
      const shown = (await verdi(['computer', 'show', 'cluster', '--json'])).json<ShownComputer>();
      expect(shown).toMatchObject({
        label: 'cluster',
        max_queued_jobs: 2,
        queued_jobs: '0 of 2 in use',
        quotas: [],
      });
      const quota = await verdi(['quota', 'show', 'licence']);
      expect(quota.stdout).toMatch(/Max queued jobs\s+│?\s*5/);
      expect(quota.stdout).toMatch(/Computers\s+│?\s*localhost\s/);
    },
  );

  it('bad input is refused with a message naming it', { timeout: 120_000 }, async () => {
    const zero = await verdi(['computer', 'set-limits', 'localhost', '--max-queued-jobs', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain(
      'invalid value for --max-queued-jobs: `0` is not a whole number of at least 1',
    );
    const both = await verdi(['computer', 'set-limits', 'localhost', '--max-queued-jobs', '2', '--unset']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--max-queued-jobs and --unset cannot be given together');
    const missing = await verdi(['computer', 'set-limits', 'localhost', '--quota', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no quota named `nope`');
    const badName = await verdi(['quota', 'create', 'no spaces']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('invalid quota name `no spaces`');
  });

  it(
    'unset and delete; aiida-core’s schema version and check see the same profile throughout',
    { timeout: 120_000 },
    async () => {
      const unset = await verdi(['computer', 'set-limits', 'cluster', '--unset']);
      expect(unset.stdout).toContain("Success: Computer 'cluster' has no cap on queued jobs any more.");
      const deleted = await verdi(['quota', 'delete', 'licence', '--force']);
      expect(deleted.stdout).toContain("Success: Quota 'licence' deleted.");
      expect((await verdi(['computer', 'show', 'localhost', '--json'])).json()).toMatchObject({
        max_queued_jobs: null,
        quotas: [],
      });

      // the aiida-ts tables exist now, beside aiida-core's, and change nothing aiida-core looks at
      const { tables, alembic } = database();
      expect(tables).toContain('aiida_ts_schema_version');
      expect(alembic).toEqual([{ version_num: 'main_0002' }]);
      expect((await verdi(['storage', 'version', '--json'])).json()).toEqual(versionBefore);
    },
  );
});
