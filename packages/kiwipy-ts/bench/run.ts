/**
 * kiwipy-ts benchmarks against a raw amqplib baseline doing the same work in the same run:
 *   1. task round trips per second (one publisher, one consumer, 1 kB payloads, pipelined),
 *   2. RPC round-trip latency p50/p99 (one call at a time),
 *   3. broadcast fan-out to 10 subscribers (deliveries per second).
 * Each prints its figures and the cost ratio kiwipy-ts / raw amqplib (1.0 = as cheap as raw). Both sides
 * are set up side by side and measured in alternating rounds (medians reported), so that load from other
 * processes on the machine affects both alike.
 *
 * Usage: pnpm --filter kiwipy-ts bench   (AMQP_URL overrides amqp://guest:guest@127.0.0.1:5672/;
 * BENCH_SCALE=0.2 makes every run shorter).
 */
import { randomUUID } from 'node:crypto';
import { silentLogger } from '../src/index.js';
import { connect, type RmqCommunicator } from '../src/rmq.js';
import { rawFanOut, rawRpcPair, rawTaskPair } from './raw-amqp.js';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const scale = Number(process.env.BENCH_SCALE ?? '1');
const ROUNDS = 6;
const TASKS_PER_ROUND = Math.max(200, Math.round(4_000 * scale));
const TASK_WINDOW = 500;
const RPCS_PER_ROUND = Math.max(50, Math.round(500 * scale));
const BROADCASTS_PER_ROUND = Math.max(50, Math.round(600 * scale));
const BROADCAST_WINDOW = 200;
const LISTENERS = 10;
const payload = { data: 'x'.repeat(1_000) }; // ~1 kB on the wire
/** BENCH_ONLY=tasks,rpc runs a subset. */
const only = new Set((process.env.BENCH_ONLY ?? 'tasks,rpc,broadcast').split(','));

function prefix(label: string): string {
  return `kiwipy-bench-${label}-${randomUUID().slice(0, 8)}`;
}

async function communicator(pre: string): Promise<RmqCommunicator> {
  return connect({ url, prefix: pre, testingMode: true, logger: silentLogger });
}

/** Runs `count` sends keeping at most `window` in flight; resolves with the elapsed milliseconds. */
async function pipelined(
  count: number,
  window: number,
  send: (i: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < count) {
      const i = next++;
      await send(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  return performance.now() - started;
}

/** Runs one round of each side per round, alternating which goes first; returns every round's figure. */
async function alternate(run: {
  kiwi: () => Promise<number>;
  raw: () => Promise<number>;
}): Promise<{ kiwi: number[]; raw: number[] }> {
  const kiwi: number[] = [];
  const raw: number[] = [];
  await run.kiwi(); // warm-up, not counted
  await run.raw();
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      kiwi.push(await run.kiwi());
      raw.push(await run.raw());
    } else {
      raw.push(await run.raw());
      kiwi.push(await run.kiwi());
    }
  }
  return { kiwi, raw };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 50);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('benchmark deliveries did not all arrive');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Task round trips per second. */
async function taskBench(): Promise<{ kiwi: number; raw: number }> {
  const pre = prefix('tasks');
  const sender = await communicator(pre);
  const worker = await communicator(pre);
  await worker.addTaskSubscriber((task) => (task as typeof payload).data.length);
  const raw = await rawTaskPair(url, prefix('raw-tasks'));
  try {
    const rates = await alternate({
      kiwi: async () =>
        (TASKS_PER_ROUND /
          (await pipelined(TASKS_PER_ROUND, TASK_WINDOW, () => sender.taskSend(payload).result))) *
        1000,
      raw: async () =>
        (TASKS_PER_ROUND / (await pipelined(TASKS_PER_ROUND, TASK_WINDOW, () => raw.send(payload)))) * 1000,
    });
    return { kiwi: median(rates.kiwi), raw: median(rates.raw) };
  } finally {
    await sender.close();
    await worker.close();
    await raw.close();
  }
}

