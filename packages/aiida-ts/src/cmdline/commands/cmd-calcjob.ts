import { Command, Option } from 'commander';
import type { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import type { RemoteData } from '../../orm/nodes/data/remote.js';
import {
  catRepositoryFile,
  loadCalcJob,
  printRemoteFile,
  remoteFolderOf,
  repositoryListing,
  runInteractive,
} from '../calcjob/shared.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

const DICT_FORMATS = ['json+date', 'yaml', 'yaml_expanded'] as const;
type DictFormat = (typeof DICT_FORMATS)[number];

/** JSON with sorted keys, 4 spaces, dates as ISO strings (aiida's `echo_dictionary` with `json+date`). */
function sortedJson(value: unknown): string {
  const sort = (item: unknown): unknown => {
    if (item instanceof Date) return item.toISOString();
    if (Array.isArray(item)) return item.map(sort);
    if (item !== null && typeof item === 'object') {
      return Object.fromEntries(
        Object.keys(item)
          .sort()
          .map((key) => [key, sort((item as Record<string, unknown>)[key])]),
      );
    }
    return item;
  };
  return JSON.stringify(sort(value), null, 4);
}

/** The `retrieved` folder of a job, or a critical error saying it was not retrieved (yet). */
async function retrievedOf(cli: Cli, calcjob: CalcJobNode) {
  const retrieved = await calcjob.getRetrievedNode();
  if (retrieved === null) {
    return cli.out.critical(
      `CalcJob<${String(calcjob.pk)}> has no 'retrieved' output: have its files been retrieved yet?`,
    );
  }
  return retrieved;
}

/** The name of the output `res` shows: the job class's `defaultOutputNode` (aiida's `default_output_node`). */
async function defaultOutputName(calcjob: CalcJobNode): Promise<string | undefined> {
  const processType = calcjob.processType;
  if (processType === null) return undefined;
  const { parseEntryPointString, loadEntryPoint } = await import('../../plugins/entry-points.js');
  const entryPoint = parseEntryPointString(processType);
  let cls: unknown;
  if (entryPoint !== undefined) {
    try {
      cls = await loadEntryPoint(...entryPoint);
    } catch {
      cls = undefined;
    }
  }
  if (cls === undefined) {
    const { processClassRegistry } = await import('../../engine/processes/process-type.js');
    try {
      cls = processClassRegistry.loadObject(processType);
    } catch {
      return undefined;
    }
  }
  const name = (cls as { defaultOutputNode?: unknown }).defaultOutputNode;
  return typeof name === 'string' ? name : undefined;
}

async function calcjobRes(
  cli: Cli,
  identifier: string,
  opts: { keys?: string[]; fmt: DictFormat },
): Promise<void> {
  const calcjob = await loadCalcJob(cli, identifier);
  const name = await defaultOutputName(calcjob);
  if (name === undefined) {
    cli.out.critical(
      `CalcJob<${String(calcjob.pk)}> (${calcjob.processLabel ?? 'unknown class'}) names no default output node, ` +
        'so it has no results dictionary: use `verdi process show` to see its outputs',
    );
  }
  const { LinkType } = await import('../../orm/links.js');
  const { Dict } = await import('../../orm/nodes/data/base.js');
  const output = (
    await calcjob.base.links.getOutgoing({ linkType: LinkType.CREATE, linkLabelFilter: name })
  ).first()?.node;
  if (!(output instanceof Dict)) {
    cli.out.critical(
      `CalcJob<${String(calcjob.pk)}> has no Dict output \`${name}\`: it did not finish or its parser wrote none`,
    );
  }
  const results = output.getDict();
  let shown: Record<string, unknown> = results;
  if (opts.keys !== undefined) {
    const missing = opts.keys.find((key) => !(key in results));
    if (missing !== undefined) cli.out.critical(`key '${missing}' was not found in the results dictionary`);
    shown = Object.fromEntries(opts.keys.map((key) => [key, results[key]]));
  }
  if (opts.fmt === 'json+date') cli.out.echo(sortedJson(shown));
  else cli.out.printYaml(shown);
}

async function calcjobGotocomputer(cli: Cli, identifier: string): Promise<void> {
  const calcjob = await loadCalcJob(cli, identifier);
  const workdir = calcjob.getRemoteWorkdir();
  if (workdir === null) {
    cli.out.critical(`CalcJob<${String(calcjob.pk)}> has no remote work directory: it was not uploaded yet`);
  }
  const computer = await calcjob.getComputer();
  if (computer === null) cli.out.critical(`CalcJob<${String(calcjob.pk)}> has no computer`);
  const transport = await computer.getTransport();
  const command = transport.gotocomputerCommand(workdir);
  cli.out.report('going to the remote work directory...');
  const code = await runInteractive(cli, command);
  if (code !== 0) cli.out.critical(`the shell on ${computer.label} ended with exit code ${String(code)}`);
}

async function calcjobRemotecat(cli: Cli, identifier: string, relpath: string): Promise<void> {
  const calcjob = await loadCalcJob(cli, identifier);
  const remote = await remoteFolderOf(cli, calcjob);
  await printRemoteFile(cli, remote, relpath);
}

interface CleanOptions {
  pastDays?: string;
  olderThan?: string;
  computers?: string[];
  force?: boolean;
  exitStatus?: string;
}

function nonNegativeInteger(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`invalid value for ${option}: \`${value}\` is not a whole number`);
  return Number(value);
}

