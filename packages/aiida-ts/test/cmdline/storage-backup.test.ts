import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDefaultStorage, SinglefileData } from 'aiida-ts/orm';
import { PsqlDosStorage, SqliteDosStorage, type StorageBackend } from 'aiida-ts/storage';
import { backupStorage, PSQL_DUMP_FILENAME } from '../../src/storage/backup.js';
import { psqlDosConfig, tempFolder, TEST_USER_EMAIL } from '../storage/helpers.js';
import { describeResult, VERDI_ARGV, verdiSandbox } from './verdi-process.js';

/** A script storing nodes with a file each until `stop` exists; it prints `started` after the first one. */
const WRITER = (folder: string): string => `
import { existsSync } from 'node:fs';
import { SinglefileData } from 'aiida-ts/orm';
let i = 0;
while (!existsSync(${JSON.stringify(path.join(folder, 'stop'))})) {
  await (await SinglefileData.fromBytes(new TextEncoder().encode('content ' + i), 'file-' + i + '.txt')).store();
  if (i === 0) console.log('started');
  i += 1;
}
console.log('stored', i);
`;

/** The number of nodes in a storage. */
async function countNodes(storage: StorageBackend): Promise<number> {
  const row = await storage
    .executor()
    .selectFrom('db_dbnode')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Opens a `core.sqlite_dos` storage restored from a backup folder and checks it completely. */
async function checkRestored(backup: string, into: string): Promise<{ nodes: number; ok: boolean }> {
  mkdirSync(into, { recursive: true });
  cpSync(path.join(backup, 'database.sqlite'), path.join(into, 'database.sqlite'));
  cpSync(path.join(backup, 'container'), path.join(into, 'container'), { recursive: true });
  const storage = await new SqliteDosStorage().open(new SqliteDosStorage().parseConfig({ filepath: into }));
  try {
    const report = await storage.checkIntegrity({ hashes: true });
    const nodes = await countNodes(storage);
    return { nodes, ok: report.ok };
  } finally {
    await storage.close();
  }
}

describe('verdi storage backup', () => {
  const sandbox = verdiSandbox('aiida-ts-verdi-backup-');
  beforeAll(async () => {
    const presto = await sandbox.verdi(['presto']);
    expect(presto.code, describeResult(presto)).toBe(0);
  }, 60_000);
  afterAll(() => sandbox.cleanup());

  it('backs up a core.sqlite_dos profile while a script stores nodes, keeps --keep earlier backups, links unchanged files', async () => {
    const work = path.join(sandbox.base, 'work');
    mkdirSync(work);
    const script = path.join(work, 'writer.ts');
    writeFileSync(script, WRITER(work));
    const writer = spawn(process.execPath, [...VERDI_ARGV, 'run', script], {
      cwd: path.join(import.meta.dirname, '..', '..'),
      env: { ...process.env, AIIDA_TS_PATH: sandbox.base },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let writerOutput = '';
    let markStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    writer.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      writerOutput += chunk;
      if (writerOutput.includes('started')) markStarted();
    });
    writer.stderr.setEncoding('utf8').on('data', (chunk: string) => (writerOutput += chunk));
    const writerDone = new Promise<number | null>((resolve) => writer.on('close', resolve));
    const dest = path.join(sandbox.base, 'backups');
    try {
      await started;
      const made: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const result = await sandbox.verdi(['storage', 'backup', dest, '--keep', '1']);
        expect(result.code, describeResult(result)).toBe(0);
        const match = /backed up to `([^`]+)`/.exec(result.stdout);
        expect(match, result.stdout).not.toBeNull();
        made.push(match?.[1] ?? '');
      }
      // the new one and one earlier one are kept; last-backup points at the newest
      const kept = readdirSync(dest).filter((name) => name.startsWith('backup_'));
      expect(kept.sort()).toEqual(made.slice(1).map((folder) => path.basename(folder)));
      expect(readlinkSync(path.join(dest, 'last-backup'))).toBe(path.basename(made[2] ?? ''));

      // every backup taken during the writes restores to a storage whose database and files agree
      for (const [index, folder] of made.slice(1).entries()) {
        const restored = await checkRestored(folder, path.join(work, `restored-${index}`));
        expect(restored.ok).toBe(true);
        expect(restored.nodes).toBeGreaterThan(0);
      }

      // an object stored before both backups is one file, hard-linked from the earlier backup
      const loose = (folder: string): string[] => {
        const root = path.join(folder, 'container', 'loose');
        return readdirSync(root).flatMap((prefix) =>
          readdirSync(path.join(root, prefix)).map((name) => path.join(root, prefix, name)),
        );
      };
      const [earlier, newest] = [made[1] ?? '', made[2] ?? ''];
      const shared = loose(earlier).find((file) => existsSync(file.replace(earlier, newest)));
      expect(shared).toBeDefined();
      expect(statSync(shared ?? '').ino).toBe(statSync((shared ?? '').replace(earlier, newest)).ino);
    } finally {
      writeFileSync(path.join(work, 'stop'), '');
      expect(await writerDone, writerOutput).toBe(0);
    }
  }, 120_000);

  it('refuses a remote destination and a bad --keep as usage errors', async () => {
    const remote = await sandbox.verdi(['storage', 'backup', 'host:/backups']);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain('remote destinations are not supported');
    const keep = await sandbox.verdi(['storage', 'backup', path.join(sandbox.base, 'b'), '--keep', '-1']);
    expect(keep.code).toBe(2);
  });
});

describe('backup of a core.psql_dos storage', () => {
  it('dumps the database with pg_dump and copies the container; the dump restores', async () => {
    const { config, cleanup } = await psqlDosConfig();
    const { folder: dest, cleanup: cleanupDest } = await tempFolder('aiida-ts-backup-');
    const restoredName = `${config.database_name}_restored`;
    const plugin = new PsqlDosStorage();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      setDefaultStorage(storage);
      try {
        await (await SinglefileData.fromBytes(new TextEncoder().encode('hello'), 'a.txt')).store();
        const result = await backupStorage(
          {
            profileName: 'psql',
            storageBackend: 'core.psql_dos',
            storageConfig: config,
            profileData: {},
          },
          dest,
        );
        const dump = path.join(result.folder, PSQL_DUMP_FILENAME);
        expect(statSync(dump).size).toBeGreaterThan(0);
        expect(readdirSync(path.join(result.folder, 'container', 'loose')).length).toBeGreaterThan(0);
        const psql = (args: string[]): string =>
          execFileSync(
            'psql',
            ['-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qtA', ...args],
            {
              encoding: 'utf8',
            },
          );
        psql(['-c', `CREATE DATABASE "${restoredName}"`]);
        psql(['-d', restoredName, '-f', dump]);
        expect(psql(['-d', restoredName, '-c', 'SELECT count(*) FROM db_dbnode']).trim()).toBe(
          String(await countNodes(storage)),
        );
      } finally {
        setDefaultStorage(null);
        await storage.close();
      }
    } finally {
      execFileSync('psql', [
        '-h',
        '127.0.0.1',
        '-U',
        'postgres',
        '-qc',
        `DROP DATABASE IF EXISTS "${restoredName}"`,
      ]);
      await cleanup();
      await cleanupDest();
    }
  }, 60_000);
});
