import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Computer } from '../../orm/entities/computer.js';
import type { Cli } from '../cli.js';
import { computerArgument } from './computer-argument.js';
import { UsageError } from '../exit-codes.js';
import { addParamOptions, resolveParams, type ParamSpec } from '../utils/params.js';
import { addConfigureGroup, addTransportConfigureCommands, userByEmail } from './configure.js';
import { storeNewComputer } from './store-new.js';

/** What `verdi computer setup` knows and the new subcommands reuse. */
export interface ComputerSetupParams {
  /** The setup parameters, for declaring options (their checks need the plugins, see `load`). */
  options(): ParamSpec[];
  /** The setup parameters with the plugins loaded, and what each scheduler accepts. */
  load(): Promise<{
    readonly specs: ParamSpec[];
    readonly plugins: {
      acceptsMpiprocs(scheduler: string): boolean;
      acceptsMemory(scheduler: string): boolean;
    };
  }>;
}

const computerOf = computerArgument;

/** The `verdi computer setup --config` keys of a computer, as `verdi computer export setup` writes them. */
export function computerSetupConfig(computer: Computer): Record<string, unknown> {
  const config: Record<string, unknown> = {
    label: computer.label,
    hostname: computer.hostname,
    description: computer.description,
    transport: computer.transportType,
    scheduler: computer.schedulerType,
    shebang: computer.getShebang(),
    work_dir: computer.getWorkdir(),
    mpirun_command: computer.getMpirunCommand().join(' '),
    mpiprocs_per_machine: computer.getDefaultMpiprocsPerMachine(),
    default_memory_per_machine: computer.getDefaultMemoryPerMachine(),
    use_double_quotes: computer.getUseDoubleQuotes(),
    prepend_text: computer.getPrependText(),
    append_text: computer.getAppendText(),
  };
  // Unset defaults are left out (aiida writes null), so that `setup --config` reads the file back as is.
  for (const [key, value] of Object.entries(config)) if (value === null) delete config[key];
  return config;
}

/** Where an export goes: `given` or `<label>-<what>.yaml`; an existing file only with `--overwrite`. */
function outputFile(given: string | undefined, fallback: string, overwrite: boolean): string {
  const file = given ?? fallback;
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new UsageError(`the output file \`${file}\` is a directory`);
    if (!overwrite)
      throw new UsageError(`the output file \`${file}\` already exists; use --overwrite to replace it`);
  }
  return file;
}

async function toYaml(value: unknown, sort: boolean): Promise<string> {
  const { yamlText } = await import('../utils/yaml-text.js');
  return yamlText(value, { sortMapEntries: sort });
}

function addEnableDisable(group: Command, cli: Cli): void {
  for (const enable of [true, false]) {
    const verb = enable ? 'enable' : 'disable';
    group
      .command(verb)
      .description(
        enable
          ? 'Enable the computer for a user.'
          : 'Disable the computer for a user, e.g. while it is under maintenance: no jobs are submitted to it.',
      )
      .argument('<computer>', 'Label, pk or uuid of the computer.')
      .option('-u, --user <email>', 'Email of the user (default: the default user).')
      .action(async (identifier: string, opts: { user?: string }) => {
        const computer = await computerOf(cli, identifier);
        const user = await userByEmail(cli, opts.user);
        const { NotExistentError } = await import('../../errors.js');
        let enabled: boolean;
        try {
          enabled = (await computer.getAuthInfo(user)).enabled;
        } catch (error) {
          if (error instanceof NotExistentError) {
            cli.out.critical(
              `User with email '${user.email}' is not configured for computer '${computer.label}' yet.`,
            );
          }
          throw error;
        }
        if (enabled === enable) {
          cli.out.report(
            `Computer '${computer.label}' was already ${verb}d for user ${user.getShortName()}.`,
          );
          return;
        }
        if (enable) await computer.enable(user);
        else await computer.disable(user);
        cli.out.report(`Computer '${computer.label}' ${verb}d for user ${user.getShortName()}.`);
      });
  }
}

