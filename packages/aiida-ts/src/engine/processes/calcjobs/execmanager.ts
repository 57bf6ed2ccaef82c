import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConfigurationError,
  IsADirectoryError,
  NotExistentError,
  PluginInternalError,
  RemoteOperationError,
  StashingError,
} from '../../../errors.js';
import type { Computer } from '../../../orm/entities/computer.js';
import { PortableCode } from '../../../orm/nodes/data/code/portable.js';
import { FolderData } from '../../../orm/nodes/data/files.js';
import { RemoteData } from '../../../orm/nodes/data/remote.js';
import {
  RemoteStashCompressedData,
  RemoteStashCustomData,
  RemoteStashFolderData,
  type RemoteStashData,
} from '../../../orm/nodes/data/remote-stash.js';
import { loadNode } from '../../../orm/loaders.js';
import { Node } from '../../../orm/nodes/node.js';
import type { CalcJobNode } from '../../../orm/nodes/process/calcjob.js';
import type { PersistMetadata } from '../../../orm/nodes/node-repository.js';
import type { AbstractCode } from '../../../orm/nodes/data/code/abstract.js';
import { JobState } from '../../../schedulers/job-state.js';
import type { Scheduler } from '../../../schedulers/scheduler.js';
import type { SchedulerExitCode } from '../../../schedulers/exit-codes.js';
import type { CompressionFormat, Transport } from '../../../transports/transport.js';
import { hasMagic } from '../../../transports/escaping.js';
import { wrapTransportError } from '../../../transports/base-transport.js';
import { LocalTransport } from '../../../transports/local-transport.js';
import { getLogger } from '../../logging.js';
import type { CalcInfo } from './calc-info.js';
import { COMPRESS_STASH_MODES, StashMode } from './calc-info.js';
import { faultPoint } from './faults.js';
import type { Folder } from './folder.js';
import { SandboxFolder } from './folder.js';
import type { SubmitBatcher } from './submit-batcher.js';
import { joinInside } from './paths.js';

/** The folder of the computer's work directory where a stale working directory would be moved (aiida's). */
export const REMOTE_WORK_DIRECTORY_LOST_FOUND = 'lost+found';

const log = () => getLogger('aiida');
const whoamiCache = new WeakMap<Transport, Promise<string>>();

/** The remote user name, asked once per open transport. */
export function remoteUser(transport: Transport): Promise<string> {
  let user = whoamiCache.get(transport);
  if (user === undefined) {
    user = transport.whoami();
    whoamiCache.set(transport, user);
    user.catch(() => whoamiCache.delete(transport));
  }
  return user;
}

/** The computer's work directory with `{username}` filled in for the remote user. */
export async function remoteWorkBase(computer: Computer, transport: Transport): Promise<string> {
  const template = computer.getWorkdir();
  const base = template.includes('{username}')
    ? template.replaceAll('{username}', await remoteUser(transport))
    : template;
  if (base.trim() === '')
    throw new ConfigurationError(
      `no remote working directory is configured for computer '${computer.label}'`,
    );
  return base;
}

/** The sharded working directory of the job with this uuid under `base` (aiida's layout `ab/cd/ef…`). */
export function jobWorkdir(base: string, uuid: string): string {
  return path.posix.join(base, uuid.slice(0, 2), uuid.slice(2, 4), uuid.slice(4));
}

/** Every file of the local `dir` merged into `remoteDir` (folders made as needed, files replaced). */
async function putTree(
  transport: Transport,
  dir: string,
  remoteDir: string,
  signal?: AbortSignal,
): Promise<void> {
  await transport.makedirs(remoteDir, { ignoreExisting: true });
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    signal?.throwIfAborted();
    const local = path.join(dir, entry.name);
    const remote = path.posix.join(remoteDir, entry.name);
    if (entry.isDirectory()) await putTree(transport, local, remote, signal);
    else await transport.putfile(local, remote);
  }
}

/** What {@link uploadCalculation} needs besides the node. */
export interface UploadOptions {
  readonly computer: Computer;
  readonly transport: Transport;
  readonly calcInfo: CalcInfo;
  /** The folder the plugin wrote its files into. */
  readonly folder: Folder;
  /** The process inputs, to find nodes of the `local_copy_list` that are not stored (dry runs). */
  readonly inputs?: Readonly<Record<string, unknown>>;
  /** Upload into `folder` itself, with nothing submitted and no remote copies made. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  /** Records the working directory on the node before anything is copied there. */
  readonly setRemoteWorkdir?: (workdir: string) => Promise<void>;
  /**
   * Takes the write of the node's file hierarchy once the sandbox is in the object store, to run it with a later
   * write of the node; without it, the hierarchy is written at once.
   */
  readonly persistRepository?: PersistMetadata;
}

