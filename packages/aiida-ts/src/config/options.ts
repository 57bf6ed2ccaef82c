import { z } from 'zod';
import { ConfigurationError } from '../errors.js';
import { checkIdentifierPattern } from './identifier-pattern.js';

/** Log levels an option of the `logging.*` family accepts; `REPORT` is AiiDA's level between INFO and WARNING. */
export const LogLevel = z.enum(['CRITICAL', 'ERROR', 'WARNING', 'REPORT', 'INFO', 'DEBUG']);
export type LogLevel = z.infer<typeof LogLevel>;

/** How an option's value is written on the command line, which decides how `verdi config set` parses it. */
export const OptionKind = z.enum(['integer', 'boolean', 'string', 'loglevel', 'string-list']);
export type OptionKind = z.infer<typeof OptionKind>;

/** One configuration option: its schema, default and documentation. */
export interface OptionDefinition<T = unknown> {
  /** AiiDA's dotted name, e.g. `daemon.default_workers`. */
  readonly name: string;
  readonly kind: OptionKind;
  /** Schema every stored value must satisfy. */
  readonly schema: z.ZodType<T>;
  /** Value when set nowhere; `undefined` when the option has no default (it is then simply absent). */
  readonly default: T | undefined;
  readonly description: string;
  /** Only settable in the global `options`, never per profile (the `autofill.user.*` family, …). */
  readonly globalOnly: boolean;
  /** A running daemon only sees a new value after `verdi daemon restart`. */
  readonly requiresDaemonRestart: boolean;
  /** Name of the option that replaces this one, when deprecated. */
  readonly deprecatedBy?: string;
}

interface DefineOptions<T> {
  kind: OptionKind;
  /** Builds the schema, on first use: building every option's zod schema up front costs every command ~10 ms. */
  schema: () => z.ZodType<T>;
  default?: T;
  description: string;
  globalOnly?: boolean;
  requiresDaemonRestart?: boolean;
  deprecatedBy?: string;
}

function define<T>(name: string, spec: DefineOptions<T>): OptionDefinition<T> {
  let schema: z.ZodType<T> | undefined;
  return {
    name,
    kind: spec.kind,
    get schema() {
      schema ??= spec.schema();
      return schema;
    },
    default: spec.default,
    description: spec.description,
    globalOnly: spec.globalOnly ?? false,
    requiresDaemonRestart: spec.requiresDaemonRestart ?? false,
    ...(spec.deprecatedBy === undefined ? {} : { deprecatedBy: spec.deprecatedBy }),
  };
}

const int = (min: number, max?: number) => {
  const base = z.number().int().min(min);
  return max === undefined ? base : base.max(max);
};

const identifierPatterns = () =>
  z.array(z.string()).superRefine((patterns, ctx) => {
    patterns.forEach((pattern, index) => {
      const problem = checkIdentifierPattern(pattern);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [index] });
    });
  });

const logLevel = (name: string, fallback: LogLevel, what: string) =>
  define(name, {
    kind: 'loglevel',
    schema: () => LogLevel,
    default: fallback,
    description: `Minimum level to log to daemon log and the \`DbLog\` table for the ${what} logger.`,
    requiresDaemonRestart: true,
  });

// Loggers of Python libraries AiiDA configures: aiida-ts has no such loggers, but accepts the names so that a
// configuration written for aiida-core validates (their values are ignored).
const compatibilityLogLevel = (name: string, fallback: LogLevel, library: string) =>
  define(name, {
    kind: 'loglevel',
    schema: () => LogLevel,
    default: fallback,
    description: `Log level of the Python \`${library}\` logger in aiida-core; accepted for compatibility, no effect.`,
  });

/**
 * Every option aiida-ts knows, by AiiDA's dotted name (the v9 configuration schema's set). The order is the order
 * `verdi config list` prints them in after sorting.
 */
