/**
 * Daemon benchmark (plain tsx script): `tsx bench/daemon.ts [--workchains 1000] [--latency 20] [--workers 1,4]
 * [--skip-postgres] [--only-postgres] [--postgres-no-broker]`.
 *
 * Work chains calling two calcfunctions (`TwoSteps` of test/daemon/fixtures.ts) submitted to daemon workers running
 * in their own OS processes: the time until all are finished with 1 and with 4 workers, on SQLite without a broker
 * (workers poll the storage) and on PostgreSQL + RabbitMQ (the broker carries the tasks), against the floor: the
 * same work chains run in this process by one runner. Also the time from `submit()` returning to the first step
 * (the ctime of the first calcfunction's node), one submission at a time on idle workers (median). Beside each daemon
 * figure, how busy the machine's cores were meanwhile (all processes: workers, the submitting script, the database
 * and the broker), which tells where adding workers stops paying: at 100% the cores, not the daemon, are the limit.
 * aiida-core 2.8 on this kind of machine: 607 ms per work chain through its daemon with one worker. Targets: ≤ 10 ms
 * per work chain with 1 worker; submit → first step ≤ 20 ms with RabbitMQ, ≤ 250 ms polling only.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { connect } from 'kiwipy-ts/rmq';
import type { Communicator } from 'kiwipy-ts';
import { Runner } from '../src/engine.js';
import { RunnerOwnership } from '../src/engine/daemon/index.js';
import { processStateColumn } from '../src/engine/daemon/task-table.js';
import { Int } from '../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../src/orm/nodes/process/process.js';
import type { StorageBackend } from '../src/storage/backend.js';
import { setDefaultStorage } from '../src/storage/context.js';
import { TwoSteps } from '../test/daemon/fixtures.js';
import {
  openSharedStorage,
  spawnWorker,
  type SharedStorage,
  type SpawnedWorker,
} from '../test/daemon/services.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const WORKCHAINS = argument('workchains', 1000);
/** `--workers 1,2,4`: the worker counts to run (the throughput curve). */
const WORKER_COUNTS = (() => {
  const index = process.argv.indexOf('--workers');
  const list = index >= 0 ? (process.argv[index + 1] ?? '') : '1,4';
  const counts = list.split(',').map(Number);
  if (counts.some((count) => !Number.isInteger(count) || count < 1))
    throw new Error(`--workers must be a comma-separated list of worker counts, not ${JSON.stringify(list)}`);
  return counts;
})();
const LATENCY_SAMPLES = argument('latency', 20);
const SKIP_POSTGRES = process.argv.includes('--skip-postgres');
const ONLY_POSTGRES = process.argv.includes('--only-postgres');
const RABBITMQ = 'amqp://guest:guest@127.0.0.1:5672';
const AIIDA_CORE_MS = 607;

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** The machine's CPU time so far, busy and in all (ms, every core). */
function cpuTimes(): { busy: number; all: number } {
  let busy = 0;
  let all = 0;
  for (const { times } of cpus()) {
    const total = times.user + times.nice + times.sys + times.idle + times.irq;
    all += total;
    busy += total - times.idle;
  }
  return { busy, all };
}
const ms = (value: number): string => `${value.toFixed(1)} ms`;

/** How many TwoSteps nodes are finished (one query). */
async function finished(storage: StorageBackend): Promise<number> {
  const row = await storage
    .executor()
    .selectFrom('db_dbnode')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('process_type', '=', 'fixtures.TwoSteps')
    .where(processStateColumn(storage), '=', 'finished')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function until(probe: () => Promise<boolean>, intervalMs = 20): Promise<void> {
  while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, intervalMs));
}

/** The time from `submit()` returning to the first calcfunction node's creation, one at a time (median). */
async function firstStepLatency(runner: Runner, pause: number): Promise<number> {
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i += 1) {
    const node = await runner.submit(TwoSteps, { x: new Int(i) });
    const submitted = Date.now();
    const done = await runner.getProcessFuture(node.pk!);
    const calls = await done.base.links.getOutgoing({ linkType: 'call_calc' });
    const first = Math.min(...calls.all().map((link) => (link.node as ProcessNode).ctime.getTime()));
    latencies.push(first - submitted);
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  latencies.sort((a, b) => a - b);
  return latencies[Math.floor(latencies.length / 2)] ?? Number.NaN;
}

