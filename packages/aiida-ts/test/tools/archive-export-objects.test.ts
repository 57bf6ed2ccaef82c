import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepositoryError } from '../../src/errors.js';
import { createArchive } from '../../src/tools/archive/create.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { SMALL_OBJECT_BYTES } from '../../src/tools/archive/archive-reader.js';
import { openSqliteDos, tempFolder, TEST_USER_EMAIL, type TestStorage } from '../storage/helpers.js';

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
});
