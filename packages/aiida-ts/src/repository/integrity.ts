import { z } from 'zod';
import type { RepositoryBackend } from './repository-backend.js';
import { sha256Hex } from './object-key.js';

/** What kind of problem a storage or repository check found (`verdi storage integrity`). */
export const IntegrityProblemKind = {
  /** An object's content does not hash to its key. */
  CORRUPT_OBJECT: 'corrupt-object',
  /** An object a node refers to is not in the repository. */
  MISSING_OBJECT: 'missing-object',
  /** An object no node refers to (left by deleted nodes or failed stores; `verdi storage maintain --full` removes it). */
  UNREFERENCED_OBJECT: 'unreferenced-object',
  /** The pack index names a pack file that does not exist. */
  MISSING_PACK: 'missing-pack',
  /** The pack index places an object past the end of its pack file. */
  TRUNCATED_PACK: 'truncated-pack',
  /** Two objects of the pack index overlap in their pack file. */
  OVERLAPPING_OBJECTS: 'overlapping-objects',
  /** A pack file no object of the index lies in (wasted space). */
  ORPHAN_PACK: 'orphan-pack',
  /** The pack index database itself fails SQLite's check, or a row of it is invalid. */
  PACK_INDEX: 'pack-index',
  /** Duplicates of objects a racing writer left, waiting for maintenance to reconcile them. */
  PENDING_DUPLICATES: 'pending-duplicates',
  /** A file in the container that is no object (a stray file in `loose/`). */
  STRAY_FILE: 'stray-file',
  /** A node's `repository_metadata` is not a valid file hierarchy, or names an invalid key. */
  INVALID_REPOSITORY_METADATA: 'invalid-repository-metadata',
  /** A link, group membership, comment or log that names a node (or group) that does not exist. */
  DANGLING_REFERENCE: 'dangling-reference',
  /** Two rows of one table share a uuid. */
  DUPLICATE_UUID: 'duplicate-uuid',
} as const;
export type IntegrityProblemKind = (typeof IntegrityProblemKind)[keyof typeof IntegrityProblemKind];

/** `error`: data is lost or unreadable; `warning`: harmless, or fixed by maintenance. */
export const IntegritySeverity = { ERROR: 'error', WARNING: 'warning' } as const;
export type IntegritySeverity = (typeof IntegritySeverity)[keyof typeof IntegritySeverity];

/** One problem found by an integrity check, with what it concerns. */
export const IntegrityProblemSchema = z.object({
  kind: z.enum(Object.values(IntegrityProblemKind) as [IntegrityProblemKind, ...IntegrityProblemKind[]]),
  severity: z.enum([IntegritySeverity.ERROR, IntegritySeverity.WARNING]),
  /** One line for people. */
  message: z.string(),
  /** The object keys concerned. */
  keys: z.array(z.string()).optional(),
  /** The pks of the nodes concerned (those referring to a missing or corrupt object, say). */
  nodes: z.array(z.number()).optional(),
  /** Where: a file, a pack, a table and row ids. */
  location: z.string().optional(),
});
export type IntegrityProblem = z.infer<typeof IntegrityProblemSchema>;

/** Options of an integrity check. */
export interface IntegrityCheckOptions {
  /**
   * Read every object and check its content against its key (default true). Without it only the structure is
   * checked (files present where the index says, no object past a pack's end): fast enough for `verdi status`.
   */
  readonly hashes?: boolean;
}

/** What a repository check looked at and found. */
export interface RepositoryIntegrityReport {
  readonly objects: { readonly loose: number; readonly packed: number; readonly hashed: number };
  readonly problems: readonly IntegrityProblem[];
}

/**
 * The check of a repository without packs (in-memory backends): every object hashed against its key. The
 * disk-objectstore backend has its own, which also checks the container's structure.
 */
export async function checkObjectHashes(
  backend: RepositoryBackend,
  options: IntegrityCheckOptions = {},
): Promise<RepositoryIntegrityReport> {
  const problems: IntegrityProblem[] = [];
  let count = 0;
  let hashed = 0;
  for await (const key of backend.listObjects()) {
    count += 1;
    if (options.hashes === false) continue;
    const content = await backend.getObjectContent(key);
    hashed += 1;
    const actual = sha256Hex(content);
    if (actual !== key) {
      problems.push({
        kind: IntegrityProblemKind.CORRUPT_OBJECT,
        severity: IntegritySeverity.ERROR,
        message: `object ${key} is corrupt: its ${content.length} bytes hash to ${actual}`,
        keys: [key],
      });
    }
  }
  return { objects: { loose: count, packed: 0, hashed }, problems };
}
