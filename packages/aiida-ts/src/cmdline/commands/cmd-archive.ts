import { Command, Option } from 'commander';
import path from 'node:path';
import type { ImportArchiveOptions } from '../../tools/archive/import.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

const EXTRAS_MODE_EXISTING = ['keep_existing', 'update_existing', 'mirror', 'none'] as const;
const EXTRAS_MODE_NEW = ['import', 'none'] as const;
const COMMENT_MODE = ['leave', 'newest', 'overwrite'] as const;

/** The toggleable export traversal rules: `--create-backward/--no-create-backward`, … */
const TOGGLES = [
  ['input_calc_forward', false, 'Follow INPUT_CALC links forwards (to the calculations a node is input of).'],
  ['input_work_forward', false, 'Follow INPUT_WORK links forwards (to the workflows a node is input of).'],
  ['create_backward', true, 'Follow CREATE links backwards (to the calculation that created a node).'],
  ['return_backward', false, 'Follow RETURN links backwards (to the workflows that returned a node).'],
  [
    'call_calc_backward',
    true,
    'Follow CALL_CALC links backwards (to the workflow that called a calculation).',
  ],
  ['call_work_backward', true, 'Follow CALL_WORK links backwards (to the workflow that called a workflow).'],
] as const;

const flag = (name: string): string => name.replaceAll('_', '-');
const camel = (name: string): string => name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function integer(value: string, name: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`invalid value for ${name}: \`${value}\` is not an integer`);
  return Number(value);
}

interface CreateOptions {
  all?: boolean;
  codes?: string[];
  computers?: string[];
  groups?: string[];
  nodes?: string[];
  force?: boolean;
  compress: string;
  batchSize: string;
  testRun?: boolean;
  dryRun?: boolean;
  [rule: string]: unknown;
}

interface ImportOptions {
  webpages?: string[];
  importGroup: boolean;
  group?: string;
  extrasModeExisting: (typeof EXTRAS_MODE_EXISTING)[number];
  extrasModeNew: (typeof EXTRAS_MODE_NEW)[number];
  commentMode: (typeof COMMENT_MODE)[number];
  includeAuthinfos: boolean;
  migration: boolean;
  batchSize: string;
  testRun?: boolean;
  dryRun?: boolean;
}

async function resolveEntities(cli: Cli, opts: CreateOptions) {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadNode } = await import('../../orm/loaders.js');
  const { loadGroup } = await import('../../orm/entities/group.js');
  const { loadComputer } = await import('../../orm/entities/computer.js');
  const { loadCode } = await import('../../orm/nodes/data/code/load-code.js');
  const load = async <T>(
    what: string,
    ids: string[] | undefined,
    loader: (id: string) => Promise<T>,
  ): Promise<T[]> => {
    const out: T[] = [];
    for (const id of ids ?? []) {
      try {
        out.push(await loader(id));
      } catch (error) {
        throw new UsageError(`invalid value for ${what}: ${(error as Error).message}`, undefined, {
          cause: error,
        });
      }
    }
    return out;
  };
  const codes = await load('CODES', opts.codes, (id) => loadCode(id, { storage }));
  const nodes = await load('NODES', opts.nodes, (id) => loadNode(id, { storage }));
  return {
    nodes: [...codes, ...nodes],
    groups: await load('GROUPS', opts.groups, (id) => loadGroup(id, { storage })),
    computers: await load('COMPUTERS', opts.computers, (id) => loadComputer(id, { storage })),
  };
}

