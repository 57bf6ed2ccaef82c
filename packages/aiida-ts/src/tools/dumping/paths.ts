import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidOperationError } from '../../errors.js';

/** Names of the folders and files a dump writes, as aiida-core's `DumpPaths`. */
export const DumpNames = {
  GROUPS: 'groups',
  UNGROUPED: 'ungrouped',
  CALCULATIONS: 'calculations',
  WORKFLOWS: 'workflows',
  /** Marks a folder as written by a dump: only such folders are ever deleted. */
  SAFEGUARD: '.aiida_dump_safeguard',
  /** The JSON log of what was dumped where, which makes the next dump incremental. */
  TRACKING_LOG: 'aiida_dump_log.json',
  NODE_METADATA: 'aiida_node_metadata.yaml',
  README: 'README.md',
} as const;

/** What names a process in a default folder name. */
export interface ProcessNaming {
  readonly label: string;
  readonly processLabel: string | null;
  readonly processType: string | null;
  readonly pk: number | null;
}

/** `<label or process label or process type>-<pk>`: the default folder of a process dump (aiida-core's). */
export function defaultProcessDumpName(process: ProcessNaming): string {
  const parts: string[] = [];
  if (process.label !== '') parts.push(process.label);
  else if (process.processLabel !== null) parts.push(process.processLabel);
  else if (process.processType !== null) parts.push(process.processType);
  parts.push(String(process.pk));
  return parts.join('-');
}

/** Deletes `path` only if it is a folder holding the safeguard file: a dump never deletes what it did not write. */
export async function safeDeleteDirectory(path: string): Promise<void> {
  if (existsSync(join(path, DumpNames.SAFEGUARD)) && statSync(path).isDirectory())
    await rm(path, { recursive: true, force: true });
}

/**
 * Creates `path` (with parents) and its safeguard file. With `overwrite` and `leaf`, a non-empty folder there is
 * deleted first, if it has the safeguard file; one without it is refused, untouched.
 */
export async function prepareDirectory(
  path: string,
  options: { overwrite: boolean; leaf: boolean },
): Promise<void> {
  if (options.overwrite && options.leaf && existsSync(path) && readdirSync(path).length > 0) {
    if (!existsSync(join(path, DumpNames.SAFEGUARD)))
      throw new InvalidOperationError(`Path ${path} exists, is not empty, but safeguard file missing.`);
    await safeDeleteDirectory(path);
  }
  await mkdir(path, { recursive: true });
  await writeFile(join(path, DumpNames.SAFEGUARD), '', { flag: 'a' });
}

/** The latest modification time of the files under `path` and their total size (symlinks not followed). */
export function directoryStats(path: string): { mtime: Date | null; size: number | null } {
  if (!existsSync(path) || !statSync(path).isDirectory()) return { mtime: null, size: null };
  let latest = 0;
  let size = 0;
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isSymbolicLink()) latest = Math.max(latest, lstatSync(full).mtimeMs);
      else {
        const stats = statSync(full);
        size += stats.size;
        latest = Math.max(latest, stats.mtimeMs);
      }
    }
  };
  walk(path);
  return { mtime: latest > 0 ? new Date(latest) : null, size };
}
