import { InternalError, ValidationError } from '../../errors.js';
import { Command } from 'commander';
import type { Computer } from '../../orm/entities/computer.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { addParamOptions, readConfigSource, resolveParams, type ParamSpec } from '../utils/params.js';
import { addSetLimitsCommand, describeComputerLimits } from '../computer/limits.js';
import { addComputerSubcommands } from '../computer/subcommands.js';
import { storeNewComputer } from '../computer/store-new.js';
import { computerArgument } from '../computer/computer-argument.js';
import { addGotoCommand } from '../computer/goto.js';

/** Placeholders an mpirun command may use (the scheduler fills them in). */
const MPIRUN_FIELDS = new Set([
  'tot_num_mpiprocs',
  'num_machines',
  'num_mpiprocs_per_machine',
  'num_cores_per_machine',
  'num_cores_per_mpiproc',
  'parallel_env',
]);

interface Plugins {
  readonly transports: readonly string[];
  readonly schedulers: readonly string[];
  acceptsMpiprocs(scheduler: string): boolean;
  acceptsMemory(scheduler: string): boolean;
}

async function loadPlugins(): Promise<Plugins> {
  const { transportEntryPoints } = await import('../../transports/registry.js');
  const { listSchedulerEntryPoints, loadScheduler } = await import('../../schedulers/registry.js');
  return {
    transports: transportEntryPoints(),
    schedulers: listSchedulerEntryPoints(),
    acceptsMpiprocs: (scheduler) =>
      loadScheduler(scheduler).jobResourceClass.acceptsDefaultMpiprocsPerMachine,
    acceptsMemory: (scheduler) => loadScheduler(scheduler).jobResourceClass.acceptsDefaultMemoryPerMachine,
  };
}

/** The parameters of `verdi computer setup`, with AiiDA's option and `--config` key names. */
function computerParams(plugins: () => Plugins): ParamSpec[] {
  const oneOf = (what: string, known: () => readonly string[]) => (value: unknown) => {
    const name = String(value);
    if (!known().includes(name))
      throw new ValidationError(`unknown ${what} \`${name}\` (known: ${known().join(', ')})`);
    return name;
  };
  const positive = (value: unknown) => {
    if (typeof value !== 'number' || value < 1)
      throw new ValidationError(`must be a positive integer, got ${String(value)}`);
    return value;
  };
  return [
    {
      key: 'label',
      short: '-L',
      kind: 'string',
      description: 'Unique, human-readable label for this computer.',
      prompt: 'Computer label',
      required: true,
    },
    {
      key: 'hostname',
      short: '-H',
      kind: 'string',
      description:
        'The fully qualified hostname of the computer; `localhost` for the machine aiida-ts runs on.',
      prompt: 'Hostname',
      required: true,
    },
    {
      key: 'description',
      short: '-D',
      kind: 'string',
      description: 'A human-readable description of this computer.',
      prompt: 'Description',
      default: () => '',
    },
    {
      key: 'transport',
      short: '-T',
      kind: 'string',
      description: 'Transport type, e.g. `core.local` or `core.ssh`.',
      prompt: 'Transport plugin',
      required: true,
      validate: oneOf('transport', () => plugins().transports),
    },
    {
      key: 'scheduler',
      short: '-S',
      kind: 'string',
      description: 'Scheduler type, e.g. `core.direct` or `core.slurm`.',
      prompt: 'Scheduler plugin',
      required: true,
      validate: oneOf('scheduler', () => plugins().schedulers),
    },
    {
      key: 'shebang',
      kind: 'string',
      description: 'First line of the submission script (only the bash shell is supported).',
      prompt: 'Shebang line (first line of each script, starting with #!)',
      default: () => '#!/bin/bash',
      validate: (value) => {
        if (!String(value).startsWith('#!'))
          throw new ValidationError('the shebang line has to start with #!');
        return value;
      },
    },
    {
      key: 'work_dir',
      short: '-w',
      kind: 'string',
      description:
        'Absolute path of the directory where calculations run; `{username}` is replaced by the remote user.',
      prompt: 'Work directory on the computer',
      default: () => '/scratch/{username}/aiida/',
    },
    {
      key: 'mpirun_command',
      short: '-m',
      kind: 'string',
      description: 'The mpirun command; `{tot_num_mpiprocs}` is replaced by the total number of processes.',
      prompt: 'Mpirun command',
      default: () => 'mpirun -np {tot_num_mpiprocs}',
      validate: (value) => {
        const unknown = [...String(value).matchAll(/\{([^}]*)\}/g)]
          .map((m) => m[1] ?? '')
          .filter((f) => !MPIRUN_FIELDS.has(f));
        if (unknown.length > 0) {
          throw new ValidationError(
            `unknown replacement field \`{${unknown[0]}}\` (known: ${[...MPIRUN_FIELDS].join(', ')})`,
          );
        }
        return value;
      },
    },
    {
      key: 'mpiprocs_per_machine',
      kind: 'integer',
      description: 'Default number of MPI processes per machine (node), if not otherwise specified.',
      prompt: 'Default number of CPUs per machine',
      askIf: (resolved) => plugins().acceptsMpiprocs(String(resolved.scheduler)),
      validate: positive,
    },
    {
      key: 'default_memory_per_machine',
      kind: 'integer',
      description: 'Default amount of memory (kB) per machine (node), if not otherwise specified.',
      prompt: 'Default amount of memory per machine (kB)',
      askIf: (resolved) => plugins().acceptsMemory(String(resolved.scheduler)),
      validate: positive,
    },
    {
      key: 'use_double_quotes',
      kind: 'boolean',
      negatable: true,
      description: 'Escape the arguments of the executable in double quotes instead of single quotes.',
      default: () => false,
    },
    {
      key: 'prepend_text',
      kind: 'text',
      description: 'Bash commands prepended to the executable call in every submission script.',
      prompt: 'Prepend script',
      default: () => '',
    },
    {
      key: 'append_text',
      kind: 'text',
      description: 'Bash commands appended to the executable call in every submission script.',
      prompt: 'Append script',
      default: () => '',
    },
  ];
}

