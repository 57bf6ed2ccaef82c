import { spawn, type ChildProcess } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import * as path from 'node:path';
import { Duplex, Writable, type Readable } from 'node:stream';
// ssh2 is CommonJS whose named exports Node's ESM loader cannot see: take them from the default export.
import ssh2, {
  type Client as SshClient,
  type AnyAuthMethod,
  type ClientChannel,
  type ConnectConfig,
  type ServerHostKeyAlgorithm,
  type SFTPWrapper,
} from 'ssh2';

const { Client, utils } = ssh2;
type Client = SshClient;
import {
  FeatureNotAvailableError,
  HostKeyError,
  TransportAuthenticationError,
  TransportError,
  ValidationError,
} from '../../errors.js';
import {
  parseAuthParams,
  SshAuthParams,
  SSH_DEFAULT_SAFE_INTERVAL,
  type KeyPolicy,
  type SshAuthParamsInput,
} from '../auth-params.js';
import {
  BaseTransport,
  retvalForSignal,
  type BaseTransportOptions,
  type RawDirEntry,
  type StartedProcess,
} from '../base-transport.js';
import { escapeForBash } from '../escaping.js';
import { partialName } from '../local-transport.js';
import type { FileAttribute, TransportPath } from '../transport.js';
import {
  appendKnownHost,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  loadKnownHosts,
  verifyHostKey,
  type KnownHostEntry,
} from './known-hosts.js';
import { sftpCall, sftpErrno, type SftpAttributes, type SftpDirEntry } from './sftp-call.js';

