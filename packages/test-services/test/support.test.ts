import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts, isAlive, isServiceError, ServiceTimeoutError, terminate, waitFor } from '../src/index.js';

describe('freePorts', () => {
  it('gives distinct ports that can be listened on', async () => {
    const ports = await freePorts(3);
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('waitFor', () => {
  it('resolves once the probe holds, counting a throwing probe as not yet', async () => {
    let calls = 0;
    await waitFor(
      'the third call',
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not ready');
        return calls >= 3;
      },
      { intervalMs: 1 },
    );
    expect(calls).toBe(3);
  });

  it('names what it waited for and keeps the last failure as the cause', async () => {
    const error = await waitFor(
      'a miracle',
      () => {
        throw new Error('still nothing');
      },
      { timeoutMs: 0, intervalMs: 1, service: 'demo' },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceTimeoutError);
    expect(isServiceError(error)).toBe(true);
    expect((error as Error).message).toBe('private demo: timed out waiting for a miracle');
    expect(((error as Error).cause as Error).message).toBe('still nothing');
  });
});

describe('terminate', () => {
  it('ends a process that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const child = spawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const pid = child.pid!;
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, sig) => resolve(sig)),
    );
    await terminate(pid, { graceMs: 200 });
    expect(await exited).toBe('SIGKILL');
    expect(isAlive(pid)).toBe(false);
  });
});
