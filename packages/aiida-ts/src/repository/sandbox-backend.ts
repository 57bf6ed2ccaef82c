import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { FileNotFoundError, RepositoryError } from '../errors.js';
import {
  assertValidObjectKey,
  asyncIterableOf,
  byteChunks,
  isValidObjectKey,
  objectNotFound,
  settle,
  sha256Hex,
} from './object-key.js';
import {
  checkObjectHashes,
  type IntegrityCheckOptions,
  type RepositoryIntegrityReport,
} from './integrity.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from './repository-backend.js';

const BYTES_PER_MB = 1024 * 1024;

interface StoredObject {
  /** Content as written, in the chunks it arrived in, so a large object is never copied into one buffer. */
  readonly chunks: readonly Buffer[];
  readonly size: number;
}

/**
 * A repository backend that keeps objects in memory: for temporary profiles, unstored nodes and tests. Same
 * contract as the disk-objectstore backend (sha256 keys, deduplication, all-or-nothing deletes), no container on
 * disk, and like aiida-core's sandbox it has no uuid. Content lives as long as the backend object.
 */
export class SandboxRepositoryBackend implements RepositoryBackend {
  readonly uuid = null;
  readonly keyFormat = 'sha256' as const;
  #objects = new Map<string, StoredObject>();
  #initialised = false;

  toString(): string {
    return this.#initialised
      ? `SandboxRepository: ${this.#objects.size} objects in memory`
      : 'SandboxRepository: <uninitialised>';
  }

  initialise(): Promise<void> {
    this.#initialised = true;
    return Promise.resolve();
  }

  isInitialised(): Promise<boolean> {
    return Promise.resolve(this.#initialised);
  }

  putObjectFromBuffer(content: Uint8Array): Promise<string> {
    return settle(() => {
      if (!(content instanceof Uint8Array)) {
        throw new RepositoryError(`putObjectFromBuffer expects bytes (Uint8Array), got ${typeof content}`);
      }
      this.#initialised = true;
      const key = sha256Hex(content);
      // Copy: the caller may reuse its buffer after the promise resolves.
      if (!this.#objects.has(key))
        this.#objects.set(key, { chunks: [Buffer.from(content)], size: content.byteLength });
      return key;
    });
  }

  async putObjectFromStream(source: Readable | AsyncIterable<unknown>): Promise<string> {
    if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
      throw new RepositoryError('putObjectFromStream expects a readable byte stream');
    }
    this.#initialised = true;
    const hasher = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of byteChunks(source)) {
      hasher.update(chunk);
      // Streams may hand out views of pooled memory; own a copy.
      chunks.push(Buffer.from(chunk));
      size += chunk.length;
    }
    const key = hasher.digest('hex');
    if (!this.#objects.has(key)) this.#objects.set(key, { chunks, size });
    return key;
  }

  hasObject(key: string): Promise<boolean> {
    return Promise.resolve(isValidObjectKey(key) && this.#objects.has(key));
  }

  hasObjects(keys: readonly string[]): Promise<boolean[]> {
    return settle(() => keys.map((key) => isValidObjectKey(key) && this.#objects.has(key)));
  }

  #get(key: string): StoredObject {
    assertValidObjectKey(key);
    const stored = this.#objects.get(key);
    if (stored === undefined) throw objectNotFound(key);
    return stored;
  }

  openStream(key: string): Promise<Readable> {
    return settle(() => Readable.from(this.#get(key).chunks, { objectMode: false }));
  }

  getObjectContent(key: string): Promise<Buffer> {
    return settle(() => {
      const stored = this.#get(key);
      return stored.chunks.length === 1
        ? Buffer.from(stored.chunks[0] as Buffer)
        : Buffer.concat(stored.chunks, stored.size);
    });
  }

  getObjectSize(key: string): Promise<number> {
    return settle(() => this.#get(key).size);
  }

  deleteObjects(keys: readonly string[]): Promise<void> {
    return settle(() => this.#deleteObjects(keys));
  }

  #deleteObjects(keys: readonly string[]): void {
    const missing = [...new Set(keys)].filter((key) => !isValidObjectKey(key) || !this.#objects.has(key));
    if (missing.length > 0) {
      throw new FileNotFoundError(
        `cannot delete: no ${missing.length === 1 ? 'object' : 'objects'} with ${missing.length === 1 ? 'key' : 'keys'} ${missing
          .slice(0, 10)
          .map((key) => `\`${key}\``)
          .join(', ')}${missing.length > 10 ? ', …' : ''}; nothing was deleted`,
      );
    }
    for (const key of keys) this.#objects.delete(key);
  }

  listObjects(): AsyncIterableIterator<string> {
    // A snapshot, so deleting while listing is safe.
    return asyncIterableOf(this.#objects.keys());
  }

  maintain(options: MaintainOptions): Promise<MaintainReport> {
    return settle(() => this.#maintain(options));
  }

  #maintain(options: MaintainOptions): MaintainReport {
    const toDelete = [...new Set(options.deleteObjects ?? [])];
    if (options.live && toDelete.length > 0) {
      throw new RepositoryError(
        'deleting objects is a full maintenance operation and cannot run with `live=true`',
      );
    }
    let bytesFreed = 0;
    const actions: string[] = [];
    if (toDelete.length > 0) {
      actions.push(`Deleting ${toDelete.length} unreferenced objects ...`);
      if (options.dryRun !== true) {
        for (const key of toDelete) bytesFreed += this.#objects.get(key)?.size ?? 0;
        this.#deleteObjects(toDelete);
      }
    }
    // Nothing is loose or packed in memory: there is nothing else to maintain.
    return { looseObjectsPacked: 0, objectsDeleted: toDelete.length, bytesFreed, actions };
  }

  checkIntegrity(options: IntegrityCheckOptions = {}): Promise<RepositoryIntegrityReport> {
    return checkObjectHashes(this, options);
  }

  getInfo(options: { readonly detailed?: boolean } = {}): Promise<Record<string, unknown>> {
    const info: Record<string, unknown> = {
      'SHA-hash algorithm': 'sha256',
      'Compression algorithm': 'none',
      Objects: { count: this.#objects.size },
    };
    if (options.detailed === true) {
      let total = 0;
      for (const stored of this.#objects.values()) total += stored.size;
      info['Size (MB)'] = { total_size: Number((total / BYTES_PER_MB).toFixed(2)) };
    }
    return Promise.resolve(info);
  }

  erase(): Promise<void> {
    this.#objects = new Map();
    this.#initialised = false;
    return Promise.resolve();
  }

  close(): Promise<void> {
    // Nothing to release: the objects stay readable until erase().
    return Promise.resolve();
  }
}
