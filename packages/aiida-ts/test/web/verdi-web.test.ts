import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setConfigDir } from '../../src/config.js';
import { verdiInProcess } from '../cmdline/verdi-in-process.js';
import { describeResult, VERDI_ARGV, verdiSandbox } from '../cmdline/verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-web-');

/** Starts `verdi web` in the sandbox and waits for the line with its address. */
function startWeb(args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...VERDI_ARGV, 'web', '--port', '0', ...args], {
    env: { ...process.env, AIIDA_TS_PATH: sandbox.base, FORCE_COLOR: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    exited,
    output: () => `${stdout}\n${stderr}`,
    async ready(): Promise<{ address: string; token: string | null }> {
      await expect
        .poll(() => /Press Ctrl\+C/.test(stdout) || child.exitCode !== null, { timeout: 30_000 })
        .toBe(true);
      const address = /at (http:\/\/[^ ]+?)\/ /.exec(stdout)?.[1];
      if (address === undefined) throw new Error(`no address in\n${stdout}\n${stderr}`);
      return { address, token: /Control token \(pause\/play\/kill\): (\S+)/.exec(stdout)?.[1] ?? null };
    },
    stop: () => child.kill('SIGINT'),
  };
}

describe('verdi web', () => {
  beforeAll(async () => {
    const created = await sandbox.verdi(['presto']);
    expect(created.code, describeResult(created)).toBe(0);
  });
  afterAll(() => sandbox.cleanup());

  it('serves the API and the page on 127.0.0.1, prints a control token, and stops on Ctrl+C', async () => {
    const web = startWeb([]);
    const { address, token } = await web.ready();
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(token).toMatch(/^[\w-]{20,}$/);
    const server = (await (await fetch(`${address}/api/v4/server`)).json()) as { data: { control: boolean } };
    expect(server.data.control).toBe(true);
    const page = await fetch(`${address}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const script = await fetch(`${address}/assets/app.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(1000);
    const refused = await fetch(`${address}/api/v4/processes/1/pause`, { method: 'POST' });
    expect(refused.status).toBe(401);
    web.stop();
    expect(await web.exited, web.output()).toBe(0);
  });

  it('is read-only with --read-only and refuses a bad port', async () => {
    const web = startWeb(['--read-only']);
    const { address, token } = await web.ready();
    expect(token).toBeNull();
    const refused = await fetch(`${address}/api/v4/processes/1/pause`, {
      method: 'POST',
      headers: { authorization: 'Bearer x' },
    });
    expect(refused.status).toBe(403);
    web.stop();
    await web.exited;
    // in this process (faster than a second executable): the port is checked before anything is opened
    setConfigDir(sandbox.configDir);
    const bad = await verdiInProcess(['web', '--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port');
  });
});
