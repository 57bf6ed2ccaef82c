import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import { currentHostIdentity } from '../host-identity.js';
import type { DaemonPaths } from './paths.js';
import { RotatingLogFile, type RotationOptions } from './log-file.js';
import { claimPidFile, releasePidFile, writePidFile, type PidFile } from './pid-file.js';
import {
  supervisorRequestSchema,
  type StopReport,
  type StoppedWorker,
  type SupervisorRequest,
  type SupervisorResponse,
  type SupervisorStatus,
} from './protocol.js';

/** How a worker is started: an OS command (`verdi -p <profile> daemon worker`), run with an IPC channel. */
export interface WorkerCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Options of {@link Supervisor.start}. */
export interface SupervisorOptions {
  readonly paths: DaemonPaths;
  /** Workers to keep running. */
  readonly workers: number;
  readonly workerCommand: WorkerCommand;
  /** Restart delays of crashed workers: doubling from `initialMs` up to `maxMs`, back to `initialMs` once a worker lived `resetAfterMs`. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number; readonly resetAfterMs?: number };
  /** The stop bound used on SIGTERM/SIGINT of the supervisor (ms, default 20 s). */
  readonly stopTimeoutMs?: number;
  /** Rotation of the log file (default aiida-core's: at 10 MB, 10 files kept). */
  readonly logRotation?: RotationOptions;
  /** How often the log is checked for rotation, for what the workers write (ms, default 5 s). */
  readonly logCheckMs?: number;
}

const backoffSchema = z
  .object({
    initialMs: z.number().int().min(0).default(500),
    maxMs: z.number().int().min(0).default(30_000),
    resetAfterMs: z.number().int().min(0).default(30_000),
  })
  .default({ initialMs: 500, maxMs: 30_000, resetAfterMs: 30_000 });

interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly start: string;
  readonly startedAt: Date;
  workerId: string | null;
  ready: boolean;
  stopping: boolean;
  how: StoppedWorker['how'];
  exited: boolean;
  readonly exit: Promise<void>;
}

