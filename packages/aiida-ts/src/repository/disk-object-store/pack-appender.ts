import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflate, deflateSync } from 'node:zlib';
import { byteChunks } from '../object-key.js';

/** Bytes buffered in memory before they are written to the pack file. */
const FLUSH_THRESHOLD = 4 * 1024 * 1024;

/**
 * zlib settings for one object held in memory: a window no larger than the object (9 to 15 bits) and a matching
 * hash table. Matches never reach further back than the object's start anyway, so the output is as small, but
 * setting up the compressor for a small object costs half as much. Any zlib reader (disk-objectstore's included)
 * inflates it with its default window.
 */
export function deflateOptions(
  size: number,
  level: number,
): { level: number; windowBits: number; memLevel: number } {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(Math.max(size, 1)))));
  return { level, windowBits, memLevel: Math.min(8, Math.max(2, windowBits - 7)) };
}

/** Where one object landed in a pack. */
export interface AppendedObject {
  readonly hashkey: string;
  /** Uncompressed size. */
  readonly size: number;
  readonly offset: number;
  /** Bytes on disk (compressed length when compressed). */
  readonly length: number;
  readonly compressed: boolean;
}

/**
 * Appends objects to one pack file the caller has locked. Small objects are gathered in memory and written with one
 * `writev` per few MB, which is what makes bulk packing fast; a streamed object is written as it arrives, so memory
 * stays bounded. Writes are positional, so an object found to be a duplicate after streaming can be taken back
 * (disk-objectstore's `no_holes`).
 */
export class PackAppender {
  readonly #handle: FileHandle;
  readonly #zlibLevel: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** End of the bytes already written to the file. */
  #writtenEnd: number;
  /** Largest file size we produced; the file is truncated to the logical end if a take-back left bytes past it. */
  #maxWritten: number;

  private constructor(handle: FileHandle, size: number, zlibLevel: number) {
    this.#handle = handle;
    this.#writtenEnd = size;
    this.#maxWritten = size;
    this.#zlibLevel = zlibLevel;
  }

  /** Opens (creating if needed) the pack at `path`; new objects go after its current end. */
  static async open(path: string, zlibLevel: number): Promise<PackAppender> {
    const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      const { size } = await handle.stat();
      return new PackAppender(handle, size, zlibLevel);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Logical end of the pack: the offset the next object gets. */
  get position(): number {
    return this.#writtenEnd + this.#pendingBytes;
  }

  #push(data: Buffer): void {
    if (data.length === 0) return;
    this.#pending.push(data);
    this.#pendingBytes += data.length;
  }

  async #flushIfLarge(): Promise<void> {
    if (this.#pendingBytes >= FLUSH_THRESHOLD) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const buffers = this.#pending;
    const position = this.#writtenEnd;
    this.#pending = [];
    this.#writtenEnd += this.#pendingBytes;
    this.#pendingBytes = 0;
    let written = 0;
    let remaining = buffers;
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    // writev may write less than asked; continue from where it stopped.
    while (written < total) {
      const { bytesWritten } = await this.#handle.writev(remaining, position + written);
      written += bytesWritten;
      if (written < total) remaining = [Buffer.concat(buffers).subarray(written)];
    }
    this.#maxWritten = Math.max(this.#maxWritten, this.#writtenEnd);
  }

  /** Appends an object held in memory whose key is already known; returns where it went. */
  async appendBuffer(hashkey: string, content: Buffer, compress: boolean): Promise<AppendedObject> {
    const offset = this.position;
    const data = compress ? deflateSync(content, deflateOptions(content.length, this.#zlibLevel)) : content;
    this.#push(data);
    await this.#flushIfLarge();
    return { hashkey, size: content.length, offset, length: data.length, compressed: compress };
  }

  /** Appends bytes as they are (repacking copies already-encoded objects). */
  async appendRaw(data: Buffer): Promise<void> {
    this.#push(data);
    await this.#flushIfLarge();
  }

  /** Streams an object into the pack, hashing (and optionally compressing) on the way. */
  async appendStream(source: AsyncIterable<unknown>, compress: boolean): Promise<AppendedObject> {
    const offset = this.position;
    const hasher = createHash('sha256');
    let size = 0;
    const tapped = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of byteChunks(source)) {
        hasher.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    };
    const sink = new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.#push(chunk);
        this.#flushIfLarge().then(() => callback(), callback);
      },
    });
    if (compress) {
      await pipeline(tapped, createDeflate({ level: this.#zlibLevel }), sink);
    } else {
      await pipeline(tapped, sink);
    }
    return {
      hashkey: hasher.digest('hex'),
      size,
      offset,
      length: this.position - offset,
      compressed: compress,
    };
  }

  /** Takes back everything after `position` (an object that turned out to be packed already). */
  truncateTo(position: number): void {
    if (position >= this.#writtenEnd) {
      let keep = position - this.#writtenEnd;
      const kept: Buffer[] = [];
      for (const buffer of this.#pending) {
        if (keep <= 0) break;
        kept.push(buffer.length <= keep ? buffer : buffer.subarray(0, keep));
        keep -= buffer.length;
      }
      this.#pending = kept;
      this.#pendingBytes = position - this.#writtenEnd;
    } else {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#writtenEnd = position;
    }
  }

  /** Writes what is left, drops bytes past the logical end, optionally syncs to disk, and closes. */
  async close(options: { readonly fsync: boolean }): Promise<void> {
    try {
      await this.flush();
      if (this.#maxWritten > this.#writtenEnd) await this.#handle.truncate(this.#writtenEnd);
      if (options.fsync) await this.#handle.sync();
    } finally {
      await this.#handle.close();
    }
  }

  /** Closes without flushing (after an error; the index never points at unflushed bytes). */
  async abandon(): Promise<void> {
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#handle.close();
  }
}
