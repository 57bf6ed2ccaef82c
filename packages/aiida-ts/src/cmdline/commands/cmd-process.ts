import { Command, Option } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import type { Ownership } from '../../engine/daemon/index.js';
import type { StorageBackend } from '../../storage/backend.js';
import { CliExit, ExitCode, UsageError } from '../exit-codes.js';
import {
  DEFAULT_PROCESS_PROJECTIONS,
  PROCESS_PROJECTIONS,
  PROCESS_STATE_CHOICES,
  type ProcessProjection,
} from '../process/projections.js';
import type { ReportLevel } from '../../tools/process-info/reports.js';
import { processDumpCommand } from '../dump/process-dump.js';

// The levels of `verdi process report -l` (aiida-core's LOG_LEVELS); repeated here so that building the command
// line does not import the ORM.
const REPORT_LEVEL_NAMES: Record<ReportLevel, number> = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  REPORT: 23,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
};

function parseInteger(what: string, value: string, minimum = Number.NEGATIVE_INFINITY): number {
  if (!/^[-+]?\d+$/.test(value.trim()) || Number(value) < minimum) {
    throw new UsageError(
      `invalid value for ${what}: \`${value}\` is not ${minimum === 0 ? 'a non-negative' : 'an'} integer`,
    );
  }
  return Number.parseInt(value, 10);
}

interface ListOptions {
  all?: boolean;
  processState?: string[];
  paused?: boolean;
  exitStatus?: string;
  F?: string;
  failed?: boolean;
  pastDays?: string;
  processLabel?: string;
  group?: string;
  limit?: string;
  orderBy: 'id' | 'ctime';
  orderDirection: 'asc' | 'desc';
  orderDir?: 'asc' | 'desc';
  project: ProcessProjection[];
  raw?: boolean;
  json?: boolean;
}

async function processList(cli: Cli, opts: ListOptions): Promise<void> {
  cli.out.json = opts.json === true;
  const exitStatusText = opts.exitStatus ?? opts.F;
  const exitStatus = exitStatusText === undefined ? undefined : parseInteger('--exit-status', exitStatusText);
  const pastDays = opts.pastDays === undefined ? undefined : parseInteger('--past-days', opts.pastDays, 0);
  const limit = opts.limit === undefined ? undefined : parseInteger('--limit', opts.limit, 0);
  const storage = await cli.storage();
  let groupPk: number | undefined;
  if (opts.group !== undefined) {
    const { loadGroup } = await import('../../orm/entities/group.js');
    const group = opts.group;
    groupPk = (await resolveArgument('--group', () => loadGroup(group, { storage }))).pk!;
  }
  const { queryProcesses, lastStateChange } = await import('../process/list-query.js');
  const { formatProjection, jsonProjection, projectionLabel } = await import('../process/projections.js');
  const rows = await queryProcesses({
    storage,
    ...(opts.all === true ? { all: true } : {}),
    ...(opts.processState === undefined ? {} : { processStates: opts.processState }),
    ...(opts.processLabel === undefined ? {} : { processLabel: opts.processLabel }),
    ...(opts.paused === true ? { paused: true } : {}),
    ...(exitStatus === undefined ? {} : { exitStatus }),
    ...(opts.failed === true ? { failed: true } : {}),
    ...(pastDays === undefined ? {} : { pastDays }),
    ...(groupPk === undefined ? {} : { groupPk }),
    ...(limit === undefined ? {} : { limit }),
    orderBy: opts.orderBy,
    orderDirection: opts.orderDir ?? opts.orderDirection,
  });
  const explicit =
    opts.project.length !== DEFAULT_PROCESS_PROJECTIONS.length ||
    opts.project.some((projection, index) => projection !== DEFAULT_PROCESS_PROJECTIONS[index]);
  const { STATE_FIELDS } = await import('../process/projections.js');
  const active = new Set<unknown>(['created', 'waiting', 'running']);
  const owners = await ownerCells(
    storage,
    rows.filter((row) => active.has(row[STATE_FIELDS.processState])).map((row) => Number(row['id'])),
  );
  // who runs each process: asked for with `-P owner`, shown by default when a worker or a script runs one
  const projections: ProcessProjection[] =
    !explicit && [...owners.values()].some((owner) => owner !== null)
      ? [...opts.project, 'owner']
      : opts.project;
  if (projections.includes('owner')) {
    const { OWNER_FIELD } = await import('../process/projections.js');
    for (const row of rows)
      (row as Record<string, unknown>)[OWNER_FIELD] = owners.get(Number(row['id'])) ?? null;
  }
  if (opts.json === true) {
    cli.out.printJson(
      rows.map((row) => Object.fromEntries(projections.map((p) => [p, jsonProjection(p, row)]))),
    );
    return;
  }
  const now = new Date();
  const cells = rows.map((row) => projections.map((p) => formatProjection(p, row, now)));
  const { tabulate } = await import('../../tools/process-info/tabulate.js');
  if (opts.raw === true) {
    const text = tabulate(cells);
    if (text !== '') cli.out.echo(text);
    return;
  }
  cli.out.echo(tabulate(cells, { headers: projections.map((p) => projectionLabel(p)) }));
  cli.out.echo();
  cli.out.echo(`Total results: ${rows.length}`);
  cli.out.echo();
  if (projections.includes('cached')) {
    cli.out.report('\u267b Processes marked with check-mark were not run but taken from the cache.');
    cli.out.report('Add the option `-P pk cached_from` to the command to display cache source.');
  }
  const changed = await lastStateChange(storage);
  if (changed === null) {
    cli.out.report('Last time an entry changed state: never');
  } else {
    const { formatAtTime, formatRelativeTime } = await import('../../tools/process-info/formatting.js');
    cli.out.report(
      `Last time an entry changed state: ${formatRelativeTime(changed, now)} (${formatAtTime(changed)})`,
    );
  }
  await daemonLoad(cli, storage);
}

