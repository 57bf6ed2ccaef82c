import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../../repository/object-key.js';
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

/**
 * The content of the open file when it is shorter than `below` bytes, else null, from one read into `scratch` (of
 * `below` bytes): no fstat first (Node builds four Date objects per fstat, which cost more than the read itself for
 * files this small) and no second read to meet the end of the file. A read of a regular file stops short only at
 * its end; were it ever to stop short elsewhere, the content would fail the caller's check against its key and the
 * object would be read through the backend.
 */
function readBelow(fd: number, scratch: Buffer): Buffer | null {
  const length = readSync(fd, scratch, 0, scratch.length, 0);
  if (length === scratch.length) return null;
  // a copy of its own, from Node's shared pool for small sizes: the zip writer may hold it until the database is in
  const content = Buffer.allocUnsafe(length);
  scratch.copy(content, 0, 0, length);
  return content;
}

/**
 * Reads the objects below a size whole, for the export: `read(key)` resolves to the content (checked against its
 * key) when the object is smaller than `below` bytes, else null (the caller streams it).
 *
 * For a disk-objectstore container, loose objects are read with a few blocking system calls each (open, read
 * to the end, close) on the calling thread: for objects this small that is several times cheaper than the
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
  // keys are checked sha256 hex before they get here, so plain concatenation makes a normal path
  const loosePath = (key: string): string =>
    layout.prefix === 0
      ? `${layout.folder}${path.sep}${key}`
      : `${layout.folder}${path.sep}${key.slice(0, layout.prefix)}${path.sep}${key.slice(layout.prefix)}`;
  const scratch = Buffer.allocUnsafe(below);
  const readLoose = (key: string): Buffer | null | undefined => {
    let fd: number;
    try {
      fd = openSync(loosePath(key), 'r');
    } catch {
      return undefined;
    }
    try {
      const content = readBelow(fd, scratch);
      if (content === null) return null;
      return sha256Hex(content) === key ? content : undefined;
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
