import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptObjectError, RepositoryError } from '../../src/errors.js';
import type { DiskObjectStoreRepositoryBackend } from '../../src/repository.js';
import { CompressMode } from '../../src/repository.js';
import { createArchive } from '../../src/tools/archive/create.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { ArchiveReader, SMALL_OBJECT_BYTES } from '../../src/tools/archive/archive-reader.js';
import { STORED_OBJECT_BYTES } from '../../src/tools/archive/zip-writer.js';
import { openSqliteDos, tempFolder, TEST_USER_EMAIL, type TestStorage } from '../storage/helpers.js';
import { localHeaderNames, pythonEntries } from './zip-checks.js';

/** Stores data nodes, one per content, each naming its object as `file.txt`; resolves to their keys. */
async function storeNodes(handle: TestStorage, contents: readonly Buffer[]): Promise<string[]> {
  const { storage } = handle;
  const now = storage.dialect.encodeTimestamp(new Date());
  const user = await storage.bulkInsert('db_dbuser', [
    { email: `${randomUUID()}@${TEST_USER_EMAIL}`, first_name: '', last_name: '', institution: '' },
  ]);
  const keys = [];
  for (const content of contents) keys.push(await storage.repository.putObjectFromBuffer(content));
  await storage.bulkInsert(
    'db_dbnode',
    keys.map((key) => ({
      uuid: randomUUID(),
      node_type: 'data.core.singlefile.SinglefileData.',
      process_type: null,
      label: '',
      description: '',
      ctime: now,
      mtime: now,
      attributes: JSON.stringify({ filename: 'file.txt' }),
      extras: '{}',
      repository_metadata: JSON.stringify({ o: { 'file.txt': { k: key } } }),
      dbcomputer_id: null,
      user_id: user[0] ?? 0,
    })),
  );
  return keys;
}