const noPlugins = (): Plugins => {
  throw new InternalError('the plugins are only loaded when the command runs');
};

const loadComputer = computerArgument;

function describeComputer(computer: Computer): Record<string, unknown> {
  return {
    label: computer.label,
    pk: computer.pk,
    uuid: computer.uuid,
    description: computer.description,
    hostname: computer.hostname,
    transport_type: computer.transportType,
    scheduler_type: computer.schedulerType,
    work_dir: computer.getWorkdir(),
    shebang: computer.getShebang(),
    mpirun_command: computer.getMpirunCommand().join(' '),
    default_mpiprocs_per_machine: computer.getDefaultMpiprocsPerMachine(),
    default_memory_per_machine: computer.getDefaultMemoryPerMachine(),
    use_double_quotes: computer.getUseDoubleQuotes(),
    prepend_text: computer.getPrependText(),
    append_text: computer.getAppendText(),
  };
}

const SHOW_LABELS: Record<string, string> = {
  label: 'Label',
  pk: 'PK',
  uuid: 'UUID',
  description: 'Description',
  hostname: 'Hostname',
  transport_type: 'Transport type',
  scheduler_type: 'Scheduler type',
  work_dir: 'Work directory',
  shebang: 'Shebang',
  mpirun_command: 'Mpirun command',
  default_mpiprocs_per_machine: 'Default #procs/machine',
  default_memory_per_machine: 'Default memory (kB)/machine',
  use_double_quotes: 'Use double quotes',
  prepend_text: 'Prepend text',
  append_text: 'Append text',
  max_queued_jobs: 'Max queued jobs',
  queued_jobs: 'Queued jobs',
};

