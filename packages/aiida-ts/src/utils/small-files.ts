import { statSync } from 'node:fs';

/**
 * Up to this many bytes a local file is read, written or copied with plain synchronous system calls: a job's files
 * are a few hundred bytes, and each step through libuv's thread pool (with its promise) costs the process many times
 * the system call itself. Larger files go through the thread pool, so the event loop never waits long for one.
 */
export const SYNC_FILE_BYTES = 64 * 1024;

/**
 * Whether `file` is a regular file of at most {@link SYNC_FILE_BYTES}. False when it cannot be looked at (the
 * asynchronous path then reports why) and for anything else: a named pipe read at once would block until a writer came.
 */
export function isSmallRegularFile(file: string): boolean {
  try {
    const info = statSync(file, { throwIfNoEntry: false });
    return info !== undefined && info.isFile() && info.size <= SYNC_FILE_BYTES;
  } catch {
    return false;
  }
}