function addDuplicate(group: Command, cli: Cli, params: ComputerSetupParams): void {
  const duplicate = group
    .command('duplicate')
    .description(
      'Create a new computer from the settings of an existing one; options change settings, the label must be new. ' +
        'Missing values are asked for (with the old ones as defaults) when a person is at the terminal.',
    )
    .argument('<computer>', 'Label, pk or uuid of the computer to copy.');
  addParamOptions(duplicate, params.options());
  duplicate.option('-n, --non-interactive', 'Never prompt: unchanged settings are copied.');
  duplicate.action(async (identifier: string, opts: Record<string, unknown>) => {
    const storage = await cli.storage();
    const source = await computerOf(cli, identifier);
    const { specs, plugins } = await params.load();
    const existing = computerSetupConfig(source);
    const withDefaults = specs.map((spec) =>
      spec.key in existing ? { ...spec, default: () => existing[spec.key] } : spec,
    );
    const values = await resolveParams(withDefaults, {
      given: opts,
      prompter: cli.prompt,
      interactive: cli.prompt.interactive && opts.nonInteractive !== true,
      commandName: 'verdi computer duplicate',
    });
    const { Computer } = await import('../../orm/entities/computer.js');
    const { NotExistentError } = await import('../../errors.js');
    const label = String(values.label);
    try {
      await Computer.get({ label }, { storage });
      cli.out.critical(`A computer called ${label} already exists`);
    } catch (error) {
      if (!(error instanceof NotExistentError)) throw error;
    }
    const scheduler = String(values.scheduler);
    const metadata: Record<string, unknown> = {
      ...source.metadata,
      shebang: values.shebang,
      mpirun_command: String(values.mpirun_command)
        .split(/\s+/)
        .filter((word) => word !== ''),
      use_double_quotes: values.use_double_quotes,
      prepend_text: values.prepend_text,
      append_text: values.append_text,
    };
    delete metadata.default_mpiprocs_per_machine;
    delete metadata.default_memory_per_machine;
    if (values.mpiprocs_per_machine !== undefined && plugins.acceptsMpiprocs(scheduler))
      metadata.default_mpiprocs_per_machine = values.mpiprocs_per_machine;
    if (values.default_memory_per_machine !== undefined && plugins.acceptsMemory(scheduler))
      metadata.default_memory_per_machine = values.default_memory_per_machine;
    const computer = await storeNewComputer(cli, values, { label, schedulerType: scheduler, metadata });
    if (!(await computer.isConfigured())) {
      const profile = await cli.profile();
      cli.out.report('Note: before the computer can be used, it has to be configured with the command:');
      cli.out.report(
        `  verdi -p ${profile.name} computer configure ${computer.transportType} ${computer.label}`,
      );
    }
  });
}

