import type { z } from 'zod';
import { MissingEntryPointError } from '../errors.js';
import type { AuthOptionMeta } from './auth-params.js';
import { LocalTransport } from './local-transport.js';
import { SshTransport } from './ssh/ssh-transport.js';
import type { Transport } from './transport.js';

/** What the registry knows about a transport implementation (its class, statically). */
export interface TransportPlugin {
  /** Entry point name, e.g. `core.ssh`. */
  readonly entryPoint: string;
  /** zod schema of the auth params (snake_case keys, defaults filled in, unknown keys refused). */
  readonly authParamsSchema: z.ZodObject;
  /** Default `safe_interval` in seconds. */
  readonly defaultSafeOpenInterval: number;
  /** aiida's `DEFAULT_MINIMUM_JOB_POLL_INTERVAL` in seconds. */
  readonly defaultMinimumJobPollInterval: number;
  /** Build a closed transport to `machine` from stored auth params (validated). */
  fromAuthParams(machine: string, authParams?: Record<string, unknown>): Transport;
}

/** One auth option as `verdi computer configure` prompts for it. */
export interface TransportAuthOption extends AuthOptionMeta {
  /** The snake_case key stored in the AuthInfo. */
  readonly name: string;
  /** The default when the user gives nothing, if there is one. */
  readonly default: unknown;
  /** The zod schema of this one value. */
  readonly schema: z.ZodType;
}

const plugins = new Map<string, TransportPlugin>([
  [LocalTransport.entryPoint, LocalTransport],
  [SshTransport.entryPoint, SshTransport],
]);

/** Entry point names of the registered transports. */
export function transportEntryPoints(): string[] {
  return [...plugins.keys()];
}

/** Register a transport implementation under its entry point name (plugins call this once). */
export function registerTransport(plugin: TransportPlugin): void {
  plugins.set(plugin.entryPoint, plugin);
}

/** The implementation registered as `name`; fails with `MissingEntryPointError` naming the known ones. */
export function getTransportClass(name: string): TransportPlugin {
  const plugin = plugins.get(name);
  if (plugin === undefined) {
    throw new MissingEntryPointError(
      `no transport is registered as '${name}' (known: ${transportEntryPoints().join(', ')})`,
    );
  }
  return plugin;
}

/** Options of {@link createTransport}. */
export interface CreateTransportOptions {
  /** The computer's host name; default `localhost`. */
  readonly machine?: string;
}

/**
 * A new, closed transport of type `name` built from an AuthInfo's stored auth params (what
 * `Computer.getTransport()` does). Bad params fail with a `ValidationError` listing each key.
 */
export function createTransport(
  name: string,
  authParams: Record<string, unknown> = {},
  options: CreateTransportOptions = {},
): Transport {
  return getTransportClass(name).fromAuthParams(options.machine ?? 'localhost', authParams);
}

/** The auth options of transport `name`, in prompt order, with their prompt texts and defaults. */
export function getTransportAuthOptions(name: string): TransportAuthOption[] {
  const schema = getTransportClass(name).authParamsSchema;
  const defaults = schema.safeParse({});
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([key, field]) => {
    const meta = (field.meta() ?? {}) as Partial<AuthOptionMeta>;
    return {
      name: key,
      prompt: meta.prompt ?? key,
      help: meta.help ?? '',
      ...(meta.nonInteractiveDefault === undefined
        ? {}
        : { nonInteractiveDefault: meta.nonInteractiveDefault }),
      ...(meta.switch === undefined ? {} : { switch: meta.switch }),
      default: defaults.success ? defaults.data[key] : undefined,
      schema: field,
    };
  });
}
