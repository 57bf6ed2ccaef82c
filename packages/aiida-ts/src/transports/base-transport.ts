import { AsyncLocalStorage } from 'node:async_hooks';
import type { Dirent, Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import {
  FeatureNotAvailableError,
  InvalidOperationError,
  TransportError,
  TransportInternalError,
  ValidationError,
} from '../errors.js';
import { escapeForBash, hasMagic } from './escaping.js';
import { filterNames } from './fnmatch.js';
import { globPaths, joinPath, splitPath, type GlobFileSystem } from './glob.js';
import {
  CompressionFormat,
  type CommandExit,
  type CompressOptions,
  type CopyFileOptions,
  type CopyOptions,
  type ExecCommandWaitOptions,
  type ExecCommandWaitTextOptions,
  type ExecOptions,
  type ExecResult,
  type ExecStdin,
  type ExtractOptions,
  type FileAttribute,
  type FileTransferOptions,
  type ListdirEntry,
  type MakedirsOptions,
  type RunningCommand,
  type Transport,
  type TransportPath,
  type TransferOptions,
  type TreeTransferOptions,
} from './transport.js';

/** File type bits of `stMode`. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export const isDirMode = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isFileMode = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isLinkMode = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;

/** One directory entry as a transport's primitive listing returns it (attributes from `lstat`). */
export interface RawDirEntry {
  readonly name: string;
  readonly attributes: FileAttribute;
}

/** Settings every transport shares (aiida's common auth options), in camelCase. */
export interface BaseTransportOptions {
  /** The computer's host name. */
  readonly machine: string;
  /** Run commands through `bash -l -c` (true, the default) or `bash -c`. */
  readonly useLoginShell?: boolean;
  /** Seconds between two openings of a connection to this computer. */
  readonly safeInterval?: number;
}

/** A command as a transport starts it, before the base class adds timeouts and aborts. */
export interface StartedProcess {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles when the process has exited and both output streams have ended. */
  readonly done: Promise<CommandExit>;
  kill(signal: string): void;
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  ABRT: 6,
  FPE: 8,
  KILL: 9,
  SEGV: 11,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  USR1: 10,
  USR2: 12,
};

/** Exit status a shell would report for a process killed by `signal`. */
export function retvalForSignal(signal: string): number {
  return 128 + (SIGNAL_NUMBERS[signal.replace(/^SIG/u, '')] ?? 0);
}

/** Python's `os.path.split(p)[1]` (no normalisation: `'a/'` gives `''`, `'a/.'` gives `'.'`). */
function pyBasename(p: string): string {
  return splitPath(p)[1];
}

function errnoOf(error: unknown): string | undefined {
  if (error instanceof TransportError) return error.errno;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Wrap a failure of `what` as a `TransportError` that keeps the POSIX reason. */
export function wrapTransportError(what: string, error: unknown, errno?: string): TransportError {
  if (error instanceof TransportError && errno === undefined) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const code = errno ?? errnoOf(error);
  return new TransportError(
    `${what}: ${reason}`,
    code === undefined ? { cause: error } : { cause: error, errno: code },
  );
}

async function localStat(p: string, follow = true): Promise<Stats | undefined> {
  try {
    return follow ? await fsp.stat(p) : await fsp.lstat(p);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw wrapTransportError(`stat ${p}`, error);
  }
}

const localGlobFs: GlobFileSystem = {
  cwd: process.cwd(),
  pathExists: async (p) => (await localStat(p, false)) !== undefined,
  isdir: async (p) => (await localStat(p))?.isDirectory() ?? false,
  listdir: async (p) => fsp.readdir(p),
};

function requireAbsoluteLocal(p: string, role: string): void {
  if (typeof p !== 'string' || p === '') {
    throw new ValidationError(`${role} must be a non-empty absolute local path`);
  }
  if (!path.isAbsolute(p)) throw new ValidationError(`${role} must be an absolute local path, got '${p}'`);
}

function requireRemote(p: string, role: string): void {
  if (typeof p !== 'string' || p === '') {
    throw new TransportError(`${role} must be a non-empty remote path`, { errno: 'EINVAL' });
  }
}

function isStdinValue(value: unknown): value is ExecStdin {
  return (
    typeof value === 'string' ||
    value instanceof Uint8Array ||
    value instanceof Readable ||
    (typeof value === 'object' && value !== null && Symbol.asyncIterator in value)
  );
}

async function feedStdin(stdin: Writable, data: ExecStdin): Promise<void> {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    await new Promise<void>((resolve) => {
      stdin.once('error', () => resolve());
      stdin.end(data, () => resolve());
    });
    return;
  }
  await pipeline(data instanceof Readable ? data : Readable.from(data), stdin);
}

function toBuffer(chunk: unknown): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
}

/**
 * What `core.local` and `core.ssh` share: aiida's put/get/copy dispatch and its glob and overwrite rules,
 * argument checks, listing with attributes, archives with the remote `tar`, command lines with every
 * argument quoted, timeouts and aborts of commands, and an optional cap on concurrent operations.
 * Subclasses provide the primitives (stat, readdir, mkdir, transfer one file, start one process, …).
 */
export abstract class BaseTransport implements Transport {
  abstract readonly transportType: string;
  readonly hostname: string;
  protected readonly useLoginShell: boolean;
  protected readonly safeInterval: number;
  /** How many files a tree transfer moves at once. */
  protected transferConcurrency = 8;
  #opened = false;
  /** Marks work already running inside one operation, so nested calls do not take a second slot. */
  readonly #inOperation = new AsyncLocalStorage<BaseTransport>();
  #ioLimit: ReturnType<typeof pLimit> | undefined;

