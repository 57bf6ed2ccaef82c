/**
 * A runner OS process for the crash tests: `submit <storage> <code pk> <x> <y> <sleep> <prepend>` submits an
 * `ArithmeticAddCalculation` and waits for it; `continue <storage> <pk>` continues a job from its checkpoint. Prints
 * one JSON line per event (`{"pk":…}` once the node exists, `{"done":…}` at the end). `AIIDA_TS_FAULT_INJECT` makes it
 * die (SIGKILL) at a named point of the job's life.
 */
import { ArithmeticAddCalculation, Runner } from '../../../src/engine.js';
import { loadNode } from '../../../src/orm/loaders.js';
import type { InstalledCode, ProcessNode } from '../../../src/orm.js';
import { setDefaultStorage } from '../../../src/storage/context.js';
import { SqliteDosStorage } from '../../../src/storage/sqlite/sqlite-dos.js';
import { wirePlugins } from '../../../src/config/plugin-wiring.js';

const [mode, filepath, ...rest] = process.argv.slice(2);
if (mode === undefined || filepath === undefined) throw new Error('usage: submit|continue <storage> …');
const plugin = new SqliteDosStorage();
const storage = await plugin.open(plugin.parseConfig({ filepath }), {
  defaultUserEmail: 'tester@aiida.localhost',
});
setDefaultStorage(storage);
wirePlugins(); // as loadProfile does: the job reaches the transport and scheduler registries
const runner = new Runner({ storage, pollInterval: 0.05, handleSignals: false });
const say = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

if (mode === 'submit') {
  const [codePk, x, y, sleep, prepend] = rest;
  const code = await loadNode<InstalledCode>(Number(codePk));
  const node = await runner.submit(ArithmeticAddCalculation, {
    x: Number(x),
    y: Number(y),
    code,
    metadata: { options: { sleep: Number(sleep), prepend_text: prepend ?? '' } as never },
  });
  say({ pk: node.pk });
  const done = await runner.getProcessFuture(node.pk!);
  say({ done: done.exitStatus });
} else {
  const pk = Number(rest[0]);
  await runner.continueProcess(pk);
  say({ done: (await loadNode<ProcessNode>(pk)).exitStatus });
}
await runner.close();
await storage.close();
