import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';
import { StorageEntryPoint } from '../../src/storage/backend.js';
import { MemoryRepositoryBackend } from '../../src/storage/memory-repository.js';
import { openSqliteDatabase, SqliteStorageBackend } from '../../src/storage/sqlite/sqlite-backend.js';
import { tempFolder } from '../storage/helpers.js';

/** The folder of aiida-core 2.8 archives written for these tests (see its README.md). */
export const FIXTURES = '/work/shared/fixtures/aiida-archives';

/** Every entry of a zip file, as buffers by name. */
export async function readZip(file: string): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true }, (error, handle) =>
      error === null ? resolve(handle) : reject(error),
    ),
  );
  const entries = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName.endsWith('/')) {
        zip.readEntry();
        return;
      }
      zip.openReadStream(entry, (error, stream) => {
        if (error !== null) {
          reject(error);
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', reject);
        stream.on('end', () => {
          entries.set(entry.fileName, Buffer.concat(chunks));
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return entries;
}

/** An archive opened as storage: its `db.sqlite3` (aiida-core's schema) and its `repo/` objects in memory. */
export interface ArchiveStorage {
  readonly storage: SqliteStorageBackend;
  readonly objects: ReadonlyMap<string, Buffer>;
  readonly metadata: Record<string, unknown>;
  cleanup(): Promise<void>;
}

/**
 * Opens an `.aiida` archive through our SQLite backend: the database file is copied out of the zip, the
 * repository objects go into an in-memory repository (their keys checked against their sha256).
 */
export async function openArchive(name: string): Promise<ArchiveStorage> {
  const entries = await readZip(path.join(FIXTURES, `${name}.aiida`));
  const { folder, cleanup } = await tempFolder('aiida-ts-archive-');
  const database = entries.get('db.sqlite3');
  if (database === undefined) throw new Error(`${name}: no db.sqlite3`);
  await writeFile(path.join(folder, 'db.sqlite3'), database);
  const repository = new MemoryRepositoryBackend();
  await repository.initialise();
  const objects = new Map<string, Buffer>();
  for (const [entryName, content] of entries) {
    if (!entryName.startsWith('repo/')) continue;
    const key = entryName.slice('repo/'.length);
    const stored = await repository.putObjectFromBuffer(content);
    if (stored !== key || createHash('sha256').update(content).digest('hex') !== key)
      throw new Error(`${name}: bad repository key ${key}`);
    objects.set(key, content);
  }
  const native = openSqliteDatabase({ filepath: path.join(folder, 'db.sqlite3') });
  const storage = new SqliteStorageBackend({
    entryPoint: StorageEntryPoint.SQLITE_TEMP,
    native,
    repository,
    location: `${name}.aiida`,
    defaultUserEmail: null,
  });
  return {
    storage,
    objects,
    metadata: JSON.parse(entries.get('metadata.json')!.toString('utf8')) as Record<string, unknown>,
    cleanup: async () => {
      await storage.close();
      await cleanup();
    },
  };
}

/** The parts of `<name>.expected.json` the tests read. */
export interface ExpectedArchive {
  readonly entity_counts: Record<string, number>;
  readonly users: { email: string; first_name: string; last_name: string; institution: string }[];
  readonly computers: {
    uuid: string;
    label: string;
    hostname: string;
    description: string;
    transport_type: string;
    scheduler_type: string;
    metadata: Record<string, unknown>;
  }[];
  readonly nodes: {
    uuid: string;
    node_type: string;
    process_type: string | null;
    label: string;
    description: string;
    ctime: string;
    mtime: string;
    user_email: string;
    computer_uuid: string | null;
    attributes: Record<string, unknown>;
    extras: Record<string, unknown>;
    repository_metadata: Record<string, unknown>;
    repository_files: { path: string; size: number; sha256: string; text?: string }[];
    repository_dirs: string[];
  }[];
  readonly links: { source: string; target: string; type: string; label: string }[];
  readonly root_processes: {
    uuid: string;
    process_label: string | null;
    process_state: string | null;
    exit_status: number | null;
    exit_message: string | null;
    inputs: { label: string; type: string; uuid: string }[];
    outputs: { label: string; type: string; uuid: string }[];
  }[];
  readonly groups: {
    uuid: string;
    label: string;
    type_string: string;
    description: string;
    user_email: string;
    time: string;
    extras: Record<string, unknown>;
    node_uuids: string[];
  }[];
  readonly comments: {
    uuid: string;
    node_uuid: string;
    content: string;
    ctime: string;
    mtime: string;
    user_email: string;
  }[];
  readonly logs: {
    uuid: string;
    node_uuid: string;
    time: string;
    loggername: string;
    levelname: string;
    message: string;
    metadata: Record<string, unknown>;
  }[];
}

export async function readExpected(name: string): Promise<ExpectedArchive> {
  const { readFile } = await import('node:fs/promises');
  return JSON.parse(await readFile(path.join(FIXTURES, `${name}.expected.json`), 'utf8')) as ExpectedArchive;
}
