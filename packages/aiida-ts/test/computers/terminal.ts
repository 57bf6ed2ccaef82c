import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { VERDI_ARGV } from '../cmdline/verdi-process.js';

/**
 * Runs `verdi` on a pseudo-terminal (util-linux `script`) and answers each prompt when it shows up, as a person
 * would: the command sees a terminal on stdin and stderr, so it asks for what is missing.
 */
export function runOnTerminal(
  base: string,
  args: readonly string[],
  answers: readonly (readonly [RegExp, string])[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, ...VERDI_ARGV, ...args]
    .map((word) => `'${word.replaceAll("'", "'\\''")}'`)
    .join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, AIIDA_TS_PATH: base, NO_COLOR: '1', TERM: 'dumb', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let next = 0;
    let seen = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`timed out waiting for prompt ${String(answers[next]?.[0])}; output so far:\n${output}`),
      );
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      while (next < answers.length) {
        const [prompt, answer] = answers[next]!;
        const match = prompt.exec(output.slice(seen));
        if (match === null) break;
        seen += match.index + match[0].length;
        child.stdin.write(`${answer}\r`);
        next += 1;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.end();
      resolve({ code, output });
    });
  });
}

/** Runs `action` with the sandbox's default profile loaded in this process (to prepare data through the ORM). */
export async function withProfile<T>(configDir: string, action: () => Promise<T>): Promise<T> {
  setConfigDir(configDir);
  try {
    await loadProfile();
    return await action();
  } finally {
    await unloadProfile();
    setConfigDir(undefined);
  }
}

/** A loopback HTTP server answering every request with `body`; close it when done. */
export async function serveText(body: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/yaml' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/config.yaml`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
