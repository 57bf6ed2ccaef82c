import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import { DB_FILENAME, META_FILENAME, REPO_FOLDER, type ArchiveMetadata } from './format.js';
import { progressTicker, type ArchiveListener } from './progress.js';
import { smallObjectReader } from './small-object-reader.js';
import { ZipFileWriter } from './zip-file-writer.js';

/**
 * Objects smaller than this are stored in the archive as they are, not deflated: deflating one costs a zlib
 * context of its own (about 256 KiB set up and torn down, and a stream pipeline), which made up most of
 * the export time of a profile of small files, and saves less than 1 KiB beside the ~200 bytes of zip headers
 * each entry carries anyway. Any zip reader (aiida-core's `zipfile` included) reads stored entries.
 */
export const STORED_OBJECT_BYTES = 1024;

/** Objects whose size and small content are being read ahead of the zip writer, in parallel. */
const READ_AHEAD = 32;

/** Small objects added between two turns given to the event loop (see the loop in {@link writeArchiveZip}). */
const YIELD_EVERY = 64;

/** Bytes read from the database file at a time on its way into the zip. */
const DB_READ_BYTES = 1024 * 1024;

/** What {@link writeArchiveZip} writes: the metadata, the database file and the repository objects by key. */
export interface ArchiveZipContent {
  readonly metadata: ArchiveMetadata;
  readonly dbPath: string;
  readonly keys: readonly string[];
  readonly repository: RepositoryBackend;
  /** Deflate level 0–9 of the database and of objects of {@link STORED_OBJECT_BYTES} or more. */
  readonly compression: number;
}

/**
 * Writes an archive's zip into the new file `file` (refused if it exists): `metadata.json` (stored) and
 * `db.sqlite3` first, so they are the first local entries (aiida-core looks for them among the first few) and head
 * the central directory, then one `repo/<key>` entry per object.
 *
 * Objects are read a few ahead of the writer. Small ones (under {@link STORED_OBJECT_BYTES}) are read whole,
 * checked against their key, and stored as they are: no stream and no zlib context per object. Larger ones are
 * deflated from a stream opened only when the writer reaches them. Memory stays bounded whatever the size of the
 * archive: at most {@link READ_AHEAD} small objects read ahead and about two MiB of output buffered; what grows
 * with the archive is the central directory, about 120 bytes per object, written at the end.
 */
export async function writeArchiveZip(
  file: string,
  content: ArchiveZipContent,
  listener: ArchiveListener,
): Promise<void> {
  const { repository, keys, compression } = content;
  const zip = await ZipFileWriter.create(file);
  const progress = progressTicker(listener, 'Archiving files', keys.length);

  // small objects are read a few ahead, in parallel, so the file system's latency overlaps the zip writing
  const reads: Promise<Buffer | null>[] = [];
  let next = 0;
  const readSmall = smallObjectReader(repository, STORED_OBJECT_BYTES);
  const refill = (): void => {
    while (reads.length < READ_AHEAD && next < keys.length) {
      const read = readSmall.read(keys[next++] as string);
      read.catch(() => undefined); // awaited in turn below; an early failure must not go unhandled meanwhile
      reads.push(read);
    }
  };

  try {
    zip.addBuffer(META_FILENAME, Buffer.from(JSON.stringify(content.metadata)));
    const dbSize = (await stat(content.dbPath)).size;
    // not awaited here: the database is deflated on libuv's threads while the objects are read (the zip writer
    // holds them back, in order, until it is written); a failure surfaces at the next drain
    const db = zip.addStream(
      DB_FILENAME,
      createReadStream(content.dbPath, { highWaterMark: DB_READ_BYTES }),
      { level: compression, size: dbSize },
    );
    db.catch(() => undefined);
    for (const [index, key] of keys.entries()) {
      refill();
      const small = await (reads.shift() as Promise<Buffer | null>);
      const name = `${REPO_FOLDER}/${key}`;
      if (small === null) {
        await zip.drain();
        const size = await repository.getObjectSize(key);
        await zip.addStream(name, await repository.openStream(key), { level: compression, size });
      } else {
        zip.addBuffer(name, small);
        if (zip.backlog) await zip.drain();
        // reading loose objects never leaves this loop (blocking reads, settled promises): let the database's
        // deflate have its turns on the event loop now and then, or it would wait for the loop to end
        else if (index % YIELD_EVERY === YIELD_EVERY - 1) await setImmediate();
      }
      progress.tick();
    }
    await zip.close();
    progress.done();
  } catch (error) {
    await zip.abort();
    throw error;
  } finally {
    readSmall.close();
  }
}
