import { ValidationError } from '../../errors.js';
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import type * as Orm from '../../orm.js';
import type { AbstractCode, AbstractCodeInit } from '../../orm/nodes/data/code/abstract.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import { UsageError } from '../exit-codes.js';
import { addParamOptions, readConfigSource, resolveParams, type ParamSpec } from '../utils/params.js';

/** The code types `verdi code create` offers, by entry point name. */
const CODE_TYPES = {
  'core.code.installed': 'A code installed on one computer: its executable lives there.',
  'core.code.portable': 'A code stored with its files, uploaded to the working directory of each job.',
} as const;
type CodeType = keyof typeof CODE_TYPES;

const labelCheck = (value: unknown): unknown => {
  if (String(value).includes('@')) throw new ValidationError('the label may not contain `@`');
  if (String(value).trim() === '') throw new ValidationError('the label may not be empty');
  return value;
};

/** The parameters of `verdi code create <type>`, with aiida's option and `--config` key names. */
function codeParams(type: CodeType): ParamSpec[] {
  const where: ParamSpec[] =
    type === 'core.code.installed'
      ? [
          {
            key: 'computer',
            short: '-Y',
            kind: 'string',
            description: 'Label, pk or uuid of the computer the executable is installed on.',
            prompt: 'Computer',
            required: true,
          },
          {
            key: 'filepath_executable',
            short: '-X',
            kind: 'string',
            description: 'Path of the executable on the computer.',
            prompt: 'Absolute filepath executable',
            required: true,
          },
        ]
      : [
          {
            key: 'filepath_executable',
            short: '-X',
            kind: 'string',
            description: 'Path of the executable relative to the code directory.',
            prompt: 'Relative filepath executable',
            required: true,
            validate: (value) => {
              if (String(value).startsWith('/'))
                throw new ValidationError('the executable must be a relative path');
              return value;
            },
          },
          {
            key: 'filepath_files',
            short: '-F',
            kind: 'string',
            description: 'Local directory whose files are the code.',
            prompt: 'Code directory',
            required: true,
          },
        ];
  return [
    ...where,
    {
      key: 'label',
      short: '-L',
      kind: 'string',
      description: 'A label to identify the code by (unique on its computer).',
      prompt: 'Label',
      required: true,
      validate: labelCheck,
    },
    {
      key: 'description',
      short: '-D',
      kind: 'string',
      description: 'A description: version, compilation environment, …',
      prompt: 'Description',
      default: () => '',
    },
    {
      key: 'default_calc_job_plugin',
      short: '-P',
      kind: 'string',
      description: 'Entry point name of the default CalcJob plugin (e.g. core.arithmetic.add).',
      prompt: 'Default `CalcJob` plugin',
    },
    {
      key: 'use_double_quotes',
      kind: 'boolean',
      negatable: true,
      description: 'Escape the executable and its arguments with double quotes instead of single quotes.',
      prompt: 'Escape using double quotes',
      default: () => false,
    },
    {
      key: 'with_mpi',
      kind: 'boolean',
      negatable: true,
      description: 'Run the executable as an MPI program (unset: as the calculation decides).',
    },
    {
      key: 'wrap_cmdline_params',
      kind: 'boolean',
      negatable: true,
      description: 'Wrap all command line parameters into one quoted argument (for container engines).',
      prompt: 'Wrap command line parameters',
      default: () => false,
    },
    {
      key: 'prepend_text',
      kind: 'text',
      description: 'Bash commands put before the run line of the code in submission scripts.',
      prompt: 'Prepend script',
      default: () => '',
    },
    {
      key: 'append_text',
      kind: 'text',
      description: 'Bash commands put after the run line of the code in submission scripts.',
      prompt: 'Append script',
      default: () => '',
    },
  ];
}

async function orm(): Promise<typeof Orm> {
  return import('../../orm.js');
}

const text = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : fallback);

