import {
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getConfig, loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { Int } from '../../src/orm.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const base = mkdtempSync(join(tmpdir(), 'aiida-ts-damaged-'));
let database = '';
let pristine = Buffer.alloc(0);

beforeAll(async () => {
  setConfigDir(join(base, '.aiida-ts'));
  expect((await verdi(['presto', '--profile-name', 'damaged'])).code).toBe(0);
  await loadProfile('damaged');
  try {
    for (let i = 0; i < 200; i += 1) await new Int(i, { label: `n${i}` }).store();
  } finally {
    await unloadProfile();
  }
  database = join(getConfig().getProfile('damaged').storageConfig['filepath'] as string, 'database.sqlite');
  pristine = readFileSync(database);
});
afterAll(() => {
  setConfigDir(undefined);
  rmSync(base, { recursive: true, force: true });
});
beforeEach(() => writeFileSync(database, pristine));

/** A damaged file is reported as such: the file named, what is wrong, how to restore; exit 1, no stack. */
function expectReported(
  result: { code: number; stdout: string; stderr: string },
  what: string | RegExp,
): void {
  expect(result.code, result.stderr).toBe(1);
  const text = `${result.stdout}\n${result.stderr}`;
  expect(text).toContain(database);
  if (typeof what === 'string') expect(text).toContain(what);
  else expect(text).toMatch(what);
  expect(text).toContain('verdi storage backup');
  expect(text).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  expect(text).not.toContain('unexpected');
  expect(text).not.toContain('storage migrate');
}

describe('a damaged core.sqlite_dos database file', () => {
  it('emptied: named and refused by status, migrate and every command, and nothing is written into it', async () => {
    truncateSync(database, 0);
    expectReported(await verdi(['status']), 'is empty (0 bytes)');
    expect((await verdi(['status'])).stdout).toMatch(/✘ storage: +Storage is corrupted\./);
    expectReported(await verdi(['storage', 'migrate', '--force']), 'is empty (0 bytes)');
    expectReported(await verdi(['storage', 'version']), 'is empty (0 bytes)');
    expectReported(await verdi(['node', 'list']), 'is empty (0 bytes)');
    expect(statSync(database).size).toBe(0);
    expect(existsSync(`${database}-wal`)).toBe(false);
  });

  it('truncated or overwritten: says which', async () => {
    truncateSync(database, Math.floor(pristine.length / 2));
    expectReported(
      await verdi(['storage', 'info']),
      /is truncated: \d+ bytes where its header says \d+ pages/,
    );
    writeFileSync(database, 'this is no database at all, just text that replaced it. '.repeat(100));
    expectReported(
      await verdi(['node', 'list']),
      'is not an SQLite database (it starts with "this is no datab")',
    );
  });

  it('a damaged page found by a query: the file named instead of a raw SQLite error', async () => {
    const native = new Database(database, { readonly: true });
    const { rootpage } = native
      .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'db_dbnode'")
      .get() as {
      rootpage: number;
    };
    const pageSize = native.pragma('page_size', { simple: true }) as number;
    native.close();
    const fd = openSync(database, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize);
    closeSync(fd);
    expectReported(await verdi(['node', 'list']), /is damaged \(SQLite: database disk image is malformed\)/);
  });
});
