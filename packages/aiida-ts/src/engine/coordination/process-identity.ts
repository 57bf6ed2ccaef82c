import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who an OS process is, precisely enough to tell from another process on the same machine whether it still runs:
 * the machine (hostname, boot id and pid namespace, so containers sharing a hostname are told apart), the pid, and
 * the process's start time (so a pid reused after the process ended is not taken for it).
 */
export interface ProcessIdentity {
  readonly host: string;
  readonly pid: number;
  /** The start time in clock ticks since boot (Linux `/proc/<pid>/stat`), or '' where there is no /proc. */
  readonly start: string;
}

function readOr(read: () => string, fallback: string): string {
  try {
    return read().trim();
  } catch {
    return fallback;
  }
}

/** State and start time of a process from `/proc/<pid>/stat`, or null when there is no such entry. */
function procStat(pid: number | 'self'): { readonly state: string; readonly start: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may hold spaces: the fields after it are fixed
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}

let current: ProcessIdentity | undefined;

/** This process's identity (computed once). */
export function currentProcessIdentity(): ProcessIdentity {
  current ??= {
    host: [
      hostname(),
      readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), ''),
      readOr(() => readlinkSync('/proc/self/ns/pid'), ''),
    ].join('/'),
    pid: process.pid,
    start: procStat('self')?.start ?? '',
  };
  return current;
}

/** A fresh id for one coordinator of this process (several may share a process, one per open storage). */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

/**
 * Whether the process is certainly gone: it ran on this machine and no process with its pid and start time runs
 * now (or only a zombie is left). A process on another machine is never judged here (its lease decides).
 */
export function isProcessGone(identity: ProcessIdentity): boolean {
  const self = currentProcessIdentity();
  if (identity.host !== self.host) return false;
  if (identity.pid === self.pid) return identity.start !== self.start;
  const stat = procStat(identity.pid);
  if (stat !== null) return stat.state === 'Z' || (identity.start !== '' && stat.start !== identity.start);
  if (self.start !== '') return true; // /proc exists here, and has no entry for the pid
  try {
    process.kill(identity.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
