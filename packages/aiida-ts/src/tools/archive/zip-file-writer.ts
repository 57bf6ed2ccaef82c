import { open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { crc32, createDeflateRaw } from 'node:zlib';
import { ArchiveExportError } from '../../errors.js';
import { asError } from '../../utils/as-error.js';

/** Bytes gathered before one write to the file: one system call per MiB instead of two or three per entry. */
const WRITE_BYTES = 1024 * 1024;

/**
 * Bytes of stored entries held back while a streamed entry is being written (see {@link ZipFileWriter.addStream}):
 * past it, {@link ZipFileWriter.backlog} asks the caller to wait for the stream.
 */
const QUEUE_BYTES = 16 * 1024 * 1024;

/** Bytes of the central directory gathered per chunk (it is kept until the end, as compact bytes, not objects). */
const CENTRAL_CHUNK_BYTES = 256 * 1024;

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const ZIP64_END_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EXTRA_ID = 0x0001;
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_BYTES = 22;
const ZIP64_END_BYTES = 56;
const ZIP64_LOCATOR_BYTES = 20;

/** Where a local header keeps the CRC-32 and the two 32-bit sizes. */
const LOCAL_CRC_OFFSET = 14;

const MAX_16 = 0xffff;
const MAX_32 = 0xffffffff;

/**
 * A streamed entry whose uncompressed size reaches this gets ZIP64 sizes in its local header, since its header
 * is written before its compressed size is known: the margin to 4 GiB exceeds what deflate can add to any input.
 */
const ZIP64_STREAM_THRESHOLD = 0xf0000000;

/** "Version needed to extract": 2.0 for deflate, 4.5 for ZIP64. */
const VERSION_DEFLATE = 20;
const VERSION_ZIP64 = 45;
/** "Version made by": Unix (so the external attributes are a file mode), specification 4.5. */
const MADE_BY_UNIX = (3 << 8) | VERSION_ZIP64;
/** General purpose flag bit 11: the name is UTF-8. */
const FLAG_UTF8 = 0x0800;
/** A regular file readable by all, writable by its owner (`-rw-r--r--`), in the high half of the attributes. */
const REGULAR_FILE_ATTRIBUTES = (0o100644 << 16) >>> 0;

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

/** Options of {@link ZipFileWriter.addStream}. */
export interface ZipStreamOptions {
  /** Deflate level 1–9; 0 stores the bytes as they are. */
  readonly level: number;
  /** The uncompressed size the source is expected to have (decides ZIP64 in the local header); checked. */
  readonly size: number;
}

/** The DOS date and time fields of `date`, in local time (as zip tools write and read them). */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getFullYear(), 1980), 2107);
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/** Writes a 64-bit unsigned size or offset (below 2^53) at `offset`. */
function writeUint64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32LE(value % 0x100000000, offset);
  buffer.writeUInt32LE(Math.floor(value / 0x100000000), offset + 4);
}

/** Writes all of `data` at `position` of the file, however many writes it takes. */
async function writeAllAt(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, position + offset);
    offset += bytesWritten;
  }
}

/**
 * A zip file written front to back through one file handle, in large writes: the local header and data of each
 * entry, then the central directory and its end records (ZIP64 ones when there are more than 65,535 entries or
 * offsets beyond 4 GiB). Every local header carries the entry's real CRC-32 and sizes (no data descriptors), so
 * readers that walk local headers from the front find the same entries as those that read the central directory;
 * for a streamed entry they are filled in once its data is written.
 *
 * Memory stays bounded by the output buffer (about 1 MiB, plus what is in flight to the file), except for the
 * central directory, which grows as compact bytes (about 50 bytes plus the name per entry) until {@link close}.
 */