/** Who runs each process (`worker 1234`, `script 5678 (gone)`, `parked`, `queued`), or null when nobody does. */
async function ownerCells(
  storage: StorageBackend,
  pks: readonly number[],
): Promise<Map<number, string | null>> {
  const cells = new Map<number, string | null>();
  if (pks.length === 0) return cells;
  // the module itself, not the daemon's index: that one loads the worker, the runner and plumpy (~1 MB of code)
  const { ownershipOf } = await import('../../engine/daemon/ownership.js');
  const found = new Map<number, Ownership>();
  // in chunks: a database bounds the parameters of one statement
  for (let start = 0; start < pks.length; start += 5_000)
    for (const [pk, ownership] of await ownershipOf(pks.slice(start, start + 5_000), { storage }))
      found.set(pk, ownership);
  for (const [pk, ownership] of found) {
    let cell: string | null = null;
    if (ownership.state === 'parked') cell = 'parked';
    else if (ownership.state === 'runnable') cell = 'queued';
    else if (ownership.owner !== null) {
      const kind = ownership.owner.kind === 'daemon' ? 'worker' : 'script';
      cell = `${kind} ${ownership.owner.pid}${ownership.orphaned ? ' (gone)' : ''}`;
    } else if (ownership.state === 'running') cell = 'gone';
    cells.set(pk, cell);
  }
  return cells;
}

/**
 * The end of `verdi process list`, as aiida-core's: how much of the daemon's slots is used (a warning above 90%), or
 * that the daemon is not running. Only processes running a step hold a slot; parked ones are counted apart.
 */
async function daemonLoad(cli: Cli, storage: StorageBackend): Promise<void> {
  // as in ownerCells: not the daemon's index, which every `verdi process list` would pay to load
  const { slotUsage } = await import('../../engine/daemon/ownership.js');
  const usage = await slotUsage({ storage });
  if (usage.workers === 0) {
    cli.out.warning('The daemon is not running: start it with `verdi daemon start`');
    return;
  }
  const load = usage.slots === 0 ? 1 : usage.running / usage.slots;
  const percent = `${Math.round(load * 100)}%`;
  if (load > 0.9) {
    cli.out.echo();
    cli.out.warning(`${percent} of the available daemon worker slots have been used!`);
    cli.out.warning('Increase the number of workers with `verdi daemon incr`.');
  } else {
    cli.out.report(
      `Using ${percent} of the available daemon worker slots (${usage.running} of ${usage.slots}; ` +
        `${usage.parked} parked processes hold none).`,
    );
  }
}

/** The message a process gets, as aiida-core's (`Killed through \`verdi process kill\``). */
const CONTROL_MESSAGES = {
  kill: 'Killed through `verdi process kill`',
  pause: 'Paused through `verdi process pause`',
  play: null,
} as const;
const CONTROL_PAST = { kill: 'killed', pause: 'paused', play: 'played' } as const;

