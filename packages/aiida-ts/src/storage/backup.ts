import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFile,
  link,
  mkdir,
  readdir,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ConfigurationError, StorageBackupError } from '../errors.js';
import { psqlDosContainerFolder, PsqlDosConfigSchema, type PsqlDosConfig } from './postgres/psql-dos.js';
import {
  SQLITE_DOS_CONTAINER_FOLDER,
  SQLITE_DOS_DATABASE_FILENAME,
  SqliteDosConfigSchema,
} from './sqlite/sqlite-dos.js';

/** The link in the destination to the newest complete backup (aiida-core's `last-backup`). */
export const LAST_BACKUP_LINK = 'last-backup';
/** The file a `core.psql_dos` database is dumped to (plain SQL, `psql -f db.psql` restores it). */
export const PSQL_DUMP_FILENAME = 'db.psql';
/** The profile's entry of the configuration, saved with each backup. */
export const BACKUP_CONFIG_FILENAME = 'config.json';
const BACKUP_PREFIX = 'backup_';

/** What to back up: a profile's name, storage backend and storage configuration, as the configuration file holds them. */
export interface BackupSource {
  readonly profileName: string;
  readonly storageBackend: string;
  readonly storageConfig: Readonly<Record<string, unknown>>;
  /** The profile's whole entry, written to the backup's `config.json`. */
  readonly profileData: unknown;
}

/** Options of {@link backupStorage}. */
export interface BackupOptions {
  /** How many earlier backups to keep besides the new one (aiida-core's `--keep`, default 1); older ones are deleted. */
  readonly keep?: number;
  /** The `pg_dump` executable (a `core.psql_dos` profile), default `pg_dump` on the PATH. */
  readonly pgDumpExe?: string;
}

/** What one backup made. */
export interface BackupResult {
  /** The new backup folder (`DEST/backup_<time>_<random>`). */
  readonly folder: string;
  /** The backups deleted because of `keep`. */
  readonly removed: readonly string[];
  /** Container files hard-linked from the previous backup instead of copied. */
  readonly linkedFiles: number;
  readonly copiedFiles: number;
}

/**
 * Backs up the storage of a profile into a new folder of `dest` (created if missing), consistent while processes
 * write to it, as aiida-core's `verdi storage backup`: first the database as one snapshot (SQLite's `VACUUM INTO`
 * in one read transaction; `pg_dump`, which reads one transaction), then the disk-objectstore container — files
 * only ever get added to it, so every object the database snapshot names is there by then: the loose objects, a
 * snapshot of the pack index, then the packs (the packs are appended to, never rewritten while processes run). Files
 * unchanged since the previous backup are hard links to it. The folder appears under its final name once complete,
 * `DEST/last-backup` then points to it, and the backups older than the `keep` previous ones are deleted.
 */
export async function backupStorage(
  source: BackupSource,
  dest: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const keep = options.keep ?? 1;
  if (!Number.isInteger(keep) || keep < 0)
    throw new ConfigurationError(`--keep must be 0 or more, got ${keep}`);
  const plan = planFor(source);
  const target = path.resolve(dest);
  await mkdir(target, { recursive: true });
  const previous = await existingBackups(target);
  const last = previous.at(-1);
  const working = path.join(target, `.in-progress-${randomBytes(4).toString('hex')}`);
  await mkdir(working);
  try {
    await writeFile(
      path.join(working, BACKUP_CONFIG_FILENAME),
      `${JSON.stringify({ profile: source.profileName, data: source.profileData }, null, 2)}\n`,
    );
    await plan.database(working, options);
    const counts = await backupContainer(
      plan.container,
      path.join(working, SQLITE_DOS_CONTAINER_FOLDER),
      last === undefined ? undefined : path.join(target, last, SQLITE_DOS_CONTAINER_FOLDER),
    );
    const name = `${BACKUP_PREFIX}${timestamp(new Date())}_${randomBytes(2).toString('hex')}`;
    const folder = path.join(target, name);
    await rename(working, folder);
    await pointLastBackup(target, name);
    const removed = keep >= previous.length ? [] : previous.slice(0, previous.length - keep);
    for (const old of removed) await rm(path.join(target, old), { recursive: true, force: true });
    return { folder, removed: removed.map((old) => path.join(target, old)), ...counts };
  } catch (error) {
    await rm(working, { recursive: true, force: true });
    throw error;
  }
}

interface BackupPlan {
  readonly container: string;
  database(into: string, options: BackupOptions): Promise<void>;
}

