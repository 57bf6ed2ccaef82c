import type { Readable, Writable } from 'node:stream';

/**
 * A POSIX path on the transport's side (the "remote" computer; for `core.local` the same machine). Relative
 * paths resolve against the remote user's home directory; prefer absolute paths.
 */
export type TransportPath = string;

/**
 * The stat fields aiida's `FileAttribute` carries (`st_size`, `st_uid`, `st_gid`, `st_mode`, `st_atime`,
 * `st_mtime`), in camelCase. Times are seconds since the epoch; `stMode` holds the file type bits too.
 */
export interface FileAttribute {
  readonly stSize: number;
  readonly stUid: number;
  readonly stGid: number;
  readonly stMode: number;
  readonly stAtime: number;
  readonly stMtime: number;
}

/** One entry of {@link Transport.listdirWithAttributes}. */
export interface ListdirEntry {
  readonly name: string;
  /** The entry's own attributes (`lstat`: a symlink is described, not its target). */
  readonly attributes: FileAttribute;
  /** True when the entry is a directory, following symlinks (as aiida's `isdir`). */
  readonly isdir: boolean;
}

/** What a command reads on stdin: text (sent as UTF-8), bytes, or a stream of either. */
export type ExecStdin = string | Uint8Array | Readable | AsyncIterable<string | Uint8Array>;

