import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { CorruptStorageError } from '../../errors.js';
import { asError } from '../../utils/as-error.js';

/** The 16 bytes every SQLite database file starts with. */
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * What to tell a user whose database file is damaged: where backups come from and how they go back.
 * `folder` is the profile's storage folder.
 */
export function restoreHint(folder: string): string {
  return (
    `Restore the storage from a backup made by \`verdi storage backup DEST\`: copy ` +
    `\`DEST/last-backup/database.sqlite\` and \`DEST/last-backup/container\` into ${folder} (keep the damaged ` +
    'file aside first); then run `verdi storage integrity`.'
  );
}

/**
 * Checks that `path` looks like a whole SQLite database before anything opens it for writing (opening turns on WAL,
 * which writes): not empty, SQLite's header, and at least as long as the header says. Throws `CorruptStorageError`
 * naming the file and what is wrong, with {@link restoreHint}. A missing file is the caller's business.
 */
export function assertSqliteFileIntact(path: string, folder: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CorruptStorageError(`the database file ${path} cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const size = fstatSync(fd).size;
    const fail = (what: string): never => {
      throw new CorruptStorageError(
        `the database file ${path} ${what}. Nothing was written to it. ${restoreHint(folder)}`,
      );
    };
    if (size === 0) fail('is empty (0 bytes): it was truncated or overwritten');
    const header = Buffer.alloc(100);
    const read = readSync(fd, header, 0, 100, 0);
    if (read < 100 || !header.subarray(0, 16).equals(MAGIC)) {
      fail(
        `is not an SQLite database (it starts with ${JSON.stringify(header.subarray(0, Math.min(read, 16)).toString('latin1'))})`,
      );
    }
    // page size: 1 means 65536; the page count in the header is valid when the two change counters agree
    const rawPageSize = header.readUInt16BE(16);
    const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
    const pages = header.readUInt32BE(28);
    const countValid = header.readUInt32BE(24) === header.readUInt32BE(92);
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0)
      fail(`has an invalid page size (${pageSize}) in its header`);
    // While another process writes (a non-empty `-wal` beside the file), a checkpoint may have written page 1 before
    // it extended the file: the length is only compared when no log is pending (SQLite itself reports real damage).
    if (countValid && size < pages * pageSize && !walPending(path)) {
      fail(
        `is truncated: ${size} bytes where its header says ${pages} pages of ${pageSize} bytes (${pages * pageSize} bytes)`,
      );
    }
    if (size % pageSize !== 0)
      fail(`is truncated: ${size} bytes is not a whole number of ${pageSize}-byte pages`);
  } finally {
    closeSync(fd);
  }
}

/** Whether a write-ahead log with content lies beside the database file. */
function walPending(path: string): boolean {
  try {
    return statSync(`${path}-wal`).size > 0;
  } catch {
    return false;
  }
}

/** SQLite's result codes for a damaged file. */
export function isSqliteCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** `error` as a `CorruptStorageError` naming the file when SQLite says the file is damaged, else unchanged. */
export function sqliteFailure(error: unknown, path: string, folder: string): Error {
  if (!isSqliteCorruption(error)) {
    return asError(error, CorruptStorageError);
  }
  return new CorruptStorageError(
    `the database file ${path} is damaged (SQLite: ${(error as Error).message}). ${restoreHint(folder)}`,
    { cause: error },
  );
}
