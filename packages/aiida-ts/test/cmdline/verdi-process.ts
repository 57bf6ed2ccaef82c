import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
}

const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
/** The executable's source, run through tsx. */
export const VERDI_SOURCE = join(PACKAGE_ROOT, 'src', 'cmdline', 'verdi.ts');
const VERDI_DIST = join(PACKAGE_ROOT, 'dist', 'cmdline', 'verdi.js');

/**
 * The node arguments that start `verdi`. In CI (`pnpm test` builds first) the built `dist/cmdline/verdi.js`, the
 * executable users run, which starts twice as fast as the sources through tsx; elsewhere the sources, so that a
 * test never runs a stale build.
 */
export const VERDI_ARGV: readonly string[] =
  process.env['CI'] !== undefined &&
  process.env['CI'] !== '' &&
  process.env['CI'] !== 'false' &&
  existsSync(VERDI_DIST)
    ? [VERDI_DIST]
    : ['--conditions=source', '--import', 'tsx', VERDI_SOURCE];

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
      cwd: PACKAGE_ROOT,
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
  cleanup(): void;
} {
  const base = mkdtempSync(join(tmpdir(), prefix));
  return {
    base,
    configDir: join(base, '.aiida-ts'),
    verdi: (args, options) => runVerdi(base, args, options),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** Assert-friendly summary of a result for failure messages. */
export function describeResult(result: VerdiResult): string {
  return `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}
