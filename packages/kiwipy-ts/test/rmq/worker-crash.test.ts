import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { silentLogger } from 'kiwipy-ts';
import { connect, type RmqCommunicator } from 'kiwipy-ts/rmq';
import { afterEach, describe, expect, it } from 'vitest';
import { RMQ_URL, uniquePrefix, within } from './helpers.js';

const workerScript = fileURLToPath(new URL('./fixtures/holding-worker.ts', import.meta.url));

/** Starts the worker script in its own Node process (through tsx) and reads its stdout lines. */
function startWorker(prefix: string): {
  child: ChildProcess;
  line: (predicate: (line: string) => boolean) => Promise<string>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, KIWIPY_TEST_RMQ_URL: RMQ_URL, KIWIPY_TEST_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiting = new Set<{ predicate: (line: string) => boolean; resolve: (line: string) => void }>();
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const waiter of [...waiting]) {
        if (waiter.predicate(line)) {
          waiting.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  const line = (predicate: (line: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find(predicate);
      if (found !== undefined) {
        resolve(found);
        return;
      }
      waiting.add({ predicate, resolve });
      child.once('exit', (code, signal) =>
        reject(new Error(`worker exited (${code ?? signal}) before the expected line`)),
      );
    });
  return { child, line };
}

describe('a worker process killed while holding a task (shared broker)', () => {
  const opened: RmqCommunicator[] = [];
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(opened.splice(0).map((comm) => comm.close()));
  });

  it('has the task redelivered to another consumer, which finishes it', async () => {
    const prefix = uniquePrefix('crash');
    const sender = await connect({ url: RMQ_URL, prefix, testingMode: true, logger: silentLogger });
    opened.push(sender);
    const worker = startWorker(prefix);
    child = worker.child;
    await within(
      worker.line((l) => l === 'READY'),
      30_000,
      'the worker process to start',
    );

    const reply = sender.taskSend<string>({ job: 'important' });
    expect(
      await within(
        worker.line((l) => l.startsWith('TASK ')),
        10_000,
        'the worker to take the task',
      ),
    ).toBe('TASK {"job":"important"}');
    await within(reply.accepted, 5_000, 'the pending reply'); // the worker said it holds the task

    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const rescuer = await connect({ url: RMQ_URL, prefix, testingMode: true, logger: silentLogger });
    opened.push(rescuer);
    const runs: unknown[] = [];
    await rescuer.addTaskSubscriber((task) => {
      runs.push(task);
      return `rescued ${(task as { job: string }).job}`;
    });
    expect(await within(reply, 15_000, 'the redelivered task to finish')).toBe('rescued important');
    expect(runs).toEqual([{ job: 'important' }]);
  }, 60_000);
});
