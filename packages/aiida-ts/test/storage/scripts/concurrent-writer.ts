/**
 * Child process of the multi-process test: opens a core.sqlite_dos profile and writes nodes as fast as it can,
 * one `store()` at a time and small provenance graphs with `storeAll()`, while sibling processes do the same.
 * Usage: concurrent-writer.ts <filepath> <writer-id> <count>
 */
import { CalcFunctionNode, Int, LinkType } from '../../../src/orm.js';
import { setDefaultStorage } from '../../../src/storage/context.js';
import { SqliteDosStorage } from '../../../src/storage/sqlite/sqlite-dos.js';

const [filepath, writerId, countText] = process.argv.slice(2);
if (filepath === undefined || writerId === undefined || countText === undefined)
  throw new Error('usage: <filepath> <id> <count>');
const plugin = new SqliteDosStorage();
const storage = await plugin.open(plugin.parseConfig({ filepath }), {
  defaultUserEmail: 'writer@aiida.localhost',
});
setDefaultStorage(storage);
const count = Number(countText);
for (let i = 0; i < count; i += 1) {
  await new Int(i, { label: `w${writerId}` }).store();
  if (i % 10 === 0) {
    const input = await new Int(i, { label: `w${writerId}-in` }).store();
    const calc = new CalcFunctionNode(undefined, { label: `w${writerId}-calc` });
    calc.processType = 'fixture.add';
    await calc.links.addIncoming(input, LinkType.INPUT_CALC, 'x');
    await calc.store();
    const output = new Int(i + 1, { label: `w${writerId}-out` });
    await output.links.addIncoming(calc, LinkType.CREATE, 'result');
    await output.store();
  }
}
await storage.close();
process.stdout.write(`writer ${writerId} done\n`);