export const OPTIONS = [
  define('runner.poll.interval', {
    kind: 'integer',
    schema: () => int(0),
    default: 60,
    description: 'Polling interval in seconds to be used by process runners.',
    requiresDaemonRestart: true,
  }),
  define('daemon.default_workers', {
    kind: 'integer',
    schema: () => int(1),
    default: 1,
    description: 'Default number of workers to be launched by `verdi daemon start`.',
    requiresDaemonRestart: true,
  }),
  define('daemon.timeout', {
    kind: 'integer',
    schema: () => int(0),
    default: 2,
    description: 'Timeout in seconds for calls to the daemon.',
  }),
  define('daemon.worker_process_slots', {
    kind: 'integer',
    schema: () => int(1),
    default: 200,
    description: 'Maximum number of concurrent process tasks that each daemon worker can handle.',
    requiresDaemonRestart: true,
  }),
  define('daemon.recursion_limit', {
    kind: 'integer',
    schema: () => int(1, 100_000),
    default: 3000,
    description: 'Maximum recursion depth for the daemon workers.',
    requiresDaemonRestart: true,
  }),
  define('db.batch_size', {
    kind: 'integer',
    schema: () => int(1),
    default: 100_000,
    description: 'Batch size for bulk CREATE operations in the database.',
  }),
  define('verdi.shell.auto_import', {
    kind: 'string',
    schema: () => z.string(),
    default: '',
    description: 'Additional modules to be automatically loaded in `verdi shell`, split by `:`.',
  }),
  logLevel('logging.aiida_loglevel', 'REPORT', 'the `aiida`'),
  define('logging.verdi_loglevel', {
    kind: 'loglevel',
    schema: () => LogLevel,
    default: 'REPORT',
    description: 'Minimum level to log to the console when running a `verdi` command.',
  }),
  define('logging.db_loglevel', {
    kind: 'loglevel',
    schema: () => LogLevel,
    default: 'REPORT',
    description: 'Minimum level to log to the DbLog table.',
    requiresDaemonRestart: true,
  }),
  logLevel('logging.plumpy_loglevel', 'WARNING', 'the `plumpy`'),
  logLevel('logging.kiwipy_loglevel', 'WARNING', 'the `kiwipy`'),
  compatibilityLogLevel('logging.paramiko_loglevel', 'WARNING', 'paramiko'),
  compatibilityLogLevel('logging.alembic_loglevel', 'WARNING', 'alembic'),
  compatibilityLogLevel('logging.sqlalchemy_loglevel', 'WARNING', 'sqlalchemy'),
  compatibilityLogLevel('logging.circus_loglevel', 'INFO', 'circus'),
  compatibilityLogLevel('logging.aiopika_loglevel', 'WARNING', 'aio_pika'),
  define('warnings.showdeprecations', {
    kind: 'boolean',
    schema: () => z.boolean(),
    default: true,
    description: 'Whether to print AiiDA deprecation warnings.',
  }),
  define('warnings.development_version', {
    kind: 'boolean',
    schema: () => z.boolean(),
    default: true,
    description:
      'Whether to print a warning when a profile is loaded while a development version is installed.',
    globalOnly: true,
  }),
  define('warnings.rabbitmq_version', {
    kind: 'boolean',
    schema: () => z.boolean(),
    default: true,
    description: 'Whether to print a warning when an incompatible version of RabbitMQ is configured.',
  }),
  define('transport.task_retry_initial_interval', {
    kind: 'integer',
    schema: () => int(1),
    default: 20,
    description: 'Initial time interval for the exponential backoff mechanism.',
    requiresDaemonRestart: true,
  }),
  define('transport.task_maximum_attempts', {
    kind: 'integer',
    schema: () => int(1),
    default: 5,
    description: 'Maximum number of transport task attempts before a Process is Paused.',
    requiresDaemonRestart: true,
  }),
  define('rest_api.profile_switching', {
    kind: 'boolean',
    schema: () => z.boolean(),
    default: false,
    description: 'Toggle whether the profile can be specified in requests submitted to the REST API.',
    globalOnly: true,
  }),
  define('rmq.task_timeout', {
    kind: 'integer',
    schema: () => int(1),
    default: 10,
    description: 'Timeout in seconds for communications with RabbitMQ.',
    requiresDaemonRestart: true,
  }),
  define('storage.sandbox', {
    kind: 'string',
    schema: () => z.string().refine((path) => path.startsWith('/'), 'must be an absolute path'),
    description: 'Absolute path to the directory to store sandbox folders.',
  }),
  define('caching.default_enabled', {
    kind: 'boolean',
    schema: () => z.boolean(),
    default: false,
    description: 'Enable calculation caching by default.',
    requiresDaemonRestart: true,
  }),
  define('caching.enabled_for', {
    kind: 'string-list',
    schema: identifierPatterns,
    default: [],
    description: 'Calculation entry points to enable caching on.',
    requiresDaemonRestart: true,
  }),
  define('caching.disabled_for', {
    kind: 'string-list',
    schema: identifierPatterns,
    default: [],
    description: 'Calculation entry points to disable caching on.',
    requiresDaemonRestart: true,
  }),
  define('autofill.user.email', {
    kind: 'string',
    schema: () => z.string(),
    description: 'Default user email to use when creating new profiles.',
    globalOnly: true,
  }),
  define('autofill.user.first_name', {
    kind: 'string',
    schema: () => z.string(),
    description: 'Default user first name to use when creating new profiles.',
    globalOnly: true,
  }),
  define('autofill.user.last_name', {
    kind: 'string',
    schema: () => z.string(),
    description: 'Default user last name to use when creating new profiles.',
    globalOnly: true,
  }),
  define('autofill.user.institution', {
    kind: 'string',
    schema: () => z.string(),
    description: 'Default user institution to use when creating new profiles.',
    globalOnly: true,
  }),
] as const;

