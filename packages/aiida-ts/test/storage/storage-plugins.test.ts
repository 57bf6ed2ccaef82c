import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  CorruptStorageError,
  IncompatibleStorageSchemaError,
  MissingEntryPointError,
  StorageMigrationError,
  ValidationError,
} from '../../src/errors.js';
import { Data, deleteNodes } from '../../src/orm.js';
import type { StoragePlugin } from '../../src/storage/backend.js';
import { getStoragePlugin, listStoragePlugins, openStorage } from '../../src/storage/factory.js';
import { SCHEMA_MIGRATIONS, SCHEMA_VERSION_HEAD } from '../../src/storage/migrations.js';
import { PsqlDosStorage } from '../../src/storage/postgres/psql-dos.js';
import {
  SQLITE_DOS_CONTAINER_FOLDER,
  SQLITE_DOS_DATABASE_FILENAME,
  SqliteDosStorage,
} from '../../src/storage/sqlite/sqlite-dos.js';
import { SqliteTempStorage } from '../../src/storage/sqlite/sqlite-temp.js';
import { psqlDosConfig, sqliteDosConfig, TEST_USER_EMAIL } from './helpers.js';

interface PluginCase {
  readonly name: string;
  readonly plugin: StoragePlugin<never>;
  readonly config: () => Promise<{ config: never; cleanup: () => Promise<void> }>;
}

const CASES: PluginCase[] = [
  {
    name: 'core.sqlite_dos',
    plugin: new SqliteDosStorage() as unknown as StoragePlugin<never>,
    config: sqliteDosConfig as PluginCase['config'],
  },
  {
    name: 'core.psql_dos',
    plugin: new PsqlDosStorage() as unknown as StoragePlugin<never>,
    config: psqlDosConfig as PluginCase['config'],
  },
];