  protected constructor(options: BaseTransportOptions, defaultSafeInterval: number) {
    this.hostname = options.machine;
    this.useLoginShell = options.useLoginShell ?? true;
    this.safeInterval = options.safeInterval ?? defaultSafeInterval;
  }

  // --- primitives the subclasses provide -----------------------------------------------------------------

  protected abstract openConnection(): Promise<void>;
  protected abstract closeConnection(): Promise<void>;
  /** True while the underlying connection still works (a lost SSH connection turns this false). */
  protected abstract connectionAlive(): boolean;
  /** Attributes of a path, or undefined when it does not exist. */
  protected abstract statPath(p: TransportPath, follow: boolean): Promise<FileAttribute | undefined>;
  protected abstract readDirNames(p: TransportPath): Promise<string[]>;
  protected abstract readDirEntries(p: TransportPath): Promise<RawDirEntry[]>;
  protected abstract makeDir(p: TransportPath): Promise<void>;
  protected abstract removeDir(p: TransportPath): Promise<void>;
  protected abstract unlinkPath(p: TransportPath): Promise<void>;
  protected abstract renamePath(oldpath: TransportPath, newpath: TransportPath): Promise<void>;
  protected abstract setMode(p: TransportPath, mode: number): Promise<void>;
  protected abstract setOwner(p: TransportPath, uid: number, gid: number): Promise<void>;
  protected abstract makeSymlink(target: string, linkPath: TransportPath): Promise<void>;
  protected abstract readLink(p: TransportPath): Promise<string>;
  protected abstract realPath(p: TransportPath): Promise<string>;
  protected abstract removeTree(p: TransportPath): Promise<void>;
  /** Copy one local file to the remote side under a temporary name, then rename it into place. */
  protected abstract uploadFile(localpath: string, remotepath: TransportPath): Promise<void>;
  /** Copy one remote file to a temporary local name, then rename it into place. */
  protected abstract downloadFile(remotepath: TransportPath, localpath: string): Promise<void>;
  /** Start `bash [-l] -c script` on the computer. */
  protected abstract startProcess(script: string): Promise<StartedProcess>;
  abstract gotocomputerCommand(remotedir?: TransportPath): string;

  // --- lifecycle ------------------------------------------------------------------------------------------

  get isOpen(): boolean {
    return this.#opened && this.connectionAlive();
  }

  async open(): Promise<void> {
    if (this.isOpen) throw new InvalidOperationError(`cannot open ${this.describe()}: it is already open`);
    await this.openConnection();
    this.#opened = true;
  }

