import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { CorruptStorageError, IncompatibleStorageSchemaError, UnsafeArchiveError } from '../../errors.js';
import { registerSqliteFunctions } from '../../storage/sqlite/functions.js';
import { ARCHIVE_COLUMNS, ARCHIVE_TABLES } from './archive-schema.js';
import {
  ARCHIVE_VERSION_HEAD,
  DB_FILENAME,
  META_FILENAME,
  OBJECT_KEY,
  parseArchiveMetadata,
  REPO_FOLDER,
  type ArchiveMetadata,
} from './format.js';
import { SafeZipReader, type SafeZipReaderOptions } from './zip-reader.js';

/** Objects up to this size are read whole by {@link ArchiveReader.readSmallObject}; larger ones are streamed. */
export const SMALL_OBJECT_BYTES = 1024 * 1024;

/** Options of {@link ArchiveReader.open}. */
export interface ArchiveReaderOptions extends SafeZipReaderOptions {
  /** Folder for the extracted database (a fresh sub-folder is made and removed on close). Default: the OS's. */
  readonly workDir?: string;
}

/** Reads the version of an archive (`metadata.json`'s `export_version`) without extracting anything else. */
export async function readArchiveVersion(filepath: string): Promise<string> {
  const reader = await ArchiveReader.open(filepath);
  try {
    return reader.version;
  } finally {
    await reader.close();
  }
}

/**
 * An archive opened for reading: its zip checked entry by entry ({@link SafeZipReader}), its metadata parsed, its
 * database extracted to a private temporary folder on first use and opened with SQLite, and its repository
 * objects streamed from the zip on demand. Nothing is held whole in memory.
 */
export class ArchiveReader {
  readonly zip: SafeZipReader;
  readonly metadata: ArchiveMetadata;
  readonly #workDir: string | undefined;
  #folder: string | undefined;
  #db: BetterSqlite3.Database | undefined;

  private constructor(zip: SafeZipReader, metadata: ArchiveMetadata, workDir: string | undefined) {
    this.zip = zip;
    this.metadata = metadata;
    this.#workDir = workDir;
  }

  /** Opens the archive at `filepath` and reads its metadata (any version). */
  static async open(filepath: string, options: ArchiveReaderOptions = {}): Promise<ArchiveReader> {
    const zip = await SafeZipReader.open(filepath, options);
    try {
      if (!zip.has(META_FILENAME))
        throw new CorruptStorageError(`Could not find metadata file in \`${filepath}\``);
      const metadata = parseArchiveMetadata(await zip.readBuffer(META_FILENAME), filepath);
      return new ArchiveReader(zip, metadata, options.workDir);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  get path(): string {
    return this.zip.path;
  }

  /** The archive's format version, e.g. `main_0001` or a legacy `0.9`. */
  get version(): string {
    return this.metadata.export_version;
  }

  /**
   * `IncompatibleStorageSchemaError` unless the archive is at {@link ARCHIVE_VERSION_HEAD}, with the command that
   * migrates it (as aiida-core's message).
   */
  assertHeadVersion(): void {
    if (this.version !== ARCHIVE_VERSION_HEAD) {
      throw new IncompatibleStorageSchemaError(
        `Archive schema version \`${this.version}\` is incompatible with the required schema version ` +
          `\`${ARCHIVE_VERSION_HEAD}\`. To migrate the archive schema version to the current one, run the ` +
          `following command: verdi archive migrate '${path.basename(this.path)}'`,
      );
    }
  }

  /** The repository object keys the archive holds (`repo/<key>` entries). */
  objectKeys(): string[] {
    const keys: string[] = [];
    for (const entry of this.zip.files()) {
      if (!entry.name.startsWith(`${REPO_FOLDER}/`)) continue;
      const key = entry.name.slice(REPO_FOLDER.length + 1);
      if (OBJECT_KEY.test(key)) keys.push(key);
    }
    return keys;
  }

  hasObject(key: string): boolean {
    return this.zip.has(`${REPO_FOLDER}/${key}`);
  }

  /** A stream of the object's content as stored in the archive (its key is not re-checked here). */
  openObject(key: string): Promise<Readable> {
    return this.zip.openStream(`${REPO_FOLDER}/${key}`);
  }

  /**
   * The content of a small object (declared size up to {@link SMALL_OBJECT_BYTES}) read whole, or null for a larger
   * one (stream it with {@link openObject}). Its CRC-32 is not checked: importers hash every object against its key.
   */
  async readSmallObject(key: string): Promise<Buffer | null> {
    if (this.objectSize(key) > SMALL_OBJECT_BYTES) return null;
    return this.zip.readWhole(`${REPO_FOLDER}/${key}`, { checkCrc: false });
  }

  /** The declared size of the object `key`. */
  objectSize(key: string): number {
    return this.zip.info(`${REPO_FOLDER}/${key}`)?.size ?? 0;
  }

  /**
   * The archive's database, extracted on first call into a private temporary folder (after checking that the
   * folder's file system has room for it) and opened read-write on that private copy, so the import can prepare
   * rows in place. The file is removed by {@link close}.
   */
  async database(): Promise<BetterSqlite3.Database> {
    if (this.#db !== undefined) return this.#db;
    this.assertHeadVersion();
    if (!this.zip.has(DB_FILENAME))
      throw new CorruptStorageError(`database could not be read: no ${DB_FILENAME} in \`${this.path}\``);
    this.#folder = await mkdtemp(path.join(this.#workDir ?? tmpdir(), 'aiida-archive-'));
    await ensureRoom(this.#folder, this.zip.declaredSize([DB_FILENAME]), this.path);
    const file = path.join(this.#folder, DB_FILENAME);
    await this.zip.extractTo(DB_FILENAME, file);
    let db: BetterSqlite3.Database;
    try {
      db = new BetterSqlite3(file);
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('case_sensitive_like = ON');
      registerSqliteFunctions(db);
      checkArchiveDatabase(db, this.path);
    } catch (error) {
      if (error instanceof CorruptStorageError) throw error;
      throw new CorruptStorageError(
        `database of \`${this.path}\` could not be read: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.#db = db;
    return db;
  }

  /** Closes the zip and the database and removes the extracted files. */
  async close(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
    this.zip.close();
    if (this.#folder !== undefined) await rm(this.#folder, { recursive: true, force: true });
    this.#folder = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** `UnsafeArchiveError` when the file system of `folder` has fewer than `bytes` free (with a 1 MiB margin). */
export async function ensureRoom(folder: string, bytes: number, archive: string): Promise<void> {
  const stats = await statfs(folder);
  const free = Number(stats.bavail) * Number(stats.bsize);
  if (bytes + 1024 * 1024 > free) {
    throw new UnsafeArchiveError(
      `refused archive \`${archive}\`: extracting it needs ${bytes} bytes but \`${folder}\` has ${free} free`,
    );
  }
}

/** `CorruptStorageError` unless every table and column of the archive schema is there. */
function checkArchiveDatabase(db: BetterSqlite3.Database, where: string): void {
  for (const table of ARCHIVE_TABLES) {
    const columns = new Set(
      (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string }[]).map((c) => c.name),
    );
    if (columns.size === 0) throw new CorruptStorageError(`database of \`${where}\` has no table ${table}`);
    const missing = ARCHIVE_COLUMNS[table].filter((column) => !columns.has(column));
    if (missing.length > 0)
      throw new CorruptStorageError(
        `database of \`${where}\`: table ${table} lacks the column(s) ${missing.join(', ')}`,
      );
  }
}
