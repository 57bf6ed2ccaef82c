import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import type { Profile } from '../../config/profile.js';
import type { DaemonClient, SupervisorStatus, WorkerCommand } from '../../engine/daemon/supervisor/index.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { CliExit, ExitCode, UsageError } from '../exit-codes.js';

/** Bound of waiting for workers to be ready (`start`, `incr`, `restart`), seconds. */
const DEFAULT_READY_TIMEOUT_S = 30;

function parseCount(what: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1)
    throw new UsageError(`invalid value for ${what}: \`${text}\` is not a positive integer`);
  return Number(text);
}

function parseSeconds(what: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback * 1000;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new UsageError(`invalid value for ${what}: \`${text}\` is not a number of seconds`);
  return Math.round(value * 1000);
}

async function numberOption(name: string, fallback: number): Promise<number> {
  const { getConfigOption } = await import('../../config/manager.js');
  const value = getConfigOption(name);
  return typeof value === 'number' ? value : fallback;
}

/** The graceful stop bound of a worker (as the worker computes it) plus time to report. */
async function defaultStopTimeoutMs(): Promise<number> {
  return Math.max(10_000, (await numberOption('daemon.timeout', 2)) * 5_000) + 5_000;
}

/**
 * How to run `verdi` again as a child (the supervisor, the workers): this Node with its options and the `verdi`
 * script that runs now; from sources (a `.ts` script), through tsx.
 */
function verdiCommand(profile: string, words: readonly string[]): WorkerCommand {
  const running = process.argv[1];
  let script: string;
  let nodeOptions = [...process.execArgv];
  if (running !== undefined && /^verdi(\.[cm]?[jt]s)?$/.test(basename(running))) {
    script = running;
  } else {
    // run inside another program (tests calling `runVerdi`): the script next to this module
    const extension = extname(fileURLToPath(import.meta.url));
    script = fileURLToPath(new URL(`../verdi${extension}`, import.meta.url));
    nodeOptions = extension === '.ts' ? ['--conditions=source', '--import', 'tsx'] : [];
  }
  return {
    command: process.execPath,
    args: [...nodeOptions, script, '-p', profile, ...words],
    cwd: process.cwd(),
    env: process.env,
  };
}

async function clientFor(cli: Cli, profile?: Profile): Promise<DaemonClient> {
  const config = await cli.config();
  const chosen = profile ?? (await cli.profile());
  const { DaemonClient, daemonPaths } = await import('../../engine/daemon/supervisor/index.js');
  return new DaemonClient(daemonPaths(config.dirpath, chosen.name));
}

function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

interface WorkerRow {
  readonly pid: number;
  readonly workerId: string | null;
  readonly ready: boolean;
  readonly stopping: boolean;
  readonly startedAt: string;
  readonly slots: number | null;
  readonly running: number | null;
  readonly broker: boolean | null;
  readonly alive: boolean | null;
}

interface DaemonStatusDocument {
  readonly profile: string;
  readonly running: boolean;
  readonly pid: number | null;
  readonly startedAt: string | null;
  readonly target: number;
  readonly restarts: number;
  readonly workers: WorkerRow[];
  readonly processes: { running: number; parked: number; runnable: number } | null;
  readonly logFile: string;
  readonly error?: string;
}