/** Options of {@link SshTransport}: aiida's `core.ssh` auth params in camelCase, plus TS-only settings. */
export interface SshTransportOptions extends BaseTransportOptions {
  /** Login name; default the local user name. */
  readonly username?: string;
  readonly port?: number;
  /** Try `~/.ssh/id_ed25519`, `id_ecdsa` and `id_rsa`; default true. */
  readonly lookForKeys?: boolean;
  /** Absolute path of a private key to offer first. */
  readonly keyFilename?: string;
  /** Passphrase of encrypted private keys (never stored in auth params). */
  readonly passphrase?: string;
  /** Seconds to wait for the connection and handshake; default 60. */
  readonly timeout?: number;
  /** Offer the keys of the SSH agent at `agentSocket` (default `$SSH_AUTH_SOCK`); default false. */
  readonly allowAgent?: boolean;
  readonly agentSocket?: string;
  /** `[user@]host[:port]` hops, comma-separated, tunnelled in order. */
  readonly proxyJump?: string;
  /** A command whose stdin/stdout carry the connection (`%h`, `%p`, `%r`, `%%` are replaced). */
  readonly proxyCommand?: string;
  /** Negotiate zlib compression; default true (as aiida); turn off on fast networks. */
  readonly compress?: boolean;
  readonly gssAuth?: boolean;
  readonly gssKex?: boolean;
  readonly gssDelegCreds?: boolean;
  readonly gssHost?: string;
  /** Read `~/.ssh/known_hosts` and `/etc/ssh/ssh_known_hosts`; default true. */
  readonly loadSystemHostKeys?: boolean;
  /** Files to read host keys from instead of the system ones; AutoAddPolicy appends to the first. */
  readonly knownHostsFiles?: readonly string[];
  /** What to do with a host key known_hosts does not list; default `RejectPolicy`. */
  readonly keyPolicy?: KeyPolicy;
  /** Operations (commands, transfers) running at once on the connection; default 8. */
  readonly maxIoAllowed?: number;
  /** SSH keepalive period in ms (0: off); default 15000. */
  readonly keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as lost; default 4. */
  readonly keepaliveCountMax?: number;
  /** Parallel SFTP requests per large-file transfer; default 64. */
  readonly sftpConcurrency?: number;
  /** Bytes per SFTP read/write request of a large-file transfer; default 255 KiB for OpenSSH servers. */
  readonly sftpChunkSize?: number;
  /** Files a tree transfer moves at once; default 64. */
  readonly treeConcurrency?: number;
  /** Where warnings go (WarningPolicy, stderr of helper commands); default `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

/** Files up to this size are sent as one SFTP write instead of the parallel fastPut machinery. */
const SMALL_FILE_BYTES = 192 * 1024;

const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;

/** The signature algorithms that can prove a key of this type. */
function algorithmsForKeyType(keyType: string): string[] {
  return keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
}

/** The parts of an ssh2 channel that {@link sendSignal} reaches into. */
interface ChannelInternals {
  readonly outgoing?: { readonly id?: number; readonly state?: string };
  readonly _client?: { readonly _protocol?: { signal?(id: number, name: string): void } };
}

/**
 * Send a signal request on a session channel. RFC 4254 allows it until the channel closes, and sshd
 * delivers it to the command's process group; ssh2 1.x refuses once our side sent EOF (which every command
 * without stdin has), so the request is sent through its protocol object in that state.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const internals = channel as unknown as ChannelInternals;
  const id = internals.outgoing?.id;
  const state = internals.outgoing?.state;
  const protocol = internals._client?._protocol;
  try {
    if (state === 'eof' && id !== undefined && typeof protocol?.signal === 'function')
      protocol.signal(id, name);
    else channel.signal(name);
  } catch {
    // The channel is already closing.
  }
}

interface Hop {
  readonly username: string;
  readonly host: string;
  readonly port: number;
}

/** Parse `proxy_jump` (`[user@]host[:port]`, comma-separated), filling gaps from the target. */
export function parseProxyJump(spec: string, defaults: { username: string; port: number }): Hop[] {
  return spec.split(',').map((raw) => {
    const match = /^(?:([^@]+)@)?([^@:]+)(?::(\d+))?\s*$/u.exec(raw.trim());
    if (match === null) {
      throw new ValidationError(`proxy_jump: cannot parse '${raw}' (expected [user@]host[:port])`);
    }
    return {
      username: match[1] ?? defaults.username,
      host: match[2] as string,
      port: match[3] === undefined ? defaults.port : Number(match[3]),
    };
  });
}

function attributesOf(attrs: SftpAttributes): FileAttribute {
  return {
    stSize: attrs.size,
    stUid: attrs.uid,
    stGid: attrs.gid,
    stMode: attrs.mode,
    stAtime: attrs.atime,
    stMtime: attrs.mtime,
  };
}

interface Connection {
  readonly client: Client;
  readonly sftp: SFTPWrapper;
  readonly hops: Client[];
  readonly proxyProcess: ChildProcess | undefined;
  alive: boolean;
  /** Why the connection ended, once it has. */
  lostReason: string | undefined;
  /**
   * Rejects when the connection is lost. ssh2 leaves some requests (fastPut, fastGet) pending forever
   * when the socket dies, so every request races against this.
   */
  readonly lost: Promise<never>;
}

/**
 * `core.ssh`: commands over SSH channels and files over one SFTP session, with ssh2. Host keys are
 * checked against OpenSSH known_hosts files (an unknown host is refused unless `keyPolicy` says otherwise,
 * a changed or revoked key always is); keys from a file, `~/.ssh` and the agent are offered in turn;
 * `proxyJump` and `proxyCommand` tunnel the connection. Uploads and downloads land under a temporary
 * name and are renamed into place only once complete. At most `maxIoAllowed` operations run at once.
 */
export class SshTransport extends BaseTransport {
  static readonly entryPoint = 'core.ssh';
  static readonly authParamsSchema = SshAuthParams;
  static readonly defaultMinimumJobPollInterval = 10;
  static readonly defaultSafeOpenInterval = SSH_DEFAULT_SAFE_INTERVAL;

  readonly transportType = SshTransport.entryPoint;
  readonly options: Readonly<SshTransportOptions>;
  readonly port: number;
  readonly username: string;
  #connection: Connection | undefined;
  /** Host keys accepted by the policy during this object's life, so reconnects accept them again. */
  readonly #acceptedKeys: KnownHostEntry[] = [];

  constructor(options: SshTransportOptions) {
    super(options, SSH_DEFAULT_SAFE_INTERVAL);
    if (options.machine === '')
      throw new ValidationError('core.ssh: the machine (host name) must not be empty');
    this.options = options;
    this.port = options.port ?? 22;
    this.username = options.username ?? userInfo().username;
    this.setIoLimit(options.maxIoAllowed ?? 8);
    this.transferConcurrency = options.treeConcurrency ?? 64;
  }

