import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, VERDI_ARGV, verdiSandbox } from './verdi-process.js';

const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g');

/**
 * `verdi shell` in a pseudo-terminal (util-linux `script`): `type(after, text)` waits for `after` to be in the output,
 * then types `text`; `done` resolves to the whole output, escape sequences removed.
 */
function terminalShell(base: string): {
  type(after: string, text: string): Promise<void>;
  done: Promise<string>;
} {
  const command = [process.execPath, ...VERDI_ARGV, 'shell'].join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, AIIDA_TS_PATH: base, FORCE_COLOR: undefined, TERM: 'xterm' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const plain = (): string => output.replace(ANSI, '');
  const check = (): void => {
    for (const waiter of [...waiters])
      if (plain().includes(waiter.text)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const done = new Promise<string>((resolve) => child.on('close', () => resolve(plain())));
  return {
    async type(after, text) {
      await new Promise<void>((resolve) => {
        waiters.push({ text: after, resolve });
        check();
      });
      child.stdin.write(text);
    },
    done,
  };
}

describe('verdi shell', () => {
  const sandbox = verdiSandbox('aiida-ts-verdi-shell-');
  beforeAll(async () => {
    const presto = await sandbox.verdi(['presto']);
    expect(presto.code, describeResult(presto)).toBe(0);
  }, 60_000);
  afterAll(() => sandbox.cleanup());

  it('evaluates TypeScript piped in, line by line, with the profile loaded and aiida-ts imported', async () => {
    const input = [
      'const n: number = 6 * 7',
      'n',
      'const stored = await new Int(5).store()',
      '(await loadNode(stored.pk ?? 0)).value + 1',
      'profile.name',
      'orm.Int === Int && typeof engine.run',
      'function twice(',
      '  x: number,',
      '): number {',
      '  return 2 * x',
      '}',
      'twice(21) + 100',
      'throw new Error("a mistake")',
      '"still here"',
      'const broken: = 1',
      'await new QueryBuilder().append(Int).count()',
    ].join('\n');
    const result = await sandbox.verdi(['shell', '--no-history'], { input: `${input}\n` });
    expect(result.code, describeResult(result)).toBe(0);
    const lines = result.stdout.split('presto> ').map((line) => line.trim());
    expect(lines).toContain('42');
    expect(lines).toContain('6');
    expect(lines).toContain("'presto'");
    expect(lines).toContain("'function'");
    expect(result.stdout).toContain('142');
    expect(result.stdout).toContain('Uncaught Error: a mistake');
    expect(lines).toContain("'still here'");
    expect(result.stdout).toMatch(/ShellSyntaxError: Unexpected "="/);
    // the query ran after the store: one Int at least
    expect(Number(lines.at(-2))).toBeGreaterThanOrEqual(1);
  });

  it('keeps the history of a terminal session for the next one', async () => {
    const first = terminalShell(sandbox.base);
    await first.type('presto> ', 'const answer: number = 6 * 7; answer\r');
    await first.type('42', 'answer + 1000\r');
    await first.type('1042', '\u0004');
    await first.done;
    const history = readFileSync(join(sandbox.configDir, 'verdi-shell-history'), 'utf8');
    expect(history.split('\n').slice(0, 2)).toEqual([
      'answer + 1000',
      'const answer: number = 6 * 7; answer',
    ]);

    // two arrows up bring back the first line of the previous session (the screen shows `1000`, never `42`)
    const second = terminalShell(sandbox.base);
    await second.type('presto> ', `${ESC}[A${ESC}[A\r`);
    await second.type('42', '\u0004');
    expect(await second.done).toMatch(/const answer: number = 6 \* 7; answer\s+42/);
  });
});
