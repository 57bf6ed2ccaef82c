import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { waitFor } from './wait.js';

/** Whether a process with this pid exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `name` to `pid`, ignoring a process that is already gone. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * The pid a daemon wrote on the first line of `file` (PostgreSQL's `postmaster.pid` has more lines), or
 * undefined while the file is missing or holds no pid yet.
 */
export function readPidFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n', 1)[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Options of {@link terminate}. */
export interface TerminateOptions {
  /** How long SIGTERM gets before SIGKILL (ms). Default 10 s. */
  readonly graceMs?: number;
  /** Named in a timeout error. */
  readonly service?: string;
}

/**
 * Ends one process this test started: SIGTERM, then SIGKILL when it is still alive after the grace period;
 * resolves once it is gone. Never signals anything but `pid`.
 */
export async function terminate(pid: number | undefined, options: TerminateOptions = {}): Promise<void> {
  if (pid === undefined || !isAlive(pid)) return;
  const service = options.service ?? 'service';
  signal(pid, 'SIGTERM');
  try {
    await waitFor(`pid ${pid} to exit`, () => !isAlive(pid), {
      timeoutMs: options.graceMs ?? 10_000,
      intervalMs: 50,
      service,
    });
  } catch {
    signal(pid, 'SIGKILL');
    await waitFor(`pid ${pid} to be killed`, () => !isAlive(pid), {
      timeoutMs: 10_000,
      intervalMs: 50,
      service,
    });
  }
}

/** Whether `pid` can do nothing more for now: stopped by a signal (state `T` in /proc), a zombie (`Z`), or gone. */
export function isStopped(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 'Z';
  } catch {
    return true;
  }
}

/** The parent pid of every live process, read from /proc. */
export function parentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/u.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name in parentheses may hold spaces: the fields that follow start after the last `)`.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return parents;
}

/** The direct children of `root`. */
export function childPids(root: number): number[] {
  return [...parentPids()].filter(([, parent]) => parent === root).map(([pid]) => pid);
}

/** Every descendant of `root`, parents before their children. */
export function descendantPids(root: number): number[] {
  const parents = parentPids();
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

const killedOnExit = new Set<number>();
let exitHookInstalled = false;

/**
 * Registers a daemon this test started (detached, so it outlives us) to be SIGKILLed if the test process
 * exits before stopping it; {@link forgetOnExit} once it is stopped.
 */
export function killOnExit(pid: number): void {
  killedOnExit.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const live of killedOnExit) signal(live, 'SIGKILL');
  });
}

/** Undoes {@link killOnExit} for a daemon that was stopped. */
export function forgetOnExit(pid: number): void {
  killedOnExit.delete(pid);
}
