/**
 * Start-up time of the `verdi` executable against starting Node itself.
 *
 * Runs `node -e ''` (the baseline: the least any Node CLI can cost) and `verdi --version` alternately, each many
 * times in fresh processes, and prints the medians and their ratio. Also times `verdi --help` (which imports every
 * command group) and `verdi config get daemon.timeout` (which reads the configuration), to show what lazy loading
 * saves. Uses the built `dist/bin/verdi.js` when it exists (what users run), else the sources through tsx.
 *
 *   pnpm --filter aiida-ts exec tsx bench/cli.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = join(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 30);
const dist = join(root, 'dist', 'bin', 'verdi.js');
const useDist = existsSync(dist);
const verdi = useDist
  ? [dist]
  : ['--conditions=source', '--import', 'tsx', join(root, 'src', 'cmdline', 'verdi.ts')];
const configBase = mkdtempSync(join(tmpdir(), 'aiida-ts-bench-cli-'));

function time(args: readonly string[]): number {
  const start = performance.now();
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, AIIDA_TS_PATH: configBase },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const elapsed = performance.now() - start;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${String(result.stderr)}`);
  return elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 0
    ? ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
    : (sorted[middle] ?? 0);
}

const cases = {
  baseline: ['-e', ''],
  version: [...verdi, '--version'],
  help: [...verdi, '--help'],
  configGet: [...verdi, 'config', 'get', 'daemon.timeout'],
} as const;

try {
  // Warm the file cache (and tsx's compile cache) so the first measured run is not an outlier.
  for (const args of Object.values(cases)) time(args);
  const samples: Record<keyof typeof cases, number[]> = {
    baseline: [],
    version: [],
    help: [],
    configGet: [],
  };
  for (let run = 0; run < runs; run += 1) {
    // Interleaved, so that a slow moment of the machine hits every case alike.
    for (const [name, args] of Object.entries(cases) as [keyof typeof cases, readonly string[]][]) {
      samples[name].push(time(args));
    }
  }
  const baseline = median(samples.baseline);
  console.log(`verdi start-up (${useDist ? 'dist/bin/verdi.js' : 'src via tsx'}), median of ${runs} runs`);
  console.log(`  node -e ''                      ${baseline.toFixed(1).padStart(7)} ms   (baseline)`);
  for (const [name, label] of [
    ['version', 'verdi --version'],
    ['help', 'verdi --help (all groups)'],
    ['configGet', 'verdi config get daemon.timeout'],
  ] as const) {
    const value = median(samples[name]);
    console.log(
      `  ${label.padEnd(31)} ${value.toFixed(1).padStart(7)} ms   ratio ${(value / baseline).toFixed(2)}x`,
    );
  }
} finally {
  rmSync(configBase, { recursive: true, force: true });
}