  async close(): Promise<void> {
    if (!this.#opened) return;
    this.#opened = false;
    await this.closeConnection();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  getSafeOpenInterval(): number {
    return this.safeInterval;
  }

  /** `core.ssh localhost [OPEN]`, for messages. */
  describe(): string {
    return `${this.transportType} ${this.hostname} [${this.isOpen ? 'OPEN' : 'CLOSED'}]`;
  }

  toString(): string {
    return this.describe();
  }

  /** Cap the number of operations running at once (`undefined`: no cap). */
  protected setIoLimit(maxConcurrent: number | undefined): void {
    this.#ioLimit = maxConcurrent === undefined ? undefined : pLimit(maxConcurrent);
  }

  /** Operations currently running or waiting for a slot (0 without a cap). */
  get pendingOperations(): number {
    return this.#ioLimit === undefined ? 0 : this.#ioLimit.activeCount + this.#ioLimit.pendingCount;
  }

  protected ensureOpen(what: string): void {
    if (!this.#opened) {
      throw new TransportInternalError(
        `${what}: ${this.transportType} transport to ${this.hostname} is not open`,
      );
    }
    if (!this.connectionAlive()) {
      throw new TransportError(`${what}: the connection to ${this.hostname} was lost`, {
        errno: 'ECONNRESET',
      });
    }
  }

  /** Run one public operation: check the transport is open, then take a slot of the I/O cap. */
  protected async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.ensureOpen(what);
    const limit = this.#ioLimit;
    if (limit === undefined || this.#inOperation.getStore() === this) return fn();
    return limit(() => this.#inOperation.run(this, fn));
  }

  // --- paths and attributes -------------------------------------------------------------------------------

  chmod(p: TransportPath, mode: number): Promise<void> {
    return this.op(`chmod ${p}`, async () => {
      requireRemote(p, 'chmod: path');
      if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
        throw new ValidationError(`chmod ${p}: mode must be an integer between 0 and 0o7777, got ${mode}`);
      }
      if ((await this.statPath(p, false)) === undefined) {
        throw new TransportError(`chmod ${p}: no such file or directory`, { errno: 'ENOENT' });
      }
      await this.setMode(p, mode);
    });
  }

  chown(p: TransportPath, uid: number, gid: number): Promise<void> {
    return this.op(`chown ${p}`, async () => {
      requireRemote(p, 'chown: path');
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
        throw new ValidationError(`chown ${p}: uid and gid must be integers`);
      }
      await this.setOwner(p, uid, gid);
    });
  }

  getAttribute(p: TransportPath): Promise<FileAttribute> {
    return this.op(`getAttribute ${p}`, async () => {
      requireRemote(p, 'getAttribute: path');
      const attributes = await this.statPath(p, false);
      if (attributes === undefined) {
        throw new TransportError(`getAttribute ${p}: no such file or directory`, { errno: 'ENOENT' });
      }
      return attributes;
    });
  }

  async getMode(p: TransportPath): Promise<number> {
    return (await this.getAttribute(p)).stMode & 0o7777;
  }

  isdir(p: TransportPath): Promise<boolean> {
    return this.op(`isdir ${p}`, async () => {
      if (!p) return false;
      const attributes = await this.statPath(p, true);
      return attributes !== undefined && isDirMode(attributes.stMode);
    });
  }

  isfile(p: TransportPath): Promise<boolean> {
    return this.op(`isfile ${p}`, async () => {
      if (!p) return false;
      const attributes = await this.statPath(p, true);
      return attributes !== undefined && isFileMode(attributes.stMode);
    });
  }

  pathExists(p: TransportPath): Promise<boolean> {
    return this.op(`pathExists ${p}`, async () => {
      if (!p) return false;
      return (await this.statPath(p, false)) !== undefined;
    });
  }

  normalize(p: TransportPath = '.'): Promise<string> {
    return this.op(`normalize ${p}`, () => this.realPath(p || '.'));
  }

  listdir(p: TransportPath = '.', pattern?: string): Promise<string[]> {
    return this.op(`listdir ${p}`, async () => {
      const names = await this.readDirNames(p || '.');
      return pattern ? filterNames(names, pattern) : names;
    });
  }

  listdirWithAttributes(p: TransportPath = '.', pattern?: string): Promise<ListdirEntry[]> {
    return this.op(`listdirWithAttributes ${p}`, async () => {
      const dir = p || '.';
      let entries = await this.readDirEntries(dir);
      if (pattern) {
        const keep = new Set(
          filterNames(
            entries.map((e) => e.name),
            pattern,
          ),
        );
        entries = entries.filter((e) => keep.has(e.name));
      }
      return Promise.all(
        entries.map(async ({ name, attributes }) => {
          let isdir = isDirMode(attributes.stMode);
          if (isLinkMode(attributes.stMode)) {
            const target = await this.statPath(joinPath(dir, name), true);
            isdir = target !== undefined && isDirMode(target.stMode);
          }
          return { name, attributes, isdir };
        }),
      );
    });
  }

  glob(pattern: TransportPath): Promise<string[]> {
    return this.op(`glob ${pattern}`, () => globPaths(this.remoteGlobFs(), pattern));
  }

  /** The remote side as glob sees it; relative patterns resolve against the home directory. */
  protected remoteGlobFs(): GlobFileSystem {
    return {
      cwd: '.',
      pathExists: async (p) => (await this.statPath(p, false)) !== undefined,
      isdir: async (p) => {
        const a = await this.statPath(p, true);
        return a !== undefined && isDirMode(a.stMode);
      },
      listdir: (p) => this.readDirNames(p),
    };
  }

  // --- directories and files ------------------------------------------------------------------------------

  mkdir(p: TransportPath, options: MakedirsOptions = {}): Promise<void> {
    return this.op(`mkdir ${p}`, async () => {
      requireRemote(p, 'mkdir: path');
      const existing = await this.statPath(p, true);
      if (existing !== undefined) {
        if (options.ignoreExisting && isDirMode(existing.stMode)) return;
        throw new TransportError(`mkdir ${p}: it already exists`, { errno: 'EEXIST' });
      }
      await this.makeDir(p);
    });
  }

  makedirs(p: TransportPath, options: MakedirsOptions = {}): Promise<void> {
    return this.op(`makedirs ${p}`, async () => {
      requireRemote(p, 'makedirs: path');
      const existing = await this.statPath(p, true);
      if (existing !== undefined) {
        if (options.ignoreExisting && isDirMode(existing.stMode)) return;
        throw new TransportError(`makedirs ${p}: it already exists`, { errno: 'EEXIST' });
      }
      await this.ensureDir(p);
    });
  }

  /** mkdir -p: create `p` and its missing parents; an existing directory is fine. */
  protected async ensureDir(p: TransportPath): Promise<void> {
    try {
      await this.makeDir(p);
      return;
    } catch (error) {
      const attributes = await this.statPath(p, true);
      if (attributes !== undefined) {
        if (isDirMode(attributes.stMode)) return;
        throw new TransportError(`makedirs ${p}: a file is in the way`, { errno: 'EEXIST', cause: error });
      }
      const [parent] = splitPath(p.replace(/\/+$/u, ''));
      if (parent === '' || parent === p) throw error;
      // the parent may have been made meanwhile by a concurrent call (jobs sharing a sharded folder): then only
      // `p` is left to make
      if ((await this.statPath(parent, true)) === undefined) await this.ensureDir(parent);
    }
    try {
      await this.makeDir(p);
    } catch (error) {
      // made meanwhile by a concurrent call
      const attributes = await this.statPath(p, true);
      if (attributes !== undefined && isDirMode(attributes.stMode)) return;
      throw error;
    }
  }

  rmdir(p: TransportPath): Promise<void> {
    return this.op(`rmdir ${p}`, async () => {
      requireRemote(p, 'rmdir: path');
      await this.removeDir(p);
    });
  }

  rmtree(p: TransportPath): Promise<void> {
    return this.op(`rmtree ${p}`, async () => {
      requireRemote(p, 'rmtree: path');
      await this.removeTree(p);
    });
  }

  remove(p: TransportPath): Promise<void> {
    return this.op(`remove ${p}`, async () => {
      requireRemote(p, 'remove: path');
      const attributes = await this.statPath(p, false);
      if (attributes === undefined)
        throw new TransportError(`remove ${p}: no such file`, { errno: 'ENOENT' });
      if (isDirMode(attributes.stMode)) {
        throw new TransportError(`remove ${p}: it is a directory (use rmdir or rmtree)`, { errno: 'EISDIR' });
      }
      await this.unlinkPath(p);
    });
  }

  rename(oldpath: TransportPath, newpath: TransportPath): Promise<void> {
    return this.op(`rename ${oldpath}`, async () => {
      if (!oldpath) throw new ValidationError('rename: the source must be a non-empty path');
      if (!newpath) throw new ValidationError('rename: the destination must be a non-empty path');
      if ((await this.statPath(oldpath, false)) === undefined) {
        throw new TransportError(`rename: source ${oldpath} does not exist`, { errno: 'ENOENT' });
      }
      if ((await this.statPath(newpath, false)) !== undefined) {
        throw new TransportError(`rename: destination ${newpath} already exists`, { errno: 'EEXIST' });
      }
      await this.renamePath(oldpath, newpath);
    });
  }

  symlink(src: TransportPath, dst: TransportPath): Promise<void> {
    return this.op(`symlink ${src}`, async () => {
      requireRemote(src, 'symlink: source');
      requireRemote(dst, 'symlink: destination');
      const source = path.posix.normalize(src);
      const destination = path.posix.normalize(dst);
      if (!hasMagic(source)) {
        await this.makeSymlink(source, destination);
        return;
      }
      if (hasMagic(destination))
        throw new ValidationError(`symlink: the destination ${dst} cannot hold a pattern`);
      for (const match of await globPaths(this.remoteGlobFs(), source)) {
        await this.makeSymlink(match, joinPath(destination, pyBasename(match)));
      }
    });
  }

  // --- remote copies ---------------------------------------------------------------------------------------

  copy(src: TransportPath, dst: TransportPath, options: CopyOptions = {}): Promise<void> {
    return this.op(`copy ${src}`, async () => {
      if (!src) throw new ValidationError('copy: the source must be a non-empty path');
      if (!dst) throw new ValidationError('copy: the destination must be a non-empty path');
      if (hasMagic(dst)) throw new ValidationError(`copy: the destination ${dst} cannot hold a pattern`);
      const dereference = options.dereference ?? false;
      const recursive = options.recursive ?? true;
      let sources: string[];
      if (hasMagic(src)) {
        sources = await globPaths(this.remoteGlobFs(), src);
        if (sources.length > 1) {
          const target = await this.statPath(dst, true);
          if (target === undefined || !isDirMode(target.stMode)) {
            throw new TransportError(`copy: ${src} matches several paths but ${dst} is not a directory`, {
              errno: 'ENOTDIR',
            });
          }
        }
      } else {
        if ((await this.statPath(src, false)) === undefined) {
          throw new TransportError(`copy: source ${src} does not exist`, { errno: 'ENOENT' });
        }
        if (path.posix.normalize(src) === path.posix.normalize(dst)) {
          throw new ValidationError(`copy: cannot copy ${src} onto itself`);
        }
        sources = [src];
      }
      for (const source of sources) {
        const attributes = await this.statPath(source, dereference);
        const isDir = attributes !== undefined && isDirMode(attributes.stMode);
        if (isDir && !recursive) {
          throw new TransportError(`copy: ${source} is a directory and recursive is false`, {
            errno: 'EISDIR',
          });
        }
        await this.runCp(source, dst, { recursive: isDir, dereference });
      }
    });
  }

  copyfile(src: TransportPath, dst: TransportPath, options: CopyFileOptions = {}): Promise<void> {
    return this.op(`copyfile ${src}`, async () => {
      if (!src) throw new ValidationError('copyfile: the source must be a non-empty path');
      if (!dst) throw new ValidationError('copyfile: the destination must be a non-empty path');
      if ((await this.statPath(src, false)) === undefined) {
        throw new TransportError(`copyfile: source ${src} does not exist`, { errno: 'ENOENT' });
      }
      await this.runCp(src, dst, { recursive: false, dereference: options.dereference ?? false });
    });
  }

  copytree(src: TransportPath, dst: TransportPath, options: CopyFileOptions = {}): Promise<void> {
    return this.op(`copytree ${src}`, async () => {
      if (!src) throw new ValidationError('copytree: the source must be a non-empty path');
      if (!dst) throw new ValidationError('copytree: the destination must be a non-empty path');
      if ((await this.statPath(src, false)) === undefined) {
        throw new TransportError(`copytree: source ${src} does not exist`, { errno: 'ENOENT' });
      }
      await this.runCp(src, dst, { recursive: true, dereference: options.dereference ?? false });
    });
  }

  /** `cp` on the computer; like GNU cp, an existing directory destination receives the source inside it. */
  private async runCp(
    src: string,
    dst: string,
    options: { readonly recursive: boolean; readonly dereference: boolean },
  ): Promise<void> {
    const flags = ['-f', options.recursive ? '-r' : '', options.dereference ? '-L' : '-P'].filter(Boolean);
    const command = `cp ${flags.join(' ')} -- ${escapeForBash(src)} ${escapeForBash(dst)}`;
    const { retval, stderr } = await this.execCommandWait(command);
    if (retval !== 0) {
      throw new TransportError(`copy ${src} to ${dst} failed (cp exit code ${retval}): ${stderr.trim()}`);
    }
  }

  async copyFromRemoteToRemote(
    destination: Transport,
    src: TransportPath,
    dst: TransportPath,
    options: TransferOptions = {},
  ): Promise<void> {
    this.ensureOpen(`copyFromRemoteToRemote ${src}`);
    const sandbox = await fsp.mkdtemp(path.join(tmpdir(), 'aiida-ts-r2r-'));
    try {
      await this.get(src, sandbox, {
        dereference: options.dereference ?? true,
        overwrite: true,
        ignoreNonexisting: options.ignoreNonexisting ?? false,
      });
      // Symlinks are followed on the way out so nothing on the destination points back at unknown paths.
      for (const name of await fsp.readdir(sandbox)) {
        await destination.put(path.join(sandbox, name), dst, {
          dereference: true,
          overwrite: options.overwrite ?? true,
          ignoreNonexisting: options.ignoreNonexisting ?? false,
        });
      }
    } finally {
      await fsp.rm(sandbox, { recursive: true, force: true });
    }
  }

  // --- uploads ---------------------------------------------------------------------------------------------

  put(localpath: string, remotepath: TransportPath, options: TransferOptions = {}): Promise<void> {
    return this.op(`put ${localpath}`, async () => {
      requireRemote(remotepath, 'put: remotepath');
      requireAbsoluteLocal(localpath, 'put: localpath');
      const overwrite = options.overwrite ?? true;
      const dereference = options.dereference ?? true;
      if (hasMagic(localpath)) {
        if (hasMagic(remotepath))
          throw new ValidationError(`put: the remotepath ${remotepath} cannot hold a pattern`);
        const matches = await globPaths(localGlobFs, localpath);
        let intoDirectory = false;
        if (matches.length > 1) {
          const target = await this.statPath(remotepath, true);
          if (target === undefined) {
            throw new TransportError(
              `put: ${localpath} matches several files but ${remotepath} does not exist`,
              {
                errno: 'ENOENT',
              },
            );
          }
          if (!isDirMode(target.stMode)) {
            throw new TransportError(
              `put: ${localpath} matches several files but ${remotepath} is not a directory`,
              {
                errno: 'ENOTDIR',
              },
            );
          }
          intoDirectory = true;
        }
        for (const match of matches) {
          if ((await localStat(match))?.isFile()) {
            const into = intoDirectory || (await this.isdir(remotepath));
            await this.putfile(match, into ? joinPath(remotepath, path.basename(match)) : remotepath, {
              overwrite,
            });
          } else {
            await this.puttree(match, remotepath, { dereference, overwrite });
          }
        }
        return;
      }
      const stats = await localStat(localpath);
      if (stats?.isDirectory()) {
        await this.puttree(localpath, remotepath, { dereference, overwrite });
      } else if (stats?.isFile()) {
        const into = await this.isdir(remotepath);
        await this.putfile(localpath, into ? joinPath(remotepath, path.basename(localpath)) : remotepath, {
          overwrite,
        });
      } else if (!options.ignoreNonexisting) {
        throw new TransportError(`put: the local path ${localpath} does not exist`, { errno: 'ENOENT' });
      }
    });
  }

  putfile(localpath: string, remotepath: TransportPath, options: FileTransferOptions = {}): Promise<void> {
    return this.op(`putfile ${localpath}`, async () => {
      requireRemote(remotepath, 'putfile: remotepath');
      requireAbsoluteLocal(localpath, 'putfile: localpath');
      const stats = await localStat(localpath);
      if (stats === undefined) {
        throw new TransportError(`putfile: the local file ${localpath} does not exist`, { errno: 'ENOENT' });
      }
      if (stats.isDirectory()) {
        throw new TransportError(`putfile: ${localpath} is a directory (use puttree)`, { errno: 'EISDIR' });
      }
      if (!(options.overwrite ?? true) && (await this.statPath(remotepath, false)) !== undefined) {
        throw new TransportError(`putfile: ${remotepath} already exists and overwrite is false`, {
          errno: 'EEXIST',
        });
      }
      await this.uploadFile(localpath, remotepath);
    });
  }

  puttree(localpath: string, remotepath: TransportPath, options: TreeTransferOptions = {}): Promise<void> {
    return this.op(`puttree ${localpath}`, async () => {
      requireRemote(remotepath, 'puttree: remotepath');
      requireAbsoluteLocal(localpath, 'puttree: localpath');
      const stats = await localStat(localpath);
      if (stats === undefined) {
        throw new TransportError(`puttree: the local folder ${localpath} does not exist`, {
          errno: 'ENOENT',
        });
      }
      if (!stats.isDirectory()) {
        throw new TransportError(`puttree: ${localpath} is not a directory (use putfile)`, {
          errno: 'ENOTDIR',
        });
      }
      const target = await this.statPath(remotepath, true);
      if (target !== undefined && !(options.overwrite ?? true)) {
        throw new TransportError(`puttree: ${remotepath} already exists and overwrite is false`, {
          errno: 'EEXIST',
        });
      }
      if (target !== undefined && !isDirMode(target.stMode)) {
        throw new TransportError(`puttree: cannot copy a directory onto the file ${remotepath}`, {
          errno: 'ENOTDIR',
        });
      }
      let destination = remotepath;
      if (target !== undefined) destination = joinPath(remotepath, pyBasename(localpath));
      await this.uploadTree(localpath, destination, options.dereference ?? true);
    });
  }

  private async uploadTree(localRoot: string, remoteRoot: string, dereference: boolean): Promise<void> {
    await this.ensureDir(remoteRoot);
    const files: [string, string][] = [];
    const links: [string, string][] = [];
    const walk = async (localDir: string, remoteDir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fsp.readdir(localDir, { withFileTypes: true });
      } catch (error) {
        throw wrapTransportError(`puttree: cannot read ${localDir}`, error);
      }
      for (const entry of entries) {
        const local = path.join(localDir, entry.name);
        const remote = joinPath(remoteDir, entry.name);
        let isDir = entry.isDirectory();
        if (entry.isSymbolicLink()) {
          if (!dereference) {
            links.push([await fsp.readlink(local), remote]);
            continue;
          }
          const targetStats = await localStat(local);
          if (targetStats === undefined) {
            throw new TransportError(`puttree: the symlink ${local} points to nothing`, { errno: 'ENOENT' });
          }
          isDir = targetStats.isDirectory();
        }
        if (isDir) {
          await this.ensureDir(remote);
          await walk(local, remote);
        } else {
          files.push([local, remote]);
        }
      }
    };
    await walk(localRoot, remoteRoot);
    const limit = pLimit(this.transferConcurrency);
    await Promise.all(files.map(([local, remote]) => limit(() => this.uploadFile(local, remote))));
    for (const [target, remote] of links) {
      if ((await this.statPath(remote, false)) !== undefined) await this.unlinkPath(remote);
      await this.makeSymlink(target, remote);
    }
  }

