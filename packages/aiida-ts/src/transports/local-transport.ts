import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, copyFileSync, renameSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import * as path from 'node:path';
import { ValidationError } from '../errors.js';
import { isSmallRegularFile } from '../utils/small-files.js';
import {
  LocalAuthParams,
  LOCAL_DEFAULT_SAFE_INTERVAL,
  parseAuthParams,
  type LocalAuthParamsInput,
} from './auth-params.js';
import {
  BaseTransport,
  retvalForSignal,
  wrapTransportError,
  type BaseTransportOptions,
  type RawDirEntry,
  type StartedProcess,
} from './base-transport.js';
import { escapeForBash } from './escaping.js';
import type { FileAttribute, MakedirsOptions, TransportPath } from './transport.js';

/** Options of {@link LocalTransport}; `machine` defaults to `localhost`. */
export type LocalTransportOptions = Partial<BaseTransportOptions>;

function attributesOf(stats: Stats): FileAttribute {
  return {
    stSize: stats.size,
    stUid: stats.uid,
    stGid: stats.gid,
    stMode: stats.mode,
    stAtime: stats.atimeMs / 1000,
    stMtime: stats.mtimeMs / 1000,
  };
}

/** A sibling name for a file being written, so readers never see it half-written. */
export function partialName(target: string): string {
  const dir = path.posix.dirname(target);
  const base = path.posix.basename(target);
  return path.posix.join(dir, `.${base}.aiida-part-${randomBytes(6).toString('hex')}`);
}

/**
 * `core.local`: the "remote" computer is this machine. Files move with node's `fs`, commands run as
 * `bash -l -c <command>` (or `bash -c` without `use_login_shell`) in their own process group, so a timeout
 * kills the whole command. Relative paths resolve against the home directory, as aiida's.
 */
export class LocalTransport extends BaseTransport {
  /** Entry point name. */
  static readonly entryPoint = 'core.local';
  /** The zod schema of the auth params (snake_case, as stored in an AuthInfo). */
  static readonly authParamsSchema = LocalAuthParams;
  /** aiida's `DEFAULT_MINIMUM_JOB_POLL_INTERVAL` for this transport (seconds). */
  static readonly defaultMinimumJobPollInterval = 0.1;
  static readonly defaultSafeOpenInterval = LOCAL_DEFAULT_SAFE_INTERVAL;

  readonly transportType = LocalTransport.entryPoint;
  readonly #home = homedir();

  constructor(options: LocalTransportOptions = {}) {
    super({ machine: 'localhost', ...options }, LOCAL_DEFAULT_SAFE_INTERVAL);
  }

  /** Build a transport from stored auth params (validated; unknown keys are refused). */
  static fromAuthParams(machine: string, authParams: LocalAuthParamsInput = {}): LocalTransport {
    const params = parseAuthParams(LocalAuthParams, LocalTransport.entryPoint, authParams);
    return new LocalTransport({
      machine,
      useLoginShell: params.use_login_shell,
      safeInterval: params.safe_interval,
    });
  }

  #resolve(p: TransportPath): string {
    return path.isAbsolute(p) ? p : path.join(this.#home, p);
  }

