/**
 * Engine overhead of calculation jobs on `core.local` + `core.direct` running a trivial code (`bash` adding two
 * numbers), against a baseline that does the same work by hand in the same run: make the working directory, write the
 * input and the submit script, submit it with `bash` in the background as the direct scheduler does, poll `ps` until
 * the job is gone, copy the output back.
 *   - sequential: N `core.arithmetic.add` jobs one after another; overhead per job = (ours − baseline) / N
 *     (target ≤ 20 ms; aiida-core needs about 0.5 s of engine time per job on one worker);
 *   - in flight: M jobs submitted at once to one runner (poll interval 0); jobs/s, ours and the baseline's
 *     (target ≥ 50 jobs/s).
 * Run: `npx tsx bench/calcjob.ts [--sequential N] [--parallel M] [--in-flight-only]` (defaults 50 and 200;
 * `--in-flight-only` skips the sequential part, to compare the in-flight rate in more runs). Prints the load average.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { LocalCommunicator } from 'kiwipy-ts';
import { wirePlugins } from '../src/config.js';
import { ArithmeticAddCalculation, Runner } from '../src/engine.js';
import { Computer, InstalledCode, Int } from '../src/orm.js';
import { setDefaultStorage } from '../src/storage/context.js';
import { SqliteDosStorage } from '../src/storage/sqlite/sqlite-dos.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const IN_FLIGHT_ONLY = process.argv.includes('--in-flight-only');
const SEQUENTIAL = IN_FLIGHT_ONLY ? 0 : argument('sequential', 50);
const PARALLEL = argument('parallel', 200);

/** Runs `script` with `bash -c` in `cwd`; resolves to its stdout. */
function bash(script: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
}

/** One job done by hand, as the engine does it on core.local + core.direct, without the engine. */
async function handJob(root: string, i: number): Promise<number> {
  const workdir = path.join(root, `job-${i}`);
  await mkdir(workdir, { recursive: true });
  await writeFile(path.join(workdir, 'aiida.in'), `echo $((${i} + 1))\n`);
  await writeFile(
    path.join(workdir, '_aiidasubmit.sh'),
    "#!/bin/bash\nexec > _scheduler-stdout.txt\nexec 2> _scheduler-stderr.txt\n'/bin/bash' < 'aiida.in' > 'aiida.out'\n",
  );
  const pid = (await bash('(bash _aiidasubmit.sh > /dev/null 2>&1 & echo $!) &', workdir)).trim();
  // the direct scheduler's poll: the job is done when ps no longer lists it, or lists it as a zombie
  while (!/^(Z.*)?$/.test((await bash(`ps -o stat= -p ${pid} || true`, workdir)).trim())) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const local = path.join(root, `retrieved-${i}`);
  await mkdir(local);
  await copyFile(path.join(workdir, 'aiida.out'), path.join(local, 'aiida.out'));
  return Number((await readFile(path.join(local, 'aiida.out'), 'utf8')).trim());
}