/** Sequential RPC latencies (ms), sorted. */
async function rpcBench(): Promise<{ kiwi: number[]; raw: number[] }> {
  const pre = prefix('rpc');
  const client = await communicator(pre);
  const server = await communicator(pre);
  await server.addRpcSubscriber((message) => message, 'server');
  const pair = await rawRpcPair(url, prefix('raw-rpc'));
  const kiwi: number[] = [];
  const raw: number[] = [];
  let counting = false;
  async function calls(call: (i: number) => Promise<unknown>, into: number[]): Promise<number> {
    for (let i = 0; i < RPCS_PER_ROUND; i++) {
      const started = performance.now();
      await call(i);
      if (counting) into.push(performance.now() - started);
    }
    return 0;
  }
  try {
    await alternate({
      kiwi: async () => {
        const result = await calls((i) => client.rpcSend('server', i).result, kiwi);
        counting = true; // everything after the first (warm-up) round counts
        return result;
      },
      raw: () => calls((i) => pair.call(i), raw),
    });
    return { kiwi: kiwi.sort((a, b) => a - b), raw: raw.sort((a, b) => a - b) };
  } finally {
    await client.close();
    await server.close();
    await pair.close();
  }
}

/** Broadcast deliveries per second, summed over the listeners. */
async function broadcastBench(): Promise<{ kiwi: number; raw: number }> {
  const pre = prefix('bcast');
  const sender = await communicator(pre);
  const listeners: RmqCommunicator[] = [];
  let received = 0;
  for (let i = 0; i < LISTENERS; i++) {
    const listener = await communicator(pre);
    await listener.addBroadcastSubscriber(() => {
      received += 1;
    });
    listeners.push(listener);
  }
  const raw = await rawFanOut(url, prefix('raw-bcast'), LISTENERS);
  const deliveries = BROADCASTS_PER_ROUND * LISTENERS;
  try {
    const rates = await alternate({
      kiwi: async () => {
        const base = received;
        const started = performance.now();
        await pipelined(BROADCASTS_PER_ROUND, BROADCAST_WINDOW, () =>
          sender.broadcastSend(payload, { subject: 'bench' }),
        );
        await waitFor(() => received - base === deliveries, 60_000);
        return (deliveries / (performance.now() - started)) * 1000;
      },
      raw: async () => {
        const base = raw.received();
        const started = performance.now();
        await pipelined(BROADCASTS_PER_ROUND, BROADCAST_WINDOW, () => raw.send(payload));
        await waitFor(() => raw.received() - base === deliveries, 60_000);
        return (deliveries / (performance.now() - started)) * 1000;
      },
    });
    return { kiwi: median(rates.kiwi), raw: median(rates.raw) };
  } finally {
    await sender.close();
    await Promise.all(listeners.map((l) => l.close()));
    await raw.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `kiwipy-ts benchmarks against ${url.replace(/:[^:@/]+@/, ':***@')} (scale ${scale}, ${ROUNDS} alternating rounds)`,
  );

  if (only.has('tasks')) {
    const tasks = await taskBench();
    console.log(
      `tasks      ${fmt(tasks.kiwi)} round trips/s (raw amqplib ${fmt(tasks.raw)}/s)  cost ratio ${fmt(tasks.raw / tasks.kiwi, 2)}x` +
        `  [${TASKS_PER_ROUND} tasks/round, 1 kB, ${TASK_WINDOW} in flight; target >= 5,000/s and <= 1.3x]`,
    );
  }

  if (only.has('rpc')) {
    const rpc = await rpcBench();
    const kiwi50 = percentile(rpc.kiwi, 50);
    const raw50 = percentile(rpc.raw, 50);
    console.log(
      `rpc        p50 ${fmt(kiwi50, 3)} ms, p99 ${fmt(percentile(rpc.kiwi, 99), 3)} ms` +
        ` (raw amqplib p50 ${fmt(raw50, 3)} ms, p99 ${fmt(percentile(rpc.raw, 99), 3)} ms)  cost ratio ${fmt(kiwi50 / raw50, 2)}x` +
        `  [${rpc.kiwi.length} sequential calls each; target p50 < 1 ms and <= 1.3x]`,
    );
  }

  if (only.has('broadcast')) {
    const fanOut = await broadcastBench();
    console.log(
      `broadcast  ${fmt(fanOut.kiwi)} deliveries/s to ${LISTENERS} subscribers (raw amqplib ${fmt(fanOut.raw)}/s)` +
        `  cost ratio ${fmt(fanOut.raw / fanOut.kiwi, 2)}x  [${BROADCASTS_PER_ROUND} broadcasts/round, 1 kB, ${BROADCAST_WINDOW} in flight; target <= 1.3x]`,
    );
  }
}

await main();