describe('repository objects in an export', () => {
  let source: TestStorage;
  let target: TestStorage;
  let folder: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    source = await openSqliteDos();
    target = await openSqliteDos();
    ({ folder, cleanup } = await tempFolder('aiida-ts-export-objects-'));
  });
  afterAll(async () => {
    await source.cleanup();
    await target.cleanup();
    await cleanup();
  });

  /** Exports `own` (then closed) to `name`: it must fail with `CorruptObjectError` naming `key`, leaving no file. */
  async function expectCorruptExport(own: TestStorage, name: string, key: string): Promise<void> {
    const error = await createArchive(path.join(folder, name), { storage: own.storage }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    await own.cleanup();
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as Error).message).toContain(key);
    expect((await readdir(folder)).filter((entry) => entry.startsWith(name))).toEqual([]);
  }

  it('carries small objects (read whole, many in flight) and large ones (streamed) byte for byte', async () => {
    // more small objects than the export keeps queued in the zip writer, so its window turns over several times
    const contents = [
      ...Array.from({ length: 700 }, (_, index) => Buffer.from(`small ${index}\n`.repeat(1 + (index % 50)))),
      Buffer.alloc(SMALL_OBJECT_BYTES + 1, 7),
      Buffer.from('after the large one'),
    ];
    const keys = await storeNodes(source, contents);
    const file = path.join(folder, 'objects.aiida');
    const created = await createArchive(file, { storage: source.storage });
    expect(created.repositoryObjects).toBe(new Set(keys).size);
    await importArchive(file, { storage: target.storage });
    for (const [index, key] of keys.entries())
      expect((await target.storage.repository.getObjectContent(key)).equals(contents[index]!)).toBe(true);
  });

  it('fails naming the missing object and leaves no file behind when an object is missing', async () => {
    const [key] = await storeNodes(source, [Buffer.from('soon gone')]);
    await source.storage.repository.deleteObjects([key!]);
    const file = path.join(folder, 'missing.aiida');
    const error = await createArchive(file, { storage: source.storage }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(RepositoryError);
    expect((error as Error).message).toContain(key);
    expect((await readdir(folder)).filter((name) => name.startsWith('missing.aiida'))).toEqual([]);
  });

  it('stores small objects as they are and deflates the others, every one readable by its key', async () => {
    const contents = [
      Buffer.from('x'.repeat(STORED_OBJECT_BYTES - 1)),
      Buffer.from('y'.repeat(STORED_OBJECT_BYTES)),
      Buffer.from('z'.repeat(64 * 1024)),
    ];
    // a profile of its own: the one of the other cases holds a node whose object was removed
    const own = await openSqliteDos();
    const keys = await storeNodes(own, contents);
    const file = path.join(folder, 'stored-and-deflated.aiida');
    await createArchive(file, { storage: own.storage });
    // what aiida-core reads: Python's zipfile checks every CRC, and a walk of the local headers from the front finds
    // the metadata and the database first
    const python = pythonEntries(file);
    expect(python.slice(2)).toEqual(keys.map((key, index) => [`repo/${key}`, index === 0 ? 0 : 8, key]));
    expect(localHeaderNames(await readFile(file)).slice(0, 2)).toEqual(['metadata.json', 'db.sqlite3']);
    const reader = await ArchiveReader.open(file);
    try {
      expect(keys.map((key) => reader.zip.info(`repo/${key}`)?.compressed)).toEqual([false, true, true]);
      for (const [index, key] of keys.entries())
        expect((await reader.zip.readBuffer(`repo/${key}`)).equals(contents[index]!)).toBe(true);
    } finally {
      await reader.close();
    }
    const level0 = path.join(folder, 'level-0.aiida');
    await createArchive(level0, { storage: own.storage, compression: 0 });
    expect(pythonEntries(level0).map(([name, method]) => [name, method])).toEqual([
      ['metadata.json', 0],
      ['db.sqlite3', 0],
      ...keys.map((key) => [`repo/${key}`, 0]),
    ]);
    await own.cleanup();
    const plain = await ArchiveReader.open(level0);
    try {
      expect(keys.map((key) => plain.zip.info(`repo/${key}`)?.compressed)).toEqual([false, false, false]);
    } finally {
      await plain.close();
    }
  });

  it('exports a packed profile: plain and compressed packed objects, small and large, byte for byte', async () => {
    const own = await openSqliteDos();
    const repository = own.storage.repository as unknown as DiskObjectStoreRepositoryBackend;
    const plain = [Buffer.from('packed as it is'), Buffer.from('p'.repeat(STORED_OBJECT_BYTES + 10))];
    const keys = await storeNodes(own, plain);
    await repository.packAllLoose({ compress: CompressMode.NO });
    const compressible = [Buffer.from('c'.repeat(500)), Buffer.from('d'.repeat(4 * STORED_OBJECT_BYTES))];
    keys.push(...(await storeNodes(own, compressible)));
    await repository.packAllLoose({ compress: CompressMode.YES });
    const loose = Buffer.from('still loose');
    keys.push(...(await storeNodes(own, [loose])));
    const contents = [...plain, ...compressible, loose];
    const file = path.join(folder, 'packed.aiida');
    await createArchive(file, { storage: own.storage });
    await own.cleanup();
    const entries = new Map(pythonEntries(file).map(([name, method, hash]) => [name, [method, hash]]));
    for (const [index, key] of keys.entries())
      expect(entries.get(`repo/${key}`)).toEqual([
        contents[index]!.length < STORED_OBJECT_BYTES ? 0 : 8,
        key,
      ]);
  });

  it('fails naming the object when its packed copy is damaged', async () => {
    const own = await openSqliteDos();
    const repository = own.storage.repository as unknown as DiskObjectStoreRepositoryBackend;
    const [key] = await storeNodes(own, [Buffer.from('to be damaged in its pack')]);
    await repository.packAllLoose({ compress: CompressMode.NO });
    const pack = path.join(repository.folder, 'packs', '0');
    const bytes = await readFile(pack);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    await writeFile(pack, bytes);
    await expectCorruptExport(own, 'damaged-pack.aiida', key!);
  });

  it('fails naming the object and leaves no file behind when a loose object does not match its key', async () => {
    const own = await openSqliteDos();
    const [key] = await storeNodes(own, [Buffer.from('the original content')]);
    const folderOf = (own.storage.repository as unknown as { folder: string }).folder;
    await writeFile(path.join(folderOf, 'loose', key!.slice(0, 2), key!.slice(2)), 'tampered content');
    await expectCorruptExport(own, 'corrupt.aiida', key!);
  });
});
