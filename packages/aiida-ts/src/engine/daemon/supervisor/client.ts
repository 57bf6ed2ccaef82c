import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { DaemonError } from '../../../errors.js';
import { isProcessGone } from '../host-identity.js';
import type { DaemonPaths } from './paths.js';
import { liveWorkersOf, readPidFile, type PidFile, type ProcessIdentity } from './pid-file.js';
import { callSupervisor, type StopReport, type StoppedWorker, type SupervisorStatus } from './protocol.js';
import type { WorkerCommand } from './supervisor.js';

/** How long a plain request (status, incr, decr) may take (ms). */
const REQUEST_TIMEOUT_MS = 5_000;
/** Extra time given to the supervisor beyond a stop's bound to answer (ms). */
const ANSWER_MARGIN_MS = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

/** Waits until every process is gone or `ms` passed; resolves with those still there. */
async function waitGone<T extends ProcessIdentity>(processes: readonly T[], ms: number): Promise<T[]> {
  const deadline = Date.now() + ms;
  let left = processes.filter((identity) => !isProcessGone(identity));
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = left.filter((identity) => !isProcessGone(identity));
  }
  return left;
}

/** The last `lines` lines of a file ('' when it cannot be read). */
export function tailOf(file: string, lines: number): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return '';
  }
}

/** What {@link DaemonClient.stop} did. */
export interface StopOutcome {
  /** Whether a supervisor was running (false: nothing to stop, or only a stale pid file was found). */
  readonly wasRunning: boolean;
  /** A stale pid file was removed (its supervisor was gone). */
  readonly stale: boolean;
  /** Each worker and how it ended. */
  readonly workers: readonly StoppedWorker[];
  /** The supervisor did not answer and was killed. */
  readonly supervisorKilled: boolean;
}

/** Options of {@link DaemonClient.start}. */
export interface StartDaemonOptions {
  /** The command running the supervisor (`verdi -p <profile> daemon start-supervisor N`), detached from this process. */
  readonly supervisorCommand: WorkerCommand;
  /** Workers it is told to run (the client waits for that many to be ready). */
  readonly workers: number;
  /** How long to wait for every worker to be ready (ms). */
  readonly timeoutMs: number;
}

/**
 * Talks to the daemon of one profile: its pid file and its supervisor's socket (aiida's `DaemonClient`). Every call
 * is bounded: a supervisor that does not answer is reported (and, on stop, killed with its workers).
 */
export class DaemonClient {
  readonly paths: DaemonPaths;

  constructor(paths: DaemonPaths) {
    this.paths = paths;
  }

  /** The pid file's view: running (a live supervisor), stale, or none. */
  pidFile(): ReturnType<typeof readPidFile> {
    return readPidFile(this.paths);
  }

  /** The supervisor's status, or null when the daemon is not running. Rejects when it runs but does not answer. */
  async status(timeoutMs = REQUEST_TIMEOUT_MS): Promise<SupervisorStatus | null> {
    const state = readPidFile(this.paths);
    if (state.state !== 'running') return null;
    return (await callSupervisor(state.file.socket, { cmd: 'status' }, timeoutMs)).status;
  }

  /**
   * Starts the supervisor detached from this process and waits until `workers` workers are ready. Rejects with a
   * `DaemonError` when the daemon is already running, when the supervisor ends before (the log's last lines say
   * why), or when the workers are not ready within the bound (the daemon is left running).
   */
  async start(options: StartDaemonOptions): Promise<SupervisorStatus> {
    await this.#clearStale();
    const state = readPidFile(this.paths);
    if (state.state === 'running')
      throw new DaemonError(`the daemon is already running (pid ${state.file.supervisor.pid})`);
    mkdirSync(dirname(this.paths.logFile), { recursive: true, mode: 0o700 });
    const logFd = openSync(this.paths.logFile, 'a', 0o600);
    let exited: string | undefined;
    try {
      const command = options.supervisorCommand;
      const child = spawn(command.command, [...command.args], {
        cwd: command.cwd,
        env: command.env ?? process.env,
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
      child.on('error', (error) => (exited = error.message));
      child.on(
        'exit',
        (code, sig) => (exited = sig === null ? `exit code ${String(code)}` : `signal ${sig}`),
      );
      child.unref();
    } finally {
      closeSync(logFd);
    }
    const deadline = Date.now() + options.timeoutMs;
    let last: SupervisorStatus | null = null;
    for (;;) {
      if (exited !== undefined)
        throw new DaemonError(
          `the daemon did not start (${exited}); the end of ${this.paths.logFile}:\n${tailOf(this.paths.logFile, 20)}`,
        );
      const current = readPidFile(this.paths);
      if (current.state === 'running') {
        try {
          last = (await callSupervisor(current.file.socket, { cmd: 'status' }, REQUEST_TIMEOUT_MS)).status;
          const ready = last.workers.filter((worker) => worker.ready).length;
          if (ready >= options.workers) return last;
        } catch {
          // the supervisor is still opening its socket
        }
      }
      if (Date.now() >= deadline) {
        const ready = last?.workers.filter((worker) => worker.ready).length ?? 0;
        throw new DaemonError(
          `the daemon started, but only ${ready} of ${options.workers} worker(s) were ready within ` +
            `${options.timeoutMs / 1000} s; see ${this.paths.logFile} (\`verdi daemon logshow\`)`,
        );
      }
      await sleep(50);
    }
  }

  /** Waits until `count` workers are ready (after incr or restart), bounded by `timeoutMs`. */
  async waitReady(count: number, timeoutMs: number): Promise<SupervisorStatus | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status();
      if (status === null) return null;
      const ready = status.workers.filter((worker) => worker.ready && !worker.stopping).length;
      if (ready >= count || Date.now() >= deadline) return status;
      await sleep(50);
    }
  }

