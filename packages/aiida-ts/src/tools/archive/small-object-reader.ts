import { closeSync, openSync, readSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import BetterSqlite3 from 'better-sqlite3';
import path from 'node:path';
import { sha256Hex } from '../../repository/object-key.js';
import type { RepositoryBackend } from '../../repository/repository-backend.js';
import { OBJECT_KEY } from './format.js';

/**
 * The loose-object folder of a disk-objectstore container, read from the backend's public `folder` and `config`
 * (the container layout is aiida's published format: `loose/<first loose_prefix_len hex digits>/<rest>`), or null
 * for any other backend or an uninitialised container.
 */
function looseLayout(
  repository: RepositoryBackend,
): { folder: string; prefix: number; container: string } | null {
  const candidate = repository as Partial<{
    readonly folder: unknown;
    readonly config: { readonly loose_prefix_len?: unknown };
  }>;
  try {
    const folder = candidate.folder;
    const prefix = candidate.config?.loose_prefix_len;
    if (typeof folder !== 'string' || typeof prefix !== 'number') return null;
    return { folder: path.join(folder, 'loose'), prefix, container: folder };
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

/** What the pack index says of a packed object (disk-objectstore's `db_object` row). */
interface PackedRow {
  readonly offset: number;
  readonly length: number;
  readonly compressed: number;
  readonly size: number;
  readonly pack_id: number;
}

/**
 * Reads small packed objects of a disk-objectstore container with blocking calls: the pack index (`packs.idx`, a
 * SQLite file) through a read-only connection of its own, the packs (`packs/<id>`) through descriptors kept open
 * until {@link close}. For a profile whose objects were packed (`verdi storage maintain`), this replaces four trips
 * through libuv's threadpool per object (a stat and a read that fail on the loose file, a pack read, an inflate).
 * Any doubt (no index, an object not in it or too large, a pack that cannot be read, compressed data that does not
 * inflate) answers undefined, and the caller asks the backend, which reports what is wrong.
 */
class PackedSmallObjects {
  readonly #container: string;
  readonly #below: number;
  #index: BetterSqlite3.Database | null | undefined;
  #row: BetterSqlite3.Statement<[string], PackedRow> | undefined;
  readonly #packs = new Map<number, number>();

  constructor(container: string, below: number) {
    this.#container = container;
    this.#below = below;
  }

  /** The content of `key` if packed and shorter than `below`, null if packed and not, undefined when unsure. */
  read(key: string): Buffer | null | undefined {
    const row = this.#lookup(key);
    if (row === undefined) return undefined;
    if (row.size >= this.#below) return null;
    try {
      const raw = Buffer.allocUnsafe(row.length);
      if (readSync(this.#pack(row.pack_id), raw, 0, row.length, row.offset) !== row.length) return undefined;
      // bounded: a damaged stream must not inflate past what the index promises
      return row.compressed === 1 ? inflateSync(raw, { maxOutputLength: this.#below }) : raw;
    } catch {
      return undefined;
    }
  }

  #lookup(key: string): PackedRow | undefined {
    if (this.#index === undefined) {
      try {
        this.#index = new BetterSqlite3(path.join(this.#container, 'packs.idx'), {
          readonly: true,
          fileMustExist: true,
        });
        this.#row = this.#index.prepare(
          'SELECT "offset", length, compressed, size, pack_id FROM db_object WHERE hashkey = ?',
        );
      } catch {
        this.#index = null;
      }
    }
    if (this.#row === undefined) return undefined;
    try {
      return this.#row.get(key);
    } catch {
      return undefined;
    }
  }

  #pack(id: number): number {
    let fd = this.#packs.get(id);
    if (fd === undefined) {
      fd = openSync(path.join(this.#container, 'packs', String(id)), 'r');
      this.#packs.set(id, fd);
    }
    return fd;
  }

  close(): void {
    for (const fd of this.#packs.values()) closeSync(fd);
    this.#packs.clear();
    this.#index?.close();
    this.#index = null;
    this.#row = undefined;
  }
}

/** Reads objects below a size whole ({@link smallObjectReader}); `close` releases what it keeps open. */
export interface SmallObjectReader {
  /** The content (checked against its key) when the object is smaller than the size, else null. */
  read(key: string): Promise<Buffer | null>;
  close(): void;
}

/**
 * Reads the objects below a size whole, for the export: `read(key)` resolves to the content (checked against its
 * key) when the object is smaller than `below` bytes, else null (the caller streams it).
 *
 * For a disk-objectstore container, objects are read with a few blocking system calls each on the calling thread,
 * looking loose first and then in the packs (the backend's order, which a packer keeps safe: it writes the pack and
 * its index before removing a loose copy): a loose file is opened, read and closed; a packed object is looked up
 * in the pack index and read at its offset from a pack kept open (inflated if stored compressed). For objects
 * this small that is several times cheaper than the backend's asynchronous reads (four or five round trips through
 * libuv's threadpool per object), which dominated the export of a profile of small files, and each call lasts
 * microseconds. Every content is checked against its key. Anything else goes through the backend as it promises:
 * a copy that does not match its key or cannot be read (the backend reports it, or uses a good copy elsewhere), an
 * object moved while the export runs, and any other backend.
 */
export function smallObjectReader(repository: RepositoryBackend, below: number): SmallObjectReader {
  const viaBackend = async (key: string): Promise<Buffer | null> =>
    (await repository.getObjectSize(key)) < below ? repository.getObjectContent(key) : null;
  const layout = looseLayout(repository);
  if (layout === null) return { read: viaBackend, close: () => undefined };
  const packed = new PackedSmallObjects(layout.container, below);
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
      // not loose (or not readable): packed, as the backend looks next
      return readPacked(key);
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
  const readPacked = (key: string): Buffer | null | undefined => {
    const content = packed.read(key);
    if (content === null || content === undefined) return content;
    return sha256Hex(content) === key ? content : undefined;
  };
  return {
    read: async (key) => {
      // anything but a sha256 hex key goes to the backend, which refuses it by name
      const content = OBJECT_KEY.test(key) ? readLoose(key) : undefined;
      return content === undefined ? viaBackend(key) : content;
    },
    close: () => packed.close(),
  };
}