function addCreate(cli: Cli, group: Command): void {
  const command = group
    .command('create')
    .description(
      "Create an archive from all or part of a profile's data. Besides the nodes given, the archive holds their " +
        'provenance by the export traversal rules (toggled with the options below), and the groups, codes, ' +
        'computers, comments and logs asked for.',
    )
    .argument('<output_file>', 'The archive file to write.')
    .option('-a, --all', 'Include all entries, disregards all other identifier options.')
    .option('-X, --codes <codes...>', 'One or multiple codes identified by their ID, UUID or label.')
    .option(
      '-Y, --computers <computers...>',
      'One or multiple computers identified by their ID, UUID or label.',
    )
    .option('-G, --groups <groups...>', 'One or multiple groups identified by their ID, UUID or label.')
    .option('-N, --nodes <nodes...>', 'One or multiple nodes identified by their ID, UUID or label.')
    .option('-f, --force', 'Overwrite output file if it already exists.');
  for (const [name, defaultValue, help] of TOGGLES) {
    command.option(`--${flag(name)}`, `${help}${defaultValue ? ' [default]' : ''}`);
    command.option(
      `--no-${flag(name)}`,
      `Do not ${help.charAt(0).toLowerCase()}${help.slice(1)}${defaultValue ? '' : ' [default]'}`,
    );
  }
  command
    .option('--include-logs', 'Include logs for node(s) in export. [default]')
    .option('--exclude-logs', 'Exclude logs for node(s) in export.')
    .option(
      '--include-comments',
      'Include comments for node(s) in export (and the users who commented). [default]',
    )
    .option('--exclude-comments', 'Exclude comments for node(s) in export.')
    .option('--include-authinfos', 'Include authentication information for computer(s) in export.')
    .option('--exclude-authinfos', 'Exclude authentication information for computer(s) in export. [default]')
    .option('--compress <level>', 'Level of compression to use (0-9).', '6')
    .option('-b, --batch-size <n>', 'Stream database rows in batches, to reduce memory usage.', '1000')
    .addOption(new Option('--test-run', 'Deprecated, use `--dry-run`.').hideHelp())
    .option('-n, --dry-run', 'Determine entities to export, but do not create the archive.')
    .action(async (outputFile: string, raw: Record<string, unknown>) => {
      const opts = raw as CreateOptions;
      // checked before the profile is opened, and as a usage error (exit 2) like aiida-core's `IntRange(0, 9)`
      const compression = integer(opts.compress, '--compress');
      if (compression > 9)
        throw new UsageError(`invalid value for --compress: ${compression} is not in the range 0<=x<=9`);
      const batchSize = integer(opts.batchSize, '--batch-size');
      // `--exclude-*` wins over `--include-*` when both are given
      const includeLogs = raw['excludeLogs'] !== true;
      const includeComments = raw['excludeComments'] !== true;
      const includeAuthinfos = raw['includeAuthinfos'] === true && raw['excludeAuthinfos'] !== true;
      let dryRun = opts.dryRun === true;
      if (opts.testRun === true) {
        cli.out.warning('the `--test-run` option is deprecated. Use `-n/--dry-run` option instead');
        dryRun = true;
      }
      const traversalRules: Record<string, boolean> = {};
      for (const [name] of TOGGLES) {
        const value = raw[camel(name)];
        if (typeof value === 'boolean') traversalRules[name] = value;
      }
      const storage = await cli.storage();
      const { createArchive } = await import('../../tools/archive/create.js');
      const entities = opts.all === true ? null : await resolveEntities(cli, opts);
      const { archiveListener } = await import('../archive/progress-bars.js');
      const listener = await archiveListener(cli);
      try {
        const result = await createArchive(outputFile, {
          storage,
          entities,
          overwrite: opts.force === true,
          includeLogs,
          includeComments,
          includeAuthinfos,
          compression,
          batchSize,
          dryRun,
          traversalRules,
          ...listener,
        });
        if (dryRun) {
          const rows = Object.entries(result.counts)
            .filter(([, count]) => count > 0)
            .map(([name, count]): [string, number] => [`${name}s`, Number(count)]);
          rows.push(['Repository Files', result.repositoryObjects]);
          // as aiida-core's `tabulate(rows)`: the simple format without headers
          const { tabulate } = await import('../../tools/process-info/tabulate.js');
          cli.out.report(`Archive would be created with:\n${tabulate(rows, { format: 'simple' })}`);
        } else {
          cli.out.success(`wrote the export archive file to ${outputFile}`);
        }
      } catch (error) {
        const { isAiidaError } = await import('../../errors.js');
        if (isAiidaError(error) && error.code.startsWith('ARCHIVE'))
          cli.out.critical(`failed to write the archive file: ${error.message}`);
        throw error;
      } finally {
        listener.stop();
      }
    });
}