  /**
   * Build a transport from stored auth params (snake_case, validated; unknown keys are refused). `extra`
   * carries what is never stored, such as a key passphrase or test-only known_hosts files.
   */
  static fromAuthParams(
    machine: string,
    authParams: SshAuthParamsInput = {},
    extra: Partial<SshTransportOptions> = {},
  ): SshTransport {
    const p = parseAuthParams(SshAuthParams, SshTransport.entryPoint, authParams);
    const options: SshTransportOptions = {
      machine,
      port: p.port,
      lookForKeys: p.look_for_keys,
      timeout: p.timeout,
      allowAgent: p.allow_agent,
      compress: p.compress,
      gssAuth: p.gss_auth,
      gssKex: p.gss_kex,
      gssDelegCreds: p.gss_deleg_creds,
      loadSystemHostKeys: p.load_system_host_keys,
      keyPolicy: p.key_policy,
      maxIoAllowed: p.max_io_allowed,
      useLoginShell: p.use_login_shell,
      safeInterval: p.safe_interval,
      ...(p.username === undefined ? {} : { username: p.username }),
      ...(p.key_filename === undefined ? {} : { keyFilename: p.key_filename }),
      ...(p.proxy_jump === undefined ? {} : { proxyJump: p.proxy_jump }),
      ...(p.proxy_command === undefined ? {} : { proxyCommand: p.proxy_command }),
      ...(p.gss_host === undefined ? {} : { gssHost: p.gss_host }),
      ...extra,
    };
    return new SshTransport(options);
  }

  #warn(message: string): void {
    if (this.options.onWarning) this.options.onWarning(message);
    else process.emitWarning(message, { code: 'AIIDA_TS_SSH' });
  }

  // --- connecting ------------------------------------------------------------------------------------------

