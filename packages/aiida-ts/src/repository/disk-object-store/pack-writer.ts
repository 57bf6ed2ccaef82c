import { open, stat, unlink } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import pLimit from 'p-limit';
import { CorruptStorageError, RepositoryError } from '../../errors.js';
import { sha256Hex } from '../object-key.js';
import { zlibLevel } from './container-config.js';
import { isErrno } from './container.js';
import type { Container } from './container.js';
import { PackAppender, deflateOptions } from './pack-appender.js';
import type { AppendedObject } from './pack-appender.js';
import { acquirePackLock } from './pack-lock.js';

/** Loose objects up to this size are read whole (and ahead) while packing; larger ones are streamed. */
const SMALL_OBJECT_BYTES = 1024 * 1024;
/** Loose files read ahead while packing. */
const READ_AHEAD = 64;

/** How objects are compressed when they go into a pack (disk-objectstore's `CompressMode`). */
export const CompressMode = { NO: 'no', YES: 'yes', AUTO: 'auto', KEEP: 'keep' } as const;
export type CompressMode = (typeof CompressMode)[keyof typeof CompressMode];

/** Options of `addObjectsToPack`. */
export interface AddObjectsToPackOptions {
  /** zlib-compress every object (default false). */
  readonly compress?: boolean;
  /**
   * The caller has just checked that none of the objects is stored (an import writing what the profile lacks): no
   * index lookup per object. One that another process stores meanwhile is written again, an unreferenced copy that
   * a repack removes (disk-objectstore's `add_objects_to_pack` does not look either). Default false.
   */
  readonly assumeNew?: boolean;
}

/** Options of `packAllLoose`. */
export interface PackAllLooseOptions {
  /** `auto` compresses an object when a sample shrinks by 10 % or more; `keep` means `no` for loose objects. */
  readonly compress?: CompressMode | boolean;
  /** Re-hash every loose object while packing and fail on a mismatch (default true). */
  readonly validate?: boolean;
  /** Delete loose files as soon as the pack holding them is committed (default true, as aiida). */
  readonly cleanLoosePerPack?: boolean;
}

/** One item for `addObjectsToPack`: bytes in memory or a byte stream. */
export type PackSource = Uint8Array | AsyncIterable<unknown>;

interface PackSession {
  readonly packId: number;
  readonly appender: PackAppender;
  readonly release: () => Promise<void>;
  readonly rows: AppendedObject[];
}

type LooseRead =
  | { readonly key: string; readonly kind: 'small'; readonly content: Buffer }
  | { readonly key: string; readonly kind: 'large' }
  | { readonly key: string; readonly kind: 'missing' };

/** Whether compressing pays for this content: a sample must shrink by at least 10 % (disk-objectstore's bar). */
export function worthCompressing(content: Buffer, level: number): boolean {
  if (content.length === 0) return false;
  const sample = content.length > 65536 ? content.subarray(0, 65536) : content;
  return deflateSync(sample, deflateOptions(sample.length, level)).length / sample.length < 0.9;
}

function resolveCompressMode(compress: CompressMode | boolean | undefined): CompressMode {
  if (compress === true) return CompressMode.YES;
  if (compress === false || compress === undefined || compress === CompressMode.KEEP) return CompressMode.NO;
  return compress;
}

/** The first pack from the hint on that is missing or below pack_size_target. */
async function packIdToWriteTo(container: Container): Promise<number> {
  const target = container.config.pack_size_target;
  let packId = container.packIdHint;
  for (;;) {
    try {
      if ((await stat(container.packPath(packId))).size < target) break;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) break;
      throw error;
    }
    packId += 1;
  }
  container.packIdHint = packId;
  return packId;
}

