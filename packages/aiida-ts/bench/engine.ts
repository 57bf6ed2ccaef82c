/**
 * Engine benchmark (plain tsx script): `tsx bench/engine.ts [--calcfunctions 500] [--workchains 200]
 * [--nested 100] [--skip-postgres]`.
 *
 * For SQLite (`core.sqlite_dos`) and PostgreSQL (`core.psql_dos`, a fresh database on 127.0.0.1:5432 dropped
 * afterwards) it runs, with full provenance (nodes, links, state changes, hashes, checkpoints of work chains):
 * - a calcfunction `add(Int, Int)` — aiida-core: 156 ms each; target < 2 ms;
 * - a WorkChain with 4 empty steps — aiida-core (published): 0.27–0.49 s; target < 5 ms;
 * - a WorkChain calling 4 child WorkChains in series — aiida-core (published): 1.3–2.2 s; target < 20 ms;
 * - a WorkChain calling two calcfunctions — aiida-core: 449 ms;
 * and, in the same run, a baseline doing the same arithmetic with plain functions that write the same rows (the
 * same nodes with their attributes and the same links, through the ORM in one transaction). It prints both, their
 * ratio, and aiida-core's figure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalCommunicator } from 'kiwipy-ts';
import { calcfunction, nodeType, Runner, ToContext, WorkChain } from '../src/engine.js';
import { LinkType } from '../src/orm/links.js';
import { Int } from '../src/orm/nodes/data/base.js';
import { Node } from '../src/orm/nodes/node.js';
import { CalcFunctionNode, WorkChainNode } from '../src/orm/nodes/process/process.js';
import type { StorageBackend } from '../src/storage/backend.js';
import { setDefaultStorage } from '../src/storage/context.js';
import {
  dropPostgresDatabase,
  PsqlDosStorage,
  type PsqlDosConfig,
} from '../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../src/storage/sqlite/sqlite-dos.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const CALCFUNCTIONS = argument('calcfunctions', 500);
const WORKCHAINS = argument('workchains', 200);
const NESTED = argument('nested', 100);
const SKIP_POSTGRES = process.argv.includes('--skip-postgres');
/** `--only calcfunction` (or `workchain`, `nested`, `two`): run only that row, e.g. while profiling. */
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const wanted = (row: string): boolean => ONLY === undefined || ONLY === row;

const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);

class FourSteps extends WorkChain.define((spec) => spec) {
  static {
    this.outline('one', 'two', 'three', 'four');
  }
  one(): void {}
  two(): void {}
  three(): void {}
  four(): void {}
}

class OneStep extends WorkChain.define((spec) => spec) {
  static {
    this.outline('only');
  }
  only(): void {}
}

class FourChildren extends WorkChain.define((spec) => spec) {
  static {
    this.outline('first', 'second', 'third', 'fourth', 'done');
  }
  async first(): Promise<ToContext> {
    return new ToContext({ a: await this.submit(OneStep) });
  }
  async second(): Promise<ToContext> {
    return new ToContext({ b: await this.submit(OneStep) });
  }
  async third(): Promise<ToContext> {
    return new ToContext({ c: await this.submit(OneStep) });
  }
  async fourth(): Promise<ToContext> {
    return new ToContext({ d: await this.submit(OneStep) });
  }
  done(): void {}
}

class TwoCalcs extends WorkChain.define((spec) =>
  spec.input('x', { validType: nodeType(Int) }).output('result', { validType: nodeType(Int) }),
) {
  static {
    this.outline('compute');
  }
  async compute(): Promise<void> {
    const sum = await add(this.inputs.x, 1);
    this.out('result', await add(sum, 2));
  }
}

/** The rows of one `add` run written directly: two inputs, the calculation, its output and three links. */
async function plainAdd(storage: StorageBackend, a: number, b: number): Promise<void> {
  const x = new Int(a, { storage });
  const y = new Int(b, { storage });
  const calc = new CalcFunctionNode(undefined, { storage });
  calc.processType = 'engine.add';
  calc.label = 'add';
  calc.base.attributes.setMany({
    process_state: 'finished',
    process_label: 'add',
    exit_status: 0,
    function_name: 'add',
  });
  await calc.base.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
  await calc.base.links.addIncoming(y, LinkType.INPUT_CALC, 'y');
  const result = new Int(x.value + y.value, { storage });
  await result.base.links.addIncoming(calc, LinkType.CREATE, 'result');
  calc.base.attributes.set('sealed', true);
  await Node.storeMany([x, y, calc, result]);
}