function findInputNode(inputs: unknown, uuid: string): Node | undefined {
  if (inputs instanceof Node) return inputs.uuid === uuid ? inputs : undefined;
  if (inputs === null || typeof inputs !== 'object') return undefined;
  for (const value of Object.values(inputs)) {
    const found = findInputNode(value, uuid);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Creates the working directory of a job and fills it (aiida's `upload_calculation`): the files of portable codes,
 * then the sandbox, local copies and remote copies in the plugin's order; stores the sandbox files (but those of the
 * `provenance_exclude_list`) in the node's repository meanwhile (a dry run: afterwards); a failed transfer forgets the
 * hierarchy stored meanwhile. Repeating it after an interruption is safe: the working
 * directory is the same (it is named after the node's uuid) and every file is written again. Resolves to the
 * `RemoteData` of the working directory (null for a dry run).
 */
export async function uploadCalculation(
  node: CalcJobNode,
  options: UploadOptions,
): Promise<RemoteData | null> {
  const { calcInfo, folder } = options;
  if (options.dryRun === true) {
    // the folder itself is the working directory, and the upload adds files to it that are stored too
    await fillWorkdir(node, options, folder.abspath);
    await storeSandboxInRepository(node, folder, calcInfo.provenanceExcludeList, options.persistRepository);
    return null;
  }
  // The sandbox goes into the object store beside the remote work, not after it: storing waits for the disk's syncs
  // (of each object and its folder), the remote work for the transport, and neither writes what the other reads.
  const storing = storeSandboxInRepository(
    node,
    folder,
    calcInfo.provenanceExcludeList,
    options.persistRepository,
  );
  // a failure of the store is thrown below, after the transfer: not an unhandled rejection while that still runs
  storing.catch(() => undefined);
  let workdir: string;
  try {
    workdir = await makeWorkdir(node, options);
    await fillWorkdir(node, options, workdir);
  } catch (error) {
    // A failed upload is repeated from a fresh presubmit: the hierarchy this one stored is forgotten, so that the
    // repeat stores its own (the objects stay in the store, as after any failed write: they are keyed by content).
    if (await storing.catch(() => false)) node.repository.repository.reset();
    throw error;
  }
  await storing;
  return new RemoteData({ computer: options.computer, remotePath: workdir });
}

/** Makes the working directory of the job on the computer and records it on the node; resolves to its path. */
async function makeWorkdir(node: CalcJobNode, options: UploadOptions): Promise<string> {
  const { computer, transport, signal } = options;
  const base = await remoteWorkBase(computer, transport);
  const workdir = jobWorkdir(base, node.uuid);
  // One makedirs makes the computer's work directory too when it is missing (a look first would cost a round
  // trip per job); only a failure asks which of the two could not be made.
  try {
    await transport.makedirs(workdir, { ignoreExisting: true });
  } catch (error) {
    if (await transport.pathExists(base).catch(() => false)) throw error;
    try {
      await transport.makedirs(base, { ignoreExisting: true });
    } catch (baseError) {
      throw new ConfigurationError(
        `unable to create the remote directory ${base} on computer '${computer.label}': ${(baseError as Error).message}`,
        { cause: baseError },
      );
    }
    throw error;
  }
  await options.setRemoteWorkdir?.(workdir);
  signal?.throwIfAborted();
  return workdir;
}

/** Fills the working directory: the files of portable codes, then local, remote and sandbox copies in order. */
async function fillWorkdir(node: CalcJobNode, options: UploadOptions, workdir: string): Promise<void> {
  const { computer, transport, calcInfo, folder, signal } = options;
  const dryRun = options.dryRun === true;
  const codes: AbstractCode[] = [];
  for (const info of calcInfo.codesInfo) {
    const code = findInputNode(options.inputs, info.codeUuid) ?? (await loadNode(info.codeUuid));
    codes.push(code as AbstractCode);
  }
  for (const code of codes) {
    if (code instanceof PortableCode && !dryRun) await code.uploadFiles(transport, workdir);
    else if (code instanceof PortableCode) await code.exportFiles(workdir);
  }

  for (const operation of calcInfo.fileCopyOperationOrder) {
    signal?.throwIfAborted();
    if (operation === 'local')
      await copyLocalFiles(node, transport, options.inputs, calcInfo, workdir, dryRun, signal);
    else if (operation === 'remote' && !dryRun)
      await copyRemoteFiles(computer, transport, calcInfo, workdir, signal);
    else if (operation === 'sandbox' && !dryRun) {
      const entries = (await readdir(folder.abspath, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of entries) {
        signal?.throwIfAborted();
        const local = folder.getAbsPath(entry.name);
        // The listing says what each entry is; only a symlink needs a look at what it points to.
        const isDirectory = entry.isSymbolicLink()
          ? await readdir(local).then(
              () => true,
              () => false,
            )
          : entry.isDirectory();
        if (isDirectory) await putTree(transport, local, path.posix.join(workdir, entry.name), signal);
        else await transport.putfile(local, path.posix.join(workdir, entry.name));
        faultPoint('upload:file');
      }
    }
  }

  if (dryRun) {
    if (calcInfo.remoteCopyList.length > 0) {
      const lines = calcInfo.remoteCopyList.map(
        ([, source, target]) =>
          `would have copied ${source} to ${target} in working directory on remote ${computer.label}`,
      );
      await writeFile(path.join(workdir, '_aiida_remote_copy_list.txt'), lines.join(''));
    }
    if (calcInfo.remoteSymlinkList.length > 0) {
      const lines = calcInfo.remoteSymlinkList.map(
        ([, source, target]) =>
          `would have created symlinks from ${source} to ${target} in working directory on remote ${computer.label}`,
      );
      await writeFile(path.join(workdir, '_aiida_remote_symlink_list.txt'), lines.join(''));
    }
  }
}

/**
 * Copies the sandbox into the node's repository, leaving out the `provenance_exclude_list` (and everything under an
 * excluded folder). A node whose repository already holds the files (an upload repeated after an interruption) is
 * left as it is.
 */
async function storeSandboxInRepository(
  node: CalcJobNode,
  folder: Folder,
  exclude: readonly string[],
  persist: PersistMetadata | undefined,
): Promise<boolean> {
  if (!node.repository.isEmpty()) return false;
  const options = persist === undefined ? {} : { persist };
  const files = await folder.listFiles();
  const kept = files.filter((file) => {
    const parts = file.split('/');
    return !parts.some((_, i) => exclude.includes(parts.slice(0, i + 1).join('/')));
  });
  if (kept.length === 0) return false;
  if (kept.length === files.length) {
    await node.repository.putObjectFromTree(folder.abspath, undefined, options);
    return true;
  }
  const staging = await mkdtemp(path.join(tmpdir(), 'aiida-ts-repo-'));
  try {
    for (const file of kept) {
      const target = path.join(staging, ...file.split('/'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, await folder.readFileBytes(file));
    }
    await node.repository.putObjectFromTree(staging, undefined, options);
    return true;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function copyLocalFiles(
  node: CalcJobNode,
  transport: Transport,
  inputs: Readonly<Record<string, unknown>> | undefined,
  calcInfo: CalcInfo,
  workdir: string,
  dryRun: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const [uuid, filename, target] of calcInfo.localCopyList) {
    signal?.throwIfAborted();
    let source: Node | undefined = findInputNode(inputs, uuid);
    if (source === undefined) {
      try {
        source = await loadNode(uuid);
      } catch (error) {
        if (!(error instanceof NotExistentError)) throw error;
        log().warn(
          { pk: node.pk, uuid },
          `failed to load Node<${uuid}> specified in the \`local_copy_list\``,
        );
        continue;
      }
    }
    const sourcePath = filename === undefined || filename === null || filename === '' ? '.' : filename;
    const object = source.repository.getObject(sourcePath === '.' ? undefined : sourcePath);
    const targetPath = joinInside(workdir, target, 'the destination of a local_copy_list entry');
    const write = async (scratch: string): Promise<void> => {
      if (object.isFile()) {
        // A file copied onto an existing folder is an error (aiida keeps its v2.5 behaviour).
        if (target !== '.' && (await isDir(transport, targetPath, dryRun)))
          throw new IsADirectoryError(
            `cannot copy the file ${sourcePath} of node ${uuid} onto the folder ${target}`,
          );
        const destination =
          target === '.' ? path.posix.join(workdir, path.posix.basename(sourcePath)) : targetPath;
        const local = path.join(scratch, 'file');
        await writeFile(local, await source.repository.getObjectContent(sourcePath));
        if (dryRun) {
          await mkdir(path.dirname(destination), { recursive: true });
          await writeFile(destination, await source.repository.getObjectContent(sourcePath));
        } else {
          await transport.makedirs(path.posix.dirname(destination), { ignoreExisting: true });
          await transport.putfile(local, destination);
        }
      } else {
        const local = path.join(scratch, 'tree');
        await source.repository.copyTree(local, sourcePath === '.' ? undefined : sourcePath);
        if (dryRun) await copyLocalTree(local, targetPath);
        else await putTree(transport, local, targetPath, signal);
      }
    };
    const scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-copy-'));
    try {
      await write(scratch);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

async function isDir(transport: Transport, remote: string, dryRun: boolean): Promise<boolean> {
  if (!dryRun) return transport.isdir(remote);
  const { stat } = await import('node:fs/promises');
  return (await stat(remote).catch(() => undefined))?.isDirectory() === true;
}

async function copyLocalTree(source: string, target: string): Promise<void> {
  const { cp } = await import('node:fs/promises');
  await mkdir(target, { recursive: true });
  await cp(source, target, { recursive: true, force: true });
}

async function copyRemoteFiles(
  computer: Computer,
  transport: Transport,
  calcInfo: CalcInfo,
  workdir: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const [computerUuid, source, target] of calcInfo.remoteCopyList) {
    signal?.throwIfAborted();
    if (computerUuid !== computer.uuid) {
      throw new PluginInternalError('remote copy between two different machines is not implemented yet');
    }
    const destination = joinInside(workdir, target, 'the destination of a remote_copy_list entry');
    if (!(await transport.pathExists(source)) && !hasMagic(source)) {
      log().warn(
        { source, target },
        `unable to copy remote resource from ${source} to ${target}: it does not exist`,
      );
      continue;
    }
    await transport.copy(source, destination);
  }
  for (const [computerUuid, source, target] of calcInfo.remoteSymlinkList) {
    signal?.throwIfAborted();
    if (computerUuid !== computer.uuid) {
      throw new PluginInternalError('it is not possible to create a symlink between two different machines');
    }
    const link = joinInside(workdir, target, 'the destination of a remote_symlink_list entry');
    await transport.makedirs(path.posix.dirname(link), { ignoreExisting: true });
    // Uploading again after an interruption finds the link already there.
    if (await transport.pathExists(link)) await transport.remove(link).catch(() => undefined);
    await transport.symlink(source, link);
  }
}

/**
 * Submits the job script of an uploaded job to the scheduler (aiida's `submit_calculation`): resolves to the job id,
 * or to the exit code of a submission the scheduler refused for good.
 */
export async function submitCalculation(
  node: CalcJobNode,
  scheduler: Scheduler,
  workdir: string,
  submissions?: SubmitBatcher,
): Promise<string | SchedulerExitCode> {
  const existing = node.getJobId();
  if (existing !== null) return existing;
  const option = node.getOption('submit_script_filename');
  const filename = typeof option === 'string' ? option : '_aiidasubmit.sh';
  if (submissions !== undefined) return submissions.submit(scheduler, workdir, filename);
  return scheduler.submitJob(workdir, filename);
}

/**
 * Kills the job with the scheduler (aiida's `kill_calculation`). A kill the scheduler refuses is an error only when
 * the job is still listed and not done.
 */
export async function killCalculation(node: CalcJobNode, scheduler: Scheduler): Promise<void> {
  const jobId = node.getJobId();
  if (jobId === null) return;
  if (await scheduler.killJob(jobId)) return;
  const jobs = await scheduler.getJobs({ jobs: [jobId], asDict: true });
  const job = jobs[jobId];
  if (job !== undefined && job.jobState !== JobState.DONE)
    throw new RemoteOperationError(`scheduler.killJob(${jobId}) was unsuccessful`);
  log().warn({ jobId }, `the scheduler refused to kill job ${jobId}, but it is not running any more`);
}

/**
 * Copies the files named by a retrieve list from the working directory into the local `folder` (aiida's
 * `retrieve_files_from_list`): a plain path keeps its base name; a `[remote, local, depth]` entry puts the matches
 * of `remote` under `local`, keeping their last `depth` path components (all of them when null). Missing files are
 * skipped.
 */
export async function retrieveFilesFromList(
  transport: Transport,
  workdir: string,
  folder: string,
  retrieveList: RetrieveList,
  signal?: AbortSignal,
): Promise<void> {
  for (const [remote, local] of await retrievePairs(transport, workdir, retrieveList, signal)) {
    const target = path.join(folder, ...local.split('/').filter((p) => p !== ''));
    if (!target.startsWith(folder)) continue;
    // the folder itself exists: only files retrieved into sub folders need theirs made
    if (path.dirname(target) !== folder) await mkdir(path.dirname(target), { recursive: true });
    await transport.get(remote, target, { ignoreNonexisting: true });
  }
}

type RetrieveList = readonly (string | readonly [string, string, number | null])[];

/**
 * What a retrieve list names, in its order: each remote path (patterns expanded) with the path, relative to the local
 * folder, it is copied to (see {@link retrieveFilesFromList}).
 */
async function retrievePairs(
  transport: Transport,
  workdir: string,
  retrieveList: RetrieveList,
  signal?: AbortSignal,
): Promise<[remote: string, local: string][]> {
  const pairs: [string, string][] = [];
  for (const item of retrieveList) {
    signal?.throwIfAborted();
    let remoteNames: string[];
    let localNames: string[];
    if (typeof item === 'string') {
      const absolute = path.posix.join(workdir, item);
      remoteNames = hasMagic(absolute) ? await transport.glob(absolute) : [absolute];
      localNames = remoteNames.map((name) => path.posix.basename(name));
    } else {
      const [remote, local, depth] = item;
      const keep = (relative: string): string[] => {
        const parts = relative.split('/');
        if (depth === null) return parts;
        return depth > 0 ? parts.slice(-depth) : [];
      };
      if (hasMagic(remote)) {
        remoteNames = await transport.glob(path.posix.join(workdir, remote));
        localNames = remoteNames.map((name) =>
          [local, ...keep(path.posix.relative(workdir, name))].filter((p) => p !== '.').join('/'),
        );
      } else {
        remoteNames = [path.posix.join(workdir, remote)];
        const parts = depth === null ? remote.split('/') : keep(remote);
        localNames = [[local, ...parts].filter((p) => p !== '.').join('/')];
      }
    }
    for (const [index, remote] of remoteNames.entries())
      pairs.push([remote, localNames[index] ?? path.posix.basename(remote)]);
  }
  return pairs;
}

/**
 * core.local: the files of the retrieve list go from the working directory straight into the repository of
 * `retrieved`, without a copy into a local folder first (a folder made, each file copied and renamed into it, read
 * back, removed). Only for a list of plain files, each to its own name at the top (the usual list: outputs and the
 * scheduler's files); anything else — a folder, a sub folder, a name given twice — resolves false before anything is
 * read, and takes the general way. What `retrieved` holds is the same either way: the files by name, a missing one
 * left out.
 */
async function retrieveStraight(
  transport: Transport,
  workdir: string,
  retrieveList: RetrieveList,
  retrieved: FolderData,
  signal?: AbortSignal,
): Promise<boolean> {
  if (!(transport instanceof LocalTransport) || !path.isAbsolute(workdir)) return false;
  const files: [remote: string, name: string][] = [];
  const names = new Set<string>();
  for (const [remote, name] of await retrievePairs(transport, workdir, retrieveList, signal)) {
    if (name === '' || name === '.' || name === '..' || name.includes('/') || names.has(name)) return false;
    if (!path.isAbsolute(remote)) return false;
    names.add(name);
    // a local look-up, synchronously (one system call instead of a thread-pool round trip per file)
    let attributes;
    try {
      attributes = statSync(remote);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw wrapTransportError(`stat ${remote}`, error);
    }
    if (attributes === undefined) continue;
    if (!attributes.isFile()) return false;
    files.push([remote, name]);
  }
  // In name order, as a folder is read into the repository.
  files.sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [remote, name] of files) {
    signal?.throwIfAborted();
    await retrieved.repository.putObjectFromFile(name, remote);
  }
  return true;
}

/**
 * Retrieves the files of a finished job (aiida's `retrieve_calculation`): those of the retrieve list into a new
 * `FolderData` (returned unstored, null when the node already has its `retrieved` output), those of the temporary
 * retrieve list into `temporaryFolder`.
 */
export async function retrieveCalculation(
  node: CalcJobNode,
  transport: Transport,
  workdir: string,
  temporaryFolder: string,
  signal?: AbortSignal,
  options: { readonly mayBeRetrieved?: boolean } = {},
): Promise<FolderData | null> {
  // `mayBeRetrieved: false`: the caller knows no earlier run linked a `retrieved` output (a process that was never
  // interrupted), and the query is saved.
  if ((options.mayBeRetrieved ?? true) && (await node.getRetrievedNode()) !== null) return null;
  const retrieveList = node.getRetrieveList() ?? [];
  const retrieved = new FolderData();
  // Every check of the straight way is made before it reads anything: when it does not apply, `retrieved` is empty.
  if (await retrieveStraight(transport, workdir, retrieveList, retrieved, signal)) {
    faultPoint('retrieve:files');
  } else {
    await using sandbox = new SandboxFolder('aiida-ts-retrieve-');
    await retrieveFilesFromList(transport, workdir, sandbox.abspath, retrieveList, signal);
    faultPoint('retrieve:files');
    await retrieved.repository.putObjectFromTree(sandbox.abspath);
  }
  const temporary = node.getRetrieveTemporaryList() ?? [];
  if (temporary.length > 0)
    await retrieveFilesFromList(transport, workdir, temporaryFolder, temporary, signal);
  return retrieved;
}

/** What {@link stashCalculation} needs. */
export interface StashOptions {
  readonly computer: Computer;
  readonly transport: Transport;
  /** The folder the files are stashed from. */
  readonly sourceBasepath: string;
  /** The uuid naming the stash (the job's, or the stashed node's for `core.stash`). */
  readonly uuid: string;
  /** The `stash` option of the job. */
  readonly stash: {
    readonly target_base: string;
    readonly source_list: readonly string[];
    readonly stash_mode: string;
    readonly dereference?: boolean;
    readonly fail_on_missing?: boolean;
  };
  /** Whether the job is a `core.stash` job (the only one that may stash with a custom code). */
  readonly isStashCalculation: boolean;
  /**
   * The folder archive paths are relative to (compress modes): the computer's work directory, so that an archive holds
   * `ab/cd/ef…/file` as aiida's do.
   */
  readonly archiveRoot: string;
}

/**
 * Stashes files of the working directory of a finished job (aiida's `stash_calculation`): copies them into
 * `<target_base>/ab/cd/ef…` (mode `copy`) or into the archive `<target_base>/<uuid>.<format>` (compress modes).
 * Resolves to the unstored stash node, or null when nothing was stashed. A copy that fails is a `StashingError`.
 */
export async function stashCalculation(options: StashOptions): Promise<RemoteStashData | null> {
  const { transport, computer, sourceBasepath, uuid, stash } = options;
  const mode = stash.stash_mode;
  const sourceList = [...stash.source_list];
  const failOnMissing = stash.fail_on_missing ?? false;
  if (sourceList.length === 0) {
    log().warn({ uuid }, 'the stash source_list is empty: nothing stashed');
    return null;
  }
  if (mode === StashMode.SUBMIT_CUSTOM_CODE) {
    if (!options.isStashCalculation) {
      log().warn({ uuid }, `stashing as ${mode} is only possible through a core.stash job: nothing stashed`);
      return null;
    }
    return new RemoteStashCustomData({
      computer,
      stashMode: mode,
      targetBasepath: stash.target_base,
      sourceList,
    });
  }
  if (mode === StashMode.COPY) {
    const target = jobWorkdir(stash.target_base, uuid);
    const instructions: [string, string][] = [];
    for (const source of sourceList) {
      const absolute = joinInside(sourceBasepath, source, 'a stash source_list entry');
      if (hasMagic(source)) {
        for (const match of await transport.glob(absolute))
          instructions.push([match, path.posix.join(target, path.posix.relative(sourceBasepath, match))]);
      } else instructions.push([absolute, path.posix.join(target, source)]);
    }
    try {
      for (const [from, to] of instructions) {
        await transport.makedirs(path.posix.dirname(to), { ignoreExisting: true });
        if (!(await transport.pathExists(from))) {
          if (!failOnMissing) {
            log().warn({ from }, `file not found ${from}: skipped, because fail_on_missing is false`);
            continue;
          }
          throw new StashingError(`File ${from} does not exist. Stashing failed.`);
        }
        try {
          await transport.copy(from, to);
        } catch (error) {
          throw new StashingError(`Failed to copy ${from} to ${to}: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
    } catch (error) {
      await transport.rmtree(path.posix.join(stash.target_base, uuid.slice(0, 2))).catch(() => undefined);
      throw error;
    }
    return new RemoteStashFolderData({
      computer,
      stashMode: mode,
      targetBasepath: target,
      sourceList,
      failOnMissing,
    });
  }
  if ((COMPRESS_STASH_MODES as readonly string[]).includes(mode)) {
    const destination = `${path.posix.join(stash.target_base, uuid)}.${mode}`;
    const sources = sourceList.map((source) =>
      joinInside(sourceBasepath, source, 'a stash source_list entry'),
    );
    if (failOnMissing) {
      for (const source of sources) {
        if (hasMagic(source))
          throw new StashingError(
            'Stashing with glob patterns is not supported when fail_on_missing is True. Stashing failed.',
          );
        if (!(await transport.pathExists(source)))
          throw new StashingError(
            `File ${source} does not exist and fail_on_missing is True. Stashing failed.`,
          );
      }
    }
    try {
      await transport.compress({
        format: mode as CompressionFormat,
        sources,
        destination,
        rootDir: options.archiveRoot,
        overwrite: true,
        dereference: stash.dereference ?? false,
      });
    } catch (error) {
      // aiida only logs a failed compression (its issue #6789); the job goes on without a stash.
      log().warn({ err: error, destination }, `failed to stash ${sourceList.join(', ')} to ${destination}`);
      return null;
    }
    return new RemoteStashCompressedData({
      computer,
      stashMode: mode,
      targetBasepath: destination,
      sourceList,
      dereference: stash.dereference ?? false,
      failOnMissing,
    });
  }
  log().warn({ mode }, `the stash mode ${mode} is not supported: nothing stashed`);
  return null;
}

/** What {@link unstashCalculation} needs. */
export interface UnstashOptions {
  readonly transport: Transport;
  readonly source: RemoteStashData;
  /** The folder the files go to. */
  readonly targetBasepath: string;
  readonly sourceList: readonly string[];
}

/**
 * Puts stashed files back (aiida's `unstash_calculation`): copies them (mode `copy`) or extracts the archive
 * (compress modes) into `targetBasepath`. Failures are logged, as aiida does.
 */
export async function unstashCalculation(options: UnstashOptions): Promise<void> {
  const { transport, source, targetBasepath } = options;
  const mode = source.stashMode;
  if (mode === StashMode.SUBMIT_CUSTOM_CODE) return;
  const sourceBase = source.targetBasepath;
  if (mode === StashMode.COPY) {
    for (const entry of options.sourceList) {
      const absolute = joinInside(sourceBase, entry, 'an unstash source_list entry');
      const pairs: [string, string][] = hasMagic(entry)
        ? (await transport.glob(absolute)).map((match) => [
            match,
            path.posix.join(targetBasepath, path.posix.relative(sourceBase, match)),
          ])
        : [[absolute, path.posix.join(targetBasepath, entry)]];
      for (const [from, to] of pairs) {
        await transport.makedirs(path.posix.dirname(to), { ignoreExisting: true });
        try {
          await transport.copy(from, to);
        } catch (error) {
          log().error({ err: error }, `failed to unstash ${from} to ${to}`);
        }
      }
    }
    return;
  }
  if ([...options.sourceList].sort().join('\0') !== source.sourceList.sort().join('\0')) {
    log().error({}, `when the stash mode is ${mode}, the source_list has to be exactly the stashed one`);
    return;
  }
  try {
    // The archive holds `ab/cd/ef…/<file>` (aiida's layout): the three folders of the shard are dropped.
    await transport.extract({
      source: sourceBase,
      destination: targetBasepath,
      overwrite: true,
      stripComponents: 3,
    });
  } catch (error) {
    log().error({ err: error }, `failed to unstash ${sourceBase} to ${targetBasepath}`);
  }
}