const readyMessageSchema = z.object({
  aiidaDaemon: z.literal('ready'),
  workerId: z.string(),
  pid: z.number().int(),
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The start time of a child from /proc (for the pid file's stale-pid check), or '' where there is no /proc. */
function startOf(pid: number): string {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: the fields after it are fixed
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/**
 * The daemon's supervisor (aiida's circus arbiter): keeps `workers` worker processes running, restarts those that
 * end on their own with a growing delay, writes the pid file (with its workers, so that `verdi daemon stop` can end
 * them even when the supervisor is gone), appends its lines and its workers' output to the profile's log file, and
 * answers `status`, `incr`, `decr`, `restart` and `stop` on a Unix socket.
 */
export class Supervisor {
  readonly #paths: DaemonPaths;
  readonly #command: WorkerCommand;
  readonly #backoff: z.output<typeof backoffSchema>;
  readonly #stopTimeoutMs: number;
  readonly #children = new Map<number, Child>();
  readonly #startedAt = new Date();
  #target: number;
  #restarts = 0;
  #crashes = 0;
  #nextSpawnAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #server: Server | undefined;
  readonly #log: RotatingLogFile;
  readonly #logCheck: NodeJS.Timeout;
  #stopping: Promise<StopReport> | undefined;
  #shutdownDone: Promise<void> | undefined;
  #resolveDone!: (report: StopReport) => void;
  /** Resolves once the supervisor stopped its workers and released its files. */
  readonly done = new Promise<StopReport>((resolve) => {
    this.#resolveDone = resolve;
  });

  private constructor(options: SupervisorOptions) {
    this.#paths = options.paths;
    this.#command = options.workerCommand;
    this.#target = options.workers;
    this.#backoff = backoffSchema.parse(options.backoff ?? {});
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 20_000;
    mkdirSync(dirname(options.paths.logFile), { recursive: true, mode: 0o700 });
    this.#log = new RotatingLogFile(options.paths.logFile, options.logRotation);
    // the workers write into the log's descriptor directly: look at its size now and then, not only on our lines
    this.#logCheck = setInterval(() => this.#rotateLog(), options.logCheckMs ?? 5_000);
    this.#logCheck.unref();
  }

  #rotateLog(): void {
    try {
      this.#log.rotateIfFull();
    } catch {
      // a log that cannot be rotated (disk full, removed folder) grows on: the workers keep running regardless
    }
  }

  /** Claims the profile's pid file (refused when a daemon runs), listens on its socket and starts the workers. */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const supervisor = new Supervisor(options);
    try {
      claimPidFile(options.paths, supervisor.#pidFile());
      await supervisor.#listen();
    } catch (error) {
      clearInterval(supervisor.#logCheck);
      supervisor.#log.close();
      throw error;
    }
    supervisor.log(`started for profile \`${options.paths.profile}\` with ${options.workers} worker(s)`);
    supervisor.#reconcile();
    return supervisor;
  }

  /** Appends a line of the supervisor to the log file. */
  log(message: string): void {
    try {
      this.#log.write(`${new Date().toISOString()} ${process.pid} supervisor: ${message}\n`);
    } catch {
      // the log file is gone or full: the supervisor keeps its workers running regardless
    }
  }

  status(): SupervisorStatus {
    return {
      profile: this.#paths.profile,
      pid: process.pid,
      startedAt: this.#startedAt.toISOString(),
      target: this.#target,
      workers: [...this.#children.values()].map((child) => ({
        pid: child.pid,
        workerId: child.workerId,
        startedAt: child.startedAt.toISOString(),
        ready: child.ready,
        stopping: child.stopping,
      })),
      restarts: this.#restarts,
      nextRestartAt:
        this.#timer === undefined || this.#nextSpawnAt <= Date.now()
          ? null
          : new Date(this.#nextSpawnAt).toISOString(),
      logFile: this.#paths.logFile,
    };
  }

  /** Runs `n` more workers. */
  incr(n: number): void {
    this.#target += n;
    this.log(`incr ${n}: ${this.#target} worker(s)`);
    this.#reconcile();
  }

  /** Runs `n` fewer workers (the newest stop gracefully; not below zero). */
  decr(n: number): void {
    this.#target = Math.max(0, this.#target - n);
    this.log(`decr ${n}: ${this.#target} worker(s)`);
    const running = [...this.#children.values()].filter((child) => !child.stopping);
    for (const child of running.slice(this.#target).reverse()) this.#askToStop(child);
  }

  /** Stops every worker (bounded by `timeoutMs`, then escalating) and starts fresh ones. */
  async restart(timeoutMs: number): Promise<StopReport> {
    this.log('restarting the workers');
    const report = await this.#stopWorkers([...this.#children.values()], timeoutMs);
    this.#crashes = 0;
    this.#nextSpawnAt = 0;
    this.#reconcile();
    return report;
  }

  /** Stops the workers (bounded by `timeoutMs`, then escalating) and the supervisor; resolves with what happened. */
  stop(timeoutMs = this.#stopTimeoutMs): Promise<StopReport> {
    this.#stopping ??= (async () => {
      this.log(`stopping (bound ${timeoutMs} ms)`);
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#target = 0;
      const report = await this.#stopWorkers([...this.#children.values()], timeoutMs);
      const stubborn = report.workers.filter((worker) => worker.how !== 'graceful');
      for (const worker of stubborn)
        this.log(
          `worker ${worker.pid} (${worker.workerId ?? 'not ready'}) did not stop gracefully: ${worker.how}`,
        );
      this.log('stopped');
      return report;
    })();
    return this.#stopping;
  }

  /** After a stop (once, however many asked): closes the socket, removes the pid file and the socket, closes the log. */
  #shutdown(report: StopReport): Promise<void> {
    this.#shutdownDone ??= (async () => {
      const server = this.#server;
      this.#server = undefined;
      if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(this.#paths.socket, { force: true });
      releasePidFile(this.#paths);
      clearInterval(this.#logCheck);
      this.#log.close();
      this.#resolveDone(report);
    })();
    return this.#shutdownDone;
  }

  /** Stops, then shuts down (what SIGTERM and `verdi daemon stop` do). */
  async stopAndExit(timeoutMs = this.#stopTimeoutMs): Promise<StopReport> {
    const report = await this.stop(timeoutMs);
    await this.#shutdown(report);
    return report;
  }

  #pidFile(): PidFile {
    const host = currentHostIdentity().host;
    return {
      supervisor: currentHostIdentity(),
      socket: this.#paths.socket,
      logFile: this.#paths.logFile,
      startedAt: this.#startedAt.toISOString(),
      workers: [...this.#children.values()].map((child) => ({
        host,
        pid: child.pid,
        start: child.start,
        workerId: child.workerId,
      })),
    };
  }

  #savePidFile(): void {
    if (this.#server === undefined) return;
    try {
      writePidFile(this.#paths, this.#pidFile());
    } catch (error) {
      this.log(`could not update the pid file: ${(error as Error).message}`);
    }
  }

  async #listen(): Promise<void> {
    // the pid file is ours: a socket file left behind belongs to a dead supervisor
    rmSync(this.#paths.socket, { force: true });
    const server = createServer((socket) => this.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#paths.socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  #serve(socket: Socket): void {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      const line = buffer.slice(0, end);
      buffer = '';
      void this.#answer(line).then(async ({ response, after }) => {
        await new Promise<void>((resolve) => socket.end(`${JSON.stringify(response)}\n`, () => resolve()));
        await after?.();
      });
    });
  }

  async #answer(line: string): Promise<{ response: SupervisorResponse; after?: () => Promise<void> }> {
    let request: SupervisorRequest;
    try {
      request = supervisorRequestSchema.parse(JSON.parse(line));
    } catch (error) {
      return { response: { ok: false, error: `malformed request: ${(error as Error).message}` } };
    }
    switch (request.cmd) {
      case 'status':
        return { response: { ok: true, status: this.status() } };
      case 'incr':
        this.incr(request.n);
        return { response: { ok: true, status: this.status() } };
      case 'decr':
        this.decr(request.n);
        return { response: { ok: true, status: this.status() } };
      case 'restart': {
        const report = await this.restart(request.timeoutMs);
        return { response: { ok: true, status: this.status(), report } };
      }
      case 'stop': {
        const report = await this.stop(request.timeoutMs);
        return {
          response: { ok: true, status: this.status(), report },
          after: () => this.#shutdown(report),
        };
      }
    }
  }

  #reconcile(): void {
    if (this.#stopping !== undefined) return;
    const running = [...this.#children.values()].filter((child) => !child.stopping).length;
    if (running >= this.#target) return;
    const wait = this.#nextSpawnAt - Date.now();
    if (wait > 0) {
      if (this.#timer === undefined)
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#reconcile();
        }, wait);
      return;
    }
    for (let index = running; index < this.#target; index += 1) this.#spawn();
  }

  #spawn(): void {
    const command = this.#command;
    let child: ChildProcess;
    try {
      child = spawn(command.command, [...command.args], {
        cwd: command.cwd,
        env: command.env ?? process.env,
        stdio: ['ignore', this.#log.fd, this.#log.fd, 'ipc'],
      });
    } catch (error) {
      this.log(`could not start a worker: ${(error as Error).message}`);
      this.#crashed(0);
      return;
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.on('error', (error) => this.log(`could not start a worker: ${error.message}`));
      this.#crashed(0);
      return;
    }
    let resolveExit!: () => void;
    const entry: Child = {
      process: child,
      pid,
      start: startOf(pid),
      startedAt: new Date(),
      workerId: null,
      ready: false,
      stopping: false,
      how: 'graceful',
      exited: false,
      exit: new Promise<void>((resolve) => {
        resolveExit = resolve;
      }),
    };
    this.#children.set(pid, entry);
    this.log(`worker ${pid} started`);
    child.on('message', (message) => {
      const ready = readyMessageSchema.safeParse(message);
      if (!ready.success) return;
      entry.workerId = ready.data.workerId;
      entry.ready = true;
      this.log(`worker ${pid} ready as ${ready.data.workerId}`);
      this.#savePidFile();
    });
    child.on('error', (error) => this.log(`worker ${pid}: ${error.message}`));
    child.on('exit', (code, signal) => {
      entry.exited = true;
      this.#children.delete(pid);
      this.#savePidFile();
      resolveExit();
      const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      if (entry.stopping || this.#stopping !== undefined) {
        this.log(`worker ${pid} stopped (${how})`);
        return;
      }
      this.log(`worker ${pid} ended on its own (${how})`);
      this.#crashed(Date.now() - entry.startedAt.getTime());
    });
    this.#savePidFile();
  }

  /** A worker ended without being asked: restart it after the backoff delay. */
  #crashed(livedMs: number): void {
    if (livedMs >= this.#backoff.resetAfterMs) this.#crashes = 0;
    this.#crashes += 1;
    this.#restarts += 1;
    const delay = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** (this.#crashes - 1));
    this.#nextSpawnAt = Date.now() + delay;
    this.log(`restarting a worker in ${delay} ms (restart ${this.#restarts})`);
    this.#reconcile();
  }

  #askToStop(child: Child): void {
    if (child.stopping) return;
    child.stopping = true;
    child.process.kill('SIGTERM');
  }

  /**
   * Asks each worker to stop (SIGTERM: it finishes or hands back its processes), asks again at 70% of the bound
   * (a second SIGTERM stops a worker at once: processes in a step are left to the sweepers), and SIGKILLs what is
   * left at the bound.
   */
  async #stopWorkers(children: readonly Child[], timeoutMs: number): Promise<StopReport> {
    const all = (): Promise<unknown> => Promise.all(children.map((child) => child.exit));
    const within = (ms: number): Promise<unknown> => Promise.race([all(), sleep(Math.max(0, ms))]);
    const started = Date.now();
    for (const child of children) this.#askToStop(child);
    await within(timeoutMs * 0.7);
    for (const child of children) {
      if (child.exited) continue;
      child.how = 'forced';
      child.process.kill('SIGTERM');
    }
    await within(timeoutMs - (Date.now() - started));
    for (const child of children) {
      if (child.exited) continue;
      child.how = 'killed';
      child.process.kill('SIGKILL');
    }
    await within(5_000);
    return {
      workers: children.map((child) => ({ pid: child.pid, workerId: child.workerId, how: child.how })),
    };
  }
}
