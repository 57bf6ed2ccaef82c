import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { ARCHIVE_SCHEMA_STATEMENTS } from '../../src/tools/archive/archive-schema.js';
import { ArchiveReader } from '../../src/tools/archive/archive-reader.js';
import { createArchive } from '../../src/tools/archive/create.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { migrateArchive } from '../../src/tools/archive/migrate.js';
import { getArchiveInfo } from '../../src/tools/archive/info.js';
import { StorageMigrationError } from '../../src/errors.js';
import { openPsqlDos, openSqliteDos, tempFolder, type TestStorage } from '../storage/helpers.js';
import {
  archiveContent,
  expectProfileHolds,
  fixture,
  FIXTURE_NAMES,
  FIXTURES,
  LEGACY_NAMES,
  legacyFixture,
  readExpected,
  snapshot,
} from './archive-support.js';

const BACKENDS = [
  ['core.sqlite_dos', openSqliteDos],
  ['core.psql_dos', openPsqlDos],
] as const;

let scratch: { folder: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  scratch = await tempFolder('aiida-ts-archive-test-');
});
afterAll(async () => {
  await scratch.cleanup();
});

describe('the archive database schema', () => {
  it('is word for word the schema of aiida-core 2.8 archives', async () => {
    const reader = await ArchiveReader.open(fixture('calcjob'));
    try {
      const db = await reader.database();
      const statements = db
        .prepare('SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid')
        .pluck()
        .all() as string[];
      expect(statements).toEqual(ARCHIVE_SCHEMA_STATEMENTS);
    } finally {
      await reader.close();
    }
  });
});

describe.each(BACKENDS)('importing the aiida-core 2.8 fixture archives on %s', (_name, open) => {
  let handle: TestStorage;
  beforeAll(async () => {
    handle = await open();
  });
  afterAll(async () => {
    await handle.cleanup();
  });

  it.each(FIXTURE_NAMES)(
    '%s: every field as aiida-core read it, then a second import changes nothing',
    async (name) => {
      const result = await importArchive(fixture(name), { storage: handle.storage });
      expect(result.importGroup?.label).toMatch(/^\d{8}-\d{6}/);
      const expected = readExpected(path.join(FIXTURES, `${name}.expected.json`));
      await expectProfileHolds(handle.storage, expected);
      expect(result.counts.node).toEqual({ new: expected.nodes.length, existing: 0 });
      const before = await snapshot(handle.storage);
      const again = await importArchive(fixture(name), { storage: handle.storage });
      expect(again.importGroup).toBeNull();
      expect(again.counts.node).toEqual({ new: 0, existing: expected.nodes.length });
      expect(await snapshot(handle.storage)).toEqual(before);
    },
  );

  it('exports what it imported with the same rows and objects as the originals', async () => {
    for (const name of FIXTURE_NAMES) {
      const { storage, cleanup } = await open();
      try {
        await importArchive(fixture(name), { storage, createGroup: false });
        const out = path.join(scratch.folder, `${_name}-${name}.aiida`);
        await createArchive(out, { storage, entities: null });
        const [original, exported] = await Promise.all([archiveContent(fixture(name)), archiveContent(out)]);
        // the profile's default user may have been added to the export; every original row is there unchanged
        expect(exported.rows['users']).toEqual(expect.arrayContaining(original.rows['users']!));
        for (const table of ['computers', 'nodes', 'links', 'groups', 'members', 'comments', 'logs'])
          expect(exported.rows[table], `${name} ${table}`).toEqual(original.rows[table]);
        expect(exported.objects).toEqual(original.objects);
      } finally {
        await cleanup();
      }
    }
  });
});

