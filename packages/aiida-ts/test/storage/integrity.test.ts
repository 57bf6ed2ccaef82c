import { open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { StorageIntegrityError } from '../../src/errors.js';
import { Group, Int, LinkType, SinglefileData, CalcFunctionNode } from '../../src/orm.js';
import type { StorageBackend, StoragePlugin } from '../../src/storage/backend.js';
import {
  PsqlDosStorage,
  psqlDosContainerFolder,
  type PsqlDosConfig,
} from '../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage, type SqliteDosConfig } from '../../src/storage/sqlite/sqlite-dos.js';
import { psqlDosConfig, sqliteDosConfig, TEST_USER_EMAIL } from './helpers.js';

interface Setup<C> {
  readonly name: string;
  plugin(): StoragePlugin<C>;
  config(): Promise<{ config: C; cleanup: () => Promise<void> }>;
  container(config: C): string;
  /** Runs `fn` on a connection where foreign keys are not enforced, to make the rows a broken database has. */
  withoutForeignKeys(storage: StorageBackend, fn: () => Promise<void>): Promise<void>;
}

const sqlite: Setup<SqliteDosConfig> = {
  name: 'core.sqlite_dos',
  plugin: () => new SqliteDosStorage(),
  config: sqliteDosConfig,
  container: (config) => path.join(config.filepath, 'container'),
  async withoutForeignKeys(storage, fn) {
    await sql`PRAGMA foreign_keys = OFF`.execute(storage.executor());
    try {
      await fn();
    } finally {
      await sql`PRAGMA foreign_keys = ON`.execute(storage.executor());
    }
  },
};

const postgres: Setup<PsqlDosConfig> = {
  name: 'core.psql_dos',
  plugin: () => new PsqlDosStorage(),
  config: psqlDosConfig,
  container: psqlDosContainerFolder,
  withoutForeignKeys: (storage, fn) =>
    storage.transaction(async (trx) => {
      await sql`SET LOCAL session_replication_role = replica`.execute(trx);
      await fn();
    }),
};

async function flipByte(file: string, position: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ 0x01;
    await handle.write(byte, 0, 1, position);
  } finally {
    await handle.close();
  }
}

function loosePath(container: string, key: string): string {
  return path.join(container, 'loose', key.slice(0, 2), key.slice(2));
}