export default defineCommandGroup({
  name: 'computer',
  description: 'Set up and manage computers.',
  build(cli: Cli) {
    const group = new Command('computer');

    const setup = group
      .command('setup')
      .description(
        'Create a new computer. Missing options are asked for when a person is at the terminal; otherwise they are an ' +
          'error. `--config FILE_OR_URL` reads the options from YAML (keys: label, hostname, transport, scheduler, work_dir, …).',
      );
    addParamOptions(setup, computerParams(noPlugins));
    setup
      .option('--config <file-or-url>', 'Load option values from a YAML file or an http(s) URL serving one.')
      .option('-n, --non-interactive', 'Never prompt: missing options are an error.')
      .action(async (opts: Record<string, unknown>) => {
        const storage = await cli.storage();
        const plugins = await loadPlugins();
        const source = typeof opts.config === 'string' ? opts.config : undefined;
        const values = await resolveParams(
          computerParams(() => plugins),
          {
            given: opts,
            ...(source === undefined ? {} : { fromFile: await readConfigSource(source), fileSource: source }),
            prompter: cli.prompt,
            interactive: cli.prompt.interactive && opts.nonInteractive !== true,
            commandName: 'verdi computer setup',
          },
        );
        const scheduler = String(values.scheduler);
        if (values.mpiprocs_per_machine !== undefined && !plugins.acceptsMpiprocs(scheduler)) {
          throw new UsageError(`the scheduler \`${scheduler}\` does not accept --mpiprocs-per-machine`);
        }
        if (values.default_memory_per_machine !== undefined && !plugins.acceptsMemory(scheduler)) {
          throw new UsageError(`the scheduler \`${scheduler}\` does not accept --default-memory-per-machine`);
        }
        const { Computer } = await import('../../orm/entities/computer.js');
        const { NotExistentError } = await import('../../errors.js');
        try {
          await Computer.get({ label: String(values.label) }, { storage });
          cli.out.critical(`a computer called ${String(values.label)} already exists`);
        } catch (error) {
          if (!(error instanceof NotExistentError)) throw error;
        }
        const metadata: Record<string, unknown> = {
          shebang: values.shebang,
          mpirun_command: String(values.mpirun_command)
            .split(/\s+/)
            .filter((word) => word !== ''),
          use_double_quotes: values.use_double_quotes,
          prepend_text: values.prepend_text,
          append_text: values.append_text,
        };
        if (values.mpiprocs_per_machine !== undefined)
          metadata.default_mpiprocs_per_machine = values.mpiprocs_per_machine;
        if (values.default_memory_per_machine !== undefined) {
          metadata.default_memory_per_machine = values.default_memory_per_machine;
        }
        await storeNewComputer(cli, values, {
          label: String(values.label),
          schedulerType: scheduler,
          metadata,
        });
      });

    group
      .command('list')
      .description('List all computers.')
      .option('-r, --raw', 'Print only the labels, one per line.')
      .option('--json', 'Print the computers as JSON.')
      .action(async (opts: { raw?: boolean; json?: boolean }) => {
        cli.out.json = opts.json === true;
        const storage = await cli.storage();
        const { Computer } = await import('../../orm/entities/computer.js');
        const computers = (await Computer.all({ storage })).sort((a, b) => a.label.localeCompare(b.label));
        if (opts.json === true) {
          cli.out.printJson(computers.map(describeComputer));
          return;
        }
        if (opts.raw === true) {
          for (const computer of computers) cli.out.echo(computer.label);
          return;
        }
        if (computers.length === 0) {
          cli.out.report("No computers configured yet. Use 'verdi computer setup'");
          return;
        }
        cli.out.report('List of configured computers');
        cli.out.report("Use 'verdi computer show COMPUTERLABEL' to display more detailed information");
        cli.out.table(
          ['PK', 'Label', 'Hostname', 'Transport', 'Scheduler'],
          computers.map((computer) => [
            computer.pk,
            computer.label,
            computer.hostname,
            computer.transportType,
            computer.schedulerType,
          ]),
          { alignRight: [0] },
        );
      });

    group
      .command('show')
      .description('Show the details of a computer.')
      .argument('<computer>', 'Label, pk or uuid of the computer.')
      .option('--json', 'Print the computer as JSON.')
      .action(async (identifier: string, opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const computer = await loadComputer(cli, identifier);
        const details = {
          ...describeComputer(computer),
          ...(await describeComputerLimits(await cli.storage(), computer)),
        };
        if (opts.json === true) {
          cli.out.printJson(details);
          return;
        }
        const { quotas, ...properties } = details;
        cli.out.table(
          ['Property', 'Value'],
          [
            ...Object.entries(properties).map(([key, value]) => [
              SHOW_LABELS[key] ?? key,
              key === 'max_queued_jobs' && value === null ? 'unlimited' : value,
            ]),
            ['Quotas', quotas.map((quota) => `${quota.name} (${quota.usage})`).join(', ')],
          ],
        );
      });

    group
      .command('relabel')
      .description('Relabel a computer.')
      .argument('<computer>', 'Label, pk or uuid of the computer.')
      .argument('<label>', 'The new label.')
      .action(async (identifier: string, label: string) => {
        const computer = await loadComputer(cli, identifier);
        const old = computer.label;
        if (label.trim() === '') throw new UsageError('the new label must not be empty');
        try {
          await computer.update({ label });
        } catch (error) {
          cli.out.critical(`Unable to relabel the computer: ${(error as Error).message}`);
        }
        cli.out.success(`Computer '${old}' relabeled to '${label}'`);
      });

    group
      .command('delete')
      .description('Delete a computer. Refused while nodes use it.')
      .argument('<computer>', 'Label, pk or uuid of the computer.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .action(async (identifier: string, opts: { force?: boolean }) => {
        const storage = await cli.storage();
        const computer = await loadComputer(cli, identifier);
        if (
          opts.force !== true &&
          !(await cli.prompt.confirm(`Are you sure you want to delete computer \`${computer.label}\`?`))
        ) {
          cli.out.critical('Deletion cancelled.');
        }
        const { Computer } = await import('../../orm/entities/computer.js');
        try {
          await Computer.delete(computer.pk!, { storage });
        } catch (error) {
          if ((error as { name?: string }).name === 'InvalidOperationError') {
            cli.out.critical(
              `Unable to delete the requested computer: there are nodes using this computer (${(error as Error).message})`,
            );
          }
          throw error;
        }
        cli.out.success(`Computer '${computer.label}' deleted.`);
      });

    addSetLimitsCommand(group, cli);
    addGotoCommand(group, cli, loadComputer);
    addComputerSubcommands(group, cli, {
      options: () => computerParams(noPlugins),
      load: async () => {
        const plugins = await loadPlugins();
        return { specs: computerParams(() => plugins), plugins };
      },
    });

    return group;
  },
});