  // --- downloads -------------------------------------------------------------------------------------------

  get(remotepath: TransportPath, localpath: string, options: TransferOptions = {}): Promise<void> {
    return this.op(`get ${remotepath}`, async () => {
      requireAbsoluteLocal(localpath, 'get: localpath');
      requireRemote(remotepath, 'get: remotepath');
      const overwrite = options.overwrite ?? true;
      const dereference = options.dereference ?? true;
      if (hasMagic(remotepath)) {
        if (hasMagic(localpath))
          throw new ValidationError(`get: the localpath ${localpath} cannot hold a pattern`);
        const matches = await globPaths(this.remoteGlobFs(), remotepath);
        let intoDirectory = false;
        if (matches.length > 1) {
          const target = await localStat(localpath);
          if (target === undefined) {
            throw new TransportError(
              `get: ${remotepath} matches several files but ${localpath} does not exist`,
              {
                errno: 'ENOENT',
              },
            );
          }
          if (!target.isDirectory()) {
            throw new TransportError(
              `get: ${remotepath} matches several files but ${localpath} is not a directory`,
              {
                errno: 'ENOTDIR',
              },
            );
          }
          intoDirectory = true;
        }
        for (const match of matches) {
          const attributes = await this.statPath(match, true);
          if (attributes !== undefined && isFileMode(attributes.stMode)) {
            const into = intoDirectory || (await localStat(localpath))?.isDirectory() === true;
            await this.getfile(match, into ? path.join(localpath, pyBasename(match)) : localpath, {
              overwrite,
            });
          } else {
            await this.gettree(match, localpath, { dereference, overwrite });
          }
        }
        return;
      }
      const attributes = await this.statPath(remotepath, true);
      if (attributes !== undefined && isDirMode(attributes.stMode)) {
        await this.gettree(remotepath, localpath, { dereference, overwrite });
      } else if (attributes !== undefined && isFileMode(attributes.stMode)) {
        const into = (await localStat(localpath))?.isDirectory() === true;
        await this.getfile(remotepath, into ? path.join(localpath, pyBasename(remotepath)) : localpath, {
          overwrite,
        });
      } else if (!options.ignoreNonexisting) {
        throw new TransportError(`get: the remote path ${remotepath} does not exist`, { errno: 'ENOENT' });
      }
    });
  }

