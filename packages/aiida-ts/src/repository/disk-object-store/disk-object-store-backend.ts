import { createHash, randomUUID } from 'node:crypto';
import { fstatSync, readFileSync } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createInflate, deflateSync, inflate } from 'node:zlib';
import { promisify } from 'node:util';
import { CorruptStorageError, FileNotFoundError, RepositoryError, isAiidaError } from '../../errors.js';
import {
  assertValidObjectKey,
  byteChunks,
  isValidObjectKey,
  objectNotFound,
  sha256Hex,
} from '../object-key.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from '../repository-backend.js';
import {
  ContainerConfigSchema,
  DEFAULT_COMPRESSION_ALGORITHM,
  DEFAULT_LOOSE_PREFIX_LEN,
  DEFAULT_PACK_SIZE_TARGET,
  CompressionAlgorithmSchema,
  zlibLevel,
} from './container-config.js';
import type { ContainerConfig } from './container-config.js';
import { PackAppender, deflateOptions } from './pack-appender.js';
import type { AppendedObject } from './pack-appender.js';
import { PackIndex } from './pack-index.js';
import type { PackedObjectRow } from './pack-index.js';
import { acquirePackLock } from './pack-lock.js';

const inflateAsync = promisify(inflate);

/** The pack id disk-objectstore uses as scratch space while repacking. */
const REPACK_PACK_ID = -1;
/** Loose objects up to this size are read whole (and ahead) while packing; larger ones are streamed. */
const SMALL_OBJECT_BYTES = 1024 * 1024;
/** Loose files read ahead while packing. */
const READ_AHEAD = 64;
const BYTES_PER_MB = 1024 * 1024;

/** How objects are compressed when they go into a pack (disk-objectstore's `CompressMode`). */
export const CompressMode = { NO: 'no', YES: 'yes', AUTO: 'auto', KEEP: 'keep' } as const;
export type CompressMode = (typeof CompressMode)[keyof typeof CompressMode];

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

/** Options of {@link DiskObjectStoreRepositoryBackend.addObjectsToPack}. */
export interface AddObjectsToPackOptions {
  /** zlib-compress every object (default false). */
  readonly compress?: boolean;
}

/** Options of {@link DiskObjectStoreRepositoryBackend.packAllLoose}. */
export interface PackAllLooseOptions {
  readonly compress?: CompressMode | boolean;
  /** Re-hash every loose object while packing and fail on a mismatch (default true). */
  readonly validate?: boolean;
  /** Delete loose files as soon as the pack holding them is committed (default true, as aiida). */
  readonly cleanLoosePerPack?: boolean;
}

/** Object counts of a container, with disk-objectstore's field names. */
export interface ObjectCount {
  readonly packed: number;
  readonly loose: number;
  readonly pack_files: number;
}

/** Byte totals of a container, with disk-objectstore's field names. */
export interface TotalSize {
  readonly total_size_packed: number;
  readonly total_size_packed_on_disk: number;
  readonly total_size_packfiles_on_disk: number;
  readonly total_size_packindexes_on_disk: number;
  readonly total_size_loose: number;
}

/** One item for {@link DiskObjectStoreRepositoryBackend.addObjectsToPack}: bytes in memory or a byte stream. */
export type PackSource = Uint8Array | AsyncIterable<unknown>;

interface PackSession {
  readonly packId: number;
  readonly appender: PackAppender;
  readonly release: () => Promise<void>;
  readonly rows: AppendedObject[];
}

type LooseRead =
  | { readonly key: string; readonly kind: 'small'; readonly content: Buffer }
  | { readonly key: string; readonly kind: 'large'; readonly size: number }
  | { readonly key: string; readonly kind: 'missing' };

const CONTAINER_ENTRIES = new Set([
  'config.json',
  'loose',
  'packs',
  'duplicates',
  'sandbox',
  'packs.idx',
  'packs.idx-wal',
  'packs.idx-shm',
  'packs.idx-journal',
]);

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function isPackId(name: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(name);
}

function isHex(name: string): boolean {
  return /^[0-9a-f]+$/.test(name);
}

function mb(bytes: number): number {
  return Number((bytes / BYTES_PER_MB).toFixed(2));
}

/** Whether compressing pays for this content: a sample must shrink by at least 10 % (disk-objectstore's bar). */
function worthCompressing(content: Buffer, level: number): boolean {
  if (content.length === 0) return false;
  const sample = content.length > 65536 ? content.subarray(0, 65536) : content;
  return deflateSync(sample, deflateOptions(sample.length, level)).length / sample.length < 0.9;
}

function resolveCompressMode(compress: CompressMode | boolean | undefined): CompressMode {
  if (compress === true) return CompressMode.YES;
  if (compress === false || compress === undefined) return CompressMode.NO;
  return compress;
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
 * files are removed).
 */
