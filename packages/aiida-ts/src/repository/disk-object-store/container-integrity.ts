import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidObjectKey, sha256Hex } from '../object-key.js';
import {
  IntegrityProblemKind,
  IntegritySeverity,
  type IntegrityCheckOptions,
  type IntegrityProblem,
  type RepositoryIntegrityReport,
} from '../integrity.js';
import { isErrno } from './container.js';
import type { Container } from './container.js';
import type { PackedObjectRow } from './pack-index.js';
import { openPackedStream, readPackedObject } from './pack-reader.js';

/** Keys listed per problem at most (the message gives the count). */
const KEYS_PER_PROBLEM = 100;
/** Packed objects up to this size are read whole through the cached pack handle; larger ones are streamed. */
const WHOLE_READ_BYTES = 4 * 1024 * 1024;

const error = IntegritySeverity.ERROR;
const warning = IntegritySeverity.WARNING;

async function sha256OfStream(stream: AsyncIterable<unknown>): Promise<{ hash: string; bytes: number }> {
  const hasher = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hasher.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: hasher.digest('hex'), bytes };
}

/** Loose files (every copy, also of packed objects) and stray entries of `loose/`. */
async function looseFiles(container: Container): Promise<{ keys: string[]; stray: string[] }> {
  const prefix = container.config.loose_prefix_len;
  const folder = container.path('loose');
  const keys: string[] = [];
  const stray: string[] = [];
  let first: string[];
  try {
    first = await readdir(folder);
  } catch (reason) {
    if (isErrno(reason, 'ENOENT')) return { keys, stray: [folder] };
    throw reason;
  }
  for (const name of first) {
    if (prefix === 0) {
      if (isValidObjectKey(name)) keys.push(name);
      else stray.push(join(folder, name));
      continue;
    }
    let second: string[];
    try {
      second = await readdir(join(folder, name));
    } catch (reason) {
      if (isErrno(reason, 'ENOTDIR')) {
        stray.push(join(folder, name));
        continue;
      }
      if (isErrno(reason, 'ENOENT')) continue;
      throw reason;
    }
    for (const rest of second) {
      const key = name + rest;
      if (name.length === prefix && isValidObjectKey(key)) keys.push(key);
      else stray.push(join(folder, name, rest));
    }
  }
  return { keys, stray };
}

/**
 * Checks a disk-objectstore container: the pack index against the pack files (every pack it names exists, no
 * object ends past its pack's end or overlaps another, no pack file is left without objects, SQLite's own check of
 * the index), stray files and pending duplicates, and with `hashes` the content of every copy of every object
 * (loose files and packed rows) against its key. Reads only; safe while the container is in use (a pack being
 * written may show as an orphan for a moment).
 */
