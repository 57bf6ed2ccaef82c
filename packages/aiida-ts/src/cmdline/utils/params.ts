import { ValidationError } from '../../errors.js';
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../exit-codes.js';
import type { Prompter } from './prompt.js';

/** The type of a setup parameter, which decides how text is parsed. */
export type ParamKind = 'string' | 'integer' | 'boolean' | 'text';

/**
 * One parameter of a setup command (`verdi profile setup`, `verdi computer setup`): an option on the command line,
 * a key of the `--config` YAML file (AiiDA's parameter name, snake_case), and a prompt when interactive.
 */
export interface ParamSpec {
  /** The YAML key and the long option name with `_` for `-` (`profile_name` → `--profile-name`). */
  readonly key: string;
  /** Short flag, e.g. `-L`. */
  readonly short?: string;
  readonly kind: ParamKind;
  readonly description: string;
  /** Asked for when interactive and missing; when absent, the default is used without asking. */
  readonly prompt?: string;
  readonly required?: boolean;
  /** Value when neither given nor answered (also the suggested answer); sees the parameters resolved before it. */
  readonly default?: (resolved: Readonly<Record<string, unknown>>) => unknown;
  /** Check (and transform) a value; throw an Error whose message says what is wrong. */
  readonly validate?: (value: unknown) => unknown;
  /** Whether to prompt for it at all, given the parameters resolved before it (default: always). */
  readonly askIf?: (resolved: Readonly<Record<string, unknown>>) => boolean;
  /** Boolean parameters get `--x/--no-x`. */
  readonly negatable?: boolean;
}

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function flag(key: string): string {
  return `--${key.replaceAll('_', '-')}`;
}

/** Add each parameter to a commander command as an option (no commander defaults: they are applied later). */
export function addParamOptions(command: Command, specs: readonly ParamSpec[]): Command {
  for (const spec of specs) {
    const long = flag(spec.key);
    const flags = `${spec.short === undefined ? '' : `${spec.short}, `}${long}${spec.kind === 'boolean' ? '' : ' <value>'}`;
    const option = new Option(flags, spec.description);
    command.addOption(option);
    if (spec.kind === 'boolean' && spec.negatable === true) {
      command.addOption(
        new Option(
          `--no-${spec.key.replaceAll('_', '-')}`,
          `Do not ${spec.description.charAt(0).toLowerCase()}${spec.description.slice(1)}`,
        ),
      );
    }
  }
  return command;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function parseText(spec: ParamSpec, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  switch (spec.kind) {
    case 'integer': {
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string' && /^[-+]?\d+$/.test(value.trim())) return Number.parseInt(value, 10);
      throw new ValidationError(`\`${show(value)}\` is not an integer`);
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const word = show(value).trim().toLowerCase();
      if (['true', 'yes', 'y', '1', 'on'].includes(word)) return true;
      if (['false', 'no', 'n', '0', 'off'].includes(word)) return false;
      throw new ValidationError(`\`${show(value)}\` is not a boolean`);
    }
    case 'string':
    case 'text':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw new ValidationError(`expected a string, got ${JSON.stringify(value)}`);
  }
}

/**
 * Read the `--config` source of a setup command: a local YAML file or an http(s) URL serving one. The top level
 * must be a mapping of parameter names.
 *
 * @throws UsageError naming the source when it cannot be read or is not a YAML mapping.
 */
export async function readConfigSource(source: string): Promise<Record<string, unknown>> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    let response: Response;
    try {
      response = await fetch(source, { signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw new UsageError(
        `could not fetch the configuration from ${source}: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    }
    if (!response.ok)
      throw new UsageError(`could not fetch the configuration from ${source}: HTTP ${response.status}`);
    text = await response.text();
  } else {
    try {
      text = await readFile(source, 'utf8');
    } catch (error) {
      throw new UsageError(
        `could not read the configuration file ${source}: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    }
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new UsageError(`invalid YAML in ${source}: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`the configuration in ${source} must be a YAML mapping of option names to values`);
  }
  return parsed as Record<string, unknown>;
}

/** Options of {@link resolveParams}. */
export interface ResolveParamsOptions {
  /** What commander parsed (camelCase keys). */
  readonly given: Record<string, unknown>;
  /** Values from `--config` (snake_case keys, or the long option name with dashes). */
  readonly fromFile?: Record<string, unknown>;
  /** Where `--config` came from, for messages. */
  readonly fileSource?: string;
  /** Ask for missing values with a prompt (only when a person is at the terminal and `-n` was not given). */
  readonly prompter?: Prompter;
  readonly interactive: boolean;
  /** The command, for the usage hint. */
  readonly commandName: string;
}

/**
 * Work out the value of every parameter: the command line wins over the `--config` file, which wins over an
 * interactive answer, which wins over the default. When not interactive, missing required parameters are an error
 * naming each missing option.
 *
 * @returns values keyed by the parameter key (snake_case).
 * @throws UsageError naming unknown `--config` keys, invalid values, or missing options.
 */
export async function resolveParams(
  specs: readonly ParamSpec[],
  options: ResolveParamsOptions,
): Promise<Record<string, unknown>> {
  const fileValues: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(options.fromFile ?? {})) {
    const key = rawKey.replaceAll('-', '_');
    if (!specs.some((spec) => spec.key === key)) {
      const known = specs.map((spec) => spec.key).join(', ');
      throw new UsageError(
        `unknown key \`${rawKey}\` in ${options.fileSource ?? 'the configuration file'}; known keys: ${known}`,
      );
    }
    fileValues[key] = value;
  }
  const result: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const spec of specs) {
    const where = flag(spec.key);
    const finish = (value: unknown, source: string): unknown => {
      try {
        const parsed = parseText(spec, value);
        return spec.validate === undefined || parsed === undefined ? parsed : spec.validate(parsed);
      } catch (error) {
        throw new UsageError(`invalid value for ${where}${source}: ${(error as Error).message}`, undefined, {
          cause: error,
        });
      }
    };
    let value: unknown = options.given[camel(spec.key)];
    if (value !== undefined) {
      result[spec.key] = finish(value, '');
      continue;
    }
    if (spec.key in fileValues) {
      result[spec.key] = finish(fileValues[spec.key], ` (from ${options.fileSource ?? '--config'})`);
      continue;
    }
    const fallback = spec.default?.(result);
    if (
      options.interactive &&
      options.prompter !== undefined &&
      spec.prompt !== undefined &&
      (spec.askIf?.(result) ?? true)
    ) {
      const prompter = options.prompter;
      if (spec.kind === 'boolean') {
        value = await prompter.confirm(spec.prompt, fallback === true);
      } else {
        value = await prompter.ask(spec.prompt, {
          ...(fallback === undefined || fallback === null
            ? {}
            : { default: String(fallback as string | number) }),
          allowEmpty: spec.required !== true,
          parse: (answer) => finish(answer === '' ? fallback : answer, ''),
        });
      }
      result[spec.key] = value;
      continue;
    }
    if (fallback !== undefined) {
      result[spec.key] = finish(fallback, '');
      continue;
    }
    if (spec.required === true) missing.push(where);
  }
  if (missing.length > 0) {
    throw new UsageError(
      `missing option${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (give ${missing.length > 1 ? 'them' : 'it'} on the command line or in --config)`,
      `(run \`${options.commandName} --help\` for usage)`,
    );
  }
  return result;
}