/** Options of {@link Transport.exec}. */
export interface ExecOptions {
  /** Directory the command runs in; it must exist. Defaults to the remote home directory. */
  readonly workdir?: TransportPath;
  /** Data for the command's stdin, after which stdin is closed. Without it stdin is closed at once. */
  readonly stdin?: ExecStdin;
  /**
   * Leave {@link RunningCommand.stdin} open for the caller to write (and end) instead of closing it;
   * only with no `stdin` data.
   */
  readonly keepStdinOpen?: boolean;
  /** Kill the command and fail with a `TransportError` (errno `ETIMEDOUT`) after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Aborting kills the command; {@link RunningCommand.done} then rejects with the abort reason. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Transport.execCommandWait} and {@link Transport.execCommandWaitBytes}. */
export type ExecCommandWaitOptions = Omit<ExecOptions, 'keepStdinOpen'>;

/** Options of {@link Transport.execCommandWait}. */
export interface ExecCommandWaitTextOptions extends ExecCommandWaitOptions {
  /**
   * Encoding of stdout and stderr; default `utf-8`. Output that is not valid UTF-8 fails with a
   * `TransportError` (use {@link Transport.execCommandWaitBytes} for raw bytes).
   */
  readonly encoding?: 'utf-8' | 'utf8' | 'latin1' | 'ascii';
}

/** The outcome of a finished command, aiida's `(retval, stdout, stderr)`. */
export interface ExecResult<T = string> {
  /** Exit status; 128 + signal number when the remote shell was killed by a signal. */
  readonly retval: number;
  /** The same number as {@link ExecResult.retval}. */
  readonly exitCode: number;
  readonly stdout: T;
  readonly stderr: T;
}

/** How a streamed command ended. */
export interface CommandExit {
  readonly retval: number;
  /** Signal name (`TERM`, `KILL`, …) when the command was killed by one, else null. */
  readonly signal: string | null;
}

/** A command started by {@link Transport.exec}; read its output as it comes. */
export interface RunningCommand {
  /** Open only with {@link ExecOptions.keepStdinOpen}; otherwise already ended. */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /**
   * Settles once the command has exited and both output streams have ended; rejects on timeout, abort or
   * a lost connection. Output must be consumed (or the streams resumed) or the command may stall.
   */
  readonly done: Promise<CommandExit>;
  /** Ask the command to stop (default signal `TERM`). */
  kill(signal?: string): void;
}

/** Options of {@link Transport.copy}. */
export interface CopyOptions {
  /** Copy what symlinks point to instead of the links; default false. */
  readonly dereference?: boolean;
  /** Copy directories recursively; default true. Without it a directory source is an error. */
  readonly recursive?: boolean;
}

/** Options of {@link Transport.copyfile} and {@link Transport.copytree}. */
export interface CopyFileOptions {
  /** Copy what symlinks point to instead of the links; default false. */
  readonly dereference?: boolean;
}

/** Options of {@link Transport.put} and {@link Transport.get}. */
export interface TransferOptions {
  /** Follow symlinks in the source; default true. */
  readonly dereference?: boolean;
  /** Replace what exists at the destination; default true. */
  readonly overwrite?: boolean;
  /** Do nothing (instead of failing) when the source does not exist; default false. */
  readonly ignoreNonexisting?: boolean;
}

/** Options of {@link Transport.putfile} and {@link Transport.getfile}. */
export interface FileTransferOptions {
  /** Replace an existing destination file; default true. */
  readonly overwrite?: boolean;
}

/** Options of {@link Transport.puttree} and {@link Transport.gettree}. */
export interface TreeTransferOptions {
  /** Follow symlinks in the source; default true. */
  readonly dereference?: boolean;
  /** Merge into (and replace files of) an existing destination; default true. */
  readonly overwrite?: boolean;
}

/** Options of {@link Transport.mkdir} and {@link Transport.makedirs}. */
export interface MakedirsOptions {
  /** Succeed when the directory already exists; default false. */
  readonly ignoreExisting?: boolean;
}

/** Archive formats of {@link Transport.compress}, as aiida spells them. */
export const CompressionFormat = ['tar', 'tar.gz', 'tar.bz2', 'tar.xz'] as const;
export type CompressionFormat = (typeof CompressionFormat)[number];

/** Options of {@link Transport.compress}. */
export interface CompressOptions {
  readonly format: CompressionFormat;
  /** Paths (glob patterns allowed) to put in the archive; each must lie under `rootDir`. */
  readonly sources: TransportPath | readonly TransportPath[];
  /** The archive file to write (its parent directories are created). */
  readonly destination: TransportPath;
  /** Directory the archive's paths are relative to. */
  readonly rootDir: TransportPath;
  /** Replace an existing archive; default true. */
  readonly overwrite?: boolean;
  /** Store what symlinks point to instead of the links; default false. */
  readonly dereference?: boolean;
}

/** Options of {@link Transport.extract}. */
export interface ExtractOptions {
  readonly source: TransportPath;
  /** Directory to unpack into (created if missing). */
  readonly destination: TransportPath;
  /** Only `true` (the default) is supported, as in aiida. */
  readonly overwrite?: boolean;
  /** Drop this many leading path components of each entry; default 0. */
  readonly stripComponents?: number;
}

/**
 * aiida's transport: file operations and command execution on one computer, always async.
 *
 * Conventions every implementation keeps (the contract suite in `test/transports` checks them):
 * - Operations on a transport that is not open fail with `TransportInternalError`.
 * - Remote failures (missing paths, existing destinations, permissions, lost connections) fail with
 *   `TransportError`, whose `errno` names the POSIX reason where there is one; bad arguments (an empty
 *   remote path to `copy`, a relative local path, a glob in a destination) fail with `ValidationError`.
 * - Every path or argument that reaches a shell is quoted with `escapeForBash`.
 * - Commands run through `bash -l -c` (or `bash -c` when `use_login_shell` is false).
 * - Local paths (of put/get) must be absolute.
 */
export interface Transport extends AsyncDisposable {
  /** The entry point name of the implementation (`core.local`, `core.ssh`). */
  readonly transportType: string;
  /** The computer's host name (`localhost` for `core.local`). */
  readonly hostname: string;
  /** True between a successful {@link Transport.open} and {@link Transport.close} (or a lost connection). */
  readonly isOpen: boolean;

  /** Connect. Fails with `InvalidOperationError` when already open. */
  open(): Promise<void>;
  /** Disconnect; waits for nothing further. Closing a closed transport does nothing. */
  close(): Promise<void>;
  /** Seconds to wait between two openings of a transport to this computer (`safe_interval`). */
  getSafeOpenInterval(): number;

  chmod(path: TransportPath, mode: number): Promise<void>;
  chown(path: TransportPath, uid: number, gid: number): Promise<void>;

  /** Copy on the remote side, choosing file or tree copy; `src` may be a glob pattern. */
  copy(src: TransportPath, dst: TransportPath, options?: CopyOptions): Promise<void>;
  copyfile(src: TransportPath, dst: TransportPath, options?: CopyFileOptions): Promise<void>;
  /** Copy a directory; into `dst/<basename>` when `dst` is an existing directory. */
  copytree(src: TransportPath, dst: TransportPath, options?: CopyFileOptions): Promise<void>;
  /** Copy from this transport's computer to another's, through a local temporary folder. */
  copyFromRemoteToRemote(
    destination: Transport,
    src: TransportPath,
    dst: TransportPath,
    options?: TransferOptions,
  ): Promise<void>;