/** The floor: one runner in this process runs them all (submitted to run in its background). */
async function floor(shared: SharedStorage): Promise<{ total: number; latency: number }> {
  const runner = new Runner({ storage: shared.storage, pollInterval: 0.05 });
  const latency = await firstStepLatency(runner, 0);
  const before = await finished(shared.storage);
  const start = performance.now();
  for (let i = 0; i < WORKCHAINS; i += 1) await runner.submit(TwoSteps, { x: new Int(i) });
  await runner.awaitIdle();
  await until(async () => (await finished(shared.storage)) - before >= WORKCHAINS);
  const elapsed = performance.now() - start;
  await runner.close();
  return { total: elapsed, latency };
}

interface DaemonFigures {
  readonly total: number;
  readonly submit: number;
  readonly latency: number;
  /** How busy the machine's cores were from the first submission to the last work chain's end (%). */
  readonly busy: number;
}

/** `count` worker processes; the time for all work chains, and the median submit → first-step latency. */
async function daemon(
  shared: SharedStorage,
  count: number,
  broker: { url: string; prefix: string } | null,
): Promise<DaemonFigures> {
  const workers: SpawnedWorker[] = [];
  let client: Communicator | undefined;
  try {
    for (let i = 0; i < count; i += 1)
      workers.push(
        spawnWorker({
          storage: shared.spec,
          broker,
          slots: 200,
          leaseTtlMs: 10_000,
          poll: { minMs: 5, maxMs: 100 },
        }),
      );
    await Promise.all(workers.map((worker) => worker.ready));
    if (broker !== null)
      client = await connect({ url: broker.url, prefix: broker.prefix, testingMode: true });
    const runner = new Runner({
      storage: shared.storage,
      pollInterval: 0.05,
      ...(client === undefined ? {} : { communicator: client }),
      ownership: new RunnerOwnership(shared.storage, { broker: client }),
    });
    // latency: one at a time, on idle workers (the adaptive polling backs off between submissions)
    const latency = await firstStepLatency(runner, 150);
    const before = await finished(shared.storage);
    const cpuBefore = cpuTimes();
    const start = performance.now();
    for (let i = 0; i < WORKCHAINS; i += 1) await runner.submit(TwoSteps, { x: new Int(i) });
    const submit = performance.now() - start;
    await until(async () => (await finished(shared.storage)) - before >= WORKCHAINS);
    const total = performance.now() - start;
    const cpuAfter = cpuTimes();
    await runner.close();
    const busy = (100 * (cpuAfter.busy - cpuBefore.busy)) / Math.max(1, cpuAfter.all - cpuBefore.all);
    return { total, submit, latency, busy };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await client?.close().catch(() => undefined);
  }
}

async function profile(name: string, backend: 'sqlite' | 'psql', withBroker: boolean): Promise<void> {
  say(`\n## ${name}: ${WORKCHAINS} work chains calling two calcfunctions`);
  const shared = await openSharedStorage(backend);
  setDefaultStorage(shared.storage);
  try {
    const { total: base, latency: baseLatency } = await floor(shared);
    say(
      `in-process runner (floor): ${ms(base)} total, ${ms(base / WORKCHAINS)} per work chain; ` +
        `submit → first step ${ms(baseLatency)} (median of ${LATENCY_SAMPLES})`,
    );
    for (const count of WORKER_COUNTS) {
      const broker = withBroker
        ? { url: RABBITMQ, prefix: `aiida-ts-bench-${randomBytes(4).toString('hex')}` }
        : null;
      const figures = await daemon(shared, count, broker);
      const per = figures.total / WORKCHAINS;
      say(
        `daemon, ${count} worker${count > 1 ? 's' : ''}: ${ms(figures.total)} total (submitting ${ms(figures.submit)}), ` +
          `${ms(per)} per work chain = ${(figures.total / base).toFixed(2)}× the floor, ` +
          `${(AIIDA_CORE_MS / per).toFixed(0)}× faster than aiida-core's ${AIIDA_CORE_MS} ms; ` +
          `submit → first step ${ms(figures.latency)} (median of ${LATENCY_SAMPLES}; ` +
          `${(figures.latency / baseLatency).toFixed(1)}× the in-process one); ` +
          `the ${cpus().length} cores ${figures.busy.toFixed(0)}% busy while they ran`,
      );
    }
  } finally {
    setDefaultStorage(null);
    await shared.cleanup();
  }
}

if (!ONLY_POSTGRES) await profile('core.sqlite_dos, no broker (workers poll the storage)', 'sqlite', false);
if (!SKIP_POSTGRES) {
  await profile('core.psql_dos + RabbitMQ (the broker carries the tasks)', 'psql', true);
  if (process.argv.includes('--postgres-no-broker'))
    await profile('core.psql_dos, no broker (workers poll the storage)', 'psql', false);
}
