import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getConfigOption } from '../../../config/manager.js';
import { SYNC_FILE_BYTES } from '../../../utils/small-files.js';
import { safeRelativePath } from './paths.js';

/** The result of synchronous file system work as a promise: a failure rejects it, as the async form would. */
function settled<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(work()));
}

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
    // (a string of n characters is at most 3n bytes in UTF-8)
    const small = (typeof content === 'string' ? content.length * 3 : content.byteLength) <= SYNC_FILE_BYTES;
    try {
      if (small) writeFileSync(target, content);
      else await writeFile(target, content);
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
  getSubfolder(relative: string, options: { create?: boolean } = {}): Promise<Folder> {
    // a local mkdir is one system call: synchronously, without a round trip through the thread pool
    return settled(() => {
      const target = this.getAbsPath(relative);
      if (options.create === true) mkdirSync(target, { recursive: true });
      return new Folder(target);
    });
  }

  /** Whether `relative` exists in the folder. */
  exists(relative: string): Promise<boolean> {
    return settled(() => statSync(this.getAbsPath(relative), { throwIfNoEntry: false }) !== undefined);
  }

  /** The names of the entries at the top of the folder (or of `relative`), sorted. */
  getContentList(relative = '.'): Promise<string[]> {
    return settled(() => readdirSync(this.getAbsPath(relative)).sort());
  }

  /**
   * Every file under the folder as a relative `/`-separated path, sorted. (A listing is one system call per folder,
   * made synchronously: a job's folder holds a handful of files.)
   */
  listFiles(): Promise<string[]> {
    const out: string[] = [];
    const walk = (dir: string, prefix: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
        else out.push(rel);
      }
    };
    return settled(() => {
      walk(this.abspath, '');
      return out.sort();
    });
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
    // through the thread pool: deleting files a moment after writing them can wait for the file system's journal
    // (milliseconds on a busy disk), which the event loop must not
    await rm(this.abspath, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.erase();
  }
}