/** The row of one 4-step work chain, and four plain function calls. */
async function plainFourSteps(storage: StorageBackend): Promise<void> {
  const steps = [(): void => undefined, (): void => undefined, (): void => undefined, (): void => undefined];
  for (const step of steps) step();
  const node = new WorkChainNode(undefined, { storage });
  node.processType = 'engine.FourSteps';
  node.base.attributes.setMany({
    process_state: 'finished',
    process_label: 'FourSteps',
    exit_status: 0,
    sealed: true,
    stepper_state_info: '3:four',
  });
  await node.store();
}

/** The rows of a work chain with four children: five nodes and four call links. */
async function plainFourChildren(storage: StorageBackend): Promise<void> {
  const parent = new WorkChainNode(undefined, { storage });
  parent.processType = 'engine.FourChildren';
  parent.base.attributes.setMany({
    process_state: 'finished',
    process_label: 'FourChildren',
    exit_status: 0,
  });
  await parent.store();
  const children: Node[] = [];
  for (let i = 0; i < 4; i += 1) {
    const child = new WorkChainNode(undefined, { storage });
    child.processType = 'engine.OneStep';
    child.base.attributes.setMany({ process_state: 'finished', process_label: 'OneStep', exit_status: 0 });
    await child.base.links.addIncoming(parent, LinkType.CALL_WORK, `CALL_${i}`);
    child.base.attributes.set('sealed', true);
    children.push(child);
  }
  await Node.storeMany(children);
  await parent.seal();
}

interface Figure {
  readonly backend: string;
  readonly what: string;
  readonly msEach: number;
  readonly baselineMsEach: number;
  readonly cpuMsEach: number;
  readonly baselineCpuMsEach: number;
  readonly aiida: string;
  readonly target: string;
}

const figures: Figure[] = [];

/** Runs of one side before switching to the other: both sides see the same machine load (2 shared cores). */
const BLOCK = 25;

/** Wall and CPU time of one side (ms each). */
interface Timing {
  wall: number;
  cpu: number;
}

async function timed(
  from: number,
  to: number,
  fn: (i: number) => Promise<unknown>,
  into: Timing,
): Promise<void> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = from; i < to; i += 1) await fn(i);
  into.wall += performance.now() - start;
  const used = process.cpuUsage(cpu);
  into.cpu += (used.user + used.system) / 1000;
}

/**
 * Times `fn` and its baseline `base` alternately, in blocks of {@link BLOCK}, and resolves to the mean wall and CPU
 * time of each (ms): on a loaded machine the ratio of two runs measured at different moments says little, and the
 * CPU time of this process (the engine's own work; PostgreSQL's is not in it) varies less with the load than the wall
 * time does.
 */
async function measure(
  count: number,
  fn: (i: number) => Promise<unknown>,
  base: (i: number) => Promise<unknown>,
): Promise<[Timing, Timing]> {
  // Warm up first: the figures are for a runner that has been running for a while (compiled code, cached statements).
  for (let i = 0; i < Math.min(100, count); i += 1) {
    await fn(i);
    await base(i);
  }
  const fnTime: Timing = { wall: 0, cpu: 0 };
  const baseTime: Timing = { wall: 0, cpu: 0 };
  for (let done = 0; done < count; done += BLOCK) {
    const end = Math.min(count, done + BLOCK);
    await timed(done, end, fn, fnTime);
    await timed(done, end, base, baseTime);
  }
  const each = (t: Timing): Timing => ({ wall: t.wall / count, cpu: t.cpu / count });
  return [each(fnTime), each(baseTime)];
}

