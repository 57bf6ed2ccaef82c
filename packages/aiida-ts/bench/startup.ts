/**
 * Start-up time of the commands users type most, against starting Node itself (issue 15: `verdi status` ≤ 250 ms,
 * `verdi run` of a trivial script ≤ 400 ms, `verdi process list` and `verdi node show <pk>` ≤ 150 ms on this machine;
 * their queries take a few ms, so on this small profile the figures are their start-up).
 *
 * Makes a private profile (`verdi presto --no-broker` under a temporary AIIDA_TS_PATH), then runs, alternately and
 * each in fresh processes, `node -e ''` (the floor: the least any Node CLI costs), `verdi status`, `verdi run` of
 * a one-line TypeScript script, `verdi process list` and `verdi node show` of a calcfunction run once beforehand, and prints the medians, their difference to the floor and the targets. Alternating
 * keeps the three under the same machine load. Uses the built `dist/bin/verdi.js` (what users run): build
 * first.
 *
 *   pnpm --filter aiida-ts exec tsx bench/startup.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = join(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 15);
const verdi = join(root, 'dist', 'bin', 'verdi.js');
if (!existsSync(verdi)) throw new Error(`${verdi} is missing: run \`pnpm build\` first`);
const base = mkdtempSync(join(tmpdir(), 'aiida-ts-bench-startup-'));
const script = join(base, 'trivial.ts');
writeFileSync(script, "const greeting: string = 'hello';\nconsole.log(greeting);\n");
// a finished calcfunction with two inputs and an output: what `verdi node show` prints for a process
const setup = join(base, 'setup.ts');
writeFileSync(
  setup,
  [
    "import { calcfunction, runGetNode } from 'aiida-ts/engine';",
    "import { Int } from 'aiida-ts/orm';",
    'const add = calcfunction(',
    "  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },",
    '  function add({ x, y }) {',
    '    return new Int(x.value + y.value);',
    '  },',
    ');',
    'const { node } = await runGetNode(add, { x: new Int(1), y: new Int(2) });',
    'console.log(String(node.pk));',
    '',
  ].join('\n'),
);
const env = { ...process.env, AIIDA_TS_PATH: base, NO_COLOR: '1' };

const timeTool = '/usr/bin/time';
const hasTimeTool = existsSync(timeTool);
const timeFile = join(base, 'time.txt');

interface Sample {
  readonly wall: number;
  /** User + system CPU time of the command (ms), from GNU time; varies far less with the machine's load. */
  readonly cpu: number | undefined;
}

function time(args: readonly string[]): Sample & { readonly stdout: string } {
  const command = hasTimeTool ? timeTool : process.execPath;
  const argv = hasTimeTool ? ['-f', '%U %S', '-o', timeFile, process.execPath, ...args] : [...args];
  const start = performance.now();
  const result = spawnSync(command, argv, { cwd: base, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = performance.now() - start;
  if (result.status !== 0)
    throw new Error(`node ${args.join(' ')} failed: ${String(result.stdout)}${String(result.stderr)}`);
  let cpu: number | undefined;
  if (hasTimeTool) {
    const [user = 0, system = 0] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
    cpu = (user + system) * 1000;
  }
  return { wall, cpu, stdout: String(result.stdout) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 0
    ? ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
    : (sorted[middle] ?? 0);
}

try {
  time([verdi, 'presto', '--no-broker']);
  const pk = time([verdi, 'run', setup]).stdout.trim().split('\n').at(-1) ?? '';
  const cases = {
    floor: { args: ['-e', ''], label: "node -e ''", target: undefined },
    status: { args: [verdi, 'status'], label: 'verdi status', target: 250 },
    run: { args: [verdi, 'run', script], label: 'verdi run trivial.ts', target: 400 },
    list: { args: [verdi, 'process', 'list'], label: 'verdi process list', target: 150 },
    show: { args: [verdi, 'node', 'show', pk], label: 'verdi node show <calcfunction>', target: 150 },
  } as const;
  type Case = keyof typeof cases;
  // Warm the file cache and the script's transform cache: the figures are for a command typed again.
  for (const { args } of Object.values(cases)) time(args);
  const samples: Record<Case, Sample[]> = { floor: [], status: [], run: [], list: [], show: [] };
  for (let i = 0; i < runs; i += 1) {
    for (const name of Object.keys(cases) as Case[]) samples[name].push(time(cases[name].args));
  }
  const wallOf = (name: Case): number => median(samples[name].map((sample) => sample.wall));
  const cpuOf = (name: Case): number | undefined =>
    hasTimeTool ? median(samples[name].map((sample) => sample.cpu ?? 0)) : undefined;
  const floor = wallOf('floor');
  const floorCpu = cpuOf('floor');
  const lines = [
    `| command | median wall | above node -e '' | ×node (wall) | median CPU | ×node (CPU) | target |`,
    '|---|---|---|---|---|---|---|',
    ...(Object.keys(cases) as Case[]).map((name) => {
      const { label, target } = cases[name];
      const value = wallOf(name);
      const cpu = cpuOf(name);
      const verdict = target === undefined ? '' : `≤ ${target} ms (${value <= target ? 'met' : 'not met'})`;
      const cpuText =
        cpu === undefined || floorCpu === undefined
          ? '– | –'
          : `${cpu.toFixed(0)} ms | ×${(cpu / floorCpu).toFixed(1)}`;
      return `| ${label} | ${value.toFixed(0)} ms | ${(value - floor).toFixed(0)} ms | ×${(value / floor).toFixed(1)} | ${cpuText} | ${verdict} |`;
    }),
  ];
  process.stdout.write(
    `${lines.join('\n')}\n(${runs} runs each, alternating; load ${readFileSync('/proc/loadavg', 'utf8').trim()})\n`,
  );
} finally {
  rmSync(base, { recursive: true, force: true });
}
