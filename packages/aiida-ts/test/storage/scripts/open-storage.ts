import type { StorageBackend } from '../../../src/storage/backend.js';
import { PsqlDosStorage } from '../../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../../../src/storage/sqlite/sqlite-dos.js';

/** Opens the storage a test handed to a child process as `<entry point> <config JSON>` arguments. */
export async function openTestStorage(
  entryPoint: string | undefined,
  configText: string | undefined,
): Promise<StorageBackend> {
  if (configText === undefined) throw new TypeError('usage: <entry point> <storage config as JSON>');
  const config: unknown = JSON.parse(configText);
  const options = { defaultUserEmail: 'tester@aiida.localhost' };
  if (entryPoint === 'core.sqlite_dos') {
    const plugin = new SqliteDosStorage();
    return plugin.open(plugin.parseConfig(config), options);
  }
  if (entryPoint === 'core.psql_dos') {
    // a few connections are all a child needs; the shared server has a connection limit
    const plugin = new PsqlDosStorage({ poolSize: 4 });
    return plugin.open(plugin.parseConfig(config), options);
  }
  throw new TypeError(`a child process cannot open a \`${String(entryPoint)}\` storage`);
}
