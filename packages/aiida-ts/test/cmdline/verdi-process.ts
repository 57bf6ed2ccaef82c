import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';

/** What one run of the real `verdi` executable gave. */
export interface VerdiResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (throws with the output when it is not JSON). */
  json<T = unknown>(): T;
}

/** Options of one run. */
export interface RunOptions {
  /** Written to stdin, then stdin is closed. */
  readonly input?: string;
  readonly env?: Record<string, string | undefined>;
  readonly timeoutMs?: number;
  /** The working directory (default: the package root); relative paths in arguments and outputs resolve there. */
  readonly cwd?: string;
}

const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
/** The executable's source, run through tsx. */
export const VERDI_SOURCE = join(PACKAGE_ROOT, 'src', 'cmdline', 'verdi.ts');
const VERDI_DIST = join(PACKAGE_ROOT, 'dist', 'bin', 'verdi.js');

/**
 * The node arguments that start `verdi`. In CI (`pnpm test` builds first) the built `dist/bin/verdi.js`, the
 * executable users run, which starts twice as fast as the sources through tsx; elsewhere the sources, so that a
 * test never runs a stale build.
 */
export const VERDI_ARGV: readonly string[] =
  process.env['CI'] !== undefined &&
  process.env['CI'] !== '' &&
  process.env['CI'] !== 'false' &&
  existsSync(VERDI_DIST)
    ? [VERDI_DIST]
    : [
        '--conditions=source',
        // tsx by its location, so that a run in another working directory (`RunOptions.cwd`) finds it too
        '--import',
        pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
        VERDI_SOURCE,
      ];

/** Run `verdi` with `args` in a child process, with the configuration folder under `base` (AIIDA_TS_PATH). */
export function runVerdi(
  base: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<VerdiResult> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    AIIDA_TS_PATH: base,
    FORCE_COLOR: undefined,
    // `verdi presto` would configure the RabbitMQ server of the test machine: tests that want it say so
    AIIDA_TS_PRESTO_BROKER: 'none',
    ...options.env,
  };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...VERDI_ARGV, ...args], {
      cwd: options.cwd ?? PACKAGE_ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`verdi ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json<T>(): T {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout of verdi ${args.join(' ')} is not JSON:\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A fresh configuration base folder for one test file, and a `verdi` bound to it. */
export function verdiSandbox(prefix = 'aiida-ts-verdi-'): {
  readonly base: string;
  readonly configDir: string;
  verdi(args: readonly string[], options?: RunOptions): Promise<VerdiResult>;
  /** Writes a script for `verdi run` into the base folder and gives its path. */
  script(name: string, text: string): string;
  cleanup(): void;
} {
  const base = mkdtempSync(join(tmpdir(), prefix));
  return {
    base,
    configDir: join(base, '.aiida-ts'),
    verdi: (args, options) => runVerdi(base, args, options),
    script: (name, text) => {
      const file = join(base, name);
      writeFileSync(file, text);
      return file;
    },
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** Assert-friendly summary of a result for failure messages. */
export function describeResult(result: VerdiResult): string {
  return `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** A `verdi run` in the background: its output so far, a way to wait for a line of it, and its exit code. */
export function startVerdiRun(base: string, args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...VERDI_ARGV, 'run', ...args], {
    env: { ...process.env, AIIDA_TS_PATH: base, FORCE_COLOR: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    out,
    exited,
    describe: () => `stdout: ${out.stdout}\nstderr: ${out.stderr}`,
    async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
      await expect.poll(() => pattern.test(out.stdout), { timeout: 60_000, interval: 20 }).toBe(true);
      const match = pattern.exec(out.stdout);
      if (match === null) throw new Error(`${String(pattern)} matched, then did not`);
      return match;
    },
  };
}