  getfile(remotepath: TransportPath, localpath: string, options: FileTransferOptions = {}): Promise<void> {
    return this.op(`getfile ${remotepath}`, async () => {
      requireAbsoluteLocal(localpath, 'getfile: localpath');
      requireRemote(remotepath, 'getfile: remotepath');
      const attributes = await this.statPath(remotepath, true);
      if (attributes === undefined) {
        throw new TransportError(`getfile: the remote file ${remotepath} does not exist`, {
          errno: 'ENOENT',
        });
      }
      if (isDirMode(attributes.stMode)) {
        throw new TransportError(`getfile: ${remotepath} is a directory (use gettree)`, { errno: 'EISDIR' });
      }
      if (!(options.overwrite ?? true) && (await localStat(localpath, false)) !== undefined) {
        throw new TransportError(`getfile: ${localpath} already exists and overwrite is false`, {
          errno: 'EEXIST',
        });
      }
      await this.downloadFile(remotepath, localpath);
    });
  }

  gettree(remotepath: TransportPath, localpath: string, options: TreeTransferOptions = {}): Promise<void> {
    return this.op(`gettree ${remotepath}`, async () => {
      requireAbsoluteLocal(localpath, 'gettree: localpath');
      requireRemote(remotepath, 'gettree: remotepath');
      const attributes = await this.statPath(remotepath, true);
      if (attributes === undefined || !isDirMode(attributes.stMode)) {
        throw new TransportError(`gettree: the remote path ${remotepath} is not a folder`, {
          errno: attributes === undefined ? 'ENOENT' : 'ENOTDIR',
        });
      }
      const target = await localStat(localpath);
      if (target !== undefined && !(options.overwrite ?? true)) {
        throw new TransportError(`gettree: ${localpath} already exists and overwrite is false`, {
          errno: 'EEXIST',
        });
      }
      if (target !== undefined && !target.isDirectory()) {
        throw new TransportError(`gettree: cannot copy a directory onto the file ${localpath}`, {
          errno: 'ENOTDIR',
        });
      }
      let destination = localpath;
      if (target !== undefined) destination = path.join(localpath, pyBasename(remotepath));
      await this.downloadTree(remotepath, destination, options.dereference ?? true);
    });
  }

