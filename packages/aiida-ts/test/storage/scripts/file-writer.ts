/**
 * Child process of the maintenance race test: opens a storage (bypassing the profile access records, as a process
 * of another configuration folder or another host would) and stores nodes with a file each, one `store()` at a
 * time, while the parent runs full maintenance over and over. Prints `stored <pk>` per node and `done` at the end.
 * Usage: file-writer.ts <entry-point> <storage-config-json> <count> <tag>
 */
import { SinglefileData } from '../../../src/orm.js';
import { setDefaultStorage } from '../../../src/storage/context.js';
import { openStorage } from '../../../src/storage/factory.js';

const [entryPoint, configJson, countText, tag] = process.argv.slice(2);
if (entryPoint === undefined || configJson === undefined || countText === undefined || tag === undefined)
  throw new Error('usage: file-writer.ts <entry-point> <config-json> <count> <tag>');
const storage = await openStorage(entryPoint, JSON.parse(configJson), {
  defaultUserEmail: 'writer@aiida.localhost',
});
setDefaultStorage(storage);
for (let i = 0; i < Number(countText); i += 1) {
  const node = await SinglefileData.fromString(`${tag} file ${i} `.repeat((i % 13) + 1));
  await node.store();
  process.stdout.write(`stored ${node.pk}\n`);
}
await storage.close();
process.stdout.write('done\n');
