import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { Config } from '../../config/config.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

/**
 * Set to `none` to make `verdi presto` skip the detection of a RabbitMQ server (as `--no-broker` does), for test
 * sandboxes on machines where RabbitMQ runs.
 */
export const PRESTO_BROKER_ENV = 'AIIDA_TS_PRESTO_BROKER';

/** Prefix of the profile names `verdi presto` generates. */
export const DEFAULT_PROFILE_NAME_PREFIX = 'presto';

/** `presto`, or `presto-<n+1>` after the highest existing `presto[-n]`. */
export function defaultPrestoProfileName(config: Config): string {
  const indices = config.profileNames
    .map((name) => /^presto(?:-(\d+))?$/.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1] ?? '0'));
  if (indices.length === 0) return DEFAULT_PROFILE_NAME_PREFIX;
  return `${DEFAULT_PROFILE_NAME_PREFIX}-${Math.max(...indices) + 1}`;
}

interface PrestoOptions {
  profileName?: string;
  email?: string;
  usePostgres?: boolean;
  postgresHostname: string;
  postgresPort: string;
  postgresUsername: string;
  postgresPassword?: string;
  useRabbitmq?: boolean;
  /** False with `--no-broker`. */
  broker: boolean;
  brokerHost: string;
  brokerPort: string;
  brokerUsername: string;
  brokerPassword: string;
  brokerVirtualHost: string;
}

function port(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new UsageError(`invalid value for ${option}: \`${text}\` is not a port number`);
  }
  return value;
}

async function presto(cli: Cli, opts: PrestoOptions): Promise<void> {
  const config = await cli.config();
  const name = opts.profileName ?? defaultPrestoProfileName(config);
  if (config.hasProfile(name))
    throw new UsageError(`invalid value for --profile-name: the profile \`${name}\` already exists`);
  const autofill = config.getOption('autofill.user.email');
  const email =
    opts.email ?? (typeof autofill === 'string' && autofill !== '' ? autofill : 'aiida@localhost');

  const { defaultRepositoryUri, defaultSqliteDosFolder } = await import('../utils/profile-params.js');
  let storageBackend: 'core.sqlite_dos' | 'core.psql_dos' = 'core.sqlite_dos';
  let storageConfig: Record<string, unknown> = { filepath: defaultSqliteDosFolder(config) };
  if (opts.usePostgres === true) {
    const { createPostgresRoleAndDatabase } = await import('../utils/postgres.js');
    try {
      const connection = await createPostgresRoleAndDatabase(
        {
          hostname: opts.postgresHostname,
          port: port(opts.postgresPort, '--postgres-port'),
          username: opts.postgresUsername,
          ...(opts.postgresPassword === undefined ? {} : { password: opts.postgresPassword }),
        },
        name,
      );
      storageConfig = { ...connection, repository_uri: defaultRepositoryUri(config, name) };
    } catch (error) {
      cli.out.critical((error as Error).message);
    }
    cli.out.report(
      '`--use-postgres` enabled and database creation successful: configuring the profile to use PostgreSQL.',
    );
    storageBackend = 'core.psql_dos';
  } else {
    cli.out.report('Option `--use-postgres` not enabled: configuring the profile to use SQLite.');
  }

  let brokerConfig: Record<string, unknown> | null = null;
  const detection = process.env[PRESTO_BROKER_ENV];
  if (opts.broker === false || (opts.useRabbitmq !== true && detection === 'none')) {
    cli.out.report(
      opts.broker === false
        ? 'Option `--no-broker` given: configuring the profile without a broker.'
        : `Broker detection disabled (${PRESTO_BROKER_ENV}=none): configuring the profile without a broker.`,
    );
  } else {
    const { withBrokerDefaults } = await import('../../config/profile.js');
    const { probeRabbitMq } = await import('../utils/rabbitmq.js');
    const candidate = withBrokerDefaults({
      broker_host: opts.brokerHost,
      broker_port: port(opts.brokerPort, '--broker-port'),
      broker_username: opts.brokerUsername,
      broker_password: opts.brokerPassword,
      broker_virtual_host: opts.brokerVirtualHost,
    });
    const probe = await probeRabbitMq(candidate, opts.useRabbitmq === true ? 5_000 : 2_000);
    if (probe.reachable) {
      cli.out.report(
        opts.useRabbitmq === true
          ? '`--use-rabbitmq` enabled and RabbitMQ server detected: configuring the profile with RabbitMQ broker.'
          : `RabbitMQ server detected at ${probe.url}: configuring the profile with a RabbitMQ broker.`,
      );
      brokerConfig = candidate;
    } else if (opts.useRabbitmq === true) {
      cli.out.critical(`RabbitMQ server not reachable at ${probe.url}: ${probe.error}`);
    } else {
      cli.out.report(
        `RabbitMQ server not found at ${probe.url} (${probe.error}): configuring the profile without a broker ` +
          '(the daemon coordinates its workers through the storage).',
      );
    }
  }

  const { createProfile } = await import('../../config/create-profile.js');
  let profile;
  try {
    profile = await createProfile(config, {
      name,
      storageBackend,
      storageConfig,
      brokerBackend: brokerConfig === null ? null : 'core.rabbitmq',
      brokerConfig,
      user: { email },
      setAsDefault: true,
      options: { 'runner.poll.interval': 1 },
    });
  } catch (error) {
    if (opts.usePostgres === true)
      cli.out.warning('the PostgreSQL role and database created for the profile were left in place');
    throw error;
  }
  cli.out.success(`Created new profile \`${profile.name}\`.`);

  cli.profileName = profile.name;
  await cli.storage();
  cli.out.info(`Loaded newly created profile \`${profile.name}\`.`);

  const { Computer } = await import('../../orm/entities/computer.js');
  const computer = await new Computer({
    label: 'localhost',
    hostname: 'localhost',
    description: 'Localhost automatically created by `verdi presto`',
    transportType: 'core.local',
    schedulerType: 'core.direct',
    workdir: join(config.dirpath, 'scratch', profile.name),
  }).store();
  await computer.setProperties({ minimum_scheduler_poll_interval: 1, default_mpiprocs_per_machine: 1 });
  await computer.configure({ safe_interval: 0 });
  cli.out.success('Configured the localhost as a computer.');
}