/** The supervisor's view joined with the workers' rows in the storage (slots, processes held). */
async function statusDocument(cli: Cli, profile: Profile, timeoutMs: number): Promise<DaemonStatusDocument> {
  const client = await clientFor(cli, profile);
  const notRunning = (error?: string): DaemonStatusDocument => ({
    profile: profile.name,
    running: false,
    pid: null,
    startedAt: null,
    target: 0,
    restarts: 0,
    workers: [],
    processes: null,
    logFile: client.paths.logFile,
    ...(error === undefined ? {} : { error }),
  });
  let status: SupervisorStatus | null;
  try {
    status = await client.status(timeoutMs);
  } catch (error) {
    return notRunning((error as Error).message);
  }
  if (status === null) return notRunning();
  let rows = new Map<string, { slots: number; running: number; broker: boolean; alive: boolean }>();
  let processes: DaemonStatusDocument['processes'] = null;
  try {
    const { openProfileStorage } = await import('../../config/load-profile.js');
    const storage = await openProfileStorage(profile);
    try {
      const { listWorkers, slotUsage } = await import('../../engine/daemon/index.js');
      rows = new Map((await listWorkers(storage)).map((worker) => [worker.id, worker]));
      const usage = await slotUsage({ storage });
      processes = { running: usage.running, parked: usage.parked, runnable: usage.runnable };
    } finally {
      await storage.close();
    }
  } catch (error) {
    cli.out.warning(`could not read the workers' records in the storage: ${(error as Error).message}`);
  }
  return {
    profile: profile.name,
    running: true,
    pid: status.pid,
    startedAt: status.startedAt,
    target: status.target,
    restarts: status.restarts,
    workers: status.workers.map((worker) => {
      const row = worker.workerId === null ? undefined : rows.get(worker.workerId);
      return {
        ...worker,
        slots: row?.slots ?? null,
        running: row?.running ?? null,
        broker: row?.broker ?? null,
        alive: row?.alive ?? null,
      };
    }),
    processes,
    logFile: status.logFile,
  };
}

function printStatus(cli: Cli, document: DaemonStatusDocument): void {
  const out = cli.out;
  out.echo(`${out.colors.bold('Profile:')} ${document.profile}`);
  if (!document.running) {
    out.echo(
      document.error === undefined
        ? 'The daemon is not running.'
        : `The daemon does not answer: ${document.error}`,
    );
    return;
  }
  out.echo(`Daemon is running as PID ${String(document.pid)} since ${formatTime(document.startedAt ?? '')}`);
  out.echo(`Active workers [${document.workers.length}]:`);
  const cell = (value: number | null): string => (value === null ? '-' : String(value));
  const rows = document.workers.map((worker) => [
    worker.pid,
    worker.workerId ?? (worker.stopping ? '(stopping)' : '(starting)'),
    cell(worker.slots),
    cell(worker.running),
    worker.stopping ? 'stopping' : worker.ready ? 'ready' : 'starting',
    formatTime(worker.startedAt),
  ]);
  out.table(['PID', 'WORKER', 'SLOTS', 'IN USE', 'STATE', 'STARTED'], rows);
  if (document.processes !== null) {
    const p = document.processes;
    out.echo(
      `Processes: ${p.running} running in a slot, ${p.parked} parked (waiting, no slot), ${p.runnable} queued`,
    );
  }
  if (document.restarts > 0) out.echo(`Workers restarted after a crash: ${document.restarts}`);
  out.echo('Use `verdi daemon [incr | decr] [num]` to increase / decrease the number of workers');
}

async function daemonStatus(
  cli: Cli,
  opts: { all?: boolean; timeout?: string; json?: boolean },
): Promise<void> {
  cli.out.json = opts.json === true;
  const timeoutMs = parseSeconds('--timeout', opts.timeout, 5);
  const config = await cli.config();
  const profiles =
    opts.all === true ? config.profileNames.map((name) => config.getProfile(name)) : [await cli.profile()];
  const documents: DaemonStatusDocument[] = [];
  for (const profile of profiles) documents.push(await statusDocument(cli, profile, timeoutMs));
  if (opts.json === true) cli.out.printJson(opts.all === true ? documents : documents[0]);
  else for (const document of documents) printStatus(cli, document);
  if (documents.some((document) => !document.running)) throw new CliExit(ExitCode.DAEMON_NOT_RUNNING);
}

