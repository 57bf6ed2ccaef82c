import { ValidationError } from '../../errors.js';
import { Option, type Command } from 'commander';
import type { User } from '../../orm/entities/user.js';
import type { TransportAuthOption } from '../../transports/registry.js';
import type { Cli } from '../cli.js';
import { computerArgument } from './computer-argument.js';
import { UsageError } from '../exit-codes.js';
import { readConfigSource } from '../utils/params.js';

/** How an auth option's text is read. */
type AuthOptionKind =
  | { readonly type: 'boolean' }
  | { readonly type: 'integer' }
  | { readonly type: 'number' }
  | { readonly type: 'string' }
  | { readonly type: 'enum'; readonly values: readonly string[] };

interface ZodDefLike {
  readonly type: string;
  readonly innerType?: SchemaLike;
  readonly in?: SchemaLike;
  readonly entries?: Record<string, string>;
}
interface SchemaLike {
  readonly def: ZodDefLike;
  readonly isInt?: boolean;
}

/** The kind of value a zod field of an auth-param schema holds (defaults, optionals and transforms unwrapped). */
export function authOptionKind(schema: unknown): AuthOptionKind {
  const field = schema as SchemaLike;
  const def = field.def;
  switch (def.type) {
    case 'default':
    case 'optional':
    case 'nullable':
      return authOptionKind(def.innerType);
    case 'pipe':
      return authOptionKind(def.in);
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return field.isInt === true ? { type: 'integer' } : { type: 'number' };
    case 'enum':
      return { type: 'enum', values: Object.values(def.entries ?? {}) };
    default:
      return { type: 'string' };
  }
}

const flagOf = (name: string): string => `--${name.replaceAll('_', '-')}`;
const camel = (name: string): string =>
  name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** Text (from the command line, a prompt or YAML) to the value the schema wants; throws naming the problem. */
function parseAuthValue(option: TransportAuthOption, raw: unknown): unknown {
  const kind = authOptionKind(option.schema);
  let value: unknown = raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    switch (kind.type) {
      case 'boolean':
        if (['true', 'yes', 'y', '1', 'on'].includes(text.toLowerCase())) value = true;
        else if (['false', 'no', 'n', '0', 'off'].includes(text.toLowerCase())) value = false;
        else throw new ValidationError(`\`${raw}\` is not a boolean`);
        break;
      case 'integer':
        if (!/^[-+]?\d+$/.test(text)) throw new ValidationError(`\`${raw}\` is not an integer`);
        value = Number.parseInt(text, 10);
        break;
      case 'number':
        if (text === '' || !Number.isFinite(Number(text)))
          throw new ValidationError(`\`${raw}\` is not a number`);
        value = Number(text);
        break;
      default:
        value = raw;
    }
  }
  const parsed = option.schema.safeParse(value);
  if (!parsed.success)
    throw new ValidationError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return value;
}