export class DiskObjectStoreRepositoryBackend implements RepositoryBackend, AsyncDisposable {
  readonly keyFormat = 'sha256' as const;
  readonly #folder: string;
  readonly #options: DiskObjectStoreRepositoryBackendOptions;
  readonly #fsync: boolean;
  readonly #lockTimeoutMs: number;
  #config: ContainerConfig | undefined;
  #index: PackIndex | undefined;
  #knownShards = new Set<string>();
  #currentPackId = 0;
  #packQueue: Promise<unknown> = Promise.resolve();
  /** Open pack files for small reads, with the number of reads using each. */
  #packHandles = new Map<number, { handle: FileHandle; users: number }>();

  constructor(options: DiskObjectStoreRepositoryBackendOptions) {
    if (options.compressionAlgorithm !== undefined)
      CompressionAlgorithmSchema.parse(options.compressionAlgorithm);
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
    this.#options = options;
    this.#folder = options.folder;
    this.#fsync = options.fsync ?? true;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10 * 60_000;
  }

  /** The container folder. */
  get folder(): string {
    return this.#folder;
  }

  get uuid(): string | null {
    return this.#tryConfig()?.container_id ?? null;
  }

  /** The container's settings; throws if it is not initialised. */
  get config(): ContainerConfig {
    return this.#requireConfig();
  }

  toString(): string {
    const id = this.uuid;
    return id === null
      ? 'DiskObjectStoreRepository: <uninitialised>'
      : `DiskObjectStoreRepository: ${id} | ${this.#folder}`;
  }

  // --- layout --------------------------------------------------------------------------------------------------

  #path(...parts: string[]): string {
    return join(this.#folder, ...parts);
  }