describe.each([sqlite, postgres] as Setup<unknown>[])('storage integrity on $name', (setup) => {
  async function withStorage(
    fn: (storage: StorageBackend, container: string) => Promise<void>,
  ): Promise<void> {
    const { config, cleanup } = await setup.config();
    const plugin = setup.plugin();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        await fn(storage, setup.container(config));
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  }

  it('finds corrupt, missing and unreferenced objects and names the nodes concerned; full maintenance stops', async () => {
    await withStorage(async (storage, container) => {
      const sound = await (await SinglefileData.fromString('sound', 'a.txt', { storage })).store();
      const tampered = await (
        await SinglefileData.fromString('to be tampered with', 'b.txt', { storage })
      ).store();
      const lost = await (await SinglefileData.fromString('to be lost', 'c.txt', { storage })).store();
      const clean = await storage.checkIntegrity();
      expect(clean).toMatchObject({ ok: true, hashes: true, problems: [] });
      expect(clean.checked).toMatchObject({ nodes: 3, nodesWithFiles: 3, referencedObjects: 3 });

      const key = (node: SinglefileData): string => node.repository.getFileKeys()[0]!;
      await flipByte(loosePath(container, key(tampered)), 3);
      await rm(loosePath(container, key(lost)));
      const stray = await storage.repository.putObjectFromBuffer(Buffer.from('no node refers to me'));

      const report = await storage.checkIntegrity();
      expect(report.ok).toBe(false);
      const byKind = (kind: string) => report.problems.filter((problem) => problem.kind === kind);
      expect(byKind('corrupt-object')).toEqual([
        expect.objectContaining({ severity: 'error', keys: [key(tampered)], nodes: [tampered.pk] }),
      ]);
      expect(byKind('missing-object')).toEqual([
        expect.objectContaining({ severity: 'error', keys: [key(lost)], nodes: [lost.pk] }),
      ]);
      expect(byKind('unreferenced-object')).toEqual([
        expect.objectContaining({ severity: 'warning', keys: [stray] }),
      ]);
      // the structural check (what `verdi status` runs) sees the lost file but does not read contents
      const quick = await storage.checkIntegrity({ hashes: false });
      expect(quick.problems.map((problem) => problem.kind).sort()).toEqual([
        'missing-object',
        'unreferenced-object',
      ]);

      // full maintenance would have repacked the corrupt object and reported Success: now it changes nothing
      const error = await storage.maintain({ live: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageIntegrityError);
      expect((error as Error).message).toContain('full maintenance changed nothing');
      expect((error as Error).message).toContain(key(lost));
      expect(await storage.repository.hasObject(stray)).toBe(true);
      expect(await sound.getContent('utf8')).toBe('sound');
    });
  });

  it('finds links, memberships, comments and logs that name nodes that do not exist', async () => {
    await withStorage(async (storage) => {
      const input = await new Int(1, { storage }).store();
      const calc = new CalcFunctionNode(undefined, { storage });
      calc.processType = 'fixture.add';
      await calc.links.addIncoming(input, LinkType.INPUT_CALC, 'x');
      await calc.store();
      const group = await new Group({ label: 'g' }, { storage }).store();
      await group.addNodes([input]);
      await input.comments.add('a comment');
      await input.logs.report('a log record');
      expect((await storage.checkIntegrity()).ok).toBe(true);

      await setup.withoutForeignKeys(storage, async () => {
        await storage.executor().deleteFrom('db_dbnode').where('id', '=', input.pk!).execute();
      });
      const report = await storage.checkIntegrity();
      expect(report.ok).toBe(false);
      const messages = report.problems
        .filter((problem) => problem.kind === 'dangling-reference')
        .map((problem) => problem.message)
        .sort();
      expect(messages).toEqual([
        expect.stringMatching(new RegExp(`^comment \\d+ belongs to node ${input.pk}, which does not exist$`)),
        expect.stringMatching(
          new RegExp(`^group membership \\d+ puts node ${input.pk} in group ${group.pk}`),
        ),
        expect.stringMatching(
          new RegExp(`^link \\d+ \\(input_calc \`x\`\\) goes from node ${input.pk} to node ${calc.pk}`),
        ),
        expect.stringMatching(new RegExp(`^log \\d+ belongs to node ${input.pk}, which does not exist$`)),
      ]);
    });
  });

  it('reports orphan pack files as warnings, not errors', async () => {
    await withStorage(async (storage, container) => {
      await writeFile(path.join(container, 'packs', '7'), 'nobody indexed me');
      const report = await storage.checkIntegrity();
      expect(report.ok).toBe(true);
      expect(report.problems).toEqual([
        expect.objectContaining({ kind: 'orphan-pack', severity: 'warning' }),
      ]);
    });
  });
});

describe('storage integrity: the pack index against the pack files', () => {
  it('a pack file cut short or gone is an error naming the objects lost, found without hashing', async () => {
    const { config, cleanup } = await sqliteDosConfig();
    const plugin = new SqliteDosStorage();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        const nodes = [];
        for (const text of ['first', 'second', 'third'])
          nodes.push(await (await SinglefileData.fromString(text.repeat(100), 'f.txt', { storage })).store());
        await storage.maintain({ live: true });
        const pack = path.join(config.filepath, 'container', 'packs', '0');
        const keys = nodes.map((node) => node.repository.getFileKeys()[0]);

        await writeFile(pack, (await readFile(pack)).subarray(0, 150));
        const cut = await storage.checkIntegrity({ hashes: false });
        expect(cut.problems).toEqual([
          expect.objectContaining({
            kind: 'truncated-pack',
            severity: 'error',
            message: expect.stringContaining(`${pack} is 150 bytes but the index places objects up to byte`),
            keys: expect.arrayContaining([keys[1], keys[2]]),
          }),
        ]);

        await rm(pack);
        const gone = await storage.checkIntegrity({ hashes: false });
        expect(gone.problems).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              kind: 'missing-pack',
              message: expect.stringContaining('the 3 object(s) the index places in it are lost'),
              keys: expect.arrayContaining(keys),
            }),
          ]),
        );
        // and reading such a node says what is wrong instead of returning nothing
        await expect(nodes[0]!.getContent()).rejects.toThrow(/pack 0 holding object .* is missing/);
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });
});

describe('storage integrity on core.psql_dos: duplicate uuids', () => {
  it('names the table, the uuid and the rows', async () => {
    const { config, cleanup } = await psqlDosConfig();
    const plugin = new PsqlDosStorage();
    try {
      await plugin.initialise(config);
      const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        const node = await new Int(1, { storage }).store();
        // a database whose uuid constraint was lost (imported, or restored by hand) lets a copy in
        await sql`ALTER TABLE db_dbnode DROP CONSTRAINT uq_db_dbnode_uuid`.execute(storage.executor());
        await sql`INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras, repository_metadata, user_id)
          SELECT uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras, repository_metadata, user_id
          FROM db_dbnode WHERE id = ${node.pk}`.execute(storage.executor());
        const report = await storage.checkIntegrity();
        expect(report.ok).toBe(false);
        expect(report.problems).toEqual([
          expect.objectContaining({
            kind: 'duplicate-uuid',
            message: expect.stringContaining(
              `uuid ${node.uuid} is used by 2 rows of db_dbnode: ids ${node.pk}, `,
            ),
            nodes: [node.pk, expect.any(Number)],
          }),
        ]);
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });
});