  #knownHostsFiles(): string[] {
    if (this.options.knownHostsFiles !== undefined) return [...this.options.knownHostsFiles];
    if (this.options.loadSystemHostKeys === false) return [];
    return [path.join(homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
  }

  /** Every credential to offer, in order: agent, key file, then the usual keys in ~/.ssh. */
  async #authMethods(username: string): Promise<AnyAuthMethod[]> {
    const methods: AnyAuthMethod[] = [];
    const agent = this.options.agentSocket ?? process.env.SSH_AUTH_SOCK;
    if (this.options.allowAgent === true && agent) methods.push({ type: 'agent', username, agent });
    const passphrase = this.options.passphrase;
    const offer = (key: Buffer, file: string, explicit: boolean): void => {
      const parsed = utils.parseKey(key, passphrase);
      if (parsed instanceof Error) {
        const encrypted = /encrypted|passphrase/iu.test(parsed.message);
        const reason = encrypted
          ? passphrase === undefined
            ? 'it is encrypted and no passphrase was given'
            : 'the passphrase is wrong'
          : parsed.message;
        if (explicit) {
          throw new TransportAuthenticationError(`core.ssh: cannot use the key ${file}: ${reason}`, {
            cause: parsed,
          });
        }
        return;
      }
      methods.push(
        passphrase === undefined
          ? { type: 'publickey', username, key }
          : { type: 'publickey', username, key, passphrase },
      );
    };
    if (this.options.keyFilename !== undefined) {
      let key: Buffer;
      try {
        key = await fsp.readFile(this.options.keyFilename);
      } catch (error) {
        throw new TransportAuthenticationError(
          `core.ssh: cannot read the key file ${this.options.keyFilename}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      offer(key, this.options.keyFilename, true);
    }
    if (this.options.lookForKeys ?? true) {
      for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
        const file = path.join(homedir(), '.ssh', name);
        const key = await fsp.readFile(file).catch(() => undefined);
        if (key !== undefined) offer(key, file, false);
      }
    }
    if (methods.length === 0) {
      throw new TransportAuthenticationError(
        `core.ssh: no credentials to offer to ${this.hostname} (set key_filename, look_for_keys or allow_agent)`,
      );
    }
    return methods;
  }

  /** Connect one SSH client (the target or a hop), checking its host key. */
  async #connectClient(
    host: string,
    port: number,
    username: string,
    entries: KnownHostEntry[],
    sock: Readable | undefined,
  ): Promise<Client> {
    const methods = await this.#authMethods(username);
    const policy = this.options.keyPolicy ?? 'RejectPolicy';
    const files = this.#knownHostsFiles();
    let refusal: HostKeyError | undefined;
    const known = knownKeyTypes([...entries, ...this.#acceptedKeys], host, port);
    const preferred = known.flatMap(algorithmsForKeyType);
    const serverHostKey = [...new Set([...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS])];
    const client = new Client();
    // ssh2 can emit several errors for one failure (a timeout, then "lost before handshake"); the first one
    // decides the outcome below, later ones must not crash the process.
    client.on('error', () => undefined);
    const config: ConnectConfig = {
      host,
      port,
      username,
      readyTimeout: Math.round((this.options.timeout ?? 60) * 1000),
      keepaliveInterval: this.options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: this.options.keepaliveCountMax ?? 4,
      authHandler: methods,
      algorithms: {
        serverHostKey: serverHostKey as ServerHostKeyAlgorithm[],
        compress: this.options.compress === false ? ['none'] : ['zlib@openssh.com', 'zlib', 'none'],
      },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        const verdict = verifyHostKey([...entries, ...this.#acceptedKeys], host, port, key);
        const where = port === 22 ? host : `[${host}]:${port}`;
        if (verdict.status === 'known') {
          verify(true);
          return;
        }
        if (verdict.status === 'revoked') {
          refusal = new HostKeyError(`core.ssh: the host key of ${where} is revoked (${verdict.source})`);
          verify(false);
          return;
        }
        if (verdict.status === 'changed') {
          refusal = new HostKeyError(
            `core.ssh: the host key of ${where} has CHANGED since it was recorded in ${verdict.source}; ` +
              'someone could be intercepting the connection. Remove the old key only if you know why it changed.',
          );
          verify(false);
          return;
        }
        if (policy === 'RejectPolicy') {
          refusal = new HostKeyError(
            `core.ssh: the host key of ${where} is not in known_hosts (${files.join(', ') || 'no files read'}); ` +
              "add it (ssh-keyscan) or set key_policy to 'AutoAddPolicy' to accept it",
          );
          verify(false);
          return;
        }
        this.#acceptedKeys.push({
          marker: undefined,
          hosts: knownHostsName(host, port),
          keyType: keyTypeOfBlob(key),
          key,
          source: `accepted by ${policy}`,
        });
        if (policy === 'WarningPolicy') {
          this.#warn(`core.ssh: unknown host key of ${where} accepted (WarningPolicy)`);
          verify(true);
          return;
        }
        const file = files[0];
        if (file === undefined) {
          verify(true);
          return;
        }
        appendKnownHost(file, host, port, key).then(
          () => verify(true),
          (error: unknown) => {
            this.#warn(`core.ssh: could not record the host key of ${where} in ${file}: ${String(error)}`);
            verify(true);
          },
        );
      },
      ...(sock === undefined ? {} : { sock }),
    };
    return new Promise<Client>((resolve, reject) => {
      const onError = (error: Error & { level?: string }): void => {
        client.removeListener('ready', onReady);
        client.end();
        if (refusal !== undefined) {
          reject(refusal);
        } else if (error.level === 'client-authentication') {
          const offered = methods.map((m) => (m.type === 'agent' ? 'agent' : 'publickey')).join(', ');
          reject(
            new TransportAuthenticationError(
              `core.ssh: ${username}@${host}:${port} refused every credential offered (${offered})`,
              { cause: error },
            ),
          );
        } else if (error.level === 'client-timeout') {
          reject(
            new TransportError(`core.ssh: timed out connecting to ${host}:${port}`, {
              cause: error,
              errno: 'ETIMEDOUT',
            }),
          );
        } else {
          const code = (error as { code?: string }).code;
          reject(
            new TransportError(
              `core.ssh: cannot connect to ${host}:${port}: ${error.message}`,
              code === undefined ? { cause: error } : { cause: error, errno: code },
            ),
          );
        }
      };
      // ssh2 reports a connection that ends after the server's banner but before authentication completed (the
      // server killed mid-handshake) only by 'close', without an error, and clears its ready timeout: without this
      // the opening would wait for ever (a job's update never failed, so it never paused, when sshd stopped).
      const onClose = (): void => {
        client.removeListener('ready', onReady);
        client.removeListener('error', onError);
        reject(
          refusal ??
            new TransportError(
              `core.ssh: the connection to ${host}:${port} was closed before the login completed`,
              { errno: 'ECONNRESET' },
            ),
        );
      };
      const onReady = (): void => {
        client.removeListener('error', onError);
        client.removeListener('close', onClose);
        resolve(client);
      };
      client.once('error', onError);
      client.once('ready', onReady);
      client.once('close', onClose);
      try {
        client.connect(config);
      } catch (error) {
        reject(
          new TransportError(`core.ssh: cannot connect to ${host}:${port}: ${(error as Error).message}`, {
            cause: error,
          }),
        );
      }
    });
  }

  #spawnProxyCommand(): { sock: Duplex; child: ChildProcess } {
    const command = (this.options.proxyCommand as string).replace(/%(.)/gu, (token: string, c: string) => {
      if (c === 'h') return this.hostname;
      if (c === 'p') return String(this.port);
      if (c === 'r') return this.username;
      if (c === '%') return '%';
      return token;
    });
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('exit', (code) => {
      const text = Buffer.concat(stderr).toString().trim();
      if (code !== 0 && text) this.#warn(`core.ssh: proxy_command exited with ${code}: ${text}`);
    });
    return { sock: Duplex.from({ readable: child.stdout, writable: child.stdin }), child };
  }

  protected async openConnection(): Promise<void> {
    this.#dropConnection();
    const o = this.options;
    if (o.gssAuth === true || o.gssKex === true || o.gssDelegCreds === true) {
      throw new FeatureNotAvailableError(
        'core.ssh: GSS-API (Kerberos) authentication is not supported by ssh2',
      );
    }
    if (o.proxyJump !== undefined && o.proxyCommand !== undefined) {
      throw new ValidationError('core.ssh: proxy_jump and proxy_command cannot be used together');
    }
    const entries = await loadKnownHosts(this.#knownHostsFiles());
    const hops: Client[] = [];
    let proxyProcess: ChildProcess | undefined;
    let sock: Readable | undefined;
    try {
      if (o.proxyJump !== undefined) {
        const chain = parseProxyJump(o.proxyJump, { username: this.username, port: this.port });
        const targets = [...chain.slice(1), { host: this.hostname, port: this.port }];
        for (const [index, hop] of chain.entries()) {
          const client = await this.#connectClient(hop.host, hop.port, hop.username, entries, sock);
          hops.push(client);
          const next = targets[index] as { host: string; port: number };
          sock = await new Promise<ClientChannel>((resolve, reject) => {
            client.forwardOut('127.0.0.1', 0, next.host, next.port, (error, channel) => {
              if (error) {
                reject(
                  new TransportError(
                    `core.ssh: jump host ${hop.host} cannot reach ${next.host}:${next.port}`,
                    {
                      cause: error,
                    },
                  ),
                );
              } else {
                resolve(channel);
              }
            });
          });
        }
      } else if (o.proxyCommand !== undefined) {
        const proxy = this.#spawnProxyCommand();
        proxyProcess = proxy.child;
        sock = proxy.sock;
      }
      const client = await this.#connectClient(this.hostname, this.port, this.username, entries, sock);
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        client.sftp((error, wrapper) => {
          if (error) {
            reject(
              new TransportError(`core.ssh: ${this.hostname} refused the SFTP subsystem: ${error.message}`, {
                cause: error,
              }),
            );
          } else {
            resolve(wrapper);
          }
        });
      });
      let rejectLost: (error: Error) => void = () => undefined;
      const lostPromise = new Promise<never>((_resolve, reject) => {
        rejectLost = reject;
      });
      lostPromise.catch(() => undefined);
      const connection: Connection = {
        client,
        sftp,
        hops,
        proxyProcess,
        alive: true,
        lostReason: undefined,
        lost: lostPromise,
      };
      const lost = (reason: string): void => {
        if (!connection.alive) return;
        connection.alive = false;
        connection.lostReason = reason;
        rejectLost(
          new TransportError(`the connection to ${this.hostname} was lost (${reason})`, {
            errno: 'ECONNRESET',
          }),
        );
      };
      for (const hop of hops) hop.on('close', () => lost('a jump host connection was closed'));
      client.on('error', (error: Error) => lost(error.message));
      client.on('close', () => lost('the connection was closed'));
      sftp.on('close', () => lost('the SFTP session was closed'));
      this.#connection = connection;
    } catch (error) {
      for (const hop of hops) hop.end();
      proxyProcess?.kill();
      throw error;
    }
  }

  #dropConnection(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    this.#connection = undefined;
    if (connection.alive) {
      connection.alive = false;
      connection.lostReason = 'the transport was closed';
    }
    connection.client.end();
    for (const hop of connection.hops.reverse()) hop.end();
    connection.proxyProcess?.kill();
  }

  protected async closeConnection(): Promise<void> {
    const connection = this.#connection;
    if (connection === undefined) return;
    const closed = new Promise<void>((resolve) => {
      if (!connection.alive) resolve();
      connection.client.once('close', () => resolve());
    });
    if (connection.alive) {
      // Channels (the SFTP session, a command's streams) must finish closing before the client ends: with
      // compression, a channel closed after the end writes to a finished zlib stream and throws (ssh2).
      const sftpClosed = new Promise<void>((resolve) => connection.sftp.once('close', () => resolve()));
      connection.sftp.end();
      await Promise.race([sftpClosed, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
      await new Promise<void>((resolve) => setImmediate(resolve));
    } else connection.sftp.end();
    this.#dropConnection();
    // A dead peer never answers the disconnect; do not hang on it.
    await Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  protected connectionAlive(): boolean {
    return this.#connection?.alive === true;
  }

  #sftp(what: string): SFTPWrapper {
    const connection = this.#connection;
    if (connection === undefined || !connection.alive) {
      throw new TransportError(
        `${what}: the connection to ${this.hostname} was lost (${connection?.lostReason})`,
        {
          errno: 'ECONNRESET',
        },
      );
    }
    return connection.sftp;
  }

  /** Run one SFTP request, turning its failure into a TransportError that says what was asked. */
  async #call<T>(
    what: string,
    fn: (sftp: SFTPWrapper, done: (error: Error | null | undefined, value?: T) => void) => void,
  ): Promise<T> {
    const sftp = this.#sftp(what);
    const connection = this.#connection as Connection;
    try {
      return await Promise.race([sftpCall(sftp, fn), connection.lost]);
    } catch (error) {
      throw this.#wrap(what, error);
    }
  }

  #wrap(what: string, error: unknown): TransportError {
    if (error instanceof TransportError) {
      if (error.message.startsWith(what)) return error;
      return new TransportError(
        `${what}: ${error.message}`,
        error.errno === undefined ? { cause: error } : { cause: error, errno: error.errno },
      );
    }
    const connection = this.#connection;
    if (connection === undefined || !connection.alive) {
      return new TransportError(
        `${what}: the connection to ${this.hostname} was lost (${connection?.lostReason ?? 'closed'})`,
        { cause: error, errno: 'ECONNRESET' },
      );
    }
    const errno = sftpErrno(error);
    const message = error instanceof Error ? error.message : String(error);
    return new TransportError(
      `${what}: ${message}`,
      errno === undefined ? { cause: error } : { cause: error, errno },
    );
  }

  // --- file primitives -------------------------------------------------------------------------------------

  protected async statPath(p: TransportPath, follow: boolean): Promise<FileAttribute | undefined> {
    try {
      const attrs = await this.#call<SftpAttributes>(`stat ${p}`, (sftp, done) =>
        follow ? sftp.stat(p, done) : sftp.lstat(p, done),
      );
      return attributesOf(attrs);
    } catch (error) {
      if (error instanceof TransportError && error.errno === 'ENOENT') return undefined;
      throw error;
    }
  }

  async #readdir(p: TransportPath): Promise<SftpDirEntry[]> {
    const list = await this.#call<SftpDirEntry[]>(`listdir ${p}`, (sftp, done) => sftp.readdir(p, done));
    return list.filter((entry) => entry.filename !== '.' && entry.filename !== '..');
  }

  protected async readDirNames(p: TransportPath): Promise<string[]> {
    return (await this.#readdir(p)).map((entry) => entry.filename);
  }

  protected async readDirEntries(p: TransportPath): Promise<RawDirEntry[]> {
    return (await this.#readdir(p)).map((entry) => ({
      name: entry.filename,
      attributes: attributesOf(entry.attrs),
    }));
  }

  protected async makeDir(p: TransportPath): Promise<void> {
    await this.#call<void>(`mkdir ${p}`, (sftp, done) => sftp.mkdir(p, done));
  }

  protected async removeDir(p: TransportPath): Promise<void> {
    try {
      await this.#call<void>(`rmdir ${p}`, (sftp, done) => sftp.rmdir(p, done));
    } catch (error) {
      // SFTP v3 reports a full directory as a bare FAILURE; say what it was.
      if (error instanceof TransportError && error.errno === 'EIO') {
        const names = await this.readDirNames(p).catch(() => [] as string[]);
        if (names.length > 0) {
          throw new TransportError(`rmdir ${p}: the directory is not empty`, {
            cause: error,
            errno: 'ENOTEMPTY',
          });
        }
      }
      throw error;
    }
  }

  protected async unlinkPath(p: TransportPath): Promise<void> {
    await this.#call<void>(`remove ${p}`, (sftp, done) => sftp.unlink(p, done));
  }

  protected async renamePath(oldpath: TransportPath, newpath: TransportPath): Promise<void> {
    await this.#call<void>(`rename ${oldpath} to ${newpath}`, (sftp, done) =>
      sftp.rename(oldpath, newpath, done),
    );
  }

  /** POSIX rename (replaces the destination) when the server has OpenSSH's extension; else unlink first. */
  async #replace(from: TransportPath, to: TransportPath): Promise<void> {
    try {
      await this.#call<void>(`rename ${from} to ${to}`, (sftp, done) =>
        sftp.ext_openssh_rename(from, to, done),
      );
    } catch (error) {
      if (!(error instanceof TransportError) || !/not supported/iu.test(error.message)) throw error;
      await this.unlinkPath(to).catch(() => undefined);
      await this.renamePath(from, to);
    }
  }

  protected async setMode(p: TransportPath, mode: number): Promise<void> {
    await this.#call<void>(`chmod ${p}`, (sftp, done) => sftp.chmod(p, mode, done));
  }

  protected async setOwner(p: TransportPath, uid: number, gid: number): Promise<void> {
    await this.#call<void>(`chown ${p}`, (sftp, done) => sftp.chown(p, uid, gid, done));
  }

  protected async makeSymlink(target: string, linkPath: TransportPath): Promise<void> {
    await this.#call<void>(`symlink ${linkPath}`, (sftp, done) => sftp.symlink(target, linkPath, done));
  }

  protected async readLink(p: TransportPath): Promise<string> {
    return this.#call<string>(`readlink ${p}`, (sftp, done) => sftp.readlink(p, done));
  }

  protected async realPath(p: TransportPath): Promise<string> {
    return this.#call<string>(`normalize ${p}`, (sftp, done) => sftp.realpath(p, done));
  }

  protected async removeTree(p: TransportPath): Promise<void> {
    const { retval, stderr } = await this.execCommandWait(`rm -r -f -- ${escapeForBash(p)}`);
    if (retval !== 0)
      throw new TransportError(`rmtree ${p} failed (rm exit code ${retval}): ${stderr.trim()}`);
  }

  protected async uploadFile(localpath: string, remotepath: TransportPath): Promise<void> {
    const partial = partialName(remotepath);
    const what = `putfile ${localpath} to ${remotepath}`;
    try {
      const size = (await fsp.stat(localpath)).size;
      if (size <= SMALL_FILE_BYTES) {
        const data = await fsp.readFile(localpath);
        const handle = await this.#call<Buffer>(what, (sftp, done) => sftp.open(partial, 'w', done));
        try {
          if (data.length > 0) {
            await this.#call<void>(what, (sftp, done) =>
              sftp.write(handle, data, 0, data.length, 0, (e) => done(e)),
            );
          }
        } finally {
          await this.#call<void>(what, (sftp, done) => sftp.close(handle, done));
        }
      } else {
        await this.#call<void>(what, (sftp, done) =>
          sftp.fastPut(localpath, partial, this.#fastOptions(size), (e) => done(e)),
        );
      }
      await this.#replace(partial, remotepath);
    } catch (error) {
      // Best effort: the connection may be gone, and then the partial file stays, under its temporary name.
      if (this.connectionAlive()) await this.unlinkPath(partial).catch(() => undefined);
      throw this.#wrap(what, error);
    }
  }

  protected async downloadFile(remotepath: TransportPath, localpath: string): Promise<void> {
    const partial = partialName(localpath);
    const what = `getfile ${remotepath} to ${localpath}`;
    try {
      await this.#call<void>(what, (sftp, done) =>
        sftp.fastGet(remotepath, partial, this.#fastOptions(undefined), (e) => done(e)),
      );
      await fsp.rename(partial, localpath);
    } catch (error) {
      await fsp.rm(partial, { force: true });
      throw this.#wrap(what, error);
    }
  }

  #fastOptions(size: number | undefined): { concurrency: number; chunkSize: number; fileSize?: number } {
    return {
      concurrency: this.options.sftpConcurrency ?? 64,
      chunkSize: this.options.sftpChunkSize ?? 255 * 1024,
      ...(size === undefined ? {} : { fileSize: size }),
    };
  }

  // --- commands --------------------------------------------------------------------------------------------

  protected async startProcess(script: string): Promise<StartedProcess> {
    const connection = this.#connection;
    if (connection === undefined || !connection.alive) {
      throw new TransportError(
        `exec: the connection to ${this.hostname} was lost (${connection?.lostReason ?? 'closed'})`,
        { errno: 'ECONNRESET' },
      );
    }
    const commandLine = `${this.bashCommand} -c ${escapeForBash(script)}`;
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      connection.client.exec(commandLine, (error, ch) => {
        if (error) reject(this.#wrap(`exec on ${this.hostname}`, error));
        else resolve(ch);
      });
    });
    let exit: { retval: number; signal: string | null } | undefined;
    channel.on('exit', (code: number | null, signal?: string) => {
      exit = {
        retval: code ?? (signal === undefined ? -1 : retvalForSignal(signal)),
        signal: code === null ? (signal ?? null) : null,
      };
    });
    const done = new Promise<{ retval: number; signal: string | null }>((resolve, reject) => {
      channel.once('close', () => {
        if (exit !== undefined) resolve(exit);
        else
          reject(
            new TransportError(
              `the command lost its channel before exiting (connection to ${this.hostname}: ${
                connection.alive ? 'open' : (connection.lostReason ?? 'closed')
              })`,
              { errno: 'ECONNRESET' },
            ),
          );
      });
    });
    const settled = Promise.race([done, connection.lost]);
    settled.catch(() => undefined);
    // stdin gets its own Writable so that ending it sends EOF without touching the output side.
    const stdin = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (channel.write(chunk)) callback();
        else channel.once('drain', () => callback());
      },
      final(callback) {
        channel.end();
        callback();
      },
    });
    return {
      stdin,
      stdout: channel,
      stderr: channel.stderr,
      done: settled,
      kill: (signal: string) => {
        const name = signal.replace(/^SIG/u, '');
        sendSignal(channel, name);
        if (name === 'KILL') channel.close();
      },
    };
  }

  gotocomputerCommand(remotedir?: TransportPath): string {
    const params = ['-t', escapeForBash(this.hostname), '-l', escapeForBash(this.username)];
    if (this.port !== 22) params.push('-p', String(this.port));
    if (this.options.keyFilename !== undefined) params.push('-i', escapeForBash(this.options.keyFilename));
    if (this.options.knownHostsFiles !== undefined && this.options.knownHostsFiles.length > 0) {
      params.push('-o', escapeForBash(`UserKnownHostsFile=${this.options.knownHostsFiles.join(' ')}`));
    }
    if (this.options.proxyJump !== undefined)
      params.push('-o', escapeForBash(`ProxyJump=${this.options.proxyJump}`));
    if (this.options.proxyCommand !== undefined) {
      params.push('-o', escapeForBash(`ProxyCommand=${this.options.proxyCommand}`));
    }
    return `ssh ${params.join(' ')} ${escapeForBash(this.gotocomputerScript(remotedir))}`;
  }
}
