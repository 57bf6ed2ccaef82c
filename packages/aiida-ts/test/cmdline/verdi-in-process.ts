import { PassThrough } from 'node:stream';
import { runVerdi } from '../../src/cmdline/main.js';

/** What one in-process run of `verdi` gave. */
export interface InProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `verdi` in this process with captured output: much faster than the executable, for tests of what commands
 * print and return (the configuration folder is the one `setConfigDir` set).
 */
export async function verdiInProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<InProcessResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await runVerdi(args, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    env,
    ...(input === undefined ? {} : { input: PassThrough.from([input]) as unknown as NodeJS.ReadStream }),
  });
  return { code, stdout: out, stderr: err };
}