function addImport(cli: Cli, group: Command): void {
  group
    .command('import')
    .description('Import archived data to a profile. An archive is a file path or an http(s) URL.')
    .argument('[archives...]', 'Archive files or URLs.')
    .option(
      '-w, --webpages <urls...>',
      'Discover all URL targets pointing to files with the .aiida extension for these HTTP addresses; they are ' +
        'downloaded and imported too.',
    )
    .option(
      '--import-group',
      'Add all imported nodes to the specified group, or an automatically created one. [default]',
      true,
    )
    .option('--no-import-group', 'Do not add the imported nodes to a group.')
    .option('-G, --group <group>', 'Group to which all imported nodes are added (created when missing).')
    .addOption(
      new Option(
        '-e, --extras-mode-existing <mode>',
        'Extras of nodes already in the profile: none (do not import), keep_existing (import new keys, keep ' +
          "existing values), update_existing (import and overwrite), mirror (replace with the archive's).",
      )
        .choices(EXTRAS_MODE_EXISTING)
        .default('none'),
    )
    .addOption(
      new Option('--extras-mode-new <mode>', 'Extras of new nodes: import or none.')
        .choices(EXTRAS_MODE_NEW)
        .default('import'),
    )
    .addOption(
      new Option(
        '--comment-mode <mode>',
        'Comments with identical uuids: leave the existing ones, keep the newest (by mtime), or overwrite them.',
      )
        .choices(COMMENT_MODE)
        .default('leave'),
    )
    .option('--include-authinfos', 'Include authentication information for computer(s) in import.', false)
    .option('--exclude-authinfos', 'Exclude authentication information. [default]')
    .option('--migration', 'Migrate archives of older versions first. [default]', true)
    .option('--no-migration', 'Refuse archives that are not at the latest version.')
    .option('-b, --batch-size <n>', 'Stream database rows in batches, to reduce memory usage.', '1000')
    .addOption(new Option('--test-run', 'Deprecated, use `--dry-run`.').hideHelp())
    .option('-n, --dry-run', 'Determine entities to import, but do not actually import them.')
    .action(async (archives: string[], opts: ImportOptions & { excludeAuthinfos?: boolean }) => {
      let dryRun = opts.dryRun === true;
      if (opts.testRun === true) {
        cli.out.warning('the `--test-run` option is deprecated. Use `-n/--dry-run` option instead');
        dryRun = true;
      }
      const { isArchiveUrl, discoverArchiveLinks } = await import('../../tools/archive/download.js');
      const all: { archive: string; web: boolean }[] = archives.map((archive) => ({
        archive,
        web: isArchiveUrl(archive),
      }));
      for (const webpage of opts.webpages ?? []) {
        cli.out.report(`retrieving archive URLS from ${webpage}`);
        let urls: string[];
        try {
          urls = await discoverArchiveLinks(webpage);
        } catch (error) {
          cli.out.critical(
            `an exception occurred while trying to discover archives at URL ${webpage}:\n${(error as Error).message}`,
          );
        }
        cli.out.success(`${urls.length} archive URLs discovered and added`);
        all.push(...urls.map((archive) => ({ archive, web: true })));
      }
      if (all.length === 0) cli.out.critical('no valid exported archives were found');
      for (const { archive, web } of all) {
        if (!web) {
          const { stat } = await import('node:fs/promises');
          if ((await stat(archive).catch(() => undefined)) === undefined)
            throw new UsageError(`invalid value for ARCHIVES: path '${archive}' does not exist`);
        }
      }
      const storage = await cli.storage();
      const orm = await import('../../orm.js');
      let target: InstanceType<typeof orm.Group> | undefined;
      if (opts.group !== undefined) {
        try {
          target = await orm.loadGroup(opts.group, { storage });
        } catch {
          target = (await orm.Group.getOrCreate({ label: opts.group }, { storage })).group;
        }
      }
      const { EXTRAS_MODE_EXISTING: modes } = await import('../../tools/archive/import.js');
      for (const entry of all) {
        await importOne(
          cli,
          entry.archive,
          entry.web,
          {
            importNewExtras: opts.extrasModeNew === 'import',
            mergeExtras: [...modes[opts.extrasModeExisting]],
            mergeComments: opts.commentMode,
            includeAuthinfos: opts.includeAuthinfos === true && opts.excludeAuthinfos !== true,
            batchSize: integer(opts.batchSize, '--batch-size'),
            createGroup: opts.importGroup,
            ...(target === undefined ? {} : { group: target }),
            dryRun,
            storage,
          },
          opts.migration,
        );
      }
    });
}