export async function checkContainerIntegrity(
  container: Container,
  options: IntegrityCheckOptions = {},
): Promise<RepositoryIntegrityReport> {
  const problems: IntegrityProblem[] = [];
  const index = container.index;

  const check = index.quickCheck();
  if (check.length !== 1 || check[0] !== 'ok') {
    problems.push({
      kind: IntegrityProblemKind.PACK_INDEX,
      severity: error,
      message: `the pack index ${index.path} is damaged: ${check.slice(0, 5).join('; ')}`,
      location: index.path,
    });
  }

  // --- packs against the index -------------------------------------------------------------------------------
  const packFiles = new Map<number, number>();
  for (const packId of await container.listPackIds()) {
    packFiles.set(packId, (await stat(container.packPath(packId))).size);
  }
  const unusable = new Set<number>();
  const truncatedKeys = new Set<string>();
  for (const { packId, objects, end } of index.packSummaries()) {
    const size = packFiles.get(packId);
    if (size === undefined) {
      unusable.add(packId);
      problems.push({
        kind: IntegrityProblemKind.MISSING_PACK,
        severity: error,
        message: `pack file ${container.packPath(packId)} is missing: the ${objects} object(s) the index places in it are lost`,
        keys: index.keysOfPack(packId, KEYS_PER_PROBLEM),
        location: container.packPath(packId),
      });
      continue;
    }
    if (end > size) {
      const keys = index.keysOfPack(packId, KEYS_PER_PROBLEM, size);
      for (const key of keys) truncatedKeys.add(key);
      problems.push({
        kind: IntegrityProblemKind.TRUNCATED_PACK,
        severity: error,
        message: `pack file ${container.packPath(packId)} is ${size} bytes but the index places objects up to byte ${end}: it was truncated`,
        keys,
        location: container.packPath(packId),
      });
    }
  }
  const indexed = new Set(index.packSummaries().map((summary) => summary.packId));
  for (const [packId, size] of packFiles) {
    if (indexed.has(packId) || size === 0) continue;
    problems.push({
      kind: IntegrityProblemKind.ORPHAN_PACK,
      severity: warning,
      message: `pack file ${container.packPath(packId)} (${size} bytes) holds no indexed object`,
      location: container.packPath(packId),
    });
  }
  const overlaps = index.overlaps(KEYS_PER_PROBLEM);
  if (overlaps.length > 0) {
    problems.push({
      kind: IntegrityProblemKind.OVERLAPPING_OBJECTS,
      severity: error,
      message: `${overlaps.length} object(s) of the pack index overlap the object before them in their pack (first: ${overlaps[0]?.hashkey} in pack ${overlaps[0]?.packId} at ${overlaps[0]?.offset}, previous ends at ${overlaps[0]?.previousEnd})`,
      keys: overlaps.map((overlap) => overlap.hashkey),
      location: index.path,
    });
  }

  // --- loose files, duplicates ---------------------------------------------------------------------------------
  const loose = await looseFiles(container);
  if (loose.stray.length > 0) {
    problems.push({
      kind: IntegrityProblemKind.STRAY_FILE,
      severity: warning,
      message: `${loose.stray.length} file(s) in ${container.path('loose')} are not objects (first: ${loose.stray[0]})`,
      location: container.path('loose'),
    });
  }
  const duplicates = (await readdir(container.path('duplicates'))).filter((name) => !name.startsWith('.'));
  if (duplicates.length > 0) {
    problems.push({
      kind: IntegrityProblemKind.PENDING_DUPLICATES,
      severity: warning,
      message: `${duplicates.length} duplicate(s) wait in ${container.path('duplicates')} to be reconciled by \`verdi storage maintain\``,
      location: container.path('duplicates'),
    });
  }

  // --- content of every copy ------------------------------------------------------------------------------------
  let hashed = 0;
  const corrupt = (key: string, where: string, detail: string): void => {
    problems.push({
      kind: IntegrityProblemKind.CORRUPT_OBJECT,
      severity: error,
      message: `object ${key} is corrupt (${where}): ${detail}`,
      keys: [key],
      location: where,
    });
  };
  if (options.hashes !== false) {
    for (const key of loose.keys) {
      const path = container.loosePath(key);
      let content: Buffer;
      try {
        content = await readFile(path);
      } catch (reason) {
        if (isErrno(reason, 'ENOENT')) continue; // packed and cleaned meanwhile
        throw reason;
      }
      hashed += 1;
      const actual = sha256Hex(content);
      if (actual !== key) corrupt(key, `loose file ${path}`, `its ${content.length} bytes hash to ${actual}`);
    }
    for (let after = -1; ;) {
      let rows: (PackedObjectRow & { id: number })[];
      try {
        rows = index.pageRows(after, 1000);
      } catch (reason) {
        problems.push({
          kind: IntegrityProblemKind.PACK_INDEX,
          severity: error,
          message: `the pack index ${index.path} has a row that cannot be read: ${(reason as Error).message}`,
          location: index.path,
        });
        break;
      }
      if (rows.length === 0) break;
      after = rows[rows.length - 1]?.id ?? after;
      for (const row of rows) {
        if (unusable.has(row.pack_id) || truncatedKeys.has(row.hashkey)) continue;
        const where = `pack ${container.packPath(row.pack_id)} at offset ${row.offset}${row.compressed ? ', compressed' : ''}`;
        hashed += 1;
        try {
          const { hash, bytes } =
            row.size <= WHOLE_READ_BYTES
              ? await readPackedObject(container, row).then((content) => ({
                  hash: sha256Hex(content),
                  bytes: content.length,
                }))
              : await sha256OfStream(await openPackedStream(container, row));
          if (hash !== row.hashkey) corrupt(row.hashkey, where, `its ${bytes} bytes hash to ${hash}`);
          else if (bytes !== row.size)
            corrupt(row.hashkey, where, `it has ${bytes} bytes where the index says ${row.size}`);
        } catch (reason) {
          corrupt(row.hashkey, where, `it cannot be read: ${(reason as Error).message}`);
        }
      }
    }
  }
  return {
    objects: { loose: loose.keys.length, packed: index.count(), hashed },
    problems,
  };
}
