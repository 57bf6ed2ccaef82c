import {
  ConfigurationError,
  MissingEntryPointError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import type { ComputerPluginHooks } from '../orm/entities/computer.js';
import { loadScheduler } from '../schedulers/registry.js';
import { getTransportClass, type TransportPlugin } from '../transports/registry.js';

/** The transport plugin registered as `transportType`; `ConfigurationError` naming the computer otherwise. */
function transportPlugin(transportType: string, computerLabel?: string): TransportPlugin {
  try {
    return getTransportClass(transportType);
  } catch (error) {
    if (!(error instanceof MissingEntryPointError)) throw error;
    const who = computerLabel === undefined ? '' : ` for ${computerLabel}`;
    throw new ConfigurationError(`No transport found${who} [type ${transportType}]: ${error.message}`, {
      cause: error,
    });
  }
}

/**
 * Every problem of a set of auth params for `transportType`: each key the transport does not know (with the
 * keys it does) and each value its schema refuses. Empty when the params are valid.
 */
export function authParamIssues(
  transportType: string,
  authParams: Readonly<Record<string, unknown>>,
): ValidationIssue[] {
  const schema = transportPlugin(transportType).authParamsSchema;
  const known = Object.keys(schema.shape);
  const issues: ValidationIssue[] = [];
  const knownParams: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(authParams)) {
    if (known.includes(key)) knownParams[key] = value;
    else
      issues.push({
        path: key,
        message: `not an auth parameter of ${transportType} (valid: ${known.join(', ')})`,
      });
  }
  const parsed = schema.safeParse(knownParams);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      issues.push({ path: issue.path.map(String).join('.'), message: issue.message });
  }
  return issues;
}

/** `ValidationError` listing every bad key of `authParams` (see {@link authParamIssues}). */
export function validateAuthParams(
  transportType: string,
  authParams: Readonly<Record<string, unknown>>,
): void {
  const issues = authParamIssues(transportType, authParams);
  if (issues.length > 0)
    throw new ValidationError(`invalid authentication parameters for ${transportType}`, issues);
}

/**
 * The hooks the ORM uses unless others are installed: auth params checked against the transport's zod schema,
 * transports and schedulers made by their registries. The ORM imports this module on first use only.
 */
export const defaultComputerPluginHooks: Required<ComputerPluginHooks> = {
  validateAuthParams,
  safeOpenInterval(transportType, authParams) {
    const schema = transportPlugin(transportType).authParamsSchema;
    const parsed = schema.safeParse(authParams);
    const value = parsed.success ? (parsed.data as { safe_interval?: unknown }).safe_interval : undefined;
    return typeof value === 'number' ? value : transportPlugin(transportType).defaultSafeOpenInterval;
  },
  createTransport({ computer, authInfo }) {
    return transportPlugin(computer.transportType, computer.label).fromAuthParams(
      computer.hostname,
      authInfo.getAuthParams(),
    );
  },
  createScheduler({ computer, transport }) {
    try {
      return loadScheduler(computer.schedulerType, transport === undefined ? {} : { transport });
    } catch (error) {
      if (!(error instanceof MissingEntryPointError)) throw error;
      throw new ConfigurationError(
        `No scheduler found for ${computer.label} [type ${computer.schedulerType}]: ${error.message}`,
        { cause: error },
      );
    }
  },
};
