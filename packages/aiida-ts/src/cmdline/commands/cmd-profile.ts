import { InternalError } from '../../errors.js';
import { Command, Option } from 'commander';
import type { Config } from '../../config/config.js';
import type { Profile } from '../../config/profile.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { profileDumpCommand } from '../dump/collection-dump.js';
import { addParamOptions, readConfigSource, resolveParams } from '../utils/params.js';
import {
  SETUP_STORAGE_BACKENDS,
  profileParams,
  storageParams,
  type SetupStorageBackend,
} from '../utils/profile-params.js';

function stripPrivateKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPrivateKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('_'))
      .map(([key, child]) => [key, stripPrivateKeys(child)]),
  );
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const notYetLoaded = (): Config => {
  throw new InternalError('the configuration is only read when the command runs');
};

async function runSetup(
  cli: Cli,
  backend: SetupStorageBackend,
  opts: Record<string, unknown>,
  commandName: string,
): Promise<void> {
  const config = await cli.config();
  const specs = [...profileParams(() => config), ...storageParams(backend, () => config)];
  const source = typeof opts.config === 'string' ? opts.config : undefined;
  const values = await resolveParams(specs, {
    given: opts,
    ...(source === undefined ? {} : { fromFile: await readConfigSource(source), fileSource: source }),
    prompter: cli.prompt,
    interactive: cli.prompt.interactive && opts.nonInteractive !== true,
    commandName,
  });
  const name = String(values.profile_name);
  const storageKeys = storageParams(backend, () => config).map((spec) => spec.key);
  const storageConfig = Object.fromEntries(storageKeys.map((key) => [key, values[key]]));

  let brokerBackend: 'core.rabbitmq' | null = null;
  let brokerConfig: Record<string, unknown> | null = null;
  if (values.use_rabbitmq === true) {
    const { withBrokerDefaults } = await import('../../config/profile.js');
    const { probeRabbitMq } = await import('../utils/rabbitmq.js');
    const candidate = withBrokerDefaults({
      broker_protocol: values.broker_protocol as 'amqp' | 'amqps',
      broker_username: values.broker_username,
      broker_password: values.broker_password,
      broker_host: values.broker_host,
      broker_port: values.broker_port,
      broker_virtual_host: values.broker_virtual_host,
    });
    const probe = await probeRabbitMq(candidate);
    if (!probe.reachable) cli.out.critical(`RabbitMQ server not reachable at ${probe.url}: ${probe.error}`);
    cli.out.success(
      `RabbitMQ server detected at ${probe.url}${probe.version ? ` (version ${probe.version})` : ''}`,
    );
    brokerBackend = 'core.rabbitmq';
    brokerConfig = candidate;
  } else {
    cli.out.report('Creating profile without a broker: processes can be run but not submitted to a daemon.');
    cli.out.report('It can be configured later with `verdi profile configure-rabbitmq`.');
  }

  const { createProfile } = await import('../../config/create-profile.js');
  cli.out.report('Initialising the storage backend.');
  const profile = await createProfile(config, {
    name,
    storageBackend: backend,
    storageConfig,
    brokerBackend,
    brokerConfig,
    user: {
      email: String(values.email),
      firstName: text(values.first_name),
      lastName: text(values.last_name),
      institution: text(values.institution),
    },
    isTestProfile: values.test_profile === true,
    setAsDefault: values.set_as_default === true,
  });
  cli.out.success(`Created new profile \`${profile.name}\`.`);
  if (config.defaultProfileName === profile.name) cli.out.success(`${profile.name} set as default profile`);
}

function profileSummary(profile: Profile, isDefault: boolean): Record<string, unknown> {
  return {
    name: profile.name,
    is_default: isDefault,
    storage_backend: profile.storageBackend,
    process_control_backend: profile.processControlBackend,
  };
}