function describeDefault(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Options of {@link resolveAuthParams}. */
interface ResolveAuthOptions {
  readonly options: readonly TransportAuthOption[];
  /** Parsed command line (camelCase keys). */
  readonly given: Record<string, unknown>;
  readonly fromFile: Record<string, unknown> | undefined;
  readonly fileSource: string | undefined;
  /** What is stored already, suggested before the transport's defaults. */
  readonly stored: Record<string, unknown>;
  readonly interactive: boolean;
  readonly cli: Cli;
  readonly transportType: string;
}

/**
 * The auth params to store: command line over `--config` over an answer over the stored value over the
 * transport's default. Options without a value are left out. Missing options that have no default in
 * non-interactive mode are a usage error naming each.
 */
async function resolveAuthParams(options: ResolveAuthOptions): Promise<Record<string, unknown>> {
  const byKey = new Map(options.options.map((option) => [option.name, option]));
  const fileValues = new Map<string, unknown>();
  for (const [rawKey, value] of Object.entries(options.fromFile ?? {})) {
    const key = rawKey.replaceAll('-', '_');
    if (!byKey.has(key)) {
      throw new UsageError(
        `unknown key \`${rawKey}\` in ${options.fileSource ?? '--config'}; ${options.transportType} takes: ` +
          [...byKey.keys()].join(', '),
      );
    }
    fileValues.set(key, value);
  }
  const result: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const option of options.options) {
    const where = flagOf(option.name);
    const finish = (value: unknown, source: string): unknown => {
      try {
        return parseAuthValue(option, value);
      } catch (error) {
        throw new UsageError(`invalid value for ${where}${source}: ${(error as Error).message}`, undefined, {
          cause: error,
        });
      }
    };
    const given = options.given[camel(option.name)];
    if (given !== undefined) {
      result[option.name] = finish(given, '');
      continue;
    }
    if (fileValues.has(option.name)) {
      const value = fileValues.get(option.name);
      if (value !== null && value !== '')
        result[option.name] = finish(value, ` (from ${options.fileSource})`);
      continue;
    }
    const suggestion = options.stored[option.name] ?? option.default;
    if (options.interactive) {
      const prompter = options.cli.prompt;
      if (authOptionKind(option.schema).type === 'boolean') {
        result[option.name] = await prompter.confirm(option.prompt, suggestion === true);
        continue;
      }
      const shown = describeDefault(suggestion);
      const answer = await prompter.ask<unknown>(option.prompt, {
        ...(shown === undefined ? {} : { default: shown }),
        allowEmpty: true,
        parse: (text) => (text === '' ? undefined : parseAuthValue(option, text)),
      });
      if (answer !== undefined) result[option.name] = answer;
      continue;
    }
    if (suggestion !== undefined && suggestion !== null) {
      if (option.nonInteractiveDefault === true || options.stored[option.name] !== undefined)
        result[option.name] = suggestion;
      else missing.push(where);
    }
  }
  if (missing.length > 0) {
    throw new UsageError(`missing option${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  return result;
}

/** The user of `--user EMAIL`, or the profile's default user; an unknown email is a usage error. */
export async function userByEmail(cli: Cli, email: string | undefined): Promise<User> {
  const storage = await cli.storage();
  const { User } = await import('../../orm/entities/user.js');
  if (email === undefined) return User.getDefault({ storage });
  const { NotExistentError } = await import('../../errors.js');
  try {
    return await User.get(email, { storage });
  } catch (error) {
    if (error instanceof NotExistentError)
      throw new UsageError(`no user with the email \`${email}\``, undefined, { cause: error });
    throw error;
  }
}

const computerOf = computerArgument;

/** `verdi computer configure <transport> COMPUTER` for one transport, its options made from the auth-param schema. */
function addTransportCommand(
  configure: Command,
  cli: Cli,
  transportType: string,
  options: TransportAuthOption[],
): void {
  const command = configure
    .command(transportType)
    .description(`Configure COMPUTER for the ${transportType} transport (for the default user, or --user).`)
    .argument('<computer>', 'Label, pk or uuid of the computer.')
    .option(
      '-u, --user <email>',
      'Email of the user to configure the computer for (default: the default user).',
    )
    .option('-n, --non-interactive', 'Never prompt: missing options take their defaults.')
    .option(
      '--config <file-or-url>',
      'Read option values from a YAML file (as `verdi computer export config` writes).',
    );
  for (const option of options) {
    const flag = flagOf(option.name);
    const kind = authOptionKind(option.schema);
    const shown = describeDefault(option.default);
    const help = `${option.help}${shown === undefined ? '' : ` [default: ${shown}]`}`;
    if (kind.type === 'boolean') {
      command.addOption(new Option(flag, help));
      command.addOption(new Option(`--no-${flag.slice(2)}`, `Unset ${flag}.`));
    } else {
      const entry = new Option(`${flag} <value>`, help);
      if (kind.type === 'enum') entry.choices([...kind.values]);
      command.addOption(entry);
    }
  }
  command.action(async (identifier: string, opts: Record<string, unknown>) => {
    const computer = await computerOf(cli, identifier);
    if (computer.transportType !== transportType) {
      cli.out.critical(
        `Computer ${computer.label} has transport of type "${computer.transportType}", not ${transportType}!`,
      );
    }
    const user = await userByEmail(cli, typeof opts.user === 'string' ? opts.user : undefined);
    const source = typeof opts.config === 'string' ? opts.config : undefined;
    const interactive = cli.prompt.interactive && opts.nonInteractive !== true;
    cli.out.report(`Configuring computer ${computer.label} for user ${user.email}.`);
    if (!user.isDefault()) cli.out.report('Configuring different user, defaults may not be appropriate.');
    const authParams = await resolveAuthParams({
      options,
      given: opts,
      fromFile: source === undefined ? undefined : await readConfigSource(source),
      fileSource: source,
      stored: await computer.getConfiguration(user),
      interactive,
      cli,
      transportType,
    });
    const { ValidationError } = await import('../../errors.js');
    try {
      await computer.configure(authParams, user);
    } catch (error) {
      if (error instanceof ValidationError) cli.out.critical(error.message);
      throw error;
    }
    cli.out.success(`${computer.label} successfully configured for ${user.email}`);
  });
}

