import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { SchedulerError } from '../../errors.js';
import type { CommandOutput } from '../scheduler.js';

/**
 * The kernel reports CPU times in USER_HZ ticks, 100 on every Linux architecture Node runs on (`getconf CLK_TCK`).
 */
const TICKS_PER_SECOND = 100;

/** What `ps -o pid,stat,user,time` prints for one process. */
interface PsRow {
  readonly pid: string;
  readonly stat: string;
  readonly user: string;
  readonly time: string;
}

/** A process as `ps` shows it, with the user id it is named by. */
interface ProcessRow extends PsRow {
  readonly effectiveUid: number;
}

/** Not readable as `ps` would show it: the caller runs `ps` instead. */
class NotEmulated extends SchedulerError {}

/** `[DD-]HH:MM:SS` of a CPU time in seconds, as procps prints its TIME column. */
function psTime(total: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(total / 86_400);
  const clock = `${two(Math.floor(total / 3600) % 24)}:${two(Math.floor(total / 60) % 60)}:${two(total % 60)}`;
  return days > 0 ? `${days}-${clock}` : clock;
}

/**
 * One process as `ps` shows it, from `/proc/<pid>/stat` and `status` (procps reads the same files): the state
 * letter with procps' flags (`<`/`N` nice, `L` locked pages, `s` session leader, `l` threads, `+` foreground), the
 * CPU time, named by the current user (right only when its effective uid is that user's). Null when it is gone.
 */
function readProcess(pid: string, me: { uid: number; name: string }): ProcessRow | null {
  let stat: string;
  let status: string;
  // Read synchronously: the kernel writes these files from memory (no disk to wait for), and an asynchronous read is
  // four thread-pool round trips per file: 32 jobs cost the runner about 4.8 ms of CPU per poll that way, 1.2 ms so.
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw new NotEmulated(`cannot read /proc/${pid}`);
  }
  // the command name (field 2) is in parentheses and may hold spaces or parentheses itself
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // a thread's id names a folder too, but ps lists processes only
  if (/^Tgid:\s+(\d+)/m.exec(status)?.[1] !== pid) return null;
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  if (fields.length < 18 || uids === null) throw new NotEmulated(`unexpected /proc/${pid}/stat`);
  const field = (n: number): number => Number(fields[n - 3]);
  const nice = field(19);
  const locked = Number(/^VmLck:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  let flags = fields[0] ?? '?';
  if (nice < 0) flags += '<';
  if (nice > 0) flags += 'N';
  if (locked > 0) flags += 'L';
  if (field(6) === Number(pid)) flags += 's';
  if (field(20) > 1) flags += 'l';
  if (field(5) === field(8)) flags += '+';
  return {
    pid,
    stat: flags,
    user: me.name,
    time: psTime(Math.floor((field(14) + field(15)) / TICKS_PER_SECOND)),
    effectiveUid: Number(uids[2]),
  };
}

/**
 * What `ps -o pid,stat,user,time -p <jobs>` prints, read from `/proc` in this process instead of spawning `ps` (a
 * process per poll of the direct scheduler on the local machine). Undefined when that cannot be done exactly — not
 * Linux, `/proc` unreadable, another user's process, a user name `ps` would shorten — and the caller runs `ps`. The
 * files are read synchronously, two per job: the direct scheduler asks this for a few job ids only.
 */
export function listProcessesLikePs(jobs: readonly string[]): CommandOutput | undefined {
  if (process.platform !== 'linux') return undefined;
  let me: { uid: number; name: string };
  try {
    const info = userInfo();
    me = { uid: info.uid, name: info.username };
  } catch {
    return undefined;
  }
  // procps prints longer names shortened (or as the uid): not worth imitating
  if (me.uid < 0 || me.name.length === 0 || me.name.length > 8) return undefined;
  try {
    const listed = [...new Set(jobs)]
      .map((pid) => readProcess(pid, me))
      .filter((row): row is ProcessRow => row !== null);
    // only the current user's name is known without a lookup (ps would read the password database)
    if (listed.some((row) => row.effectiveUid !== me.uid)) return undefined;
    listed.sort((a, b) => Number(a.pid) - Number(b.pid));
    const lines = [
      '    PID STAT USER         TIME',
      ...listed.map(
        (row) => `${row.pid.padStart(7)} ${row.stat.padEnd(4)} ${row.user.padEnd(8)} ${row.time}`,
      ),
    ];
    // ps exits with 1 when nothing matched (and prints its header all the same)
    return { retval: listed.length > 0 ? 0 : 1, stdout: `${lines.join('\n')}\n`, stderr: '' };
  } catch (error) {
    if (error instanceof NotEmulated) return undefined;
    throw error;
  }
}