async function calcjobCleanworkdir(cli: Cli, identifiers: string[], opts: CleanOptions): Promise<void> {
  const pastDays = nonNegativeInteger('-p/--past-days', opts.pastDays);
  const olderThan = nonNegativeInteger('-o/--older-than', opts.olderThan);
  const exitStatus = nonNegativeInteger('-E/--exit-status', opts.exitStatus);
  const filtering = pastDays !== undefined || olderThan !== undefined || exitStatus !== undefined;
  if (identifiers.length > 0 && filtering) {
    throw new UsageError(
      'give either calculation jobs or the filters -p/--past-days, -o/--older-than, -E/--exit-status, not both',
    );
  }
  const storage = await cli.storage();
  const { CalcJobNode } = await import('../../orm/nodes/process/calcjob.js');
  const { RemoteData } = await import('../../orm/nodes/data/remote.js');
  const { QueryBuilder } = await import('../../querybuilder/query-builder.js');
  let calcjobs: CalcJobNode[];
  if (identifiers.length > 0) {
    calcjobs = [];
    for (const identifier of identifiers) calcjobs.push(await loadCalcJob(cli, identifier, 'CALCJOBS'));
  } else {
    const now = Date.now();
    const filters: Record<string, unknown> = {};
    const mtime: Record<string, Date> = {};
    if (pastDays !== undefined) mtime['>'] = new Date(now - pastDays * 86_400_000);
    if (olderThan !== undefined) mtime['<'] = new Date(now - olderThan * 86_400_000);
    if (Object.keys(mtime).length > 0) filters.mtime = mtime;
    if (exitStatus !== undefined) filters['attributes.exit_status'] = exitStatus;
    const rows = await new QueryBuilder({ backend: storage })
      .append(CalcJobNode, { tag: 'calc', filters, project: '*' })
      .orderBy({ calc: ['id'] })
      .all();
    calcjobs = rows.map(([node]) => node).filter((node): node is CalcJobNode => node instanceof CalcJobNode);
  }
  const computerLabels = opts.computers;
  if (computerLabels !== undefined) {
    const wanted = new Set(computerLabels);
    const kept: CalcJobNode[] = [];
    for (const calcjob of calcjobs) {
      const computer = await calcjob.getComputer();
      if (computer !== null && (wanted.has(computer.label) || wanted.has(String(computer.pk))))
        kept.push(calcjob);
    }
    calcjobs = kept;
  }
  // A job still running uses its work directory: cleaning it would break the job.
  const folders: { calcjob: CalcJobNode; remote: RemoteData }[] = [];
  for (const calcjob of calcjobs) {
    if (!calcjob.isTerminated) {
      cli.out.warning(`CalcJob<${String(calcjob.pk)}> is still ${calcjob.processState ?? 'active'}: skipped`);
      continue;
    }
    const remote = await calcjob.getRemoteFolder();
    if (remote instanceof RemoteData && !remote.isCleaned) folders.push({ calcjob, remote });
  }
  if (folders.length === 0) cli.out.critical('no calculation jobs found with the given criteria');
  if (
    opts.force !== true &&
    !(await cli.prompt.confirm(
      `Are you sure you want to clean the work directories of ${String(folders.length)} calculation jobs?`,
    ))
  ) {
    cli.out.critical('Cleaning cancelled.');
  }
  // One transport per computer, opened once for all of its folders.
  const byComputer = new Map<number, { remote: RemoteData }[]>();
  for (const folder of folders) {
    const computerPk = folder.remote.computerId ?? -1;
    byComputer.set(computerPk, [...(byComputer.get(computerPk) ?? []), folder]);
  }
  for (const group of byComputer.values()) {
    const computer = await group[0]!.remote.getComputer();
    if (computer === null) continue;
    const transport = await computer.openTransport();
    try {
      for (const { remote } of group) await remote.clean(transport);
    } finally {
      await transport.close();
    }
    cli.out.success(`${String(group.length)} remote folders cleaned on ${computer.label}`);
  }
}

