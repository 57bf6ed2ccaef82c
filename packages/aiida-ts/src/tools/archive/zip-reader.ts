import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { CorruptStorageError, UnsafeArchiveError } from '../../errors.js';
import { asError } from '../../utils/as-error.js';
import { BlockFileReader } from './block-file-reader.js';

/**
 * The largest ratio of uncompressed to compressed size DEFLATE can reach (about 1032:1 on runs of one byte), with
 * room for the block headers of tiny entries. A declared size above it cannot be true: the archive lies about its
 * sizes, the signature of a "zip bomb".
 */
const MAX_DEFLATE_RATIO = 1040;
const DEFLATE_SLACK = 1024;

/** Entries up to this size may be read whole ({@link SafeZipReader.readWhole}); larger ones are streamed. */
export const MAX_WHOLE_ENTRY = 4 * 1024 * 1024;
const LOCAL_HEADER_SIZE = 30;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** Options of {@link SafeZipReader.open}. */
export interface SafeZipReaderOptions {
  /** The largest uncompressed size any one entry may declare (bytes). Default: no limit beyond the ratio check. */
  readonly maxEntrySize?: number;
}

/** One entry of the central directory, after the safety checks. */
export interface ZipEntryInfo {
  readonly name: string;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly compressedSize: number;
  readonly compressed: boolean;
  readonly crc32: number;
}

/** The zip's central directory opened through a {@link BlockFileReader}, so its records are not read one by one. */
async function openZip(path: string): Promise<{ zip: yauzl.ZipFile; reader: BlockFileReader }> {
  const handle = await open(path, 'r');
  let size: number;
  try {
    size = (await handle.stat()).size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  // the reader owns the descriptor from here: yauzl closes it through the reader when the zip is closed
  const reader = new BlockFileReader(handle.fd, size, () => handle.close());
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader,
      size,
      { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true },
      (error, zip) => {
        if (error === null) {
          resolve({ zip, reader });
          return;
        }
        reader.close(() => reject(error));
      },
    );
  });
}

/**
 * Names made only of plain components (letters, digits, `_`, `-` and `.` but not first, so never `.` or `..`)
 * joined by single slashes: safe by every check below, and what an archive's entries are (`repo/<sha256>`). Tested
 * first, as one regular expression, so the import of many objects does not run the full checks on each name.
 */
const PLAIN_ENTRY_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** Why `name` is not a safe relative entry path, or null when it is. */
export function unsafeEntryReason(name: string): string | null {
  if (PLAIN_ENTRY_NAME.test(name)) return null;
  if (name.length === 0) return 'an empty name';
  if (name.includes('\0')) return 'a NUL character';
  if (name.includes('\\')) return 'a backslash (a Windows path)';
  if (name.startsWith('/')) return 'an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'a drive letter (an absolute Windows path)';
  const parts = name.replace(/\/$/, '').split('/');
  if (parts.some((part) => part === '..')) return 'a `..` component that leaves the archive';
  if (parts.some((part) => part === '' || part === '.')) return 'an empty or `.` component';
  return null;
}

/**
 * A zip file opened for reading with every entry checked before anything is extracted: entry names must be
 * relative paths inside the archive (no `..`, no absolute or Windows paths), no entry may be a symbolic link or
 * encrypted or use a compression other than stored/deflate, names are unique, and declared sizes must be
 * possible (a stored entry's sizes agree, a deflated one is at most ~1032 times its compressed size). Entries are
 * then streamed on demand (yauzl reads the central directory only), each checked against its declared size as it
 * is read, so an archive of any size is read with bounded memory.
 */
export class SafeZipReader {
  readonly path: string;
  readonly #zip: yauzl.ZipFile;
  readonly #reader: BlockFileReader;
  readonly #entries: Map<string, yauzl.Entry>;

  private constructor(
    path: string,
    zip: yauzl.ZipFile,
    reader: BlockFileReader,
    entries: Map<string, yauzl.Entry>,
  ) {
    this.path = path;
    this.#zip = zip;
    this.#reader = reader;
    this.#entries = entries;
  }

