import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  FileNotFoundError,
  IsADirectoryError,
  ModificationNotAllowedError,
  NotADirectoryError,
  RepositoryError,
  RepositoryPathError,
} from '../errors.js';
import { File, FileType, RepositoryMetadataSchema, mutableObjects, validateSerialized } from './file.js';
import type { RepositoryMetadata, SerializedFile } from './file.js';
import { makeHash } from './make-hash.js';
import { asyncIterableOf } from './object-key.js';
import type { Hashable } from './make-hash.js';
import type { RepositoryBackend } from './repository-backend.js';
import { childPath, joinRepositoryPath, splitRepositoryPath } from './repository-path.js';
import { SandboxRepositoryBackend } from './sandbox-backend.js';
import { SYNC_FILE_BYTES, isSmallRegularFile } from '../utils/small-files.js';

/** Options of the {@link Repository} constructor. */
export interface RepositoryOptions {
  /** Where file content goes; a fresh in-memory {@link SandboxRepositoryBackend} by default. */
  readonly backend?: RepositoryBackend;
  /** Start read-only (a stored node's repository). */
  readonly frozen?: boolean;
}

/** Options of {@link Repository.deleteObject}. */
export interface DeleteObjectOptions {
  /** Also delete the content from the backend (by default only the entry goes: other nodes may share it). */
  readonly hardDelete?: boolean;
}

/** One step of {@link Repository.walk}, like a tuple of Python's `os.walk`. */
export interface WalkEntry {
  /** Path of the directory relative to the repository root (`.` for the root). */
  readonly path: string;
  readonly dirnames: readonly string[];
  readonly filenames: readonly string[];
}

/**
 * Stores the local file `source` (a regular file of `size` bytes, when known) in `backend`; resolves to its key. A small
 * one (see SYNC_FILE_BYTES) is read whole, synchronously, and stored from the buffer, instead of through a read stream
 * (open, stat, reads, close through the thread pool, with the stream's machinery); the backend can then also skip
 * content it already holds without writing it.
 */
function putLocalFile(backend: RepositoryBackend, source: string, size?: number): Promise<string> {
  let content: Buffer | undefined;
  try {
    if (size === undefined ? isSmallRegularFile(source) : size <= SYNC_FILE_BYTES)
      content = readFileSync(source);
  } catch {
    // the stream reports what is wrong with the file, as it always did
  }
  return content === undefined
    ? backend.putObjectFromStream(createReadStream(source))
    : backend.putObjectFromBuffer(content);
}

/** Byte sources {@link Repository.putObjectFromStream} accepts. */
export type ByteStream = Readable | AsyncIterable<Uint8Array>;

/** An entry of a tree being copied in: a directory (no name) or a file whose object is being written. */
interface TreeEntry {
  readonly parts: readonly string[];
  readonly name?: string;
  readonly key: Promise<string> | undefined;
}

/** Objects of one tree written at once: enough to share the syncs, few enough to hold few open files. */
const TREE_WRITES_IN_FLIGHT = 16;

/**
 * Runs the writes of a tree at most {@link TREE_WRITES_IN_FLIGHT} at a time. A write's failure is read later (by
 * `#insertEntries`): it is marked handled now, so it is never reported as lost.
 */
