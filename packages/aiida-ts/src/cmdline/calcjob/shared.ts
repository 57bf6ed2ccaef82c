import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import nodePath from 'node:path';
import type { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import type { Node } from '../../orm/nodes/node.js';
import type { RemoteData } from '../../orm/nodes/data/remote.js';
import { FileType } from '../../repository/file.js';
import type { Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import { UsageError } from '../exit-codes.js';

/**
 * Loads the calculation job named by `identifier` (pk, uuid or prefix, label) for an argument called `argument`:
 * an identifier naming nothing, or a node that is no calculation job, is a usage error (exit 2) that says so.
 */
export async function loadCalcJob(cli: Cli, identifier: string, argument = 'CALCJOB'): Promise<CalcJobNode> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadNode } = await import('../../orm/loaders.js');
  const { CalcJobNode } = await import('../../orm/nodes/process/calcjob.js');
  const node = await resolveArgument(argument, () => loadNode(identifier, { storage }));
  if (!(node instanceof CalcJobNode)) {
    throw new UsageError(
      `invalid value for ${argument}: node ${String(node.pk)} is a ${node.constructor.name}, not a CalcJobNode`,
    );
  }
  return node;
}

/** Loads the node named by `identifier` and checks it is a `RemoteData` (usage error otherwise). */
export async function loadRemoteData(cli: Cli, identifier: string, argument = 'DATUM'): Promise<RemoteData> {
  const storage = await cli.storage();
  await import('../../orm.js');
  const { loadNode } = await import('../../orm/loaders.js');
  const { RemoteData } = await import('../../orm/nodes/data/remote.js');
  const node: Node = await resolveArgument(argument, () => loadNode(identifier, { storage }));
  if (!(node instanceof RemoteData)) {
    throw new UsageError(
      `invalid value for ${argument}: node ${String(node.pk)} is a ${node.constructor.name}, not a RemoteData`,
    );
  }
  return node;
}

/** The `remote_folder` output of a job, or a critical error saying the job has none (yet). */
export async function remoteFolderOf(cli: Cli, calcjob: CalcJobNode): Promise<RemoteData> {
  const { RemoteData } = await import('../../orm/nodes/data/remote.js');
  const remote = await calcjob.getRemoteFolder();
  if (remote instanceof RemoteData) return remote;
  return cli.out.critical(
    `CalcJob<${String(calcjob.pk)}> has no remote_folder output: the job was not uploaded yet (or was imported)`,
  );
}

/**
 * Runs `command` in a shell attached to verdi's terminal (aiida's `os.system` of `gotocomputer`) and gives its exit
 * code. The command line is the transport's, which quotes every path it holds. When verdi runs on other streams than
 * the process's own (embedded, or in tests), the shell reads the prompt input and writes to verdi's output streams.
 */
export function runInteractive(cli: Cli, command: string): Promise<number> {
  const own = cli.prompt.input === process.stdin && cli.out.stdout === process.stdout;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: own ? 'inherit' : 'pipe' });
    child.once('error', reject);
    if (!own) {
      cli.prompt.input.pipe(child.stdin!);
      child.stdout!.on('data', (chunk: Buffer) => cli.out.stdout.write(chunk));
      child.stderr!.on('data', (chunk: Buffer) => cli.out.stderr.write(chunk));
    }
    child.once('close', (code, signal) => {
      if (!own) cli.prompt.input.unpipe(child.stdin!);
      resolve(code ?? (signal === null ? 0 : 1));
    });
  });
}

/**
 * The names of the files and folders below `path` of a node's repository, sorted, folders in blue when `color`
 * (aiida's `list_repository_contents`). A missing path or a file is a critical error naming it.
 */
export function repositoryListing(cli: Cli, node: Node, path: string, color: boolean): string[] {
  let entries;
  try {
    entries = node.base.repository.listObjects(path === '.' ? undefined : path);
  } catch {
    return cli.out.critical(
      `the path \`${path}\` does not exist in the repository of node ${String(node.pk)}`,
    );
  }
  return entries
    .map((entry) => ({ name: entry.name, isDir: entry.fileType === FileType.DIRECTORY }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, isDir }) => (color && isDir ? cli.out.colors.blue(name) : name));
}

/**
 * Prints the content of the file `path` of a node's repository on stdout. A missing path or a folder is a critical
 * error naming the path and the node (`what` says which node, e.g. `retrieved of CalcJob<12>`).
 */
export async function catRepositoryFile(cli: Cli, node: Node, path: string, what: string): Promise<void> {
  if (!node.base.repository.hasObject(path)) cli.out.critical(`"${path}" does not exist for ${what}`);
  const object = node.base.repository.getObject(path);
  if (object.fileType === FileType.DIRECTORY) cli.out.critical(`"${path}" is a directory in ${what}`);
  const content = await node.base.repository.getObjectContent(path);
  cli.out.writeOut(content.toString('utf8'));
}

/** Copies the file `relpath` of a remote folder to a temporary file and prints it. */
export async function printRemoteFile(cli: Cli, remote: RemoteData, relpath: string): Promise<void> {
  const { isAiidaError } = await import('../../errors.js');
  const dir = await mkdtemp(nodePath.join(tmpdir(), 'aiida-ts-remotecat-'));
  try {
    const local = nodePath.join(dir, 'file');
    try {
      await remote.getfile(relpath, local);
    } catch (error) {
      if (isAiidaError(error) && error.name !== 'TransportError') cli.out.critical(error.message);
      throw error;
    }
    cli.out.writeOut(await readFile(local, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