  private async downloadTree(remoteRoot: string, localRoot: string, dereference: boolean): Promise<void> {
    await fsp.mkdir(localRoot, { recursive: true });
    const files: [string, string][] = [];
    const links: [string, string][] = [];
    const walk = async (remoteDir: string, localDir: string): Promise<void> => {
      for (const { name, attributes } of await this.readDirEntries(remoteDir)) {
        const remote = joinPath(remoteDir, name);
        const local = path.join(localDir, name);
        let mode = attributes.stMode;
        if (isLinkMode(mode)) {
          if (!dereference) {
            links.push([await this.readLink(remote), local]);
            continue;
          }
          const target = await this.statPath(remote, true);
          if (target === undefined) {
            throw new TransportError(`gettree: the symlink ${remote} points to nothing`, { errno: 'ENOENT' });
          }
          mode = target.stMode;
        }
        if (isDirMode(mode)) {
          await fsp.mkdir(local, { recursive: true });
          await walk(remote, local);
        } else {
          files.push([remote, local]);
        }
      }
    };
    await walk(remoteRoot, localRoot);
    const limit = pLimit(this.transferConcurrency);
    await Promise.all(files.map(([remote, local]) => limit(() => this.downloadFile(remote, local))));
    for (const [target, local] of links) {
      await fsp.rm(local, { force: true });
      await fsp.symlink(target, local);
    }
  }

