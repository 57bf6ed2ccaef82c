import { MissingEntryPointError, ValidationError } from '../errors.js';

/** The entry point groups of the engine's plugins, with aiida's names. */
export const EntryPointGroup = {
  CALCULATIONS: 'aiida.calculations',
  CALCULATION_IMPORTERS: 'aiida.calculations.importers',
  PARSERS: 'aiida.parsers',
  WORKFLOWS: 'aiida.workflows',
} as const;
export type EntryPointGroup = (typeof EntryPointGroup)[keyof typeof EntryPointGroup];

type Loader = () => Promise<unknown>;
interface Entry {
  value?: unknown;
  loader?: Loader;
}

const groups = new Map<EntryPointGroup, Map<string, Entry>>();
const names = new Map<unknown, { group: EntryPointGroup; name: string }>();

// aiida-core's built-in entry points are registered by the wiring of a profile (`wirePlugins` in `aiida-ts/config`):
// the modules they name register themselves here, so this registry may not import them back.
function groupOf(group: EntryPointGroup): Map<string, Entry> {
  let entries = groups.get(group);
  if (entries === undefined) groups.set(group, (entries = new Map<string, Entry>()));
  return entries;
}

const NAME = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

/**
 * Registers a plugin under an entry point (what a plugin package's `pyproject.toml` entry points do in aiida): a
 * class or function, or a loader that imports it on first use. Registering a loaded value under a name that only has
 * a loader completes the entry; another value under a taken name is refused unless `replace`.
 */
export function registerEntryPoint(
  group: EntryPointGroup,
  name: string,
  value: { readonly loader: Loader } | { readonly value: unknown },
  options: { readonly replace?: boolean } = {},
): void {
  if (!NAME.test(name)) throw new ValidationError(`'${name}' is not a valid entry point name`);
  const entries = groupOf(group);
  const existing = entries.get(name);
  if ('value' in value) {
    if (existing?.value !== undefined && existing.value !== value.value && options.replace !== true)
      throw new ValidationError(`the entry point '${group}:${name}' is already registered`);
    entries.set(name, { ...existing, value: value.value });
    names.set(value.value, { group, name });
    return;
  }
  if (existing !== undefined && options.replace !== true) {
    if (existing.loader === undefined) entries.set(name, { ...existing, loader: value.loader });
    return;
  }
  entries.set(name, { loader: value.loader });
}

/** The plugin registered as `group:name` (imported on first use); `MissingEntryPointError` when there is none. */
export async function loadEntryPoint(group: EntryPointGroup, name: string): Promise<unknown> {
  const entry = groupOf(group).get(name);
  if (entry === undefined) {
    throw new MissingEntryPointError(
      `Entry point '${name}' not found in group '${group}'` +
        (groupOf(group).size > 0
          ? `; known: ${listEntryPoints(group).join(', ')}`
          : ' (none is registered: load a profile, or call wirePlugins() from aiida-ts/config)'),
    );
  }
  if (entry.value !== undefined) return entry.value;
  if (entry.loader === undefined)
    throw new MissingEntryPointError(`Entry point '${name}' of group '${group}' cannot be loaded`);
  const value = await entry.loader();
  // The module registers the value itself when it loads; a loader returning it directly works too.
  const loaded = groupOf(group).get(name)?.value ?? value;
  registerEntryPoint(group, name, { value: loaded }, { replace: true });
  return loaded;
}

/** The entry point a loaded plugin is registered under, if any. */
export function entryPointOf(value: unknown): { group: EntryPointGroup; name: string } | undefined {
  return names.get(value);
}

/** The names registered in a group, sorted. */
export function listEntryPoints(group: EntryPointGroup): string[] {
  return [...groupOf(group).keys()].sort();
}

/** Whether `group:name` is registered. */
export function hasEntryPoint(group: EntryPointGroup, name: string): boolean {
  return groupOf(group).has(name);
}

/** `group:name` as aiida writes it in a `process_type`. */
export function formatEntryPoint(group: EntryPointGroup, name: string): string {
  return `${group}:${name}`;
}

/** `[group, name]` of an entry point string (`aiida.calculations:core.arithmetic.add`), or undefined. */
export function parseEntryPointString(value: string): [EntryPointGroup, string] | undefined {
  const index = value.indexOf(':');
  if (index === -1) return undefined;
  const group = value.slice(0, index);
  if (!(Object.values(EntryPointGroup) as string[]).includes(group)) return undefined;
  return [group as EntryPointGroup, value.slice(index + 1)];
}
