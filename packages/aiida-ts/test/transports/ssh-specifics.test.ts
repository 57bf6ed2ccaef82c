/**
 * `core.ssh` behaviours beyond the shared contract: authentication, host key checking, tunnels, a server
 * that goes away mid-transfer and comes back, the I/O cap, and pooling. One private sshd for the file;
 * tests that stop it start it again before they finish.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FeatureNotAvailableError,
  HostKeyError,
  TransportAuthenticationError,
  TransportError,
  ValidationError,
} from '../../src/errors.js';
import {
  escapeForBash,
  SshTransport,
  TransportPool,
  type SshAuthParamsInput,
  type SshTransportOptions,
} from '../../src/transports.js';
import { CLIENT_KEY_PASSPHRASE, startPrivateSshd, waitFor, type PrivateSshd } from '@aiida-ts/test-services';

/** Poll often: these waits watch transfers and connections that change within milliseconds. */
const FAST = { intervalMs: 20, timeoutMs: 10_000 };

const run = promisify(execFile);

let sshd: PrivateSshd;
let work: string;

beforeAll(async () => {
  sshd = await startPrivateSshd();
});

afterAll(async () => {
  await sshd.dispose();
});

beforeEach(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'aiida-ts-ssh-'));
});

afterEach(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

function makeTransport(
  params: SshAuthParamsInput = {},
  extra: Partial<SshTransportOptions> = {},
): SshTransport {
  return SshTransport.fromAuthParams(
    sshd.host,
    {
      port: sshd.port,
      key_filename: sshd.clientKey,
      look_for_keys: false,
      load_system_host_keys: false,
      safe_interval: 0,
      compress: false,
      ...params,
    },
    { knownHostsFiles: [sshd.knownHostsFile], ...extra },
  );
}

describe('authentication', () => {
  it('connects with a key file and runs commands as the remote user', async () => {
    await using t = makeTransport();
    await t.open();
    expect(await t.whoami()).toBe(os.userInfo().username);
  });

  it('refuses a key the server does not accept, with a clear error', async () => {
    const t = makeTransport({ key_filename: sshd.strangerKey });
    const error = await t.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportAuthenticationError);
    expect((error as Error).message).toMatch(/refused every credential offered/u);
    expect(t.isOpen).toBe(false);
  });

  it('needs the passphrase of an encrypted key and says so', async () => {
    await expect(makeTransport({ key_filename: sshd.passphraseKey }).open()).rejects.toThrow(
      /encrypted and no passphrase was given/u,
    );
    await expect(
      makeTransport({ key_filename: sshd.passphraseKey }, { passphrase: 'wrong' }).open(),
    ).rejects.toBeInstanceOf(TransportAuthenticationError);
    await using t = makeTransport(
      { key_filename: sshd.passphraseKey },
      { passphrase: CLIENT_KEY_PASSPHRASE },
    );
    await t.open();
    expect((await t.execCommandWait('echo ok')).stdout).toBe('ok\n');
  });

  it('reports a missing key file', async () => {
    await expect(makeTransport({ key_filename: path.join(work, 'nope') }).open()).rejects.toThrow(
      /cannot read the key file/u,
    );
  });

  it('authenticates with keys held by an SSH agent', async () => {
    const socket = path.join(work, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitFor('the agent socket', () => fs.existsSync(socket), FAST);
      await run('ssh-add', [sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const t = SshTransport.fromAuthParams(
        sshd.host,
        {
          port: sshd.port,
          look_for_keys: false,
          allow_agent: true,
          load_system_host_keys: false,
          safe_interval: 0,
        },
        { knownHostsFiles: [sshd.knownHostsFile], agentSocket: socket },
      );
      await t.open();
      expect((await t.execCommandWait('echo via-agent')).stdout).toBe('via-agent\n');
      await t.close();
      // Without allow_agent there is nothing to offer.
      const none = SshTransport.fromAuthParams(
        sshd.host,
        { port: sshd.port, look_for_keys: false, load_system_host_keys: false },
        { knownHostsFiles: [sshd.knownHostsFile], agentSocket: socket },
      );
      await expect(none.open()).rejects.toThrow(/no credentials to offer/u);
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('refuses GSS-API options, and proxy_jump together with proxy_command', async () => {
    await expect(makeTransport({ gss_auth: true }).open()).rejects.toBeInstanceOf(FeatureNotAvailableError);
    await expect(makeTransport({ proxy_jump: 'a', proxy_command: 'b' }).open()).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('validates auth params, naming each bad key', () => {
    expect(() => makeTransport({ port: 0, key_policy: 'Trust' as 'RejectPolicy' })).toThrow(
      /port.*key_policy|key_policy.*port/su,
    );
    expect(() => SshTransport.fromAuthParams('h', { key_filename: 'relative/key' })).toThrow(/absolute/u);
    expect(() => SshTransport.fromAuthParams('h', { colour: 'blue' } as never)).toThrow(/colour/u);
  });
});

describe('host keys', () => {
  it('refuses an unknown host key by default', async () => {
    const empty = path.join(work, 'known_hosts');
    await fsp.writeFile(empty, '');
    const error = await makeTransport({}, { knownHostsFiles: [empty] })
      .open()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(HostKeyError);
    expect((error as Error).message).toMatch(/not in known_hosts.*AutoAddPolicy/su);
  });

  it('accepts and records an unknown key with AutoAddPolicy; later connections know it', async () => {
    const file = path.join(work, 'known_hosts');
    await using t = makeTransport({ key_policy: 'AutoAddPolicy' }, { knownHostsFiles: [file] });
    await t.open();
    expect(await fsp.readFile(file, 'utf8')).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    await using again = makeTransport({ key_policy: 'RejectPolicy' }, { knownHostsFiles: [file] });
    await again.open();
    expect(again.isOpen).toBe(true);
  });

  it('accepts an unknown key with a warning under WarningPolicy', async () => {
    const warnings: string[] = [];
    const file = path.join(work, 'known_hosts');
    await using t = makeTransport(
      { key_policy: 'WarningPolicy' },
      { knownHostsFiles: [file], onWarning: (m) => warnings.push(m) },
    );
    await t.open();
    expect(warnings.join('\n')).toMatch(/unknown host key .* accepted/u);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('accepts a key listed under a hashed name', async () => {
    expect(fs.readFileSync(sshd.hashedKnownHostsFile, 'utf8')).toMatch(/^\|1\|/u);
    await using t = makeTransport({}, { knownHostsFiles: [sshd.hashedKnownHostsFile] });
    await t.open();
    expect(t.isOpen).toBe(true);
  });

  it('refuses a changed host key even with AutoAddPolicy', async () => {
    const stranger = (await fsp.readFile(`${sshd.strangerKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    const file = path.join(work, 'known_hosts');
    await fsp.writeFile(file, `# comment\n\n[127.0.0.1]:${sshd.port} ${stranger}\n`);
    await expect(
      makeTransport({ key_policy: 'AutoAddPolicy' }, { knownHostsFiles: [file] }).open(),
    ).rejects.toThrow(/CHANGED/u);
  });

  it('refuses a revoked host key', async () => {
    const file = path.join(work, 'known_hosts');
    await fsp.writeFile(
      file,
      `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n@revoked * ${sshd.hostPublicKey}\n`,
    );
    await expect(makeTransport({}, { knownHostsFiles: [file] }).open()).rejects.toThrow(/revoked/u);
  });
});

describe('tunnels', () => {
  it('connects through one jump host and through a chain of them', async () => {
    for (const jump of [`127.0.0.1:${sshd.port}`, `127.0.0.1:${sshd.port},127.0.0.1:${sshd.port}`]) {
      const before = new Set(sshd.connectionPids());
      await using t = makeTransport({ proxy_jump: jump });
      await t.open();
      expect((await t.execCommandWait('echo tunnelled')).stdout).toBe('tunnelled\n');
      // One connection per hop plus the target's, all arriving at this server.
      const opened = sshd.connectionPids().filter((pid) => !before.has(pid));
      expect(opened).toHaveLength(jump.split(',').length + 1);
    }
    await expect(makeTransport({ proxy_jump: 'bad host spec:x' }).open()).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('connects through a proxy command', async () => {
    const proxy =
      `ssh -q -i ${escapeForBash(sshd.clientKey)} -o BatchMode=yes ` +
      `-o UserKnownHostsFile=${escapeForBash(sshd.knownHostsFile)} -p %p -W %h:%p %h`;
    await using t = makeTransport({ proxy_command: proxy });
    await t.open();
    expect((await t.execCommandWait('echo proxied')).stdout).toBe('proxied\n');
  });

  it('gotocomputerCommand opens a shell in the directory over OpenSSH', async () => {
    const dir = path.join(work, "it's here");
    await fsp.mkdir(dir);
    const command = makeTransport().gotocomputerCommand(dir);
    expect(command).toContain(`-p ${sshd.port}`);
    const { stdout } = await run('bash', ['-c', `${command} <<< pwd`]);
    expect(stdout.trim().split('\n').at(-1)).toBe(dir);
    const gone = await run('bash', [
      '-c',
      `${makeTransport().gotocomputerCommand(path.join(dir, 'x'))} </dev/null`,
    ]);
    expect(gone.stdout).toContain('seems to have been deleted');
    // Tunnels are passed on to OpenSSH.
    expect(makeTransport({ proxy_jump: `u@jump:2222` }).gotocomputerCommand(dir)).toContain(
      `-o 'ProxyJump=u@jump:2222'`,
    );
    expect(makeTransport({ proxy_command: 'nc %h %p' }).gotocomputerCommand(dir)).toContain(
      `-o 'ProxyCommand=nc %h %p'`,
    );
  });
});

describe('timeouts and lost connections', () => {
  it('times out against a server that never answers', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as net.AddressInfo;
    try {
      // the server never answers: only the 0.5 s timeout ends the attempt, as its errno says
      await expect(makeTransport({ port: address.port, timeout: 0.5 }).open()).rejects.toMatchObject({
        errno: 'ETIMEDOUT',
      });
    } finally {
      silent.close();
    }
  });

  it('fails at once when the server ends the connection during the login, long before the timeout', async () => {
    // A relay to the private sshd that ends the connection (a clean FIN) once the server's key exchange began, past
    // its banner: what a client sees when sshd is stopped in the middle of its login. ssh2 reports that only by
    // 'close' and drops its own ready timeout; the opening must fail then, not wait for ever.
    const relay = net.createServer((client) => {
      const upstream = net.connect(sshd.port, sshd.host);
      let seen = '';
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        const bannerEnd = seen.indexOf('\r\n');
        if (bannerEnd === -1 || seen.length === bannerEnd + 2) {
          client.write(chunk);
          return;
        }
        client.end(chunk);
        upstream.destroy();
      });
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address() as net.AddressInfo;
    try {
      await expect(makeTransport({ port: address.port, timeout: 600 }).open()).rejects.toMatchObject({
        errno: 'ECONNRESET',
        message: expect.stringMatching(/closed before the login completed/),
      });
    } finally {
      relay.close();
    }
  });

  it('notices a silently frozen server through keepalives', async () => {
    const before = new Set(sshd.connectionPids());
    const t = makeTransport({}, { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
    await t.open();
    const mine = sshd.connectionPids().filter((pid) => !before.has(pid));
    expect(mine).toHaveLength(1);
    const frozen = [mine[0] as number];
    try {
      // Freeze the server side of this connection: the socket stays up but nothing answers.
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
      await waitFor('keepalives to give up', () => !t.isOpen, FAST);
      await expect(t.execCommandWait('true')).rejects.toMatchObject({ errno: 'ECONNRESET' });
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
      await t.close();
    }
  });

  it('fails a transfer cleanly when the server stops mid-way, and reconnects once it is back', async () => {
    const big = path.join(work, 'big.bin');
    const handle = await fsp.open(big, 'w');
    const block = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 256; i += 1) await handle.write(block);
    await handle.close();
    const remoteDir = path.join(work, 'remote');
    await fsp.mkdir(remoteDir);
    const target = path.join(remoteDir, 'big.bin');

    const t = makeTransport({}, { keepaliveIntervalMs: 500, keepaliveCountMax: 2 });
    await t.open();
    try {
      const upload = t.putfile(big, target);
      upload.catch(() => undefined);
      // Stop the server once a good part of the file has arrived under its temporary name.
      await waitFor(
        'the upload to start',
        () =>
          fs
            .readdirSync(remoteDir)
            .some(
              (name) => name.includes('aiida-part') && fs.statSync(path.join(remoteDir, name)).size > 4 << 20,
            ),
        FAST,
      );
      await sshd.stop();
      const error = (await upload.then(
        () => undefined,
        (e: unknown) => e,
      )) as TransportError;
      expect(error).toBeInstanceOf(TransportError);
      expect(error.message).toMatch(/putfile .*big\.bin/u);
      expect(error.errno).toBe('ECONNRESET');
      // Nothing is reported complete under the real name.
      expect(fs.existsSync(target)).toBe(false);
      await waitFor('the transport to notice', () => !t.isOpen, FAST);
      await expect(t.listdir(remoteDir)).rejects.toMatchObject({ errno: 'ECONNRESET' });
      await expect(t.open()).rejects.toBeInstanceOf(TransportError);

      await sshd.start();
      await t.open();
      await t.putfile(big, target);
      expect(fs.statSync(target).size).toBe(256 << 20);
      for (const name of fs.readdirSync(remoteDir).filter((n) => n.includes('aiida-part'))) {
        await t.remove(path.join(remoteDir, name));
      }

      // Downloads: the local file appears complete or not at all.
      const local = path.join(work, 'download.bin');
      const download = t.getfile(target, local);
      download.catch(() => undefined);
      await waitFor(
        'the download to start',
        () => fs.readdirSync(work).some((name) => name.includes('aiida-part')),
        FAST,
      );
      await sshd.stop();
      await expect(download).rejects.toMatchObject({ errno: 'ECONNRESET' });
      expect(fs.existsSync(local)).toBe(false);
      expect(fs.readdirSync(work).filter((n) => n.includes('aiida-part'))).toEqual([]);
    } finally {
      await sshd.start();
      await t.close();
    }
  });
});

describe('concurrency and pooling', () => {
  it('runs at most max_io_allowed operations at once', async () => {
    await using t = makeTransport({ max_io_allowed: 3 });
    await t.open();
    const log = path.join(work, 'log');
    const command = `echo S >> ${escapeForBash(log)}; sleep 0.3; echo E >> ${escapeForBash(log)}`;
    await Promise.all(Array.from({ length: 9 }, () => t.execCommandWait(command)));
    let running = 0;
    let peak = 0;
    for (const mark of (await fsp.readFile(log, 'utf8')).trim().split('\n')) {
      running += mark === 'S' ? 1 : -1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2);
    // A failing operation gives its slot back.
    await Promise.all(
      Array.from({ length: 6 }, () =>
        expect(t.listdir(path.join(work, 'missing'))).rejects.toBeInstanceOf(TransportError),
      ),
    );
    expect(t.pendingOperations).toBe(0);
  });

  it('shares one connection among everyone asking for the same computer', async () => {
    const pool = new TransportPool();
    const before = new Set(sshd.connectionPids());
    let created = 0;
    const create = () => {
      created += 1;
      return makeTransport();
    };
    const [a, b] = await Promise.all([
      pool.requestTransport('authinfo-1', create),
      pool.requestTransport('authinfo-1', create),
    ]);
    expect(a.transport).toBe(b.transport);
    expect(created).toBe(1);
    await Promise.all([a.transport.execCommandWait('true'), b.transport.listdir(work)]);
    expect(sshd.connectionPids().filter((pid) => !before.has(pid))).toHaveLength(1);
    await a.release();
    expect(b.transport.isOpen).toBe(true);
    await b.release();
    expect(b.transport.isOpen).toBe(false);
    await pool.close();
  });

  it('spaces connection openings by safe_interval', async () => {
    const pool = new TransportPool();
    const openedAt: number[] = [];
    const create = () => {
      const t = makeTransport({ safe_interval: 0.4 });
      const open = t.open.bind(t);
      t.open = async () => {
        openedAt.push(Date.now());
        await open();
      };
      return t;
    };
    for (let i = 0; i < 3; i += 1) {
      await pool.withTransport('authinfo-2', create, async (t) => {
        expect((await t.execCommandWait('echo hi')).stdout).toBe('hi\n');
      });
    }
    expect(openedAt).toHaveLength(3);
    // The pool records each opening with Date.now() just before this wrapper reads it again: each of the two reads
    // may fall on either side of a millisecond, so two openings 400 ms apart for the pool can read 399 here.
    for (let i = 1; i < openedAt.length; i += 1) {
      expect((openedAt[i] as number) - (openedAt[i - 1] as number)).toBeGreaterThanOrEqual(399);
    }
    await pool.close();
  });

  it('hands out a fresh connection after the old one was lost', async () => {
    const pool = new TransportPool({ idleTimeoutMs: 10_000 });
    const first = await pool.requestTransport('authinfo-3', () => makeTransport());
    const firstTransport = first.transport;
    await first.release();
    expect(firstTransport.isOpen).toBe(true);
    await sshd.stop();
    await sshd.start();
    await waitFor('the lost connection to be noticed', () => !firstTransport.isOpen, FAST);
    const second = await pool.requestTransport('authinfo-3', () => makeTransport());
    expect(second.transport).not.toBe(firstTransport);
    expect((await second.transport.execCommandWait('echo back')).stdout).toBe('back\n');
    await second.release();
    await pool.close();
    expect(second.transport.isOpen).toBe(false);
  });
});
