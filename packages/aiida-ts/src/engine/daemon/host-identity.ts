import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who an OS process is, precisely enough for another process on the same machine to tell whether it still runs: the
 * machine (hostname, boot id and pid namespace, so containers sharing a hostname differ), the pid, and the process's
 * start time (a pid reused after the process ended is not taken for it).
 */
export interface HostIdentity {
  readonly host: string;
  readonly pid: number;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat`), '' where there is no /proc. */
  readonly start: string;
}

function readOr(read: () => string): string {
  try {
    return read().trim();
  } catch {
    return '';
  }
}

/** State and start ticks of a process from `/proc/<pid>/stat`; null when there is no such process. */
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

let current: HostIdentity | undefined;

/** This OS process's identity (computed once). */
export function currentHostIdentity(): HostIdentity {
  current ??= {
    host: [
      hostname(),
      readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
      readOr(() => readlinkSync('/proc/self/ns/pid')),
    ].join('/'),
    pid: process.pid,
    start: procStat('self')?.start ?? '',
  };
  return current;
}

/** The hostname part of a {@link HostIdentity.host}. */
export function hostnameOf(host: string): string {
  return host.split('/')[0] ?? host;
}

/**
 * Whether the process is certainly gone: it ran on this machine and nothing with its pid and start time runs now
 * (or only a zombie). A process on another machine is never judged here: its lease expiry decides.
 */
export function isProcessGone(identity: HostIdentity): boolean {
  const self = currentHostIdentity();
  if (identity.host !== self.host) return false;
  if (identity.pid === self.pid) return identity.start !== self.start;
  const stat = procStat(identity.pid);
  if (stat !== null) return stat.state === 'Z' || (identity.start !== '' && stat.start !== identity.start);
  if (self.start !== '') return true; // /proc exists here and has no entry for the pid
  try {
    process.kill(identity.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