export default defineCommandGroup({
  name: 'presto',
  description:
    'Set up a new profile in a jiffy (SQLite storage, RabbitMQ when one runs; no services needed).',
  build(cli: Cli) {
    return new Command('presto')
      .description(
        'Set up a new profile in a jiffy: a `core.sqlite_dos` storage, a default user, the localhost as a ' +
          'computer, and the profile set as default. No service is needed: a RabbitMQ server running at the broker ' +
          'options is detected and used as the broker (`--no-broker` opts out). `--use-postgres` uses PostgreSQL, ' +
          'checking first that it can be reached.',
      )
      .option(
        '-p, --profile-name <name>',
        'Name of the profile (default: `presto`, or `presto-<n>` when taken).',
      )
      .option(
        '--email <email>',
        'Email of the default user (default: the `autofill.user.email` option or aiida@localhost).',
      )
      .option(
        '--use-postgres',
        'Use a PostgreSQL database: a role and a database are created for the profile.',
      )
      .addOption(
        new Option('--postgres-hostname <host>', 'Hostname of the PostgreSQL server.').default('localhost'),
      )
      .addOption(new Option('--postgres-port <port>', 'Port of the PostgreSQL server.').default('5432'))
      .addOption(
        new Option(
          '--postgres-username <user>',
          'PostgreSQL user allowed to create roles and databases.',
        ).default('postgres'),
      )
      .option('--postgres-password <password>', 'Password of that PostgreSQL user.')
      .option(
        '--use-rabbitmq',
        'Require RabbitMQ as the broker: fail when it cannot be reached (by default a RabbitMQ server found at the ' +
          'broker options is used, and without one the profile has no broker).',
      )
      .option(
        '--no-broker',
        'Configure no broker even when a RabbitMQ server runs: the daemon workers coordinate through the storage.',
      )
      .addOption(new Option('--broker-host <host>', 'Hostname of the RabbitMQ server.').default('127.0.0.1'))
      .addOption(new Option('--broker-port <port>', 'Port of the RabbitMQ server.').default('5672'))
      .addOption(new Option('--broker-username <user>', 'RabbitMQ username.').default('guest'))
      .addOption(new Option('--broker-password <password>', 'RabbitMQ password.').default('guest'))
      .addOption(new Option('--broker-virtual-host <vhost>', 'RabbitMQ virtual host.').default(''))
      .action(async (opts: PrestoOptions) => presto(cli, opts));
  },
});
