import { UniquenessError, ValidationError } from '../../errors.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../../config/config.js';
import type { ParamSpec } from './params.js';

/** The storage backends `verdi profile setup` offers, each a subcommand with its own options. */
export const SETUP_STORAGE_BACKENDS = {
  'core.sqlite_dos': 'SQLite database and disk-objectstore repository in one folder; needs no services.',
  'core.psql_dos': 'PostgreSQL database and disk-objectstore repository; for large or shared profiles.',
  'core.sqlite_temp': 'In-memory SQLite database and repository, gone when the process ends (tests, demos).',
} as const;
export type SetupStorageBackend = keyof typeof SETUP_STORAGE_BACKENDS;

/** Where a new `core.sqlite_dos` profile keeps its data by default, as AiiDA: `<config>/repository/sqlite_dos_<uuid>`. */
export function defaultSqliteDosFolder(config: Config): string {
  return join(config.dirpath, 'repository', `sqlite_dos_${randomUUID().replaceAll('-', '')}`);
}

/** Where a new `core.psql_dos` profile keeps its files by default: `file://<config>/repository/<profile>`. */
export function defaultRepositoryUri(config: Config, profileName: string): string {
  return pathToFileURL(join(config.dirpath, 'repository', profileName)).href;
}

function autofill(config: () => Config, name: string, fallback?: string): string | undefined {
  const value = config().getOption(name);
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/**
 * The parameters every `verdi profile setup <backend>` has, with AiiDA's names. `config` is only called when a
 * default or a check needs it (so that building `--help` reads no file).
 */
export function profileParams(config: () => Config): ParamSpec[] {
  return [
    {
      key: 'profile_name',
      short: '-p',
      kind: 'string',
      description: 'The name of the new profile.',
      prompt: 'Profile name',
      required: true,
      validate: (value) => {
        const name = String(value);
        if (!/^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/.test(name)) {
          throw new ValidationError(
            `\`${name}\` is not a valid profile name (letters, digits and \`_.@+-\` only)`,
          );
        }
        if (config().hasProfile(name)) throw new UniquenessError(`the profile \`${name}\` already exists`);
        return name;
      },
    },
    {
      key: 'set_as_default',
      kind: 'boolean',
      negatable: true,
      description: 'Set the new profile as the default.',
      prompt: 'Set as default?',
      default: () => true,
    },
    {
      key: 'email',
      kind: 'string',
      description: 'Email of the default user (default: the `autofill.user.email` option).',
      prompt: 'Email Address (for sharing data)',
      required: true,
      default: () => autofill(config, 'autofill.user.email'),
      validate: (value) => {
        const email = String(value).trim();
        if (!email.includes('@')) throw new ValidationError(`\`${email}\` is not an email address`);
        return email;
      },
    },
    {
      key: 'first_name',
      kind: 'string',
      description: 'First name of the default user.',
      prompt: 'First name',
      default: () => autofill(config, 'autofill.user.first_name', 'John'),
    },
    {
      key: 'last_name',
      kind: 'string',
      description: 'Last name of the default user.',
      prompt: 'Last name',
      default: () => autofill(config, 'autofill.user.last_name', 'Doe'),
    },
    {
      key: 'institution',
      kind: 'string',
      description: 'Institution of the default user.',
      prompt: 'Institution',
      default: () => autofill(config, 'autofill.user.institution', 'Unknown'),
    },
    {
      key: 'use_rabbitmq',
      kind: 'boolean',
      negatable: true,
      description: 'Configure RabbitMQ as the broker (checked to be reachable); needed by the daemon.',
      prompt: 'Use RabbitMQ?',
      default: () => false,
    },
    ...brokerParams(),
    {
      key: 'test_profile',
      kind: 'boolean',
      description: 'Designate the profile to be used for running the test suite only.',
      default: () => false,
    },
  ];
}

/** The RabbitMQ connection parameters, used when `--use-rabbitmq` is given. */
export function brokerParams(): ParamSpec[] {
  const port = (value: unknown) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1 || number > 65_535)
      throw new ValidationError(`${String(value)} is not a port`);
    return number;
  };
  return [
    {
      key: 'broker_protocol',
      kind: 'string',
      description: 'Protocol to connect to the broker: amqp or amqps.',
      default: () => 'amqp',
      validate: (value) => {
        if (value !== 'amqp' && value !== 'amqps') throw new ValidationError('must be `amqp` or `amqps`');
        return value;
      },
    },
    {
      key: 'broker_username',
      kind: 'string',
      description: 'Username of the broker.',
      default: () => 'guest',
    },
    {
      key: 'broker_password',
      kind: 'string',
      description: 'Password of the broker.',
      default: () => 'guest',
    },
    {
      key: 'broker_host',
      kind: 'string',
      description: 'Hostname of the broker.',
      default: () => '127.0.0.1',
    },
    {
      key: 'broker_port',
      kind: 'integer',
      description: 'Port of the broker.',
      default: () => 5672,
      validate: port,
    },
    {
      key: 'broker_virtual_host',
      kind: 'string',
      description: 'Virtual host of the broker.',
      default: () => '',
    },
  ];
}

/** The storage parameters of each backend, with the `storage.config` keys AiiDA uses. */
export function storageParams(backend: SetupStorageBackend, config: () => Config): ParamSpec[] {
  switch (backend) {
    case 'core.sqlite_dos':
      return [
        {
          key: 'filepath',
          kind: 'string',
          description:
            'Folder for the database and the repository (default: a new folder under the config folder).',
          prompt: 'Filepath',
          default: () => defaultSqliteDosFolder(config()),
        },
      ];
    case 'core.psql_dos':
      return [
        {
          key: 'database_engine',
          kind: 'string',
          description: 'Engine of the database (kept for compatibility with aiida-core).',
          default: () => 'postgresql_psycopg',
        },
        {
          key: 'database_hostname',
          kind: 'string',
          description: 'Hostname of the PostgreSQL server.',
          prompt: 'Database hostname',
          default: () => 'localhost',
        },
        {
          key: 'database_port',
          kind: 'integer',
          description: 'Port of the PostgreSQL server.',
          prompt: 'Database port',
          default: () => 5432,
        },
        {
          key: 'database_username',
          kind: 'string',
          description: 'Name of the database user.',
          prompt: 'Database username',
          required: true,
        },
        {
          key: 'database_password',
          kind: 'string',
          description: 'Password of the database user.',
          prompt: 'Database password',
          default: () => '',
        },
        {
          key: 'database_name',
          kind: 'string',
          description: 'Name of the database (created when missing).',
          prompt: 'Database name',
          required: true,
        },
        {
          key: 'repository_uri',
          kind: 'string',
          description: 'URI of the file repository folder, `file:///absolute/path`.',
          prompt: 'Repository URI',
          default: (resolved) => defaultRepositoryUri(config(), String(resolved.profile_name)),
        },
      ];
    case 'core.sqlite_temp':
      return [];
  }
}
