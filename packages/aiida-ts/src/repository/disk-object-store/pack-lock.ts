import { open, readFile, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockedProfileError } from '../../errors.js';

/** Options of {@link acquirePackLock}. */
export interface PackLockOptions {
  /** Give up after this many ms (another packer may run for long). */
  readonly timeoutMs: number;
  /** Poll interval while waiting. */
  readonly pollMs?: number;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock of one pack the way disk-objectstore does (exclusive creation of `packs/<id>.lock`), so our packer
 * and disk-objectstore's never append to the same pack together. We write our pid into the file; a lock left by a
 * process of this host that has died is taken over. disk-objectstore's own lock files are empty, so those are only
 * waited for. Resolves to the release function.
 */
export async function acquirePackLock(
  lockPath: string,
  options: PackLockOptions,
): Promise<() => Promise<void>> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 25;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      return async () => {
        await unlink(lockPath).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readFile(lockPath, 'utf8').catch(() => '');
    const pid = /^\d+$/.test(owner.trim()) ? Number(owner.trim()) : undefined;
    if (pid !== undefined && pid !== process.pid && !isProcessAlive(pid)) {
      // Stale lock of a crashed packer on this host. Removing it races only with another taker of the same stale
      // lock; the loser then sees EEXIST again and waits for the winner.
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockedProfileError(
        `pack lock ${lockPath} is held${pid === undefined ? '' : ` by process ${pid}`}; another process is packing. ` +
          'If no packer runs, remove the lock file by hand.',
      );
    }
    await sleep(pollMs);
  }
}
