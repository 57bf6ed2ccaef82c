/**
 * Child process of the SIGKILL test: imports an archive into a `core.sqlite_dos` storage and, once the node rows
 * are written inside the import's transaction, prints `MIDWAY` and waits to be killed.
 */
import { SqliteDosStorage } from '../../../src/storage/sqlite/sqlite-dos.js';
import { importArchive } from '../../../src/tools/archive/import.js';

const [filepath, archive] = process.argv.slice(2);
if (filepath === undefined || archive === undefined)
  throw new Error('usage: import-and-hang <storage> <archive>');
const plugin = new SqliteDosStorage();
const storage = await plugin.open(plugin.parseConfig({ filepath }), {
  defaultUserEmail: 'tester@aiida.localhost',
});
await importArchive(archive, {
  storage,
  afterNodes: async () => {
    process.stdout.write('MIDWAY\n');
    // keep the event loop alive: the parent kills this process here, in the middle of the transaction
    setInterval(() => undefined, 1 << 30);
    await new Promise(() => undefined);
  },
});