const REPAIR_INSTRUCTIONS =
  'If a process does not answer, `verdi process repair` looks for what holds it and fixes it; ' +
  '`verdi daemon status` shows the workers.';

interface ControlCommandOptions {
  all?: boolean;
  timeout?: string;
  wait?: boolean;
  force?: boolean;
}

async function processControl(
  cli: Cli,
  intent: 'kill' | 'pause' | 'play',
  identifiers: string[],
  opts: ControlCommandOptions,
): Promise<void> {
  if (identifiers.length > 0 && opts.all === true)
    throw new UsageError('cannot specify individual processes and the `--all` flag at the same time.');
  if (identifiers.length === 0 && opts.all !== true)
    throw new UsageError(
      'Please specify one or multiple processes by their identifier (PK, UUID or label) or use `--all`.',
      `(run \`verdi process ${intent} --help\` for usage)`,
    );
  const timeoutText = opts.timeout;
  let timeoutMs = intent === 'kill' ? Number.POSITIVE_INFINITY : 5_000;
  if (timeoutText !== undefined) {
    const seconds = Number(timeoutText);
    if (timeoutText.trim() === '' || Number.isNaN(seconds) || seconds < 0)
      throw new UsageError(`invalid value for --timeout: \`${timeoutText}\` is not a number of seconds`);
    timeoutMs = seconds * 1000;
  }
  if (
    opts.all === true &&
    intent === 'kill' &&
    !(await cli.prompt.confirm('Are you sure you want to kill all processes?'))
  )
    throw new CliExit(ExitCode.CRITICAL, 'Aborted!');
  const storage = await cli.storage();
  let target: number[] | 'all' = 'all';
  if (opts.all !== true) {
    const { resolveProcesses } = await import('../process/load-processes.js');
    const processes = await resolveProcesses(cli, identifiers, { command: `verdi process ${intent}` });
    target = processes.map((process) => process.pk ?? 0);
  }
  const profile = await cli.profile();
  const { connectProfileBroker } = await import('../../engine/manager.js');
  let communicator: Awaited<ReturnType<typeof connectProfileBroker>>;
  try {
    communicator = await connectProfileBroker(profile, { timeout: 2_000 });
  } catch (error) {
    cli.out.warning(
      `the broker cannot be reached (${(error as Error).message}): the requests are left in the storage for the workers`,
    );
  }
  if (communicator !== undefined) {
    const opened = communicator;
    cli.defer(() => opened.close());
  }
  const { requestControl, awaitControl } = await import('../../engine/daemon/index.js');
  const requests = await requestControl(target, intent, {
    storage,
    communicator: communicator ?? null,
    message: CONTROL_MESSAGES[intent],
    force: opts.force === true,
  });
  if (requests.length === 0) cli.out.report(`no process to ${intent}`);
  const waiting = [];
  for (const request of requests) {
    if (request.state === 'failed')
      cli.out.error(`Process<${request.pk}>: ${request.result ?? `cannot ${intent}`}`);
    else if (request.state === 'done') cli.out.success(`Process<${request.pk}> ${CONTROL_PAST[intent]}`);
    else {
      cli.out.report(`request to ${intent} Process<${request.pk}> sent`);
      waiting.push(request);
    }
  }
  if (opts.wait !== true || waiting.length === 0) return;
  const { done, pending } = await awaitControl(waiting, { storage, timeoutMs });
  for (const request of done) {
    if (request.state === 'failed')
      cli.out.error(`Process<${request.pk}>: ${request.result ?? `cannot ${intent}`}`);
    else cli.out.success(`Process<${request.pk}> ${CONTROL_PAST[intent]}`);
  }
  if (pending.length > 0)
    cli.out.critical(
      `timed out waiting to ${intent} ${pending.map((request) => `Process<${request.pk}>`).join(', ')}\n${REPAIR_INSTRUCTIONS}`,
    );
}

