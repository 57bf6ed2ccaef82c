import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { RepositoryError } from '../errors.js';
import {
  checkObjectHashes,
  type IntegrityCheckOptions,
  type RepositoryIntegrityReport,
} from '../repository/integrity.js';
import type { MaintainOptions, MaintainReport, RepositoryBackend } from '../repository/repository-backend.js';
import { sha256Hex } from '../repository/object-key.js';

/**
 * A content-addressed object store held in memory (sha256 keys, write-once), for `core.sqlite_temp` profiles and
 * tests. Everything is lost on `close()`.
 */
export class MemoryRepositoryBackend implements RepositoryBackend {
  readonly keyFormat = 'sha256' as const;
  #uuid: string | null = null;
  #objects = new Map<string, Buffer>();
  #closed = false;

  get uuid(): string | null {
    return this.#uuid;
  }

  async initialise(): Promise<void> {
    this.#assertOpen();
    this.#uuid ??= randomUUID().replaceAll('-', '');
    return Promise.resolve();
  }

  isInitialised(): Promise<boolean> {
    return Promise.resolve(this.#uuid !== null);
  }

  async putObjectFromStream(source: Readable): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) {
      if (typeof chunk === 'string') throw new RepositoryError('repository streams must be binary, got text');
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
    return this.putObjectFromBuffer(Buffer.concat(chunks));
  }

  putObjectFromBuffer(content: Uint8Array): Promise<string> {
    this.#assertOpen();
    const key = sha256Hex(content);
    if (!this.#objects.has(key)) this.#objects.set(key, Buffer.from(content));
    return Promise.resolve(key);
  }

  hasObject(key: string): Promise<boolean> {
    return Promise.resolve(this.#objects.has(key));
  }

  hasObjects(keys: readonly string[]): Promise<boolean[]> {
    return Promise.resolve(keys.map((key) => this.#objects.has(key)));
  }

  async openStream(key: string): Promise<Readable> {
    return Readable.from([await this.getObjectContent(key)]);
  }

  getObjectContent(key: string): Promise<Buffer> {
    const content = this.#objects.get(key);
    if (content === undefined)
      return Promise.reject(new RepositoryError(`object with key \`${key}\` does not exist.`));
    return Promise.resolve(Buffer.from(content));
  }

  async getObjectSize(key: string): Promise<number> {
    return (await this.getObjectContent(key)).length;
  }

  deleteObjects(keys: readonly string[]): Promise<void> {
    const missing = keys.filter((key) => !this.#objects.has(key));
    if (missing.length > 0) {
      return Promise.reject(
        new RepositoryError(`objects with keys ${missing.map((k) => `\`${k}\``).join(', ')} do not exist.`),
      );
    }
    for (const key of keys) this.#objects.delete(key);
    return Promise.resolve();
  }

  async *listObjects(): AsyncIterable<string> {
    for (const key of [...this.#objects.keys()]) yield await Promise.resolve(key);
  }

  maintain(options: MaintainOptions): Promise<MaintainReport> {
    void options;
    return Promise.resolve({ looseObjectsPacked: 0, objectsDeleted: 0, bytesFreed: 0, actions: [] });
  }

  checkIntegrity(options: IntegrityCheckOptions = {}): Promise<RepositoryIntegrityReport> {
    return checkObjectHashes(this, options);
  }

  getInfo(): Promise<Record<string, unknown>> {
    let size = 0;
    for (const content of this.#objects.values()) size += content.length;
    return Promise.resolve({ type: 'memory', objects: this.#objects.size, bytes: size });
  }

  erase(): Promise<void> {
    this.#objects.clear();
    this.#uuid = null;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#objects = new Map();
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw new RepositoryError('the in-memory repository is closed');
  }
}
