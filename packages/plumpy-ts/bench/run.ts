/**
 * plumpy-ts benchmarks: trivial processes per second, a 4-step work chain per second (without
 * checkpoints, and checkpointed to an InMemoryPersister and a FilePersister), and 1,000 waiting processes
 * resumed at once. Each is compared with bare async functions doing the same work in the same run, and
 * the overhead ratio is printed. Run with `pnpm --filter plumpy-ts bench` (or `npx tsx bench/run.ts`).
 */
/* eslint-disable @typescript-eslint/require-await -- the baselines are async functions that do not await, like synchronous steps */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { FilePersister, InMemoryPersister, Process, Wait, WorkChain, type Persister } from '../src/index.js';

class Trivial extends Process {}

class FourSteps extends WorkChain.define((spec) =>
  spec
    .input('n', { validType: z.number() })
    .context<{ total: number }>()
    .output('total', { validType: z.number() }),
) {
  static {
    this.outline('one', 'two', 'three', 'four');
  }
  one(): void {
    this.ctx.total = this.inputs.n;
  }
  two(): void {
    this.ctx.total = (this.ctx.total ?? 0) + 1;
  }
  three(): void {
    this.ctx.total = (this.ctx.total ?? 0) * 2;
  }
  four(): void {
    this.out('total', this.ctx.total ?? 0);
  }
}

class Waiter extends Process {
  override run(): Wait {
    return new Wait('done');
  }
  done(): void {}
}

// Baselines: the same work as bare async functions (a step is an awaited call; state is an object).
async function trivialBaseline(): Promise<Record<string, unknown>> {
  const run = async (): Promise<undefined> => undefined;
  await run();
  return {};
}

async function fourStepsBaseline(n: number): Promise<{ total: number }> {
  const ctx = { total: 0 };
  const steps = [
    async () => {
      ctx.total = n;
    },
    async () => {
      ctx.total += 1;
    },
    async () => {
      ctx.total *= 2;
    },
    async () => undefined,
  ];
  for (const step of steps) await step();
  return { total: ctx.total };
}

interface Timing {
  readonly perSecond: number;
  readonly microsEach: number;
}

async function measure(count: number, run: () => Promise<unknown>): Promise<Timing> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += 1) await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { perSecond: count / seconds, microsEach: (seconds * 1e6) / count };
}

/** Best of `rounds` (the machine is shared: the best round is the least disturbed). */
async function best(rounds: number, count: number, run: () => Promise<unknown>): Promise<Timing> {
  let top: Timing | undefined;
  for (let r = 0; r < rounds; r += 1) {
    const timing = await measure(count, run);
    if (top === undefined || timing.perSecond > top.perSecond) top = timing;
  }
  return top as Timing;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function report(name: string, subject: Timing, baseline: Timing, extra = ''): void {
  const ratio = baseline.perSecond / subject.perSecond;
  console.log(
    `${name.padEnd(44)} ${fmt(subject.perSecond).padStart(9)}/s (${fmt(subject.microsEach, 1).padStart(7)} µs each)` +
      `   baseline ${fmt(baseline.perSecond).padStart(10)}/s   overhead ×${fmt(ratio, 1)}${extra}`,
  );
}

async function waitingProcesses(count: number): Promise<number> {
  const processes = Array.from({ length: count }, () => new Waiter());
  const loops = processes.map((p) => p.stepUntilTerminated());
  await Promise.all(processes.map((p) => waitForState(p, 'waiting')));
  const start = process.hrtime.bigint();
  for (const p of processes) p.resume();
  await Promise.all(loops);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function waitForState(p: Process, state: string): Promise<void> {
  while (p.state !== state) await new Promise((resolve) => setImmediate(resolve));
}

async function waitingBaseline(count: number): Promise<number> {
  const gates = Array.from({ length: count }, () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    return { promise, resolve };
  });
  const tasks = gates.map(async (gate) => {
    await gate.promise;
    await (async () => undefined)();
  });
  const start = process.hrtime.bigint();
  for (const gate of gates) gate.resolve();
  await Promise.all(tasks);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'plumpy-ts-bench-'));
  try {
    console.log(`plumpy-ts benchmarks (node ${process.version}, best of 5 rounds)\n`);

    // Warm up the JIT on every path.
    await best(1, 2_000, () => new Trivial().execute());
    await best(1, 1_000, () => new FourSteps({ inputs: { n: 1 } }).execute());
    await best(1, 2_000, trivialBaseline);
    await best(1, 2_000, () => fourStepsBaseline(1));

    const trivialBase = await best(5, 20_000, trivialBaseline);
    const trivial = await best(5, 20_000, () => new Trivial().execute());
    report(
      'trivial process (in memory)',
      trivial,
      trivialBase,
      trivial.perSecond >= 20_000 ? '   [target ≥20,000/s met]' : '   [target ≥20,000/s MISSED]',
    );

    const chainBase = await best(5, 5_000, () => fourStepsBaseline(1));
    const chain = await best(5, 5_000, () => new FourSteps({ inputs: { n: 1 } }).execute());
    // A 4-step work chain goes through 5 state changes (created, 4 × running, finished): per step is the
    // extra time divided by the 4 steps.
    const perStep = (chain.microsEach - chainBase.microsEach) / 4;
    report(
      '4-step work chain, no checkpoints',
      chain,
      chainBase,
      `   per-step overhead ${fmt(perStep, 1)} µs ${perStep < 50 ? '[target <50 µs met]' : '[target <50 µs MISSED]'}`,
    );

    const memory: Persister = new InMemoryPersister();
    const inMemory = await best(5, 2_000, () =>
      new FourSteps({ inputs: { n: 1 }, persister: memory }).execute(),
    );
    report(
      '4-step work chain, InMemoryPersister',
      inMemory,
      chainBase,
      `   (${fmt(inMemory.microsEach / 6, 1)} µs per checkpoint)`,
    );

    const files: Persister = new FilePersister({ directory: join(directory, 'nosync'), fsync: false });
    const filed = await best(3, 300, () => new FourSteps({ inputs: { n: 1 }, persister: files }).execute());
    report(
      '4-step work chain, FilePersister (no fsync)',
      filed,
      chainBase,
      `   (${fmt(filed.microsEach / 6, 1)} µs per checkpoint)`,
    );

    const durable: Persister = new FilePersister({ directory: join(directory, 'fsync') });
    const synced = await best(3, 30, () => new FourSteps({ inputs: { n: 1 }, persister: durable }).execute());
    report(
      '4-step work chain, FilePersister (fsync)',
      synced,
      chainBase,
      `   (${fmt(synced.microsEach / 6, 1)} µs per checkpoint)`,
    );

    await waitingProcesses(1_000);
    await waitingBaseline(1_000);
    let resumeMs = Infinity;
    let baseMs = Infinity;
    for (let r = 0; r < 5; r += 1) {
      resumeMs = Math.min(resumeMs, await waitingProcesses(1_000));
      baseMs = Math.min(baseMs, await waitingBaseline(1_000));
    }
    console.log(
      `${'1,000 waiting processes resumed'.padEnd(44)} ${fmt(resumeMs, 2).padStart(9)} ms (${fmt((resumeMs * 1000) / 1000, 1)} µs each)` +
        `   baseline ${fmt(baseMs, 2)} ms   overhead ×${fmt(resumeMs / baseMs, 1)}`,
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
