import { Option, type Command } from 'commander';
import { UsageError } from '../exit-codes.js';

/** A `--x/--no-x` pair with aiida-core's default, shown in the help. */
function toggle(command: Command, name: string, help: string, defaultValue: boolean): void {
  command.addOption(
    new Option(`--${name}`, `${help} (default: ${defaultValue ? 'on' : 'off'}; --no-${name} to turn off)`),
  );
  command.addOption(new Option(`--no-${name}`).hideHelp());
}

/** aiida-core's `--include-inputs/--exclude-inputs`-style pair. */
function includeExclude(command: Command, what: string, help: string, defaultValue: boolean): void {
  command.addOption(
    new Option(
      `--include-${what}`,
      `${help} (default: ${defaultValue ? 'include' : 'exclude'}; or --exclude-${what})`,
    ),
  );
  command.addOption(new Option(`--exclude-${what}`).hideHelp());
}

/** The options every `dump` command shares (aiida-core's PATH … DUMP_UNSEALED). */
export function addBaseDumpOptions(command: Command): Command {
  command
    .option('--path <path>', 'Base path for dump operations that write to disk.')
    .option('-n, --dry-run', 'Perform a dry run.')
    .option('-o, --overwrite', 'Overwrite file/directory when writing to disk.');
  includeExclude(command, 'inputs', 'Include linked input nodes of `CalculationNode`(s).', true);
  includeExclude(command, 'outputs', 'Include linked output nodes of `CalculationNode`(s).', false);
  includeExclude(
    command,
    'attributes',
    'Include attributes in the `aiida_node_metadata.yaml` written for every `ProcessNode`.',
    true,
  );
  includeExclude(
    command,
    'extras',
    'Include extras in the `aiida_node_metadata.yaml` written for every `ProcessNode`.',
    false,
  );
  command.option('-f, --flat', 'Dump files in a flat directory for every step of a workflow.');
  toggle(command, 'dump-unsealed', 'Also allow the dumping of unsealed process nodes.', false);
  return command;
}

/** The options of group and profile dumps on top of {@link addBaseDumpOptions}. */
export function addCollectionDumpOptions(command: Command, options: { profile: boolean }): Command {
  toggle(
    command,
    'filter-by-last-dump-time',
    'Only select nodes whose `mtime` is after the last dump time.',
    true,
  );
  command
    .option(
      '-p, --past-days <past_days>',
      'Only include entries created in the last PAST_DAYS number of days.',
    )
    .option('--start-date <date>', 'Start date for node mtime range selection for node collection dumping.')
    .option('--end-date <date>', 'End date for node mtime range selection for node collection dumping.');
  toggle(
    command,
    'only-top-level-calcs',
    'Dump calculations in their own dedicated directories, not just as part of the dumped workflow.',
    true,
  );
  toggle(
    command,
    'only-top-level-workflows',
    'If a top-level workflow calls sub-workflows, create a designated directory only for the top-level workflow.',
    true,
  );
  toggle(
    command,
    'delete-missing',
    'If a previously dumped group or node is deleted from the DB, delete the corresponding dump directory.',
    true,
  );
  toggle(
    command,
    'symlink-calcs',
    'Symlink workflow sub-calculations to their own dedicated directories.',
    false,
  );
  if (!options.profile) return command;
  toggle(
    command,
    'organize-by-groups',
    'If the collection of nodes to be dumped is organized in groups, reproduce its hierarchy.',
    true,
  );
  toggle(command, 'also-ungrouped', 'Dump also data of nodes that are not part of any group.', false);
  toggle(
    command,
    'relabel-groups',
    'Update directories and log entries for the dumping if groups have been relabeled since the last dump.',
    true,
  );
  return command;
}

