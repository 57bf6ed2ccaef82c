/**
 * A private OpenSSH server on 127.0.0.1 for the `core.ssh` tests: its own host key, client keys (one
 * plain, one passphrase-protected), authorized_keys and config in a temporary folder, on a free port.
 * Needs `/usr/sbin/sshd` (Debian: `apt-get install -y --no-install-recommends openssh-server`). Only the
 * processes this helper starts are ever signalled, by pid.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD_BINARY = '/usr/sbin/sshd';
export const CLIENT_KEY_PASSPHRASE = 'correct horse battery staple';

export interface PrivateSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  /** Private key accepted by the server. */
  readonly clientKey: string;
  /** Passphrase-protected private key accepted by the server. */
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function keygen(file: string, passphrase = ''): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', path.basename(file), '-f', file]);
}

/** Parent pid of each live process, read from /proc. */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/u.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return parents;
}

/** Every descendant of `root`, deepest last. */
function descendants(root: number): number[] {
  const parents = parentMap();
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

async function waitForBanner(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
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
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`private sshd did not accept connections on port ${port}`);
}

/** Start a private sshd; call `dispose()` when done. */
export async function startPrivateSshd(extraConfig: readonly string[] = []): Promise<PrivateSshd> {
  if (!fs.existsSync(SSHD_BINARY)) {
    throw new Error(
      `${SSHD_BINARY} is missing: apt-get install -y --no-install-recommends openssh-server (the core.ssh tests need it)`,
    );
  }
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
      // sshd takes the first value of a keyword, so the caller's lines come first.
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
      await waitForBanner(port, Date.now() + 10_000);
    } catch (error) {
      proc.kill('SIGKILL');
      child = undefined;
      throw new Error(`${(error as Error).message}\n${stderr.join('')}`, { cause: error });
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc?.pid === undefined) return;
    child = undefined;
    for (const pid of descendants(proc.pid).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    proc.kill('SIGTERM');
    await exited;
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
    connectionPids: () => {
      const root = child?.pid;
      if (root === undefined) return [];
      return [...parentMap()].filter(([, parent]) => parent === root).map(([pid]) => pid);
    },
    dispose: async () => {
      await stop();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