/** Name of a known option. */
export type OptionName = (typeof OPTIONS)[number]['name'];

/** The value type of each known option, keyed by name. */
export type OptionValues = {
  [K in (typeof OPTIONS)[number] as K['name']]: K extends OptionDefinition<infer T> ? T : never;
};

const BY_NAME: ReadonlyMap<string, OptionDefinition> = new Map(
  OPTIONS.map((option) => [option.name, option]),
);

/** Names of every known option, in registry order. */
export function getOptionNames(): OptionName[] {
  return OPTIONS.map((option) => option.name);
}

/** True when `name` is a known option. */
export function isOptionName(name: string): name is OptionName {
  return BY_NAME.has(name);
}

function closest(name: string): string[] {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i += 1) {
      let previous = row[0] ?? 0;
      row[0] = i;
      for (let j = 1; j <= b.length; j += 1) {
        const current = row[j] ?? 0;
        row[j] = Math.min(
          (row[j] ?? 0) + 1,
          (row[j - 1] ?? 0) + 1,
          previous + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
        previous = current;
      }
    }
    return row[b.length] ?? 0;
  };
  const tail = name.split('.').at(-1) ?? name;
  return getOptionNames()
    .map((candidate) => ({ candidate, score: distance(name, candidate) }))
    .filter(
      ({ candidate, score }) =>
        score <= Math.max(3, Math.floor(name.length / 3)) || (tail.length >= 4 && candidate.includes(tail)),
    )
    .sort((a, b) => a.score - b.score)
    .slice(0, 3)
    .map(({ candidate }) => candidate);
}

/**
 * Return the definition of an option.
 *
 * @throws ConfigurationError naming the option (and the closest known names) when it does not exist.
 */
export function getOption(name: string): OptionDefinition {
  const option = BY_NAME.get(name);
  if (option === undefined) {
    const matches = closest(name);
    const hint = matches.length > 0 ? ` Did you mean ${matches.map((m) => `\`${m}\``).join(', ')}?` : '';
    throw new ConfigurationError(`the option \`${name}\` does not exist.${hint}`);
  }
  return option;
}

/**
 * Validate a value for an option.
 *
 * @returns the value as stored.
 * @throws ConfigurationError naming the option and what is wrong with the value.
 */
export function validateOption(name: string, value: unknown): unknown {
  const option = getOption(name);
  const result = option.schema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => (issue.path.length > 0 ? `[${issue.path.join('.')}] ${issue.message}` : issue.message))
      .join('; ');
    throw new ConfigurationError(`invalid value for option \`${name}\`: ${problems}`, {
      cause: result.error,
    });
  }
  return result.data;
}

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', 'off', '0']);

/**
 * Turn a value typed on the command line into the option's type and validate it: integers from decimal strings,
 * booleans from `true/false/yes/no/on/off/1/0`, string lists split on whitespace (as `verdi config set` does).
 *
 * @throws ConfigurationError naming the option when the text does not parse or the value is invalid.
 */
export function parseOptionValue(name: string, text: string): unknown {
  const option = getOption(name);
  let value: unknown = text;
  switch (option.kind) {
    case 'integer':
      if (!/^[-+]?\d+$/.test(text.trim())) {
        throw new ConfigurationError(`invalid value for option \`${name}\`: \`${text}\` is not an integer`);
      }
      value = Number.parseInt(text, 10);
      break;
    case 'boolean': {
      const word = text.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) value = true;
      else if (FALSE_WORDS.has(word)) value = false;
      else throw new ConfigurationError(`invalid value for option \`${name}\`: \`${text}\` is not a boolean`);
      break;
    }
    case 'string-list':
      value = text.split(/\s+/).filter((item) => item !== '');
      break;
    case 'loglevel':
      value = text.trim().toUpperCase();
      break;
    case 'string':
      break;
  }
  return validateOption(name, value);
}

/** JSON schema of one option, for `verdi config show`. */
export function optionJsonSchema(option: OptionDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(option.schema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return {
    ...schema,
    ...(option.default === undefined ? {} : { default: option.default }),
    description: option.description,
    ...(option.globalOnly ? { global_only: true } : {}),
  };
}

/**
 * A deep copy of an option's value, as `structuredClone` makes it, without its cost for the JSON values options hold
 * (the engine reads the caching lists on every process it makes): primitives as they are, arrays and plain objects
 * copied, anything else cloned.
 */
export function copyOptionValue<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => copyOptionValue(item)) as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = copyOptionValue(item);
  return copy as T;
}
