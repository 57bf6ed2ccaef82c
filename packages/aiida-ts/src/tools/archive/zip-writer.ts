import { open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable, type PassThrough } from 'node:stream';
import yazl from 'yazl';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import { DB_FILENAME, META_FILENAME, REPO_FOLDER, type ArchiveMetadata } from './format.js';
import { progressTicker, type ArchiveListener } from './progress.js';
import { smallObjectReader } from './small-object-reader.js';

/**
 * Objects smaller than this are stored in the archive as they are, not deflated: deflating one costs a zlib
 * context of its own (about 256 KiB set up and torn down, and a stream pipeline in yazl), which made up most of
 * the export time of a profile of small files, and saves less than 1 KiB beside the ~200 bytes of zip headers
 * each entry carries anyway. Any zip reader (aiida-core's `zipfile` included) reads stored entries.
 */
export const STORED_OBJECT_BYTES = 1024;

/** Objects whose size and small content are being read ahead of the zip writer, in parallel. */
const READ_AHEAD = 32;

/**
 * Stored entries handed to yazl between two waits for it to catch up: yazl writes a buffer entry without
 * backpressure, so without this bound it would queue the whole archive.
 */
const WINDOW_ENTRIES = 256;

/** Bytes of zip output gathered before one write to the archive file. */
const WRITE_BYTES = 1024 * 1024;

/** What {@link writeArchiveZip} writes: the metadata, the database file and the repository objects by key. */
export interface ArchiveZipContent {
  readonly metadata: ArchiveMetadata;
  readonly dbPath: string;
  readonly keys: readonly string[];
  readonly repository: RepositoryBackend;
  /** Deflate level 0–9 of the database and of objects of {@link STORED_OBJECT_BYTES} or more. */
  readonly compression: number;
}

/** Writes all of `data` at the handle's position, however many writes it takes. */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/**
 * Drains `source` into `handle` in writes of about {@link WRITE_BYTES} (yazl emits each header and object as its
 * own small chunk: gathered, they cost one system call per MiB instead of two or three per object). The source is
 * paused while a write is in flight, so its own buffer carries the backpressure.
 */
function drainInto(source: Readable, handle: FileHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending: Buffer[] = [];
    let size = 0;
    let writing: Promise<void> = Promise.resolve();
    const take = (): Buffer => {
      const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, size);
      pending = [];
      size = 0;
      return data;
    };
    source.on('data', (chunk: Buffer) => {
      pending.push(chunk);
      size += chunk.length;
      if (size < WRITE_BYTES) return;
      source.pause();
      writing = writeAll(handle, take()).then(() => {
        source.resume();
      }, reject);
    });
    source.once('end', () => {
      writing.then(() => writeAll(handle, take())).then(resolve, reject);
    });
    // `on`, not `once`: yazl may still push into a failed output, and a second error must not go unheard
    source.on('error', reject);
  });
}

/**
 * Writes an archive's zip into the new file `file` (refused if it exists): `metadata.json` (stored) and
 * `db.sqlite3` first, so they head the central directory where aiida-core looks for them, then one
 * `repo/<key>` entry per object.
 *
 * Objects are read a few ahead of the writer. Small ones (under {@link STORED_OBJECT_BYTES}) are read whole,
 * checked against their key, and stored as buffers: no stream and no zlib context per object. Larger ones are deflated from a stream opened only when the writer reaches them. Memory stays bounded
 * whatever the size of the archive: at most {@link READ_AHEAD} small objects read ahead, two windows of
 * {@link WINDOW_ENTRIES} small entries queued in yazl, and about {@link WRITE_BYTES} of output gathered. What
 * grows with the archive is yazl's own: a record per entry for the central directory, and a stored entry's bytes
 * (under 1 KiB each), which its writer keeps once written.
 */
export async function writeArchiveZip(
  file: string,
  content: ArchiveZipContent,
  listener: ArchiveListener,
): Promise<void> {
  const { repository, keys, compression } = content;
  const handle = await open(file, 'wx');
  const zip = new yazl.ZipFile();
  // yazl's typings call it a NodeJS.ReadableStream; it is a PassThrough
  const output = zip.outputStream as PassThrough;
  let failing = false;
  const failed = new Promise<never>((_resolve, reject) => {
    zip.on('error', (error: Error) => {
      failing = true;
      reject(error);
    });
  });
  failed.catch(() => undefined);
  const drained = drainInto(output, handle);
  drained.catch(() => undefined);
  const progress = progressTicker(listener, 'Archiving files', keys.length);

  // small objects are read a few ahead, in parallel, so the file system's latency overlaps the zip writing
  const reads: Promise<Buffer | null>[] = [];
  let next = 0;
  const readSmall = smallObjectReader(repository, STORED_OBJECT_BYTES);
  const refill = (): void => {
    while (reads.length < READ_AHEAD && next < keys.length) {
      const read = readSmall(keys[next++] as string);
      read.catch(() => undefined); // awaited in turn below; an early failure must not go unhandled meanwhile
      reads.push(read);
    }
  };

  try {
    const mtime = new Date();
    const stored = { compress: false, mtime };
    const deflated = { compressionLevel: compression, mtime };
    zip.addBuffer(Buffer.from(JSON.stringify(content.metadata)), META_FILENAME, stored);
    zip.addFile(content.dbPath, DB_FILENAME, deflated);
    // yazl asks for a lazy entry's stream only when everything before it is written: the first small entry of
    // each window is added that way, and the next window waits until yazl reached the previous one
    let reached: Promise<void> = Promise.resolve();
    let inWindow = WINDOW_ENTRIES;
    for (const key of keys) {
      if (failing) break;
      refill();
      const small = await Promise.race([reads.shift() as Promise<Buffer | null>, failed]);
      const name = `${REPO_FOLDER}/${key}`;
      if (small === null) {
        zip.addReadStreamLazy(name, deflated, (callback) => {
          repository.openStream(key).then(
            (stream) => {
              stream.once('end', () => progress.tick());
              callback(null, stream);
            },
            (error: unknown) => callback(error, undefined as never),
          );
        });
        continue;
      }
      progress.tick();
      if (inWindow < WINDOW_ENTRIES) {
        inWindow += 1;
        zip.addBuffer(small, name, stored);
        continue;
      }
      await Promise.race([reached, failed]);
      // yazl wrote the previous window into its output; wait for the file to take it too
      if (output.writableNeedDrain) await Promise.race([once(output, 'drain'), failed]);
      inWindow = 1;
      reached = new Promise((resolve) => {
        zip.addReadStreamLazy(name, stored, (callback) => {
          resolve();
          callback(null, Readable.from([small]));
        });
      });
    }
    if (failing) await failed;
    zip.end();
    await Promise.race([drained, failed]);
    progress.done();
  } catch (error) {
    // stop what yazl still has in flight (the database, a streamed object) from writing on
    output.destroy();
    throw error;
  } finally {
    await handle.close();
  }
}
