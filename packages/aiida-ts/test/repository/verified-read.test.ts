import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptObjectError, isAiidaError } from '../../src/errors.js';
import { CompressMode, DiskObjectStoreRepositoryBackend } from '../../src/repository.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function container(): Promise<DiskObjectStoreRepositoryBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'aiida-ts-verify-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const backend = new DiskObjectStoreRepositoryBackend({ folder: join(dir, 'container') });
  cleanups.push(() => backend.close());
  await backend.initialise();
  return backend;
}

function looseFile(backend: DiskObjectStoreRepositoryBackend, key: string): string {
  return join(backend.folder, 'loose', key.slice(0, 2), key.slice(2));
}

function packedRow(
  backend: DiskObjectStoreRepositoryBackend,
  key: string,
): { pack_id: number; offset: number; length: number; compressed: number } {
  const index = new Database(join(backend.folder, 'packs.idx'), { readonly: true });
  try {
    return index
      .prepare('SELECT pack_id, offset, length, compressed FROM db_object WHERE hashkey = ?')
      .get(key) as {
      pack_id: number;
      offset: number;
      length: number;
      compressed: number;
    };
  } finally {
    index.close();
  }
}

/** Flips one byte of a file in place. */
async function flipByte(file: string, position: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ 0x40;
    await handle.write(byte, 0, 1, position);
  } finally {
    await handle.close();
  }
}

/** What reading the object whole and streamed gives: the content, or the error each failed with. */
async function readBothWays(
  backend: DiskObjectStoreRepositoryBackend,
  key: string,
): Promise<{ whole: unknown; streamed: unknown; streamedBytes: number }> {
  const whole = await backend.getObjectContent(key).catch((error: unknown) => error);
  let streamedBytes = 0;
  let streamed: unknown;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await backend.openStream(key)) {
      chunks.push(chunk as Buffer);
      streamedBytes += (chunk as Buffer).length;
    }
    streamed = Buffer.concat(chunks);
  } catch (error) {
    streamed = error;
  }
  return { whole, streamed, streamedBytes };
}

function expectCorrupt(error: unknown, key: string, where: RegExp): void {
  expect(error).toBeInstanceOf(CorruptObjectError);
  expect(isAiidaError(error)).toBe(true);
  expect((error as CorruptObjectError).key).toBe(key);
  expect((error as Error).message).toContain(`object ${key} is corrupt`);
  expect((error as Error).message).toMatch(where);
}

describe('reads of the disk-objectstore verify the content against its key', () => {
  const content = Buffer.concat([Buffer.from('header '), randomBytes(3000), Buffer.from(' '.repeat(5000))]);

  it('a tampered loose object fails whole reads and streamed reads, naming the key and the file', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(content);
    await flipByte(looseFile(backend, key), 100);
    const { whole, streamed, streamedBytes } = await readBothWays(backend, key);
    expectCorrupt(whole, key, /loose file .*loose\//);
    // the stream hands out the bytes it read, then fails instead of ending: a reader cannot take them as complete
    expectCorrupt(streamed, key, /loose file/);
    expect(streamedBytes).toBe(content.length);
  });

  it('flipped bytes in a pack fail both reads, plain and compressed', async () => {
    for (const compress of [CompressMode.NO, CompressMode.YES]) {
      const backend = await container();
      const key = await backend.putObjectFromBuffer(content);
      await backend.packAllLoose({ compress });
      const row = packedRow(backend, key);
      expect(Boolean(row.compressed)).toBe(compress === CompressMode.YES);
      await flipByte(
        join(backend.folder, 'packs', String(row.pack_id)),
        row.offset + Math.floor(row.length / 2),
      );
      const { whole, streamed } = await readBothWays(backend, key);
      expectCorrupt(whole, key, compress === CompressMode.YES ? /compressed/ : /pack .* at offset/);
      expectCorrupt(streamed, key, /pack /);
    }
  });

  it('a truncated pack fails both reads', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(content);
    await backend.packAllLoose();
    const row = packedRow(backend, key);
    await truncate(join(backend.folder, 'packs', String(row.pack_id)), row.offset + 10);
    const { whole, streamed } = await readBothWays(backend, key);
    expect((whole as Error).message).toContain(key);
    expect(isAiidaError(whole)).toBe(true);
    expectCorrupt(streamed, key, /10 bytes hash to/);
  });

  it('a corrupt loose copy of an object also packed is passed over for the good packed copy', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(content);
    await backend.packAllLoose({ cleanLoosePerPack: false });
    await writeFile(looseFile(backend, key), 'garbage');
    expect(await backend.getObjectContent(key)).toEqual(content);
  });

  it('intact objects read as before, loose, packed and compressed', async () => {
    const backend = await container();
    const loose = await backend.putObjectFromBuffer(Buffer.from('loose one'));
    expect((await readBothWays(backend, loose)).whole).toEqual(Buffer.from('loose one'));
    const packed = await backend.putObjectFromBuffer(content);
    await backend.packAllLoose({ compress: CompressMode.YES });
    const both = await readBothWays(backend, packed);
    expect(both.whole).toEqual(content);
    expect(both.streamed).toEqual(content);
    const empty = await backend.putObjectFromBuffer(Buffer.alloc(0));
    expect((await readBothWays(backend, empty)).streamed).toEqual(Buffer.alloc(0));
  });
});