/** The parsed base options, as commander gives them. */
export interface BaseDumpFlags {
  path?: string;
  dryRun?: boolean;
  overwrite?: boolean;
  includeInputs?: boolean;
  excludeInputs?: boolean;
  includeOutputs?: boolean;
  excludeOutputs?: boolean;
  includeAttributes?: boolean;
  excludeAttributes?: boolean;
  includeExtras?: boolean;
  excludeExtras?: boolean;
  flat?: boolean;
  dumpUnsealed?: boolean;
}

/** The last of `--include-x`/`--exclude-x` given wins, as with click's flag pairs; else the default. */
function pick(include: boolean | undefined, exclude: boolean | undefined, defaultValue: boolean): boolean {
  if (exclude === true && include !== true) return false;
  if (include === true && exclude !== true) return true;
  return defaultValue;
}

/** The dump options the flags select. */
export function baseDumpOptions(flags: BaseDumpFlags) {
  return {
    dryRun: flags.dryRun === true,
    overwrite: flags.overwrite === true,
    includeInputs: pick(flags.includeInputs, flags.excludeInputs, true),
    includeOutputs: pick(flags.includeOutputs, flags.excludeOutputs, false),
    includeAttributes: pick(flags.includeAttributes, flags.excludeAttributes, true),
    includeExtras: pick(flags.includeExtras, flags.excludeExtras, false),
    flat: flags.flat === true,
    dumpUnsealed: flags.dumpUnsealed === true,
  };
}

/** The warning every dump command prints first, as aiida-core (the feature is new there too). */
export const NEW_FEATURE_WARNING =
  'This is a new feature which is still in its testing phase.\n' +
  'If you encounter unexpected behavior or bugs, please report them via:\n' +
  '   Discourse: https://aiida.discourse.group\n' +
  '   GitHub: https://github.com/aiidateam/aiida-core/issues';

/** The parsed collection options, as commander gives them. */
export interface CollectionDumpFlags extends BaseDumpFlags {
  filterByLastDumpTime?: boolean;
  pastDays?: string;
  startDate?: string;
  endDate?: string;
  onlyTopLevelCalcs?: boolean;
  onlyTopLevelWorkflows?: boolean;
  deleteMissing?: boolean;
  symlinkCalcs?: boolean;
  organizeByGroups?: boolean;
  alsoUngrouped?: boolean;
  relabelGroups?: boolean;
}

function date(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()))
    throw new UsageError(
      `invalid value for ${name}: \`${value}\` is not a date (e.g. 2024-05-01 or 2024-05-01T10:00)`,
    );
  return parsed;
}

/** The collection dump options the flags select; bad numbers and dates are usage errors naming the option. */
export function collectionDumpOptions(flags: CollectionDumpFlags) {
  let pastDays: number | undefined;
  if (flags.pastDays !== undefined) {
    if (!/^\d+$/.test(flags.pastDays))
      throw new UsageError(`invalid value for -p/--past-days: '${flags.pastDays}' is not a valid integer.`);
    pastDays = Number(flags.pastDays);
  }
  const startDate = date('--start-date', flags.startDate);
  const endDate = date('--end-date', flags.endDate);
  if (pastDays !== undefined && (startDate !== undefined || endDate !== undefined))
    throw new UsageError('Cannot use `past_days` filter together with `start_date` or `end_date`.');
  return {
    ...baseDumpOptions(flags),
    filterByLastDumpTime: flags.filterByLastDumpTime !== false,
    ...(pastDays === undefined ? {} : { pastDays }),
    ...(startDate === undefined ? {} : { startDate }),
    ...(endDate === undefined ? {} : { endDate }),
    onlyTopLevelCalcs: flags.onlyTopLevelCalcs !== false,
    onlyTopLevelWorkflows: flags.onlyTopLevelWorkflows !== false,
    deleteMissing: flags.deleteMissing !== false,
    symlinkCalcs: flags.symlinkCalcs === true,
    organizeByGroups: flags.organizeByGroups !== false,
    alsoUngrouped: flags.alsoUngrouped === true,
  };
}
