/**
 * The connection limit across OS processes: two runner processes on one profile run jobs on a `core.ssh` computer
 * whose `safe_interval` is 2 s; the private sshd (which logs every login) sees at most one new connection per 2 s,
 * whichever process opens it, and every job finishes.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateSshd, type PrivateSshd } from '@aiida-ts/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wirePlugins } from '../../src/config.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { sqliteDosConfig, TEST_USER_EMAIL } from '../storage/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve('tsx');
const SAFE_INTERVAL_S = 2;
/** How often the log is read. */
const SAMPLE_MS = 25;
/**
 * How much earlier than the interval two logins may seem to come: the log is read on a timer of this (busy) process,
 * which can fire late. A limit not held across processes shows as logins at the same moment, far below this.
 */
const JITTER_MS = 200;

let sshd: PrivateSshd;
let storage: StorageBackend;
let filepath: string;
let cleanupStorage: () => Promise<void>;
let fixture: CodeFixture;
let home: string;

beforeAll(async () => {
  // sshd logs each accepted login (INFO); the first value of a keyword wins over the helper's `LogLevel ERROR`
  sshd = await startPrivateSshd(['LogLevel INFO']);
  home = await mkdtemp(path.join(tmpdir(), 'aiida-ts-ssh-limit-home-'));
  await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
  await copyFile(sshd.knownHostsFile, path.join(home, '.ssh', 'known_hosts'));
  const plugin = new SqliteDosStorage();
  const made = await sqliteDosConfig();
  filepath = made.config.filepath;
  cleanupStorage = made.cleanup;
  await plugin.initialise(made.config);
  storage = await plugin.open(made.config, { defaultUserEmail: TEST_USER_EMAIL });
  setDefaultStorage(storage);
  wirePlugins();
  fixture = await setupComputer(
    storage,
    { transportType: 'core.ssh', hostname: '127.0.0.1' },
    {
      username: userInfo().username,
      port: sshd.port,
      key_filename: sshd.clientKey,
      look_for_keys: false,
      allow_agent: false,
      use_login_shell: false,
      safe_interval: SAFE_INTERVAL_S,
    },
    { minimum_scheduler_poll_interval: 0.2 },
  );
}, 120_000);

afterAll(async () => {
  await fixture?.cleanup();
  setDefaultStorage(null);
  await storage?.close();
  await cleanupStorage?.();
  await sshd?.dispose();
  await rm(home, { recursive: true, force: true });
});

/** Runs the runner script to its end; resolves to what it printed last. */
function runRunner(count: number, sleep: number): Promise<{ done?: (number | null)[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsxLoader,
        path.join(here, 'scripts', 'limits-runner.ts'),
        filepath,
        String(fixture.code.pk),
        String(count),
        String(sleep),
      ],
      // the ssh transport reads known_hosts under HOME: the fixture's
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      const last = out.trim().split('\n').at(-1) ?? '{}';
      resolve({
        ...(JSON.parse(last.startsWith('{') ? last : '{}') as { done?: (number | null)[] }),
        stderr: err,
      });
    });
  });
}

describe('two runner processes on one profile, safe_interval 2 s', () => {
  it(
    'open at most one SSH connection per 2 s between them, and finish every job',
    { timeout: 120_000 },
    async () => {
      const logins: number[] = [];
      let seen = 0;
      const watcher = setInterval(() => {
        const count = (sshd.log().match(/Accepted publickey/g) ?? []).length;
        for (; seen < count; seen += 1) logins.push(Date.now());
      }, SAMPLE_MS);
      try {
        const [first, second] = await Promise.all([runRunner(2, 0), runRunner(2, 0)]);
        expect(first.done, first.stderr).toEqual([0, 0]);
        expect(second.done, second.stderr).toEqual([0, 0]);
      } finally {
        clearInterval(watcher);
      }
      // both processes connected (at least once each), never two logins closer than the interval
      expect(logins.length).toBeGreaterThanOrEqual(2);
      const gaps = logins.slice(1).map((at, i) => at - logins[i]!);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(SAFE_INTERVAL_S * 1000 - JITTER_MS);
    },
  );
});
