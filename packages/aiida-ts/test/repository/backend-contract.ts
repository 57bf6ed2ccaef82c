import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileNotFoundError, RepositoryError } from '../../src/errors.js';
import type { RepositoryBackend } from '../../src/repository.js';

/** How a backend under test is made and what kind of memory use to expect from it. */
export interface BackendContractOptions {
  readonly create: () => Promise<RepositoryBackend>;
  readonly cleanup: (backend: RepositoryBackend) => Promise<void>;
  /** True when content lives in memory: a stored object then costs its size in RAM, but no more. */
  readonly inMemory: boolean;
}

export const CONTENT_KEY = 'ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73';

export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/**
 * A deterministic byte stream of `size` bytes in 1 MiB chunks, each a fresh buffer (as a real source would hand
 * out), with its sha256 available once the stream has ended.
 */
export function generatedStream(size: number): { stream: Readable; sha256: () => string } {
  const hasher = createHash('sha256');
  const chunkSize = 1024 * 1024;
  let produced = 0;
  let counter = 0;
  const stream = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(chunkSize, size - produced);
      const chunk = Buffer.alloc(length, counter % 251);
      for (let offset = 0; offset + 4 <= length; offset += 4096)
        chunk.writeUInt32LE((counter * 7919 + offset) >>> 0, offset);
      counter += 1;
      produced += length;
      hasher.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hasher.digest('hex') };
}

/** Peak RSS growth (bytes) over `baseline` while `work` runs, sampled every 20 ms. */
export async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(timer);
  }
}

