import { randomUUID } from 'node:crypto';
import { fstatSync, readFileSync } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptStorageError, RepositoryError } from '../../errors.js';
import { isValidObjectKey } from '../object-key.js';
import {
  ContainerConfigSchema,
  DEFAULT_COMPRESSION_ALGORITHM,
  DEFAULT_LOOSE_PREFIX_LEN,
  DEFAULT_PACK_SIZE_TARGET,
} from './container-config.js';
import type { ContainerConfig } from './container-config.js';
import { PackIndex } from './pack-index.js';
import type { PackedObjectRow } from './pack-index.js';

/** The sub-folders `is_initialised` checks, as disk-objectstore. */
const SUBFOLDERS = ['packs', 'loose', 'duplicates', 'sandbox'] as const;

/** Entries a container folder may hold (a folder with anything else is not ours to initialise). */
const CONTAINER_ENTRIES = new Set([
  'config.json',
  ...SUBFOLDERS,
  'packs.idx',
  'packs.idx-wal',
  'packs.idx-shm',
  'packs.idx-journal',
]);

/** Cached open pack files beyond which idle ones are closed. */
const MAX_OPEN_PACKS = 32;

/** Whether a Node fs error carries this errno code (`ENOENT`, `EEXIST`, …). */
export function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/** Settings of one {@link Container}; the creation settings only matter to `create`. */
export interface ContainerSettings {
  readonly folder: string;
  readonly packSizeTarget?: number | undefined;
  readonly loosePrefixLen?: number | undefined;
  readonly compressionAlgorithm?: string | undefined;
  readonly fsync: boolean;
  readonly lockTimeoutMs: number;
}

/**
 * One disk-objectstore container folder: where things are (config, loose shards, packs, index), its parsed
 * config, the open pack index and a small cache of open pack files. The backend and the packing and maintenance
 * modules all work through it.
 */
export class Container {
  readonly folder: string;
  readonly fsync: boolean;
  readonly lockTimeoutMs: number;
  /** First pack id worth checking for room; only grows, as packs fill. */
  packIdHint = 0;
  readonly #settings: ContainerSettings;
  #config: ContainerConfig | undefined;
  #index: PackIndex | undefined;
  #knownShards = new Set<string>();
  /** Open pack files for small reads, with the number of reads using each. */
  readonly #packHandles = new Map<number, { handle: FileHandle; users: number }>();

  constructor(settings: ContainerSettings) {
    this.#settings = settings;
    this.folder = settings.folder;
    this.fsync = settings.fsync;
    this.lockTimeoutMs = settings.lockTimeoutMs;
  }

  // --- where things are --------------------------------------------------------------------------------------

  path(...parts: string[]): string {
    return join(this.folder, ...parts);
  }

  /** The shard folder of a key (`loose/` itself when loose_prefix_len is 0). */
  shardPath(key: string): string {
    const prefix = this.config.loose_prefix_len;
    return prefix === 0 ? this.path('loose') : this.path('loose', key.slice(0, prefix));
  }

  loosePath(key: string): string {
    const prefix = this.config.loose_prefix_len;
    return prefix === 0
      ? this.path('loose', key)
      : this.path('loose', key.slice(0, prefix), key.slice(prefix));
  }

  packPath(packId: number): string {
    return this.path('packs', String(packId));
  }

  lockPath(packId: number): string {
    return this.path('packs', `${packId}.lock`);
  }

  /** Creates the shard folder of a key once per process. */
  async ensureShard(key: string): Promise<string> {
    const shard = this.shardPath(key);
    if (!this.#knownShards.has(shard)) {
      await mkdir(shard, { recursive: true });
      this.#knownShards.add(shard);
    }
    return shard;
  }

  // --- config and index ----------------------------------------------------------------------------------------

