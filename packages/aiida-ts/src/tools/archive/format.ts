import { z } from 'zod';
import { CorruptStorageError, StorageMigrationError } from '../../errors.js';

/** The file of an archive holding its version and how it was made. */
export const META_FILENAME = 'metadata.json';
/** The SQLite database of an archive (format `main_*`). */
export const DB_FILENAME = 'db.sqlite3';
/** The folder of an archive's repository objects, one entry `repo/<sha256>` per distinct content. */
export const REPO_FOLDER = 'repo';
/** The JSON database of the legacy (`0.x`) formats. */
export const LEGACY_DATA_FILENAME = 'data.json';

/** The archive format aiida-ts writes and imports: aiida-core 2.x's `core.sqlite_zip` schema version. */
export const ARCHIVE_VERSION_HEAD = 'main_0001';

/** The legacy JSON formats an archive can be migrated from, each to the next. */
export const LEGACY_VERSIONS = ['0.4', '0.5', '0.6', '0.7', '0.8', '0.9', '0.10', '0.11', '0.12'] as const;
/** The last JSON format: converted to the SQLite format `main_0000`. */
export const FINAL_LEGACY_VERSION = '0.13';
/** The SQLite formats, oldest first. */
export const MAIN_VERSIONS = ['main_0000', 'main_0000a', 'main_0000b', 'main_0001'] as const;
/** Formats aiida-core 2 cannot migrate (migrate them with aiida-core 1 first). */
export const UNSUPPORTED_LEGACY_VERSIONS = ['0.1', '0.2', '0.3'] as const;

/** Every version an archive can be migrated from or to, oldest first (aiida-core's `list_versions`). */
export function listArchiveVersions(): string[] {
  return [...LEGACY_VERSIONS, FINAL_LEGACY_VERSION, ...MAIN_VERSIONS];
}

/** The key of a repository object: the lowercase sha256 of its content. */
export const OBJECT_KEY = /^[0-9a-f]{64}$/;

/** The traversal rules recorded in `creation_parameters.graph_traversal_rules`. */
const TraversalRulesSchema = z.record(z.string(), z.boolean());

/**
 * `metadata.json` of a `main_*` archive. Unknown keys are kept (legacy archives carry `conversion_info`,
 * `mtime`, …) and written back unchanged by migrations.
 */
export const ArchiveMetadataSchema = z.looseObject({
  export_version: z.string(),
  aiida_version: z.string().optional(),
  key_format: z.string().optional(),
  compression: z.number().int().optional(),
  ctime: z.string().optional(),
  mtime: z.string().optional(),
  conversion_info: z.array(z.string()).optional(),
  creation_parameters: z
    .looseObject({
      entities_starting_set: z.record(z.string(), z.array(z.string())).nullable().optional(),
      include_authinfos: z.boolean().optional(),
      include_comments: z.boolean().optional(),
      include_logs: z.boolean().optional(),
      graph_traversal_rules: TraversalRulesSchema.optional(),
    })
    .optional(),
});
export type ArchiveMetadata = z.infer<typeof ArchiveMetadataSchema>;

/** Parses the bytes of `metadata.json`; `CorruptStorageError` naming what is wrong. */
export function parseArchiveMetadata(content: Buffer, where: string): ArchiveMetadata {
  let value: unknown;
  try {
    value = JSON.parse(content.toString('utf8'));
  } catch (error) {
    throw new CorruptStorageError(`Could not read metadata of \`${where}\`: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CorruptStorageError(`Metadata of \`${where}\` is not a dictionary`);
  if (!('export_version' in value)) throw new CorruptStorageError('No export_version found in metadata');
  const parsed = ArchiveMetadataSchema.safeParse(value);
  if (!parsed.success) {
    throw new CorruptStorageError(
      `invalid metadata of \`${where}\`: ${parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || '<root>'}: ${issue.message}`)
        .join('; ')}`,
    );
  }
  return parsed.data;
}

/**
 * Checks that a migration from `current` to `target` is one aiida-core 2 can do (aiida's
 * `validate_archive_versions`): `StorageMigrationError` for the 0.1–0.3 formats and unknown versions.
 */
export function validateArchiveVersions(current: string, target: string): void {
  const unsupported: readonly string[] = UNSUPPORTED_LEGACY_VERSIONS;
  if (unsupported.includes(current) || unsupported.includes(target)) {
    throw new StorageMigrationError(
      `Legacy migration from '${current}' -> '${target}' is not supported in aiida-core v2. ` +
        'First migrate them to the latest version in aiida-core v1.',
    );
  }
  const all = listArchiveVersions();
  if (!all.includes(target)) throw new StorageMigrationError(`Unknown target version '${target}'`);
  if (!all.includes(current)) throw new StorageMigrationError(`Unknown current version '${current}'`);
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff` in local time, as Python's `datetime.now().isoformat()` (metadata `ctime`). */
export function localIsoNow(date: Date = new Date()): string {
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.` +
    `${pad(date.getMilliseconds(), 3)}000`
  );
}
