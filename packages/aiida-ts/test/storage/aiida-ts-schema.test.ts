import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IncompatibleStorageSchemaError, NotExistentError } from '../../src/errors.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { DialectName } from '../../src/storage/dialect.js';
import { getPoolLimit, listPools, setPoolLimit } from '../../src/storage/aiida-ts-schema/job-limits.js';
import { AIIDA_TS_SCHEMA_HEAD } from '../../src/storage/aiida-ts-schema/migrations.js';
import {
  aiidaTsSchemaStatus,
  aiidaTsTablesReadable,
  ensureAiidaTsSchema,
} from '../../src/storage/aiida-ts-schema/schema-state.js';
import { forkTestChild } from './child-process.js';
import { SinglefileData } from '../../src/orm.js';
import { pgDriver } from '../../src/storage/postgres/pg-driver.js';
import { BACKENDS, openPsqlDos } from './helpers.js';
import { SHARED_BACKENDS } from './shared-profile.js';

const ensureScript = path.join(import.meta.dirname, 'scripts', 'ensure-aiida-ts-schema.ts');

/** Every table of the database with its columns, as `table(col type, …)`, sorted. */
async function describeTables(storage: StorageBackend): Promise<string[]> {
  const db = storage.executor();
  if (storage.dialect.name === DialectName.POSTGRES) {
    const { rows } = await sql<{ table_name: string; columns: string }>`
      SELECT table_name, string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ', ' ORDER BY ordinal_position) AS columns
      FROM information_schema.columns WHERE table_schema = current_schema() GROUP BY table_name`.execute(db);
    return rows.map((row) => `${row.table_name}(${row.columns})`).sort();
  }
  const { rows } = await sql<{ name: string; sql: string }>`
    SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'`.execute(
    db,
  );
  return rows.map((row) => `${row.name}: ${row.sql}`).sort();
}

const isAiidaTs = (line: string): boolean => /^(ix_)?aiida_ts_/.test(line);

async function alembicRows(storage: StorageBackend): Promise<unknown[]> {
  return storage.executor().selectFrom('alembic_version').selectAll().execute();
}

describe.each(BACKENDS)('aiida-ts tables on $name', ({ open }) => {
  let storage: StorageBackend;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ storage, cleanup } = await open());
  });
  afterAll(() => cleanup());

  it('reads create nothing; the first write creates them at the head version beside aiida-core’s, which stay as they were', async () => {
    const before = await describeTables(storage);
    const alembic = await alembicRows(storage);
    expect(before.filter(isAiidaTs)).toEqual([]);
    expect(await aiidaTsSchemaStatus(storage)).toEqual({ version: null, head: AIIDA_TS_SCHEMA_HEAD });

    // a profile that is only read is never written
    expect(await listPools(storage)).toEqual([]);
    expect(await getPoolLimit(storage, 'quota:licence')).toBeNull();
    expect(await aiidaTsTablesReadable(storage)).toBe(false);
    expect(await describeTables(storage)).toEqual(before);

    await setPoolLimit(storage, 'quota:licence', 3);
    expect(await aiidaTsSchemaStatus(storage)).toEqual({
      version: AIIDA_TS_SCHEMA_HEAD,
      head: AIIDA_TS_SCHEMA_HEAD,
    });
    expect(await getPoolLimit(storage, 'quota:licence')).toBe(3);
    const after = await describeTables(storage);
    expect(after.filter((line) => !isAiidaTs(line))).toEqual(before);
    expect(after.filter(isAiidaTs).length).toBeGreaterThan(0);
    expect(after.every((line) => isAiidaTs(line) || before.includes(line))).toBe(true);
    // aiida-core's version stamp and check see the same profile
    expect(await alembicRows(storage)).toEqual(alembic);
    expect(await storage.schemaVersion()).toBe('main_0002');
    const info = await storage.getInfo();
    expect(info.schemaVersion).toBe(info.schemaVersionHead);

    // once more is a no-op
    await ensureAiidaTsSchema(storage);
    expect(
      await storage
        .executor()
        .withTables<{ aiida_ts_schema_version: { version: string } }>()
        .selectFrom('aiida_ts_schema_version')
        .selectAll()
        .execute(),
    ).toEqual([{ version: AIIDA_TS_SCHEMA_HEAD }]);
  });
});