describe('legacy archives migrate as aiida-core migrates them', () => {
  it.each(LEGACY_NAMES)('%s', async (version) => {
    const expected = readExpected(path.join(FIXTURES, 'legacy', `export_${version}_simple.expected.json`));
    const out = path.join(scratch.folder, `legacy-${version}.aiida`);
    await migrateArchive(legacyFixture(version), out, { force: true });
    const info = await getArchiveInfo(out);
    expect(info.metadata.export_version).toBe('main_0001');
    const handle = await openSqliteDos();
    try {
      await importArchive(out, { storage: handle.storage });
      await expectProfileHolds(handle.storage, expected.migrated_content!);
    } finally {
      await handle.cleanup();
    }
  });

  it('refuses the 0.1 format as aiida-core 2 does', async () => {
    await expect(migrateArchive(legacyFixture('0.1'), path.join(scratch.folder, 'x.aiida'))).rejects.toThrow(
      new StorageMigrationError(
        "Legacy migration from '0.1' -> 'main_0001' is not supported in aiida-core v2. First migrate them to the latest version in aiida-core v1.",
      ),
    );
  });
});

describe('archives are written for aiida-core', () => {
  it('heads the central directory with metadata.json (stored) and db.sqlite3, with aiida-core metadata keys', async () => {
    const handle = await openSqliteDos();
    try {
      await importArchive(fixture('workchains'), { storage: handle.storage });
      const out = path.join(scratch.folder, 'written.aiida');
      await createArchive(out, { storage: handle.storage, entities: null });
      const reader = await ArchiveReader.open(out);
      try {
        expect(reader.zip.names().slice(0, 2)).toEqual(['metadata.json', 'db.sqlite3']);
        expect(reader.zip.info('metadata.json')?.compressed).toBe(false);
        const original = JSON.parse(
          readFileSync(path.join(FIXTURES, 'workchains.expected.json'), 'utf8'),
        ) as { archive: { metadata_json: Record<string, unknown> } };
        expect(Object.keys(reader.metadata)).toEqual(Object.keys(original.archive.metadata_json));
        const db: BetterSqlite3.Database = await reader.database();
        expect(
          db.prepare('SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid').pluck().all(),
        ).toEqual(ARCHIVE_SCHEMA_STATEMENTS);
      } finally {
        await reader.close();
      }
    } finally {
      await handle.cleanup();
    }
  });
});

describe('the copy of the rows inside SQLite', () => {
  it('writes the rows the paged copy writes, for a selection and for the whole profile', async () => {
    const { storage, cleanup } = await openSqliteDos();
    try {
      for (const name of ['data_types', 'workchains', 'calcjob'])
        await importArchive(fixture(name), { storage, createGroup: false });
      const first = async (nodeType: string): Promise<number> => {
        const row = await storage
          .executor()
          .selectFrom('db_dbnode')
          .select('id')
          .where('node_type', 'like', nodeType)
          .orderBy('id')
          .executeTakeFirstOrThrow();
        return row.id;
      };
      const group = await storage
        .executor()
        .selectFrom('db_dbgroup')
        .select('id')
        .orderBy('id')
        .executeTakeFirstOrThrow();
      const selections = [
        {
          nodes: [
            { pk: await first('process.workflow.%') },
            { pk: await first('process.calculation.calcjob.%') },
          ],
          groups: [{ pk: group.id }],
        },
        null,
      ];
      for (const [index, entities] of selections.entries()) {
        // inside a transaction SQLite cannot attach the archive database: the rows go through the paged copy
        const paged = path.join(scratch.folder, `paged-${index}.aiida`);
        const inPages = await storage.transaction(() => createArchive(paged, { storage, entities }));
        const attached = path.join(scratch.folder, `attached-${index}.aiida`);
        const inSqlite = await createArchive(attached, { storage, entities });
        expect(inSqlite.counts).toEqual(inPages.counts);
        expect(inSqlite.counts.node).toBeGreaterThan(0);
        expect(inSqlite.counts.group_node).toBeGreaterThan(0);
        expect(inSqlite.counts.link).toBeGreaterThan(0);
        expect(await archiveContent(attached)).toEqual(await archiveContent(paged));
      }
    } finally {
      await cleanup();
    }
  });
});