  /** The parsed config, or undefined when there is no config file; a corrupt one throws `CorruptStorageError`. */
  tryConfig(): ContainerConfig | undefined {
    if (this.#config !== undefined) return this.#config;
    const file = this.path('config.json');
    let text: string;
    try {
      // Synchronous: a few hundred bytes, read once, and `uuid` must be a plain property.
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new CorruptStorageError(`container config ${file} is not valid JSON`, { cause: error });
    }
    const parsed = ContainerConfigSchema.safeParse(json);
    if (!parsed.success) {
      throw new CorruptStorageError(
        `container config ${file} is invalid: ${parsed.error.issues
          .map((issue) => `${issue.path.join('.') || '<root>'}: ${issue.message}`)
          .join('; ')}`,
      );
    }
    this.#config = parsed.data;
    return this.#config;
  }

  get config(): ContainerConfig {
    const config = this.tryConfig();
    if (config === undefined) {
      throw new RepositoryError(
        `the container at ${this.folder} is not initialised; call initialise() first`,
      );
    }
    return config;
  }

  get index(): PackIndex {
    void this.config;
    this.#index ??= PackIndex.open(this.path('packs.idx'), { create: true, busyTimeoutMs: 60_000 });
    return this.#index;
  }

  // --- lifecycle -----------------------------------------------------------------------------------------------

  /** disk-objectstore's `is_initialised`: a readable config and the four sub-folders. */
  async isInitialised(): Promise<boolean> {
    try {
      if (this.tryConfig() === undefined) return false;
    } catch {
      return false;
    }
    for (const sub of SUBFOLDERS) {
      try {
        if (!(await stat(this.path(sub))).isDirectory()) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /**
   * Creates the container: sub-folders and index first, then `config.json` published atomically by a hard link,
   * so a concurrent creator either wins or adopts the winner's config, and a half-written config is never seen.
   */
  async create(): Promise<void> {
    await mkdir(this.folder, { recursive: true });
    const foreign = (await readdir(this.folder)).filter(
      (name) => !CONTAINER_ENTRIES.has(name) && !name.startsWith('.config.json.'),
    );
    if (foreign.length > 0) {
      throw new RepositoryError(
        `cannot initialise a container in ${this.folder}: the folder holds other files (${foreign.slice(0, 5).join(', ')})`,
      );
    }
    for (const sub of SUBFOLDERS) await mkdir(this.path(sub), { recursive: true });
    PackIndex.open(this.path('packs.idx'), { create: true, busyTimeoutMs: 60_000 }).close();
    const config: ContainerConfig = {
      container_version: 1,
      loose_prefix_len: this.#settings.loosePrefixLen ?? DEFAULT_LOOSE_PREFIX_LEN,
      pack_size_target: this.#settings.packSizeTarget ?? DEFAULT_PACK_SIZE_TARGET,
      hash_type: 'sha256',
      container_id: randomUUID().replaceAll('-', ''),
      compression_algorithm: this.#settings.compressionAlgorithm ?? DEFAULT_COMPRESSION_ALGORITHM,
    };
    const temporary = this.path(`.config.json.${randomUUID()}`);
    await writeFile(temporary, JSON.stringify(config));
    try {
      await link(temporary, this.path('config.json'));
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    } finally {
      await unlink(temporary);
    }
    this.#config = undefined;
    void this.config;
  }

  /** Closes the index and cached pack files; the container stays usable (they reopen on demand). */
  async close(): Promise<void> {
    await this.closePackHandles();
    this.#index?.close();
    this.#index = undefined;
  }

  /** Forgets everything cached about the folder (after it was deleted). */
  forget(): void {
    this.#config = undefined;
    this.#knownShards = new Set();
    this.packIdHint = 0;
  }

  // --- listing -------------------------------------------------------------------------------------------------

  /** Keys of loose files (some may also be packed), read shard by shard. */
  async *listLoose(): AsyncGenerator<string> {
    const prefix = this.config.loose_prefix_len;
    const looseFolder = this.path('loose');
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
      if (first.length !== prefix || !/^[0-9a-f]+$/.test(first)) continue;
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

  /** Ids of the pack files present, ascending (lock files and the repack scratch pack are not packs). */
  async listPackIds(): Promise<number[]> {
    const names = await readdir(this.path('packs'));
    return names
      .filter((name) => /^(0|[1-9][0-9]*)$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  }

  // --- open packs ----------------------------------------------------------------------------------------------

  /** Opens the pack holding `row`; a missing pack file is corrupt storage. */
  async openPack(row: PackedObjectRow): Promise<FileHandle> {
    try {
      return await open(this.packPath(row.pack_id), 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        throw new CorruptStorageError(
          `pack ${row.pack_id} holding object ${row.hashkey} is missing from ${this.folder}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Runs `fn` with an open handle of the row's pack, kept open for the next small read (opening and closing the
   * pack per object would double the cost). A handle whose file a repack replaced (no links left) is reopened.
   */
  async withPackHandle<T>(row: PackedObjectRow, fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.#packHandles.get(row.pack_id);
    if (entry !== undefined && entry.users === 0 && fstatSync(entry.handle.fd).nlink === 0) {
      this.#packHandles.delete(row.pack_id);
      await entry.handle.close();
      entry = undefined;
    }
    if (entry === undefined) {
      const handle = await this.openPack(row);
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
      if (this.#packHandles.size > MAX_OPEN_PACKS) await this.closePackHandles(true);
    }
  }

  /** Closes cached pack handles (only idle ones with `idleOnly`). */
  async closePackHandles(idleOnly = false): Promise<void> {
    for (const [packId, entry] of [...this.#packHandles]) {
      if (idleOnly && entry.users > 0) continue;
      this.#packHandles.delete(packId);
      await entry.handle.close();
    }
  }
}
