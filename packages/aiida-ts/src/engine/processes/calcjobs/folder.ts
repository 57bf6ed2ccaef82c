import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getConfigOption } from '../../../config/manager.js';
import { safeRelativePath } from './paths.js';

/**
 * A local folder a calculation plugin writes the input files of a job into (aiida's `Folder`). Every path is relative
 * to the folder and may not leave it: an absolute path or a `..` part is refused with a `ValidationError`.
 */
export class Folder {
  /** The absolute path of the folder on the local file system. */
  readonly abspath: string;

  constructor(abspath: string) {
    this.abspath = path.resolve(abspath);
  }

  /** The absolute local path of `relative` inside the folder (checked). */
  getAbsPath(relative: string): string {
    const safe = safeRelativePath(relative, 'a path in the folder', { allowDot: true });
    return safe === '.' ? this.abspath : path.join(this.abspath, ...safe.split('/'));
  }

  /** Writes `content` (text as UTF-8) to `relative`, creating the folders on the way. */
  async writeFile(relative: string, content: string | Uint8Array): Promise<void> {
    const target = this.getAbsPath(relative);
    // Nearly every file goes where a folder already is: the folders are made only when the write says they are not.
    try {
      await writeFile(target, content);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content);
    }
  }

  /** The content of `relative` as bytes. */
  readFileBytes(relative: string): Promise<Buffer> {
    return readFile(this.getAbsPath(relative));
  }

  /** The content of `relative` as text. */
  readFile(relative: string): Promise<string> {
    return readFile(this.getAbsPath(relative), 'utf8');
  }

  /** A sub folder (made when `create`). */
  async getSubfolder(relative: string, options: { create?: boolean } = {}): Promise<Folder> {
    const target = this.getAbsPath(relative);
    if (options.create === true) await mkdir(target, { recursive: true });
    return new Folder(target);
  }

  /** Whether `relative` exists in the folder. */
  async exists(relative: string): Promise<boolean> {
    return (await stat(this.getAbsPath(relative)).catch(() => undefined)) !== undefined;
  }

  /** The names of the entries at the top of the folder (or of `relative`), sorted. */
  async getContentList(relative = '.'): Promise<string[]> {
    return (await readdir(this.getAbsPath(relative))).sort();
  }

  /** Every file under the folder as a relative `/`-separated path, sorted. */
  async listFiles(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory()) await walk(path.join(dir, entry.name), rel);
        else out.push(rel);
      }
    };
    await walk(this.abspath, '');
    return out.sort();
  }
}

/** A temporary local folder, deleted by {@link SandboxFolder.erase} (or `await using`). */
export class SandboxFolder extends Folder implements AsyncDisposable {
  /** A new empty folder under `storage.sandbox` (the profile option) or the system's temporary folder. */
  constructor(prefix = 'aiida-ts-sandbox-') {
    const configured = getConfigOption('storage.sandbox');
    const base = typeof configured === 'string' && configured !== '' ? configured : tmpdir();
    super(mkdtempSync(path.join(base, prefix)));
  }

  /** Deletes the folder and everything in it. */
  async erase(): Promise<void> {
    await rm(this.abspath, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.erase();
  }
}
