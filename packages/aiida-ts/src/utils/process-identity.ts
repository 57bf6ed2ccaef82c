import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';

/**
 * Which OS process did something, precisely enough to tell later whether it still runs: a pid alone can be reused
 * by a new process, a start time cannot, and a boot id tells records from before a reboot apart. Written into the
 * profile access records and into the names of files a writer has in flight.
 */
export interface ProcessIdentity {
  readonly pid: number;
  /** `os.hostname()` in file-name-safe characters; liveness can only be checked on the same host. */
  readonly hostname: string;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat`, field 22), or null where unknown (not Linux). */
  readonly startTicks: number | null;
  /** The kernel's boot id (`/proc/sys/kernel/random/boot_id`), or null where unknown. */
  readonly bootId: string | null;
}

/**
 * Whether a process still runs: `alive`, `dead`, or `unknown` when it ran on another host (callers treat that as
 * alive wherever it matters: nothing is deleted on a guess).
 */
export const ProcessLiveness = { ALIVE: 'alive', DEAD: 'dead', UNKNOWN: 'unknown' } as const;
export type ProcessLiveness = (typeof ProcessLiveness)[keyof typeof ProcessLiveness];

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A host name reduced to characters safe in a file name. */
export function safeHostname(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
}

let bootIdCache: string | null | undefined;
/** This machine's boot id, or null off Linux. */
export function currentBootId(): string | null {
  bootIdCache ??= readText('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
  return bootIdCache;
}

/** Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot), or null off Linux or for a gone pid. */
export function processStartTicks(pid: number): number | null {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return null;
  // the command name (field 2) is in parentheses and may itself hold spaces and parentheses
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isInteger(ticks) ? ticks : null;
}

let ownIdentity: ProcessIdentity | undefined;
/** The identity of this process. */
export function currentProcessIdentity(): ProcessIdentity {
  if (ownIdentity?.pid !== process.pid) {
    ownIdentity = {
      pid: process.pid,
      hostname: safeHostname(osHostname()),
      startTicks: processStartTicks(process.pid),
      bootId: currentBootId(),
    };
  }
  return ownIdentity;
}

/** This process's command line: `/proc/self/cmdline` where there is one, else what Node knows of it. */
export function currentCommand(): string[] {
  const text = readText('/proc/self/cmdline');
  if (text !== undefined && text.length > 0) return text.replace(/\0$/, '').split('\0');
  return [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process `identity` describes still runs. Missing facts (`startTicks`, `bootId` null) are not held
 * against it. The command line is not compared (aiida-core does): a process may rewrite it (`process.title`), its
 * start time cannot change.
 */
export function livenessOf(
  identity: Pick<ProcessIdentity, 'pid' | 'hostname'> & Partial<ProcessIdentity>,
): ProcessLiveness {
  const own = currentProcessIdentity();
  if (identity.hostname !== own.hostname) return ProcessLiveness.UNKNOWN;
  if (identity.bootId != null && own.bootId !== null && identity.bootId !== own.bootId)
    return ProcessLiveness.DEAD;
  if (!isPidAlive(identity.pid)) return ProcessLiveness.DEAD;
  if (identity.startTicks != null) {
    const now = processStartTicks(identity.pid);
    if (now !== null && now !== identity.startTicks) return ProcessLiveness.DEAD;
  }
  return ProcessLiveness.ALIVE;
}

const TAG_PATTERN = /^(\d+)@([A-Za-z0-9._-]+)@(\d+|x)@/;

/**
 * A prefix naming this process in the name of a file it has in flight (`<pid>@<host>@<startTicks>@`), so that a
 * cleanup in another process can tell a live writer's file from one a crashed writer left.
 */
export function processTag(): string {
  const own = currentProcessIdentity();
  return `${own.pid}@${own.hostname}@${own.startTicks ?? 'x'}@`;
}

/** The liveness of the process that named a file with {@link processTag}; `dead` for a name without a tag. */
export function livenessOfTagged(name: string): ProcessLiveness {
  const match = TAG_PATTERN.exec(name);
  if (match === null) return ProcessLiveness.DEAD;
  const [, pid, host, ticks] = match;
  return livenessOf({
    pid: Number(pid),
    hostname: host ?? '',
    startTicks: ticks === 'x' || ticks === undefined ? null : Number(ticks),
  });
}
