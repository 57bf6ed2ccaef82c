import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fsync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { open, readFile, readdir, rm, stat, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { CorruptObjectError, FileNotFoundError, RepositoryError, isAiidaError } from '../../errors.js';
import { processTag } from '../../utils/process-identity.js';
import { SYNC_FILE_BYTES } from '../../utils/small-files.js';
import {
  assertValidObjectKey,
  byteChunks,
  isValidObjectKey,
  objectNotFound,
  sha256Hex,
} from '../object-key.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from '../repository-backend.js';
import type { IntegrityCheckOptions, RepositoryIntegrityReport } from '../integrity.js';
import { decodingError, verifyContent, verifyingStream } from '../verified-read.js';
import { checkContainerIntegrity } from './container-integrity.js';
import { CompressionAlgorithmSchema } from './container-config.js';
import type { ContainerConfig } from './container-config.js';
import { cleanStorage, countObjects, deleteObjects, getTotalSize, repack } from './container-maintenance.js';
import type { CleanStorageOptions, ObjectCount, TotalSize } from './container-maintenance.js';
import { Container, isErrno } from './container.js';
import type { PackedObjectRow } from './pack-index.js';
import { openPackedStream, readPackedObject } from './pack-reader.js';
import { CompressMode, addObjectsToPack, packAllLoose } from './pack-writer.js';
import type { AddObjectsToPackOptions, PackAllLooseOptions, PackSource } from './pack-writer.js';

const BYTES_PER_MB = 1024 * 1024;

/** `fdatasync` and `fsync` of a plain descriptor, in the thread pool (they wait for the device). */
const syncData = promisify(fdatasync);
const syncAll = promisify(fsync);

/** Loose writes and whole-object reads this backend runs at once. */
const FILE_OPERATIONS_IN_FLIGHT = 64;

/** Up to this many keys, {@link DiskObjectStoreRepositoryBackend.hasObjects} checks without the thread pool. */
const SYNC_CHECK_KEYS = 8;

function mb(bytes: number): number {
  return Number((bytes / BYTES_PER_MB).toFixed(2));
}

/** Options of {@link DiskObjectStoreRepositoryBackend}. */
export interface DiskObjectStoreRepositoryBackendOptions {
  /** The container folder (created by `initialise`). */
  readonly folder: string;
  /** Size after which a new pack file is started (new containers only; default 4 GiB as disk-objectstore). */
  readonly packSizeTarget?: number;
  /** Hex characters of the key used as loose sub-folder (new containers only; default 2). */
  readonly loosePrefixLen?: number;
  /** `zlib+<level>` used for compressed packed objects (new containers only; default `zlib+1`). */
  readonly compressionAlgorithm?: string;
  /**
   * Sync loose objects and packs to disk before they become visible, as disk-objectstore does (default true).
   * Turning it off trades durability on power loss for write speed.
   */
  readonly fsync?: boolean;
  /** How long packing waits for another packer's lock before failing (default 10 minutes). */
  readonly lockTimeoutMs?: number;
}

function validateOptions(options: DiskObjectStoreRepositoryBackendOptions): void {
  if (typeof options.folder !== 'string' || options.folder === '') {
    throw new RepositoryError('a disk-objectstore container needs a folder');
  }
  if (
    options.compressionAlgorithm !== undefined &&
    !CompressionAlgorithmSchema.safeParse(options.compressionAlgorithm).success
  ) {
    throw new RepositoryError(
      `compressionAlgorithm must be \`zlib+<level>\` with a level from 1 to 9, got ${JSON.stringify(options.compressionAlgorithm)}`,
    );
  }
  if (
    options.packSizeTarget !== undefined &&
    !(Number.isInteger(options.packSizeTarget) && options.packSizeTarget > 0)
  ) {
    throw new RepositoryError(`packSizeTarget must be a positive integer, got ${options.packSizeTarget}`);
  }
  if (
    options.loosePrefixLen !== undefined &&
    !(Number.isInteger(options.loosePrefixLen) && options.loosePrefixLen >= 0)
  ) {
    throw new RepositoryError(
      `loosePrefixLen must be zero or a positive integer, got ${options.loosePrefixLen}`,
    );
  }
}

/**
 * A file repository in disk-objectstore's container format, so a container written here opens with aiida-core's
 * `disk-objectstore` and the other way round:
 *
 * - `config.json` (container_version, loose_prefix_len, pack_size_target, hash_type, container_id,
 *   compression_algorithm);
 * - `loose/<first 2 hex>/<other 62 hex>`: one file per object, written to `sandbox/` while being hashed and moved
 *   into place by an atomic rename, so any number of processes write concurrently;
 * - `packs/<n>`: objects concatenated (optionally zlib-compressed each), indexed in `packs.idx`, a WAL-mode SQLite
 *   database with disk-objectstore's `db_object` table; appending to a pack takes its `packs/<n>.lock`;
 * - `duplicates/`: copies a racing writer could not move into place, reconciled by `cleanStorage`.
 *
 * Keys are the sha256 of the content, so equal content is stored once. Reads look at the loose file first and then
 * at the index, the order that stays correct while another process packs (the index is committed before loose
 * files are removed). Everything streams: a multi-GB object never sits in memory.
 */
export class DiskObjectStoreRepositoryBackend implements RepositoryBackend, AsyncDisposable {
  readonly keyFormat = 'sha256' as const;
  readonly #container: Container;
  /** Packing and maintenance of this instance, one at a time (other processes are kept out by pack locks). */
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * Caps the file operations in flight, so a caller starting thousands of writes or reads at once gets them all
   * done instead of running out of file descriptors (EMFILE).
   */
  readonly #files = pLimit(FILE_OPERATIONS_IN_FLIGHT);
  /** Loose objects this instance wrote: writing the same content again (a function's source) is skipped. */
  readonly #written = new Set<string>();

  constructor(options: DiskObjectStoreRepositoryBackendOptions) {
    validateOptions(options);
    this.#container = new Container({
      folder: options.folder,
      packSizeTarget: options.packSizeTarget,
      loosePrefixLen: options.loosePrefixLen,
      compressionAlgorithm: options.compressionAlgorithm,
      fsync: options.fsync ?? true,
      lockTimeoutMs: options.lockTimeoutMs ?? 10 * 60_000,
    });
  }

  /** The container folder. */
  get folder(): string {
    return this.#container.folder;
  }

  /** The container_id of `config.json` (null before initialisation). */
  get uuid(): string | null {
    return this.#container.tryConfig()?.container_id ?? null;
  }

  /** The container's settings; throws if it is not initialised. */
  get config(): ContainerConfig {
    return this.#container.config;
  }

  toString(): string {
    const id = this.uuid;
    return id === null
      ? 'DiskObjectStoreRepository: <uninitialised>'
      : `DiskObjectStoreRepository: ${id} | ${this.folder}`;
  }

  async #wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isAiidaError(error)) throw error;
      throw new RepositoryError(`${what} failed in container ${this.folder}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  #exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(
      () => this.#wrap(what, fn),
      () => this.#wrap(what, fn),
    );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  // --- lifecycle ------------------------------------------------------------------------------------------------

  async initialise(): Promise<void> {
    await this.#wrap('initialise', async () => {
      if (!(await this.#container.isInitialised())) await this.#container.create();
    });
  }

  isInitialised(): Promise<boolean> {
    return this.#container.isInitialised();
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.#container.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async erase(): Promise<void> {
    this.#written.clear();
    await this.close();
    await rm(this.folder, { recursive: true, force: true });
    this.#container.forget();
  }

  // --- writing loose objects -------------------------------------------------------------------------------------

  async putObjectFromBuffer(content: Uint8Array): Promise<string> {
    if (!(content instanceof Uint8Array)) {
      throw new RepositoryError(`putObjectFromBuffer expects bytes (Uint8Array), got ${typeof content}`);
    }
    const buffer = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    const key = sha256Hex(buffer);
    // Written by this instance before (a process function's source on every call): nothing to write, and no turn to
    // wait for among the file operations in flight.
    if (this.#written.has(key)) return key;
    return this.#wrap('writing an object', () =>
      this.#files(async () => {
        // Already packed: nothing to write. (A loose duplicate is simply renamed over, which costs less than a stat.)
        if (this.#written.has(key) || this.#container.index.has(key)) return key;
        const temporary = this.#sandboxPath();
        try {
          if (buffer.length <= SYNC_FILE_BYTES) {
            // A small object (a job's files are a few hundred bytes): opened, written and closed synchronously, each
            // a plain system call, and only the sync to disk, which waits for the device, goes through the thread
            // pool. (Through a FileHandle each step is a thread-pool round trip with its promise, which costs the
            // process many times the system call.)
            const fd = openSync(temporary, 'wx');
            try {
              for (let written = 0; written < buffer.length;)
                written += writeSync(fd, buffer, written, buffer.length - written);
              if (this.#container.fsync) await syncData(fd);
            } finally {
              closeSync(fd);
            }
          } else {
            // a large one through the thread pool: the event loop (a worker's heartbeat) must not wait for its write
            const handle = await open(temporary, 'wx');
            try {
              await handle.writeFile(buffer);
              if (this.#container.fsync) await handle.datasync();
            } finally {
              await handle.close();
            }
          }
          await this.#publishLoose(temporary, key);
          if (this.#written.size >= 10_000) this.#written.clear();
          this.#written.add(key);
        } catch (error) {
          await unlink(temporary).catch(() => undefined);
          throw error;
        }
        return key;
      }),
    );
  }

  async putObjectFromStream(source: Readable | AsyncIterable<unknown>): Promise<string> {
    if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
      throw new RepositoryError('putObjectFromStream expects a readable byte stream');
    }
    return this.#wrap('writing an object', () =>
      this.#files(async () => {
        const temporary = this.#sandboxPath();
        const hasher = createHash('sha256');
        try {
          const handle = await open(temporary, 'wx');
          try {
            for await (const chunk of byteChunks(source)) {
              hasher.update(chunk);
              let written = 0;
              while (written < chunk.length) {
                const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
                written += bytesWritten;
              }
            }
            if (this.#container.fsync) await handle.datasync();
          } finally {
            await handle.close();
          }
          const key = hasher.digest('hex');
          await this.#publishLoose(temporary, key);
          return key;
        } catch (error) {
          await unlink(temporary).catch(() => undefined);
          throw error;
        }
      }),
    );
  }

  #sandboxPath(): string {
    void this.#container.config;
    // named after this process, so that full maintenance in another process leaves a live writer's file alone
    return this.#container.path('sandbox', `${processTag()}${randomUUID().replaceAll('-', '')}`);
  }

  /** Moves a finished sandbox file to its loose place, or drops it when the content is packed already. */
  async #publishLoose(temporary: string, key: string): Promise<void> {
    if (this.#container.index.has(key)) {
      await unlink(temporary);
      return;
    }
    const shard = await this.#container.ensureShard(key);
    // rename() replaces atomically: a concurrent writer of the same content leaves identical bytes, and a corrupt
    // existing copy is replaced by the good one. Readers holding the old file keep reading it. (Synchronous, as the
    // open and close of the folder: metadata calls; only the sync waits for the device, in the thread pool.)
    renameSync(temporary, this.#container.loosePath(key));
    if (this.#container.fsync) {
      const directory = openSync(shard, 'r');
      try {
        await syncAll(directory);
      } finally {
        closeSync(directory);
      }
    }
  }

  /**
   * Writes objects straight into packs, the fast path for bulk imports (disk-objectstore's `add_objects_to_pack`).
   * Items are buffers or byte streams; resolves to their keys in order. An object already stored is not written
   * again. Takes the pack lock, so it is safe beside other packers.
   */
  addObjectsToPack(
    items: Iterable<PackSource> | AsyncIterable<PackSource>,
    options: AddObjectsToPackOptions = {},
  ): Promise<string[]> {
    return this.#exclusive('adding objects to a pack', () =>
      addObjectsToPack(this.#container, items, options),
    );
  }

  // --- reading ----------------------------------------------------------------------------------------------------

  async hasObject(key: string): Promise<boolean> {
    const [present] = await this.hasObjects([key]);
    return present ?? false;
  }

  async hasObjects(keys: readonly string[]): Promise<boolean[]> {
    // A few keys (the files of the nodes one process stores) are checked synchronously: a stat of a local file costs
    // microseconds, while a round trip through libuv's thread pool costs the calling process its turn on a busy CPU.
    if (keys.length <= SYNC_CHECK_KEYS) {
      return this.#wrap('checking objects', () =>
        Promise.resolve(
          keys.map((key) => {
            const stored = isValidObjectKey(key) && this.#isStoredNow(key);
            if (!stored) this.#written.delete(key);
            return stored;
          }),
        ),
      );
    }
    return this.#wrap('checking objects', async () => {
      // many keys (an import checking what it must add): one listing per loose sub-folder and one index query per
      // 10,000 keys, instead of a stat and an index lookup per key. Loose first, then the index, as #isStoredNow: a
      // packer commits the index before it removes loose files, so an object being packed is seen in one or the other
      const valid = keys.filter((key) => isValidObjectKey(key));
      const loose = await this.#looseAmong(valid);
      const packed = this.#container.index.hasMany(valid.filter((key) => !loose.has(key)));
      return keys.map((key) => {
        const stored = loose.has(key) || packed.has(key);
        // another process may have deleted what this one wrote (full maintenance): write it again next time
        if (!stored) this.#written.delete(key);
        return stored;
      });
    });
  }

  /** The keys of `keys` (valid ones) stored as loose files, from one directory listing per sub-folder they name. */
  async #looseAmong(keys: readonly string[]): Promise<Set<string>> {
    const prefix = this.#container.config.loose_prefix_len;
    const wanted = new Map<string, string[]>();
    for (const key of keys) {
      const shard = key.slice(0, prefix);
      const list = wanted.get(shard);
      if (list === undefined) wanted.set(shard, [key]);
      else list.push(key);
    }
    const list = async (folder: string): Promise<Set<string>> => {
      try {
        return new Set(await readdir(folder));
      } catch (error) {
        if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return new Set();
        throw error;
      }
    };
    const root = this.#container.path('loose');
    const shards = await list(root);
    const found = new Set<string>();
    const limit = pLimit(FILE_OPERATIONS_IN_FLIGHT);
    await Promise.all(
      [...wanted].map(([shard, shardKeys]) =>
        limit(async () => {
          if (prefix > 0 && !shards.has(shard)) return;
          const names = prefix === 0 ? shards : await list(this.#container.path('loose', shard));
          for (const key of shardKeys) if (names.has(key.slice(prefix))) found.add(key);
        }),
      ),
    );
    return found;
  }

  /** Loose first, then the index: a packer commits the index before it removes loose files. */
  #isStoredNow(key: string): boolean {
    if (statSync(this.#container.loosePath(key), { throwIfNoEntry: false }) !== undefined) return true;
    return this.#container.index.has(key);
  }

  /**
   * A stream of the object that fails with `CorruptObjectError` at its end when the content does not hash to the
   * key (a flipped byte, a truncated pack, a damaged compressed stream), instead of ending normally.
   */
  async openStream(key: string): Promise<Readable> {
    const { stream, where } = await this.#openRawStream(key);
    return verifyingStream(stream, key, where);
  }

  /** The stream as stored, unchecked (maintenance hashes it itself), with where it comes from. */
  async #openRawStream(key: string): Promise<{ stream: Readable; where: string }> {
    assertValidObjectKey(key);
    return this.#wrap(`opening object ${key}`, async () => {
      const loose = this.#container.loosePath(key);
      try {
        const handle = await open(loose, 'r');
        return {
          stream: handle.createReadStream({ highWaterMark: 1024 * 1024 }),
          where: `loose file ${loose}`,
        };
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const row = this.#container.index.get(key);
      if (row === undefined) throw objectNotFound(key);
      return { stream: await openPackedStream(this.#container, row), where: this.#packedWhere(row) };
    });
  }

  #packedWhere(row: PackedObjectRow): string {
    return `pack ${this.#container.packPath(row.pack_id)} at offset ${row.offset}${row.compressed ? ', compressed' : ''}`;
  }

  /**
   * The whole object, checked against its key: `CorruptObjectError` naming the key and where it lies when the
   * content does not hash to it. A corrupt loose copy of an object that is also packed is passed over for the
   * packed copy when that one is good.
   */
  async getObjectContent(key: string): Promise<Buffer> {
    assertValidObjectKey(key);
    return this.#wrap(`reading object ${key}`, () =>
      this.#files(async () => {
        const loose = this.#container.loosePath(key);
        let looseError: CorruptObjectError | undefined;
        try {
          return verifyContent(key, await readFile(loose), `loose file ${loose}`);
        } catch (error) {
          if (!isErrno(error, 'ENOENT') && !(error instanceof CorruptObjectError)) throw error;
          if (error instanceof CorruptObjectError) looseError = error;
        }
        const row = this.#container.index.get(key);
        if (row === undefined) throw looseError ?? objectNotFound(key);
        const where = this.#packedWhere(row);
        let content: Buffer;
        try {
          content = await readPackedObject(this.#container, row);
        } catch (error) {
          throw decodingError(error, key, where);
        }
        return verifyContent(key, content, where);
      }),
    );
  }

  async getObjectSize(key: string): Promise<number> {
    assertValidObjectKey(key);
    return this.#wrap(`reading the size of object ${key}`, async () => {
      try {
        return (await stat(this.#container.loosePath(key))).size;
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const row = this.#container.index.get(key);
      if (row === undefined) throw objectNotFound(key);
      return row.size;
    });
  }

  /** Streams every key once: loose ones (not also packed) first, then packed ones in index order. */
  async *listObjects(): AsyncGenerator<string> {
    const index = this.#container.index;
    // A loose object may get packed while we list; remembering what was yielded keeps each key to one mention.
    const yieldedLoose = new Set<string>();
    for await (const key of this.#container.listLoose()) {
      if (index.has(key)) continue;
      yieldedLoose.add(key);
      yield key;
    }
    let after = -1;
    for (;;) {
      const page = index.page(after, 1000);
      if (page.length === 0) break;
      for (const { hashkey } of page) if (!yieldedLoose.has(hashkey)) yield hashkey;
      after = page[page.length - 1]?.id ?? after;
    }
  }

  // --- deleting -------------------------------------------------------------------------------------------------

  /**
   * Deletes objects: loose files are removed, packed ones are dropped from the index (their bytes stay in the pack
   * until `repack`). Every key is checked first; if any is unknown nothing is deleted. A maintenance operation, as
   * in disk-objectstore: no other process should write the same content meanwhile.
   */
  async deleteObjects(keys: readonly string[]): Promise<void> {
    await this.#deleteObjects(keys);
  }

  async #deleteObjects(keys: readonly string[]): Promise<number> {
    this.#written.clear();
    const unique = [...new Set(keys)];
    const present = await this.hasObjects(unique);
    const missing = unique.filter((_, i) => !present[i]);
    if (missing.length > 0) {
      const one = missing.length === 1;
      const listed = missing
        .slice(0, 10)
        .map((key) => `\`${key}\``)
        .join(', ');
      throw new FileNotFoundError(
        `cannot delete: ${one ? 'object with key' : 'objects with keys'} ${listed}${missing.length > 10 ? ', …' : ''} ` +
          `${one ? 'does' : 'do'} not exist; nothing was deleted`,
      );
    }
    return this.#exclusive('deleting objects', () => deleteObjects(this.#container, unique));
  }

  // --- packing and maintenance ----------------------------------------------------------------------------------

  /**
   * Packs every loose object not packed yet (disk-objectstore's `pack_all_loose`), safe while other processes read
   * and write loose objects. Resolves to the number of objects packed.
   */
  packAllLoose(options: PackAllLooseOptions = {}): Promise<number> {
    return this.#exclusive('packing loose objects', () => packAllLoose(this.#container, options));
  }

  /**
   * Rewrites packs without the bytes of deleted objects (disk-objectstore's `repack`), then VACUUMs the index. A
   * maintenance operation: nobody else may use the container meanwhile. Resolves to the bytes freed.
   */
  repack(): Promise<number> {
    return this.#exclusive('repacking', () => repack(this.#container));
  }

  /**
   * disk-objectstore's `clean_storage`: optionally VACUUM the index, reconcile `duplicates/`, delete loose copies
   * of packed objects, and with `live: false` empty the sandbox. Resolves to the bytes freed.
   */
  cleanStorage(options: CleanStorageOptions = {}): Promise<number> {
    return this.#exclusive('cleaning the storage', () =>
      cleanStorage(this.#container, options, async (key) => {
        const hasher = createHash('sha256');
        for await (const chunk of (await this.#openRawStream(key)).stream) hasher.update(chunk as Buffer);
        return hasher.digest('hex');
      }),
    );
  }

  /**
   * aiida-core's repository maintenance: live, it packs loose objects and removes their loose copies; full
   * (`live: false`, nobody else using the storage), it also deletes `deleteObjects`, repacks and VACUUMs. Forcing
   * a full-only step while live throws, as aiida's `ValueError`.
   */
  async maintain(options: MaintainOptions): Promise<MaintainReport> {
    const { live } = options;
    if (live) {
      const forced = (['repack', 'vacuum'] as const).filter((name) => options[name] === true);
      if (forced.length > 0) {
        throw new RepositoryError(
          `the following overrides were enabled but cannot be if \`live=true\`: ${forced.join(', ')}`,
        );
      }
      if (options.deleteObjects !== undefined && options.deleteObjects.length > 0) {
        throw new RepositoryError(
          'deleting objects is a full maintenance operation and cannot run with `live=true`',
        );
      }
    }
    const doRepack = live ? false : (options.repack ?? true);
    const vacuum = live ? false : (options.vacuum ?? true);
    const dryRun = options.dryRun ?? false;
    const actions: string[] = [];
    let objectsDeleted = 0;
    let looseObjectsPacked = 0;
    let bytesFreed = 0;

    const toDelete = [...new Set(options.deleteObjects ?? [])];
    if (toDelete.length > 0) {
      actions.push(`Deleting ${toDelete.length} unreferenced objects ...`);
      if (dryRun) {
        objectsDeleted = (await this.hasObjects(toDelete)).filter(Boolean).length;
      } else {
        bytesFreed += await this.#deleteObjects(toDelete);
        objectsDeleted = toDelete.length;
      }
    }
    if (options.packLoose ?? true) {
      const count = await this.countObjects();
      const size = await this.getTotalSize();
      actions.push(
        `Packing all loose files (${count.loose} files occupying ${mb(size.total_size_loose)} MB) ...`,
      );
      if (dryRun) {
        const index = this.#container.index;
        for await (const key of this.#container.listLoose()) if (!index.has(key)) looseObjectsPacked += 1;
      } else {
        looseObjectsPacked = await this.packAllLoose({
          compress: options.compress === true ? CompressMode.AUTO : CompressMode.NO,
        });
      }
    }
    if (doRepack) {
      const count = await this.countObjects();
      const size = await this.getTotalSize();
      actions.push(
        `Re-packing all pack files (${count.packed} files in packs, occupying ${mb(size.total_size_packfiles_on_disk)} MB) ...`,
      );
      if (!dryRun) bytesFreed += await this.repack();
    }
    if (options.cleanStorage ?? true) {
      actions.push(`Cleaning the repository database (with \`vacuum=${vacuum ? 'True' : 'False'}\`) ...`);
      // repack() has just VACUUMed.
      if (!dryRun) bytesFreed += await this.cleanStorage({ vacuum: vacuum && !doRepack, live });
    }
    return { looseObjectsPacked, objectsDeleted, bytesFreed, actions };
  }

  /**
   * Checks the container (see `checkContainerIntegrity`): pack index against pack files, stray files, pending
   * duplicates, and with `hashes` (default) every copy of every object against its key. Reads only.
   */
  checkIntegrity(options: IntegrityCheckOptions = {}): Promise<RepositoryIntegrityReport> {
    return this.#wrap('checking the integrity', () => checkContainerIntegrity(this.#container, options));
  }

  /** Numbers of loose objects, packed objects and pack files (disk-objectstore's `count_objects`). */
  countObjects(): Promise<ObjectCount> {
    return this.#wrap('counting objects', () => countObjects(this.#container));
  }

  /** Byte totals with disk-objectstore's names (`get_total_size`). */
  getTotalSize(): Promise<TotalSize> {
    return this.#wrap('measuring the container', () => getTotalSize(this.#container));
  }

  /** aiida-core's `get_info` dictionary: hash and compression algorithm, counts, and with `detailed` sizes in MB. */
  async getInfo(options: { readonly detailed?: boolean } = {}): Promise<Record<string, unknown>> {
    const config = this.#container.config;
    const info: Record<string, unknown> = {
      'SHA-hash algorithm': config.hash_type,
      'Compression algorithm': config.compression_algorithm,
      Objects: { ...(await this.countObjects()) },
    };
    if (options.detailed === true) {
      const sizes = await this.getTotalSize();
      info['Size (MB)'] = Object.fromEntries(
        (Object.entries(sizes) as [string, number][]).map(([name, bytes]) => [name, mb(bytes)]),
      );
    }
    return info;
  }
}