/** Locks the pack to write to and opens it for appending. */
async function openPackSession(container: Container): Promise<PackSession> {
  const config = container.config;
  for (;;) {
    const packId = await packIdToWriteTo(container);
    const release = await acquirePackLock(container.lockPath(packId), { timeoutMs: container.lockTimeoutMs });
    try {
      // Another packer may have filled this pack while we waited for its lock.
      let size = 0;
      try {
        size = (await stat(container.packPath(packId))).size;
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      if (size >= config.pack_size_target) {
        await release();
        continue;
      }
      const appender = await PackAppender.open(
        container.packPath(packId),
        zlibLevel(config.compression_algorithm),
      );
      return { packId, appender, release, rows: [] };
    } catch (error) {
      await release();
      throw error;
    }
  }
}

/** Makes a pack's new objects durable and visible: flush (and fsync) the pack, then commit its index rows. */
async function commitPackSession(container: Container, session: PackSession): Promise<void> {
  try {
    await session.appender.close({ fsync: container.fsync });
    container.index.insertMany(
      session.rows.map((row) => ({
        hashkey: row.hashkey,
        compressed: row.compressed,
        size: row.size,
        offset: row.offset,
        length: row.length,
        packId: session.packId,
      })),
    );
  } finally {
    await session.release();
  }
}

/** Gives up a pack session after an error; bytes already written stay unreferenced until a repack. */
async function abandonPackSession(session: PackSession): Promise<void> {
  try {
    await session.appender.abandon();
  } finally {
    await session.release();
  }
}

function isFull(container: Container, session: PackSession): boolean {
  return session.appender.position >= container.config.pack_size_target;
}

/**
 * Writes objects straight into packs (disk-objectstore's `add_objects_to_pack`): buffers are hashed first and
 * skipped when already stored; streams are hashed while written and taken back when they turn out to be stored.
 * Resolves to the keys in input order.
 */
export async function addObjectsToPack(
  container: Container,
  items: Iterable<PackSource> | AsyncIterable<PackSource>,
  options: AddObjectsToPackOptions = {},
): Promise<string[]> {
  const compress = options.compress ?? false;
  const index = container.index;
  const stored = options.assumeNew === true ? () => false : (key: string) => index.has(key);
  const keys: string[] = [];
  const written = new Set<string>();
  let session: PackSession | undefined = await openPackSession(container);
  try {
    for await (const item of items) {
      if (isFull(container, session)) {
        const full: PackSession = session;
        session = undefined;
        await commitPackSession(container, full);
        session = await openPackSession(container);
      }
      if (item instanceof Uint8Array) {
        const buffer = Buffer.from(item.buffer, item.byteOffset, item.byteLength);
        const key = sha256Hex(buffer);
        keys.push(key);
        if (written.has(key) || stored(key)) continue;
        session.rows.push(await session.appender.appendBuffer(key, buffer, compress));
        written.add(key);
      } else if (item !== null && typeof item === 'object' && Symbol.asyncIterator in item) {
        const start = session.appender.position;
        const appended = await session.appender.appendStream(item, compress);
        keys.push(appended.hashkey);
        if (written.has(appended.hashkey) || stored(appended.hashkey)) {
          session.appender.truncateTo(start);
          continue;
        }
        session.rows.push(appended);
        written.add(appended.hashkey);
      } else {
        throw new RepositoryError(`addObjectsToPack expects buffers or byte streams, got ${typeof item}`);
      }
    }
  } catch (error) {
    if (session !== undefined) await abandonPackSession(session);
    throw error;
  }
  await commitPackSession(container, session);
  return keys;
}

/** Reads a loose file for packing: whole when small, otherwise it is streamed when its turn comes. */
async function readLoose(container: Container, key: string): Promise<LooseRead> {
  let handle;
  try {
    handle = await open(container.loosePath(key), 'r');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { key, kind: 'missing' };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > SMALL_OBJECT_BYTES) return { key, kind: 'large' };
    return { key, kind: 'small', content: await handle.readFile() };
  } finally {
    await handle.close();
  }
}

/**
 * Packs every loose object not packed yet (disk-objectstore's `pack_all_loose`), safe while other processes read
 * and write loose objects: each key is checked against the index under the pack lock, a pack's rows are
 * committed after the pack is synced, and only then are loose copies removed. Small loose files are read ahead
 * in parallel. Resolves to the number of objects packed.
 */
export async function packAllLoose(container: Container, options: PackAllLooseOptions = {}): Promise<number> {
  const mode = resolveCompressMode(options.compress);
  const validate = options.validate ?? true;
  const cleanLoose = options.cleanLoosePerPack ?? true;
  const index = container.index;
  const level = zlibLevel(container.config.compression_algorithm);
  const candidates: string[] = [];
  for await (const key of container.listLoose()) candidates.push(key);
  if (candidates.length === 0) return 0;
  let packed = 0;
  const commit = async (current: PackSession): Promise<void> => {
    await commitPackSession(container, current);
    packed += current.rows.length;
    if (cleanLoose) {
      // A loose file may already be gone (another cleaner); either way the object is packed now.
      const limit = pLimit(32);
      await Promise.all(
        current.rows.map((row) =>
          limit(() => unlink(container.loosePath(row.hashkey)).catch(() => undefined)),
        ),
      );
    }
  };
  let session: PackSession | undefined = await openPackSession(container);
  try {
    const reads: Promise<LooseRead>[] = [];
    let next = 0;
    const refill = (): void => {
      while (reads.length < READ_AHEAD && next < candidates.length) {
        const key = candidates[next++] as string;
        // Already packed (by us earlier or another packer): the loose copy is for cleanStorage.
        reads.push(index.has(key) ? Promise.resolve({ key, kind: 'missing' }) : readLoose(container, key));
      }
    };
    refill();
    while (reads.length > 0) {
      const read = await (reads.shift() as Promise<LooseRead>);
      refill();
      if (read.kind === 'missing' || index.has(read.key)) continue;
      if (isFull(container, session)) {
        const full: PackSession = session;
        session = undefined;
        await commit(full);
        session = await openPackSession(container);
      }
      if (read.kind === 'small') {
        const actual = validate ? sha256Hex(read.content) : read.key;
        if (actual !== read.key) {
          throw new CorruptStorageError(
            `loose object ${read.key} is corrupt: its content hashes to ${actual}`,
          );
        }
        const compress =
          mode === CompressMode.YES || (mode === CompressMode.AUTO && worthCompressing(read.content, level));
        session.rows.push(await session.appender.appendBuffer(read.key, read.content, compress));
        continue;
      }
      const handle = await open(container.loosePath(read.key), 'r').catch((error: unknown) => {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      });
      if (handle === undefined) continue;
      let compress = mode === CompressMode.YES;
      if (mode === CompressMode.AUTO) {
        const sample = Buffer.allocUnsafe(65536);
        const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
        compress = worthCompressing(sample.subarray(0, bytesRead), level);
      }
      const start = session.appender.position;
      const appended = await session.appender.appendStream(handle.createReadStream({ start: 0 }), compress);
      if (validate && appended.hashkey !== read.key) {
        session.appender.truncateTo(start);
        throw new CorruptStorageError(
          `loose object ${read.key} is corrupt: its content hashes to ${appended.hashkey}`,
        );
      }
      session.rows.push({ ...appended, hashkey: read.key });
    }
  } catch (error) {
    if (session !== undefined) await abandonPackSession(session);
    throw error;
  }
  await commit(session);
  return packed;
}
