import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import { OBJECT_KEY } from './format.js';

/**
 * The loose-object folder of a disk-objectstore container, read from the backend's public `folder` and `config`
 * (the container layout is aiida's published format: `loose/<first loose_prefix_len hex digits>/<rest>`), or null
 * for any other backend or an uninitialised container.
 */
function looseLayout(repository: RepositoryBackend): { folder: string; prefix: number } | null {
  const candidate = repository as Partial<{
    readonly folder: unknown;
    readonly config: { readonly loose_prefix_len?: unknown };
  }>;
  try {
    const folder = candidate.folder;
    const prefix = candidate.config?.loose_prefix_len;
    if (typeof folder !== 'string' || typeof prefix !== 'number') return null;
    return { folder: path.join(folder, 'loose'), prefix };
  } catch {
    // the config getter throws while the container is not initialised: no fast path
    return null;
  }
}

/** `readSync` until `buffer` is full; false when the file ended first (it changed under us). */
function readFully(fd: number, buffer: Buffer): boolean {
  for (let offset = 0; offset < buffer.length;) {
    const read = readSync(fd, buffer, offset, buffer.length - offset, offset);
    if (read === 0) return false;
    offset += read;
  }
  return true;
}

/**
 * Reads the objects below a size whole, for the export: `read(key)` resolves to the content (checked against its
 * key) when the object is smaller than `below` bytes, else null (the caller streams it).
 *
 * For a disk-objectstore container, loose objects are read with three blocking system calls each (open, fstat,
 * read; then close) on the calling thread: for objects this small that is several times cheaper than the
 * backend's asynchronous reads (a stat and a `readFile`, five round trips through libuv's threadpool per object),
 * which dominated the export of a profile of small files, and each call lasts microseconds. Anything else goes
 * through the backend as it promises: a packed object, an object packed (so its loose copy removed) while the
 * export runs (the backend looks loose first, then in the pack index, the order a packer keeps safe), a loose
 * copy that does not match its key (the backend reports it or uses a good packed copy), and any other backend.
 */
export function smallObjectReader(
  repository: RepositoryBackend,
  below: number,
): (key: string) => Promise<Buffer | null> {
  const viaBackend = async (key: string): Promise<Buffer | null> =>
    (await repository.getObjectSize(key)) < below ? repository.getObjectContent(key) : null;
  const layout = looseLayout(repository);
  if (layout === null) return viaBackend;
  const loosePath = (key: string): string =>
    layout.prefix === 0
      ? path.join(layout.folder, key)
      : path.join(layout.folder, key.slice(0, layout.prefix), key.slice(layout.prefix));
  const readLoose = (key: string): Buffer | null | undefined => {
    let fd: number;
    try {
      fd = openSync(loosePath(key), 'r');
    } catch {
      return undefined;
    }
    try {
      const { size } = fstatSync(fd);
      if (size >= below) return null;
      const content = Buffer.allocUnsafeSlow(size);
      if (!readFully(fd, content)) return undefined;
      return createHash('sha256').update(content).digest('hex') === key ? content : undefined;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  };
  return async (key) => {
    // anything but a sha256 hex key goes to the backend, which refuses it by name
    const loose = OBJECT_KEY.test(key) ? readLoose(key) : undefined;
    return loose === undefined ? viaBackend(key) : loose;
  };
}