describe.each(SHARED_BACKENDS)('aiida-ts tables of a $name profile shared by processes', ({ name, make }) => {
  it('several processes using them first at once create them exactly once', { timeout: 60_000 }, async () => {
    const { config, cleanup, open } = await make();
    try {
      const children = Array.from({ length: 3 }, () =>
        forkTestChild(ensureScript, [name, JSON.stringify(config)]),
      );
      // all open the profile first, then go at once
      await Promise.all(
        children.map((child) => new Promise((resolve) => child.process.once('message', resolve))),
      );
      for (const child of children) child.process.send('go');
      const outputs = await Promise.all(children.map((child) => child.done));
      for (const out of outputs) {
        expect(JSON.parse(out)).toEqual({ version: AIIDA_TS_SCHEMA_HEAD, head: AIIDA_TS_SCHEMA_HEAD });
      }
      const storage = await open();
      try {
        const rows = await storage
          .executor()
          .withTables<{ aiida_ts_schema_version: { version: string } }>()
          .selectFrom('aiida_ts_schema_version')
          .selectAll()
          .execute();
        expect(rows).toEqual([{ version: AIIDA_TS_SCHEMA_HEAD }]);
        expect(await storage.schemaVersion()).toBe('main_0002');
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('a profile whose aiida-ts tables are newer than the code is refused with a clear message, aiida-core’s tables still open', async () => {
    const { cleanup, open } = await make();
    try {
      const first = await open();
      await ensureAiidaTsSchema(first);
      await first
        .executor()
        .withTables<{ aiida_ts_schema_version: { version: string } }>()
        .updateTable('aiida_ts_schema_version')
        .set({ version: 'aiida_ts_9999' })
        .execute();
      await first.close();

      const storage = await open();
      try {
        const refusal = ensureAiidaTsSchema(storage);
        await expect(refusal).rejects.toBeInstanceOf(IncompatibleStorageSchemaError);
        await expect(refusal).rejects.toThrow(
          /aiida-ts tables of this profile are at version `aiida_ts_9999`.*newer aiida-ts/s,
        );
        await expect(setPoolLimit(storage, 'quota:x', 1)).rejects.toBeInstanceOf(
          IncompatibleStorageSchemaError,
        );
        await expect(listPools(storage)).rejects.toBeInstanceOf(IncompatibleStorageSchemaError);
        // the provenance graph is still usable: only the aiida-ts tables are refused
        expect(await storage.schemaVersion()).toBe('main_0002');
        await expect(
          storage.executor().selectFrom('db_dbuser').selectAll().execute(),
        ).resolves.toBeInstanceOf(Array);
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });
});

describe('quota configuration errors', () => {
  it('names what is wrong', async () => {
    const { storage, cleanup } = await BACKENDS[2].open();
    try {
      await expect(setPoolLimit(storage, 'quota:bad name', 1)).rejects.toThrow(/invalid quota name of pool/);
      await expect(setPoolLimit(storage, 'cluster:x', 1)).rejects.toThrow(
        /invalid pool `cluster:x`: expected `computer:<uuid>` or `quota:<name>`/,
      );
      await expect(setPoolLimit(storage, 'quota:ok', 0)).rejects.toThrow(/the limit must be at least 1/);
      await expect(setPoolLimit(storage, 'quota:ok', 1.5)).rejects.toThrow(/whole number/);
      const { deleteQuota } = await import('../../src/storage/aiida-ts-schema/job-limits.js');
      await expect(deleteQuota(storage, 'missing')).rejects.toBeInstanceOf(NotExistentError);
    } finally {
      await cleanup();
    }
  });
});

describe('aiida-ts tables on core.psql_dos made by a store of a node with files', () => {
  it('the first store creates them, so that each store is one guarded autocommit statement (no BEGIN, COMMIT)', async () => {
    // on the prototype before the pool connects: each connection binds its own query to it
    const query = vi.spyOn(pgDriver().Client.prototype, 'query');
    const { storage, cleanup } = await openPsqlDos();
    try {
      expect(await aiidaTsSchemaStatus(storage)).toEqual({ version: null, head: AIIDA_TS_SCHEMA_HEAD });
      const first = await SinglefileData.fromString('first', 'a.txt', { storage });
      await first.store();
      expect(await aiidaTsSchemaStatus(storage)).toEqual({
        version: AIIDA_TS_SCHEMA_HEAD,
        head: AIIDA_TS_SCHEMA_HEAD,
      });

      // a later store: its objects checked, then one statement that inserts and checks the epoch, committed on return
      const before = query.mock.calls.length;
      const second = await SinglefileData.fromString('second', 'b.txt', { storage });
      await second.store();
      const sent = query.mock.calls
        .slice(before)
        .map(([config]) =>
          typeof config === 'string' ? config : String((config as { text?: unknown }).text),
        );
      expect(sent).toHaveLength(1);
      expect(sent[0]).toContain('aiida_ts_repository_epoch');
      expect(await first.getContent('utf8')).toBe('first');
    } finally {
      query.mockRestore();
      await cleanup();
    }
  });
});
