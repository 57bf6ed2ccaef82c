/**
 * The messaging demo: a worker and a client exchange tasks, RPCs and broadcasts through one
 * `Communicator`, first in-process, then over RabbitMQ when a broker is reachable (AMQP_URL, default
 * amqp://guest:guest@127.0.0.1:5672/).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type Communicator, defineBroadcast, defineRpc, defineTask, LocalCommunicator } from 'kiwipy-ts';

// One definition per channel, shared by both ends: payloads are validated and their types inferred.
const square = defineTask('square', { task: z.object({ n: z.number() }), result: z.number() });
const status = defineRpc('worker.status', {
  request: z.object({ verbose: z.boolean() }),
  response: z.object({ done: z.number() }),
});
const progress = defineBroadcast('progress', { body: z.object({ worker: z.string(), done: z.number() }) });

async function startWorker(communicator: Communicator, name: string): Promise<void> {
  let done = 0;
  await square.subscribe(communicator, async ({ n }) => {
    await new Promise((resolve) => setTimeout(resolve, 5)); // the "work": a reply that stays pending a while
    done += 1;
    await progress.send(communicator, { worker: name, done }, { sender: name });
    return n * n;
  });
  await status.subscribe(communicator, () => ({ done }));
}

async function runClient(communicator: Communicator, label: string): Promise<void> {
  const heard: string[] = [];
  await progress.subscribe(communicator, (body) => void heard.push(`${body.worker}:${body.done}`));

  const started = performance.now();
  const results = await Promise.all([1, 2, 3, 4, 5].map((n) => square.send(communicator, { n })));
  const elapsed = (performance.now() - started).toFixed(1);
  console.log(`[${label}] tasks   square(1..5) = ${results.join(', ')}  (${elapsed} ms)`);

  const { done } = await status.send(communicator, { verbose: true });
  console.log(`[${label}] rpc     worker.status -> ${done} tasks done`);

  await new Promise((resolve) => setTimeout(resolve, 50)); // let the last broadcasts arrive
  console.log(
    `[${label}] bcast   heard ${heard.length} progress broadcasts (${heard.slice(0, 3).join(', ')}, …)`,
  );

  try {
    await communicator.rpcSend('nobody-home', {});
  } catch (error) {
    console.log(`[${label}] rpc     to an unknown recipient -> ${(error as Error).name}`);
  }
}

async function main(): Promise<void> {
  {
    await using communicator = new LocalCommunicator();
    await startWorker(communicator, 'local-worker');
    await runClient(communicator, 'in-process');
  }

  const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
  const { connect } = await import('kiwipy-ts/rmq');
  const prefix = `kiwipy-demo-${randomUUID().slice(0, 8)}`;
  let worker: Communicator;
  try {
    worker = await connect({ url, prefix, testingMode: true });
  } catch (error) {
    console.log(`[rabbitmq] not reachable at ${url} (${(error as Error).message}); in-process demo only`);
    return;
  }
  await using _worker = worker;
  await using client = await connect({ url, prefix, testingMode: true });
  await startWorker(worker, 'rmq-worker');
  await runClient(client, 'rabbitmq');
}

await main();
