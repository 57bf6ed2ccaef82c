import { link, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import pLimit from 'p-limit';
import { CorruptStorageError, FileNotFoundError } from '../../errors.js';
import { livenessOfTagged, ProcessLiveness } from '../../utils/process-identity.js';
import { sha256Hex } from '../object-key.js';
import { isErrno } from './container.js';
import type { Container } from './container.js';
import { PackAppender } from './pack-appender.js';
import type { PackedObjectRow } from './pack-index.js';
import { acquirePackLock } from './pack-lock.js';

/** The pack id disk-objectstore uses as scratch space while repacking. */
const REPACK_PACK_ID = -1;
const COPY_CHUNK = 4 * 1024 * 1024;

/** Object counts of a container, with disk-objectstore's field names. */
export interface ObjectCount {
  readonly packed: number;
  readonly loose: number;
  readonly pack_files: number;
}

/** Byte totals of a container, with disk-objectstore's field names. */
export interface TotalSize {
  readonly total_size_packed: number;
  readonly total_size_packed_on_disk: number;
  readonly total_size_packfiles_on_disk: number;
  readonly total_size_packindexes_on_disk: number;
  readonly total_size_loose: number;
}

/** Removes a file and returns its size, 0 when it was already gone. */
async function removeFile(path: string): Promise<number> {
  try {
    const { size } = await stat(path);
    await unlink(path);
    return size;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 0;
    throw error;
  }
}

export async function countObjects(container: Container): Promise<ObjectCount> {
  let loose = 0;
  for await (const key of container.listLoose()) {
    void key;
    loose += 1;
  }
  return { packed: container.index.count(), loose, pack_files: (await container.listPackIds()).length };
}

export async function getTotalSize(container: Container): Promise<TotalSize> {
  const totals = container.index.totals();
  let packfiles = 0;
  for (const packId of await container.listPackIds())
    packfiles += (await stat(container.packPath(packId))).size;
  let loose = 0;
  for await (const key of container.listLoose()) {
    try {
      loose += (await stat(container.loosePath(key))).size;
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
  }
  return {
    total_size_packed: totals.size,
    total_size_packed_on_disk: totals.length,
    total_size_packfiles_on_disk: packfiles,
    total_size_packindexes_on_disk: (await stat(container.path('packs.idx'))).size,
    total_size_loose: loose,
  };
}

/**
 * Deletes objects the caller checked exist: their duplicates and loose files go, and their index rows (packed
 * bytes stay until a repack). Resolves to the bytes freed at once.
 */
export async function deleteObjects(container: Container, keys: readonly string[]): Promise<number> {
  const wanted = new Set(keys);
  let freed = 0;
  for (const name of await readdir(container.path('duplicates'))) {
    if (wanted.has(name.split('.')[0] ?? '')) freed += await removeFile(container.path('duplicates', name));
  }
  for (const key of wanted) freed += await removeFile(container.loosePath(key));
  container.index.deleteMany([...wanted]);
  return freed;
}

/**
 * Rewrites packs without the bytes of deleted objects (disk-objectstore's `repack`, keeping each object's
 * compression), then VACUUMs the index. Packs without holes are left alone; packs without objects are removed.
 * Resolves to the bytes freed.
 */
export async function repack(container: Container): Promise<number> {
  const index = container.index;
  let freed = 0;
  await container.closePackHandles(true);
  for (const packId of await container.listPackIds()) {
    const fileSize = (await stat(container.packPath(packId))).size;
    const rows = index.rowsOfPack(packId);
    if (rows.length === 0) {
      freed += await removeFile(container.packPath(packId));
      continue;
    }
    let end = 0;
    let contiguous = true;
    for (const row of rows) {
      if (row.offset !== end) contiguous = false;
      end = row.offset + row.length;
    }
    if (contiguous && end === fileSize) continue;
    freed += fileSize - (await repackPack(container, packId, rows));
  }
  index.vacuum();
  return freed;
}

/** Copies a pack's live objects into the scratch pack and swaps it in; resolves to the new size. */
async function repackPack(
  container: Container,
  packId: number,
  rows: readonly (PackedObjectRow & { id: number })[],
): Promise<number> {
  const index = container.index;
  const scratch = container.packPath(REPACK_PACK_ID);
  const lock = { timeoutMs: container.lockTimeoutMs };
  const releasePack = await acquirePackLock(container.lockPath(packId), lock);
  try {
    const releaseScratch = await acquirePackLock(container.lockPath(REPACK_PACK_ID), lock);
    try {
      try {
        await stat(scratch);
        throw new CorruptStorageError(
          `repack pack ${scratch} already exists: a previous repack was interrupted; inspect and remove it by hand`,
        );
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const source = await open(container.packPath(packId), 'r');
      // The level is unused: bytes are copied as stored.
      const target = await PackAppender.open(scratch, 1);
      const moves: { id: number; packId: number; offset: number; length: number; compressed: boolean }[] = [];
      try {
        for (const row of rows) {
          const offset = target.position;
          let copied = 0;
          while (copied < row.length) {
            const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, row.length - copied));
            const { bytesRead } = await source.read(chunk, 0, chunk.length, row.offset + copied);
            if (bytesRead === 0)
              throw new CorruptStorageError(`pack ${packId} is truncated at object ${row.hashkey}`);
            await target.appendRaw(chunk.subarray(0, bytesRead));
            copied += bytesRead;
          }
          moves.push({
            id: row.id,
            packId: REPACK_PACK_ID,
            offset,
            length: row.length,
            compressed: row.compressed,
          });
        }
        await target.close({ fsync: container.fsync });
      } catch (error) {
        await target.abandon();
        await unlink(scratch).catch(() => undefined);
        throw error;
      } finally {
        await source.close();
      }
      // disk-objectstore's crash-safe order: point the rows at the scratch pack, replace the old pack by a hard
      // link to the scratch pack, point the rows back, drop the scratch name.
      index.relocate(moves);
      const newSize = (await stat(scratch)).size;
      await unlink(container.packPath(packId));
      await link(scratch, container.packPath(packId));
      index.renamePack(REPACK_PACK_ID, packId);
      await unlink(scratch);
      return newSize;
    } finally {
      await releaseScratch();
    }
  } finally {
    await releasePack();
  }
}

/** Options of {@link cleanStorage}. */
export interface CleanStorageOptions {
  /** VACUUM the index first (full maintenance). */
  readonly vacuum?: boolean;
  /**
   * When false (nobody else should use the container), files crashed writers left in the sandbox are removed too:
   * those whose name tags a dead process (see `processTag`) or has no tag; a live writer's file is kept.
   */
  readonly live?: boolean;
}

/**
 * disk-objectstore's `clean_storage`: optionally VACUUM the index, reconcile `duplicates/` (a good duplicate
 * replaces a corrupt stored copy), delete loose copies of packed objects, and when not live empty the sandbox.
 * `hashOfStored` re-hashes the stored copy of a key. Resolves to the bytes freed.
 */
export async function cleanStorage(
  container: Container,
  options: CleanStorageOptions,
  hashOfStored: (key: string) => Promise<string>,
): Promise<number> {
  const index = container.index;
  if (options.vacuum === true) index.vacuum();
  let freed = await reconcileDuplicates(container, hashOfStored);
  const limit = pLimit(32);
  const removals: Promise<number>[] = [];
  for await (const key of container.listLoose()) {
    if (index.has(key)) removals.push(limit(() => removeFile(container.loosePath(key))));
  }
  for (const size of await Promise.all(removals)) freed += size;
  if (options.live === false) {
    for (const name of await readdir(container.path('sandbox'))) {
      const path = container.path('sandbox', name);
      // a file a live writer (this process or another) has in flight; the untagged ones are aiida-core's or crashed
      if (livenessOfTagged(name) !== ProcessLiveness.DEAD) continue;
      freed += (await stat(path)).size;
      await rm(path, { recursive: true, force: true });
    }
  }
  return freed;
}

async function reconcileDuplicates(
  container: Container,
  hashOfStored: (key: string) => Promise<string>,
): Promise<number> {
  const byKey = new Map<string, string[]>();
  for (const name of await readdir(container.path('duplicates'))) {
    // disk-objectstore names duplicates `<key>.<uuid>`; dot-files are someone else's (.DS_Store).
    if (name.startsWith('.') || !name.includes('.')) continue;
    const key = name.slice(0, name.indexOf('.'));
    byKey.set(key, [...(byKey.get(key) ?? []), name]);
  }
  let freed = 0;
  for (const [key, names] of byKey) {
    let storedIsGood: boolean;
    try {
      storedIsGood = (await hashOfStored(key)) === key;
    } catch (error) {
      if (!(error instanceof FileNotFoundError)) throw error;
      throw new CorruptStorageError(
        `there is a duplicate of object ${key} that no longer exists; delete it with deleteObjects() or recover it by hand`,
        { cause: error },
      );
    }
    let good: string | undefined;
    if (!storedIsGood) {
      for (const name of names) {
        if (sha256Hex(await readFile(container.path('duplicates', name))) === key) {
          good = name;
          break;
        }
      }
      if (good === undefined)
        throw new CorruptStorageError(`the duplicates of object ${key} are all corrupt`);
      await container.ensureShard(key);
      await rename(container.path('duplicates', good), container.loosePath(key));
    }
    for (const name of names) {
      if (name !== good) freed += await removeFile(container.path('duplicates', name));
    }
  }
  return freed;
}