function planFor(source: BackupSource): BackupPlan {
  switch (source.storageBackend) {
    case 'core.sqlite_dos': {
      const config = SqliteDosConfigSchema.parse(source.storageConfig);
      return {
        container: path.join(config.filepath, SQLITE_DOS_CONTAINER_FOLDER),
        database: async (into) =>
          snapshotSqlite(
            path.join(config.filepath, SQLITE_DOS_DATABASE_FILENAME),
            path.join(into, SQLITE_DOS_DATABASE_FILENAME),
          ),
      };
    }
    case 'core.psql_dos': {
      const config = PsqlDosConfigSchema.parse(source.storageConfig);
      return {
        container: psqlDosContainerFolder(config),
        database: (into, options) => dumpPostgres(config, path.join(into, PSQL_DUMP_FILENAME), options),
      };
    }
    default:
      throw new ConfigurationError(
        `the storage of profile \`${source.profileName}\` (${source.storageBackend}) cannot be backed up: only ` +
          'core.sqlite_dos and core.psql_dos profiles keep their data on disk',
      );
  }
}

/** A consistent copy of a SQLite database in WAL mode, taken in one read transaction (writers go on meanwhile). */
function snapshotSqlite(from: string, to: string): Promise<void> {
  const db = new BetterSqlite3(from, { readonly: true, fileMustExist: true, timeout: 60_000 });
  try {
    db.prepare('VACUUM INTO ?').run(to);
  } catch (error) {
    throw new StorageBackupError(`cannot back up the SQLite database ${from}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    db.close();
  }
  return Promise.resolve();
}

/** The database dumped by `pg_dump` (one transaction, so consistent while processes write). */
function dumpPostgres(config: PsqlDosConfig, to: string, options: BackupOptions): Promise<void> {
  const exe = options.pgDumpExe ?? 'pg_dump';
  const args = [
    '--no-password',
    '--format=plain',
    `--file=${to}`,
    `--host=${config.database_hostname}`,
    `--port=${String(config.database_port)}`,
    `--username=${config.database_username}`,
    config.database_name,
  ];
  const env = { ...process.env, PGPASSWORD: config.database_password };
  return new Promise((resolve, reject) => {
    execFile(exe, args, { env }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else
        reject(
          new StorageBackupError(
            `\`${exe}\` could not dump the database ${config.database_name}: ${stderr.trim() || error.message}`,
            { cause: error },
          ),
        );
    });
  });
}

/** Copies a disk-objectstore container: config, loose objects, a snapshot of the pack index, packs. */
async function backupContainer(
  from: string,
  to: string,
  previous: string | undefined,
): Promise<{ linkedFiles: number; copiedFiles: number }> {
  const counts = { linkedFiles: 0, copiedFiles: 0 };
  await mkdir(to, { recursive: true });
  await copyFile(path.join(from, 'config.json'), path.join(to, 'config.json'));
  await copyTree(
    path.join(from, 'loose'),
    path.join(to, 'loose'),
    previous && path.join(previous, 'loose'),
    counts,
  );
  await snapshotSqlite(path.join(from, 'packs.idx'), path.join(to, 'packs.idx'));
  // after the index: a pack holds at least what the index snapshot says it holds
  await copyTree(
    path.join(from, 'packs'),
    path.join(to, 'packs'),
    previous && path.join(previous, 'packs'),
    counts,
  );
  await mkdir(path.join(to, 'duplicates'), { recursive: true });
  await mkdir(path.join(to, 'sandbox'), { recursive: true });
  return counts;
}

/**
 * Copies the files of `from` into `to`; a file of the same size in `previous` (objects are immutable, packs only
 * grow) becomes a hard link to it. A file gone meanwhile is skipped (a loose object packed by maintenance is in the
 * packs copied later).
 */
async function copyTree(
  from: string,
  to: string,
  previous: string | undefined,
  counts: { linkedFiles: number; copiedFiles: number },
): Promise<void> {
  await mkdir(to, { recursive: true });
  let entries;
  try {
    entries = await readdir(from, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    const earlier = previous === undefined ? undefined : path.join(previous, entry.name);
    if (entry.isDirectory()) {
      await copyTree(source, target, earlier, counts);
      continue;
    }
    if (!entry.isFile()) continue;
    try {
      if (earlier !== undefined && (await sameSize(source, earlier))) {
        await link(earlier, target);
        counts.linkedFiles += 1;
      } else {
        await copyFile(source, target);
        counts.copiedFiles += 1;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

async function sameSize(a: string, b: string): Promise<boolean> {
  try {
    const [first, second] = await Promise.all([stat(a), stat(b)]);
    return first.size === second.size;
  } catch {
    return false;
  }
}

/** The complete backups in `dest`, oldest first (their names sort by time). */
async function existingBackups(dest: string): Promise<string[]> {
  const entries = await readdir(dest, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && entry.name.startsWith(BACKUP_PREFIX))
    .map((entry) => entry.name)
    .sort();
}

/** Points `dest/last-backup` at `name`, replacing the link at once (a new link renamed over the old one). */
async function pointLastBackup(dest: string, name: string): Promise<void> {
  const temporary = path.join(dest, `.${LAST_BACKUP_LINK}-${randomBytes(4).toString('hex')}`);
  await symlink(name, temporary);
  try {
    await rename(temporary, path.join(dest, LAST_BACKUP_LINK));
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** `YYYYMMDDHHmmssSSS` in UTC: backup folder names sort by it. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:T.Z]/g, '');
}