function addExport(group: Command, cli: Cli): void {
  const exportGroup = group
    .command('export')
    .description('Export the setup or configuration of a computer to YAML.');
  exportGroup
    .command('setup')
    .description('Write the setup of a computer as YAML that `verdi computer setup --config` reads.')
    .argument('<computer>', 'Label, pk or uuid of the computer.')
    .argument('[output_file]', 'Where to write (default: `<label>-setup.yaml`).')
    .option('--overwrite', 'Replace the output file if it exists.')
    .option('--sort', 'Sort the keys (default).')
    .option('--no-sort', 'Keep the keys in setup order.')
    .action(
      async (identifier: string, file: string | undefined, opts: { overwrite?: boolean; sort?: boolean }) => {
        const computer = await computerOf(cli, identifier);
        const target = outputFile(file, `${computer.label}-setup.yaml`, opts.overwrite === true);
        await writeFile(target, await toYaml(computerSetupConfig(computer), opts.sort !== false), 'utf8');
        cli.out.success(
          `Computer<${String(computer.pk)}> ${computer.label} setup exported to file '${target}'.`,
        );
      },
    );
  exportGroup
    .command('config')
    .description(
      'Write the transport configuration of a computer for a user as YAML that `configure --config` reads.',
    )
    .argument('<computer>', 'Label, pk or uuid of the computer.')
    .argument('[output_file]', 'Where to write (default: `<label>-config.yaml`).')
    .option('-u, --user <email>', 'Email of the user (default: the default user).')
    .option('--overwrite', 'Replace the output file if it exists.')
    .option('--sort', 'Sort the keys (default).')
    .option('--no-sort', 'Keep the keys in stored order.')
    .action(
      async (
        identifier: string,
        file: string | undefined,
        opts: { user?: string; overwrite?: boolean; sort?: boolean },
      ) => {
        const computer = await computerOf(cli, identifier);
        const user = await userByEmail(cli, opts.user);
        if (!(await computer.isUserConfigured(user))) {
          cli.out.critical(
            `Computer<${String(computer.pk)}> ${computer.label} configuration cannot be exported, because computer ` +
              `has not been configured yet for ${user.email}.`,
          );
        }
        const target = outputFile(file, `${computer.label}-config.yaml`, opts.overwrite === true);
        await writeFile(
          target,
          await toYaml(await computer.getConfiguration(user), opts.sort !== false),
          'utf8',
        );
        cli.out.success(
          `Computer<${String(computer.pk)}> ${computer.label} configuration exported to file \`${target}\`.`,
        );
      },
    );
}

function addTest(group: Command, cli: Cli): void {
  group
    .command('test')
    .description(
      'Test the connection to a computer: open the transport, look for spurious shell output, list the jobs of ' +
        'the scheduler, ask the user name, write and delete a file in the work directory. Exits 1 when a check fails.',
    )
    .argument('<computer>', 'Label, pk or uuid of the computer.')
    .option('-u, --user <email>', 'Test the configuration of this user (default: the default user).')
    .action(async (identifier: string, opts: { user?: string }) => {
      const computer = await computerOf(cli, identifier);
      const user = await userByEmail(cli, opts.user);
      cli.out.report(`Testing computer<${computer.label}> for user<${user.email}>...`);
      const { NotExistentError } = await import('../../errors.js');
      let enabled: boolean;
      try {
        enabled = (await computer.getAuthInfo(user)).enabled;
      } catch (error) {
        if (error instanceof NotExistentError)
          cli.out.critical(`Computer<${computer.label}> is not yet configured for user<${user.email}>`);
        throw error;
      }
      if (!enabled) {
        cli.out.warning(`Computer<${computer.label}> is disabled for user<${user.email}>`);
        if (!(await cli.prompt.confirm('Do you really want to test it?'))) cli.out.critical('Aborted!');
      }
      const { testComputer } = await import('../../computers/computer-test.js');
      const colors = cli.out.colors;
      const report = await testComputer(computer, {
        user,
        onCheck: (check) => {
          const status = check.ok ? colors.green('[OK]') : colors.red('[FAILED]');
          const detail = check.message === undefined ? '' : `: ${check.message}`;
          cli.out.echo(`* ${check.label}... ${status}${detail}`);
        },
      });
      const total = report.checks.length;
      if (report.failures > 0) {
        cli.out.warning(`${report.failures} out of ${total} tests failed`);
        cli.out.critical(`computer ${computer.label} failed ${report.failures} of ${total} checks`);
      }
      cli.out.success(`all ${total} tests succeeded`);
    });
}

/**
 * Adds `enable`, `disable`, `duplicate`, `test`, `export setup|config` and `configure <transport>|show` to
 * `verdi computer`. The per-transport `configure` commands are made from the transport registry only when
 * `verdi computer configure` runs.
 */
export function addComputerSubcommands(group: Command, cli: Cli, params: ComputerSetupParams): void {
  addDuplicate(group, cli, params);
  addEnableDisable(group, cli);
  addTest(group, cli);
  addExport(group, cli);
  const configure = addConfigureGroup(group, cli);
  group.hook('preSubcommand', async (_parent, subcommand) => {
    if (subcommand === configure) await addTransportConfigureCommands(configure, cli);
  });
}