  // --- commands --------------------------------------------------------------------------------------------

  /** The script given to `bash -c`: the command, inside the working directory when one is given. */
  protected commandScript(command: string, workdir: TransportPath | undefined): string {
    return workdir === undefined || workdir === ''
      ? command
      : `cd ${escapeForBash(workdir)} && ( ${command} )`;
  }

  /** `bash -l` or `bash`, as `use_login_shell` says. */
  protected get bashCommand(): string {
    return this.useLoginShell ? 'bash -l' : 'bash';
  }

  exec(command: string, options: ExecOptions = {}): Promise<RunningCommand> {
    this.ensureOpen(`exec ${command}`);
    if (typeof command !== 'string' || command === '') {
      return Promise.reject(new ValidationError('exec: the command must be a non-empty string'));
    }
    const { stdin } = options;
    if (stdin !== undefined && !isStdinValue(stdin)) {
      return Promise.reject(
        new ValidationError(
          'exec: stdin must be a string, a Uint8Array, a readable stream or an async iterable',
        ),
      );
    }
    const limit = this.#ioLimit;
    if (limit === undefined || this.#inOperation.getStore() === this)
      return this.startCommand(command, options);
    // The slot is held until the command has finished, not merely started.
    return new Promise<RunningCommand>((resolve, reject) => {
      void limit(() =>
        this.#inOperation.run(this, async () => {
          let running: RunningCommand;
          try {
            running = await this.startCommand(command, options);
          } catch (error) {
            reject(
              error instanceof Error
                ? error
                : new TransportError(`exec ${command}: ${String(error)}`, { cause: error }),
            );
            return;
          }
          resolve(running);
          await running.done.catch(() => undefined);
        }),
      );
    });
  }

  private async startCommand(command: string, options: ExecOptions): Promise<RunningCommand> {
    options.signal?.throwIfAborted();
    const proc = await this.startProcess(this.commandScript(command, options.workdir));
    let failure: Error | undefined;
    let failed: (error: Error) => void = () => undefined;
    const failedPromise = new Promise<never>((_resolve, reject) => {
      failed = reject;
    });
    failedPromise.catch(() => undefined);
    const stop = (error: Error): void => {
      failure ??= error;
      proc.kill('KILL');
      // Do not wait for the command's end: a descendant holding its output open could delay it.
      failed(failure);
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              stop(
                new TransportError(
                  `command timed out after ${options.timeoutMs} ms on ${this.hostname}: ${command}`,
                  {
                    errno: 'ETIMEDOUT',
                  },
                ),
              ),
            options.timeoutMs,
          );
    const onAbort = (): void => {
      const reason: unknown = options.signal?.reason;
      stop(
        reason instanceof Error
          ? reason
          : new TransportError(`command aborted: ${command}`, { errno: 'ECANCELED' }),
      );
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const stdinDone =
      options.keepStdinOpen === true
        ? Promise.resolve()
        : options.stdin === undefined
          ? new Promise<void>((resolve) => {
              proc.stdin.once('error', () => resolve());
              proc.stdin.end(() => resolve());
            })
          : feedStdin(proc.stdin, options.stdin).catch(() => undefined);
    const done = (async (): Promise<CommandExit> => {
      try {
        const exit = await Promise.race([proc.done, failedPromise]);
        await Promise.race([stdinDone, failedPromise]);
        if (failure) throw failure;
        return exit;
      } catch (error) {
        throw failure ?? wrapTransportError(`command failed on ${this.hostname}: ${command}`, error);
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }
    })();
    // Nobody may be listening yet; the rejection is still delivered to whoever awaits `done`.
    done.catch(() => undefined);
    return {
      stdin: proc.stdin,
      stdout: proc.stdout,
      stderr: proc.stderr,
      done,
      kill: (signal = 'TERM') => proc.kill(signal),
    };
  }

  execCommandWaitBytes(command: string, options: ExecCommandWaitOptions = {}): Promise<ExecResult<Buffer>> {
    return this.collect(command, options);
  }

  async execCommandWait(
    command: string,
    options: ExecCommandWaitTextOptions = {},
  ): Promise<ExecResult<string>> {
    const { encoding = 'utf-8', ...rest } = options;
    const result = await this.collect(command, rest);
    const decode = (bytes: Buffer, stream: string): string => {
      if (encoding === 'utf-8' || encoding === 'utf8') {
        try {
          return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch (error) {
          throw new TransportError(
            `the ${stream} of '${command}' is not valid UTF-8; use execCommandWaitBytes for raw output`,
            { cause: error, errno: 'EILSEQ' },
          );
        }
      }
      return bytes.toString(encoding);
    };
    const stdout = decode(result.stdout, 'stdout');
    const stderr = decode(result.stderr, 'stderr');
    return { retval: result.retval, exitCode: result.retval, stdout, stderr };
  }

  private async collect(command: string, options: ExecCommandWaitOptions): Promise<ExecResult<Buffer>> {
    if (options.stdin !== undefined && !isStdinValue(options.stdin)) {
      throw new ValidationError(
        'execCommandWait: stdin must be a string, a Uint8Array, a readable stream or an async iterable',
      );
    }
    const running = await this.exec(command, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    running.stdout.on('data', (chunk: unknown) => out.push(toBuffer(chunk)));
    running.stderr.on('data', (chunk: unknown) => err.push(toBuffer(chunk)));
    const { retval } = await running.done;
    return { retval, exitCode: retval, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
  }

  whoami(): Promise<string> {
    return this.op('whoami', async () => {
      const { retval, stdout, stderr } = await this.execCommandWait('whoami');
      if (retval !== 0) {
        throw new TransportError(`whoami failed on ${this.hostname} (exit code ${retval}): ${stderr.trim()}`);
      }
      return stdout.trim();
    });
  }

  // --- archives --------------------------------------------------------------------------------------------

  compress(options: CompressOptions): Promise<void> {
    return this.op(`compress ${options.destination}`, async () => {
      const { format, destination, rootDir } = options;
      if (!(await this.isdir(rootDir))) {
        throw new TransportError(`The relative root ${rootDir} does not exist, or is not a directory.`, {
          errno: 'ENOTDIR',
        });
      }
      if (await this.isdir(destination)) {
        throw new TransportError(
          `The remote destination ${destination} is a directory, should include a filename.`,
          {
            errno: 'EISDIR',
          },
        );
      }
      if (!(options.overwrite ?? true) && (await this.pathExists(destination))) {
        throw new TransportError(`The remote destination ${destination} already exists.`, {
          errno: 'EEXIST',
        });
      }
      if (!(CompressionFormat as readonly string[]).includes(format)) {
        throw new ValidationError(
          `Unsupported compression format: ${String(format)} (use one of ${CompressionFormat.join(', ')})`,
        );
      }
      const sources = typeof options.sources === 'string' ? [options.sources] : [...options.sources];
      const items: string[] = [];
      for (const source of sources) {
        if (hasMagic(source)) {
          const matches = await globPaths(this.remoteGlobFs(), source);
          if (matches.length === 0) {
            throw new TransportError(
              `Either the remote path ${source} does not exist, or a matching file/folder not found.`,
              { errno: 'ENOENT' },
            );
          }
          items.push(...matches);
        } else {
          if (!(await this.pathExists(source))) {
            throw new TransportError(`The remote path ${source} does not exist`, { errno: 'ENOENT' });
          }
          items.push(source);
        }
      }
      const relative = items.map((item) => relativeTo(item, rootDir));
      const [parent] = splitPath(destination);
      if (parent) await this.ensureDir(parent);
      const flag = { tar: '', 'tar.gz': 'z', 'tar.bz2': 'j', 'tar.xz': 'J' }[format];
      const command =
        `tar -c${flag}${options.dereference ? 'h' : ''}f ${escapeForBash(destination)} ` +
        `-C ${escapeForBash(rootDir)} -- ${relative.map(escapeForBash).join(' ')}`;
      const { retval, stderr } = await this.execCommandWait(command);
      if (retval !== 0) {
        throw new TransportError(
          `Error while creating the tar archive. Exit code: ${retval}. ${stderr.trim()}`,
        );
      }
    });
  }

  extract(options: ExtractOptions): Promise<void> {
    return this.op(`extract ${options.source}`, async () => {
      const { source, destination } = options;
      const strip = options.stripComponents ?? 0;
      if (options.overwrite === false) {
        throw new FeatureNotAvailableError('extract: overwrite=false is not supported (as in aiida)');
      }
      if (!Number.isInteger(strip) || strip < 0) {
        throw new ValidationError(`extract: stripComponents must be a non-negative integer, got ${strip}`);
      }
      if (!(await this.pathExists(source))) {
        throw new TransportError(`The remote path ${source} does not exist`, { errno: 'ENOENT' });
      }
      await this.ensureDir(destination);
      const command = `tar --strip-components ${strip} -xf ${escapeForBash(source)} -C ${escapeForBash(destination)}`;
      const { retval, stderr } = await this.execCommandWait(command);
      if (retval !== 0) {
        throw new TransportError(
          `Error while extracting the tar archive. Exit code: ${retval}. ${stderr.trim()}`,
        );
      }
    });
  }

  // --- interactive shell -----------------------------------------------------------------------------------

  /** The script `gotocomputerCommand` runs on the computer: enter `remotedir` or say it is gone. */
  protected gotocomputerScript(remotedir: TransportPath | undefined): string {
    if (remotedir === undefined) return this.bashCommand;
    const dir = escapeForBash(remotedir);
    return (
      `if [ -d ${dir} ] ; then cd ${dir} ; ${this.bashCommand} ; else echo '  ** The directory' ; ` +
      `echo '  ** '${dir} ; echo '  ** seems to have been deleted, I logout...' ; fi`
    );
  }
}

/** `item` relative to `root` (both POSIX), refusing an item outside `root`. */
function relativeTo(item: string, root: string): string {
  const normalizedItem = path.posix.normalize(item);
  const normalizedRoot = path.posix.normalize(root).replace(/(.)\/+$/u, '$1');
  if (normalizedItem === normalizedRoot) return '.';
  const prefix = normalizedRoot.endsWith('/') ? normalizedRoot : `${normalizedRoot}/`;
  if (!normalizedItem.startsWith(prefix)) {
    throw new ValidationError(`compress: ${item} is not inside the root directory ${root}`);
  }
  return normalizedItem.slice(prefix.length);
}