async function daemonStart(
  cli: Cli,
  number: string | undefined,
  opts: { foreground?: boolean; timeout?: string },
): Promise<void> {
  const profile = await cli.profile();
  const workers = parseCount('NUMBER', number, await numberOption('daemon.default_workers', 1));
  const timeoutMs = parseSeconds('--timeout', opts.timeout, DEFAULT_READY_TIMEOUT_S);
  if (opts.foreground === true) {
    cli.out.echo(`Starting the daemon with ${workers} workers in the foreground (Ctrl-C stops it)...`);
    await runSupervisor(cli, profile, workers);
    return;
  }
  const client = await clientFor(cli, profile);
  cli.out.writeOut(`Starting the daemon with ${workers} workers... `);
  try {
    await client.start({
      supervisorCommand: verdiCommand(profile.name, ['daemon', 'start-supervisor', String(workers)]),
      workers,
      timeoutMs,
    });
  } catch (error) {
    cli.out.echo(cli.out.colors.red('FAILED'));
    throw error;
  }
  cli.out.echo(cli.out.colors.green('OK'));
}

/** Runs the supervisor in this process until it is stopped (`start-supervisor`, `start --foreground`). */
async function runSupervisor(cli: Cli, profile: Profile, workers: number): Promise<void> {
  const config = await cli.config();
  const { Supervisor, daemonPaths } = await import('../../engine/daemon/supervisor/index.js');
  const stopTimeoutMs = await defaultStopTimeoutMs();
  const supervisor = await Supervisor.start({
    paths: daemonPaths(config.dirpath, profile.name),
    workers,
    workerCommand: verdiCommand(profile.name, ['daemon', 'worker']),
    stopTimeoutMs,
  });
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    signals += 1;
    supervisor.log(`received ${name}`);
    // a second signal: stop without waiting for the workers' graceful bound
    void supervisor.stopAndExit(signals > 1 ? 1_000 : stopTimeoutMs);
  };
  const signalNames = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const name of signalNames) process.on(name, onSignal);
  try {
    await supervisor.done;
  } finally {
    for (const name of signalNames) process.off(name, onSignal);
  }
}

function reportStopped(
  cli: Cli,
  workers: readonly { pid: number; workerId: string | null; how: string }[],
): void {
  for (const worker of workers) {
    if (worker.how === 'graceful') continue;
    const name = `worker ${worker.pid}${worker.workerId === null ? '' : ` (${worker.workerId})`}`;
    if (worker.how === 'forced')
      cli.out.warning(
        `${name} did not stop within the bound: it was stopped at once, its processes are continued by the next worker`,
      );
    else
      cli.out.warning(
        `${name} did not stop: it was killed (SIGKILL), its processes are continued by the next worker`,
      );
  }
}

async function daemonStop(cli: Cli, opts: { timeout?: string; all?: boolean }): Promise<void> {
  const timeoutMs = parseSeconds('--timeout', opts.timeout, (await defaultStopTimeoutMs()) / 1000);
  const config = await cli.config();
  const profiles =
    opts.all === true ? config.profileNames.map((name) => config.getProfile(name)) : [await cli.profile()];
  for (const profile of profiles) {
    cli.out.echo(`${cli.out.colors.bold('Profile:')} ${profile.name}`);
    const client = await clientFor(cli, profile);
    cli.out.writeOut('Stopping the daemon... ');
    const outcome = await client.stop(timeoutMs);
    if (!outcome.wasRunning) {
      cli.out.echo(
        outcome.stale ? 'it was not running (a stale pid file was removed)' : 'it was not running',
      );
      reportStopped(cli, outcome.workers);
      continue;
    }
    const clean = !outcome.supervisorKilled && outcome.workers.every((worker) => worker.how === 'graceful');
    cli.out.echo(clean ? cli.out.colors.green('OK') : cli.out.colors.yellow('OK (escalated)'));
    if (outcome.supervisorKilled) cli.out.warning('the supervisor did not answer: it was killed');
    reportStopped(cli, outcome.workers);
  }
}

async function daemonIncr(cli: Cli, number: string | undefined, opts: { timeout?: string }): Promise<void> {
  const n = parseCount('NUMBER', number, 1);
  const timeoutMs = parseSeconds('--timeout', opts.timeout, DEFAULT_READY_TIMEOUT_S);
  const client = await clientFor(cli);
  const before = await client.status();
  if (before === null) cli.out.critical('the daemon is not running');
  cli.out.writeOut(`Starting ${n} daemon worker${n === 1 ? '' : 's'}... `);
  const status = await client.incr(n);
  const after = await client.waitReady(status.target, timeoutMs);
  const ready = after?.workers.filter((worker) => worker.ready && !worker.stopping).length ?? 0;
  if (ready < status.target) {
    cli.out.echo(cli.out.colors.yellow('started'));
    cli.out.warning(`${ready} of ${status.target} workers are ready; see \`verdi daemon logshow\``);
  } else cli.out.echo(cli.out.colors.green('OK'));
}