  /**
   * Opens `path` and checks its central directory. `CorruptStorageError` when it is not a readable zip file,
   * `UnsafeArchiveError` (naming the entry) when an entry fails a safety check.
   */
  static async open(path: string, options: SafeZipReaderOptions = {}): Promise<SafeZipReader> {
    let zip: yauzl.ZipFile;
    let reader: BlockFileReader;
    try {
      ({ zip, reader } = await openZip(path));
    } catch (error) {
      throw new CorruptStorageError(`\`${path}\` is not a readable zip file: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const entries = new Map<string, yauzl.Entry>();
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: yauzl.Entry) => {
          try {
            SafeZipReader.#check(path, entry, entries, options);
            entries.set(entry.fileName, entry);
            zip.readEntry();
          } catch (error) {
            reject(asError(error, CorruptStorageError));
          }
        });
        zip.on('end', () => resolve());
        zip.on('error', (error: Error) => {
          // yauzl refuses absolute and `..` names itself; say which archive and why, as our own checks do
          if (/invalid (relative path|characters in fileName)|absolute path/.test(error.message)) {
            reject(new UnsafeArchiveError(`refused archive \`${path}\`: ${error.message}`, { cause: error }));
          } else {
            reject(
              new CorruptStorageError(`\`${path}\` is not a readable zip file: ${error.message}`, {
                cause: error,
              }),
            );
          }
        });
        zip.readEntry();
      });
    } catch (error) {
      zip.close();
      throw error;
    }
    return new SafeZipReader(path, zip, reader, entries);
  }

  static #check(
    path: string,
    entry: yauzl.Entry,
    seen: ReadonlyMap<string, yauzl.Entry>,
    options: SafeZipReaderOptions,
  ): void {
    const name = entry.fileName;
    const refuse = (why: string): never => {
      throw new UnsafeArchiveError(`refused archive \`${path}\`: entry \`${name}\` has ${why}`);
    };
    const reason = unsafeEntryReason(name);
    if (reason !== null) refuse(reason);
    if (seen.has(name)) refuse('a duplicate name');
    const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
    if (mode === S_IFLNK) refuse('the type of a symbolic link');
    if (entry.isEncrypted()) refuse('encryption');
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
      refuse(`an unsupported compression method (${entry.compressionMethod})`);
    if (entry.compressionMethod === 0 && entry.compressedSize !== entry.uncompressedSize)
      refuse(
        `a stored size of ${entry.uncompressedSize} bytes that differs from its ${entry.compressedSize} bytes in the file`,
      );
    if (
      entry.compressionMethod === 8 &&
      entry.uncompressedSize > entry.compressedSize * MAX_DEFLATE_RATIO + DEFLATE_SLACK
    )
      refuse(
        `a declared size of ${entry.uncompressedSize} bytes that ${entry.compressedSize} compressed bytes cannot hold (a zip bomb)`,
      );
    if (options.maxEntrySize !== undefined && entry.uncompressedSize > options.maxEntrySize)
      refuse(
        `a declared size of ${entry.uncompressedSize} bytes, above the limit of ${options.maxEntrySize}`,
      );
  }

  /** Every entry name, in central-directory order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  info(name: string): ZipEntryInfo | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    return {
      name,
      isDirectory: name.endsWith('/'),
      size: entry.uncompressedSize,
      compressedSize: entry.compressedSize,
      compressed: entry.compressionMethod !== 0,
      crc32: entry.crc32,
    };
  }

  /** Every file entry (no directories). */
  *files(): Iterable<ZipEntryInfo> {
    for (const name of this.#entries.keys()) {
      if (!name.endsWith('/')) yield this.info(name) as ZipEntryInfo;
    }
  }

  /** The sum of the declared sizes of the named entries (what extracting them writes). */
  declaredSize(names: Iterable<string>): number {
    let total = 0;
    for (const name of names) total += this.#entries.get(name)?.uncompressedSize ?? 0;
    return total;
  }

  #entry(name: string): yauzl.Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined)
      throw new CorruptStorageError(`the archive \`${this.path}\` has no entry \`${name}\``);
    return entry;
  }

  /**
   * A stream of the entry's content. It fails (with `CorruptStorageError`) when the content is shorter or longer
   * than declared or does not inflate.
   */
  openStream(name: string): Promise<Readable> {
    const entry = this.#entry(name);
    return new Promise((resolve, reject) => {
      this.#zip.openReadStream(entry, (error, stream) => {
        if (error !== null) {
          reject(
            new CorruptStorageError(`cannot read \`${name}\` of \`${this.path}\`: ${error.message}`, {
              cause: error,
            }),
          );
          return;
        }
        resolve(stream);
      });
    });
  }

  /**
   * The whole content of a small entry, read without a stream: its local header and data come from the reader's
   * cached blocks and a deflated entry is inflated in one call, never past its declared size. This is the fast path
   * for the many small objects of an archive (a stream per entry costs more than the entry). `CorruptStorageError`
   * when the data does not inflate or its length is not the declared one; with `checkCrc` (default true) also when
   * it fails its CRC-32 (callers that hash the content themselves may skip it).
   */
  async readWhole(name: string, options: { readonly checkCrc?: boolean } = {}): Promise<Buffer> {
    const entry = this.#entry(name);
    if (entry.uncompressedSize > MAX_WHOLE_ENTRY)
      throw new UnsafeArchiveError(
        `refused archive \`${this.path}\`: entry \`${name}\` declares ${entry.uncompressedSize} bytes, above ${MAX_WHOLE_ENTRY} to read whole`,
      );
    const header = Buffer.allocUnsafe(LOCAL_HEADER_SIZE);
    const start = entry.relativeOffsetOfLocalHeader;
    if ((await this.#reader.readInto(header, 0, LOCAL_HEADER_SIZE, start)) !== LOCAL_HEADER_SIZE)
      throw new CorruptStorageError(
        `cannot read \`${name}\` of \`${this.path}\`: its local header is cut short`,
      );
    if (header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE)
      throw new CorruptStorageError(
        `cannot read \`${name}\` of \`${this.path}\`: invalid local file header signature`,
      );
    const dataStart = start + LOCAL_HEADER_SIZE + header.readUInt16LE(26) + header.readUInt16LE(28);
    const raw = Buffer.allocUnsafe(entry.compressedSize);
    if ((await this.#reader.readInto(raw, 0, raw.length, dataStart)) !== raw.length)
      throw new CorruptStorageError(
        `cannot read \`${name}\` of \`${this.path}\`: its data overflows the file`,
      );
    let content = raw;
    if (entry.compressionMethod === 8) {
      try {
        // one byte of room past the declared size: an entry that inflates to more is caught by the length check
        content = inflateRawSync(raw, {
          maxOutputLength: entry.uncompressedSize + 1,
          // an output buffer of the entry's size (not zlib's 16 KiB) halves the cost for small objects
          chunkSize: Math.min(64 * 1024, Math.max(64, entry.uncompressedSize + 1)),
        });
      } catch (error) {
        throw this.#wrap(name, error);
      }
    }
    if (content.length !== entry.uncompressedSize)
      throw new CorruptStorageError(
        `cannot read \`${name}\` of \`${this.path}\`: it holds ${content.length === entry.uncompressedSize + 1 ? 'more' : content.length} bytes, not the ${entry.uncompressedSize} declared`,
      );
    if (options.checkCrc !== false && crc32(content) !== entry.crc32)
      throw new CorruptStorageError(`entry \`${name}\` of \`${this.path}\` fails its CRC-32 check`);
    return content;
  }

  /** The entry's content, at most `limit` bytes declared, with its CRC-32 checked. */
  async readBuffer(name: string, limit = 64 * 1024 * 1024): Promise<Buffer> {
    const entry = this.#entry(name);
    if (entry.uncompressedSize > limit)
      throw new UnsafeArchiveError(
        `refused archive \`${this.path}\`: entry \`${name}\` declares ${entry.uncompressedSize} bytes, above ${limit}`,
      );
    if (entry.uncompressedSize <= MAX_WHOLE_ENTRY) return this.readWhole(name);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of await this.openStream(name)) chunks.push(chunk as Buffer);
    } catch (error) {
      throw this.#wrap(name, error);
    }
    const content = Buffer.concat(chunks);
    if (crc32(content) !== entry.crc32)
      throw new CorruptStorageError(`entry \`${name}\` of \`${this.path}\` fails its CRC-32 check`);
    return content;
  }

  /** Streams the entry into the file `target` (created), checking its size and CRC-32 on the way. */
  async extractTo(name: string, target: string): Promise<void> {
    const entry = this.#entry(name);
    let crc = 0;
    try {
      const source = await this.openStream(name);
      source.on('data', (chunk: Buffer) => {
        crc = crc32(chunk, crc);
      });
      await pipeline(source, createWriteStream(target, { flags: 'wx' }));
    } catch (error) {
      throw this.#wrap(name, error);
    }
    if (crc !== entry.crc32)
      throw new CorruptStorageError(`entry \`${name}\` of \`${this.path}\` fails its CRC-32 check`);
  }

  #wrap(name: string, error: unknown): Error {
    if (error instanceof CorruptStorageError || error instanceof UnsafeArchiveError) return error;
    return new CorruptStorageError(
      `cannot read \`${name}\` of \`${this.path}\`: ${(error as Error).message}`,
      { cause: error },
    );
  }

  close(): void {
    this.#zip.close();
  }
}