/** The stored code with this full label, label, pk or uuid. */
async function codeOf(cli: Cli, identifier: string): Promise<AbstractCode> {
  const storage = await cli.storage();
  const { loadCode } = await orm();
  return resolveArgument('CODE', () => loadCode(identifier, { storage }));
}

/** Refuses a full label that another code already has (aiida's `validate_label_uniqueness`). */
async function assertUniqueFullLabel(cli: Cli, fullLabel: string, except?: number): Promise<void> {
  const storage = await cli.storage();
  const { listCodes } = await orm();
  const clash = (await listCodes({ storage, includeHidden: true, user: null })).find(
    (code) => code.fullLabel === fullLabel && code.pk !== except,
  );
  if (clash !== undefined)
    cli.out.critical(`A code called \`${fullLabel}\` already exists (pk ${String(clash.pk)}).`);
}

/** The settings common to every code type, from resolved parameters. */
function commonInit(values: Record<string, unknown>): Required<AbstractCodeInit> {
  return {
    defaultCalcJobPlugin:
      typeof values.default_calc_job_plugin === 'string' && values.default_calc_job_plugin !== ''
        ? values.default_calc_job_plugin
        : null,
    useDoubleQuotes: values.use_double_quotes === true,
    withMpi: typeof values.with_mpi === 'boolean' ? values.with_mpi : null,
    wrapCmdlineParams: values.wrap_cmdline_params === true,
    prependText: typeof values.prepend_text === 'string' ? values.prepend_text : '',
    appendText: typeof values.append_text === 'string' ? values.append_text : '',
    isHidden: false,
  };
}

async function createCode(cli: Cli, type: CodeType, values: Record<string, unknown>): Promise<AbstractCode> {
  const storage = await cli.storage();
  const { InstalledCode, PortableCode, loadComputer } = await orm();
  const { ValidationError, NotExistentError } = await import('../../errors.js');
  const options = { storage, label: text(values.label), description: text(values.description) };
  try {
    if (type === 'core.code.installed') {
      let computer;
      try {
        computer = await loadComputer(String(values.computer), { storage });
      } catch (error) {
        if (error instanceof NotExistentError)
          cli.out.critical(`Failed to create the code: ${error.message}`);
        throw error;
      }
      const init = {
        ...commonInit(values),
        computer,
        filepathExecutable: String(values.filepath_executable),
      };
      return new InstalledCode(init, options);
    }
    const init = {
      ...commonInit(values),
      filepathExecutable: String(values.filepath_executable),
      filepathFiles: path.resolve(String(values.filepath_files)),
    };
    return await PortableCode.fromFiles(init, options);
  } catch (error) {
    if (error instanceof ValidationError) cli.out.critical(`Failed to create the code: ${error.message}`);
    throw error;
  }
}

async function storeCode(cli: Cli, code: AbstractCode): Promise<void> {
  await assertUniqueFullLabel(cli, code.fullLabel);
  const { ValidationError } = await import('../../errors.js');
  try {
    await code.store();
  } catch (error) {
    if (error instanceof ValidationError) cli.out.critical(`Failed to store the code: ${error.message}`);
    throw error;
  }
}

function addCreate(group: Command, cli: Cli): void {
  const create = group
    .command('create')
    .description('Create a new code of a type (an entry point in aiida.data starting with core.code.).');
  for (const [type, description] of Object.entries(CODE_TYPES) as [CodeType, string][]) {
    const command = create
      .command(type)
      .description(`${description} Missing options are asked for on a terminal.`);
    addParamOptions(command, codeParams(type));
    command
      .option('-n, --non-interactive', 'Never prompt: missing options are an error.')
      .option('--config <file-or-url>', 'Read option values from a YAML file or an http(s) URL serving one.')
      .action(async (opts: Record<string, unknown>) => {
        await cli.storage();
        const source = typeof opts.config === 'string' ? opts.config : undefined;
        const values = await resolveParams(codeParams(type), {
          given: opts,
          ...(source === undefined ? {} : { fromFile: await readConfigSource(source), fileSource: source }),
          prompter: cli.prompt,
          interactive: cli.prompt.interactive && opts.nonInteractive !== true,
          commandName: `verdi code create ${type}`,
        });
        const code = await createCode(cli, type, values);
        await storeCode(cli, code);
        cli.out.success(`Created ${code.constructor.name}<${String(code.pk)}>`);
      });
  }
}

