import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SinglefileData } from '../../src/orm.js';
import { DiskObjectStoreRepositoryBackend } from '../../src/repository.js';
import { collectObjectKeys } from '../../src/repository/object-key.js';
import type { StorageBackend, StoragePlugin } from '../../src/storage/backend.js';
import { PsqlDosStorage, type PsqlDosConfig } from '../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { psqlDosConfig, sqliteDosConfig, TEST_USER_EMAIL } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/**
 * A disk-objectstore backend that runs `hook` once, right after the first object is written: the moment between
 * a store writing its files and inserting its row, where full maintenance used to delete them.
 */
class HookedBackend extends DiskObjectStoreRepositoryBackend {
  hook: (() => Promise<void>) | undefined;

  override async putObjectFromBuffer(content: Uint8Array): Promise<string> {
    const key = await super.putObjectFromBuffer(content);
    const hook = this.hook;
    this.hook = undefined;
    if (hook !== undefined) await hook();
    return key;
  }
}

/** Every stored node's objects: present, and their content hashing to their key. */
async function brokenObjects(storage: StorageBackend): Promise<string[]> {
  const rows = await storage
    .executor()
    .selectFrom('db_dbnode')
    .select(['id', 'repository_metadata'])
    .orderBy('id')
    .execute();
  const broken: string[] = [];
  for (const row of rows) {
    for (const key of collectObjectKeys(storage.dialect.decodeJson(row.repository_metadata))) {
      try {
        const content = await storage.repository.getObjectContent(key);
        if (createHash('sha256').update(content).digest('hex') !== key)
          broken.push(`node ${row.id}: ${key} corrupt`);
      } catch (error) {
        broken.push(`node ${row.id}: ${key} ${(error as Error).message}`);
      }
    }
  }
  return broken;
}

interface Setup<C> {
  readonly name: string;
  readonly entryPoint: string;
  plugin(createRepository?: (folder: string) => DiskObjectStoreRepositoryBackend): StoragePlugin<C>;
  config(): Promise<{ config: C; cleanup: () => Promise<void> }>;
}

const sqlite: Setup<{ filepath: string }> = {
  name: 'core.sqlite_dos',
  entryPoint: 'core.sqlite_dos',
  plugin: (createRepository) =>
    new SqliteDosStorage(createRepository === undefined ? {} : { createRepository }),
  config: sqliteDosConfig,
};

const postgres: Setup<PsqlDosConfig> = {
  name: 'core.psql_dos',
  entryPoint: 'core.psql_dos',
  plugin: (createRepository) =>
    new PsqlDosStorage(createRepository === undefined ? {} : { createRepository }),
  config: psqlDosConfig,
};

function runWriter(entryPoint: string, config: unknown, count: number, tag: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsxLoader,
        path.join(here, 'scripts', 'file-writer.ts'),
        entryPoint,
        JSON.stringify(config),
        String(count),
        tag,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`writer ${tag} exited with ${code}: ${err}`)),
    );
  });
}

describe.each([sqlite, postgres] as Setup<unknown>[])('full maintenance racing stores on $name', (setup) => {
  it('a store whose file maintenance deleted before its insert puts it again; the node keeps its file', async () => {
    const { config, cleanup } = await setup.config();
    let hooked: HookedBackend | undefined;
    const writerPlugin = setup.plugin((folder) => (hooked = new HookedBackend({ folder })));
    const plainPlugin = setup.plugin();
    try {
      await plainPlugin.initialise(config);
      const writer = await writerPlugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      const maintainer = await plainPlugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        let deleted = 0;
        hooked!.hook = async () => {
          deleted = (await maintainer.maintain({ live: false })).objectsDeleted;
        };
        const node = await SinglefileData.fromString('written just before a full maintenance', 'a.txt', {
          storage: writer,
        });
        await node.store();
        // maintenance did delete the object the store had written, and the store noticed and wrote it again
        expect(deleted).toBe(1);
        expect(await node.getContent('utf8')).toBe('written just before a full maintenance');
        expect(await brokenObjects(maintainer)).toEqual([]);
        // and a later full maintenance keeps it: it is referenced now
        expect((await maintainer.maintain({ live: false })).objectsDeleted).toBe(0);
        expect(await brokenObjects(maintainer)).toEqual([]);
      } finally {
        await writer.close();
        await maintainer.close();
      }
    } finally {
      await cleanup();
    }
  });

  it(
    'stores in another process never end with a node whose file is gone, however often full maintenance runs',
    { timeout: 120_000 },
    async () => {
      const { config, cleanup } = await setup.config();
      const plugin = setup.plugin();
      try {
        await plugin.initialise(config);
        const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
        try {
          const count = 120;
          let finished = false;
          const writing = runWriter(setup.entryPoint, config, count, 'race').finally(() => {
            finished = true;
          });
          let runs = 0;
          // as many full maintenance runs as fit while the writer stores; a few at least, even on a fast writer
          while (!finished || runs < 3) {
            await storage.maintain({ live: false });
            runs += 1;
          }
          const out = await writing;
          expect(out).toContain('done');
          expect(out.match(/^stored \d+$/gm)).toHaveLength(count);
          expect(await brokenObjects(storage)).toEqual([]);
          // one more run after the writer: everything is referenced, nothing is deleted
          expect((await storage.maintain({ live: false })).objectsDeleted).toBe(0);
          expect(await brokenObjects(storage)).toEqual([]);
        } finally {
          await storage.close();
        }
      } finally {
        await cleanup();
      }
    },
  );
});
