import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FolderData, SinglefileData } from '../../src/orm.js';
import { DiskObjectStoreRepositoryBackend } from '../../src/repository.js';
import type { MaintainOptions, MaintainReport } from '../../src/repository/repository-backend.js';
import { collectObjectKeys } from '../../src/repository/object-key.js';
import { ensureAiidaTsSchema } from '../../src/storage/aiida-ts-schema/schema-state.js';
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

/**
 * A disk-objectstore backend with hooks at two moments of a race: `afterCheck` runs once, right after the first
 * object check that finds every key present (a store about to insert its row); `beforeDeletion` runs once when full
 * maintenance is about to delete objects (inside its locked transaction, the epoch already incremented).
 */
class RaceBackend extends DiskObjectStoreRepositoryBackend {
  afterCheck: (() => Promise<void>) | undefined;
  beforeDeletion: (() => Promise<void>) | undefined;

  override async hasObjects(keys: readonly string[]): Promise<boolean[]> {
    const present = await super.hasObjects(keys);
    const hook = this.afterCheck;
    if (hook !== undefined && present.every(Boolean)) {
      this.afterCheck = undefined;
      await hook();
    }
    return present;
  }

  override async maintain(options: MaintainOptions): Promise<MaintainReport> {
    const hook = this.beforeDeletion;
    if (hook !== undefined && (options.deleteObjects?.length ?? 0) > 0) {
      this.beforeDeletion = undefined;
      await hook();
    }
    return super.maintain(options);
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

/**
 * Stores a file node on `writer` while `arm` sets a hook that runs one full maintenance on `maintainer` (at a moment
 * of the store the hook's place decides); the maintenance deletes the store's object, and the store must notice, put
 * it again and end with a node whose file is there (and kept by the next full maintenance).
 */
async function storeWithMaintenance(
  writer: StorageBackend,
  maintainer: StorageBackend,
  content: string,
  arm: (hook: () => Promise<void>) => void,
): Promise<void> {
  let deleted = -1;
  arm(async () => {
    deleted = (await maintainer.maintain({ live: false })).objectsDeleted;
  });
  const node = await SinglefileData.fromString(content, 'a.txt', { storage: writer });
  await node.store();
  // maintenance did delete the object the store had written, and the store noticed and wrote it again
  expect(deleted).toBe(1);
  expect(await node.getContent('utf8')).toBe(content);
  expect(await brokenObjects(maintainer)).toEqual([]);
  // and a later full maintenance keeps it: it is referenced now
  expect((await maintainer.maintain({ live: false })).objectsDeleted).toBe(0);
  expect(await brokenObjects(maintainer)).toEqual([]);
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

/**
 * Runs `body` on a fresh profile of `setup` with two storages open on it: a writer, opened through `writerPlugin`
 * (which may hook its repository), and a maintainer; closes both and removes the profile afterwards.
 */
async function withWriterAndMaintainer(
  setup: Setup<unknown>,
  writerPlugin: StoragePlugin<unknown>,
  body: (writer: StorageBackend, maintainer: StorageBackend) => Promise<void>,
): Promise<void> {
  const { config, cleanup } = await setup.config();
  const plainPlugin = setup.plugin();
  try {
    await plainPlugin.initialise(config);
    const writer = await writerPlugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
    const maintainer = await plainPlugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
    try {
      await body(writer, maintainer);
    } finally {
      await writer.close();
      await maintainer.close();
    }
  } finally {
    await cleanup();
  }
}

describe.each([sqlite, postgres] as Setup<unknown>[])('full maintenance racing stores on $name', (setup) => {
  it('a store whose file maintenance deleted before its insert puts it again; the node keeps its file', async () => {
    let hooked: HookedBackend | undefined;
    const writerPlugin = setup.plugin((folder) => (hooked = new HookedBackend({ folder })));
    await withWriterAndMaintainer(setup, writerPlugin, (writer, maintainer) =>
      storeWithMaintenance(writer, maintainer, 'written just before a full maintenance', (hook) => {
        hooked!.hook = hook;
      }),
    );
  });

  it('a shared object (a process function source) that full maintenance deleted before the store is put again', async () => {
    await withWriterAndMaintainer(setup, setup.plugin(), async (writer, maintainer) => {
      await ensureAiidaTsSchema(writer);
      const content = new TextEncoder().encode('def add(x, y):\n    return x + y\n');
      const node = new FolderData(undefined, { storage: writer });
      // written to the object store at once, referenced by no stored node yet: full maintenance deletes it
      await node.repository.putSharedObject('source_file', content);
      expect((await maintainer.maintain({ live: false })).objectsDeleted).toBe(1);
      await node.store();
      expect(Buffer.from(await node.repository.getObjectContent('source_file'))).toEqual(
        Buffer.from(content),
      );
      expect(await brokenObjects(maintainer)).toEqual([]);
      expect((await maintainer.maintain({ live: false })).objectsDeleted).toBe(0);
      // a later change to an unstored node's shared folder goes to a sandbox of its own: a hard delete there
      // leaves the object to the node that references it
      const other = new FolderData(undefined, { storage: writer });
      await other.repository.putSharedObject('source_file', content);
      await other.repository.deleteObject('source_file', { hardDelete: true });
      expect(await brokenObjects(maintainer)).toEqual([]);
    });
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
          // with the aiida-ts tables, so that on PostgreSQL the writer inserts guarded by the repository epoch
          await ensureAiidaTsSchema(storage);
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

/**
 * On PostgreSQL a store outside a transaction checks its objects before its insert, which is guarded by the
 * repository epoch read before the check (see repository-epoch.ts). Full maintenance between the two must make the
 * insert fail and the store put its file again. (SQLite checks under its write lock, which maintenance waits for.)
 */
describe('full maintenance between a store’s object check and its insert on core.psql_dos', () => {
  async function withRace(
    fn: (
      writer: StorageBackend,
      maintainer: StorageBackend,
      writerRepo: RaceBackend,
      maintainerRepo: RaceBackend,
    ) => Promise<void>,
  ): Promise<void> {
    const { config, cleanup } = await postgres.config();
    let writerRepo: RaceBackend | undefined;
    let maintainerRepo: RaceBackend | undefined;
    try {
      await postgres.plugin().initialise(config);
      const writer = await postgres
        .plugin((folder) => (writerRepo = new RaceBackend({ folder })))
        .open(config, { defaultUserEmail: TEST_USER_EMAIL });
      const maintainer = await postgres
        .plugin((folder) => (maintainerRepo = new RaceBackend({ folder })))
        .open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        await ensureAiidaTsSchema(maintainer);
        await fn(writer, maintainer, writerRepo!, maintainerRepo!);
      } finally {
        await writer.close();
        await maintainer.close();
      }
    } finally {
      await cleanup();
    }
  }

  it('maintenance that ran entirely after the check: the insert is refused, the file put again', async () => {
    await withRace(async (writer, maintainer, writerRepo) => {
      await storeWithMaintenance(writer, maintainer, 'checked, then deleted before the insert', (hook) => {
        writerRepo.afterCheck = hook;
      });
    });
  });

  it('a check while maintenance holds its lock and is about to delete: the insert waits, is refused, the file put again', async () => {
    await withRace(async (writer, maintainer, writerRepo, maintainerRepo) => {
      const content = 'an object no node refers to yet';
      // the object is there before maintenance looks (left by an earlier failed store): maintenance will delete it
      await writer.repository.putObjectFromBuffer(Buffer.from(content));
      const node = await SinglefileData.fromString(content, 'a.txt', { storage: writer });
      let storing: Promise<unknown> | undefined;
      maintainerRepo.beforeDeletion = async () => {
        // the store reads the epoch (the old one: maintenance has not committed) and checks its object (present)
        // while maintenance holds its lock; its insert then waits for maintenance to commit
        await new Promise<void>((checked) => {
          writerRepo.afterCheck = () => {
            checked();
            return Promise.resolve();
          };
          storing = node.store();
          storing.catch(() => checked());
        });
      };
      const report = await maintainer.maintain({ live: false });
      await storing;
      expect(report.objectsDeleted).toBe(1);
      expect(await node.getContent('utf8')).toBe(content);
      expect(await brokenObjects(maintainer)).toEqual([]);
      expect((await maintainer.maintain({ live: false })).objectsDeleted).toBe(0);
    });
  });
});
