import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createInflate, inflate } from 'node:zlib';
import { CorruptStorageError } from '../../errors.js';
import type { Container } from './container.js';
import type { PackedObjectRow } from './pack-index.js';

// made on first use, not at load: verdi's script loads zlib only when a command reads a compressed packed object
// (see LAZY_BUILTINS in scripts/bundle-verdi.ts)
let inflateAsync: ((data: Buffer) => Promise<Buffer>) | undefined;

/** A stream of a packed object's content (inflated when it is stored compressed); it owns its file handle. */
export async function openPackedStream(container: Container, row: PackedObjectRow): Promise<Readable> {
  const handle = await container.openPack(row);
  if (row.length === 0) {
    await handle.close();
    return Readable.from([]);
  }
  const raw = handle.createReadStream({
    start: row.offset,
    end: row.offset + row.length - 1,
    highWaterMark: 1024 * 1024,
  });
  if (!row.compressed) return raw;
  const inflater = createInflate({ chunkSize: 256 * 1024 });
  raw.on('error', (error) => inflater.destroy(error));
  inflater.on('close', () => raw.destroy());
  return raw.pipe(inflater);
}

/** A packed object's content in memory, read through the container's cached pack handle. */
export async function readPackedObject(container: Container, row: PackedObjectRow): Promise<Buffer> {
  const raw = await container.withPackHandle(row, async (handle) => {
    const buffer = Buffer.allocUnsafe(row.length);
    let read = 0;
    while (read < row.length) {
      const { bytesRead } = await handle.read(buffer, read, row.length - read, row.offset + read);
      if (bytesRead === 0) {
        throw new CorruptStorageError(
          `pack ${row.pack_id} is truncated: object ${row.hashkey} ends past its end`,
        );
      }
      read += bytesRead;
    }
    return buffer;
  });
  if (!row.compressed) return raw;
  inflateAsync ??= promisify(inflate);
  return inflateAsync(raw);
}
