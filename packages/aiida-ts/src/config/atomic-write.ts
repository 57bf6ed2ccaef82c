import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigurationError } from '../errors.js';

/**
 * Replace `path` with `content` atomically: readers see the old file or the new one, never a partial write. The
 * content goes to a temporary file in the same folder (same filesystem), is flushed to disk, then renamed over.
 */
export function writeFileAtomic(path: string, content: string, mode = 0o600): void {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', mode);
    writeSync(fd, content);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw new ConfigurationError(`could not write \`${path}\`: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    // Persist the rename itself; not every filesystem allows opening a folder, which is harmless.
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // see above
  }
}

/** Remove a file, ignoring that it may already be gone. */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