function treeWriter(): (write: () => Promise<string>) => Promise<string> {
  // a plain counter and queue: most trees are a file or two (a process function's source), for which p-limit's
  // bookkeeping per write costs more than the write of an object the store already has
  let running = 0;
  const waiting: (() => void)[] = [];
  const run = async (write: () => Promise<string>): Promise<string> => {
    running += 1;
    try {
      return await write();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
  return (write) => {
    const key =
      running < TREE_WRITES_IN_FLIGHT
        ? run(write)
        : new Promise<string>((resolve, reject) => waiting.push(() => run(write).then(resolve, reject)));
    key.catch(() => undefined);
    return key;
  };
}

/** Hashes of small file hierarchies met lately (every node of a process function has the same source file). */
const smallTreeHashes = new Map<string, string>();
const SMALL_TREE_FILES = 8;

/** `makeHash(objects)`, remembered for hierarchies of a few files (by their paths and keys, which fix the hash). */
function memoisedHash(objects: Record<string, Hashable>): string {
  if (Object.keys(objects).length > SMALL_TREE_FILES + 1) return makeHash(objects);
  const id = JSON.stringify(objects);
  let hash = smallTreeHashes.get(id);
  if (hash === undefined) {
    hash = makeHash(objects);
    if (smallTreeHashes.size >= 256) smallTreeHashes.clear();
    smallTreeHashes.set(id, hash);
  }
  return hash;
}

/**
 * A node's virtual folder, as aiida-core's `aiida.repository.Repository`: a hierarchy of named files and
 * directories whose content lives, content-addressed, in a {@link RepositoryBackend}, and which serialises to
 * aiida's `repository_metadata` JSON. Deleting an entry is soft by default, because with deduplication other
 * nodes may reference the same content. Once frozen (a stored node), every change throws
 * `ModificationNotAllowedError`.
 */
export class Repository {
  readonly #backend: RepositoryBackend;
  #root: File = new File();
  #frozen: boolean;

  constructor(options: RepositoryOptions = {}) {
    this.#backend = options.backend ?? new SandboxRepositoryBackend();
    this.#frozen = options.frozen ?? false;
  }

  /**
   * A repository whose hierarchy is read from `repository_metadata` (validated: bad metadata throws a
   * `RepositoryError` naming the offending path).
   */
  static fromSerialized(
    backend: RepositoryBackend,
    serialized: unknown,
    options: { readonly frozen?: boolean } = {},
  ): Repository {
    const metadata = validateSerialized(RepositoryMetadataSchema, serialized ?? {});
    const repository = new Repository({ backend, frozen: options.frozen ?? false });
    repository.#root = File.fromSerialized(metadata);
    return repository;
  }

  /**
   * Flattens metadata into `{path: key}` for files and `{'dir/': null}` for every directory (aiida's `flatten`).
   */
  static flatten(
    serialized: RepositoryMetadata | null | undefined,
    delimiter = '/',
  ): Record<string, string | null> {
    const items: Record<string, string | null> = {};
    if (serialized === null || serialized === undefined) return items;
    const stack: [string, SerializedFile][] = [['', serialized]];
    while (stack.length > 0) {
      const [path, entry] = stack.pop() as [string, SerializedFile];
      for (const [name, child] of Object.entries(entry.o ?? {})) {
        const sub = path === '' ? name : `${path}${delimiter}${name}`;
        if (child.k !== undefined) {
          items[sub] = child.k;
        } else {
          items[`${sub}${delimiter}`] = null;
          stack.push([sub, child]);
        }
      }
    }
    return items;
  }

  get backend(): RepositoryBackend {
    return this.#backend;
  }

  /** The backend's uuid (null for the sandbox backend). */
  get uuid(): string | null {
    return this.#backend.uuid;
  }

  isInitialised(): Promise<boolean> {
    return this.#backend.isInitialised();
  }

  initialise(): Promise<void> {
    return this.#backend.initialise();
  }

  toString(): string {
    return `Repository<${this.#backend.uuid ?? 'no uuid'}>`;
  }

  // --- immutability ----------------------------------------------------------------------------------------------

  /** Whether the repository is read-only. */
  get isFrozen(): boolean {
    return this.#frozen;
  }

  /** Makes the repository read-only for good (what storing a node does). */
  freeze(): void {
    this.#frozen = true;
  }

  #assertMutable(action: string): void {
    if (this.#frozen) {
      throw new ModificationNotAllowedError(
        `cannot ${action}: the repository is frozen (the node is stored)`,
      );
    }
  }

  // --- the hierarchy ----------------------------------------------------------------------------------------------

  /** The hierarchy in aiida's `repository_metadata` format (a fresh object). */
  serialize(): RepositoryMetadata {
    return this.#root.serialize();
  }

  /** Forgets the whole hierarchy (the backend content stays). */
  reset(): void {
    this.#assertMutable('reset the repository');
    this.#root = new File();
  }

  isEmpty(): boolean {
    return this.#root.objects.size === 0;
  }

  /** Keys of every file, in walk order (a key appears once per file that uses it). */
  getFileKeys(): string[] {
    const keys: string[] = [];
    const visit = (directory: File): void => {
      for (const child of directory.objects.values()) {
        if (child.isFile()) keys.push(child.key as string);
        else visit(child);
      }
    };
    visit(this.#root);
    return keys;
  }

  /** The entry at `path` (the root for no path); `FileNotFoundError` if there is none. */
  getObject(path?: string): File {
    const parts = splitRepositoryPath(path);
    let current = this.#root;
    for (const part of parts) {
      const next = current.isDir() ? current.objects.get(part) : undefined;
      if (next === undefined)
        throw new FileNotFoundError(`object with path \`${joinRepositoryPath(parts)}\` does not exist.`);
      current = next;
    }
    return current;
  }

  /** The directory at `path`; `NotADirectoryError` if it is a file. */
  getDirectory(path?: string): File {
    const entry = this.getObject(path);
    if (!entry.isDir())
      throw new NotADirectoryError(`object with path \`${path ?? '.'}\` is not a directory.`);
    return entry;
  }

  /** The file at `path`; `IsADirectoryError` if it is a directory. */
  getFile(path: string): File {
    if (path === undefined || path === null)
      throw new RepositoryPathError('path cannot be undefined for getFile');
    const entry = this.getObject(path);
    if (!entry.isFile()) throw new IsADirectoryError(`object with path \`${path}\` is not a file.`);
    return entry;
  }

  hasObject(path: string): boolean {
    try {
      this.getObject(path);
      return true;
    } catch (error) {
      if (error instanceof FileNotFoundError) return false;
      throw error;
    }
  }

  /** Entries of the directory at `path`, sorted by name. */
  listObjects(path?: string): File[] {
    return [...this.getDirectory(path).objects.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }

  /** Names in the directory at `path`, sorted. */
  listObjectNames(path?: string): string[] {
    return this.listObjects(path).map((entry) => entry.name);
  }

  /** Creates the directory and any missing parents; returns it. `NotADirectoryError` if a part is a file. */
  createDirectory(path: string): File {
    if (path === undefined || path === null)
      throw new RepositoryPathError('path cannot be undefined for createDirectory');
    this.#assertMutable(`create directory \`${path}\``);
    return this.#ensureDirectory(splitRepositoryPath(path));
  }

  #ensureDirectory(parts: readonly string[]): File {
    let current = this.#root;
    for (const [i, part] of parts.entries()) {
      const entries = mutableObjects(current);
      let next = entries.get(part);
      if (next === undefined) {
        next = new File({ name: part });
        entries.set(part, next);
      } else if (next.isFile()) {
        throw new NotADirectoryError(
          `object with path \`${joinRepositoryPath(parts.slice(0, i + 1))}\` is a file, not a directory.`,
        );
      }
      current = next;
    }
    return current;
  }

  /** Validates a file path for writing and returns its parent parts and name. */
  #fileTarget(path: string): { parents: string[]; name: string } {
    const parts = splitRepositoryPath(path);
    const name = parts.pop();
    if (name === undefined)
      throw new RepositoryPathError(`path \`${String(path)}\` names the root, not a file`);
    return { parents: parts, name };
  }

  #insertFile(parents: readonly string[], name: string, key: string): void {
    const directory = this.#ensureDirectory(parents);
    const existing = directory.objects.get(name);
    if (existing?.isDir() === true) {
      throw new IsADirectoryError(
        `object with path \`${joinRepositoryPath([...parents, name])}\` is a directory.`,
      );
    }
    mutableObjects(directory).set(name, new File({ name, fileType: FileType.FILE, key }));
  }

  /** Checks that a file may go to `path` before its content is written (no orphan content on a bad path). */
  #checkFileTarget(path: string): { parents: string[]; name: string } {
    const target = this.#fileTarget(path);
    let current: File | undefined = this.#root;
    for (const [i, part] of target.parents.entries()) {
      current = current.objects.get(part);
      if (current === undefined) break;
      if (current.isFile()) {
        throw new NotADirectoryError(
          `object with path \`${joinRepositoryPath(target.parents.slice(0, i + 1))}\` is a file, not a directory.`,
        );
      }
    }
    if (current?.objects.get(target.name)?.isDir() === true) {
      throw new IsADirectoryError(
        `object with path \`${joinRepositoryPath([...target.parents, target.name])}\` is a directory.`,
      );
    }
    return target;
  }

  // --- writing ---------------------------------------------------------------------------------------------------

  /** Stores `content` (bytes, or a string written as UTF-8) at `path`, replacing a file already there. */
  async putObjectFromBuffer(path: string, content: Uint8Array | string): Promise<void> {
    this.#assertMutable(`put object \`${path}\``);
    const target = this.#checkFileTarget(path);
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    if (!(bytes instanceof Uint8Array)) {
      throw new RepositoryError(`content for \`${path}\` must be bytes or a string, got ${typeof content}`);
    }
    const key = await this.#backend.putObjectFromBuffer(bytes);
    this.#insertFile(target.parents, target.name, key);
  }

  /** Streams a byte stream to `path` without holding it in memory (with a disk backend). */
  async putObjectFromStream(path: string, stream: ByteStream): Promise<void> {
    this.#assertMutable(`put object \`${path}\``);
    const target = this.#checkFileTarget(path);
    const key = await this.#backend.putObjectFromStream(stream as Readable);
    this.#insertFile(target.parents, target.name, key);
  }

  /** Stores the local file `filepath` at `path`. */
  async putObjectFromFile(path: string, filepath: string): Promise<void> {
    this.#assertMutable(`put object \`${path}\``);
    const target = this.#checkFileTarget(path);
    let info;
    try {
      info = statSync(filepath);
    } catch (error) {
      throw new FileNotFoundError(`local file \`${filepath}\` cannot be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!info.isFile()) throw new IsADirectoryError(`local path \`${filepath}\` is not a file`);
    const key = await putLocalFile(this.#backend, filepath, info.size);
    this.#insertFile(target.parents, target.name, key);
  }

  /**
   * Copies the local directory `localDir` (absolute) with everything below it, empty folders included, into the
   * repository under `path` (the root by default). Entries are added in name order, so the result is the same on
   * every file system.
   */
  async putObjectFromTree(localDir: string, path?: string): Promise<void> {
    this.#assertMutable(`put tree \`${localDir}\``);
    if (typeof localDir !== 'string' || !isAbsolute(localDir)) {
      throw new RepositoryPathError(`filepath \`${String(localDir)}\` is not an absolute path.`);
    }
    const info = await stat(localDir).catch((error: unknown) => {
      throw new FileNotFoundError(
        `local directory \`${localDir}\` cannot be read: ${(error as Error).message}`,
        { cause: error },
      );
    });
    if (!info.isDirectory()) throw new NotADirectoryError(`local path \`${localDir}\` is not a directory`);
    const base = splitRepositoryPath(path);
    if (base.length > 0) this.#ensureDirectory(base);
    // The tree is walked first and every file written at once (the backend bounds how many run): a durable store
    // syncs each object, and syncs in flight together cost about as much as one. Entries are then added in the
    // walk's name order, so the hierarchy is the same as when written one by one.
    const entries: TreeEntry[] = [];
    const pending = treeWriter();
    const walk = async (local: string, parts: readonly string[]): Promise<void> => {
      const listed = (await readdir(local, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of listed) {
        const source = join(local, entry.name);
        const childParts = [...parts, entry.name];
        // Like os.walk: symlinks count as what they point to, and a linked directory is listed but not entered.
        let isDirectory = entry.isDirectory();
        if (entry.isSymbolicLink()) {
          const target = await stat(source).catch((error: unknown) => {
            throw new FileNotFoundError(
              `local symlink \`${source}\` points nowhere: ${(error as Error).message}`,
              {
                cause: error,
              },
            );
          });
          isDirectory = target.isDirectory();
        }
        if (isDirectory) {
          entries.push({ parts: childParts, key: undefined });
          if (!entry.isSymbolicLink()) await walk(source, childParts);
        } else {
          entries.push({
            parts,
            name: entry.name,
            key: pending(() => putLocalFile(this.#backend, source)),
          });
        }
      }
    };
    try {
      await walk(localDir, base);
    } finally {
      await this.#insertEntries(entries);
    }
  }

  /** Adds walked entries in their order once their objects are written; throws the first failure after that. */
  async #insertEntries(entries: readonly TreeEntry[]): Promise<void> {
    const keys = await Promise.allSettled(entries.map((entry) => entry.key ?? Promise.resolve('')));
    for (const [index, entry] of entries.entries()) {
      const key = keys[index]!;
      if (key.status === 'rejected') throw key.reason;
      if (entry.name === undefined) this.#ensureDirectory(entry.parts);
      else this.#insertFile(entry.parts, entry.name, key.value);
    }
  }

  // --- reading ---------------------------------------------------------------------------------------------------

  /** A stream of the file's content. */
  async open(path: string): Promise<Readable> {
    return this.#backend.openStream(this.getFile(path).key as string);
  }

  /** The file's content as bytes, or decoded when an encoding is given. */
  getObjectContent(path: string): Promise<Buffer>;
  getObjectContent(path: string, encoding: BufferEncoding): Promise<string>;
  async getObjectContent(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
    const content = await this.#backend.getObjectContent(this.getFile(path).key as string);
    return encoding === undefined ? content : content.toString(encoding);
  }

  /** Size in bytes of the file at `path`. */
  async getObjectSize(path: string): Promise<number> {
    return this.#backend.getObjectSize(this.getFile(path).key as string);
  }

  /**
   * Walks the hierarchy below `path` like `os.walk` bottom-up: each directory after its sub-directories, with the
   * names of its sub-directories and files in insertion order.
   */
  walk(path?: string): AsyncIterableIterator<WalkEntry> {
    const parts = splitRepositoryPath(path);
    // A snapshot taken now, so changing the repository while walking cannot derail the walk.
    return asyncIterableOf([...this.#walk(joinRepositoryPath(parts), this.getDirectory(path))]);
  }

  *#walk(path: string, directory: File): Generator<WalkEntry> {
    const dirnames: string[] = [];
    const filenames: string[] = [];
    for (const child of directory.objects.values()) (child.isDir() ? dirnames : filenames).push(child.name);
    for (const name of dirnames)
      yield* this.#walk(childPath(path, name), directory.objects.get(name) as File);
    yield { path, dirnames, filenames };
  }

  /**
   * Writes the files below `path` (the whole repository by default) into the local directory `target` (absolute),
   * creating folders as needed; the contents of `path` land directly in `target`.
   */
  async copyTree(target: string, path?: string): Promise<void> {
    if (typeof target !== 'string' || !isAbsolute(target)) {
      throw new RepositoryPathError(`provided target \`${String(target)}\` is not an absolute path.`);
    }
    const entry = this.getObject(path);
    if (!entry.isDir())
      throw new NotADirectoryError(`object with path \`${path ?? '.'}\` is not a directory.`);
    const copy = async (directory: File, local: string): Promise<void> => {
      await mkdir(local, { recursive: true });
      for (const child of directory.objects.values()) {
        const destination = join(local, child.name);
        if (child.isDir()) {
          await copy(child, destination);
        } else {
          await pipeline(await this.#backend.openStream(child.key as string), createWriteStream(destination));
        }
      }
    };
    await copy(entry, target);
  }

  /**
   * A stable hash of the content tree, aiida's `Repository.hash`: `make_hash` of `{path: sha256 of content}` for
   * every file plus the root's directory names, so it is the same in aiida-core for the same files, whatever the
   * backend, and unchanged when the node is stored.
   */
  hash(): Promise<string> {
    const objects: Record<string, Hashable> = {};
    // the walk, synchronously (a snapshot as `walk` takes): nothing in it waits, and a process function hashes its
    // node's repository on every call
    for (const { path, dirnames, filenames } of this.#walk('.', this.#root)) {
      // aiida overwrites this on every step; the root comes last, so its directory names are what count.
      objects['__dirnames__'] = [...dirnames];
      for (const name of filenames) {
        const filePath = childPath(path, name);
        // Keys are sha256 of the content in both backends, which is the object hash aiida uses.
        objects[filePath] = this.getFile(filePath).key;
      }
    }
    return Promise.resolve(memoisedHash(objects));
  }

  // --- deleting and copying --------------------------------------------------------------------------------------

  /** Removes the file at `path` (directories cannot be deleted this way); content stays unless `hardDelete`. */
  async deleteObject(path: string, options: DeleteObjectOptions = {}): Promise<void> {
    this.#assertMutable(`delete object \`${path}\``);
    const parts = splitRepositoryPath(path);
    const entry = this.getObject(path);
    if (entry.isDir())
      throw new IsADirectoryError(`object with path \`${joinRepositoryPath(parts)}\` is a directory.`);
    if (options.hardDelete === true) await this.#backend.deleteObjects([entry.key as string]);
    const name = parts.pop() as string;
    mutableObjects(this.getDirectory(joinRepositoryPath(parts))).delete(name);
  }

  /**
   * Deletes every file's content from the backend and empties the hierarchy. Like aiida, this hard-deletes: meant
   * for an unstored node's own sandbox, never for a repository whose backend other nodes share.
   */
  async erase(): Promise<void> {
    this.#assertMutable('erase the repository');
    const keys = [...new Set(this.getFileKeys())];
    const present = await this.#backend.hasObjects(keys);
    const toDelete = keys.filter((_, i) => present[i]);
    if (toDelete.length > 0) await this.#backend.deleteObjects(toDelete);
    this.#root = new File();
  }

  /**
   * Copies the hierarchy of `source`, empty directories included, into this repository. Content is streamed from
   * the source backend, or just referenced when both share one backend.
   */
  async clone(source: Repository): Promise<void> {
    if (!(source instanceof Repository)) throw new RepositoryError('source is not a Repository');
    this.#assertMutable('clone into the repository');
    const sameBackend = source.backend === this.#backend;
    // Every object is written at once and the entries added in the source's order (see putObjectFromTree).
    const entries: TreeEntry[] = [];
    const pending = treeWriter();
    const walk = (directory: File, parts: readonly string[]): void => {
      for (const child of directory.objects.values()) {
        const childParts = [...parts, child.name];
        if (child.isDir()) {
          entries.push({ parts: childParts, key: undefined });
          walk(child, childParts);
        } else {
          // Sandbox content is in memory already: hand it over as a buffer (no temporary file on the way).
          const key = child.key as string;
          const write = sameBackend
            ? () => Promise.resolve(key)
            : source.backend instanceof SandboxRepositoryBackend
              ? async () => this.#backend.putObjectFromBuffer(await source.backend.getObjectContent(key))
              : async () => this.#backend.putObjectFromStream(await source.backend.openStream(key));
          entries.push({ parts, name: child.name, key: pending(write) });
        }
      }
    };
    walk(source.getDirectory(), []);
    await this.#insertEntries(entries);
  }
}
