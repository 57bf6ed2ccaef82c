import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { DaemonError } from '../../../errors.js';
import { currentHostIdentity, isProcessGone } from '../host-identity.js';
import type { DaemonPaths } from './paths.js';

const identitySchema = z.object({ host: z.string(), pid: z.number().int(), start: z.string() });

/** The pid file of a running supervisor: who it is, where it listens, and its workers (for a stop without it). */
export const pidFileSchema = z.object({
  supervisor: identitySchema,
  socket: z.string(),
  logFile: z.string(),
  startedAt: z.string(),
  workers: z.array(identitySchema.extend({ workerId: z.string().nullable() })),
});
export type PidFile = z.infer<typeof pidFileSchema>;
export type ProcessIdentity = z.infer<typeof identitySchema>;

/** What the pid file says: a live supervisor, a stale file (its supervisor is gone), or none. */
export type PidFileState =
  | { readonly state: 'running'; readonly file: PidFile }
  | { readonly state: 'stale'; readonly file: PidFile }
  | { readonly state: 'none' };

/** Reads the pid file; a file that cannot be parsed counts as stale with no workers. */
export function readPidFile(paths: DaemonPaths): PidFileState {
  let text: string;
  try {
    text = readFileSync(paths.pidFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'none' };
    throw error;
  }
  let parsed: PidFile;
  try {
    parsed = pidFileSchema.parse(JSON.parse(text));
  } catch {
    return {
      state: 'stale',
      file: {
        supervisor: { host: '', pid: 0, start: '' },
        socket: paths.socket,
        logFile: paths.logFile,
        startedAt: '',
        workers: [],
      },
    };
  }
  return {
    state: isProcessGone(parsed.supervisor) || parsed.supervisor.pid === 0 ? 'stale' : 'running',
    file: parsed,
  };
}

/** The workers a pid file names that still run on this machine. */
export function liveWorkersOf(file: PidFile): PidFile['workers'] {
  const host = currentHostIdentity().host;
  return file.workers.filter((worker) => worker.host === host && !isProcessGone(worker));
}

/** Writes the pid file atomically (a reader never sees half of it). */
export function writePidFile(paths: DaemonPaths, file: PidFile): void {
  mkdirSync(dirname(paths.pidFile), { recursive: true, mode: 0o700 });
  const temporary = `${paths.pidFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, paths.pidFile);
}

/**
 * Claims the pid file for this process: refused when a live supervisor holds it; a stale one (its process is gone,
 * or its pid now belongs to another process) is replaced.
 */
export function claimPidFile(paths: DaemonPaths, file: PidFile): void {
  mkdirSync(dirname(paths.pidFile), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      writeFileSync(paths.pidFile, `${JSON.stringify(file, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = readPidFile(paths);
    if (current.state === 'running' && current.file.supervisor.pid !== process.pid)
      throw new DaemonError(
        `the daemon of profile \`${paths.profile}\` is already running (pid ${current.file.supervisor.pid})`,
      );
    rmSync(paths.pidFile, { force: true });
  }
  throw new DaemonError(`could not claim the pid file ${paths.pidFile}`);
}

/** Removes the pid file if it still names this process. */
export function releasePidFile(paths: DaemonPaths): void {
  const current = readPidFile(paths);
  if (current.state !== 'none' && current.file.supervisor.pid === process.pid)
    rmSync(paths.pidFile, { force: true });
}