/** The behaviour every {@link RepositoryBackend} promises; run once per implementation. */
export function describeRepositoryBackendContract(name: string, options: BackendContractOptions): void {
  describe(`RepositoryBackend contract: ${name}`, () => {
    let backend: RepositoryBackend;

    beforeEach(async () => {
      backend = await options.create();
    });

    afterEach(async () => {
      await options.cleanup(backend);
    });

    it('is initialised after initialise(), idempotently, with sha256 keys', async () => {
      expect(backend.keyFormat).toBe('sha256');
      await backend.initialise();
      await backend.initialise();
      expect(await backend.isInitialised()).toBe(true);
    });

    it('stores from a buffer and returns the sha256 of the content as key', async () => {
      const key = await backend.putObjectFromBuffer(Buffer.from('content'));
      expect(key).toBe(CONTENT_KEY);
      expect(await backend.hasObject(key)).toBe(true);
      expect((await backend.getObjectContent(key)).toString()).toBe('content');
      expect(await backend.getObjectSize(key)).toBe(7);
    });

    it('stores from a stream of several chunks', async () => {
      const key = await backend.putObjectFromStream(Readable.from([Buffer.from('con'), Buffer.from('tent')]));
      expect(key).toBe(CONTENT_KEY);
      expect((await readAll(await backend.openStream(key))).toString()).toBe('content');
    });

    it('stores an empty object', async () => {
      const key = await backend.putObjectFromBuffer(new Uint8Array(0));
      expect(key).toBe(createHash('sha256').digest('hex'));
      expect(await backend.getObjectSize(key)).toBe(0);
      expect((await readAll(await backend.openStream(key))).length).toBe(0);
    });

    it('keeps its own copy of a buffer the caller changes afterwards', async () => {
      const buffer = Buffer.from('content');
      const key = await backend.putObjectFromBuffer(buffer);
      buffer.fill(0);
      expect((await backend.getObjectContent(key)).toString()).toBe('content');
    });

    it('rejects a stream of strings and non-byte input', async () => {
      await expect(
        backend.putObjectFromStream(Readable.from(['text'], { objectMode: true })),
      ).rejects.toThrow(/byte stream/);
      await expect(backend.putObjectFromBuffer('text' as unknown as Uint8Array)).rejects.toBeInstanceOf(
        RepositoryError,
      );
    });

    it('deduplicates equal content', async () => {
      const a = await backend.putObjectFromBuffer(Buffer.from('same'));
      const b = await backend.putObjectFromStream(Readable.from([Buffer.from('sa'), Buffer.from('me')]));
      expect(a).toBe(b);
      expect(await collect(backend.listObjects())).toEqual([a]);
    });

    it('answers hasObjects in order, false for unknown and malformed keys', async () => {
      const key = await backend.putObjectFromBuffer(Buffer.from('content'));
      const unknown = 'a'.repeat(64);
      expect(await backend.hasObjects([unknown, key, '../../etc/passwd', key])).toEqual([
        false,
        true,
        false,
        true,
      ]);
      expect(await backend.hasObject(unknown)).toBe(false);
    });

    it('rejects reads of unknown keys with a RepositoryError naming the key', async () => {
      await backend.initialise();
      const unknown = 'b'.repeat(64);
      await expect(backend.openStream(unknown)).rejects.toBeInstanceOf(FileNotFoundError);
      await expect(backend.openStream(unknown)).rejects.toThrow(unknown);
      await expect(backend.getObjectContent(unknown)).rejects.toBeInstanceOf(RepositoryError);
      await expect(backend.getObjectSize(unknown)).rejects.toBeInstanceOf(RepositoryError);
      await expect(backend.openStream('../config.json')).rejects.toThrow(/invalid object key/);
    });

    it('deletes objects', async () => {
      const a = await backend.putObjectFromBuffer(Buffer.from('a'));
      const b = await backend.putObjectFromBuffer(Buffer.from('b'));
      await backend.deleteObjects([a]);
      expect(await backend.hasObjects([a, b])).toEqual([false, true]);
      await expect(backend.getObjectContent(a)).rejects.toBeInstanceOf(RepositoryError);
    });

    it('deletes nothing when one key is unknown, and names it', async () => {
      const a = await backend.putObjectFromBuffer(Buffer.from('a'));
      const unknown = 'c'.repeat(64);
      const error = await backend.deleteObjects([a, unknown]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RepositoryError);
      expect(String(error)).toContain(unknown);
      expect(String(error)).not.toContain(a);
      expect(await backend.hasObject(a)).toBe(true);
    });

    it('lists every key once', async () => {
      const keys = await Promise.all(
        ['x', 'y', 'z', 'x'].map((text) => backend.putObjectFromBuffer(Buffer.from(text))),
      );
      expect((await collect(backend.listObjects())).sort()).toEqual([...new Set(keys)].sort());
    });

    it('survives many concurrent writers in one process', async () => {
      const texts = Array.from({ length: 200 }, (_, i) => `object-${i % 150}`);
      const keys = await Promise.all(
        texts.map((text, i) =>
          i % 2 === 0
            ? backend.putObjectFromBuffer(Buffer.from(text))
            : backend.putObjectFromStream(Readable.from([Buffer.from(text)])),
        ),
      );
      const unique = [...new Set(keys)];
      expect(unique).toHaveLength(150);
      expect((await collect(backend.listObjects())).sort()).toEqual(unique.sort());
      const contents = await Promise.all(keys.map((key) => backend.getObjectContent(key)));
      expect(contents.map(String)).toEqual(texts);
    });

    it('keeps content through maintenance, live and full, and deletes objects asked for', async () => {
      const keep = await backend.putObjectFromBuffer(Buffer.from('keep'));
      const drop = await backend.putObjectFromBuffer(Buffer.from('drop'));
      const live = await backend.maintain({ live: true });
      expect(live.objectsDeleted).toBe(0);
      await expect(backend.maintain({ live: true, deleteObjects: [drop] })).rejects.toBeInstanceOf(
        RepositoryError,
      );
      const dry = await backend.maintain({ live: false, dryRun: true, deleteObjects: [drop] });
      expect(dry.objectsDeleted).toBe(1);
      expect(await backend.hasObject(drop)).toBe(true);
      const full = await backend.maintain({ live: false, deleteObjects: [drop] });
      expect(full.objectsDeleted).toBe(1);
      expect(await backend.hasObjects([keep, drop])).toEqual([true, false]);
      expect((await backend.getObjectContent(keep)).toString()).toBe('keep');
    });

    it('reports info with the hash algorithm and object counts', async () => {
      await backend.putObjectFromBuffer(Buffer.from('one'));
      const info = await backend.getInfo();
      expect(info['SHA-hash algorithm']).toBe('sha256');
      expect(info).toHaveProperty('Objects');
      const detailed = await backend.getInfo({ detailed: true });
      expect(detailed).toHaveProperty('Size (MB)');
    });

    it('erases everything', async () => {
      const key = await backend.putObjectFromBuffer(Buffer.from('gone'));
      await backend.erase();
      expect(await backend.isInitialised()).toBe(false);
      await backend.initialise();
      expect(await backend.hasObject(key)).toBe(false);
      expect(await collect(backend.listObjects())).toEqual([]);
    });

    it('streams a 300 MB object in and out with bounded memory and the same sha256', async () => {
      await backend.initialise();
      const size = 300 * 1024 * 1024;
      const source = generatedStream(size);
      const written = await peakRssGrowth(() => backend.putObjectFromStream(source.stream));
      const key = written.result;
      expect(key).toBe(source.sha256());
      expect(await backend.getObjectSize(key)).toBe(size);
      const read = await peakRssGrowth(async () => {
        const hasher = createHash('sha256');
        let length = 0;
        for await (const chunk of await backend.openStream(key)) {
          hasher.update(chunk as Buffer);
          length += (chunk as Buffer).length;
        }
        return { sha: hasher.digest('hex'), length };
      });
      expect(read.result).toEqual({ sha: key, length: size });
      const limit = 120 * 1024 * 1024;
      if (options.inMemory) {
        // The object itself must sit in memory, but never twice.
        expect(written.growth).toBeLessThan(size + limit);
      } else {
        expect(written.growth).toBeLessThan(limit);
      }
      expect(read.growth).toBeLessThan(limit);
      await backend.deleteObjects([key]);
    }, 120_000);
  });
}