async function daemonDecr(cli: Cli, number: string | undefined): Promise<void> {
  const n = parseCount('NUMBER', number, 1);
  const client = await clientFor(cli);
  const before = await client.status();
  if (before === null) cli.out.critical('the daemon is not running');
  cli.out.writeOut(`Stopping ${n} daemon worker${n === 1 ? '' : 's'}... `);
  await client.decr(n);
  cli.out.echo(cli.out.colors.green('OK'));
}

async function daemonRestart(cli: Cli, opts: { reset?: boolean; timeout?: string }): Promise<void> {
  const profile = await cli.profile();
  const client = await clientFor(cli, profile);
  const stopMs = await defaultStopTimeoutMs();
  const readyMs = parseSeconds('--timeout', opts.timeout, DEFAULT_READY_TIMEOUT_S);
  const status = await client.status();
  if (status === null) cli.out.critical('the daemon is not running');
  if (opts.reset === true) {
    cli.out.writeOut('Restarting the daemon (supervisor and workers)... ');
    const stopped = await client.stop(stopMs);
    await client.start({
      supervisorCommand: verdiCommand(profile.name, ['daemon', 'start-supervisor', String(status.target)]),
      workers: status.target,
      timeoutMs: readyMs,
    });
    cli.out.echo(cli.out.colors.green('OK'));
    reportStopped(cli, stopped.workers);
    return;
  }
  cli.out.writeOut('Restarting the daemon workers... ');
  const { report } = await client.restart(stopMs);
  await client.waitReady(status.target, readyMs);
  cli.out.echo(cli.out.colors.green('OK'));
  reportStopped(cli, report.workers);
}

async function daemonLogshow(cli: Cli, opts: { lines: string; follow: boolean }): Promise<void> {
  const lines = parseCount('--lines', opts.lines, 20);
  const client = await clientFor(cli);
  const file = client.paths.logFile;
  const { tailOf } = await import('../../engine/daemon/supervisor/index.js');
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    cli.out.critical(`there is no daemon log yet (${file})`);
  }
  const tail = tailOf(file, lines);
  if (tail !== '') cli.out.echo(tail);
  if (!opts.follow) return;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      let current: number;
      try {
        current = statSync(file).size;
      } catch {
        return;
      }
      if (current < size) size = 0; // the file was replaced
      if (current === size) return;
      const fd = openSync(file, 'r');
      try {
        const buffer = Buffer.alloc(current - size);
        readSync(fd, buffer, 0, buffer.length, size);
        cli.out.writeOut(buffer.toString('utf8'));
      } finally {
        closeSync(fd);
      }
      size = current;
    }, 200);
    const stop = (): void => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function daemonWorker(cli: Cli): Promise<void> {
  const profile = await cli.profile();
  const { runDaemonWorker } = await import('../../engine/daemon/index.js');
  // the modules defining submitted processes are users' files, TypeScript too, importing `aiida-ts`
  const { registerScriptLoader } = await import('../utils/script-loader.js');
  cli.defer(await registerScriptLoader());
  const controller = new AbortController();
  // forked by a supervisor: when it is gone (killed), stop too rather than run unsupervised
  if (process.connected) process.once('disconnect', () => controller.abort());
  const exit = await runDaemonWorker(profile.name, { handleSignals: true, signal: controller.signal });
  if (exit.reason === 'fatal') cli.out.critical(`the worker stopped on an error: ${String(exit.error)}`);
}

