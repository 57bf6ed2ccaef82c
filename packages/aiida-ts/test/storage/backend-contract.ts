import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError, InvalidOperationError } from '../../src/errors.js';
import type { StorageBackend, WriteStatement } from '../../src/storage/backend.js';
import { DialectName } from '../../src/storage/dialect.js';
import { SCHEMA_VERSION_HEAD } from '../../src/storage/migrations.js';
import { REPOSITORY_UUID_KEY, type NewDbNode } from '../../src/storage/schema.js';
import type { TestStorage } from './helpers.js';

async function newUser(storage: StorageBackend, email = `${randomUUID()}@test`): Promise<number> {
  const row = await storage
    .executor()
    .insertInto('db_dbuser')
    .values({ email, first_name: '', last_name: '', institution: '' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

function nodeRow(
  storage: StorageBackend,
  userId: number,
  attributes: unknown = {},
  extra: Partial<NewDbNode> = {},
): NewDbNode {
  const now = storage.dialect.encodeTimestamp(new Date());
  return {
    uuid: randomUUID(),
    node_type: 'data.core.dict.Dict.',
    process_type: null,
    label: '',
    description: '',
    ctime: now,
    mtime: now,
    attributes: storage.dialect.encodeJson(attributes),
    extras: storage.dialect.encodeJson({}),
    repository_metadata: storage.dialect.encodeJson({}),
    dbcomputer_id: null,
    user_id: userId,
    ...extra,
  };
}

async function countRows(
  storage: StorageBackend,
  table: 'db_dbuser' | 'db_dbnode' | 'db_dblink' | 'db_dbcomment' | 'db_dblog' | 'db_dbgroup_dbnodes',
): Promise<number> {
  const row = await storage
    .executor()
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return storage.dialect.decodeInteger(row.n);
}

/**
 * The behaviour every `StorageBackend` must show, whatever the database: schema, transactions (nesting,
 * rollback, concurrency), bulk inserts, JSON/timestamp encoding, the dialect's JSON helpers against the real
 * database, settings, deletion, info and closing.
 */
export function describeBackendContract(name: string, open: () => Promise<TestStorage>): void {
  describe(`StorageBackend contract: ${name}`, () => {
    let handle: TestStorage;
    let storage: StorageBackend;

    beforeEach(async () => {
      handle = await open();
      storage = handle.storage;
    });

    afterEach(async () => {
      await handle.cleanup();
    });

    /** A write of node `id`'s label, and its label as stored. */
    const relabel = (label: string, id: number): WriteStatement => ({
      text: 'UPDATE db_dbnode SET label = $1 WHERE id = $2',
      parameters: [label, id],
    });
    const labelOf = async (id: number): Promise<string> =>
      (
        await storage
          .executor()
          .selectFrom('db_dbnode')
          .select('label')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).label;

    it('starts empty at the head schema version, tied to its repository', async () => {
      expect(storage.entryPoint).toBe(name);
      expect(await storage.schemaVersion()).toBe(SCHEMA_VERSION_HEAD);
      const info = await storage.getInfo();
      expect(info.entities.Nodes.count).toBe(0);
      expect(info.entities.Links.count).toBe(0);
      expect(info.schemaVersionHead).toBe(SCHEMA_VERSION_HEAD);
      expect(await storage.getGlobalVariable(REPOSITORY_UUID_KEY)).toBe(storage.repository.uuid);
    });

    it('commits a transaction and rolls back everything when it throws', async () => {
      await storage.transaction(async (trx) => {
        await trx
          .insertInto('db_dbuser')
          .values({ email: 'a@x', first_name: '', last_name: '', institution: '' })
          .execute();
      });
      await expect(
        storage.transaction(async (trx) => {
          await trx
            .insertInto('db_dbuser')
            .values({ email: 'b@x', first_name: '', last_name: '', institution: '' })
            .execute();
          expect(storage.inTransaction()).toBe(true);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const emails = (await storage.executor().selectFrom('db_dbuser').select('email').execute()).map(
        (r) => r.email,
      );
      expect(emails).toEqual(['a@x']);
      expect(storage.inTransaction()).toBe(false);
    });

    it('turns a nested transaction into a savepoint: its failure keeps the outer work', async () => {
      await storage.transaction(async (trx) => {
        await trx
          .insertInto('db_dbuser')
          .values({ email: 'outer@x', first_name: '', last_name: '', institution: '' })
          .execute();
        await expect(
          storage.transaction(async (inner) => {
            await inner
              .insertInto('db_dbuser')
              .values({ email: 'inner@x', first_name: '', last_name: '', institution: '' })
              .execute();
            throw new Error('inner failure');
          }),
        ).rejects.toThrow('inner failure');
        // calls that do not pass the handle join the open transaction instead of waiting for it
        await storage
          .executor()
          .insertInto('db_dbuser')
          .values({ email: 'joined@x', first_name: '', last_name: '', institution: '' })
          .execute();
      });
      const emails = (
        await storage.executor().selectFrom('db_dbuser').select('email').orderBy('email').execute()
      ).map((r) => r.email);
      expect(emails).toEqual(['joined@x', 'outer@x']);
    });

    it('runs many concurrent transactions of one event loop without losing any', async () => {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          storage.transaction(async (trx) => {
            await trx
              .insertInto('db_dbuser')
              .values({ email: `c${i}@x`, first_name: '', last_name: '', institution: '' })
              .execute();
            await new Promise((resolve) => setTimeout(resolve, i % 3));
            await trx
              .updateTable('db_dbuser')
              .set({ first_name: 'done' })
              .where('email', '=', `c${i}@x`)
              .execute();
          }),
        ),
      );
      const rows = await storage.executor().selectFrom('db_dbuser').select('first_name').execute();
      expect(rows).toHaveLength(25);
      expect(rows.every((r) => r.first_name === 'done')).toBe(true);
    });

    it('bulk-inserts rows and returns their ids in row order', async () => {
      const userId = await newUser(storage);
      const rows = Array.from({ length: 1234 }, (_, i) =>
        nodeRow(storage, userId, { i }, { label: `n${i}` }),
      );
      const ids = await storage.bulkInsert('db_dbnode', rows);
      expect(ids).toHaveLength(1234);
      const stored = await storage.executor().selectFrom('db_dbnode').select(['id', 'label']).execute();
      const labelOf = new Map(stored.map((r) => [r.id, r.label]));
      ids.forEach((id, i) => expect(labelOf.get(id)).toBe(`n${i}`));
      const links = await storage.bulkInsert(
        'db_dblink',
        ids
          .slice(1)
          .map((id, i) => ({ input_id: ids[i]!, output_id: id, label: `l${i}`, type: 'input_calc' })),
      );
      expect(links).toHaveLength(1233);
      expect(await countRows(storage, 'db_dblink')).toBe(1233);
    });

    it('rolls back a bulk insert made in a failed transaction and reports duplicates as IntegrityError', async () => {
      const userId = await newUser(storage);
      await expect(
        storage.transaction(async () => {
          await storage.bulkInsert('db_dbnode', [nodeRow(storage, userId), nodeRow(storage, userId)]);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await countRows(storage, 'db_dbnode')).toBe(0);
      const row = nodeRow(storage, userId);
      await expect(storage.bulkInsert('db_dbnode', [row, { ...row }])).rejects.toBeInstanceOf(IntegrityError);
      expect(await countRows(storage, 'db_dbnode')).toBe(0);
    });

    it('stores nodes with links inside the batch and from stored nodes, ids in row order', async () => {
      const userId = await newUser(storage);
      const [stored] = await storage.bulkInsert('db_dbnode', [nodeRow(storage, userId)]);
      const rows = Array.from({ length: 5 }, (_, i) => nodeRow(storage, userId, { i }, { label: `n${i}` }));
      const ids = await storage.insertNodes(rows, [
        { inputId: stored!, outputIndex: 0, label: 'from_stored', type: 'input_calc' },
        { inputIndex: 0, outputIndex: 3, label: 'in_batch', type: 'create' },
        { inputIndex: 4, outputIndex: 1, label: 'backwards', type: 'create' },
      ]);
      expect(ids).toHaveLength(5);
      const labels = await storage.executor().selectFrom('db_dbnode').select(['id', 'label']).execute();
      const labelOf = new Map(labels.map((r) => [r.id, r.label]));
      expect(ids.map((id) => labelOf.get(id))).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
      const links = await storage
        .executor()
        .selectFrom('db_dblink')
        .select(['input_id', 'output_id', 'label', 'type'])
        .orderBy('label')
        .execute();
      expect(links).toEqual([
        { input_id: ids[4], output_id: ids[1], label: 'backwards', type: 'create' },
        { input_id: stored, output_id: ids[0], label: 'from_stored', type: 'input_calc' },
        { input_id: ids[0], output_id: ids[3], label: 'in_batch', type: 'create' },
      ]);
      expect(await storage.insertNodes([], [])).toEqual([]);

      // one node with links from stored nodes (what `store()` of a calculation's output writes)
      const [single] = await storage.insertNodes(
        [nodeRow(storage, userId, {}, { label: 'single' })],
        [
          { inputId: ids[2]!, outputIndex: 0, label: 'first', type: 'create' },
          { inputId: stored!, outputIndex: 0, label: 'second', type: 'input_calc' },
        ],
      );
      const singleLinks = await storage
        .executor()
        .selectFrom('db_dblink')
        .select(['input_id', 'label'])
        .where('output_id', '=', single!)
        .orderBy('label')
        .execute();
      expect(singleLinks).toEqual([
        { input_id: ids[2], label: 'first' },
        { input_id: stored, label: 'second' },
      ]);
    });

    it('keeps what a lazy commit wrote, and the transactions after it wait for the disk again', async () => {
      const userId = await newUser(storage);
      // PostgreSQL's setting for the current transaction (SQLite commits durably whatever is asked)
      const durability = async (): Promise<string | null> =>
        storage.dialect.name === DialectName.POSTGRES
          ? ((
              await sql<{ s: string }>`SELECT current_setting('synchronous_commit') AS s`.execute(
                storage.executor(),
              )
            ).rows[0]?.s ?? null)
          : null;
      const before = await storage.transaction(() => durability());
      const inside = await storage.transaction(() => durability(), { lazyCommit: true });
      const ids = await storage.insertNodes([nodeRow(storage, userId, {}, { label: 'lazy' })], [], [], {
        lazyCommit: true,
      });
      const row = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select('label')
        .where('id', '=', ids[0]!)
        .executeTakeFirst();
      expect(row?.label).toBe('lazy');
      const after = await Promise.all(
        Array.from({ length: 4 }, () => storage.transaction(() => durability())),
      );
      if (storage.dialect.name === DialectName.POSTGRES) {
        expect(before).not.toBe('off');
        expect(inside).toBe('off');
      }
      expect(after).toEqual(after.map(() => before));
    });

    it('stores all of a node batch or nothing (duplicate uuid, unknown source, rolled back transaction)', async () => {
      const userId = await newUser(storage);
      const existing = nodeRow(storage, userId);
      await storage.insertNodes([existing], []);
      const before = await countRows(storage, 'db_dbnode');

      const duplicate = storage.insertNodes(
        [nodeRow(storage, userId), { ...nodeRow(storage, userId), uuid: existing.uuid }],
        [{ inputIndex: 0, outputIndex: 1, label: 'x', type: 'create' }],
      );
      await expect(duplicate).rejects.toBeInstanceOf(IntegrityError);
      await expect(duplicate).rejects.toSatisfy((error: IntegrityError) =>
        ['23505', 'SQLITE_CONSTRAINT_UNIQUE'].includes(String((error.cause as { code?: unknown }).code)),
      );
      await expect(
        storage.insertNodes(
          [nodeRow(storage, userId)],
          [{ inputId: 987_654_321, outputIndex: 0, label: 'x', type: 'create' }],
        ),
      ).rejects.toBeInstanceOf(IntegrityError);
      await expect(
        storage.insertNodes(
          [nodeRow(storage, userId)],
          [{ inputIndex: 3, outputIndex: 0, label: 'x', type: 'create' }],
        ),
      ).rejects.toThrow(/no node of the batch/);
      await expect(
        storage.transaction(async () => {
          await storage.insertNodes([nodeRow(storage, userId), nodeRow(storage, userId)], []);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await countRows(storage, 'db_dbnode')).toBe(before);
      expect(await countRows(storage, 'db_dblink')).toBe(0);
    });

    it('runs statements with a node batch or on their own, all or nothing, counting the rows each changed', async () => {
      const userId = await newUser(storage);
      const setting = storage.globalVariableWrite('process|state_change|calculation', 'end');
      const [first] = await storage.insertNodes([nodeRow(storage, userId, {}, { label: 'first' })], []);
      // the end of a process with its output: the output, its link, the setting and the state together
      const [output] = await storage.insertNodes(
        [nodeRow(storage, userId, {}, { label: 'output' })],
        [{ inputId: first!, outputIndex: 0, label: 'result', type: 'create' }],
        [setting, relabel('finished', first!)],
      );
      const labels = await storage.executor().selectFrom('db_dbnode').select(['id', 'label']).execute();
      expect(new Map(labels.map((r) => [r.id, r.label]))).toEqual(
        new Map([
          [first, 'finished'],
          [output, 'output'],
        ]),
      );
      expect(await countRows(storage, 'db_dblink')).toBe(1);
      expect(await storage.getGlobalVariable('process|state_change|calculation')).toBe('end');

      // every shape of the insert takes them: one node without links, a batch with a link inside it, a node with a file
      await storage.insertNodes([nodeRow(storage, userId)], [], [relabel('plain', first!)]);
      expect(await labelOf(first!)).toBe('plain');
      const batch = await storage.insertNodes(
        [nodeRow(storage, userId), nodeRow(storage, userId)],
        [{ inputIndex: 0, outputIndex: 1, label: 'inside', type: 'create' }],
        [relabel('batch', first!)],
      );
      expect(await labelOf(first!)).toBe('batch');
      expect(batch).toHaveLength(2);
      const key = await storage.repository.putObjectFromBuffer(Buffer.from('end'));
      const metadata = storage.dialect.encodeJson({ o: { file: { k: key } } });
      await storage.insertNodes(
        [nodeRow(storage, userId, {}, { repository_metadata: metadata })],
        [],
        [relabel('file', first!)],
      );
      expect(await labelOf(first!)).toBe('file');

      expect(await storage.executeWrites([relabel('again', first!), relabel('none', 987_654_321)])).toEqual([
        1, 0,
      ]);
      expect(await storage.executeWrites([])).toEqual([]);
      // a refused statement takes the others with it: the node and the first statement are not written either
      const nodesBefore = await countRows(storage, 'db_dbnode');
      const refused: WriteStatement = {
        text: 'INSERT INTO db_dblink (input_id, output_id, label, type) VALUES ($1, $2, $3, $4)',
        parameters: [987_654_321, first!, 'x', 'create'],
      };
      await expect(storage.executeWrites([relabel('lost', first!), refused])).rejects.toThrow();
      await expect(
        storage.insertNodes([nodeRow(storage, userId)], [], [relabel('lost', first!), refused]),
      ).rejects.toThrow();
      expect(await labelOf(first!)).toBe('again');
      expect(await countRows(storage, 'db_dbnode')).toBe(nodesBefore);
      expect(await countRows(storage, 'db_dblink')).toBe(2);
    });

    it('keeps nothing of a write whose required statement changed no row, and rejects with its error', async () => {
      const userId = await newUser(storage);
      const [first, holder] = await storage.insertNodes(
        [nodeRow(storage, userId, {}, { label: 'kept' }), nodeRow(storage, userId)],
        [],
      );
      class Fenced extends Error {}
      // the fence of a daemon lease: a row that must still be there (another than the write changes: PostgreSQL does
      // not change one row twice in a statement), checked in the write's own statement
      const fence = (id: number): WriteStatement => ({
        text: 'UPDATE db_dbnode SET mtime = mtime WHERE id = $1',
        parameters: [id],
        required: () => new Fenced('refused'),
      });
      const nodesBefore = await countRows(storage, 'db_dbnode');
      const missing = 987_654_321;
      const key = await storage.repository.putObjectFromBuffer(Buffer.from('fenced'));
      const withFile = storage.dialect.encodeJson({ o: { file: { k: key } } });
      const attempts: (() => Promise<unknown>)[] = [
        () => storage.executeWrites([fence(missing)]),
        () => storage.executeWrites([fence(missing), relabel('lost', first!)]),
        () => storage.insertNodes([nodeRow(storage, userId)], [], [fence(missing), relabel('lost', first!)]),
        () =>
          storage.insertNodes(
            [nodeRow(storage, userId)],
            [{ inputId: first!, outputIndex: 0, label: 'input', type: 'input_calc' }],
            [relabel('lost', first!), fence(missing)],
          ),
        () =>
          storage.insertNodes(
            [nodeRow(storage, userId), nodeRow(storage, userId)],
            [{ inputIndex: 0, outputIndex: 1, label: 'inside', type: 'create' }],
            [fence(missing)],
          ),
        () =>
          storage.insertNodes(
            [nodeRow(storage, userId, {}, { repository_metadata: withFile })],
            [],
            [fence(missing), relabel('lost', first!)],
          ),
        () =>
          storage.transaction(() =>
            storage.insertNodes([nodeRow(storage, userId)], [], [relabel('lost', first!), fence(missing)]),
          ),
      ];
      for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(Fenced);
      expect(await labelOf(first!)).toBe('kept');
      expect(await countRows(storage, 'db_dbnode')).toBe(nodesBefore);
      // a check that holds lets the write through, counted like any other statement
      expect(await storage.executeWrites([fence(holder!), relabel('written', first!)])).toEqual([1, 1]);
      await storage.insertNodes([nodeRow(storage, userId)], [], [fence(holder!)]);
      expect(await labelOf(first!)).toBe('written');
      expect(await countRows(storage, 'db_dbnode')).toBe(nodesBefore + 1);
    });

    it('executeRead gives the rows a built query gives, seeing its own transaction and no other', async () => {
      const userId = await newUser(storage);
      const [a, b] = await storage.bulkInsert('db_dbnode', [
        nodeRow(storage, userId, { x: 1 }, { label: 'first' }),
        nodeRow(storage, userId, { x: 2 }, { label: 'second' }),
      ]);
      const text = 'SELECT * FROM db_dbnode WHERE id = $1 OR label = $2 ORDER BY id';
      const built = await storage
        .executor()
        .selectFrom('db_dbnode')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', a!), eb('label', '=', 'second')]))
        .orderBy('id')
        .execute();
      expect(await storage.executeRead(text, [a, 'second'])).toEqual(built);
      expect(built.map((row) => row.id)).toEqual([a, b]);
      // the same text again with other values: the statement is reused, the values are not
      expect((await storage.executeRead<{ id: number }>(text, [b, 'none'])).map((row) => row.id)).toEqual([
        b,
      ]);

      const relabel = 'UPDATE db_dbnode SET label = $1 WHERE id = $2';
      const labelRead = 'SELECT label FROM db_dbnode WHERE id = $1';
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let written!: () => void;
      const wrote = new Promise<void>((resolve) => (written = resolve));
      const transaction = storage.transaction(async () => {
        await storage.executeWrite(relabel, ['changed', a]);
        // inside: its own uncommitted write
        expect(await storage.executeRead(labelRead, [a])).toEqual([{ label: 'changed' }]);
        written();
        await held;
      });
      await wrote;
      // another task meanwhile never sees the uncommitted write: PostgreSQL reads the committed row on another
      // connection; SQLite's one connection waits for the transaction's end, as a built query does
      if (storage.dialect.name === 'postgres') {
        expect(await storage.executeRead(labelRead, [a])).toEqual([{ label: 'first' }]);
        release();
      } else {
        const outside = storage.executeRead(labelRead, [a]);
        release();
        expect(await outside).toEqual([{ label: 'changed' }]);
      }
      await transaction;
      await expect(storage.executeRead('SELECT no_such_column FROM db_dbnode', [])).rejects.toThrow();
    });

    it('round-trips JSON columns and microsecond timestamps exactly', async () => {
      const userId = await newUser(storage);
      const value = {
        'array|matrix': [2, 3],
        nested: { list: [1, [2, [3]]], empty: {}, none: null, t: true, f: false },
        unicode: 'héllo wörld Ω ✓',
        float: -0.1,
        big: 4611686018427387904,
        empty_list: [],
      };
      const ctime = '2026-11-25T05:48:30.463475+00:00';
      const [id] = await storage.bulkInsert('db_dbnode', [
        nodeRow(storage, userId, value, { ctime: storage.dialect.encodeTimestamp(ctime) }),
      ]);
      const row = await storage
        .executor()
        .selectFrom('db_dbnode')
        .selectAll()
        .where('id', '=', id!)
        .executeTakeFirstOrThrow();
      expect(storage.dialect.decodeJson(row.attributes)).toEqual(value);
      expect(storage.dialect.decodeTimestamp(row.ctime)).toBe(ctime);
      expect(row.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('evaluates the dialect JSON helpers in the database with the same results', async () => {
      const userId = await newUser(storage);
      const docs = [
        { s: 'abc', n: 1.5, i: 7, b: true, z: null, a: [1, 2, 3], o: { k: 'v', 'x|y': 2 } },
        { s: 'ABD', n: '1.5', i: 8, b: false, a: [], o: {} },
      ];
      const ids = await storage.bulkInsert(
        'db_dbnode',
        docs.map((d) => nodeRow(storage, userId, d)),
      );
      const d = storage.dialect;
      const attrs = sql.ref('attributes');
      const result = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select([
          'id',
          d.jsonExtractText(attrs, ['s']).as('s'),
          d.jsonExtractNumber(attrs, ['n']).as('n'),
          d.jsonExtractBoolean(attrs, ['b']).as('b'),
          d.jsonTypeOf(attrs, ['z']).as('tz'),
          d.jsonTypeOf(attrs, ['missing']).as('tm'),
          d.jsonTypeOf(attrs, ['a']).as('ta'),
          d.jsonTypeOf(attrs, ['o']).as('to'),
          d.jsonTypeOf(attrs, ['s']).as('ts'),
          d.jsonTypeOf(attrs, ['i']).as('ti'),
          d.jsonTypeOf(attrs, ['b']).as('tb'),
          d.jsonArrayLength(attrs, ['a']).as('len'),
          d.jsonHasKey(attrs, ['o'], 'x|y').as('has'),
          d.jsonContains(attrs, ['a'], [2, 3]).as('contains'),
          d.jsonContains(attrs, ['o'], { k: 'v' }).as('containsObject'),
          d.jsonEquals(attrs, ['i'], 7).as('eq7'),
          d.jsonExtractText(attrs, ['o', 'x|y']).as('deep'),
          d.jsonExtractText(attrs, ['a', 1]).as('second'),
          d.ilike(d.jsonExtractText(attrs, ['s']), 'ab%').as('ilike'),
        ])
        .orderBy('id')
        .execute();
      const [first, second] = result;
      expect(first!.id).toBe(ids[0]);
      expect(first!.s).toBe('abc');
      expect(Number(first!.n)).toBe(1.5);
      expect(second!.n).toBeNull();
      expect(d.decodeBool(first!.b)).toBe(true);
      expect(d.decodeBool(second!.b)).toBe(false);
      expect([first!.tz, first!.tm, first!.ta, first!.to, first!.ts, first!.ti, first!.tb]).toEqual([
        'null',
        null,
        'array',
        'object',
        'string',
        'number',
        'boolean',
      ]);
      expect(Number(first!.len)).toBe(3);
      expect(Number(second!.len)).toBe(0);
      expect(d.decodeBool(first!.has)).toBe(true);
      expect(d.decodeBool(second!.has)).toBe(false);
      expect(d.decodeBool(first!.contains)).toBe(true);
      expect(d.decodeBool(second!.contains)).toBe(false);
      expect(d.decodeBool(first!.containsObject)).toBe(true);
      expect(d.decodeBool(first!.eq7)).toBe(true);
      expect(d.decodeBool(second!.eq7)).toBe(false);
      expect(first!.deep).toBe('2');
      expect(first!.second).toBe('2');
      expect(d.decodeBool(first!.ilike)).toBe(true);
      expect(d.decodeBool(second!.ilike)).toBe(true);
    });

    it('gives NULL for contains and has-key on a missing path (as `@>` and `?`), false for equality', async () => {
      const userId = await newUser(storage);
      const docs = [{ a: [1, 2], o: { k: 1 }, z: null, s: 'x' }, {}];
      const ids = await storage.bulkInsert(
        'db_dbnode',
        docs.map((doc) => nodeRow(storage, userId, doc)),
      );
      const d = storage.dialect;
      const attrs = sql.ref('attributes');
      const rows = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select([
          'id',
          d.jsonContains(attrs, ['a'], [1]).as('contains'),
          d.jsonContains(attrs, ['a'], 2).as('containsScalar'),
          d.jsonContains(attrs, ['o'], { k: 1 }).as('containsObject'),
          d.jsonContains(attrs, ['z'], [1]).as('nullContains'),
          d.jsonHasKey(attrs, ['o'], 'k').as('hasKey'),
          d.jsonHasKey(attrs, ['s'], 'x').as('stringHasKey'),
          d.jsonHasKey(attrs, ['a'], '1').as('arrayHasKey'),
          d.jsonEquals(attrs, ['s'], 'x').as('equals'),
        ])
        .where('id', 'in', ids)
        .orderBy('id')
        .execute();
      const decode = (raw: unknown): boolean | null => (raw === null ? null : d.decodeBool(raw));
      const present = rows[0]!;
      const missing = rows[1]!;
      expect(
        [
          present.contains,
          present.containsScalar,
          present.containsObject,
          present.nullContains,
          present.hasKey,
          present.stringHasKey,
          present.arrayHasKey,
          present.equals,
        ].map(decode),
      ).toEqual([true, true, true, false, true, false, false, true]);
      expect(
        [missing.contains, missing.containsObject, missing.hasKey, missing.stringHasKey, missing.equals].map(
          decode,
        ),
      ).toEqual([null, null, null, null, false]);

      // three-valued logic: neither a predicate nor its negation selects a node without the key
      const matching = async (
        predicate: (not: boolean) => ReturnType<typeof d.jsonContains>,
      ): Promise<number[][]> => {
        const select = async (not: boolean): Promise<number[]> =>
          (
            await storage
              .executor()
              .selectFrom('db_dbnode')
              .select('id')
              .where('id', 'in', ids)
              .where(not ? sql<boolean>`not ${predicate(not)}` : sql<boolean>`${predicate(not)}`)
              .orderBy('id')
              .execute()
          ).map((row) => row.id);
        return [await select(false), await select(true)];
      };
      expect(await matching(() => d.jsonContains(attrs, ['a'], [2]))).toEqual([[ids[0]], []]);
      expect(await matching(() => d.jsonHasKey(attrs, ['o'], 'k'))).toEqual([[ids[0]], []]);
      expect(await matching(() => d.jsonEquals(attrs, ['s'], 'y'))).toEqual([[], ids]);
    });

    it('finds nodes by uuid prefix through uuidText and walks a cyclic graph with the path helpers', async () => {
      const userId = await newUser(storage);
      const ids = await storage.bulkInsert(
        'db_dbnode',
        [0, 1, 2].map(() => nodeRow(storage, userId)),
      );
      const [a, b, c] = ids as [number, number, number];
      await storage.bulkInsert('db_dblink', [
        { input_id: a, output_id: b, label: 'x', type: 'input_calc' },
        { input_id: b, output_id: c, label: 'x', type: 'create' },
        { input_id: c, output_id: a, label: 'x', type: 'input_calc' },
      ]);
      const uuid = (
        await storage
          .executor()
          .selectFrom('db_dbnode')
          .select('uuid')
          .where('id', '=', a)
          .executeTakeFirstOrThrow()
      ).uuid;
      const found = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select('id')
        .where(storage.dialect.uuidText(sql.ref('uuid')), 'like', `${uuid.slice(0, 13)}%`)
        .execute();
      expect(found.map((r) => r.id)).toEqual([a]);
      const d = storage.dialect;
      const walk = await sql<{ id: number }>`
        WITH RECURSIVE walk(id, path) AS (
          SELECT output_id, ${d.pathAppend(d.pathInit(sql.lit(a)), sql.ref('output_id'))} FROM db_dblink WHERE input_id = ${a}
          UNION ALL
          SELECT l.output_id, ${d.pathAppend(sql.ref('w.path'), sql.ref('l.output_id'))}
          FROM db_dblink l JOIN walk w ON l.input_id = w.id
          WHERE ${d.pathExcludes(sql.ref('w.path'), sql.ref('l.output_id'))}
        )
        SELECT id FROM walk`.execute(storage.executor());
      expect(walk.rows.map((r) => r.id).sort()).toEqual([b, c].sort());
    });

    it('stores and updates global variables', async () => {
      expect(await storage.getGlobalVariable('process|state_change|work')).toBeUndefined();
      await storage.setGlobalVariable('process|state_change|work', '2026-11-25T00:00:00', 'last change');
      await storage.setGlobalVariable('process|state_change|work', { when: 2 });
      expect(await storage.getGlobalVariable('process|state_change|work')).toEqual({ when: 2 });
    });

    it('deletes nodes with their links, group memberships, comments and logs', async () => {
      const userId = await newUser(storage);
      const [keep, gone] = (await storage.bulkInsert('db_dbnode', [
        nodeRow(storage, userId),
        nodeRow(storage, userId),
      ])) as [number, number];
      await storage.bulkInsert('db_dblink', [
        { input_id: keep, output_id: gone, label: 'x', type: 'input_calc' },
      ]);
      const now = storage.dialect.encodeTimestamp(new Date());
      const [group] = await storage.bulkInsert('db_dbgroup', [
        {
          uuid: randomUUID(),
          label: 'g',
          type_string: 'core',
          time: now,
          description: '',
          extras: '{}',
          user_id: userId,
        },
      ]);
      await storage.bulkInsert('db_dbgroup_dbnodes', [
        { dbgroup_id: group!, dbnode_id: gone },
        { dbgroup_id: group!, dbnode_id: keep },
      ]);
      await storage.bulkInsert('db_dbcomment', [
        { uuid: randomUUID(), dbnode_id: gone, ctime: now, mtime: now, user_id: userId, content: 'c' },
      ]);
      await storage.bulkInsert('db_dblog', [
        {
          uuid: randomUUID(),
          time: now,
          loggername: 'l',
          levelname: 'REPORT',
          dbnode_id: gone,
          message: 'm',
          metadata: '{}',
        },
        {
          uuid: randomUUID(),
          time: now,
          loggername: 'l',
          levelname: 'REPORT',
          dbnode_id: keep,
          message: 'm',
          metadata: '{}',
        },
      ]);
      await storage.deleteNodesAndConnections([gone]);
      expect(
        (await storage.executor().selectFrom('db_dbnode').select('id').execute()).map((r) => r.id),
      ).toEqual([keep]);
      expect(await countRows(storage, 'db_dblink')).toBe(0);
      expect(await countRows(storage, 'db_dbgroup_dbnodes')).toBe(1);
      expect(await countRows(storage, 'db_dbcomment')).toBe(0);
      expect(await countRows(storage, 'db_dblog')).toBe(1);
    });

    it('reports entity counts, first/last creation and node types for `verdi storage info`', async () => {
      const userId = await newUser(storage);
      await storage.bulkInsert('db_dbnode', [
        nodeRow(
          storage,
          userId,
          {},
          { ctime: storage.dialect.encodeTimestamp('2020-01-01T00:00:00.000001+00:00') },
        ),
        nodeRow(
          storage,
          userId,
          {},
          {
            node_type: 'data.core.int.Int.',
            ctime: storage.dialect.encodeTimestamp('2021-01-01T00:00:00+00:00'),
          },
        ),
      ]);
      const info = await storage.getInfo({ detailed: true });
      expect(info.entities.Users.count).toBe(1);
      expect(info.entities.Nodes).toEqual({
        count: 2,
        first_created: '2020-01-01T00:00:00.000001+00:00',
        last_created: '2021-01-01T00:00:00.000000+00:00',
      });
      expect(info.entities.node_types).toEqual({ 'data.core.dict.Dict.': 1, 'data.core.int.Int.': 1 });
      expect(info.location).not.toContain('password');
      expect(typeof info.repository).toBe('object');
    });

    it('stores repository objects by content key', async () => {
      const key = await storage.repository.putObjectFromBuffer(Buffer.from('content'));
      expect(key).toBe('ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73');
      expect((await storage.repository.getObjectContent(key)).toString()).toBe('content');
      const report = await storage.maintain({ live: true, dryRun: true });
      expect(Array.isArray(report.actions)).toBe(true);
    });

    it('closes once and refuses work afterwards', async () => {
      await storage.close();
      await storage.close();
      expect(storage.isClosed).toBe(true);
      expect(() => storage.executor()).toThrow(InvalidOperationError);
    });
  });
}
