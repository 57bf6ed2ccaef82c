/**
 * kiwipy-ts benchmarks against a raw amqplib baseline doing the same work in the same run:
 *   1. task round trips per second (one publisher, one consumer, 1 kB payloads, pipelined),
 *   2. RPC round-trip latency p50/p99 (one call at a time),
 *   3. broadcast fan-out to 10 subscribers (deliveries per second).
 * Each prints its figures and the cost ratio kiwipy-ts / raw amqplib (1.0 = as cheap as raw).
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
const TASKS = Math.round(20_000 * scale);
const TASK_WINDOW = 500;
const RPCS = Math.round(3_000 * scale);
const BROADCASTS = Math.round(3_000 * scale);
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
  await Promise.all(Array.from({ length: window }, lane));
  return performance.now() - started;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function taskBench(): Promise<{ kiwi: number; raw: number }> {
  const pre = prefix('tasks');
  const sender = await communicator(pre);
  const worker = await communicator(pre);
  await worker.addTaskSubscriber((task) => (task as typeof payload).data.length);
  await pipelined(1_000, TASK_WINDOW, () => sender.taskSend(payload).result); // warm-up
  const kiwiMs = await pipelined(TASKS, TASK_WINDOW, () => sender.taskSend(payload).result);
  await sender.close();
  await worker.close();

  const raw = await rawTaskPair(url, prefix('raw-tasks'));
  await pipelined(1_000, TASK_WINDOW, () => raw.send(payload));
  const rawMs = await pipelined(TASKS, TASK_WINDOW, () => raw.send(payload));
  await raw.close();
  return { kiwi: (TASKS / kiwiMs) * 1000, raw: (TASKS / rawMs) * 1000 };
}

async function rpcBench(): Promise<{ kiwi: number[]; raw: number[] }> {
  const pre = prefix('rpc');
  const client = await communicator(pre);
  const server = await communicator(pre);
  await server.addRpcSubscriber((message) => message, 'server');
  const kiwi: number[] = [];
  for (let i = 0; i < RPCS + 200; i++) {
    const started = performance.now();
    await client.rpcSend('server', i).result;
    if (i >= 200) kiwi.push(performance.now() - started); // the first 200 warm up
  }
  await client.close();
  await server.close();

  const pair = await rawRpcPair(url, prefix('raw-rpc'));
  const raw: number[] = [];
  for (let i = 0; i < RPCS + 200; i++) {
    const started = performance.now();
    await pair.call(i);
    if (i >= 200) raw.push(performance.now() - started);
  }
  await pair.close();
  return { kiwi: kiwi.sort((a, b) => a - b), raw: raw.sort((a, b) => a - b) };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('benchmark deliveries did not all arrive');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

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
  await pipelined(200, BROADCAST_WINDOW, () => sender.broadcastSend(payload, { subject: 'bench' }));
  await waitFor(() => received === 200 * LISTENERS, 30_000);
  received = 0;
  const started = performance.now();
  await pipelined(BROADCASTS, BROADCAST_WINDOW, () => sender.broadcastSend(payload, { subject: 'bench' }));
  await waitFor(() => received === BROADCASTS * LISTENERS, 60_000);
  const kiwiMs = performance.now() - started;
  await sender.close();
  await Promise.all(listeners.map((l) => l.close()));

  const raw = await rawFanOut(url, prefix('raw-bcast'), LISTENERS);
  await pipelined(200, BROADCAST_WINDOW, () => raw.send(payload));
  await waitFor(() => raw.received() === 200 * LISTENERS, 30_000);
  const rawStart = performance.now();
  const base = raw.received();
  await pipelined(BROADCASTS, BROADCAST_WINDOW, () => raw.send(payload));
  await waitFor(() => raw.received() - base === BROADCASTS * LISTENERS, 60_000);
  const rawMs = performance.now() - rawStart;
  await raw.close();
  const deliveries = BROADCASTS * LISTENERS;
  return { kiwi: (deliveries / kiwiMs) * 1000, raw: (deliveries / rawMs) * 1000 };
}

async function main(): Promise<void> {
  console.log(`kiwipy-ts benchmarks against ${url.replace(/:[^:@/]+@/, ':***@')} (scale ${scale})`);

  if (only.has('tasks')) {
    const tasks = await taskBench();
    console.log(
      `tasks      ${fmt(tasks.kiwi)} round trips/s (raw amqplib ${fmt(tasks.raw)}/s)  cost ratio ${fmt(tasks.raw / tasks.kiwi, 2)}x` +
        `  [${TASKS} tasks, 1 kB, ${TASK_WINDOW} in flight; target >= 5,000/s and <= 1.3x]`,
    );
  }
  if (only.has('rpc')) {
    const rpc = await rpcBench();
    const kiwi50 = percentile(rpc.kiwi, 50);
    const raw50 = percentile(rpc.raw, 50);
    console.log(
      `rpc        p50 ${fmt(kiwi50, 3)} ms, p99 ${fmt(percentile(rpc.kiwi, 99), 3)} ms (raw amqplib p50 ${fmt(raw50, 3)} ms, p99 ${fmt(percentile(rpc.raw, 99), 3)} ms)` +
        `  cost ratio ${fmt(kiwi50 / raw50, 2)}x  [${RPCS} sequential calls; target p50 < 1 ms and <= 1.3x]`,
    );
  }
  if (only.has('broadcast')) {
    const fanOut = await broadcastBench();
    console.log(
      `broadcast  ${fmt(fanOut.kiwi)} deliveries/s to ${LISTENERS} subscribers (raw amqplib ${fmt(fanOut.raw)}/s)  cost ratio ${fmt(fanOut.raw / fanOut.kiwi, 2)}x` +
        `  [${BROADCASTS} broadcasts, 1 kB, ${BROADCAST_WINDOW} in flight; target <= 1.3x]`,
    );
  }
}

await main();