/** One option as `--as-option-string` writes it, or undefined when it is not set. */
function optionString(
  option: TransportAuthOption,
  value: unknown,
  quote: (text: string) => string,
): string | undefined {
  if (value === undefined || value === null) return undefined;
  const flag = flagOf(option.name);
  if (authOptionKind(option.schema).type === 'boolean')
    return value === true ? flag : `--no-${flag.slice(2)}`;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `${flag}=${/^[\w./:@,+-]+$/u.test(text) ? text : quote(text)}`;
}

/**
 * The `verdi computer configure` group: `show COMPUTER` now, and one subcommand per registered transport added
 * by {@link addTransportConfigureCommands} only when the group runs (so `verdi computer …` does not load ssh2).
 */
export function addConfigureGroup(group: Command, cli: Cli): Command {
  const configure = group
    .command('configure')
    .description('Configure the transport of a computer for a user.');
  configure
    .command('show')
    .description('Show the transport configuration of a computer for a user.')
    .argument('<computer>', 'Label, pk or uuid of the computer.')
    .option('-u, --user <email>', 'Email of the user (default: the default user).')
    .option('--defaults', 'Show the transport defaults instead of the stored values.')
    .option('--as-option-string', 'Print the configuration as options of `verdi computer configure`.')
    .option('--json', 'Print the configuration as JSON.')
    .action(
      async (
        identifier: string,
        opts: { user?: string; defaults?: boolean; asOptionString?: boolean; json?: boolean },
      ) => {
        cli.out.json = opts.json === true;
        const computer = await computerOf(cli, identifier);
        const user = await userByEmail(cli, opts.user);
        const { getTransportAuthOptions } = await import('../../transports/registry.js');
        const options = getTransportAuthOptions(computer.transportType);
        const config: Record<string, unknown> =
          opts.defaults === true
            ? Object.fromEntries(options.map((option) => [option.name, option.default]))
            : await computer.getConfiguration(user);
        if (opts.json === true) {
          cli.out.printJson(config);
          return;
        }
        if (opts.asOptionString === true) {
          const { escapeForBash } = await import('../../transports/escaping.js');
          cli.out.echo(
            options
              .map((option) => optionString(option, config[option.name], escapeForBash))
              .filter((text) => text !== undefined)
              .join(' '),
          );
          return;
        }
        const width = Math.max(...options.map((option) => option.name.length)) + 2;
        for (const option of options) {
          const value = config[option.name];
          const shown = value === undefined || value === null ? '-' : describeDefault(value);
          cli.out.echo(`* ${option.name.padEnd(width)}${shown}`);
        }
      },
    );
  return configure;
}

/** Adds `verdi computer configure <transport>` for every registered transport (once). */
export async function addTransportConfigureCommands(configure: Command, cli: Cli): Promise<void> {
  const { getTransportAuthOptions, transportEntryPoints } = await import('../../transports/registry.js');
  for (const transportType of transportEntryPoints()) {
    if (configure.commands.some((command) => command.name() === transportType)) continue;
    addTransportCommand(configure, cli, transportType, getTransportAuthOptions(transportType));
  }
}
