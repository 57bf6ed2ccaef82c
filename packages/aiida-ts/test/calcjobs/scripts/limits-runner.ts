/**
 * A runner OS process for the connection-limit test: `<storage> <code pk> <count> <sleep>` submits `count`
 * `ArithmeticAddCalculation`s at once, waits for all of them, and prints `{"done":[exit statuses]}`.
 */
import { ArithmeticAddCalculation, Runner } from '../../../src/engine.js';
import { wirePlugins } from '../../../src/config.js';
import { loadNode } from '../../../src/orm/loaders.js';
import type { InstalledCode } from '../../../src/orm.js';
import { setDefaultStorage } from '../../../src/storage/context.js';
import { SqliteDosStorage } from '../../../src/storage/sqlite/sqlite-dos.js';

const [filepath, codePk, count, sleep] = process.argv.slice(2);
if (filepath === undefined || codePk === undefined)
  throw new Error('usage: <storage> <code pk> <count> <sleep>');
const plugin = new SqliteDosStorage();
const storage = await plugin.open(plugin.parseConfig({ filepath }), {
  defaultUserEmail: 'tester@aiida.localhost',
});
setDefaultStorage(storage);
wirePlugins();
const runner = new Runner({ storage, pollInterval: 0.05, handleSignals: false });
const code = await loadNode<InstalledCode>(Number(codePk));
const nodes = [];
for (let i = 0; i < Number(count ?? 1); i += 1) {
  nodes.push(
    await runner.submit(ArithmeticAddCalculation, {
      x: i,
      y: 1,
      code,
      metadata: { options: { sleep: Number(sleep ?? 0) } as never },
    }),
  );
}
const done = await Promise.all(nodes.map((node) => runner.getProcessFuture(node.pk!)));
process.stdout.write(`${JSON.stringify({ done: done.map((node) => node.exitStatus) })}\n`);
await runner.close();
await storage.close();