export class ZipFileWriter {
  readonly #handle: FileHandle;
  readonly #dos: { time: number; date: number };
  #buffer: Buffer = Buffer.allocUnsafe(WRITE_BYTES);
  #used = 0;
  /** The file position of `#buffer[0]`. */
  #bufferStart = 0;
  /** The write of the previous buffer, if one is in flight; a failure is kept for the next await. */
  #writing: Promise<void> = Promise.resolve();
  #spare: Buffer | null = null;
  readonly #central: Buffer[] = [];
  #centralChunk: Buffer = Buffer.allocUnsafe(CENTRAL_CHUNK_BYTES);
  #centralUsed = 0;
  #centralBytes = 0;
  #entries = 0;
  #closed = false;
  /** The streamed entry being written, with the stored entries added meanwhile written after it. */
  #pending: Promise<void> | null = null;
  #queue: { readonly name: string; readonly data: Buffer }[] = [];
  #queuedBytes = 0;

  private constructor(handle: FileHandle, mtime: Date) {
    this.#handle = handle;
    this.#dos = dosDateTime(mtime);
  }

  /** Creates `file` (refused if it exists) for writing; every entry gets `mtime` as its modification time. */
  static async create(file: string, mtime: Date = new Date()): Promise<ZipFileWriter> {
    return new ZipFileWriter(await open(file, 'wx'), mtime);
  }