async function importOne(
  cli: Cli,
  archive: string,
  web: boolean,
  options: ImportArchiveOptions,
  tryMigration: boolean,
): Promise<void> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { importArchive } = await import('../../tools/archive/import.js');
  const { migrateArchive } = await import('../../tools/archive/migrate.js');
  const { downloadArchive } = await import('../../tools/archive/download.js');
  const { IncompatibleStorageSchemaError } = await import('../../errors.js');
  const { archiveListener } = await import('../archive/progress-bars.js');
  const listener = await archiveListener(cli);
  const sandbox = await mkdtemp(path.join(tmpdir(), 'aiida-import-'));
  const dryRunSuccess = `import dry-run of archive ${archive} completed. Profile storage unmodified.`;
  const fail = (message: string, error: unknown): never => {
    listener.stop();
    cli.out.critical(`${message}: ${(error as Error).name}: ${(error as Error).message}`);
  };
  try {
    let file = archive;
    if (web) {
      cli.out.report(`downloading archive: ${archive}`);
      file = path.join(sandbox, 'downloaded_archive.zip');
      try {
        await downloadArchive(archive, file);
      } catch (error) {
        fail(`downloading archive ${archive} failed`, error);
      }
      cli.out.success('archive downloaded, proceeding with import');
    }
    cli.out.report(`starting import: ${archive}`);
    try {
      await importArchive(file, { ...options, ...listener });
    } catch (error) {
      if (!(error instanceof IncompatibleStorageSchemaError))
        fail(`an exception occurred while trying to import the archive ${archive}`, error);
      if (!tryMigration) fail(`an exception occurred while trying to import the archive ${archive}`, error);
      cli.out.report(`incompatible version detected for ${archive}, trying migration`);
      const migrated = path.join(sandbox, 'migrated_archive.aiida');
      try {
        await migrateArchive(file, migrated, { compression: 0, ...listener });
      } catch (inner) {
        fail(`an exception occurred while migrating the archive ${archive}`, inner);
      }
      cli.out.report('proceeding with import of migrated archive');
      try {
        await importArchive(migrated, { ...options, ...listener });
      } catch (inner) {
        fail(`an exception occurred while trying to import the migrated archive ${archive}`, inner);
      }
    }
    listener.stop();
    if (options.dryRun === true) cli.out.success(dryRunSuccess);
    else cli.out.success(`imported archive ${archive}`);
  } finally {
    listener.stop();
    await rm(sandbox, { recursive: true, force: true });
  }
}

