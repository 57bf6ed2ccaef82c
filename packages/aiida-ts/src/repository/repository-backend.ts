import type { Readable } from 'node:stream';
import type { IntegrityCheckOptions, RepositoryIntegrityReport } from './integrity.js';

/** Options of {@link RepositoryBackend.maintain}, as `verdi storage maintain` passes them. */
export interface MaintainOptions {
  /** Full maintenance (pack loose objects, repack, vacuum) is allowed only when nothing else uses the storage. */
  readonly live: boolean;
  /** Report what would be done, change nothing. */
  readonly dryRun?: boolean;
  /** Also recompress and repack existing packs (full maintenance only; defaults to `!live`). */
  readonly repack?: boolean;
  /** Pack loose objects (default true); safe while the storage is in use. */
  readonly packLoose?: boolean;
  /** Remove loose copies of packed objects and stale duplicates (default true). */
  readonly cleanStorage?: boolean;
  /** VACUUM the pack index (full maintenance only; defaults to `!live`). */
  readonly vacuum?: boolean;
  /** Compress objects while packing, where it pays (disk-objectstore's `CompressMode.AUTO`, as aiida's `compress`). */
  readonly compress?: boolean;
  /**
   * Before full maintenance changes anything, check the storage and stop when data is missing or corrupt (default
   * true; false skips reading every object). Used by the storage's `maintain`, not by repository backends.
   */
  readonly verify?: boolean;
  /** Keys to delete first, typically the unreferenced ones the storage found (full maintenance only). */
  readonly deleteObjects?: readonly string[];
}

/** What a maintenance run did, or would do with `dryRun`. */
export interface MaintainReport {
  readonly looseObjectsPacked: number;
  readonly objectsDeleted: number;
  readonly bytesFreed: number;
  readonly actions: readonly string[];
}

/**
 * The object store behind a profile's file repository: content-addressed (sha256 hex keys), write-once.
 * The disk-objectstore implementation keeps aiida-core's container layout (loose objects, packs, the pack
 * index); a sandbox implementation keeps objects in memory for temporary profiles and unstored nodes.
 */
export interface RepositoryBackend {
  /** The container's uuid, stable for the life of the repository (null before initialisation). */
  readonly uuid: string | null;
  /** Always `sha256`, as aiida-core's `key_format`. */
  readonly keyFormat: 'sha256';
  /** Creates the container if needed; idempotent. */
  initialise(): Promise<void>;
  isInitialised(): Promise<boolean>;
  /** Streams `source` into the store without holding it whole in memory; resolves to its sha256 key. */
  putObjectFromStream(source: Readable): Promise<string>;
  putObjectFromBuffer(content: Uint8Array): Promise<string>;
  hasObject(key: string): Promise<boolean>;
  /** For each key, whether it is present, in the same order. */
  hasObjects(keys: readonly string[]): Promise<boolean[]>;
  /** A readable stream of the object; rejects with `RepositoryError` naming the key if it is absent. */
  openStream(key: string): Promise<Readable>;
  getObjectContent(key: string): Promise<Buffer>;
  getObjectSize(key: string): Promise<number>;
  /** Deletes the objects; unknown keys reject with `RepositoryError` and nothing is deleted. */
  deleteObjects(keys: readonly string[]): Promise<void>;
  /** Every key in the store, streamed. */
  listObjects(): AsyncIterable<string>;
  maintain(options: MaintainOptions): Promise<MaintainReport>;
  /**
   * Checks the store: its structure (for a disk-objectstore container, the pack index against the pack files) and,
   * with `hashes` (default), every object's content against its key. Reads only. Problems are reported, not thrown.
   */
  checkIntegrity(options?: IntegrityCheckOptions): Promise<RepositoryIntegrityReport>;
  /** Counts and sizes for `verdi storage info`. */
  getInfo(options?: { readonly detailed?: boolean }): Promise<Record<string, unknown>>;
  /** Removes every object and the container itself. */
  erase(): Promise<void>;
  close(): Promise<void>;
}
