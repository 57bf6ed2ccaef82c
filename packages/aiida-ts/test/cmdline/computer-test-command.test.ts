import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshFixture, UNWRITABLE_WORKDIR, type SshFixture } from '../computers/helpers.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-computer-test-');
const { verdi } = sandbox;
let scratch: string;
let ssh: SshFixture;

async function ok(args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  const result = await verdi(args, { env });
  expect(result.code, describeResult(result)).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'aiida-ts-computer-test-work-'));
  ssh = await startSshFixture();
  await ok(['presto']);
}, 120_000);
afterAll(async () => {
  sandbox.cleanup();
  await ssh.dispose();
  await rm(scratch, { recursive: true, force: true });
});

const CHECK_LINES = [
  /^\* Opening connection\.\.\. \[OK\]$/m,
  /^\* Checking for spurious output\.\.\. \[OK\]$/m,
  /^\* Getting number of jobs from scheduler\.\.\. \[OK\]: \d+ jobs found in the queue$/m,
  new RegExp(`^\\* Determining remote user name\\.\\.\\. \\[OK\\]: ${userInfo().username}$`, 'm'),
  /^\* Creating and deleting temporary file\.\.\. \[OK\]: wrote, read back and deleted a file in /m,
];

describe('verdi computer test', () => {
  it('passes for a local computer (core.local + core.direct)', async () => {
    await ok([
      'computer',
      'setup',
      '-n',
      '-L',
      'local-ok',
      '-H',
      'localhost',
      '-T',
      'core.local',
      '-S',
      'core.direct',
      '-w',
      join(scratch, '{username}', 'work'),
    ]);
    await ok(['computer', 'configure', 'core.local', 'local-ok', '-n']);
    const out = await ok(['computer', 'test', 'local-ok']);
    expect(out).toContain('Report: Testing computer<local-ok> for user<aiida@localhost>...');
    for (const line of CHECK_LINES) expect(out).toMatch(line);
    expect(out).toMatch(/^\* Checking for possible delay from using login shell\.\.\. \[OK\]/m);
    expect(out).toContain('Success: all 6 tests succeeded');
    expect(out).not.toContain('FAILED');
  }, 60_000);

  it('passes for an SSH computer (core.ssh to a private sshd + core.direct)', async () => {
    await ok([
      'computer',
      'setup',
      '-n',
      '-L',
      'ssh-ok',
      '-H',
      '127.0.0.1',
      '-T',
      'core.ssh',
      '-S',
      'core.direct',
      '-w',
      join(scratch, 'ssh-{username}'),
    ]);
    await ok([
      'computer',
      'configure',
      'core.ssh',
      'ssh-ok',
      '-n',
      '--username',
      userInfo().username,
      '--port',
      String(ssh.sshd.port),
      '--key-filename',
      ssh.sshd.clientKey,
      '--no-look-for-keys',
      '--no-allow-agent',
      '--no-use-login-shell',
      '--safe-interval',
      '0',
    ]);
    // HOME holds the known_hosts that trusts the private sshd
    const out = await ok(['computer', 'test', 'ssh-ok'], { HOME: ssh.home });
    for (const line of CHECK_LINES) expect(out).toMatch(line);
    expect(out).toContain('Success: all 6 tests succeeded');
    expect(ssh.sshd.log()).not.toMatch(/error/i);
  }, 60_000);

  it('fails, naming the check, when the work directory is not writable', async () => {
    await ok([
      'computer',
      'setup',
      '-n',
      '-L',
      'read-only',
      '-H',
      'localhost',
      '-T',
      'core.local',
      '-S',
      'core.direct',
      '-w',
      UNWRITABLE_WORKDIR,
    ]);
    await ok(['computer', 'configure', 'core.local', 'read-only', '-n', '--no-use-login-shell']);
    const result = await verdi(['computer', 'test', 'read-only']);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stdout).toMatch(/^\* Opening connection\.\.\. \[OK\]$/m);
    expect(result.stdout).toMatch(
      /^\* Creating and deleting temporary file\.\.\. \[FAILED\]: TransportError: .*\/sys\/aiida-ts-unwritable/m,
    );
    expect(result.stderr).toContain('Warning: 1 out of 6 tests failed');
    expect(result.stderr).toContain('Critical: computer read-only failed 1 of 6 checks');
  }, 60_000);

  it('fails when the connection cannot be opened', async () => {
    await ok([
      'computer',
      'setup',
      '-n',
      '-L',
      'ssh-down',
      '-H',
      '127.0.0.1',
      '-T',
      'core.ssh',
      '-S',
      'core.direct',
      '-w',
      '/tmp',
    ]);
    await ok([
      'computer',
      'configure',
      'core.ssh',
      'ssh-down',
      '-n',
      '--port',
      String(ssh.sshd.port),
      '--key-filename',
      ssh.sshd.strangerKey,
      '--no-look-for-keys',
      '--timeout',
      '5',
    ]);
    const result = await verdi(['computer', 'test', 'ssh-down'], { env: { HOME: ssh.home } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^\* Opening connection\.\.\. \[FAILED\]: Error while trying to connect to the computer: /m,
    );
    expect(result.stderr).toContain('1 out of 1 tests failed');
  }, 60_000);

  it('refuses an unconfigured computer and asks before testing a disabled one', async () => {
    await ok([
      'computer',
      'setup',
      '-n',
      '-L',
      'bare',
      '-H',
      'localhost',
      '-T',
      'core.local',
      '-S',
      'core.direct',
      '-w',
      '/tmp',
    ]);
    const bare = await verdi(['computer', 'test', 'bare']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('Computer<bare> is not yet configured for user<aiida@localhost>');
    await ok(['computer', 'disable', 'local-ok']);
    const declined = await verdi(['computer', 'test', 'local-ok'], { input: 'n\n' });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('Warning: Computer<local-ok> is disabled for user<aiida@localhost>');
    expect(declined.stdout).not.toContain('Opening connection');
    const accepted = await verdi(['computer', 'test', 'local-ok'], { input: 'y\n' });
    expect(accepted.code, describeResult(accepted)).toBe(0);
    expect(accepted.stdout).toContain('Success: all 6 tests succeeded');
  }, 60_000);
});