  async incr(n: number): Promise<SupervisorStatus> {
    return (await callSupervisor(this.#socket(), { cmd: 'incr', n }, REQUEST_TIMEOUT_MS)).status;
  }

  async decr(n: number): Promise<SupervisorStatus> {
    return (await callSupervisor(this.#socket(), { cmd: 'decr', n }, REQUEST_TIMEOUT_MS)).status;
  }

  /** Restarts the workers (the supervisor stays); resolves with how the old ones stopped. */
  async restart(timeoutMs: number): Promise<{ status: SupervisorStatus; report: StopReport }> {
    const answer = await callSupervisor(
      this.#socket(),
      { cmd: 'restart', timeoutMs },
      timeoutMs + ANSWER_MARGIN_MS,
    );
    return { status: answer.status, report: answer.report ?? { workers: [] } };
  }

  /**
   * Stops the daemon within `timeoutMs` (plus a few seconds for the supervisor to answer): the supervisor stops its
   * workers, forcing then killing those that do not stop. When the supervisor does not answer, it and its workers
   * are killed from here. A stale pid file is removed, and workers it names that still run are stopped too.
   */
  async stop(timeoutMs: number): Promise<StopOutcome> {
    const state = readPidFile(this.paths);
    if (state.state === 'none')
      return { wasRunning: false, stale: false, workers: [], supervisorKilled: false };
    if (state.state === 'stale') {
      const workers = await this.#endOrphans(state.file, timeoutMs);
      rmSync(this.paths.pidFile, { force: true });
      rmSync(state.file.socket, { force: true });
      return { wasRunning: false, stale: true, workers, supervisorKilled: false };
    }
    const file = state.file;
    try {
      const answer = await callSupervisor(
        file.socket,
        { cmd: 'stop', timeoutMs },
        timeoutMs + ANSWER_MARGIN_MS,
      );
      const left = await waitGone([file.supervisor], ANSWER_MARGIN_MS);
      for (const identity of left) signal(identity.pid, 'SIGKILL');
      return {
        wasRunning: true,
        stale: false,
        workers: answer.report?.workers ?? [],
        supervisorKilled: left.length > 0,
      };
    } catch {
      // no answer: end the supervisor and its workers from here
      signal(file.supervisor.pid, 'SIGKILL');
      const workers = await this.#endOrphans(file, timeoutMs);
      rmSync(this.paths.pidFile, { force: true });
      rmSync(file.socket, { force: true });
      return { wasRunning: true, stale: false, workers, supervisorKilled: true };
    }
  }

  /** SIGTERM, then SIGKILL at the bound, to the workers a pid file names that still run. */
  async #endOrphans(file: PidFile, timeoutMs: number): Promise<StoppedWorker[]> {
    const live = liveWorkersOf(file);
    for (const worker of live) signal(worker.pid, 'SIGTERM');
    const left = await waitGone(live, timeoutMs);
    for (const worker of left) signal(worker.pid, 'SIGKILL');
    await waitGone(left, 2_000);
    return live.map((worker) => ({
      pid: worker.pid,
      workerId: worker.workerId,
      how: left.includes(worker) ? 'killed' : 'graceful',
    }));
  }

  /** A stale pid file (the supervisor was killed): its workers still running are stopped, the file removed. */
  async #clearStale(): Promise<void> {
    const state = readPidFile(this.paths);
    if (state.state !== 'stale') return;
    await this.#endOrphans(state.file, 10_000);
    rmSync(this.paths.pidFile, { force: true });
  }

  #socket(): string {
    const state = readPidFile(this.paths);
    if (state.state !== 'running') throw new DaemonError('the daemon is not running');
    return state.file.socket;
  }
}