async function benchBackend(backend: string, storage: StorageBackend): Promise<void> {
  setDefaultStorage(storage);
  const communicator = new LocalCommunicator();
  const runner = new Runner({ storage, communicator, handleSignals: false });
  try {
    if (wanted('calcfunction')) {
      const [calc, calcBase] = await measure(
        CALCFUNCTIONS,
        (i) => runner.run(add, { x: i, y: 1 }),
        (i) => plainAdd(storage, i, 1),
      );
      figures.push({
        backend,
        what: 'calcfunction add(Int, Int)',
        msEach: calc.wall,
        baselineMsEach: calcBase.wall,
        cpuMsEach: calc.cpu,
        baselineCpuMsEach: calcBase.cpu,
        aiida: '156 ms',
        target: '< 2 ms; ≤ ×1.5',
      });
    }

    if (wanted('workchain')) {
      const [four, fourBase] = await measure(
        WORKCHAINS,
        () => runner.run(FourSteps),
        () => plainFourSteps(storage),
      );
      figures.push({
        backend,
        what: 'WorkChain, 4 empty steps',
        msEach: four.wall,
        baselineMsEach: fourBase.wall,
        cpuMsEach: four.cpu,
        baselineCpuMsEach: fourBase.cpu,
        aiida: '270–490 ms',
        target: '< 5 ms',
      });
    }

    if (wanted('nested')) {
      const [nested, nestedBase] = await measure(
        NESTED,
        () => runner.run(FourChildren),
        () => plainFourChildren(storage),
      );
      figures.push({
        backend,
        what: 'WorkChain, 4 child WorkChains in series',
        msEach: nested.wall,
        baselineMsEach: nestedBase.wall,
        cpuMsEach: nested.cpu,
        baselineCpuMsEach: nestedBase.cpu,
        aiida: '1.3–2.2 s',
        target: '< 20 ms',
      });
    }

    if (wanted('two')) {
      const [two, twoBase] = await measure(
        NESTED,
        (i) => runner.run(TwoCalcs, { x: i }),
        async (i) => {
          await plainAdd(storage, i, 1);
          await plainAdd(storage, i + 1, 2);
          await plainFourSteps(storage);
        },
      );
      figures.push({
        backend,
        what: 'WorkChain calling two calcfunctions',
        msEach: two.wall,
        baselineMsEach: twoBase.wall,
        cpuMsEach: two.cpu,
        baselineCpuMsEach: twoBase.cpu,
        aiida: '449 ms',
        target: '',
      });
    }
  } finally {
    await runner.close();
    await communicator.close();
    setDefaultStorage(null);
  }
}

async function main(): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-bench-engine-'));
  try {
    const sqlite = new SqliteDosStorage();
    const sqliteConfig = sqlite.parseConfig({ filepath: path.join(folder, 'sqlite') });
    await sqlite.initialise(sqliteConfig);
    const storage = await sqlite.open(sqliteConfig, { defaultUserEmail: 'bench@aiida.localhost' });
    try {
      await benchBackend('core.sqlite_dos', storage);
    } finally {
      await storage.close();
    }
    if (!SKIP_POSTGRES) {
      const plugin = new PsqlDosStorage();
      const config: PsqlDosConfig = plugin.parseConfig({
        database_hostname: '127.0.0.1',
        database_port: 5432,
        database_username: 'postgres',
        database_password: '',
        database_name: `aiida_bench_${randomBytes(6).toString('hex')}`,
        repository_uri: pathToFileURL(path.join(folder, 'repository')).href,
      });
      await plugin.initialise(config);
      const pgStorage = await plugin.open(config, { defaultUserEmail: 'bench@aiida.localhost' });
      try {
        await benchBackend('core.psql_dos', pgStorage);
      } finally {
        await pgStorage.close();
        await dropPostgresDatabase(config);
      }
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  const lines = [
    '| storage | process | aiida-ts | per second | plain functions, same rows | ratio | CPU ratio | aiida-core | target |',
    '|---|---|---|---|---|---|---|---|---|',
    ...figures.map(
      (f) =>
        `| ${f.backend} | ${f.what} | ${f.msEach.toFixed(2)} ms | ${(1000 / f.msEach).toFixed(0)} | ${f.baselineMsEach.toFixed(2)} ms | ×${(f.msEach / f.baselineMsEach).toFixed(1)} | ×${(f.cpuMsEach / f.baselineCpuMsEach).toFixed(1)} (${f.cpuMsEach.toFixed(2)}/${f.baselineCpuMsEach.toFixed(2)} ms) | ${f.aiida} | ${f.target} |`,
    ),
  ];
  const calcOn = (backend: string): Figure | undefined =>
    figures.find((f) => f.backend === backend && f.what.startsWith('calcfunction'));
  const sqliteCalc = calcOn('core.sqlite_dos');
  const pgCalc = calcOn('core.psql_dos');
  if (sqliteCalc !== undefined && pgCalc !== undefined)
    lines.push(
      '',
      `calcfunction on PostgreSQL / on SQLite: ×${(pgCalc.msEach / sqliteCalc.msEach).toFixed(2)} (target ≤ ×2)`,
    );
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
