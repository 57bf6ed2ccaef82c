import type { Readable } from 'node:stream';
import type { File } from '../../repository/file.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import {
  Repository,
  type ByteStream,
  type DeleteObjectOptions,
  type WalkEntry,
} from '../../repository/repository.js';

/** The serialised virtual hierarchy kept in `db_dbnode.repository_metadata` (aiida-core's layout). */
export type RepositoryMetadata = { readonly o?: Record<string, RepositoryMetadata>; readonly k?: string };

/** Whether a serialised hierarchy holds no file and no folder. */
export function isEmptyMetadata(metadata: RepositoryMetadata): boolean {
  const objects = metadata.o;
  if (objects === undefined) return true;
  for (const _ in objects) return false;
  return true;
}

/** Takes the write of a stored node's new file hierarchy, to run it later (the objects are stored already). */
export type PersistMetadata = (save: () => Promise<void>) => void;

/** What a {@link NodeRepository} needs from the node that owns it. */
export interface RepositoryHost {
  isStored(): boolean;
  /** Throws `ModificationNotAllowedError` when the files may no longer change. */
  assertMutable(): void;
  /** The object store of the node's storage (stored nodes). */
  backend(): RepositoryBackend | undefined;
  /** The stored serialised hierarchy. */
  metadata(): RepositoryMetadata;
  /** Saves a new hierarchy of a stored node whose files may still change (an unsealed process node). */
  persistMetadata(metadata: RepositoryMetadata): Promise<void>;
}

/**
 * The files of one node (`node.base.repository`): a {@link Repository} virtual folder whose content sits in an
 * in-memory sandbox until the node is stored and in the profile's object store afterwards. Changes are refused
 * once the node is stored (process nodes: once sealed); storing copies the content into the object store by
 * content key before the database transaction, and the hierarchy goes to `repository_metadata`.
 */
export class NodeRepository {
  readonly #host: RepositoryHost;
  #repository: Repository | undefined;
  #pending: Repository | undefined;
  /** Set by a flush of an empty folder: after storing, open the folder afresh on the object store. */
  #reopen = false;
  /**
   * Whether the folder of the unstored node is on the object store of its storage (see {@link putSharedObject})
   * rather than in a sandbox of its own: its content may be shared with other nodes, so it is never hard-deleted.
   */
  #onStore = false;
  /**
   * The content put with {@link putSharedObject}, by path: an object on the store that no stored node references yet
   * may be deleted by full maintenance before the node's row is inserted, and is then put again from here.
   */
  readonly #shared = new Map<string, Uint8Array>();

  constructor(host: RepositoryHost) {
    this.#host = host;
  }

