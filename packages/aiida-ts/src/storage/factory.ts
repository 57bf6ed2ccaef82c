import { MissingEntryPointError } from '../errors.js';
import type { OpenOptions, StorageBackend, StoragePlugin } from './backend.js';
import { PsqlDosStorage } from './postgres/psql-dos.js';
import { SqliteDosStorage } from './sqlite/sqlite-dos.js';
import { SqliteTempStorage } from './sqlite/sqlite-temp.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- plugins differ in their config type
type AnyStoragePlugin = StoragePlugin<any>;

const plugins = new Map<string, AnyStoragePlugin>();

/** Registers (or replaces) a storage plugin under its entry point name, as `aiida.storage` entry points do. */
export function registerStoragePlugin(plugin: AnyStoragePlugin, name: string = plugin.entryPoint): void {
  plugins.set(name, plugin);
}

/** The storage plugin registered as `entryPoint` (`core.sqlite_dos`, `core.psql_dos`, `core.sqlite_temp`, …). */
export function getStoragePlugin(entryPoint: string): AnyStoragePlugin {
  const plugin = plugins.get(entryPoint);
  if (plugin === undefined) {
    throw new MissingEntryPointError(
      `Entry point '${entryPoint}' not found in group 'aiida.storage'; known: ${[...plugins.keys()].sort().join(', ')}`,
    );
  }
  return plugin;
}

/** The names of every registered storage plugin. */
export function listStoragePlugins(): string[] {
  return [...plugins.keys()].sort();
}

/**
 * Opens the storage of a profile from its `storage.backend` and `storage.config`: validates the config with
 * the plugin's schema, then opens (refusing an outdated schema with `IncompatibleStorageSchemaError`).
 */
export async function openStorage(
  backend: string,
  config: unknown,
  options: OpenOptions = {},
): Promise<StorageBackend> {
  const plugin = getStoragePlugin(backend);
  return plugin.open(plugin.parseConfig(config), options);
}

registerStoragePlugin(new SqliteDosStorage());
registerStoragePlugin(new PsqlDosStorage());
registerStoragePlugin(new SqliteTempStorage());