  /** The file position the next byte goes to. */
  get #position(): number {
    return this.#bufferStart + this.#used;
  }

  /**
   * Adds an entry holding `data`, stored as it is. Synchronous: the bytes are copied into the output buffer, or
   * held in order behind the streamed entry being written; when {@link backlog} says so, the caller awaits
   * {@link drain} before adding more.
   */
  addBuffer(name: string, data: Buffer): void {
    if (this.#pending !== null) {
      this.#queue.push({ name, data });
      this.#queuedBytes += data.length + name.length;
      return;
    }
    this.#storeBuffer(name, data);
  }

  #storeBuffer(name: string, data: Buffer): void {
    const encoded = Buffer.from(name, 'utf8');
    const zip64 = data.length >= MAX_32;
    const crc = crc32(data);
    const offset = this.#position;
    this.#writeLocalHeader(encoded, METHOD_STORED, crc, data.length, data.length, zip64);
    this.#append(data);
    this.#addCentral(encoded, METHOD_STORED, crc, data.length, data.length, offset);
  }

  /**
   * Adds an entry whose bytes come from `source`, deflated at `options.level` (or stored at level 0), with its
   * CRC-32 computed on the way. The source is read one chunk at a time, waiting for the file when the output falls
   * behind. `ArchiveExportError` when the source's length is not `options.size` (the object changed under us).
   *
   * Until the returned promise settles, {@link addBuffer} may go on: those entries follow this one in the file,
   * written once it is done. So a large entry deflated on libuv's threads (the archive's database) overlaps the
   * reading of small ones on the main thread. A second streamed entry waits for the first: await {@link drain}.
   */
  addStream(name: string, source: AsyncIterable<Buffer>, options: ZipStreamOptions): Promise<void> {
    if (this.#pending !== null)
      return Promise.reject(
        new ArchiveExportError(`'${name}' added while a streamed entry is being written`),
      );
    const pending = this.#writeStream(name, source, options).then(() => this.#writeQueue());
    // settled in `drain` or `close` too, whoever awaits first; unhandled it must not be meanwhile
    pending.catch(() => undefined);
    this.#pending = pending;
    return pending;
  }

  /** Writes the stored entries held back during a streamed entry, then lets new ones through. */
  async #writeQueue(): Promise<void> {
    // taken a batch at a time (entries may still be added while a flush is awaited), by index: shifting a long
    // array one entry at a time costs a move of the rest each time
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (const entry of batch) {
        this.#queuedBytes -= entry.data.length + entry.name.length;
        this.#storeBuffer(entry.name, entry.data);
        if (this.#used >= WRITE_BYTES) await this.#flush();
      }
    }
    this.#pending = null;
  }

  async #writeStream(name: string, source: AsyncIterable<Buffer>, options: ZipStreamOptions): Promise<void> {
    const encoded = Buffer.from(name, 'utf8');
    const zip64 = options.size >= ZIP64_STREAM_THRESHOLD;
    const method = options.level === 0 ? METHOD_STORED : METHOD_DEFLATE;
    const offset = this.#position;
    this.#writeLocalHeader(encoded, method, 0, 0, 0, zip64);
    const dataStart = this.#position;
    let crc = 0;
    let size = 0;
    const take = (chunk: Buffer): void => {
      crc = crc32(chunk, crc);
      size += chunk.length;
    };
    if (method === METHOD_STORED) {
      for await (const chunk of source) {
        take(chunk);
        await this.#write(chunk);
      }
    } else {
      const deflate = createDeflateRaw({ level: options.level, chunkSize: 256 * 1024 });
      const stop = new AbortController();
      // the source is fed on its own while the deflated output is written below; a failure of the source destroys
      // the deflate stream, which ends the loop below with that error, and a failure below stops the feeding
      const feeding = (async () => {
        for await (const chunk of source) {
          take(chunk);
          if (!deflate.write(chunk)) await once(deflate, 'drain', { signal: stop.signal });
        }
        deflate.end();
      })().catch((error: unknown) => {
        deflate.destroy(asError(error, ArchiveExportError, `reading '${name}'`));
      });
      try {
        for await (const chunk of deflate) await this.#write(chunk as Buffer);
      } finally {
        stop.abort();
        deflate.destroy();
        await feeding;
      }
    }
    if (size !== options.size)
      throw new ArchiveExportError(`'${name}' has ${size} bytes where ${options.size} were expected`);
    const compressed = this.#position - dataStart;
    if (!zip64 && compressed >= MAX_32)
      throw new ArchiveExportError(`'${name}' deflated to more than 4 GiB from ${size} bytes`);
    await this.#patchLocalHeader(offset, encoded.length, crc, compressed, size, zip64);
    this.#addCentral(encoded, method, crc, compressed, size, offset);
  }

  /**
   * True when the output buffer is full, or too much is held back behind a streamed entry: await {@link drain}
   * before adding more.
   */
  get backlog(): boolean {
    return this.#pending === null ? this.#used >= WRITE_BYTES : this.#queuedBytes >= QUEUE_BYTES;
  }

  /** Waits for the streamed entry being written (failing with its error), then until the output buffer has room. */
  async drain(): Promise<void> {
    if (this.#pending !== null) await this.#pending;
    if (this.#used >= WRITE_BYTES) await this.#flush();
  }

  /** Writes the central directory and its end records, and closes the file. */
  async close(): Promise<void> {
    await this.drain();
    const centralOffset = this.#position;
    this.#finishCentralChunk();
    for (const chunk of this.#central) await this.#write(chunk);
    const centralBytes = this.#centralBytes;
    // 0xffff (or 0xffffffff) in the end record means "see the ZIP64 record", so reaching the value needs one too
    const zip64 = this.#entries >= MAX_16 || centralOffset >= MAX_32 || centralBytes >= MAX_32;
    if (zip64) {
      const zip64End = this.#position;
      const record = Buffer.alloc(ZIP64_END_BYTES + ZIP64_LOCATOR_BYTES);
      record.writeUInt32LE(ZIP64_END_SIGNATURE, 0);
      writeUint64(record, ZIP64_END_BYTES - 12, 4); // the size of the record after this field
      record.writeUInt16LE(MADE_BY_UNIX, 12);
      record.writeUInt16LE(VERSION_ZIP64, 14);
      // this disk and the disk of the central directory stay 0 (offsets 16 and 20)
      writeUint64(record, this.#entries, 24);
      writeUint64(record, this.#entries, 32);
      writeUint64(record, centralBytes, 40);
      writeUint64(record, centralOffset, 48);
      record.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, ZIP64_END_BYTES);
      writeUint64(record, zip64End, ZIP64_END_BYTES + 8);
      record.writeUInt32LE(1, ZIP64_END_BYTES + 16); // one disk in all
      await this.#write(record);
    }
    const end = Buffer.alloc(END_BYTES);
    end.writeUInt32LE(END_SIGNATURE, 0);
    const count = Math.min(this.#entries, MAX_16);
    end.writeUInt16LE(count, 8);
    end.writeUInt16LE(count, 10);
    end.writeUInt32LE(Math.min(centralBytes, MAX_32), 12);
    end.writeUInt32LE(Math.min(centralOffset, MAX_32), 16);
    await this.#write(end);
    await this.#flush();
    await this.#writing;
    this.#closed = true;
    await this.#handle.close();
  }

  /** Closes the file without finishing it (after a failure); the caller removes it. */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pending?.catch(() => undefined);
    await this.#writing.catch(() => undefined);
    await this.#handle.close();
  }

  #writeLocalHeader(
    name: Buffer,
    method: number,
    crc: number,
    compressed: number,
    size: number,
    zip64: boolean,
  ): void {
    // written in place in the output buffer: no header buffer of its own to allocate and copy per entry
    const length = LOCAL_HEADER_BYTES + name.length + (zip64 ? 20 : 0);
    const at = this.#reserve(length);
    const header = this.#buffer;
    header.writeUInt32LE(LOCAL_HEADER_SIGNATURE, at);
    header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, at + 4);
    header.writeUInt16LE(FLAG_UTF8, at + 6);
    header.writeUInt16LE(method, at + 8);
    header.writeUInt16LE(this.#dos.time, at + 10);
    header.writeUInt16LE(this.#dos.date, at + 12);
    header.writeUInt32LE(crc, at + 14);
    header.writeUInt32LE(zip64 ? MAX_32 : compressed, at + 18);
    header.writeUInt32LE(zip64 ? MAX_32 : size, at + 22);
    header.writeUInt16LE(name.length, at + 26);
    header.writeUInt16LE(zip64 ? 20 : 0, at + 28);
    name.copy(header, at + LOCAL_HEADER_BYTES);
    if (zip64) {
      const extra = at + LOCAL_HEADER_BYTES + name.length;
      header.writeUInt16LE(ZIP64_EXTRA_ID, extra);
      header.writeUInt16LE(16, extra + 2);
      writeUint64(header, size, extra + 4);
      writeUint64(header, compressed, extra + 12);
    }
    this.#used += length;
  }

  /** Fills in the CRC-32 and sizes of the local header at `offset`, once its data is written. */
  async #patchLocalHeader(
    offset: number,
    nameLength: number,
    crc: number,
    compressed: number,
    size: number,
    zip64: boolean,
  ): Promise<void> {
    const fields = Buffer.allocUnsafe(12);
    fields.writeUInt32LE(crc, 0);
    fields.writeUInt32LE(zip64 ? MAX_32 : compressed, 4);
    fields.writeUInt32LE(zip64 ? MAX_32 : size, 8);
    await this.#patch(offset + LOCAL_CRC_OFFSET, fields);
    if (!zip64) return;
    const sizes = Buffer.allocUnsafe(16);
    writeUint64(sizes, size, 0);
    writeUint64(sizes, compressed, 8);
    await this.#patch(offset + LOCAL_HEADER_BYTES + nameLength + 4, sizes);
  }

  /** Overwrites bytes already written at `position`: in the buffer while they are there, else in the file. */
  async #patch(position: number, bytes: Buffer): Promise<void> {
    const inFile = Math.max(0, Math.min(bytes.length, this.#bufferStart - position));
    if (inFile < bytes.length) bytes.copy(this.#buffer, position + inFile - this.#bufferStart, inFile);
    if (inFile === 0) return;
    // the bytes may belong to the write in flight: it must land first, or it would undo the patch
    await this.#writing;
    await writeAllAt(this.#handle, bytes.subarray(0, inFile), position);
  }

  #addCentral(
    name: Buffer,
    method: number,
    crc: number,
    compressed: number,
    size: number,
    offset: number,
  ): void {
    // a ZIP64 extra holds, in this order, only the fields too large for their 32-bit slot
    const large = [size >= MAX_32, compressed >= MAX_32, offset >= MAX_32];
    const extraBytes = large.filter(Boolean).length * 8;
    const zip64 = extraBytes > 0;
    const length = CENTRAL_HEADER_BYTES + name.length + (zip64 ? 4 + extraBytes : 0);
    if (this.#centralUsed + length > this.#centralChunk.length) this.#finishCentralChunk();
    if (length > this.#centralChunk.length) this.#centralChunk = Buffer.allocUnsafe(length);
    const record = this.#centralChunk.subarray(this.#centralUsed, this.#centralUsed + length);
    record.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    record.writeUInt16LE(MADE_BY_UNIX, 4);
    record.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFLATE, 6);
    record.writeUInt16LE(FLAG_UTF8, 8);
    record.writeUInt16LE(method, 10);
    record.writeUInt16LE(this.#dos.time, 12);
    record.writeUInt16LE(this.#dos.date, 14);
    record.writeUInt32LE(crc, 16);
    record.writeUInt32LE(Math.min(compressed, MAX_32), 20);
    record.writeUInt32LE(Math.min(size, MAX_32), 24);
    record.writeUInt16LE(name.length, 28);
    record.writeUInt16LE(zip64 ? 4 + extraBytes : 0, 30);
    record.writeUInt16LE(0, 32); // no comment
    record.writeUInt16LE(0, 34); // disk 0
    record.writeUInt16LE(0, 36); // internal attributes
    record.writeUInt32LE(REGULAR_FILE_ATTRIBUTES, 38);
    record.writeUInt32LE(Math.min(offset, MAX_32), 42);
    name.copy(record, CENTRAL_HEADER_BYTES);
    if (zip64) {
      let at = CENTRAL_HEADER_BYTES + name.length;
      record.writeUInt16LE(ZIP64_EXTRA_ID, at);
      record.writeUInt16LE(extraBytes, at + 2);
      at += 4;
      for (const [index, value] of [size, compressed, offset].entries()) {
        if (!large[index]) continue;
        writeUint64(record, value, at);
        at += 8;
      }
    }
    this.#centralUsed += length;
    this.#centralBytes += length;
    this.#entries += 1;
  }

  #finishCentralChunk(): void {
    if (this.#centralUsed === 0) return;
    this.#central.push(this.#centralChunk.subarray(0, this.#centralUsed));
    this.#centralChunk = Buffer.allocUnsafe(CENTRAL_CHUNK_BYTES);
    this.#centralUsed = 0;
  }

  /**
   * Makes room for `length` more bytes in the output buffer, growing it rather than waiting (see {@link backlog}),
   * and returns where they go.
   */
  #reserve(length: number): number {
    if (this.#used + length > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#used + length));
      this.#buffer.copy(grown, 0, 0, this.#used);
      this.#buffer = grown;
    }
    return this.#used;
  }

  /** Copies `data` into the output buffer. */
  #append(data: Buffer): void {
    // reserved first: it may replace the buffer
    const at = this.#reserve(data.length);
    data.copy(this.#buffer, at);
    this.#used += data.length;
  }

  /** Appends `data` and writes the buffer out once it is full. */
  async #write(data: Buffer): Promise<void> {
    if (data.length >= WRITE_BYTES) {
      // a large chunk goes to the file as it is, after what is buffered, instead of through a copy
      await this.#flush();
      await this.#writing;
      const position = this.#bufferStart;
      this.#bufferStart += data.length;
      this.#startWrite(data, position);
      return;
    }
    this.#append(data);
    if (this.#used >= WRITE_BYTES) await this.#flush();
  }

  /** Starts writing `data` at `position`; its failure surfaces at the next await of `#writing`, not as unhandled. */
  #startWrite(data: Buffer, position: number): void {
    const writing = writeAllAt(this.#handle, data, position);
    writing.catch(() => undefined);
    this.#writing = writing;
  }

  /**
   * Starts writing the buffer to the file and gives the next bytes a fresh one. At most one write is in flight:
   * this waits for the previous one first, which is where the caller feels the file's pace.
   */
  async #flush(): Promise<void> {
    if (this.#used === 0) return;
    await this.#writing;
    const full = this.#buffer.subarray(0, this.#used);
    const position = this.#bufferStart;
    const previous = this.#spare;
    this.#bufferStart += this.#used;
    this.#used = 0;
    // a buffer grown past the usual size (one large append) is not kept for reuse
    this.#spare = this.#buffer.length === WRITE_BYTES ? this.#buffer : null;
    this.#buffer = previous ?? Buffer.allocUnsafe(WRITE_BYTES);
    this.#startWrite(full, position);
  }
}