  #loosePath(key: string): string {
    const prefix = this.#requireConfig().loose_prefix_len;
    return prefix === 0
      ? this.#path('loose', key)
      : this.#path('loose', key.slice(0, prefix), key.slice(prefix));
  }

  #packPath(packId: number): string {
    return this.#path('packs', String(packId));
  }

  #tryConfig(): ContainerConfig | undefined {
    if (this.#config !== undefined) return this.#config;
    let text: string;
    try {
      text = readFileSync(this.#path('config.json'), 'utf8');
    } catch {
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new CorruptStorageError(`container config ${this.#path('config.json')} is not valid JSON`, {
        cause: error,
      });
    }
    const parsed = ContainerConfigSchema.safeParse(json);
    if (!parsed.success) {
      throw new CorruptStorageError(
        `container config ${this.#path('config.json')} is invalid: ${parsed.error.issues
          .map((issue) => `${issue.path.join('.') || '<root>'}: ${issue.message}`)
          .join('; ')}`,
      );
    }
    this.#config = parsed.data;
    return this.#config;
  }

  #requireConfig(): ContainerConfig {
    const config = this.#tryConfig();
    if (config === undefined) {
      throw new RepositoryError(
        `the container at ${this.#folder} is not initialised; call initialise() first`,
      );
    }
    return config;
  }

  #requireIndex(): PackIndex {
    this.#requireConfig();
    this.#index ??= PackIndex.open(this.#path('packs.idx'), { create: true, busyTimeoutMs: 60_000 });
    return this.#index;
  }

  async #wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isAiidaError(error)) throw error;
      throw new RepositoryError(`${what} failed in container ${this.#folder}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Runs pack-writing work one at a time in this process (other processes are kept out by the pack locks). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#packQueue.then(fn, fn);
    this.#packQueue = run.catch(() => undefined);
    return run;
  }

  // --- lifecycle ------------------------------------------------------------------------------------------------

  async initialise(): Promise<void> {
    await this.#wrap('initialise', async () => {
      if (await this.isInitialised()) return;
      await mkdir(this.#folder, { recursive: true });
      const foreign = (await readdir(this.#folder)).filter(
        (name) => !CONTAINER_ENTRIES.has(name) && !name.startsWith('.config.json.'),
      );
      if (foreign.length > 0) {
        throw new RepositoryError(
          `cannot initialise a container in ${this.#folder}: the folder holds other files (${foreign.slice(0, 5).join(', ')})`,
        );
      }
      for (const sub of ['packs', 'loose', 'duplicates', 'sandbox'])
        await mkdir(this.#path(sub), { recursive: true });
      PackIndex.open(this.#path('packs.idx'), { create: true, busyTimeoutMs: 60_000 }).close();
      const config: ContainerConfig = {
        container_version: 1,
        loose_prefix_len: this.#options.loosePrefixLen ?? DEFAULT_LOOSE_PREFIX_LEN,
        pack_size_target: this.#options.packSizeTarget ?? DEFAULT_PACK_SIZE_TARGET,
        hash_type: 'sha256',
        container_id: randomUUID().replaceAll('-', ''),
        compression_algorithm: this.#options.compressionAlgorithm ?? DEFAULT_COMPRESSION_ALGORITHM,
      };
      // Publish the config last and atomically: a concurrent initialiser either wins the link or adopts ours.
      const temporary = this.#path(`.config.json.${randomUUID()}`);
      await writeFile(temporary, JSON.stringify(config));
      try {
        await link(temporary, this.#path('config.json'));
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
      } finally {
        await unlink(temporary);
      }
      this.#config = undefined;
      this.#requireConfig();
    });
  }

  async isInitialised(): Promise<boolean> {
    try {
      if (this.#tryConfig() === undefined) return false;
    } catch {
      return false;
    }
    for (const sub of ['packs', 'loose', 'duplicates', 'sandbox']) {
      try {
        if (!(await stat(this.#path(sub))).isDirectory()) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  async close(): Promise<void> {
    await this.#packQueue;
    await this.#closePackHandles();
    this.#index?.close();
    this.#index = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async erase(): Promise<void> {
    await this.close();
    await rm(this.#folder, { recursive: true, force: true });
    this.#config = undefined;
    this.#knownShards = new Set();
    this.#currentPackId = 0;
  }

  // --- writing loose objects -------------------------------------------------------------------------------------

  async putObjectFromBuffer(content: Uint8Array): Promise<string> {
    if (!(content instanceof Uint8Array)) {
      throw new RepositoryError(`putObjectFromBuffer expects bytes (Uint8Array), got ${typeof content}`);
    }
    return this.#wrap('writing an object', async () => {
      const buffer = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
      const key = sha256Hex(buffer);
      // Already packed: nothing to write. (A loose duplicate is simply renamed over, which costs less than a stat.)
      if (this.#requireIndex().has(key)) return key;
      const temporary = this.#path('sandbox', randomUUID().replaceAll('-', ''));
      const handle = await open(temporary, 'wx');
      try {
        try {
          await handle.writeFile(buffer);
          if (this.#fsync) await handle.datasync();
        } finally {
          await handle.close();
        }
        await this.#publishLoose(temporary, key);
      } catch (error) {
        await unlink(temporary).catch(() => undefined);
        throw error;
      }
      return key;
    });
  }

  async putObjectFromStream(source: Readable | AsyncIterable<unknown>): Promise<string> {
    if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
      throw new RepositoryError('putObjectFromStream expects a readable byte stream');
    }
    return this.#wrap('writing an object', async () => {
      this.#requireConfig();
      const temporary = this.#path('sandbox', randomUUID().replaceAll('-', ''));
      const handle = await open(temporary, 'wx');
      const hasher = createHash('sha256');
      try {
        try {
          for await (const chunk of byteChunks(source)) {
            hasher.update(chunk);
            let written = 0;
            while (written < chunk.length) {
              const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
              written += bytesWritten;
            }
          }
          if (this.#fsync) await handle.datasync();
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
    });
  }

  /** Moves a finished sandbox file to its loose place, or drops it when the content is packed already. */
  async #publishLoose(temporary: string, key: string): Promise<void> {
    if (this.#requireIndex().has(key)) {
      await unlink(temporary);
      return;
    }
    const prefix = this.#requireConfig().loose_prefix_len;
    const shard = prefix === 0 ? this.#path('loose') : this.#path('loose', key.slice(0, prefix));
    if (!this.#knownShards.has(shard)) {
      await mkdir(shard, { recursive: true });
      this.#knownShards.add(shard);
    }
    // rename() replaces atomically: a concurrent writer of the same content leaves identical bytes, and a corrupt
    // existing copy is replaced by the good one. Readers holding the old file keep reading it.
    await rename(temporary, this.#loosePath(key));
    if (this.#fsync) {
      const directory = await open(shard, 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    }
  }

  // --- reading ----------------------------------------------------------------------------------------------------

  async hasObject(key: string): Promise<boolean> {
    const [present] = await this.hasObjects([key]);
    return present ?? false;
  }

  async hasObjects(keys: readonly string[]): Promise<boolean[]> {
    return this.#wrap('checking objects', async () => {
      const result = keys.map(() => false);
      const index = this.#requireIndex();
      const batch = 256;
      for (let start = 0; start < keys.length; start += batch) {
        await Promise.all(
          keys.slice(start, start + batch).map(async (key, offset) => {
            if (!isValidObjectKey(key)) return;
            result[start + offset] = await this.#isStoredWith(index, key);
          }),
        );
      }
      return result;
    });
  }

  async #isStoredWith(index: PackIndex, key: string): Promise<boolean> {
    try {
      await stat(this.#loosePath(key));
      return true;
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    return index.has(key);
  }

  async openStream(key: string): Promise<Readable> {
    assertValidObjectKey(key);
    return this.#wrap(`opening object ${key}`, async () => {
      try {
        const handle = await open(this.#loosePath(key), 'r');
        return handle.createReadStream({ highWaterMark: 1024 * 1024 });
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const row = this.#requireIndex().get(key);
      if (row === undefined) throw objectNotFound(key);
      return this.#openPacked(row);
    });
  }

  async #openPackHandle(row: PackedObjectRow) {
    try {
      return await open(this.#packPath(row.pack_id), 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        throw new CorruptStorageError(
          `pack ${row.pack_id} holding object ${row.hashkey} is missing from ${this.#folder}`,
        );
      }
      throw error;
    }
  }

  async #openPacked(row: PackedObjectRow): Promise<Readable> {
    const handle = await this.#openPackHandle(row);
    if (row.length === 0) {
      await handle.close();
      return Readable.from([]);
    }
    const raw = handle.createReadStream({
      start: row.offset,
      end: row.offset + row.length - 1,
      highWaterMark: 1024 * 1024,
    });
    if (!row.compressed) return raw;
    const inflater = createInflate({ chunkSize: 256 * 1024 });
    raw.on('error', (error) => inflater.destroy(error));
    inflater.on('close', () => raw.destroy());
    return raw.pipe(inflater);
  }

  async getObjectContent(key: string): Promise<Buffer> {
    assertValidObjectKey(key);
    return this.#wrap(`reading object ${key}`, async () => {
      try {
        return await readFile(this.#loosePath(key));
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const row = this.#requireIndex().get(key);
      if (row === undefined) throw objectNotFound(key);
      const raw = await this.#readPackedBytes(row);
      return row.compressed ? inflateAsync(raw) : raw;
    });
  }

  async #readPackedBytes(row: PackedObjectRow): Promise<Buffer> {
    return this.#withPackHandle(row, async (handle) => {
      const buffer = Buffer.allocUnsafe(row.length);
      let read = 0;
      while (read < row.length) {
        const { bytesRead } = await handle.read(buffer, read, row.length - read, row.offset + read);
        if (bytesRead === 0) {
          throw new CorruptStorageError(`pack ${row.pack_id} is truncated: object ${row.hashkey} ends past its end`);
        }
        read += bytesRead;
      }
      return buffer;
    });
  }

  /**
   * Runs `fn` with an open handle of the row's pack, kept open for the next small read (opening and closing the
   * pack per object would double the cost). A handle whose file was replaced by a repack (no links left) is
   * reopened.
   */
  async #withPackHandle<T>(row: PackedObjectRow, fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.#packHandles.get(row.pack_id);
    if (entry !== undefined && entry.users === 0 && fstatSync(entry.handle.fd).nlink === 0) {
      this.#packHandles.delete(row.pack_id);
      await entry.handle.close();
      entry = undefined;
    }
    if (entry === undefined) {
      const handle = await this.#openPackHandle(row);
      entry = this.#packHandles.get(row.pack_id);
      if (entry === undefined) {
        entry = { handle, users: 0 };
        this.#packHandles.set(row.pack_id, entry);
      } else {
        // Another read opened it meanwhile.
        await handle.close();
      }
    }
    entry.users += 1;
    try {
      return await fn(entry.handle);
    } finally {
      entry.users -= 1;
      if (this.#packHandles.size > 32) await this.#closePackHandles(true);
    }
  }

  /** Closes cached pack handles (only idle ones with `idleOnly`). */
  async #closePackHandles(idleOnly = false): Promise<void> {
    for (const [packId, entry] of [...this.#packHandles]) {
      if (idleOnly && entry.users > 0) continue;
      this.#packHandles.delete(packId);
      await entry.handle.close();
    }
  }

  async getObjectSize(key: string): Promise<number> {
    assertValidObjectKey(key);
    return this.#wrap(`reading the size of object ${key}`, async () => {
      try {
        return (await stat(this.#loosePath(key))).size;
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const row = this.#requireIndex().get(key);
      if (row === undefined) throw objectNotFound(key);
      return row.size;
    });
  }

  /** Streams every key: loose ones (not also packed) first, then packed ones in index order, each once. */
  async *listObjects(): AsyncGenerator<string> {
    const index = this.#requireIndex();
    const yieldedLoose = new Set<string>();
    for await (const key of this.#listLoose()) {
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

  /** Keys of loose files (some may also be packed), read shard by shard. */
  async *#listLoose(): AsyncGenerator<string> {
    const prefix = this.#requireConfig().loose_prefix_len;
    const looseFolder = this.#path('loose');
    let firstLevel: string[];
    try {
      firstLevel = await readdir(looseFolder);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    for (const first of firstLevel) {
      if (prefix === 0) {
        if (isValidObjectKey(first)) yield first;
        continue;
      }
      if (first.length !== prefix || !isHex(first)) continue;
      let second: string[];
      try {
        second = await readdir(join(looseFolder, first));
      } catch (error) {
        if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) continue;
        throw error;
      }
      for (const rest of second) {
        const key = first + rest;
        if (isValidObjectKey(key)) yield key;
      }
    }
  }

  async #listPackIds(): Promise<number[]> {
    const names = await readdir(this.#path('packs'));
    return names
      .filter(isPackId)
      .map(Number)
      .sort((a, b) => a - b);
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
    const unique = [...new Set(keys)];
    const present = await this.hasObjects(unique);
    const missing = unique.filter((_, i) => !present[i]);
    if (missing.length > 0) {
      throw new FileNotFoundError(
        `cannot delete: ${missing.length === 1 ? 'object' : 'objects'} with ${missing.length === 1 ? 'key' : 'keys'} ${missing
          .slice(0, 10)
          .map((key) => `\`${key}\``)
          .join(
            ', ',
          )}${missing.length > 10 ? ', …' : ''} ${missing.length === 1 ? 'does' : 'do'} not exist; nothing was deleted`,
      );
    }
    return this.#wrap('deleting objects', async () => {
      let freed = 0;
      const wanted = new Set(unique);
      const duplicates = await readdir(this.#path('duplicates'));
      for (const name of duplicates) {
        if (wanted.has(name.split('.')[0] ?? '')) await unlink(this.#path('duplicates', name));
      }
      for (const key of unique) {
        const path = this.#loosePath(key);
        try {
          freed += (await stat(path)).size;
          await unlink(path);
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
      }
      this.#requireIndex().deleteMany(unique);
      return freed;
    });
  }

  // --- packing --------------------------------------------------------------------------------------------------

  async #packIdToWriteTo(): Promise<number> {
    const target = this.#requireConfig().pack_size_target;
    let packId = this.#currentPackId;
    for (;;) {
      try {
        if ((await stat(this.#packPath(packId))).size < target) break;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) break;
        throw error;
      }
      packId += 1;
    }
    this.#currentPackId = packId;
    return packId;
  }

  async #openPackSession(): Promise<PackSession> {
    const config = this.#requireConfig();
    for (;;) {
      const packId = await this.#packIdToWriteTo();
      const release = await acquirePackLock(this.#path('packs', `${packId}.lock`), {
        timeoutMs: this.#lockTimeoutMs,
      });
      try {
        // Another packer may have filled this pack while we waited for its lock.
        let size = 0;
        try {
          size = (await stat(this.#packPath(packId))).size;
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
        if (size >= config.pack_size_target) {
          await release();
          continue;
        }
        const appender = await PackAppender.open(
          this.#packPath(packId),
          zlibLevel(config.compression_algorithm),
        );
        return { packId, appender, release, rows: [] };
      } catch (error) {
        await release();
        throw error;
      }
    }
  }

  /** Makes a pack's new objects durable and visible: flush (and fsync) the pack, then commit its index rows. */
  async #commitPackSession(session: PackSession): Promise<void> {
    try {
      await session.appender.close({ fsync: this.#fsync });
      this.#requireIndex().insertMany(
        session.rows.map((row) => ({
          hashkey: row.hashkey,
          compressed: row.compressed,
          size: row.size,
          offset: row.offset,
          length: row.length,
          packId: session.packId,
        })),
      );
    } finally {
      await session.release();
    }
  }

  async #abandonPackSession(session: PackSession): Promise<void> {
    try {
      await session.appender.abandon();
    } finally {
      await session.release();
    }
  }

  #packIsFull(session: PackSession): boolean {
    return session.appender.position >= this.#requireConfig().pack_size_target;
  }

  /**
   * Writes objects straight into packs, the fast path for bulk imports (disk-objectstore's `add_objects_to_pack`).
   * Items are buffers or byte streams; resolves to their keys in order. An object already stored is not written
   * again. Takes the pack lock, so it is safe beside other packers; it is meant for when nobody else writes much.
   */
  async addObjectsToPack(
    items: Iterable<PackSource> | AsyncIterable<PackSource>,
    options: AddObjectsToPackOptions = {},
  ): Promise<string[]> {
    const compress = options.compress ?? false;
    return this.#exclusive(() =>
      this.#wrap('adding objects to a pack', async () => {
        const index = this.#requireIndex();
        const keys: string[] = [];
        const written = new Set<string>();
        let session: PackSession | undefined = await this.#openPackSession();
        try {
          for await (const item of items) {
            if (this.#packIsFull(session)) {
              const full: PackSession = session;
              session = undefined;
              await this.#commitPackSession(full);
              session = await this.#openPackSession();
            }
            if (item instanceof Uint8Array) {
              const buffer = Buffer.from(item.buffer, item.byteOffset, item.byteLength);
              const key = sha256Hex(buffer);
              keys.push(key);
              if (written.has(key) || index.has(key)) continue;
              session.rows.push(await session.appender.appendBuffer(key, buffer, compress));
              written.add(key);
            } else if (item !== null && typeof item === 'object' && Symbol.asyncIterator in item) {
              const start = session.appender.position;
              const appended = await session.appender.appendStream(item, compress);
              keys.push(appended.hashkey);
              if (written.has(appended.hashkey) || index.has(appended.hashkey)) {
                session.appender.truncateTo(start);
                continue;
              }
              session.rows.push(appended);
              written.add(appended.hashkey);
            } else {
              throw new RepositoryError(
                `addObjectsToPack expects buffers or byte streams, got ${typeof item}`,
              );
            }
          }
        } catch (error) {
          if (session !== undefined) await this.#abandonPackSession(session);
          throw error;
        }
        await this.#commitPackSession(session);
        return keys;
      }),
    );
  }

  /** Reads a loose file for packing: whole when small, otherwise only its size (it is streamed later). */
  async #readLoose(key: string): Promise<LooseRead> {
    let handle;
    try {
      handle = await open(this.#loosePath(key), 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { key, kind: 'missing' };
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size > SMALL_OBJECT_BYTES) return { key, kind: 'large', size };
      return { key, kind: 'small', content: await handle.readFile() };
    } finally {
      await handle.close();
    }
  }

  /**
   * Packs every loose object not packed yet (disk-objectstore's `pack_all_loose`), safe while other processes read
   * and write loose objects. Each pack's rows are committed after the pack is synced; with `cleanLoosePerPack` the
   * loose copies go right after. Resolves to the number of objects packed.
   */
  async packAllLoose(options: PackAllLooseOptions = {}): Promise<number> {
    const mode = resolveCompressMode(options.compress);
    const validate = options.validate ?? true;
    const cleanLoose = options.cleanLoosePerPack ?? true;
    return this.#exclusive(() =>
      this.#wrap('packing loose objects', async () => {
        const index = this.#requireIndex();
        const level = zlibLevel(this.#requireConfig().compression_algorithm);
        const candidates: string[] = [];
        for await (const key of this.#listLoose()) candidates.push(key);
        if (candidates.length === 0) return 0;
        let packed = 0;
        let session: PackSession | undefined = await this.#openPackSession();
        const commit = async (current: PackSession): Promise<void> => {
          await this.#commitPackSession(current);
          packed += current.rows.length;
          if (cleanLoose) {
            for (const row of current.rows) await unlink(this.#loosePath(row.hashkey)).catch(() => undefined);
          }
        };
        try {
          const reads: Promise<LooseRead>[] = [];
          let next = 0;
          const refill = (): void => {
            while (reads.length < READ_AHEAD && next < candidates.length) {
              const key = candidates[next++] as string;
              // Already packed (by us earlier or another packer): the loose copy is cleaned by cleanStorage.
              reads.push(index.has(key) ? Promise.resolve({ key, kind: 'missing' }) : this.#readLoose(key));
            }
          };
          refill();
          while (reads.length > 0) {
            const read = await (reads.shift() as Promise<LooseRead>);
            refill();
            if (read.kind === 'missing' || index.has(read.key)) continue;
            if (this.#packIsFull(session)) {
              const full: PackSession = session;
              session = undefined;
              await commit(full);
              session = await this.#openPackSession();
            }
            if (read.kind === 'small') {
              if (validate && sha256Hex(read.content) !== read.key) {
                throw new CorruptStorageError(
                  `loose object ${read.key} is corrupt: its content hashes to ${sha256Hex(read.content)}`,
                );
              }
              const compress =
                mode === CompressMode.YES ||
                (mode === CompressMode.AUTO && worthCompressing(read.content, level));
              session.rows.push(await session.appender.appendBuffer(read.key, read.content, compress));
            } else {
              const handle = await open(this.#loosePath(read.key), 'r').catch((error: unknown) => {
                if (isErrno(error, 'ENOENT')) return undefined;
                throw error;
              });
              if (handle === undefined) continue;
              let compress = mode === CompressMode.YES;
              if (mode === CompressMode.AUTO) {
                const sample = Buffer.allocUnsafe(65536);
                const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
                compress = worthCompressing(sample.subarray(0, bytesRead), level);
              }
              const start = session.appender.position;
              const appended = await session.appender.appendStream(
                handle.createReadStream({ start: 0 }),
                compress,
              );
              if (validate && appended.hashkey !== read.key) {
                session.appender.truncateTo(start);
                throw new CorruptStorageError(
                  `loose object ${read.key} is corrupt: its content hashes to ${appended.hashkey}`,
                );
              }
              session.rows.push(appended);
            }
          }
        } catch (error) {
          if (session !== undefined) await this.#abandonPackSession(session);
          throw error;
        }
        await commit(session);
        return packed;
      }),
    );
  }

  /**
   * Rewrites packs without the bytes of deleted objects (disk-objectstore's `repack`, keeping each object's
   * compression), then VACUUMs the index. Packs without holes are left alone. A maintenance operation: nobody else
   * may use the container meanwhile. Resolves to the bytes freed.
   */
  async repack(): Promise<number> {
    return this.#exclusive(() =>
      this.#wrap('repacking', async () => {
        const index = this.#requireIndex();
        let freed = 0;
        await this.#closePackHandles(true);
        for (const packId of await this.#listPackIds()) {
          const packPath = this.#packPath(packId);
          const fileSize = (await stat(packPath)).size;
          const rows = index.rowsOfPack(packId);
          if (rows.length === 0) {
            await unlink(packPath);
            freed += fileSize;
            continue;
          }
          let end = 0;
          let contiguous = true;
          for (const row of rows) {
            if (row.offset !== end) contiguous = false;
            end = row.offset + row.length;
          }
          if (contiguous && end === fileSize) continue;
          freed += await this.#repackPack(packId, rows, fileSize);
        }
        index.vacuum();
        return freed;
      }),
    );
  }

  async #repackPack(
    packId: number,
    rows: (PackedObjectRow & { id: number })[],
    fileSize: number,
  ): Promise<number> {
    const index = this.#requireIndex();
    const scratch = this.#packPath(REPACK_PACK_ID);
    const releasePack = await acquirePackLock(this.#path('packs', `${packId}.lock`), {
      timeoutMs: this.#lockTimeoutMs,
    });
    try {
      const releaseScratch = await acquirePackLock(this.#path('packs', `${REPACK_PACK_ID}.lock`), {
        timeoutMs: this.#lockTimeoutMs,
      });
      try {
        try {
          await stat(scratch);
          throw new CorruptStorageError(
            `repack pack ${scratch} already exists: a previous repack was interrupted; inspect and remove it by hand`,
          );
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
        const source = await open(this.#packPath(packId), 'r');
        const target = await PackAppender.open(scratch, 1);
        const moves: { id: number; packId: number; offset: number; length: number; compressed: boolean }[] =
          [];
        try {
          for (const row of rows) {
            const offset = target.position;
            let copied = 0;
            while (copied < row.length) {
              const chunk = Buffer.allocUnsafe(Math.min(4 * 1024 * 1024, row.length - copied));
              const { bytesRead } = await source.read(chunk, 0, chunk.length, row.offset + copied);
              if (bytesRead === 0)
                throw new CorruptStorageError(`pack ${packId} is truncated at object ${row.hashkey}`);
              await target.appendRaw(chunk.subarray(0, bytesRead));
              copied += bytesRead;
            }
            moves.push({
              id: row.id,
              packId: REPACK_PACK_ID,
              offset,
              length: row.length,
              compressed: row.compressed,
            });
          }
          await target.close({ fsync: this.#fsync });
        } catch (error) {
          await target.abandon();
          await unlink(scratch).catch(() => undefined);
          throw error;
        } finally {
          await source.close();
        }
        // The same crash-safe order as disk-objectstore: point rows at the scratch pack, replace the old pack by a
        // hard link to the scratch pack, point rows back, drop the scratch name.
        index.relocate(moves);
        const newSize = (await stat(scratch)).size;
        await unlink(this.#packPath(packId));
        await link(scratch, this.#packPath(packId));
        index.renamePack(REPACK_PACK_ID, packId);
        await unlink(scratch);
        return fileSize - newSize;
      } finally {
        await releaseScratch();
      }
    } finally {
      await releasePack();
    }
  }

  /**
   * disk-objectstore's `clean_storage`: optionally VACUUM the index, reconcile `duplicates/`, delete loose copies of
   * packed objects, and (not live) empty the sandbox of files crashed writers left. Resolves to the bytes freed.
   */
  async cleanStorage(options: { readonly vacuum?: boolean; readonly live?: boolean } = {}): Promise<number> {
    return this.#exclusive(() =>
      this.#wrap('cleaning the storage', async () => {
        const index = this.#requireIndex();
        if (options.vacuum === true) index.vacuum();
        let freed = 0;
        freed += await this.#reconcileDuplicates();
        for await (const key of this.#listLoose()) {
          if (!index.has(key)) continue;
          const path = this.#loosePath(key);
          try {
            freed += (await stat(path)).size;
            await unlink(path);
          } catch (error) {
            if (!isErrno(error, 'ENOENT')) throw error;
          }
        }
        if (options.live === false) {
          for (const name of await readdir(this.#path('sandbox'))) {
            const path = this.#path('sandbox', name);
            freed += (await stat(path)).size;
            await rm(path, { recursive: true, force: true });
          }
        }
        return freed;
      }),
    );
  }

  async #reconcileDuplicates(): Promise<number> {
    const byKey = new Map<string, string[]>();
    for (const name of await readdir(this.#path('duplicates'))) {
      if (name.startsWith('.') || !name.includes('.')) continue;
      const key = name.slice(0, name.indexOf('.'));
      byKey.set(key, [...(byKey.get(key) ?? []), name]);
    }
    let freed = 0;
    for (const [key, names] of byKey) {
      let good: string | undefined;
      let stored: boolean;
      try {
        stored = (await this.#hashOfStored(key)) === key;
      } catch (error) {
        if (!(error instanceof FileNotFoundError)) throw error;
        throw new CorruptStorageError(
          `there is a duplicate of object ${key} that no longer exists; delete it with deleteObjects() or recover it by hand`,
          { cause: error },
        );
      }
      if (!stored) {
        for (const name of names) {
          if (sha256Hex(await readFile(this.#path('duplicates', name))) === key) {
            good = name;
            break;
          }
        }
        if (good === undefined)
          throw new CorruptStorageError(`the duplicates of object ${key} are all corrupt`);
        await rename(this.#path('duplicates', good), this.#loosePath(key));
      }
      for (const name of names) {
        if (name === good) continue;
        const path = this.#path('duplicates', name);
        freed += (await stat(path)).size;
        await unlink(path);
      }
    }
    return freed;
  }

  async #hashOfStored(key: string): Promise<string> {
    const hasher = createHash('sha256');
    for await (const chunk of await this.openStream(key)) hasher.update(chunk as Buffer);
    return hasher.digest('hex');
  }

  // --- maintenance and info ---------------------------------------------------------------------------------------

  async maintain(options: MaintainOptions): Promise<MaintainReport> {
    const { live } = options;
    if (live) {
      const forced = (['repack', 'cleanStorage', 'vacuum'] as const).filter(
        (name) => options[name] === true && name !== 'cleanStorage',
      );
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
    const packLoose = options.packLoose ?? true;
    const doRepack = live ? false : (options.repack ?? true);
    const clean = options.cleanStorage ?? true;
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
    if (packLoose) {
      const count = await this.countObjects();
      const size = await this.getTotalSize();
      actions.push(
        `Packing all loose files (${count.loose} files occupying ${mb(size.total_size_loose)} MB) ...`,
      );
      if (dryRun) {
        const index = this.#requireIndex();
        for await (const key of this.#listLoose()) if (!index.has(key)) looseObjectsPacked += 1;
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
    if (clean) {
      actions.push(`Cleaning the repository database (with \`vacuum=${vacuum ? 'True' : 'False'}\`) ...`);
      if (!dryRun) bytesFreed += await this.cleanStorage({ vacuum: vacuum && !doRepack, live });
    }
    return { looseObjectsPacked, objectsDeleted, bytesFreed, actions };
  }

  /** Numbers of loose objects, packed objects and pack files. */
  async countObjects(): Promise<ObjectCount> {
    return this.#wrap('counting objects', async () => {
      let loose = 0;
      for await (const key of this.#listLoose()) {
        void key;
        loose += 1;
      }
      return { packed: this.#requireIndex().count(), loose, pack_files: (await this.#listPackIds()).length };
    });
  }

  /** Byte totals with disk-objectstore's names. */
  async getTotalSize(): Promise<TotalSize> {
    return this.#wrap('measuring the container', async () => {
      const totals = this.#requireIndex().totals();
      let packfiles = 0;
      for (const packId of await this.#listPackIds()) packfiles += (await stat(this.#packPath(packId))).size;
      let indexes = 0;
      for (const name of ['packs.idx']) indexes += (await stat(this.#path(name))).size;
      let loose = 0;
      for await (const key of this.#listLoose()) {
        try {
          loose += (await stat(this.#loosePath(key))).size;
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
      }
      return {
        total_size_packed: totals.size,
        total_size_packed_on_disk: totals.length,
        total_size_packfiles_on_disk: packfiles,
        total_size_packindexes_on_disk: indexes,
        total_size_loose: loose,
      };
    });
  }

  /** aiida-core's `get_info` dictionary: hash and compression algorithm, counts, and with `detailed` sizes in MB. */
  async getInfo(options: { readonly detailed?: boolean } = {}): Promise<Record<string, unknown>> {
    const config = this.#requireConfig();
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