export default defineCommandGroup({
  name: 'archive',
  description: 'Create, inspect and import AiiDA archives.',
  build(cli: Cli) {
    const group = new Command('archive');

    group
      .command('version')
      .description("Print the current version of an archive's schema.")
      .argument('<path>', 'The archive file.')
      .action(async (file: string) => {
        const { readArchiveVersion } = await import('../../tools/archive/archive-reader.js');
        const { ARCHIVE_VERSION_HEAD } = await import('../../tools/archive/format.js');
        let version: string;
        try {
          version = await readArchiveVersion(file);
        } catch (error) {
          cli.out.critical(`archive file version unreadable: ${(error as Error).message}`);
        }
        cli.out.echo(`Latest archive schema version: '${ARCHIVE_VERSION_HEAD}'`);
        cli.out.echo(`Archive schema version of '${path.basename(file)}': '${version}'`);
      });

    group
      .command('info')
      .description('Summarise the contents of an archive.')
      .argument('<path>', 'The archive file.')
      .option('--detailed', 'Provides more detailed information.')
      .option('--json', 'Print the summary as JSON.')
      .action(async (file: string, opts: { detailed?: boolean; json?: boolean }) => {
        cli.out.json = opts.json === true;
        const { getArchiveInfo } = await import('../../tools/archive/info.js');
        const errors = await import('../../errors.js');
        let info: Awaited<ReturnType<typeof getArchiveInfo>>;
        try {
          info = await getArchiveInfo(file, { detailed: opts.detailed === true });
        } catch (error) {
          if (error instanceof errors.IncompatibleStorageSchemaError)
            cli.out.critical(`archive version incompatible: ${error.message}`);
          cli.out.critical(`archive file unreadable: ${(error as Error).message}`);
        }
        if (opts.json === true) {
          cli.out.printJson(info);
        } else {
          // as PyYAML prints it for aiida-core: YAML 1.1 (so timestamp-like strings are quoted), flush sequences
          const { yamlText } = await import('../utils/yaml-text.js');
          cli.out.writeOut(
            yamlText(info, { version: '1.1', indentSeq: false, sortMapEntries: false, singleQuote: true }) +
              '\n',
          );
        }
      });

    group
      .command('migrate')
      .description('Migrate an archive to a more recent schema version.')
      .argument('<input_file>', 'The archive to migrate.')
      .argument('[output_file]', 'Where to write the migrated archive.')
      .option('-f, --force', 'overwrite output file if it already exists')
      .option('-i, --in-place', 'Migrate the archive in place, overwriting the original file.')
      .option('--version <version>', 'Archive format version to migrate to (defaults to latest version).')
      .action(
        async (
          input: string,
          output: string | undefined,
          opts: { force?: boolean; inPlace?: boolean; version?: string },
        ) => {
          let target = output;
          let force = opts.force === true;
          if (opts.inPlace === true) {
            if (output !== undefined) cli.out.critical('output file specified together with --in-place flag');
            target = input;
            force = true;
          } else if (target === undefined) {
            cli.out.critical(
              'no output file specified. Please add --in-place flag if you would like to migrate in place.',
            );
          }
          const { migrateArchive } = await import('../../tools/archive/migrate.js');
          const { ARCHIVE_VERSION_HEAD } = await import('../../tools/archive/format.js');
          const version = opts.version ?? ARCHIVE_VERSION_HEAD;
          const { archiveListener } = await import('../archive/progress-bars.js');
          const listener = await archiveListener(cli);
          try {
            await migrateArchive(input, target, { version, force, compression: 6, ...listener });
          } catch (error) {
            listener.stop();
            cli.out.critical(
              `failed to migrate the archive file (use \`--verbosity DEBUG\` to see traceback): ${(error as Error).name}:${(error as Error).message}`,
            );
          } finally {
            listener.stop();
          }
          cli.out.success(`migrated the archive to version '${version}'`);
        },
      );

    addCreate(cli, group);
    addImport(cli, group);
    return group;
  },
});