/** How `verdi code list` and `--json` describe one code. */
function describeCode(
  code: AbstractCode,
  userEmail: string,
  computerLabel: string | null,
): Record<string, unknown> {
  return {
    pk: code.pk,
    uuid: code.uuid,
    label: code.label,
    full_label: code.fullLabel,
    entry_point: code.entryPoint?.split(':')[1] ?? null,
    computer: computerLabel,
    user: userEmail,
    default_calc_job_plugin: code.defaultCalcJobPlugin,
    hidden: code.isHidden,
  };
}

const LIST_PROJECTIONS = [
  'full_label',
  'entry_point',
  'pk',
  'uuid',
  'label',
  'default_calc_job_plugin',
  'computer',
  'user',
];

function addList(group: Command, cli: Cli): void {
  group
    .command('list')
    .description("List the codes of the default user (hidden ones with -a, every user's with -A).")
    .option('-Y, --computer <computer>', 'Only codes on this computer.')
    .addOption(new Option('-c <computer>', 'Same as --computer.').hideHelp())
    .option('-d, --default-calc-job-plugin <entry-point>', 'Only codes with this default CalcJob plugin.')
    .option('-a, --all', 'Include hidden codes.')
    .option('-A, --all-users', 'Include the codes of every user.')
    .addOption(
      new Option('-P, --project <fields...>', 'Columns to show.')
        .choices(LIST_PROJECTIONS)
        .default(['full_label', 'pk', 'entry_point']),
    )
    .option('-r, --raw', 'Print only the values, without header.')
    .option('--json', 'Print the codes as JSON.')
    .action(
      async (opts: {
        computer?: string;
        c?: string;
        defaultCalcJobPlugin?: string;
        all?: boolean;
        allUsers?: boolean;
        project: string[];
        raw?: boolean;
        json?: boolean;
      }) => {
        cli.out.json = opts.json === true;
        const storage = await cli.storage();
        const { listCodes, loadComputer, User } = await orm();
        const computerId = opts.computer ?? opts.c;
        const computer = computerId === undefined ? undefined : await loadComputer(computerId, { storage });
        const codes = await listCodes({
          storage,
          includeHidden: opts.all === true,
          user: opts.allUsers === true ? null : await User.getDefault({ storage }),
          ...(computer === undefined ? {} : { computer }),
          ...(opts.defaultCalcJobPlugin === undefined
            ? {}
            : { defaultCalcJobPlugin: opts.defaultCalcJobPlugin }),
        });
        const users = new Map((await User.all({ storage })).map((user) => [user.pk, user.email]));
        const rows = codes
          .map((code) =>
            describeCode(
              code,
              users.get(code.userId) ?? '',
              code.computerId === null ? null : (code.fullLabel.split('@')[1] ?? null),
            ),
          )
          .sort((a, b) => String(a.full_label).localeCompare(String(b.full_label)));
        if (opts.json === true) {
          cli.out.printJson(rows);
          return;
        }
        if (rows.length === 0) {
          cli.out.report('No codes found matching the specified criteria.');
          return;
        }
        const table = rows.map((row) => opts.project.map((key) => row[key] ?? ''));
        if (opts.raw === true) {
          for (const row of table) cli.out.echo(row.map(String).join(' '));
          return;
        }
        const headers = opts.project.map((key) => {
          const text = key.replaceAll('_', ' ');
          return text.charAt(0).toUpperCase() + text.slice(1);
        });
        cli.out.table(headers, table);
        cli.out.echo('\nUse `verdi code show IDENTIFIER` to see details for a code');
      },
    );
}