  /** Start a command and stream its output. */
  exec(command: string, options?: ExecOptions): Promise<RunningCommand>;
  /** Run a command to completion and return its exit status and decoded output. */
  execCommandWait(command: string, options?: ExecCommandWaitTextOptions): Promise<ExecResult<string>>;
  /** Run a command to completion and return its exit status and raw output. */
  execCommandWaitBytes(command: string, options?: ExecCommandWaitOptions): Promise<ExecResult<Buffer>>;

  /** Download a file or directory (`remotepath` may be a glob pattern). */
  get(remotepath: TransportPath, localpath: string, options?: TransferOptions): Promise<void>;
  /** Download one file; the local file appears complete or not at all. */
  getfile(remotepath: TransportPath, localpath: string, options?: FileTransferOptions): Promise<void>;
  /** Download a directory; into `localpath/<basename>` when `localpath` is an existing directory. */
  gettree(remotepath: TransportPath, localpath: string, options?: TreeTransferOptions): Promise<void>;
  /** Upload a file or directory (`localpath` may be a glob pattern). */
  put(localpath: string, remotepath: TransportPath, options?: TransferOptions): Promise<void>;
  /** Upload one file; the remote file appears complete or not at all. */
  putfile(localpath: string, remotepath: TransportPath, options?: FileTransferOptions): Promise<void>;
  /** Upload a directory; into `remotepath/<basename>` when `remotepath` is an existing directory. */
  puttree(localpath: string, remotepath: TransportPath, options?: TreeTransferOptions): Promise<void>;

  /** `lstat` of a path. */
  getAttribute(path: TransportPath): Promise<FileAttribute>;
  /** Permission bits of a path (`stMode & 0o777`). */
  getMode(path: TransportPath): Promise<number>;
  /** False for `''` and for missing paths. */
  isdir(path: TransportPath): Promise<boolean>;
  /** False for `''` and for missing paths. */
  isfile(path: TransportPath): Promise<boolean>;
  /** Entry names of a directory (no `.`/`..`), optionally filtered by an fnmatch-style pattern. */
  listdir(path?: TransportPath, pattern?: string): Promise<string[]>;
  listdirWithAttributes(path?: TransportPath, pattern?: string): Promise<ListdirEntry[]>;
  /** Create a directory and its missing parents; fails when it exists unless `ignoreExisting`. */
  makedirs(path: TransportPath, options?: MakedirsOptions): Promise<void>;
  /** Create one directory; fails when it exists unless `ignoreExisting`. */
  mkdir(path: TransportPath, options?: MakedirsOptions): Promise<void>;
  /** The absolute, symlink-resolved form of a path (default: the home directory). */
  normalize(path?: TransportPath): Promise<string>;
  /** Delete a file (not a directory). */
  remove(path: TransportPath): Promise<void>;
  /** Move `oldpath` to `newpath`; fails when `newpath` exists. */
  rename(oldpath: TransportPath, newpath: TransportPath): Promise<void>;
  /** Delete an empty directory. */
  rmdir(path: TransportPath): Promise<void>;
  /** Delete a directory tree (or a file); a missing path is not an error. */
  rmtree(path: TransportPath): Promise<void>;
  /** Create symlink `dst` pointing at `src`; with a glob `src`, one link per match inside directory `dst`. */
  symlink(src: TransportPath, dst: TransportPath): Promise<void>;
  /** The remote user name. */
  whoami(): Promise<string>;
  pathExists(path: TransportPath): Promise<boolean>;
  /** Paths matching an fnmatch-style pattern, per path component (`*` never crosses `/`). */
  glob(pattern: TransportPath): Promise<string[]>;
  /** Create an archive on the remote side with the remote `tar`. */
  compress(options: CompressOptions): Promise<void>;
  /** Unpack an archive on the remote side with the remote `tar`. */
  extract(options: ExtractOptions): Promise<void>;

  /** A shell command line that opens an interactive shell on the computer in `remotedir`. */
  gotocomputerCommand(remotedir?: TransportPath): string;
}