describe.each(CASES)('storage plugin $name', ({ name, plugin, config: makeConfig }) => {
  it('initialises, reopens with the data kept, and reports its versions', async () => {
    const { config, cleanup } = await makeConfig();
    try {
      expect(await plugin.isInitialised(config)).toBe(false);
      await plugin.initialise(config);
      expect(await plugin.isInitialised(config)).toBe(true);
      expect(plugin.versionHead()).toBe(SCHEMA_VERSION_HEAD);
      expect(await plugin.versionProfile(config)).toBe(SCHEMA_VERSION_HEAD);
      const first = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      expect(first.entryPoint).toBe(name);
      await first
        .executor()
        .insertInto('db_dbuser')
        .values({ email: 'kept@x', first_name: '', last_name: '', institution: '' })
        .execute();
      await first.close();
      const second = await plugin.open(config);
      const emails = (await second.executor().selectFrom('db_dbuser').select('email').execute()).map(
        (r) => r.email,
      );
      expect(emails).toEqual(['kept@x']);
      await second.close();
    } finally {
      await cleanup();
    }
  });

  it('refuses to open an outdated schema until `migrate()` brings it to the head', async () => {
    const { config, cleanup } = await makeConfig();
    try {
      await plugin.initialise(config, { schemaVersion: 'main_0001' });
      expect(await plugin.versionProfile(config)).toBe('main_0001');
      const error = await plugin.open(config, { profileName: 'myprofile' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IncompatibleStorageSchemaError);
      expect((error as Error).message).toContain('verdi -p myprofile storage migrate');
      expect((error as Error).message).toContain('main_0001');
      const report = await plugin.migrate(config);
      expect(report).toEqual({
        from: 'main_0001',
        to: SCHEMA_VERSION_HEAD,
        applied: SCHEMA_MIGRATIONS.slice(1).map((m) => m.version),
      });
      expect(await plugin.versionProfile(config)).toBe(SCHEMA_VERSION_HEAD);
      expect((await plugin.migrate(config)).applied).toEqual([]);
      const storage = await plugin.open(config);
      expect(await storage.schemaVersion()).toBe(SCHEMA_VERSION_HEAD);
      await storage.close();
    } finally {
      await cleanup();
    }
  });

  it('migration main_0002 drops `_aiida_hash` of calcjob nodes only', async () => {
    const { config, cleanup } = await makeConfig();
    try {
      await plugin.initialise(config, { schemaVersion: 'main_0001' });
      // open at the head to write rows, then stamp the database back to main_0001 and migrate again
      await plugin.migrate(config);
      const storage = await plugin.open(config);
      const d = storage.dialect;
      const userId = (
        await storage
          .executor()
          .insertInto('db_dbuser')
          .values({ email: 'u@x', first_name: '', last_name: '', institution: '' })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
      const now = d.encodeTimestamp(new Date());
      const base = {
        process_type: null,
        label: '',
        description: '',
        ctime: now,
        mtime: now,
        attributes: '{}',
        repository_metadata: '{}',
        dbcomputer_id: null,
        user_id: userId,
      };
      await storage.bulkInsert('db_dbnode', [
        {
          ...base,
          uuid: crypto.randomUUID(),
          node_type: 'process.calculation.calcjob.CalcJobNode.',
          extras: d.encodeJson({ _aiida_hash: 'h', keep: 1 }),
        },
        {
          ...base,
          uuid: crypto.randomUUID(),
          node_type: 'process.workflow.workchain.WorkChainNode.',
          extras: d.encodeJson({ _aiida_hash: 'h' }),
        },
      ]);
      await storage.executor().updateTable('alembic_version').set({ version_num: 'main_0001' }).execute();
      await storage.close();
      await plugin.migrate(config);
      const reopened = await plugin.open(config);
      const rows = await reopened
        .executor()
        .selectFrom('db_dbnode')
        .select(['node_type', 'extras'])
        .orderBy('id')
        .execute();
      expect(rows.map((r) => reopened.dialect.decodeJson(r.extras))).toEqual([
        { keep: 1 },
        { _aiida_hash: 'h' },
      ]);
      await reopened.close();
    } finally {
      await cleanup();
    }
  });

  it('refuses a database that belongs to another repository container', async () => {
    const { config, cleanup } = await makeConfig();
    const other = await makeConfig();
    try {
      await plugin.initialise(config);
      await plugin.initialise(other.config);
      // swap in the other profile's container
      const containerOf = (c: never): string =>
        name === 'core.sqlite_dos'
          ? path.join((c as { filepath: string }).filepath, SQLITE_DOS_CONTAINER_FOLDER)
          : path.join(new URL((c as { repository_uri: string }).repository_uri).pathname, 'container');
      await rm(containerOf(config), { recursive: true, force: true });
      await mkdir(path.dirname(containerOf(config)), { recursive: true });
      const { cp } = await import('node:fs/promises');
      await cp(containerOf(other.config), containerOf(config), { recursive: true });
      await expect(plugin.open(config)).rejects.toBeInstanceOf(CorruptStorageError);
    } finally {
      await other.cleanup();
      await cleanup();
    }
  });

  it('validates its config and names the failing key', () => {
    expect(() => plugin.parseConfig({})).toThrow(ValidationError);
    try {
      plugin.parseConfig({});
    } catch (error) {
      expect((error as ValidationError).issues.length).toBeGreaterThan(0);
      expect((error as ValidationError).issues[0]!.path.startsWith('storage.config.')).toBe(true);
    }
  });

  it('deletes objects no node refers to in full maintenance only', async () => {
    const { config, cleanup } = await makeConfig();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        const kept = new Data();
        await kept.base.repository.putObjectFromBuffer('shared.txt', 'used by both');
        await kept.base.repository.putObjectFromBuffer('nested/kept.txt', 'only the kept node');
        await kept.store({ storage });
        const doomed = new Data();
        await doomed.base.repository.putObjectFromBuffer('shared.txt', 'used by both');
        await doomed.base.repository.putObjectFromBuffer('gone.txt', 'only the deleted node');
        await doomed.store({ storage });
        const gone = createHash('sha256').update('only the deleted node').digest('hex');
        await deleteNodes([doomed.pk!], { storage, dryRun: false });
        expect(await storage.unreferencedObjectKeys()).toEqual([gone]);

        // live maintenance never deletes: a concurrent store writes its files before its row
        expect((await storage.maintain({ live: true })).objectsDeleted).toBe(0);
        const dry = await storage.maintain({ live: false, dryRun: true });
        expect(dry.objectsDeleted).toBe(1);
        expect(await storage.repository.hasObject(gone)).toBe(true);
        const full = await storage.maintain({ live: false });
        expect(full.objectsDeleted).toBe(1);
        expect(await storage.repository.hasObject(gone)).toBe(false);
        expect(await storage.unreferencedObjectKeys()).toEqual([]);
        expect(await kept.base.repository.getObjectContent('shared.txt', 'utf8')).toBe('used by both');
        expect(await kept.base.repository.getObjectContent('nested/kept.txt', 'utf8')).toBe(
          'only the kept node',
        );
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('destroys the storage', async () => {
    const { config, cleanup } = await makeConfig();
    try {
      await plugin.initialise(config);
      await plugin.destroy(config);
      expect(await plugin.isInitialised(config)).toBe(false);
    } finally {
      await cleanup();
    }
  });
});

describe('core.sqlite_dos specifics', () => {
  it('refuses to initialise a folder that is not empty, and a missing database on open', async () => {
    const plugin = new SqliteDosStorage();
    const { config, cleanup } = await sqliteDosConfig();
    try {
      await mkdir(config.filepath, { recursive: true });
      await writeFile(path.join(config.filepath, 'stray.txt'), 'x');
      await expect(plugin.initialise(config)).rejects.toBeInstanceOf(ConfigurationError);
      await expect(plugin.open(config)).rejects.toBeInstanceOf(CorruptStorageError);
      await expect(plugin.migrate(config)).rejects.toBeInstanceOf(StorageMigrationError);
    } finally {
      await cleanup();
    }
  });

  it('keeps aiida-core layout: database.sqlite in WAL mode and a container folder', async () => {
    const plugin = new SqliteDosStorage();
    const { config, cleanup } = await sqliteDosConfig();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config);
      const { existsSync } = await import('node:fs');
      expect(existsSync(path.join(config.filepath, SQLITE_DOS_DATABASE_FILENAME))).toBe(true);
      expect(existsSync(path.join(config.filepath, SQLITE_DOS_CONTAINER_FOLDER))).toBe(true);
      const { sql } = await import('kysely');
      const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(storage.executor());
      expect(mode.rows[0]!.journal_mode).toBe('wal');
      await storage.close();
    } finally {
      await cleanup();
    }
  });

  it('resolves a relative filepath to an absolute one', () => {
    const config = new SqliteDosStorage().parseConfig({ filepath: 'relative/folder' });
    expect(path.isAbsolute(config.filepath)).toBe(true);
  });
});

describe('storage factory', () => {
  it('knows the three plugins by entry point and opens one from a profile config', async () => {
    expect(listStoragePlugins()).toEqual(
      expect.arrayContaining(['core.psql_dos', 'core.sqlite_dos', 'core.sqlite_temp']),
    );
    expect(getStoragePlugin('core.sqlite_temp')).toBeInstanceOf(SqliteTempStorage);
    expect(() => getStoragePlugin('core.nope')).toThrow(MissingEntryPointError);
    const storage = await openStorage('core.sqlite_temp', {}, { defaultUserEmail: 'x@y' });
    expect(storage.defaultUserEmail).toBe('x@y');
    await storage.close();
    const { config, cleanup } = await sqliteDosConfig();
    try {
      await getStoragePlugin('core.sqlite_dos').initialise(config);
      const dos = await openStorage('core.sqlite_dos', { filepath: config.filepath });
      expect(dos.entryPoint).toBe('core.sqlite_dos');
      await dos.close();
    } finally {
      await cleanup();
    }
  });

  it('gives every sqlite_temp open its own empty storage', async () => {
    const plugin = new SqliteTempStorage();
    const a = await plugin.open();
    const b = await plugin.open();
    await a
      .executor()
      .insertInto('db_dbuser')
      .values({ email: 'only-a@x', first_name: '', last_name: '', institution: '' })
      .execute();
    expect(await b.executor().selectFrom('db_dbuser').selectAll().execute()).toEqual([]);
    expect(a.defaultUserEmail).toBe('test@localhost');
    await a.close();
    await b.close();
  });
});
