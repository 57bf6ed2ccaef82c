import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PersistenceError } from './errors.js';
import type { Pid } from './messages.js';
import {
  parseCheckpointText,
  type Checkpoint,
  type CheckpointSource,
  type PersistedCheckpoint,
  type Persister,
} from './persistence.js';

/** Options of {@link FilePersister}. */
export interface FilePersisterOptions {
  /** The directory of the checkpoint files (made if missing). */
  readonly directory: string;
  /** Flush each file to disk before it replaces the previous one (default true: survives a power cut). */
  readonly fsync?: boolean;
}

const SUFFIX = '.json';

// File names must round-trip pid (with its type) and tag, and never reach outside the directory.
function encodePart(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}

function fileName(pid: Pid, tag: string | null): string {
  const pidPart = `${typeof pid === 'number' ? 'n' : 's'}${encodePart(String(pid))}`;
  return `${pidPart}${tag === null ? '' : `.${encodePart(tag)}`}${SUFFIX}`;
}

function parseFileName(name: string): PersistedCheckpoint | undefined {
  if (!name.endsWith(SUFFIX) || name.startsWith('.')) return undefined;
  const parts = name.slice(0, -SUFFIX.length).split('.');
  if (parts.length > 2) return undefined;
  const [pidPart = '', tagPart] = parts;
  const kind = pidPart[0];
  const raw = decodeURIComponent(pidPart.slice(1));
  const pid = kind === 'n' ? Number(raw) : kind === 's' ? raw : undefined;
  if (pid === undefined || (typeof pid === 'number' && !Number.isFinite(pid))) return undefined;
  return { pid, tag: tagPart === undefined ? null : decodeURIComponent(tagPart) };
}

/**
 * Keeps each checkpoint in its own JSON file in a directory. Writes are atomic: the checkpoint goes to a
 * temporary file that is then renamed over the old one, so a crash leaves the old or the new checkpoint,
 * never a torn one.
 */
export class FilePersister implements Persister {
  readonly directory: string;
  readonly #fsync: boolean;
  #made: Promise<unknown> | undefined;

  constructor(options: FilePersisterOptions) {
    this.directory = options.directory;
    this.#fsync = options.fsync ?? true;
  }

  #ensureDirectory(): Promise<unknown> {
    this.#made ??= mkdir(this.directory, { recursive: true }).catch((error: unknown) => {
      // Try again next time (the directory may become writable).
      this.#made = undefined;
      throw error;
    });
    return this.#made;
  }

  async saveCheckpoint(process: CheckpointSource, tag: string | null = null): Promise<void> {
    const pid = process.pid;
    let text: string;
    try {
      text = JSON.stringify(process.save());
    } catch (error) {
      throw new PersistenceError('the checkpoint cannot be written as JSON', pid, { cause: error });
    }
    const target = join(this.directory, fileName(pid, tag));
    const temp = join(this.directory, `.${randomUUID()}.tmp`);
    try {
      await this.#ensureDirectory();
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(text, 'utf8');
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw new PersistenceError(`cannot write the checkpoint file ${target}`, pid, { cause: error });
    }
  }

  async loadCheckpoint(pid: Pid, tag: string | null = null): Promise<Checkpoint> {
    const path = join(this.directory, fileName(pid, tag));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new PersistenceError(
        missing
          ? `no checkpoint${tag === null ? '' : ` with tag '${tag}'`} (${path})`
          : `cannot read the checkpoint file ${path}`,
        pid,
        { cause: error },
      );
    }
    return parseCheckpointText(text, pid);
  }

  async getCheckpoints(): Promise<PersistedCheckpoint[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new PersistenceError(`cannot list the checkpoint directory ${this.directory}`, undefined, {
        cause: error,
      });
    }
    return names.map(parseFileName).filter((c): c is PersistedCheckpoint => c !== undefined);
  }

  async getProcessCheckpoints(pid: Pid): Promise<PersistedCheckpoint[]> {
    return (await this.getCheckpoints()).filter((c) => c.pid === pid);
  }

  async deleteCheckpoint(pid: Pid, tag: string | null = null): Promise<void> {
    try {
      await unlink(join(this.directory, fileName(pid, tag)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new PersistenceError('cannot delete the checkpoint file', pid, { cause: error });
      }
    }
  }

  async deleteProcessCheckpoints(pid: Pid): Promise<void> {
    for (const checkpoint of await this.getProcessCheckpoints(pid))
      await this.deleteCheckpoint(pid, checkpoint.tag);
  }
}
