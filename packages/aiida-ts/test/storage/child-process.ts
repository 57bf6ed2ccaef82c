import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/** A TypeScript script run in its own Node process (through tsx, with the workspace packages from source). */
export interface TestChild {
  readonly process: ChildProcess;
  /** Everything it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with its output when it exits 0; rejects with its stderr otherwise. */
  readonly done: Promise<string>;
}

/** Forks `script` with `args`; its stdout and stderr are collected, and it can receive IPC messages. */
export function forkTestChild(script: string, args: readonly string[]): TestChild {
  const child = fork(script, [...args], {
    execArgv: ['--conditions=source', '--import', tsxLoader],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${script} ${args.join(' ')} exited with ${String(code ?? signal)}:\n${err}`));
    });
  });
  // a test that kills the child on purpose handles `done` itself; never an unhandled rejection
  done.catch(() => undefined);
  return { process: child, stdout: () => out, stderr: () => err, done };
}
