/**
 * A work chain that squares numbers in child processes, launched and controlled remotely: paused while it
 * waits for its children, inspected, played, and its outputs read back from its last checkpoint.
 *
 *   npx tsx --conditions=source examples/remote-workchain.ts            (in-process communicator)
 *   RMQ_URL=amqp://guest:guest@127.0.0.1:5672/ npx tsx --conditions=source examples/remote-workchain.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BroadcastFilter, LocalCommunicator, type Communicator } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { z } from 'zod';
import {
  InMemoryPersister,
  Process,
  ProcessLauncher,
  RemoteProcessController,
  WorkChain,
  append_,
  registerProcessClass,
  while_,
} from '../src/index.js'; // in an application: from 'plumpy-ts'

/** Squares a number, taking its time about it. */
class Square extends Process.define((spec) =>
  spec.input('n', { validType: z.number() }).output('square', { validType: z.number() }),
) {
  override async run(): Promise<void> {
    await sleep(50);
    this.out('square', this.inputs.n ** 2);
  }
}

/** Sums the squares of its inputs, one child process per value. */
class SumOfSquares extends WorkChain.define((spec) =>
  spec
    .input('values', { validType: z.array(z.number()) })
    .context<{ index: number; squares: { square: number }[] }>()
    .output('sum', { validType: z.number() }),
) {
  static {
    this.outline('setup', while_('more')('launchNext'), 'total');
  }

  setup(): void {
    this.ctx.index = 0;
  }

  more(): boolean {
    return (this.ctx.index ?? 0) < this.inputs.values.length;
  }

  launchNext(): void {
    const index = this.ctx.index ?? 0;
    this.ctx.index = index + 1;
    // Wait for the child before the next step; its outputs are appended to ctx.squares.
    this.toContext({
      squares: append_(this.launch(Square, { inputs: { n: this.inputs.values[index] ?? 0 } })),
    });
  }

  total(): void {
    this.out(
      'sum',
      (this.ctx.squares ?? []).reduce((sum: number, s) => sum + s.square, 0),
    );
  }
}

// Checkpoints name their class: register it under a stable identifier (a worker imports this module).
registerProcessClass(Square, { identifier: 'example.Square' });
registerProcessClass(SumOfSquares, { identifier: 'example.SumOfSquares' });

async function main(): Promise<void> {
  const url = process.env['RMQ_URL'];
  const communicator: Communicator =
    url === undefined
      ? new LocalCommunicator()
      : await connect({ url, prefix: 'plumpy-ts-example', testingMode: true });
  const persister = new InMemoryPersister();

  // The worker side: takes launch/continue tasks and runs the processes.
  const launcher = new ProcessLauncher({ persister });
  await launcher.subscribe(communicator);

  // The client side: launches and controls processes by pid.
  const controller = new RemoteProcessController(communicator);
  const pid = (await controller.launchProcess(SumOfSquares, {
    inputs: { values: [1, 2, 3] },
    persist: true,
    nowait: true,
  })) as string;

  const finished = new Promise<void>((resolve) => {
    void communicator.addBroadcastSubscriber(
      new BroadcastFilter(() => resolve(), { subject: 'state_changed.*.finished', sender: pid }),
    );
  });

  await sleep(20);
  console.log('pause:', await controller.pauseProcess(pid, 'paused by the example'));
  console.log('status:', await controller.getStatus(pid));
  await sleep(200);
  console.log('play:', await controller.playProcess(pid));

  await finished;
  const checkpoint = await persister.loadCheckpoint(pid);
  console.log('outputs:', checkpoint['OUTPUTS']);

  await launcher.close();
  await communicator.close();
}

await main();
