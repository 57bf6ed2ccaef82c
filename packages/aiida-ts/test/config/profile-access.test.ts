import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AccessKind,
  acquireProfileAccess,
  ProcessLiveness,
  ProfileAccessManager,
} from '../../src/config/profile-access.js';
import { LockedProfileError, LockingProfileError } from '../../src/errors.js';
import { currentProcessIdentity } from '../../src/utils/process-identity.js';

const tsxLoader = createRequire(import.meta.url).resolve('tsx');
const holder = path.join(import.meta.dirname, 'fixtures', 'hold-profile.ts');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function configDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aiida-ts-access-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts another process that holds the profile; resolves once it said `ready` (or why it was refused). */
async function hold(
  dir: string,
  profile: string,
  mode: 'access' | 'lock',
): Promise<{ child: ChildProcessWithoutNullStreams; said: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, holder, dir, profile, mode]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const said = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) =>
      reject(new Error(`holder exited with ${code} before saying anything: ${err}`)),
    );
  });
  return { child, said, exited };
}

describe('ProfileAccessManager', () => {
  it('records pid, host, command and start time of a process using the profile, and removes it on release', () => {
    const dir = configDir();
    const handle = acquireProfileAccess('p', { configDir: dir });
    const second = acquireProfileAccess('p', { configDir: dir });
    const manager = new ProfileAccessManager('p', { configDir: dir });
    const [entry, ...others] = manager.list();
    expect(others).toEqual([]);
    const own = currentProcessIdentity();
    expect(entry).toMatchObject({
      kind: AccessKind.ACCESS,
      pid: process.pid,
      liveness: ProcessLiveness.ALIVE,
    });
    expect(entry?.record).toMatchObject({
      pid: process.pid,
      hostname: own.hostname,
      startTicks: own.startTicks,
      profile: 'p',
      command: expect.arrayContaining([expect.stringContaining('node')]),
    });
    expect(path.basename(entry!.file)).toBe(`${process.pid}@${own.hostname}.pid`);
    // this process's own record never counts as another user
    expect(manager.isActive()).toBe(false);
    // one record per process however many storages hold it; removed when the last one lets go
    handle.release();
    expect(manager.list()).toHaveLength(1);
    second.release();
    expect(manager.list()).toEqual([]);
  });

  it('refuses a lock while another live process uses the profile, naming it; takes it once that process is gone', async () => {
    const dir = configDir();
    const other = await hold(dir, 'p', 'access');
    expect(other.said).toBe('ready');
    const manager = new ProfileAccessManager('p', { configDir: dir });
    expect(manager.isActive()).toBe(true);
    const refusal = (() => {
      try {
        manager.lock('maintenance');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(LockingProfileError);
    expect((refusal as Error).message).toContain(`pid ${other.child.pid}`);
    expect((refusal as Error).message).toContain('hold-profile.ts');
    // nothing was left behind by the refused lock
    expect(manager.list(AccessKind.LOCK)).toEqual([]);

    // killed without a chance to clean up: its record stays, but is stale
    other.child.kill('SIGKILL');
    await other.exited;
    expect(manager.list()[0]?.liveness).toBe(ProcessLiveness.DEAD);
    const lock = manager.lock('maintenance');
    expect(manager.list()).toEqual([expect.objectContaining({ kind: AccessKind.LOCK, pid: process.pid })]);
    lock.release();
    expect(manager.list()).toEqual([]);
  });

  it('keeps other processes out while locked, and lets them in after', async () => {
    const dir = configDir();
    const manager = new ProfileAccessManager('p', { configDir: dir });
    const lock = manager.lock('maintenance');
    const refused = await hold(dir, 'p', 'access');
    expect(refused.said).toMatch(
      /^refused: LockedProfileError: .*cannot access profile `p` because it is locked/,
    );
    expect(refused.said).toContain(`pid ${process.pid}`);
    const second = await hold(dir, 'p', 'lock');
    expect(second.said).toMatch(/^refused: LockedProfileError/);
    lock.release();
    const admitted = await hold(dir, 'p', 'access');
    expect(admitted.said).toBe('ready');
  });

  it('a lock held by a process that died does not keep anyone out', async () => {
    const dir = configDir();
    const locker = await hold(dir, 'p', 'lock');
    expect(locker.said).toBe('ready');
    expect(() => acquireProfileAccess('p', { configDir: dir })).toThrow(LockedProfileError);
    locker.child.kill('SIGKILL');
    await locker.exited;
    const handle = acquireProfileAccess('p', { configDir: dir });
    handle.release();
  });

  it('a record whose pid now belongs to another process (another start time) is stale', () => {
    const dir = configDir();
    const manager = new ProfileAccessManager('p', { configDir: dir });
    const own = currentProcessIdentity();
    // a record of "this pid" from a process that started at another time: the pid was reused
    const reused = path.join(manager.folder, `${process.ppid}@${own.hostname}.pid`);
    acquireProfileAccess('p', { configDir: dir }).release();
    writeFileSync(
      reused,
      JSON.stringify({
        pid: process.ppid,
        hostname: own.hostname,
        command: ['python', 'old'],
        startTicks: 1,
        bootId: own.bootId,
        since: '2020-01-01T00:00:00.000Z',
        profile: 'p',
      }),
    );
    expect(manager.list()[0]?.liveness).toBe(ProcessLiveness.DEAD);
    expect(manager.clearStale()).toBe(1);
    expect(existsSync(reused)).toBe(false);
  });

  it('a record from another host cannot be checked: it counts as in use', () => {
    const dir = configDir();
    const manager = new ProfileAccessManager('p', { configDir: dir });
    acquireProfileAccess('p', { configDir: dir }).release();
    writeFileSync(path.join(manager.folder, '4242@elsewhere.example.pid'), 'not even JSON');
    expect(manager.list()[0]).toMatchObject({ liveness: ProcessLiveness.UNKNOWN, record: undefined });
    expect(() => manager.lock('maintenance')).toThrow(/pid 4242 on elsewhere\.example \(another host\)/);
    expect(manager.clearStale()).toBe(0);
    expect(readdirSync(manager.folder)).toEqual(['4242@elsewhere.example.pid']);
  });
});