async function processWatch(cli: Cli, identifiers: string[], opts: { interval?: string }): Promise<void> {
  const intervalMs = opts.interval === undefined ? 200 : Number(opts.interval) * 1000;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0)
    throw new UsageError(
      `invalid value for --interval: \`${String(opts.interval)}\` is not a number of seconds`,
    );
  const { resolveProcesses } = await import('../process/load-processes.js');
  const processes = await resolveProcesses(cli, identifiers, { command: 'verdi process watch' });
  const watched = processes.filter((process) => {
    if (!process.isTerminated) return true;
    cli.out.error(`Process<${String(process.pk)}> is already terminated`);
    return false;
  });
  if (watched.length === 0) return;
  const { watchProcesses } = await import('../../engine/daemon/supervisor/index.js');
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await watchProcesses(
      watched,
      (event) =>
        cli.out.echo(
          `Process<${event.pk}> [${event.subject}]${event.status === null ? '' : `: ${event.status}`}`,
        ),
      { intervalMs, signal: controller.signal },
    );
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function processRepair(cli: Cli, opts: { dryRun?: boolean; json?: boolean }): Promise<void> {
  cli.out.json = opts.json === true;
  const storage = await cli.storage();
  const profile = await cli.profile();
  let communicator;
  if (opts.dryRun !== true) {
    const { connectProfileBroker } = await import('../../engine/manager.js');
    try {
      communicator = await connectProfileBroker(profile, { timeout: 2_000 });
    } catch {
      // the workers find re-queued processes by polling the storage
    }
    if (communicator !== undefined) {
      const opened = communicator;
      cli.defer(() => opened.close());
    }
  }
  const { repairProcesses } = await import('../../engine/daemon/supervisor/index.js');
  const findings = await repairProcesses({
    storage,
    dryRun: opts.dryRun === true,
    communicator: communicator ?? null,
  });
  if (opts.json === true) {
    cli.out.printJson(findings);
    return;
  }
  if (findings.length === 0) {
    cli.out.success(
      'Nothing to repair: every active process is held by a worker, a script, or queued or parked.',
    );
    return;
  }
  for (const finding of findings)
    cli.out.echo(
      `Process<${finding.pk}>: ${finding.kind}: ${opts.dryRun === true ? 'would be ' : ''}${finding.action}`,
    );
  if (opts.dryRun === true) cli.out.report('Dry run: nothing was changed; run without `--dry-run` to fix.');
  else cli.out.success(`Repaired ${findings.length} finding(s).`);
}

async function processCallRoot(cli: Cli, identifiers: string[], opts: { json?: boolean }): Promise<void> {
  cli.out.json = opts.json === true;
  const { resolveProcesses, callRoot } = await import('../process/load-processes.js');
  const processes = await resolveProcesses(cli, identifiers, { command: 'verdi process call-root' });
  const documents: { pk: number; root: number | null }[] = [];
  for (const process of processes) {
    const root = await callRoot(process);
    documents.push({ pk: process.pk!, root: root?.pk ?? null });
    if (opts.json === true) continue;
    if (root === null) cli.out.echo(`No callers found for Process<${String(process.pk)}>`);
    else cli.out.echo(String(root.pk));
  }
  if (opts.json === true) cli.out.printJson(documents);
}

async function processShow(
  cli: Cli,
  identifiers: string[],
  opts: { mostRecentNode?: boolean; json?: boolean },
): Promise<void> {
  cli.out.json = opts.json === true;
  const { resolveProcesses } = await import('../process/load-processes.js');
  const processes = await resolveProcesses(cli, identifiers, {
    command: 'verdi process show',
    mostRecent: opts.mostRecentNode === true,
  });
  const { formatNodeInfo, processDocument } = await import('../../tools/process-info/node-info.js');
  if (opts.json === true) {
    const documents = [];
    for (const process of processes) documents.push(await processDocument(process));
    cli.out.printJson(documents);
    return;
  }
  for (const process of processes) cli.out.echo(await formatNodeInfo(process));
}

async function processReportCommand(
  cli: Cli,
  identifiers: string[],
  opts: {
    mostRecentNode?: boolean;
    indentSize: string;
    levelname: string;
    maxDepth?: string;
    json?: boolean;
  },
): Promise<void> {
  cli.out.json = opts.json === true;
  const indentSize = parseInteger('--indent-size', opts.indentSize, 0);
  const maxDepth = opts.maxDepth === undefined ? undefined : parseInteger('--max-depth', opts.maxDepth);
  const { resolveProcesses } = await import('../process/load-processes.js');
  const processes = await resolveProcesses(cli, identifiers, {
    command: 'verdi process report',
    mostRecent: opts.mostRecentNode === true,
  });
  const { processReport } = await import('../../tools/process-info/reports.js');
  const documents: Record<string, unknown>[] = [];
  for (const process of processes) {
    const report = await processReport(process, {
      levelname: opts.levelname as ReportLevel,
      indentSize,
      maxDepth,
    });
    if (opts.json === true) documents.push(report.document);
    else cli.out.echo(report.text);
  }
  if (opts.json === true) cli.out.printJson(documents);
}

