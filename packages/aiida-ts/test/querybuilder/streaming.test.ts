import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';
import { insertNodes } from './support/rows.js';

const MANY = 2500;

describe.each(DIALECTS)('streaming results on %s', (dialect) => {
  let storage: TestStorage;
  const qb = (): QueryBuilder => new QueryBuilder({ backend: storage.backend });

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    await insertNodes(
      storage.backend,
      Array.from({ length: MANY }, (_, i) => ({
        label: 'many',
        nodeType: 'data.core.int.Int.',
        attributes: { value: i },
      })),
    );
  }, 60_000);
  afterAll(async () => storage?.close());

  it('yields every row exactly once in batches, with and without ordering', async () => {
    const seen: number[] = [];
    for await (const [value] of qb()
      .append('data.core.int.Int.', { filters: { label: 'many' }, project: 'attributes.value' })
      .iterall({ batchSize: 97 })) {
      seen.push(value as number);
    }
    expect(seen).toHaveLength(MANY);
    expect(new Set(seen).size).toBe(MANY);
    const ordered: number[] = [];
    const query = qb()
      .append('data.core.int.Int.', { tag: 'i', filters: { label: 'many' }, project: 'attributes.value' })
      .orderBy({ i: { 'attributes.value': { order: 'desc', cast: 'i' } } });
    for await (const [value] of query.iterall({ batchSize: 64 })) ordered.push(value as number);
    expect(ordered).toEqual(Array.from({ length: MANY }, (_, i) => MANY - 1 - i));
    const dicts: unknown[] = [];
    for await (const row of query.iterdict({ batchSize: 1000 })) dicts.push(row);
    expect(dicts).toEqual(ordered.map((value) => ({ i: { 'attributes.value': value } })));
  });

  it('lets the loop body use the database between rows', async () => {
    const labels = Array.from({ length: 10 }, (_, i) => `mutate-${i}`);
    await insertNodes(
      storage.backend,
      labels.map((label) => ({ label, attributes: { value: 1 } })),
    );
    let visited = 0;
    for await (const [id] of qb()
      .append('', { filters: { label: { like: 'mutate-%' } }, project: 'id' })
      .iterall({ batchSize: 2 })) {
      const db = storage.backend.executor();
      await db
        .updateTable('db_dbnode')
        .set({ extras: storage.backend.dialect.encodeJson({ key: 'value' }) })
        .where('id', '=', id as number)
        .execute();
      // a query inside the loop body runs while the iteration is open
      expect(
        await qb()
          .append('', { filters: { id: id as number, 'extras.key': 'value' } })
          .count(),
      ).toBe(1);
      visited += 1;
    }
    expect(visited).toBe(10);
    expect(
      await qb()
        .append('', { filters: { label: { like: 'mutate-%' }, 'extras.key': 'value' } })
        .count(),
    ).toBe(10);
  });

  it('does not see rows stored during the iteration (test_iterall_with_store)', async () => {
    await insertNodes(
      storage.backend,
      Array.from({ length: 10 }, (_, i) => ({
        label: 'store',
        nodeType: 'data.core.int.Int.',
        attributes: { value: i },
      })),
    );
    let visited = 0;
    for await (const [value] of qb()
      .append('data.core.int.Int.', { filters: { label: 'store' }, project: 'attributes.value' })
      .iterall({ batchSize: 2 })) {
      await insertNodes(storage.backend, [
        { label: 'store', nodeType: 'data.core.int.Int.', attributes: { value } },
      ]);
      visited += 1;
    }
    expect(visited).toBe(10);
    expect(
      await qb()
        .append('data.core.int.Int.', { filters: { label: 'store' } })
        .count(),
    ).toBe(20);
    // the same with a join and an ordering (offset batches on SQLite)
    const before = await qb()
      .append('data.core.int.Int.', { tag: 'i', filters: { label: 'store' } })
      .append('user', { withNode: 'i' })
      .count();
    let joined = 0;
    const query = qb()
      .append('data.core.int.Int.', { tag: 'i', filters: { label: 'store' }, project: 'id' })
      .append('user', { withNode: 'i' })
      .orderBy({ i: { 'attributes.value': { order: 'asc', cast: 'i' } } });
    for await (const [,] of query.iterall({ batchSize: 3 })) {
      await insertNodes(storage.backend, [
        { label: 'store', nodeType: 'data.core.int.Int.', attributes: { value: -1 } },
      ]);
      joined += 1;
    }
    expect(joined).toBe(before);
  });

  it('rolls back what the loop body stored when the loop runs in a transaction that fails (test_iterall_except)', async () => {
    await insertNodes(
      storage.backend,
      Array.from({ length: 10 }, () => ({ label: 'except' })),
    );
    const backend = storage.backend;
    await expect(
      backend.transaction(async () => {
        let index = 0;
        for await (const _ of qb()
          .append('', { filters: { label: 'except' } })
          .iterall({ batchSize: 3 })) {
          await insertNodes(backend, [{ label: 'except' }]);
          index += 1;
          if (index >= 8) throw new Error('some error');
        }
      }),
    ).rejects.toThrow('some error');
    expect(
      await qb()
        .append('', { filters: { label: 'except' } })
        .count(),
    ).toBe(10);
  });

  it('releases the cursor and its connection when the loop stops early', async () => {
    for (let i = 0; i < 25; i++) {
      for await (const _ of qb()
        .append('', { filters: { label: 'many' } })
        .iterall({ batchSize: 10 }))
        break;
    }
    // a failing loop body releases them too
    await expect(
      (async () => {
        for await (const _ of qb()
          .append('', { filters: { label: 'many' } })
          .iterall({ batchSize: 10 }))
          throw new Error('stop');
      })(),
    ).rejects.toThrow('stop');
    expect(
      await qb()
        .append('', { filters: { label: 'many' } })
        .count(),
    ).toBe(MANY);
    if (dialect === 'postgres') {
      const open = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`.execute(
        storage.backend.executor(),
      );
      expect(open.rows[0]!.n).toBe(0);
    }
  });

  it('runs two iterations side by side', async () => {
    const a = qb()
      .append('data.core.int.Int.', { filters: { label: 'many' }, project: 'id' })
      .iterall({ batchSize: 50 });
    const b = qb()
      .append('data.core.int.Int.', { filters: { label: 'many' }, project: 'id' })
      .iterall({ batchSize: 70 });
    let count = 0;
    for (;;) {
      const [x, y] = await Promise.all([a.next(), b.next()]);
      if (x.done === true || y.done === true) {
        expect(x.done).toBe(true);
        expect(y.done).toBe(true);
        break;
      }
      count += 1;
    }
    expect(count).toBe(MANY);
  });
});
