import { read } from 'node:fs';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ArchiveError } from '../../errors.js';
import { asError as toError } from '../../utils/as-error.js';

/** What yauzl and streams are handed: an Error (a non-Error rejection, which fs never makes, is wrapped). */
const asError = (error: unknown): Error => toError(error, ArchiveError, 'reading the archive failed');

/** Bytes read from the file at a time; small reads are served from these blocks. */
const BLOCK_SIZE = 1024 * 1024;
/** Blocks kept (least recently used dropped first): a few MiB whatever the size of the archive. */
const BLOCKS_KEPT = 4;
/** Bytes per chunk of an entry stream. */
const STREAM_CHUNK = 64 * 1024;

/**
 * The file access under yauzl for an archive: small reads (a central-directory record, a local file header, a small
 * entry's data) are served from a few cached 1 MiB blocks instead of one `read(2)` each. yauzl's own file reader
 * issues two system calls per central-directory record and three per entry read, which made the reads of a
 * 10,000-object archive cost more than everything else of an import. Large reads and entry streams go straight to
 * the file, so memory stays bounded by the cache whatever the archive's size.
 */
export class BlockFileReader extends yauzl.RandomAccessReader {
  readonly #fd: number;
  readonly #size: number;
  readonly #closeFile: () => Promise<void>;
  /** Block start offset → block bytes, in least-recently-used order (a Map keeps insertion order). */
  readonly #blocks = new Map<number, Buffer>();
  /** Block reads in flight, so concurrent readers of one block share one system call. */
  readonly #loading = new Map<number, Promise<Buffer>>();

  /** Reads the open file `fd` of `size` bytes; `closeFile` closes it when yauzl closes the zip. */
  constructor(fd: number, size: number, closeFile: () => Promise<void>) {
    super();
    this.#fd = fd;
    this.#size = size;
    this.#closeFile = closeFile;
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (error: Error | null, bytesRead?: number) => void,
  ): void {
    this.readInto(buffer, offset, length, position).then(
      (bytesRead) => callback(null, bytesRead),
      (error: unknown) => callback(asError(error)),
    );
  }

  /** Copies up to `length` bytes at `position` into `buffer`; resolves to the count copied (short only at EOF). */
  async readInto(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const end = Math.min(position + length, this.#size);
    if (end <= position) return 0;
    if (end - position > BLOCK_SIZE) return this.#readDirect(buffer, offset, end - position, position);
    let copied = 0;
    let at = position;
    while (at < end) {
      const start = at - (at % BLOCK_SIZE);
      const block = this.#blocks.get(start) ?? (await this.#load(start));
      const from = at - start;
      const count = Math.min(block.length - from, end - at);
      if (count <= 0) break;
      block.copy(buffer, offset + copied, from, from + count);
      copied += count;
      at += count;
    }
    return copied;
  }

  #load(start: number): Promise<Buffer> {
    const pending = this.#loading.get(start);
    if (pending !== undefined) return pending;
    const length = Math.min(BLOCK_SIZE, this.#size - start);
    const done = (async (): Promise<Buffer> => {
      const block = Buffer.allocUnsafe(length);
      const bytesRead = await this.#readDirect(block, 0, length, start);
      const loaded = block.subarray(0, bytesRead);
      this.#blocks.set(start, loaded);
      while (this.#blocks.size > BLOCKS_KEPT) {
        const oldest = this.#blocks.keys().next().value;
        if (oldest === undefined) break;
        this.#blocks.delete(oldest);
      }
      return loaded;
    })();
    this.#loading.set(start, done);
    return done.finally(() => this.#loading.delete(start));
  }

  #readDirect(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let total = 0;
      const next = (): void => {
        read(this.#fd, buffer, offset + total, length - total, position + total, (error, bytesRead) => {
          if (error !== null) {
            reject(error);
            return;
          }
          total += bytesRead;
          if (bytesRead === 0 || total >= length) resolve(total);
          else next();
        });
      };
      next();
    });
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // a Readable of our own: fs.createReadStream closes a descriptor it was given when destroyed, even with
    // autoClose off, and this descriptor serves every entry of the archive
    let at = start;
    const readable: Readable = new Readable({
      highWaterMark: STREAM_CHUNK,
      read: (size) => {
        const length = Math.min(Math.max(size, 1), STREAM_CHUNK, end - at);
        if (length <= 0) {
          readable.push(null);
          return;
        }
        const chunk = Buffer.allocUnsafe(length);
        this.#readDirect(chunk, 0, length, at).then(
          (bytesRead) => {
            at += bytesRead;
            if (bytesRead === 0) readable.push(null);
            else readable.push(chunk.subarray(0, bytesRead));
          },
          (error: unknown) => readable.destroy(asError(error)),
        );
      },
    });
    return readable;
  }

  override close(callback: (error: Error | null) => void): void {
    this.#blocks.clear();
    this.#closeFile().then(
      () => callback(null),
      (error: unknown) => callback(asError(error)),
    );
  }
}
