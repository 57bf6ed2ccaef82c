import { AsyncLocalStorage } from 'node:async_hooks';
import { getConfigOption } from '../../config/manager.js';
import { checkIdentifierPattern, matchWildcard } from '../../config/identifier-pattern.js';
import { ConfigurationError, ValidationError } from '../../errors.js';

/** Overrides of the caching configuration in force in a scope (aiida's `enable_caching` / `disable_caching`). */
interface CachingOverrides {
  readonly all: 'enable' | 'disable' | undefined;
  readonly enable: readonly string[];
  readonly disable: readonly string[];
}

const NONE: CachingOverrides = { all: undefined, enable: [], disable: [] };
const scope = new AsyncLocalStorage<CachingOverrides>();

/** Options of {@link enableCaching} and {@link disableCaching}. */
export interface CachingScopeOptions {
  /**
   * The process type (`aiida.calculations:core.arithmetic.add`, `mymodule.add`) or a pattern with `*` wildcards;
   * when omitted the override applies to every process.
   */
  readonly identifier?: string;
}

function checked(identifier: string | undefined): string | undefined {
  if (identifier === undefined) return undefined;
  if (typeof identifier !== 'string') throw new ValidationError('the caching identifier must be a string');
  const problem = checkIdentifierPattern(identifier);
  if (problem !== undefined) throw new ValidationError(problem);
  return identifier;
}

function withOverride<T>(options: CachingScopeOptions, action: 'enable' | 'disable', fn: () => T): T {
  const identifier = checked(options.identifier);
  const current = scope.getStore() ?? NONE;
  let next: CachingOverrides;
  if (identifier === undefined) next = { all: action, enable: [], disable: [] };
  else if (action === 'enable') {
    next = {
      all: current.all,
      enable: [...current.enable, identifier],
      disable: current.disable.filter((id) => id !== identifier),
    };
  } else {
    next = {
      all: current.all,
      enable: current.enable.filter((id) => id !== identifier),
      disable: [...current.disable, identifier],
    };
  }
  return scope.run(next, fn);
}

/**
 * Runs `fn` with caching enabled, for every process or for those matching `identifier`; everything `fn` starts,
 * also asynchronously, sees the override, and nothing outside it does (aiida's `enable_caching` context manager).
 */
export function enableCaching<T>(options: CachingScopeOptions, fn: () => T): T {
  return withOverride(options, 'enable', fn);
}

/** Runs `fn` with caching disabled, for every process or for those matching `identifier` (see {@link enableCaching}). */
export function disableCaching<T>(options: CachingScopeOptions, fn: () => T): T {
  return withOverride(options, 'disable', fn);
}

function stringList(name: string): string[] {
  const value = getConfigOption(name);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The caching configuration in force: the profile's options with the overrides of the current scope. */
export function cachingOptions(): {
  readonly defaultEnabled: boolean;
  readonly enabled: string[];
  readonly disabled: string[];
} {
  const overrides = scope.getStore() ?? NONE;
  // Enabling or disabling everything replaces the configuration (as aiida); identifiers given in scopes nested
  // inside still apply.
  const replaced = overrides.all !== undefined;
  let enabled = replaced ? [] : stringList('caching.enabled_for');
  let disabled = replaced ? [] : stringList('caching.disabled_for');
  for (const id of overrides.disable) {
    disabled.push(id);
    enabled = enabled.filter((item) => item !== id);
  }
  for (const id of overrides.enable) {
    enabled.push(id);
    disabled = disabled.filter((item) => item !== id);
  }
  for (const pattern of [...enabled, ...disabled]) {
    const problem = checkIdentifierPattern(pattern);
    if (problem !== undefined)
      throw new ConfigurationError(`Invalid identifier pattern in enable or disable list: ${problem}`);
  }
  const defaultEnabled = replaced
    ? overrides.all === 'enable'
    : getConfigOption('caching.default_enabled') === true;
  return { defaultEnabled, enabled, disabled };
}

/**
 * Whether processes of this type use the cache (aiida's `get_use_cache`): a matching pattern of
 * `caching.enabled_for`/`caching.disabled_for` decides, the most specific one when both lists match (one that every
 * other matching pattern also matches); otherwise `caching.default_enabled`. Equally specific rules that disagree are
 * a {@link ConfigurationError}.
 */
export function getUseCache(identifier: string | null | undefined): boolean {
  const { defaultEnabled, enabled, disabled } = cachingOptions();
  if (identifier === null || identifier === undefined) return defaultEnabled;
  if (typeof identifier !== 'string') throw new ValidationError('the caching identifier must be a string');
  const enableMatches = enabled.filter((pattern) => matchWildcard(identifier, pattern));
  const disableMatches = disabled.filter((pattern) => matchWildcard(identifier, pattern));
  if (enableMatches.length > 0 && disableMatches.length > 0) {
    const all = [...enableMatches, ...disableMatches];
    const mostSpecific = [
      ...enableMatches
        .filter((p) => all.every((other) => matchWildcard(p, other)))
        .map((pattern) => ({ pattern, use: true })),
      ...disableMatches
        .filter((p) => all.every((other) => matchWildcard(p, other)))
        .map((pattern) => ({ pattern, use: false })),
    ];
    if (mostSpecific.length > 1) {
      throw new ConfigurationError(
        `Invalid configuration: multiple matches for identifier \`${identifier}\`, but the most specific identifier is not unique. Candidates: ${mostSpecific.map((m) => m.pattern).join(', ')}`,
      );
    }
    if (mostSpecific.length === 0) {
      throw new ConfigurationError(
        `Invalid configuration: multiple matches for identifier \`${identifier}\`, but none of them is most specific.`,
      );
    }
    return mostSpecific[0]!.use;
  }
  if (enableMatches.length > 0) return true;
  if (disableMatches.length > 0) return false;
  return defaultEnabled;
}