export default defineCommandGroup({
  name: 'daemon',
  description: 'Inspect and manage the daemon.',
  build(cli: Cli) {
    const group = new Command('daemon');
    group
      .command('start')
      .description(
        'Start the daemon with NUMBER workers (default: the `daemon.default_workers` option): a supervisor in the ' +
          'background that restarts crashed workers. Waits until every worker is ready.',
      )
      .argument('[number]', 'Number of workers to start.')
      .option('--foreground', 'Run the daemon in the foreground (Ctrl-C stops it).')
      .option(
        '-t, --timeout <seconds>',
        `How long to wait for the workers to be ready (default ${DEFAULT_READY_TIMEOUT_S}).`,
      )
      .action((number: string | undefined, opts: { foreground?: boolean; timeout?: string }) =>
        daemonStart(cli, number, opts),
      );
    group
      .command('stop')
      .description(
        'Stop the daemon: each worker finishes its steps or hands its processes back; one that has not stopped at ' +
          '70% of the bound is stopped at once, one still running at the bound is killed (its processes are ' +
          'continued by the next worker).',
      )
      .option(
        '-t, --timeout <seconds>',
        'The bound of the stop (default: 5 x `daemon.timeout`, at least 10, plus 5).',
      )
      .option('--all', 'Stop the daemons of every profile.')
      .addOption(
        new Option(
          '--no-wait',
          'Accepted for aiida-core compatibility; the stop is always bounded.',
        ).hideHelp(),
      )
      .action((opts: { timeout?: string; all?: boolean }) => daemonStop(cli, opts));
    group
      .command('status')
      .description(
        'Print the status of the daemon: its workers (pid, id, slots, processes in a slot) and the processes ' +
          'waiting or queued. Exit code 3 when the daemon is not running.',
      )
      .option('--all', 'Show the status of the daemons of every profile.')
      .option('-t, --timeout <seconds>', 'How long to wait for the daemon to answer (default 5).')
      .option('--json', 'Print the status as JSON.')
      .action((opts: { all?: boolean; timeout?: string; json?: boolean }) => daemonStatus(cli, opts));
    group
      .command('incr')
      .description('Add NUMBER workers to the running daemon (default 1).')
      .argument('[number]', 'Number of workers to add.')
      .option(
        '-t, --timeout <seconds>',
        `How long to wait for them to be ready (default ${DEFAULT_READY_TIMEOUT_S}).`,
      )
      .action((number: string | undefined, opts: { timeout?: string }) => daemonIncr(cli, number, opts));
    group
      .command('decr')
      .description('Stop NUMBER workers of the running daemon (default 1); they hand their processes back.')
      .argument('[number]', 'Number of workers to stop.')
      .action((number: string | undefined) => daemonDecr(cli, number));
    group
      .command('restart')
      .description('Restart the daemon workers (with `--reset`, the supervisor too).')
      .option('--reset', 'Stop and start the whole daemon instead of its workers only.')
      .option(
        '-t, --timeout <seconds>',
        `How long to wait for the new workers to be ready (default ${DEFAULT_READY_TIMEOUT_S}).`,
      )
      .addOption(new Option('--no-wait', 'Accepted for aiida-core compatibility.').hideHelp())
      .action((opts: { reset?: boolean; timeout?: string }) => daemonRestart(cli, opts));
    group
      .command('logshow')
      .description("Show the daemon's log file and follow it (Ctrl-C ends).")
      .option('-n, --lines <n>', 'How many of the last lines to show first.', '20')
      .option('--no-follow', 'Print the last lines and end.')
      .action((opts: { lines: string; follow: boolean }) => daemonLogshow(cli, opts));
    group
      .command('worker')
      .description('Run a single daemon worker in this process (what the supervisor starts).')
      .action(() => daemonWorker(cli));
    group
      .command('start-supervisor', { hidden: true })
      .description('Run the supervisor of the daemon in this process (what `verdi daemon start` starts).')
      .argument('[number]', 'Number of workers.')
      .action(async (number: string | undefined) => {
        const profile = await cli.profile();
        await runSupervisor(
          cli,
          profile,
          parseCount('NUMBER', number, await numberOption('daemon.default_workers', 1)),
        );
      });
    return group;
  },
});
