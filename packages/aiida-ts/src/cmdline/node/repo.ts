import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { isAiidaError } from '../../errors.js';
import type { Node } from '../../orm/nodes/node.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { loadNodeArgument } from './load-node.js';

/** Repository errors that mean "no such file or folder here" rather than a broken storage. */
const PATH_ERRORS = new Set([
  'FileNotFoundError',
  'IsADirectoryError',
  'NotADirectoryError',
  'RepositoryPathError',
]);

function isPathError(error: unknown): error is Error {
  return isAiidaError(error) && PATH_ERRORS.has(error.name);
}

/** `verdi node repo cat NODE [RELATIVE_PATH]`: the bytes of one file, unchanged (binary files too). */
async function repoCat(cli: Cli, identifier: string, relativePath: string | undefined): Promise<void> {
  const node = await loadNodeArgument(cli, identifier);
  let path = relativePath;
  if (path === undefined || path === '') {
    const { SinglefileData } = await import('../../orm/nodes/data/files.js');
    // Only a SinglefileData knows which file is meant without a path, as in aiida-core.
    if (!(node instanceof SinglefileData)) throw new UsageError("Missing argument 'RELATIVE_PATH'.");
    path = node.filename;
  }
  let content: Buffer;
  try {
    content = await node.base.repository.getObjectContent(path);
  } catch (error) {
    if (isPathError(error))
      return cli.out.critical(`failed to get the content of file \`${path}\`: ${error.message}`);
    throw error;
  }
  // Raw bytes on purpose: `verdi node repo cat N f > copy` must reproduce the file exactly.
  await new Promise<void>((resolve, reject) =>
    cli.out.stdout.write(content, (error) => {
      // A reader that stopped early (`| head`) is fine, as in aiida-core.
      if (error && (error as NodeJS.ErrnoException).code !== 'EPIPE') reject(error);
      else resolve();
    }),
  );
}

/** `verdi node repo ls NODE [RELATIVE_PATH] [-c]`: the entries of a folder, folders bold (and blue with -c). */
async function repoLs(
  cli: Cli,
  identifier: string,
  relativePath: string | undefined,
  color: boolean,
): Promise<void> {
  const node = await loadNodeArgument(cli, identifier);
  let entries;
  try {
    entries = node.base.repository.listObjects(relativePath);
  } catch (error) {
    if (isPathError(error))
      return cli.out.critical(`the path \`${relativePath ?? ''}\` does not exist for the given node`);
    throw error;
  }
  const { colors } = cli.out;
  for (const entry of entries) {
    if (!entry.isDir()) cli.out.echo(entry.name);
    else cli.out.echo(colors.bold(color ? colors.blue(entry.name) : entry.name));
  }
}

/** Writes the repository folder `key` of `node` into `target`, which exists and is empty. */
async function copyFolder(node: Node, key: string, target: string): Promise<void> {
  const repository = node.base.repository;
  for (const entry of repository.listObjects(key === '' ? undefined : key)) {
    const entryKey = key === '' ? entry.name : `${key}/${entry.name}`;
    const destination = join(target, entry.name);
    if (entry.isDir()) {
      await mkdir(destination);
      await copyFolder(node, entryKey, destination);
    } else {
      // `wx`: never overwrite, the folder was created empty by this command.
      await writeFile(destination, await repository.getObjectContent(entryKey), { flag: 'wx' });
    }
  }
}

/** `verdi node repo dump NODE OUTPUT_DIRECTORY`: the repository copied into a new folder. */
async function repoDump(cli: Cli, identifier: string, outputDirectory: string): Promise<void> {
  const node = await loadNodeArgument(cli, identifier);
  try {
    await mkdir(outputDirectory, { recursive: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      return cli.out.critical(`Invalid value for "OUTPUT_DIRECTORY": Path "${outputDirectory}" exists.`);
    if (code !== 'ENOENT') throw error;
    // aiida-core creates missing parents too.
    await mkdir(outputDirectory, { recursive: true });
  }
  await copyFolder(node, '', outputDirectory);
}

/** `verdi node repo cat|ls|dump`: the files of a node's repository. */
export function nodeRepoCommand(cli: Cli): Command {
  const repo = new Command('repo').description('Inspect the content of a node repository folder.');
  repo
    .command('cat')
    .description(
      'Output the content of a file in the node repository folder. For SinglefileData nodes, RELATIVE_PATH may ' +
        'be left out: it is the file of the node.',
    )
    .argument('<node>', 'Pk, uuid (or prefix) or label of the node.')
    .argument('[relative_path]', 'Path of the file in the repository of the node.')
    .action((identifier: string, relativePath: string | undefined) => repoCat(cli, identifier, relativePath));
  repo
    .command('ls')
    .description('List files in the node repository folder.')
    .argument('<node>', 'Pk, uuid (or prefix) or label of the node.')
    .argument('[relative_path]', 'A folder in the repository of the node (default: its top).')
    .option('-c, --color', 'Use different color for folders and files.')
    .action((identifier: string, relativePath: string | undefined, opts: { color?: boolean }) =>
      repoLs(cli, identifier, relativePath, opts.color === true),
    );
  repo
    .command('dump')
    .description(
      'Copy the repository files of a node to an output directory. The output directory must not exist.',
    )
    .argument('<node>', 'Pk, uuid (or prefix) or label of the node.')
    .argument('<output_directory>', 'The folder to create and fill.')
    .action((identifier: string, outputDirectory: string) => repoDump(cli, identifier, outputDirectory));
  return repo;
}