  /** The underlying virtual folder (read-only use; changes must go through this class). */
  get repository(): Repository {
    if (this.#repository === undefined) {
      const backend = this.#host.backend();
      this.#repository =
        this.#host.isStored() && backend !== undefined
          ? Repository.fromSerialized(backend, this.#host.metadata())
          : new Repository();
    }
    return this.#repository;
  }

  async #mutate(
    action: (repository: Repository) => Promise<unknown>,
    persist?: PersistMetadata,
  ): Promise<void> {
    this.#host.assertMutable();
    if (this.#onStore && !this.#host.isStored()) await this.#toSandbox();
    await action(this.repository);
    if (!this.#host.isStored()) return;
    // the hierarchy as it is when the save runs (a later change saved first is then saved with it)
    const save = () => this.#host.persistMetadata(this.repository.serialize() as RepositoryMetadata);
    if (persist === undefined) await save();
    else persist(save);
  }

  /**
   * Moves an unstored node's folder from the object store (see {@link putSharedObject}) into a sandbox of its own
   * before any other change: what the change writes could not be put again if full maintenance deleted it before the
   * node is stored, and a hard delete must not reach content other nodes share.
   */
  async #toSandbox(): Promise<void> {
    const sandbox = new Repository();
    if (this.#repository !== undefined) await sandbox.clone(this.#repository);
    this.#repository = sandbox;
    this.#onStore = false;
    this.#shared.clear();
  }

  // --- reading -----------------------------------------------------------------------------------------------

  serialize(): RepositoryMetadata {
    return this.repository.serialize() as RepositoryMetadata;
  }
  isEmpty(): boolean {
    // not opened yet: the hierarchy says it without building the virtual folder
    if (this.#repository === undefined) return isEmptyMetadata(this.#host.metadata());
    return this.repository.isEmpty();
  }
  getFileKeys(): string[] {
    return this.repository.getFileKeys();
  }
  getObject(path?: string): File {
    return this.repository.getObject(path);
  }
  hasObject(path: string): boolean {
    return this.repository.hasObject(path);
  }
  listObjects(path?: string): File[] {
    return this.repository.listObjects(path);
  }
  listObjectNames(path?: string): string[] {
    return this.repository.listObjectNames(path);
  }
  open(path: string): Promise<Readable> {
    return this.repository.open(path);
  }
  getObjectContent(path: string): Promise<Buffer>;
  getObjectContent(path: string, encoding: BufferEncoding): Promise<string>;
  getObjectContent(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
    return encoding === undefined
      ? this.repository.getObjectContent(path)
      : this.repository.getObjectContent(path, encoding);
  }
  getObjectSize(path: string): Promise<number> {
    return this.repository.getObjectSize(path);
  }
  walk(path?: string): AsyncIterableIterator<WalkEntry> {
    return this.repository.walk(path);
  }
  copyTree(target: string, path?: string): Promise<void> {
    return this.repository.copyTree(target, path);
  }
  /** aiida-core's repository hash (unchanged by storing). */
  hash(): Promise<string> {
    return this.repository.hash();
  }
  /** Every file path, `/`-separated, sorted. */
  async listFilePaths(): Promise<string[]> {
    const out: string[] = [];
    for await (const { path, filenames } of this.repository.walk()) {
      for (const name of filenames) out.push(path === '' || path === '.' ? name : `${path}/${name}`);
    }
    return out.sort();
  }

  // --- writing (unstored nodes, unsealed process nodes) --------------------------------------------------------

  /** Writes bytes (or a string as UTF-8) at `path`, creating parent directories. */
  async putObjectFromBuffer(path: string, content: Uint8Array | string): Promise<void> {
    await this.#mutate((repository) => repository.putObjectFromBuffer(path, content));
  }
  /**
   * Writes bytes at `path` as {@link putObjectFromBuffer} does, but for content that many nodes share (a process
   * function's source, the same for every call): an unstored node's folder is then kept on the object store of its
   * storage instead of a sandbox, so the content goes there at once — the store skips what it holds already — and
   * storing the node only references it instead of copying it from a sandbox each time. What is stored (the
   * hierarchy, the object) is the same either way.
   */
  async putSharedObject(path: string, content: Uint8Array): Promise<void> {
    const backend = this.#host.backend();
    if (
      this.#host.isStored() ||
      backend === undefined ||
      (this.#repository !== undefined && !this.#onStore)
    ) {
      await this.putObjectFromBuffer(path, content);
      return;
    }
    this.#host.assertMutable();
    if (this.#repository === undefined) {
      this.#repository = new Repository({ backend });
      this.#onStore = true;
    }
    // an unstored node: no hierarchy to save (what putObjectFromBuffer adds for a stored one)
    await this.#repository.putObjectFromBuffer(path, content);
    this.#shared.set(path, content);
  }
  async putObjectFromStream(path: string, stream: ByteStream): Promise<void> {
    await this.#mutate((repository) => repository.putObjectFromStream(path, stream));
  }
  async putObjectFromFile(path: string, filepath: string): Promise<void> {
    await this.#mutate((repository) => repository.putObjectFromFile(path, filepath));
  }
  /**
   * Copies a local absolute folder (empty folders included) under `path`. For a stored node the content is in the
   * object store when this resolves; `options.persist` then gets the write of the new hierarchy to run later (e.g. in
   * the node's next transaction) instead of it being written now.
   */
  async putObjectFromTree(
    localDir: string,
    path?: string,
    options: { readonly persist?: PersistMetadata } = {},
  ): Promise<void> {
    await this.#mutate((repository) => repository.putObjectFromTree(localDir, path), options.persist);
  }
  async createDirectory(path: string): Promise<void> {
    await this.#mutate((repository) => Promise.resolve(repository.createDirectory(path)));
  }
  async deleteObject(path: string, options: DeleteObjectOptions = {}): Promise<void> {
    await this.#mutate((repository) => repository.deleteObject(path, options));
  }
  /** Removes every file. */
  async erase(): Promise<void> {
    this.#host.assertMutable();
    if (this.#host.isStored() || this.#onStore) {
      // never hard-delete content of a stored node: other nodes may share it
      this.repository.reset();
      this.#shared.clear();
      if (this.#host.isStored()) await this.#host.persistMetadata({});
      return;
    }
    await this.repository.erase();
  }
  /** Copies every file and directory of another node's repository into this one. */
  async cloneFrom(source: NodeRepository): Promise<void> {
    await this.#mutate((repository) => repository.clone(source.repository));
  }

  // --- storing -----------------------------------------------------------------------------------------------

  /**
   * Copies the content into `backend` (by content key: writing twice, or leaving objects behind when the database
   * transaction then fails, is harmless) and returns the hierarchy to store. Call {@link markStored} once the
   * transaction committed.
   */
  async flush(backend: RepositoryBackend): Promise<RepositoryMetadata> {
    if (this.#repository === undefined || this.#repository.isEmpty()) {
      // nothing to copy; once stored, the (empty) folder is opened on the object store when first asked for
      this.#pending = undefined;
      this.#reopen = true;
      return {};
    }
    // a folder on this object store already (see putSharedObject) has its content there: nothing to copy, unless
    // this is a store's second flush (full maintenance deleted objects before its insert): then put them again
    const target = this.#repository.backend === backend ? this.#repository : new Repository({ backend });
    if (target !== this.#repository) await target.clone(this.#repository);
    else if (this.#pending === target)
      for (const [path, content] of this.#shared) await target.putObjectFromBuffer(path, content);
    this.#pending = target;
    return target.serialize() as RepositoryMetadata;
  }

  /** Switches to the copy in the object store. */
  markStored(): void {
    if (this.#pending !== undefined) this.#repository = this.#pending;
    else if (this.#reopen) this.#repository = undefined;
    this.#pending = undefined;
    this.#reopen = false;
    this.#onStore = false;
    this.#shared.clear();
  }
}
