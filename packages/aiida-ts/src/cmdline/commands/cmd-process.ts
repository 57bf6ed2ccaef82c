import { Command, Option } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import { UsageError } from '../exit-codes.js';
import {
  DEFAULT_PROCESS_PROJECTIONS,
  PROCESS_PROJECTIONS,
  PROCESS_STATE_CHOICES,
  type ProcessProjection,
} from '../process/projections.js';
import type { ReportLevel } from '../process/reports.js';

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

/** The URL aiida-core points to when a profile has no broker (and so no daemon). */
const URL_NO_BROKER =
  'https://aiida-core.readthedocs.io/en/stable/installation/guide_quick.html#quick-install-limitations';

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
  const projections = opts.project;
  if (opts.json === true) {
    cli.out.printJson(
      rows.map((row) => Object.fromEntries(projections.map((p) => [p, jsonProjection(p, row)]))),
    );
    return;
  }
  const now = new Date();
  const cells = rows.map((row) => projections.map((p) => formatProjection(p, row, now)));
  const { tabulate } = await import('../process/tabulate.js');
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
    const { formatAtTime, formatRelativeTime } = await import('../process/formatting.js');
    cli.out.report(
      `Last time an entry changed state: ${formatRelativeTime(changed, now)} (${formatAtTime(changed)})`,
    );
  }
  const profile = await cli.profile();
  if (profile.processControlBackend === null) {
    cli.out.warning(`This profile does not have a broker and so it has no daemon. See ${URL_NO_BROKER}`);
  } else {
    // aiida-ts has no daemon yet: with a broker configured, no worker can be running.
    cli.out.warning('The daemon is not running');
  }
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
  const { formatNodeInfo, processDocument } = await import('../process/node-info.js');
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
  const { processReport } = await import('../process/reports.js');
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
  const { buildCallTree, callTreeDocument, formatCallTree } = await import('../process/call-graph.js');
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

    return group;
  },
});
