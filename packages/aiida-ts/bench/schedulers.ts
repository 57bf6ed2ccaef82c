/**
 * Scheduler job-list parsing benchmark (plain tsx script): `tsx bench/schedulers.ts [--jobs 1000] [--rounds 200]`.
 *
 * `getJobs({ jobs: [1,000 ids] })` of `core.slurm` (squeue output) and `core.pbspro` (`qstat -f` output,
 * about 30 lines per job), through an in-memory transport that returns the recorded output at once, so
 * what is timed is building the command and reading 1,000 jobs into `JobInfo` records (states, owners,
 * counts, times, dates, raw data). The target is under 10 ms per call.
 *
 * The baseline does the same reading naively in the same run: a plain split-lines loop that cuts each
 * squeue line at the separator, or each `qstat -f` line at `=`, into an object, with no validation, no
 * continuation lines and no typed fields. Rounds alternate between the two so that load from other
 * processes hits both alike; medians are reported with the ratio ours / baseline.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  PbsproScheduler,
  SlurmScheduler,
  type Scheduler,
  type SchedulerTransport,
} from '../src/schedulers.js';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const JOBS = argument('jobs', 1000);
const ROUNDS = argument('rounds', 200);

function fixture(relativePath: string): string {
  return readFileSync(
    fileURLToPath(new URL(`../test/schedulers/fixtures/${relativePath}`, import.meta.url)),
    'utf8',
  );
}

/** squeue output for `count` jobs, cycling through the recorded lines with fresh ids. */
function squeueOutput(count: number): { stdout: string; ids: string[] } {
  const [header, ...lines] = fixture('slurm/squeue-mixed.stdout').split('\n').filter(Boolean);
  const ids: string[] = [];
  const out = [header!];
  for (let i = 0; i < count; i++) {
    const id = String(100000 + i);
    ids.push(id);
    out.push(id + lines[i % lines.length]!.slice(lines[i % lines.length]!.indexOf('^^^')));
  }
  return { stdout: `${out.join('\n')}\n`, ids };
}

/** `qstat -f` output for `count` jobs, cycling through the written PBSPro jobs with fresh ids. */
function qstatOutput(count: number): { stdout: string; ids: string[] } {
  const blocks = fixture('pbspro/qstat-f-mixed.stdout')
    .split(/^Job Id: .*$/m)
    .slice(1)
    .map((block) => block.replace(/^\n/, '').replace(/\n+$/, '\n'));
  const ids: string[] = [];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${200000 + i}.pbs-head`;
    ids.push(id);
    out.push(`Job Id: ${id}\n${blocks[i % blocks.length]!}`);
  }
  return { stdout: `${out.join('\n')}\n`, ids };
}

/** A transport that answers every command with the same output, without I/O. */
function cannedTransport(stdout: string): SchedulerTransport {
  const result = { retval: 0, exitCode: 0, stdout, stderr: '' };
  return { execCommandWait: () => Promise.resolve(result) };
}

/** The naive reading of squeue output: split lines, split fields, name them. */
function naiveSqueue(stdout: string): Record<string, string>[] {
  const names = [
    'job_id',
    'state',
    'reason',
    'host',
    'user',
    'nodes',
    'cpus',
    'nodelist',
    'partition',
    'limit',
    'used',
    'start',
    'name',
    'submit',
  ];
  const jobs: Record<string, string>[] = [];
  const lines = stdout.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const fields = line.split('^^^');
    const job: Record<string, string> = {};
    for (let f = 0; f < names.length; f++) job[names[f]!] = fields[f]!;
    jobs.push(job);
  }
  return jobs;
}

/** The naive reading of `qstat -f`: a record per `Job Id:`, a key per `key = value` line. */
function naiveQstat(stdout: string): Record<string, string>[] {
  const jobs: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('Job Id:')) {
      current = { id: line.slice(7).trim() };
      jobs.push(current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
    }
  }
  return jobs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function compare(
  label: string,
  scheduler: Scheduler,
  ids: string[],
  stdout: string,
  naive: (stdout: string) => unknown[],
): Promise<void> {
  const ours: number[] = [];
  const baseline: number[] = [];
  // Warm-up: JIT both paths and check they agree on the count.
  for (let i = 0; i < 20; i++) {
    const jobs = await scheduler.getJobs({ jobs: ids });
    const plain = naive(stdout);
    if (jobs.length !== ids.length || plain.length !== ids.length) {
      throw new Error(`${label}: read ${jobs.length} jobs (naive ${plain.length}) instead of ${ids.length}`);
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    let start = performance.now();
    await scheduler.getJobs({ jobs: ids });
    ours.push(performance.now() - start);
    start = performance.now();
    naive(stdout);
    baseline.push(performance.now() - start);
  }
  const oursMedian = median(ours);
  const baselineMedian = median(baseline);
  console.log(
    `${label}: getJobs for ${ids.length} job ids (${(stdout.length / 1024).toFixed(0)} KiB of output): ` +
      `median ${oursMedian.toFixed(2)} ms, p95 ${percentile(ours, 95).toFixed(2)} ms ` +
      `(target < 10 ms: ${oursMedian < 10 ? 'met' : 'MISSED'}); ` +
      `naive split-lines baseline median ${baselineMedian.toFixed(2)} ms; ` +
      `ratio ours/baseline ${(oursMedian / baselineMedian).toFixed(2)}`,
  );
}

const slurm = squeueOutput(JOBS);
const pbs = qstatOutput(JOBS);
await compare(
  'core.slurm',
  new SlurmScheduler({ transport: cannedTransport(slurm.stdout) }),
  slurm.ids,
  slurm.stdout,
  naiveSqueue,
);
await compare(
  'core.pbspro',
  new PbsproScheduler({ transport: cannedTransport(pbs.stdout) }),
  pbs.ids,
  pbs.stdout,
  naiveQstat,
);