  protected openConnection(): Promise<void> {
    // Nothing to connect; the home directory must exist for relative paths and commands to work. (Asked synchronously:
    // one look-up of a folder the kernel holds in memory, made at every open, i.e. several times per job, where a
    // thread-pool round trip would cost the process many times the system call.)
    try {
      accessSync(this.#home);
    } catch (error) {
      return Promise.reject(
        wrapTransportError(`core.local: home directory ${this.#home} is not accessible`, error),
      );
    }
    return Promise.resolve();
  }

  protected async closeConnection(): Promise<void> {
    // Nothing to release: every command and file handle is owned by the operation that opened it.
  }

  protected connectionAlive(): boolean {
    return true;
  }

  protected async statPath(p: TransportPath, follow: boolean): Promise<FileAttribute | undefined> {
    try {
      const full = this.#resolve(p);
      return attributesOf(follow ? await fsp.stat(full) : await fsp.lstat(full));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw wrapTransportError(`stat ${p}`, error);
    }
  }

  protected async readDirNames(p: TransportPath): Promise<string[]> {
    try {
      return await fsp.readdir(this.#resolve(p));
    } catch (error) {
      throw wrapTransportError(`listdir ${p}`, error);
    }
  }

  protected async readDirEntries(p: TransportPath): Promise<RawDirEntry[]> {
    const dir = this.#resolve(p);
    const names = await this.readDirNames(p);
    return Promise.all(
      names.map(async (name) => ({ name, attributes: attributesOf(await fsp.lstat(path.join(dir, name))) })),
    );
  }

  protected async makeDir(p: TransportPath): Promise<void> {
    await this.#fs(`mkdir ${p}`, () => fsp.mkdir(this.#resolve(p)));
  }

  /**
   * mkdir -p in one call: node walks up to the first existing folder and back down itself, and an existing folder or
   * one made meanwhile by a concurrent call is fine; the generic version stats and retries once per level.
   */
  protected override async ensureDir(p: TransportPath): Promise<void> {
    try {
      await fsp.mkdir(this.#resolve(p), { recursive: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw wrapTransportError(`makedirs ${p}: a file is in the way`, error, 'EEXIST');
      throw wrapTransportError(`makedirs ${p}`, error);
    }
  }

  /** With `ignoreExisting`, an existing folder needs no look first: the one recursive mkdir says it all. */
  override makedirs(p: TransportPath, options: MakedirsOptions = {}): Promise<void> {
    if (options.ignoreExisting !== true || p === '') return super.makedirs(p, options);
    return this.op(`makedirs ${p}`, () => this.ensureDir(p));
  }

  protected async removeDir(p: TransportPath): Promise<void> {
    await this.#fs(`rmdir ${p}`, () => fsp.rmdir(this.#resolve(p)));
  }

  protected async unlinkPath(p: TransportPath): Promise<void> {
    await this.#fs(`remove ${p}`, () => fsp.unlink(this.#resolve(p)));
  }

  protected async renamePath(oldpath: TransportPath, newpath: TransportPath): Promise<void> {
    await this.#fs(`rename ${oldpath} to ${newpath}`, async () => {
      try {
        await fsp.rename(this.#resolve(oldpath), this.#resolve(newpath));
      } catch (error) {
        // Across file systems rename cannot work; fall back to copy-then-delete as shutil.move does.
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await fsp.cp(this.#resolve(oldpath), this.#resolve(newpath), {
          recursive: true,
          verbatimSymlinks: true,
        });
        await fsp.rm(this.#resolve(oldpath), { recursive: true });
      }
    });
  }

  protected async setMode(p: TransportPath, mode: number): Promise<void> {
    await this.#fs(`chmod ${p}`, () => fsp.chmod(this.#resolve(p), mode));
  }

  protected async setOwner(p: TransportPath, uid: number, gid: number): Promise<void> {
    await this.#fs(`chown ${p}`, () => fsp.chown(this.#resolve(p), uid, gid));
  }

  protected async makeSymlink(target: string, linkPath: TransportPath): Promise<void> {
    await this.#fs(`symlink ${linkPath}`, () => fsp.symlink(target, this.#resolve(linkPath)));
  }

  protected async readLink(p: TransportPath): Promise<string> {
    return this.#fs(`readlink ${p}`, () => fsp.readlink(this.#resolve(p)));
  }

  protected async realPath(p: TransportPath): Promise<string> {
    return this.#fs(`normalize ${p}`, () => fsp.realpath(this.#resolve(p)));
  }

  protected async removeTree(p: TransportPath): Promise<void> {
    await this.#fs(`rmtree ${p}`, () => fsp.rm(this.#resolve(p), { recursive: true, force: true }));
  }

  protected async uploadFile(localpath: string, remotepath: TransportPath): Promise<void> {
    await this.#copyAtomically(localpath, this.#resolve(remotepath), `putfile ${localpath} to ${remotepath}`);
  }

  protected async downloadFile(remotepath: TransportPath, localpath: string): Promise<void> {
    await this.#copyAtomically(this.#resolve(remotepath), localpath, `getfile ${remotepath} to ${localpath}`);
  }

  async #copyAtomically(from: string, to: string, what: string): Promise<void> {
    const partial = partialName(to);
    try {
      if (isSmallRegularFile(from)) {
        // a job's files are a few hundred bytes: copied and renamed with plain system calls, not two thread-pool
        // round trips with their promises (a larger file goes through the thread pool, never stalling the event loop)
        copyFileSync(from, partial);
        renameSync(partial, to);
        return;
      }
      await fsp.copyFile(from, partial);
      await fsp.rename(partial, to);
    } catch (error) {
      await fsp.rm(partial, { force: true });
      throw wrapTransportError(what, error);
    }
  }

  async #fs<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw wrapTransportError(what, error);
    }
  }

  protected async startProcess(script: string): Promise<StartedProcess> {
    const argv = this.useLoginShell ? ['-l', '-c', script] : ['-c', script];
    // A process group of its own (aiida's start_new_session) so a kill reaches the command's children too.
    const child = spawn('bash', argv, { cwd: this.#home, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    try {
      await spawned;
    } catch (error) {
      throw wrapTransportError('core.local: cannot start bash', error);
    }
    const done = new Promise<{ retval: number; signal: string | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        const name = signal === null ? null : signal.replace(/^SIG/u, '');
        resolve({ retval: code ?? (name === null ? -1 : retvalForSignal(name)), signal: name });
      });
    });
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      done,
      kill: (signal: string) => {
        const pid = child.pid;
        if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const name = `SIG${signal.replace(/^SIG/u, '')}` as NodeJS.Signals;
        try {
          process.kill(-pid, name);
        } catch {
          // The group is already gone.
        }
      },
    };
  }

  /** The user this process runs as: the "remote" user of this machine, known without running `whoami`. */
  override whoami(): Promise<string> {
    let name: string;
    try {
      name = userInfo().username;
    } catch {
      // No passwd entry for this uid (some containers): ask the shell as other transports do.
      return super.whoami();
    }
    return this.op('whoami', () => Promise.resolve(name));
  }

  gotocomputerCommand(remotedir?: TransportPath): string {
    if (remotedir !== undefined && remotedir === '')
      throw new ValidationError('gotocomputerCommand: empty directory');
    return `bash -c ${escapeForBash(this.gotocomputerScript(remotedir))}`;
  }
}