export default defineCommandGroup({
  name: 'calcjob',
  description:
    'Inspect and manage calculation jobs: their input and output files, results and work directory.',
  build(cli) {
    const group = new Command('calcjob').description(
      'Inspect and manage calculation jobs: their input and output files, results and work directory.',
    );

    group
      .command('gotocomputer')
      .description('Open a shell in the remote work directory of a calculation job.')
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .action((identifier: string) => calcjobGotocomputer(cli, identifier));

    group
      .command('res')
      .description(
        'Print the results dictionary of a calculation job (the Dict its class names as default output node).',
      )
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .option('-k, --keys <keys...>', 'Only show these keys.')
      .addOption(
        new Option('-f, --fmt <format>', 'Format of the output.').choices(DICT_FORMATS).default('json+date'),
      )
      .action((identifier: string, opts: { keys?: string[]; fmt: DictFormat }) =>
        calcjobRes(cli, identifier, opts),
      );

    group
      .command('inputcat')
      .description(
        'Print a file of the input files of a calculation job (by default its `input_filename` option).',
      )
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .argument('[path]', 'Path of the file, relative to the input folder.')
      .action(async (identifier: string, relpath: string | undefined) => {
        const calcjob = await loadCalcJob(cli, identifier);
        const file = relpath ?? calcjob.getOption('input_filename');
        if (typeof file !== 'string') {
          return cli.out.critical(
            `CalcJob<${String(calcjob.pk)}> has no default input file (option input_filename): give a PATH`,
          );
        }
        await catRepositoryFile(cli, calcjob, file, `CalcJob<${String(calcjob.pk)}>`);
      });

    group
      .command('outputcat')
      .description(
        'Print a file of the retrieved files of a calculation job (by default its `output_filename` option).',
      )
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .argument('[path]', 'Path of the file, relative to the retrieved folder.')
      .action(async (identifier: string, relpath: string | undefined) => {
        const calcjob = await loadCalcJob(cli, identifier);
        const retrieved = await retrievedOf(cli, calcjob);
        const file = relpath ?? calcjob.getOption('output_filename');
        if (typeof file !== 'string') {
          return cli.out.critical(
            `CalcJob<${String(calcjob.pk)}> has no default output file (option output_filename): give a PATH`,
          );
        }
        await catRepositoryFile(
          cli,
          retrieved,
          file,
          `the retrieved files of CalcJob<${String(calcjob.pk)}>`,
        );
      });

    group
      .command('inputls')
      .description('List the input files of a calculation job (below PATH).')
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .argument('[path]', 'A folder of the input files.', '.')
      .option('-c, --color', 'Color folders.')
      .action(async (identifier: string, relpath: string, opts: { color?: boolean }) => {
        const calcjob = await loadCalcJob(cli, identifier);
        for (const name of repositoryListing(cli, calcjob, relpath, opts.color === true)) cli.out.echo(name);
      });

    group
      .command('outputls')
      .description('List the retrieved files of a calculation job (below PATH).')
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .argument('[path]', 'A folder of the retrieved files.', '.')
      .option('-c, --color', 'Color folders.')
      .action(async (identifier: string, relpath: string, opts: { color?: boolean }) => {
        const calcjob = await loadCalcJob(cli, identifier);
        const retrieved = await retrievedOf(cli, calcjob);
        for (const name of repositoryListing(cli, retrieved, relpath, opts.color === true))
          cli.out.echo(name);
      });

    group
      .command('remotecat')
      .description('Print a file of the remote work directory of a calculation job.')
      .argument('<calcjob>', 'Pk, uuid (or prefix) or label of the calculation job.')
      .argument('<path>', 'Path of the file, relative to the work directory.')
      .action((identifier: string, relpath: string) => calcjobRemotecat(cli, identifier, relpath));

    group
      .command('cleanworkdir')
      .description(
        'Delete the content of the remote work directories of finished calculation jobs: the ones given, or the ' +
          'ones the filters select (all when none is given). Jobs still running are skipped.',
      )
      .argument('[calcjobs...]', 'Pks, uuids (or prefixes) or labels of the calculation jobs.')
      .option('-p, --past-days <days>', 'Only jobs modified in the last PAST_DAYS days.')
      .option('-o, --older-than <days>', 'Only jobs last modified more than OLDER_THAN days ago.')
      .option('-c, --computers <computers...>', 'Only jobs that ran on these computers (label or pk).')
      .option('-E, --exit-status <status>', 'Only jobs that finished with this exit status.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .action((identifiers: string[], opts: CleanOptions) => calcjobCleanworkdir(cli, identifiers, opts));

    return group;
  },
});