/** The rows of `verdi code show`, titled as aiida titles them. */
async function showRows(code: AbstractCode): Promise<[string, unknown][]> {
  const { InstalledCode } = await orm();
  const rows: [string, unknown][] = [
    ['PK', code.pk],
    ['UUID', code.uuid],
    ['Type', code.entryPoint?.split(':')[1] ?? null],
    ['Label', code.label],
    ['Description', code.description],
  ];
  const computer = await code.getComputer();
  if (computer !== null)
    rows.push(['Computer', `${computer.label} (${computer.hostname}), pk: ${String(computer.pk)}`]);
  rows.push(
    ['Default `CalcJob` plugin', code.defaultCalcJobPlugin],
    ['Escape using double quotes', code.useDoubleQuotes],
    ['Run with MPI', code.withMpi],
    ['Wrap command line parameters', code.wrapCmdlineParams],
    ['Prepend script', code.prependText],
    ['Append script', code.appendText],
    ['Filepath executable', code.attributes.get('filepath_executable', null)],
  );
  if (!(code instanceof InstalledCode)) rows.push(['Files', await code.repository.listFilePaths()]);
  rows.push(['Hidden', code.isHidden]);
  return rows;
}

function addShow(group: Command, cli: Cli): void {
  group
    .command('show')
    .description('Show the details of a code.')
    .argument('<code>', 'Full label (label@computer), label, pk or uuid of the code.')
    .option('--json', 'Print the details as JSON.')
    .action(async (identifier: string, opts: { json?: boolean }) => {
      cli.out.json = opts.json === true;
      const code = await codeOf(cli, identifier);
      if (opts.json === true) {
        const computer = await code.getComputer();
        cli.out.printJson({
          pk: code.pk,
          uuid: code.uuid,
          type: code.entryPoint?.split(':')[1] ?? null,
          full_label: code.fullLabel,
          computer: computer?.label ?? null,
          hidden: code.isHidden,
          ...code.toCliConfig(),
        });
        return;
      }
      const rows = await showRows(code);
      const width = Math.max(...rows.map(([title]) => title.length)) + 2;
      for (const [title, value] of rows) {
        const shown =
          value === null || value === undefined
            ? ''
            : Array.isArray(value)
              ? value.join(', ')
              : typeof value === 'string'
                ? value
                : JSON.stringify(value);
        cli.out.echo(`${title.padEnd(width)}${shown}`.trimEnd());
      }
    });
}

function addDuplicate(group: Command, cli: Cli): void {
  const duplicate = group
    .command('duplicate')
    .description('Create a copy of a code (files included), changing the settings given as options.')
    .argument('<code>', 'Full label, label, pk or uuid of the code to copy.');
  // The options of both code types, all optional: unchanged settings are copied.
  const specs = new Map<string, ParamSpec>();
  for (const type of Object.keys(CODE_TYPES) as CodeType[])
    for (const spec of codeParams(type)) if (spec.key !== 'filepath_files') specs.set(spec.key, spec);
  addParamOptions(duplicate, [...specs.values()]);
  duplicate
    .option('--hide-original', 'Hide the code being copied.')
    .option('-n, --non-interactive', 'Never prompt: unchanged settings are copied.')
    .action(async (identifier: string, opts: Record<string, unknown>) => {
      const storage = await cli.storage();
      const original = await codeOf(cli, identifier);
      const { InstalledCode, PortableCode, loadComputer } = await orm();
      const installed = original instanceof InstalledCode;
      const current: Record<string, unknown> = {
        ...original.toCliConfig(),
        ...(installed ? { computer: (await original.getComputer())?.label } : {}),
      };
      const type: CodeType = installed ? 'core.code.installed' : 'core.code.portable';
      if (!installed && opts.computer !== undefined)
        throw new UsageError('a portable code has no computer: --computer does not apply');
      const params = codeParams(type)
        .filter((spec) => spec.key !== 'filepath_files')
        .map((spec) => (spec.key in current ? { ...spec, default: () => current[spec.key] } : spec));
      const values = await resolveParams(params, {
        given: opts,
        prompter: cli.prompt,
        interactive: cli.prompt.interactive && opts.nonInteractive !== true,
        commandName: 'verdi code duplicate',
      });
      const copy = await original.clone({ storage });
      copy.label = String(values.label);
      copy.description = text(values.description);
      const init = commonInit(values);
      copy.defaultCalcJobPlugin = init.defaultCalcJobPlugin;
      copy.useDoubleQuotes = init.useDoubleQuotes;
      copy.withMpi = typeof values.with_mpi === 'boolean' ? values.with_mpi : original.withMpi;
      copy.wrapCmdlineParams = init.wrapCmdlineParams;
      copy.prependText = init.prependText;
      copy.appendText = init.appendText;
      if (copy instanceof InstalledCode) {
        copy.filepathExecutable = String(values.filepath_executable);
        copy.computer = await loadComputer(String(values.computer), { storage });
      } else if (copy instanceof PortableCode) {
        copy.filepathExecutable = String(values.filepath_executable);
      }
      await copy.setHidden(false);
      await storeCode(cli, copy);
      if (opts.hideOriginal === true) await original.hide();
      cli.out.success(`Code<${String(copy.pk)}> ${copy.fullLabel} created`);
    });
}