export default defineCommandGroup({
  name: 'profile',
  description: 'Inspect and manage the configured profiles.',
  build(cli: Cli) {
    const group = new Command('profile');

    const setup = group
      .command('setup')
      .description(
        'Set up a new profile: choose the storage backend as subcommand. Also non-interactively from ' +
          '`--config FILE_OR_URL`, a YAML mapping of the option names (e.g. `profile_name`, `email`, `filepath`).',
      );
    for (const [backend, summary] of Object.entries(SETUP_STORAGE_BACKENDS) as [
      SetupStorageBackend,
      string,
    ][]) {
      const command = setup
        .command(backend)
        .description(`Set up a profile with the \`${backend}\` storage: ${summary}`);
      addParamOptions(command, [...profileParams(notYetLoaded), ...storageParams(backend, notYetLoaded)]);
      command
        .option(
          '--config <file-or-url>',
          'Load option values from a YAML file or an http(s) URL serving one.',
        )
        .option('-n, --non-interactive', 'Never prompt: missing options are an error.')
        .action(async (opts: Record<string, unknown>) =>
          runSetup(cli, backend, opts, `verdi profile setup ${backend}`),
        );
    }

    group
      .command('list')
      .description('Display a list of all available profiles (the default one marked with `*`).')
      .option('--json', 'Print the configuration folder and the profiles as JSON.')
      .action(async (opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const { getConfigDir } = await import('../../config/manager.js');
        let config: Config;
        try {
          config = await cli.config();
        } catch (error) {
          // Show the folder even when the file is broken: that is usually the clue (a wrong AIIDA_TS_PATH).
          cli.out.report(`configuration folder: ${getConfigDir()}`);
          throw error;
        }
        if (opts.json === true) {
          cli.out.printJson({
            config_folder: config.dirpath,
            default_profile: config.defaultProfileName ?? null,
            profiles: config.profiles.map((profile) =>
              profileSummary(profile, profile.name === config.defaultProfileName),
            ),
          });
          return;
        }
        cli.out.report(`configuration folder: ${config.dirpath}`);
        if (config.profiles.length === 0) {
          cli.out.warning(
            'no profiles configured: Run `verdi presto` to automatically setup a profile using all defaults or use ' +
              '`verdi profile setup` for more control.',
          );
          return;
        }
        for (const profile of [...config.profiles].sort((a, b) => a.name.localeCompare(b.name))) {
          if (profile.name === config.defaultProfileName)
            cli.out.echo(cli.out.colors.green(`* ${profile.name}`));
          else cli.out.echo(`  ${profile.name}`);
        }
      });

    group
      .command('show')
      .description('Show the configuration of a profile (default: the current one).')
      .argument('[profile]', 'Name of the profile.')
      .option('--json', 'Print the profile as JSON.')
      .action(async (name: string | undefined, opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const config = await cli.config();
        const profile = name === undefined ? await cli.maybeProfile() : config.getProfile(name);
        if (profile === undefined) cli.out.critical('no profile to show');
        const data = stripPrivateKeys(profile.toJSON());
        if (opts.json === true) {
          cli.out.printJson({ name: profile.name, ...(data as Record<string, unknown>) });
          return;
        }
        cli.out.report(`Profile: ${profile.name}`);
        cli.out.printYaml(data);
      });

    group
      .command('set-default')
      .description('Set a profile as the default profile.')
      .argument('<profile>', 'Name of the profile.')
      .action(async (name: string) => {
        const config = await cli.config();
        config.update((fresh) => fresh.setDefaultProfile(name, true));
        cli.out.success(`${name} set as default profile`);
      });

    /** The options of a RabbitMQ connection, shared by `configure-rabbitmq` and `configure-broker`. */
    const brokerOptions = (command: Command): Command =>
      command
        .option('-f, --force', 'Configure it even when the broker cannot be reached.')
        .option('--broker-protocol <value>', 'Protocol: amqp or amqps.', 'amqp')
        .option('--broker-username <value>', 'Username of the broker.', 'guest')
        .option('--broker-password <value>', 'Password of the broker.', 'guest')
        .option('--broker-host <value>', 'Hostname of the broker.', '127.0.0.1')
        .option('--broker-port <value>', 'Port of the broker.', '5672')
        .option('--broker-virtual-host <value>', 'Virtual host of the broker.', '');

    /** Sets the broker of a profile: RabbitMQ (checked first unless forced), or none. */
    const configureBroker = async (
      name: string | undefined,
      backend: 'core.rabbitmq' | 'none',
      opts: Record<string, string | boolean | undefined>,
    ): Promise<void> => {
      const config = await cli.config();
      const profile = name === undefined ? await cli.profile() : config.getProfile(name);
      if (backend === 'none') {
        config.update((fresh) => {
          const target = fresh.getProfile(profile.name);
          target.setProcessControl(null);
          fresh.updateProfile(target);
        });
        cli.out.success(
          `Profile \`${profile.name}\` now has no broker: processes run in the OS process that launches them`,
        );
        return;
      }
      const { BrokerConfigSchema } = await import('../../config/schema.js');
      const parsed = BrokerConfigSchema.safeParse({
        broker_protocol: opts.brokerProtocol,
        broker_username: opts.brokerUsername,
        broker_password: opts.brokerPassword,
        broker_host: opts.brokerHost,
        broker_port: Number(opts.brokerPort),
        broker_virtual_host: opts.brokerVirtualHost,
        broker_parameters: {},
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new UsageError(
          `invalid value for --${String(issue?.path[0] ?? '').replaceAll('_', '-')}: ${issue?.message ?? ''}`,
        );
      }
      const { probeRabbitMq } = await import('../utils/rabbitmq.js');
      const probe = await probeRabbitMq(parsed.data);
      if (probe.reachable) cli.out.success('Connected to RabbitMQ with the provided connection parameters');
      else if (opts.force === true) cli.out.warning(`Unable to connect to RabbitMQ server: ${probe.error}`);
      else
        cli.out.critical(
          `Unable to connect to RabbitMQ server at ${probe.url}: ${probe.error} (use --force to configure it anyway)`,
        );
      config.update((fresh) => {
        const target = fresh.getProfile(profile.name);
        target.setProcessControl('core.rabbitmq', parsed.data);
        fresh.updateProfile(target);
      });
      cli.out.success(`RabbitMQ configuration for \`${profile.name}\` updated to: ${probe.url}`);
    };

    brokerOptions(
      group
        .command('configure-rabbitmq')
        .description(
          'Configure RabbitMQ as the broker of a profile (default: the current one), after checking it.',
        )
        .argument('[profile]', 'Name of the profile.'),
    ).action(async (name: string | undefined, opts: Record<string, string | boolean | undefined>) => {
      await configureBroker(name, 'core.rabbitmq', opts);
    });

    brokerOptions(
      group
        .command('configure-broker')
        .description(
          'Choose the broker of a profile (default: the current one): `core.rabbitmq` (checked first, with the ' +
            '--broker-* options) or `none` (no daemon; processes run where they are launched).',
        )
        .argument('[profile]', 'Name of the profile.')
        .addOption(
          new Option('--broker <backend>', 'The broker: core.rabbitmq or none.')
            .choices(['core.rabbitmq', 'none'])
            .makeOptionMandatory(),
        ),
    ).action(async (name: string | undefined, opts: Record<string, string | boolean | undefined>) => {
      await configureBroker(name, opts.broker === 'none' ? 'none' : 'core.rabbitmq', opts);
    });

    group
      .command('delete')
      .description(
        'Delete one or more profiles, and with --delete-data also their storage (database and files).',
      )
      .argument('<profiles...>', 'Names of the profiles.')
      .option('-f, --force', 'Skip any prompts for confirmation.')
      .option('--delete-data', 'Also delete the storage with all its data.')
      .option('--keep-data', 'Keep the storage; only remove the profile from the configuration.')
      .action(
        async (names: string[], opts: { force?: boolean; deleteData?: boolean; keepData?: boolean }) => {
          if (opts.deleteData === true && opts.keepData === true) {
            throw new UsageError('--delete-data and --keep-data cannot be given together');
          }
          let deleteData = opts.deleteData === true ? true : opts.keepData === true ? false : undefined;
          if (opts.force === true && deleteData === undefined) {
            throw new UsageError(
              'when the `-f/--force` flag is used either `--delete-data` or `--keep-data` has to be given',
            );
          }
          const config = await cli.config();
          for (const name of names) config.validateProfile(name);
          deleteData ??= await cli.prompt.confirm('Do you also want to permanently delete all data?', false);
          const { deleteProfile } = await import('../../config/create-profile.js');
          for (const name of names) {
            const suffix = cli.out.errColors.red(
              cli.out.errColors.bold(deleteData ? 'including' : 'without'),
            );
            cli.out.warning(`Deleting profile \`${name}\`, ${suffix} all data.`);
            if (opts.force !== true) {
              const sure = await cli.prompt.confirm(
                'This operation cannot be undone, are you sure you want to continue?',
              );
              if (!sure) {
                cli.out.report(`Deleting of \`${name}\` cancelled.`);
                continue;
              }
            }
            const wasDefault = config.defaultProfileName === name;
            const storageConfig = config.getProfile(name).storageConfig;
            const newDefault = await deleteProfile(config, name, { deleteStorage: deleteData });
            cli.out.report(
              deleteData
                ? `Data storage deleted, configuration was: ${JSON.stringify(storageConfig)}`
                : `Data storage not deleted, configuration is: ${JSON.stringify(storageConfig)}`,
            );
            if (wasDefault) {
              if (newDefault === undefined)
                cli.out.warning(`\`${name}\` was the default profile, no profiles remain to set as default.`);
              else
                cli.out.warning(
                  `\`${name}\` was the default profile, setting \`${newDefault}\` as the new default.`,
                );
            }
            cli.out.success(`Profile \`${name}\` was deleted.`);
          }
        },
      );

    group.addCommand(profileDumpCommand(cli));

    return group;
  },
});
