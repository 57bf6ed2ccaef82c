import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { InvalidOperationError } from '../../errors.js';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageOption } from '../../storage/context.js';
import { collectProvenance } from './collect.js';
import { planRoCrate, type CrateFile, type RoCrateMetadata, type RoCrateOptions } from './ro-crate.js';

/** The name of the metadata file of every RO-Crate. */
export const CRATE_METADATA_FILE = 'ro-crate-metadata.json';

/** Options of {@link exportRoCrate}. */
export interface RoCrateExportOptions extends RoCrateOptions, StorageOption {
  /** Where to write: a `.zip` file, or else a folder (which must not exist, or be empty). */
  readonly output: string;
}

/** What {@link exportRoCrate} wrote. */
export interface RoCrateExportResult {
  readonly output: string;
  readonly format: 'folder' | 'zip';
  readonly metadata: RoCrateMetadata;
  /** The crate-relative paths of the files written besides the metadata, sorted. */
  readonly files: readonly string[];
}

async function assertWritable(output: string, format: 'folder' | 'zip'): Promise<void> {
  const existing = await stat(output).catch(() => undefined);
  if (existing === undefined) return;
  if (format === 'folder' && existing.isDirectory() && (await readdir(output)).length === 0) return;
  throw new InvalidOperationError(
    `${output} already exists${format === 'folder' && existing.isDirectory() ? ' and is not empty' : ''}: refusing to overwrite it`,
  );
}

async function openSource(file: CrateFile): Promise<Readable> {
  return 'content' in file.source
    ? Readable.from([file.source.content])
    : file.source.node.base.repository.open(file.source.path);
}

async function writeFolder(
  folder: string,
  metadata: RoCrateMetadata,
  files: readonly CrateFile[],
): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const file of files) {
    const target = path.join(folder, ...file.path.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await pipeline(await openSource(file), createWriteStream(target, { flags: 'wx' }));
  }
  await writeFile(path.join(folder, CRATE_METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`, {
    flag: 'wx',
  });
}

async function writeZip(file: string, metadata: RoCrateMetadata, files: readonly CrateFile[]): Promise<void> {
  const zip = new yazl.ZipFile();
  const output = createWriteStream(file, { flags: 'wx' });
  const failed = new Promise<never>((_resolve, reject) => {
    zip.on('error', reject);
    output.on('error', reject);
  });
  zip.outputStream.pipe(output);
  const mtime = new Date();
  zip.addBuffer(Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`), CRATE_METADATA_FILE, { mtime });
  for (const entry of files) {
    zip.addReadStreamLazy(entry.path, { mtime }, (callback) => {
      openSource(entry).then(
        (stream) => callback(null, stream),
        (error: unknown) => callback(error, undefined as never),
      );
    });
  }
  zip.end();
  await Promise.race([finished(output), failed]);
}

/**
 * Writes the provenance of a process as a Workflow Run RO-Crate (see {@link planRoCrate}): a folder, or a zip file
 * when `output` ends in `.zip`. The crate is written beside `output` under a temporary name and renamed into place
 * when complete, so a failed export leaves nothing behind; an existing `output` (other than an empty folder) is
 * refused.
 */
export async function exportRoCrate(
  process: ProcessNode | number,
  options: RoCrateExportOptions,
): Promise<RoCrateExportResult> {
  const output = path.resolve(options.output);
  const format = output.toLowerCase().endsWith('.zip') ? 'zip' : 'folder';
  await assertWritable(output, format);
  const graph = await collectProvenance(process, options);
  const { metadata, files } = await planRoCrate(graph, options);
  const partial = path.join(path.dirname(output), `.${path.basename(output)}.partial-${String(Date.now())}`);
  try {
    if (format === 'zip') await writeZip(partial, metadata, files);
    else await writeFolder(partial, metadata, files);
    if (format === 'folder') await rm(output, { recursive: true, force: true });
    await rename(partial, output);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
  return { output, format, metadata, files: files.map((file) => file.path).sort() };
}