async function processStatus(
  cli: Cli,
  identifiers: string[],
  opts: { mostRecentNode?: boolean; callLinkLabel?: boolean; maxDepth?: string; json?: boolean },
): Promise<void> {
  cli.out.json = opts.json === true;
  const maxDepth = opts.maxDepth === undefined ? undefined : parseInteger('--max-depth', opts.maxDepth, 0);
  const { resolveProcesses } = await import('../process/load-processes.js');
  const processes = await resolveProcesses(cli, identifiers, {
    command: 'verdi process status',
    mostRecent: opts.mostRecentNode === true,
  });
  const { buildCallTree, callTreeDocument, formatCallTree } =
    await import('../../tools/process-info/call-graph.js');
  const documents: (Record<string, unknown> | null)[] = [];
  for (const process of processes) {
    const tree = await buildCallTree(process, { maxDepth, callLinkLabel: opts.callLinkLabel === true });
    if (opts.json === true) documents.push(tree === null ? null : callTreeDocument(tree));
    else cli.out.echo(formatCallTree(tree));
  }
  if (opts.json === true) cli.out.printJson(documents);
}

export default defineCommandGroup({
  name: 'process',
  description: 'Inspect and manage processes.',
  build(cli: Cli) {
    const group = new Command('process');

    group
      .command('list')
      .description(
        'Show a list of processes. By default only processes that are still active are shown; options select ' +
          'finished ones too.',
      )
      .addOption(
        new Option('-P, --project <projections...>', 'Select the list of entity attributes to project.')
          .choices(PROCESS_PROJECTIONS)
          .default([...DEFAULT_PROCESS_PROJECTIONS]),
      )
      .addOption(
        new Option('-O, --order-by <field>', 'Order the entries by this attribute.')
          .choices(['id', 'ctime'])
          .default('ctime'),
      )
      .addOption(
        new Option('-D, --order-direction <direction>', 'List the entries in ascending or descending order.')
          .choices(['asc', 'desc'])
          .default('asc'),
      )
      .addOption(new Option('--order-dir <direction>').choices(['asc', 'desc']).hideHelp())
      .option('-G, --group <group>', 'Only include entries that are a member of this group.')
      .option('-a, --all', 'Show all entries, regardless of their process state.')
      .addOption(
        new Option(
          '-S, --process-state <states...>',
          'Only include entries with this process state.',
        ).choices(PROCESS_STATE_CHOICES),
      )
      .option('-L, --process-label <label>', 'Only include entries whose process label matches this filter.')
      .option('--paused', 'Only include entries that are paused.')
      .option('-E, --exit-status <status>', 'Only include entries with this exit status.')
      .addOption(new Option('-F <status>').hideHelp())
      .option('-X, --failed', 'Only include entries that have failed.')
      .option('-p, --past-days <days>', 'Only include entries created in the last PAST_DAYS number of days.')
      .option('-l, --limit <n>', 'Limit the number of entries to display.')
      .option('-r, --raw', 'Display only raw query results, without any headers or footers.')
      .option('--json', 'Print the processes as a JSON list of objects keyed by projection.')
      .action((opts: ListOptions) => processList(cli, opts));

    group
      .command('show')
      .description(
        'Show details of one or more processes: properties, inputs, outputs, caller, called, logs.',
      )
      .argument('[processes...]', 'Pks, uuids (or prefixes) or labels of the processes.')
      .option('-M, --most-recent-node', 'Select the most recently created node.')
      .option('--json', 'Print the processes as a JSON list of objects.')
      .action((identifiers: string[], opts: { mostRecentNode?: boolean; json?: boolean }) =>
        processShow(cli, identifiers, opts),
      );

    group
      .command('report')
      .description(
        'Show the log report of one or more processes: for a work chain the records of it and the work chains it ' +
          'called, indented by depth; for a process function its records; for a calculation job its scheduler ' +
          'output and records.',
      )
      .argument('[processes...]', 'Pks, uuids (or prefixes) or labels of the processes.')
      .option('-M, --most-recent-node', 'Select the most recently created node.')
      .option('-i, --indent-size <n>', 'Set the number of spaces to indent each level by.', '2')
      .addOption(
        new Option('-l, --levelname <level>', 'Filter the results by name of the log level.')
          .choices(Object.keys(REPORT_LEVEL_NAMES))
          .default('REPORT'),
      )
      .option('-m, --max-depth <n>', 'Limit the number of levels to be printed.')
      .option('--json', 'Print [{pk, kind, logs: [...]}] as JSON.')
      .action(
        (
          identifiers: string[],
          opts: {
            mostRecentNode?: boolean;
            indentSize: string;
            levelname: string;
            maxDepth?: string;
            json?: boolean;
          },
        ) => processReportCommand(cli, identifiers, opts),
      );

    group
      .command('status')
      .description('Show the call tree of one or more processes with the state of each process.')
      .argument('[processes...]', 'Pks, uuids (or prefixes) or labels of the processes.')
      .option('-M, --most-recent-node', 'Select the most recently created node.')
      .option('-c, --call-link-label', 'Include the call link label if set.')
      .option('-m, --max-depth <n>', 'Limit the number of levels to be printed.')
      .option('--json', 'Print each call tree as a nested JSON object.')
      .action(
        (
          identifiers: string[],
          opts: { mostRecentNode?: boolean; callLinkLabel?: boolean; maxDepth?: string; json?: boolean },
        ) => processStatus(cli, identifiers, opts),
      );

    group
      .command('call-root')
      .description('Show the root process of the call stack of one or more processes.')
      .argument('[processes...]', 'Pks, uuids (or prefixes) or labels of the processes.')
      .option('--json', 'Print [{pk, root}] as JSON (root is null for a process nothing called).')
      .action((identifiers: string[], opts: { json?: boolean }) => processCallRoot(cli, identifiers, opts));

    for (const intent of ['kill', 'pause', 'play'] as const) {
      const command = group
        .command(intent)
        .description(
          {
            kill: "Kill running processes: their children are killed too, a calculation job's scheduler job is cancelled.",
            pause: 'Pause running processes.',
            play: 'Play (unpause) paused processes.',
          }[intent] +
            ' Works whoever runs them: a worker, a script, or nobody (a parked or queued process, or one whose ' +
            'worker is gone): the request is recorded and honoured by whoever runs the process next.',
        )
        .argument('[processes...]', 'Pks, uuids (or prefixes) or labels of the processes.')
        .option(
          '-a, --all',
          `${intent === 'play' ? 'Play every paused process' : `${intent.charAt(0).toUpperCase()}${intent.slice(1)} every active process`} instead.`,
        )
        .option(
          '-t, --timeout <seconds>',
          `How long --wait waits (default ${intent === 'kill' ? 'no limit' : '5'}).`,
        )
        .option('--wait', 'Wait until each process shows the change (paused, played, terminated).')
        .addOption(new Option('--no-wait', 'Return once the requests are recorded (the default).'));
      if (intent === 'kill')
        command.option(
          '-F, --force',
          "Kill at once, even in the middle of a step, without cancelling a calculation job's scheduler job " +
            '(it may be left running on the computer).',
        );
      command.action((identifiers: string[], opts: ControlCommandOptions) =>
        processControl(cli, intent, identifiers, opts),
      );
    }

    group
      .command('watch')
      .description(
        'Print the state changes of processes as they happen, until they have all terminated (Ctrl-C ends).',
      )
      .argument('<processes...>', 'Pks, uuids (or prefixes) or labels of the processes.')
      .addOption(new Option('--interval <seconds>', 'How often the processes are looked at.').hideHelp())
      .action((identifiers: string[], opts: { interval?: string }) => processWatch(cli, identifiers, opts));

    group
      .command('repair')
      .description(
        'Find active processes that nothing will continue (no worker, no script, not queued) and leftovers, and fix ' +
          'them: lost processes with a checkpoint are queued for the daemon, records of terminated processes removed.',
      )
      .option('-n, --dry-run', 'Only report what would be fixed.')
      .option('--json', 'Print the findings as JSON.')
      .action((opts: { dryRun?: boolean; json?: boolean }) => processRepair(cli, opts));

    group.addCommand(processDumpCommand(cli));

    return group;
  },
});
