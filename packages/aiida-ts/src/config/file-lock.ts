import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigurationError } from '../errors.js';

/** How long to wait for a lock and when a lock left behind counts as abandoned. */
export interface FileLockOptions {
  /** Give up after this many milliseconds (default 10 s). */
  readonly timeoutMs?: number;
  /** A lock whose holder is on another host (or unreadable) and older than this is taken over (default 60 s). */
  readonly staleMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

// The configuration API is synchronous (reading an option must not need `await`), and a config write holds the
// lock for well under a millisecond, so a waiter blocks its thread in short sleeps instead of yielding.
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null) {
      const { pid, host, token } = parsed as Record<string, unknown>;
      if (typeof pid === 'number' && typeof host === 'string' && typeof token === 'string')
        return { pid, host, token };
    }
  } catch {
    // Missing (released meanwhile) or half-written by a holder that is about to finish writing it.
  }
  return undefined;
}

function isStale(path: string, staleMs: number): boolean {
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(path).mtimeMs;
  } catch {
    return false;
  }
  const owner = readOwner(path);
  if (owner !== undefined && owner.host === hostname()) return !isAlive(owner.pid);
  return ageMs > staleMs;
}

function tryCreate(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ConfigurationError(`could not create the lock file \`${path}\`: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
  return true;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

// Removing an abandoned lock is itself guarded by a short-lived second lock, so that two waiters that both judge
// the same lock abandoned cannot remove a fresh lock the other one has just taken.
function breakIfStale(path: string, staleMs: number): void {
  const breaker = `${path}.break`;
  const me: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  if (!tryCreate(breaker, me)) {
    if (isStale(breaker, 5_000)) unlinkQuietly(breaker);
    return;
  }
  try {
    if (isStale(path, staleMs)) unlinkQuietly(path);
  } finally {
    unlinkQuietly(breaker);
  }
}

const held = new Set<string>();

/**
 * Run `action` while holding an exclusive lock on `target` (the lock is the file `target.lock`), shared by every
 * process on the machine. A lock left behind by a dead process is taken over.
 *
 * @throws ConfigurationError when the lock cannot be taken within the timeout (the message names the holder), or
 *   when the same process asks for a lock it already holds (that would wait for itself forever).
 */
export function withFileLock<T>(target: string, action: () => T, options: FileLockOptions = {}): T {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 60_000;
  const path = `${target}.lock`;
  if (held.has(path)) throw new ConfigurationError(`the lock \`${path}\` is already held by this process`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const me: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (!tryCreate(path, me)) {
    if (isStale(path, staleMs)) {
      breakIfStale(path, staleMs);
      continue;
    }
    if (Date.now() > deadline) {
      const owner = readOwner(path);
      const holder = owner === undefined ? 'another process' : `process ${owner.pid} on ${owner.host}`;
      throw new ConfigurationError(
        `timed out after ${timeoutMs} ms waiting for the lock \`${path}\` held by ${holder}`,
      );
    }
    sleepSync(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
  held.add(path);
  try {
    return action();
  } finally {
    held.delete(path);
    if (readOwner(path)?.token === me.token) unlinkQuietly(path);
  }
}
