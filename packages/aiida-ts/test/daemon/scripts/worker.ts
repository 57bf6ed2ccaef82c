/**
 * A daemon worker in its own OS process, for the fault tests and the benchmark. Its settings come as JSON in
 * `AIIDA_TS_DAEMON_WORKER` (see `WorkerSpec` in ../services.ts): the storage to open (SQLite file or PostgreSQL
 * database), the broker (a RabbitMQ URL and prefix, or none), slots and lease time. Prints one JSON line once ready
 * (`{"ready":"<worker id>"}`) and one when stopped; SIGTERM stops it gracefully. `modules` are imported first.
 */
import { connect } from 'kiwipy-ts/rmq';
import { wirePlugins } from '../../../src/config/plugin-wiring.js';
import { startDaemonWorker } from '../../../src/engine/daemon/index.js';
import { setDefaultStorage } from '../../../src/storage/context.js';
import { parseWorkerSpec, openSpecStorage } from '../services.js';

const raw = process.env['AIIDA_TS_DAEMON_WORKER'];
if (raw === undefined) throw new Error('AIIDA_TS_DAEMON_WORKER is not set');
const spec = parseWorkerSpec(JSON.parse(raw));
wirePlugins();
const storage = await openSpecStorage(spec.storage);
setDefaultStorage(storage);
const broker =
  spec.broker === null
    ? null
    : await connect({
        url: spec.broker.url,
        prefix: spec.broker.prefix,
        testingMode: true,
        taskPrefetchCount: spec.slots,
        reconnect: { enabled: true, timeout: 60_000 },
      });
const say = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
const handle = await startDaemonWorker(undefined, {
  storage,
  communicator: broker,
  slots: spec.slots,
  leaseTtlMs: spec.leaseTtlMs,
  poll: spec.poll,
  modules: spec.modules,
  handleSignals: true,
});
say({ ready: handle.id });
const exit = await handle.done;
say({ stopped: exit.workerId, released: exit.released, abandoned: exit.abandoned });
await broker?.close();
await storage.close();