function addHideReveal(group: Command, cli: Cli): void {
  for (const hide of [true, false]) {
    group
      .command(hide ? 'hide' : 'reveal')
      .description(
        hide ? 'Hide codes from `verdi code list`.' : 'Show hidden codes in `verdi code list` again.',
      )
      .argument('<codes...>', 'Full labels, labels, pks or uuids of the codes.')
      .action(async (identifiers: string[]) => {
        for (const identifier of identifiers) {
          const code = await codeOf(cli, identifier);
          await code.setHidden(hide);
          cli.out.success(`Code<${String(code.pk)}> ${code.fullLabel} ${hide ? 'hidden' : 'revealed'}`);
        }
      });
  }
}

function addDelete(group: Command, cli: Cli): void {
  group
    .command('delete')
    .description(
      'Delete codes. Codes are part of the provenance: the calculations that used a code are deleted with it ' +
        '(and their outputs); they are listed and confirmation is asked first, unless --force.',
    )
    .argument('<codes...>', 'Full labels, labels, pks or uuids of the codes.')
    .option('--dry-run', 'Only show what would be deleted.')
    .option('-f, --force', 'Do not ask for confirmation.')
    .action(async (identifiers: string[], opts: { dryRun?: boolean; force?: boolean }) => {
      const storage = await cli.storage();
      const codes = [];
      for (const identifier of identifiers) codes.push(await codeOf(cli, identifier));
      const { deleteNodes, loadNodesByPk } = await orm();
      const codePks = codes.map((code) => code.pk!);
      const planned = await deleteNodes(codePks, { storage, dryRun: true });
      const others = planned.pks.filter((pk) => !codePks.includes(pk));
      if (others.length > 0) {
        const nodes = await loadNodesByPk(others, { storage });
        const calculations = nodes.filter((node) => node.nodeType.startsWith('process.calculation.'));
        cli.out.warning(
          `the code(s) were used by ${calculations.length} calculation(s): deleting the code(s) deletes ` +
            `${others.length} more node(s), the calculations and what they created:`,
        );
        cli.out.table(
          ['PK', 'UUID', 'Type', 'Label'],
          nodes.map((node) => [node.pk, node.uuid, node.constructor.name, node.label]),
          { alignRight: [0] },
        );
      }
      if (opts.dryRun === true) {
        cli.out.report(`Dry run: ${planned.pks.length} node(s) would be deleted; nothing was deleted.`);
        return;
      }
      if (opts.force !== true) {
        cli.out.warning(`YOU ARE ABOUT TO DELETE ${planned.pks.length} NODES! THIS CANNOT BE UNDONE!`);
        if (!(await cli.prompt.confirm('Shall I continue?'))) cli.out.critical('Aborted!');
      }
      await deleteNodes(codePks, { storage, dryRun: false });
      cli.out.success('Finished deletion.');
    });
}

