/**
 * A private OpenSSH server on 127.0.0.1: its own host key, client keys (one plain, one passphrase-protected),
 * authorized_keys and config in a temporary folder, on a free port. Needs `/usr/sbin/sshd` (Debian's
 * `openssh-server`). Only the processes this helper starts are ever signalled, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServiceError } from './errors.js';
import { freePort } from './ports.js';
import { childPids, descendantPids, isStopped, signal } from './processes.js';
import { requireBinaries, run } from './system.js';
import { waitFor } from './wait.js';

/** The sshd binary the private server runs. */
export const SSHD_BINARY = '/usr/sbin/sshd';
/** The passphrase of {@link PrivateSshd.passphraseKey}. */
export const CLIENT_KEY_PASSPHRASE = 'correct horse battery staple';

/** A running private sshd and the keys that log in to it. */
export interface PrivateSshd extends AsyncDisposable {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  /** Private key accepted by the server. */
  readonly clientKey: string;
  /** Passphrase-protected private key accepted by the server ({@link CLIENT_KEY_PASSPHRASE}). */
  readonly passphraseKey: string;
  /** A key the server does not accept. */
  readonly strangerKey: string;
  /** A known_hosts file listing this server's host key (plain name). */
  readonly knownHostsFile: string;
  /** A known_hosts file listing this server's host key under a hashed name. */
  readonly hashedKnownHostsFile: string;
  /** The server's public host key line (`ssh-ed25519 AAAA…`). */
  readonly hostPublicKey: string;
  /** Pid of the listening sshd while it runs. */
  readonly pid: number | undefined;
  /** Stop the server and every session it forked; the port stays reserved for {@link start}. */
  stop(): Promise<void>;
  /** Start (again) on the same port with the same keys. */
  start(): Promise<void>;
  /** Pids of the processes the server forked, one per client connection. */
  connectionPids(): number[];
  /** What sshd wrote on stderr so far. */
  log(): string;
  /** Stop for good and delete the folder. */
  dispose(): Promise<void>;
}

async function keygen(file: string, passphrase = ''): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', path.basename(file), '-f', file]);
}

/** Whether the server on `port` answers with an SSH banner (a bare open port is not enough). */
function answersBanner(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('SSH-2.0'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Starts a private sshd; `extraConfig` lines come first in its `sshd_config` (sshd takes the first value of
 * a keyword). Call `dispose()` when done.
 */
export async function startPrivateSshd(extraConfig: readonly string[] = []): Promise<PrivateSshd> {
  requireBinaries('sshd', [SSHD_BINARY], 'openssh-server');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'aiida-ts-sshd-'));
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  const passphraseKey = path.join(dir, 'client_passphrase_ed25519');
  const strangerKey = path.join(dir, 'stranger_ed25519');
  await Promise.all([
    keygen(hostKey),
    keygen(clientKey),
    keygen(passphraseKey, CLIENT_KEY_PASSPHRASE),
    keygen(strangerKey),
  ]);
  const authorized = [
    await fsp.readFile(`${clientKey}.pub`, 'utf8'),
    await fsp.readFile(`${passphraseKey}.pub`, 'utf8'),
  ];
  await fsp.writeFile(path.join(dir, 'authorized_keys'), authorized.join(''), { mode: 0o600 });
  const port = await freePort();
  const hostPublicKey = (await fsp.readFile(`${hostKey}.pub`, 'utf8'))
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ');
  const knownHostsFile = path.join(dir, 'known_hosts');
  await fsp.writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
  const hashedKnownHostsFile = path.join(dir, 'known_hosts_hashed');
  await fsp.writeFile(hashedKnownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
  await run('ssh-keygen', ['-H', '-f', hashedKnownHostsFile]);
  await fsp.rm(`${hashedKnownHostsFile}.old`, { force: true });
  const config = path.join(dir, 'sshd_config');
  await fsp.writeFile(
    config,
    [
      ...extraConfig,
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp internal-sftp',
      'MaxSessions 64',
      'MaxStartups 64',
      'AllowTcpForwarding yes',
      'LogLevel ERROR',
      // Sessions see the HOME of the process that started sshd when it is not the account's (tests give
      // themselves a home with empty startup files): the shells sshd starts then run those files, not the
      // user's, which are not under test and can stall (a pyenv rehash lock left by a killed shell: 60 s).
      ...(process.env['HOME'] !== undefined && process.env['HOME'] !== os.userInfo().homedir
        ? [`SetEnv HOME=${process.env['HOME']}`]
        : []),
      '',
    ].join('\n'),
  );
  // Privilege separation needs this folder when sshd runs as root.
  await fsp.mkdir('/run/sshd', { recursive: true }).catch(() => undefined);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const stderr: string[] = [];

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const proc = spawn(SSHD_BINARY, ['-f', config, '-D', '-e'], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    child = proc;
    try {
      await waitFor(`an SSH banner on port ${port}`, () => answersBanner(port), {
        timeoutMs: 10_000,
        intervalMs: 50,
        service: 'sshd',
      });
    } catch (error) {
      proc.kill('SIGKILL');
      child = undefined;
      throw new ServiceError('sshd', `did not start:\n${stderr.join('')}`, { cause: error });
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc?.pid === undefined) return;
    child = undefined;
    // The sessions sshd forked hold client connections open and outlive the listener, so they are ended too. The
    // listener is frozen first: a session it forked after the list of its children was read would keep its
    // connection (clients that connect every poll made that happen under load: a stopped sshd still served).
    const frozen = (what: string, pids: readonly number[]): Promise<void> =>
      waitFor(`${what} (pid ${String(proc.pid)}) to be stopped`, () => pids.every(isStopped), {
        timeoutMs: 10_000,
        intervalMs: 5,
        service: 'sshd',
      });
    proc.kill('SIGSTOP');
    await frozen('sshd', [proc.pid]);
    // The sessions are frozen too before any is killed: a session that forks while the tree is read is frozen in the
    // next pass (its parent lives on, frozen, so the new process is still found under the listener), until a pass
    // finds nothing new. Killed one by one as they were found, a session's child forked in between was left to
    // init, held the connection, and the stopped sshd kept answering (a paused-job test waited for ever).
    const sessions: number[] = [];
    for (;;) {
      const found = descendantPids(proc.pid).filter((pid) => !sessions.includes(pid));
      if (found.length === 0) break;
      for (const pid of found) signal(pid, 'SIGSTOP');
      sessions.push(...found);
      await frozen('the sessions of sshd', found);
    }
    for (const pid of sessions.reverse()) signal(pid, 'SIGKILL');
    proc.kill('SIGKILL');
    await exited;
  };

  const dispose = async (): Promise<void> => {
    await stop();
    await fsp.rm(dir, { recursive: true, force: true });
  };

  await start();
  return {
    host: '127.0.0.1',
    port,
    dir,
    clientKey,
    passphraseKey,
    strangerKey,
    knownHostsFile,
    hashedKnownHostsFile,
    hostPublicKey,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    log: () => stderr.join(''),
    connectionPids: () => (child?.pid === undefined ? [] : childPids(child.pid)),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