async function main(): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-bench-calcjob-'));
  const sqlite = new SqliteDosStorage();
  const config = sqlite.parseConfig({ filepath: path.join(folder, 'storage') });
  await sqlite.initialise(config);
  const storage = await sqlite.open(config, { defaultUserEmail: 'bench@aiida.localhost' });
  setDefaultStorage(storage);
  wirePlugins();
  const communicator = new LocalCommunicator();
  const runner = new Runner({ storage, communicator, pollInterval: 0, handleSignals: false });
  try {
    const computer = await new Computer({
      label: 'bench-localhost',
      hostname: 'localhost',
      transportType: 'core.local',
      schedulerType: 'core.direct',
      workdir: path.join(folder, 'work'),
    }).store();
    await computer.setProperties({ minimum_scheduler_poll_interval: 0 });
    await computer.configure({ safe_interval: 0, use_login_shell: false });
    const code = await new InstalledCode(
      { computer, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
      { label: 'bash' },
    ).store();
    const inputs = (i: number) => ({ x: new Int(i), y: new Int(1), code });
    // warm up: the first job loads the plugins
    await runner.run(ArithmeticAddCalculation, inputs(0));

    // Ours and by hand alternate in blocks: on a loaded machine (2 shared cores) both then see the same load.
    const handRoot = path.join(folder, 'hand-sequential');
    let oursSequential = 0;
    let handSequential = 0;
    let oursCpu = 0;
    let handCpu = 0;
    const BLOCK = 5;
    for (let done = 0; done < SEQUENTIAL; done += BLOCK) {
      const end = Math.min(SEQUENTIAL, done + BLOCK);
      let cpu = process.cpuUsage();
      let start = performance.now();
      for (let i = done; i < end; i += 1) await runner.run(ArithmeticAddCalculation, inputs(i));
      oursSequential += performance.now() - start;
      let used = process.cpuUsage(cpu);
      oursCpu += (used.user + used.system) / 1000;
      cpu = process.cpuUsage();
      start = performance.now();
      for (let i = done; i < end; i += 1) await handJob(handRoot, i);
      handSequential += performance.now() - start;
      used = process.cpuUsage(cpu);
      handCpu += (used.user + used.system) / 1000;
    }
    const overhead = (oursSequential - handSequential) / SEQUENTIAL;

    // On a shared machine the rates say as much about the other load as about the engine: the CPU time this
    // process spends per job in flight is printed beside them.
    let parallelCpu = process.cpuUsage();
    let started = performance.now();

    const nodes = [];
    for (let i = 0; i < PARALLEL; i += 1)
      nodes.push(await runner.submit(ArithmeticAddCalculation, inputs(i)));
    const finished = await Promise.all(nodes.map((node) => runner.getProcessFuture(node.pk!)));
    const oursParallel = performance.now() - started;
    let used = process.cpuUsage(parallelCpu);
    const oursParallelCpu = (used.user + used.system) / 1000 / PARALLEL;
    const failed = finished.filter((node) => node.exitStatus !== 0).length;
    const parallelRoot = path.join(folder, 'hand-parallel');
    parallelCpu = process.cpuUsage();
    started = performance.now();
    await Promise.all(Array.from({ length: PARALLEL }, (_, i) => handJob(parallelRoot, i)));
    const handParallel = performance.now() - started;
    used = process.cpuUsage(parallelCpu);
    const handParallelCpu = (used.user + used.system) / 1000 / PARALLEL;

    const rate = (count: number, ms: number) => (count / ms) * 1000;
    const load = loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
    const sequentialLines = [
      `sequential, ${SEQUENTIAL} jobs: ours ${(oursSequential / SEQUENTIAL).toFixed(1)} ms/job, ` +
        `by hand ${(handSequential / SEQUENTIAL).toFixed(1)} ms/job, ratio ${(oursSequential / handSequential).toFixed(2)}`,
      `  CPU time of this process per job (spawning bash and ps included): ours ${(oursCpu / SEQUENTIAL).toFixed(1)} ms, ` +
        `by hand ${(handCpu / SEQUENTIAL).toFixed(1)} ms, difference ${((oursCpu - handCpu) / SEQUENTIAL).toFixed(1)} ms`,
      `  engine overhead per job: ${overhead.toFixed(1)} ms (target ≤ 20 ms; aiida-core ≈ 500 ms, ` +
        `ratio aiida-core / ours ≈ ${(500 / Math.max(overhead, 0.1)).toFixed(0)})`,
    ];
    process.stdout.write(
      [
        `load average ${load}`,
        ...(IN_FLIGHT_ONLY ? [] : sequentialLines),
        `in flight, ${PARALLEL} jobs in one runner: ours ${rate(PARALLEL, oursParallel).toFixed(1)} jobs/s` +
          `${failed > 0 ? ` (${failed} failed)` : ''}, by hand ${rate(PARALLEL, handParallel).toFixed(1)} jobs/s, ` +
          `ratio ours / by hand ${(handParallel / oursParallel).toFixed(2)} (target ≥ 50 jobs/s)`,
        `  CPU time of this process per job in flight: ours ${oursParallelCpu.toFixed(1)} ms, ` +
          `by hand ${handParallelCpu.toFixed(1)} ms (one free core would allow ours ` +
          `${(1000 / Math.max(oursParallelCpu, 0.1)).toFixed(0)} jobs/s)`,
        '',
      ].join('\n'),
    );
  } finally {
    await runner.close();
    await communicator.close();
    setDefaultStorage(null);
    await storage.close();
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