function addTest(group: Command, cli: Cli): void {
  group
    .command('test')
    .description(
      'Check that a code is usable: for an installed code, that its executable exists on the computer and may be run.',
    )
    .argument('<code>', 'Full label, label, pk or uuid of the code.')
    .action(async (identifier: string) => {
      const code = await codeOf(cli, identifier);
      const { InstalledCode } = await orm();
      const { ValidationError } = await import('../../errors.js');
      if (code instanceof InstalledCode) {
        try {
          await code.validateFilepathExecutable();
        } catch (error) {
          if (error instanceof ValidationError) cli.out.critical(`validation failed: ${error.message}`);
          throw error;
        }
      }
      cli.out.success('all tests succeeded.');
    });
}

function addExport(group: Command, cli: Cli): void {
  group
    .command('export')
    .description(
      'Write a code as YAML that `verdi code create <type> --config` reads back; the files of a portable code go ' +
        'to a folder named after its label next to the output file.',
    )
    .argument('<code>', 'Full label, label, pk or uuid of the code.')
    .argument('[output_file]', 'Where to write (default: `<full label>.yaml`).')
    .option('--overwrite', 'Replace the output file if it exists.')
    .option('--sort', 'Sort the keys.')
    .action(
      async (identifier: string, file: string | undefined, opts: { overwrite?: boolean; sort?: boolean }) => {
        const code = await codeOf(cli, identifier);
        const target = path.resolve(file ?? `${code.fullLabel}.yaml`);
        if (existsSync(target)) {
          if (statSync(target).isDirectory())
            throw new UsageError(`the output file \`${target}\` is a directory`);
          if (opts.overwrite !== true)
            throw new UsageError(
              `the output file \`${target}\` already exists; use --overwrite to replace it`,
            );
        }
        const { PortableCode } = await orm();
        const config = code.toCliConfig();
        if (code instanceof PortableCode) {
          const files = path.join(path.dirname(target), code.label);
          await code.exportFiles(files);
          config.filepath_files = files;
        }
        const { yamlText } = await import('../utils/yaml-text.js');
        await writeFile(target, yamlText(config, { sortMapEntries: opts.sort === true }), 'utf8');
        cli.out.success(`Code<${String(code.pk)}> ${code.label} exported to file \`${target}\`.`);
      },
    );
}

function addRelabel(group: Command, cli: Cli): void {
  group
    .command('relabel')
    .description('Relabel a code.')
    .argument('<code>', 'Full label, label, pk or uuid of the code.')
    .argument('<label>', 'The new label (without `@computer`).')
    .action(async (identifier: string, label: string) => {
      const code = await codeOf(cli, identifier);
      const old = code.fullLabel;
      try {
        labelCheck(label);
      } catch (error) {
        cli.out.critical(`invalid code label: ${(error as Error).message}`);
      }
      const full = old.includes('@') ? `${label}@${old.slice(old.indexOf('@') + 1)}` : label;
      await assertUniqueFullLabel(cli, full, code.pk!);
      await code.setLabel(label);
      cli.out.success(`Code<${String(code.pk)}> relabeled from ${old} to ${code.fullLabel}`);
    });
}

export default defineCommandGroup({
  name: 'code',
  description: 'Set up and manage codes.',
  build(cli: Cli) {
    const group = new Command('code');
    addCreate(group, cli);
    addList(group, cli);
    addShow(group, cli);
    addDuplicate(group, cli);
    addHideReveal(group, cli);
    addDelete(group, cli);
    addTest(group, cli);
    addExport(group, cli);
    addRelabel(group, cli);
    return group;
  },
});
