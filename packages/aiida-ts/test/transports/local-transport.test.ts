import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LocalTransport } from '../../src/transports.js';
import { describeTransportContract } from './transport-contract.js';

describeTransportContract('core.local', { create: () => new LocalTransport() });

const run = promisify(execFile);

describe('core.local specifics', () => {
  it('builds its options from snake_case auth params and refuses unknown keys', () => {
    const t = LocalTransport.fromAuthParams('localhost', { use_login_shell: false, safe_interval: 2 });
    expect(t.getSafeOpenInterval()).toBe(2);
    expect(LocalTransport.fromAuthParams('localhost').getSafeOpenInterval()).toBe(0);
    expect(() => LocalTransport.fromAuthParams('localhost', { username: 'x' } as never)).toThrow(/username/u);
    expect(() => LocalTransport.fromAuthParams('localhost', { safe_interval: -1 })).toThrow();
  });

  it('runs commands in a login shell unless use_login_shell is false', async () => {
    await using login = new LocalTransport();
    await login.open();
    expect((await login.execCommandWait('shopt -q login_shell && echo login || echo plain')).stdout).toBe(
      'login\n',
    );
    await using plain = LocalTransport.fromAuthParams('localhost', { use_login_shell: false });
    await plain.open();
    expect((await plain.execCommandWait('shopt -q login_shell && echo login || echo plain')).stdout).toBe(
      'plain\n',
    );
  });

  it('gotocomputerCommand enters the directory, or says it was deleted', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "aiida ts goto 'x' $y "));
    try {
      const t = new LocalTransport();
      const inside = await run('bash', ['-c', `${t.gotocomputerCommand(dir)} <<< pwd`]);
      expect(inside.stdout.trim().split('\n').at(-1)).toBe(dir);
      const gone = await run('bash', ['-c', `${t.gotocomputerCommand(path.join(dir, 'gone'))} </dev/null`]);
      expect(gone.stdout).toContain(`  ** ${path.join(dir, 'gone')}\n`);
      expect(gone.stdout).toContain('seems to have been deleted, I logout...');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('kills the whole process group on timeout', async () => {
    await using t = new LocalTransport();
    await t.open();
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'aiida-ts-kill-'));
    onTestFinished(() => fsp.rm(dir, { recursive: true, force: true }));
    const marker = path.join(dir, 'pid');
    await expect(
      t.execCommandWait(`sleep 30 & echo $! > '${marker}'; wait`, { timeoutMs: 300 }),
    ).rejects.toMatchObject({ errno: 'ETIMEDOUT' });
    const pid = Number((await fsp.readFile(marker, 'utf8')).trim());
    await new Promise((r) => setTimeout(r, 100));
    // Gone, or a zombie waiting for a parent that does not reap (PID 1 in a container may not).
    const state = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').then(
      (stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3),
      () => 'gone',
    );
    expect(['gone', 'Z', 'X']).toContain(state);
  });
});
