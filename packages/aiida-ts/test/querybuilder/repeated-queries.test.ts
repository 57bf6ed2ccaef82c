import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';
import { insertNodes } from './support/rows.js';

// The same query built again reuses what the first build worked out (its appends and its compiled plan); these
// tests check that the reuse never changes an answer.
describe.each(DIALECTS)('queries built again on %s', (dialect) => {
  let storage: TestStorage;
  const qb = (): QueryBuilder => new QueryBuilder({ backend: storage.backend });
  let ids: number[] = [];

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    ids = await insertNodes(
      storage.backend,
      Array.from({ length: 10 }, (_, i) => ({
        label: `repeat-${i % 2}`,
        nodeType: 'data.core.int.Int.',
        attributes: { value: i },
        ctime: new Date(Date.UTC(2024, 0, 1 + i)),
      })),
    );
  }, 60_000);
  afterAll(async () => storage?.close());

  it('gives each value of a filter its own answer', async () => {
    for (const id of [...ids, ...ids]) {
      const rows = await qb()
        .append('data.core.int.Int.', { tag: 'n', filters: { id } })
        .append('data.core.int.Int.', { tag: 'm', filters: { id: { '>=': id } }, withIncoming: 'n' })
        .count();
      expect(rows).toBe(0);
      expect(
        await qb()
          .append('data.core.int.Int.', { filters: { id }, project: 'attributes.value' })
          .all({ flat: true }),
      ).toEqual([ids.indexOf(id)]);
    }
  });

  it('keeps what a QueryBuilder was given when the caller changes its filter objects afterwards', async () => {
    const filters = { label: 'repeat-0', 'attributes.value': { '<': 4 } };
    const first = qb().append('data.core.int.Int.', { filters, project: 'attributes.value' });
    filters['attributes.value']['<'] = 100;
    const second = qb().append('data.core.int.Int.', { filters, project: 'attributes.value' });
    expect(((await first.all({ flat: true })) as number[]).sort((a, b) => a - b)).toEqual([0, 2]);
    expect(((await second.all({ flat: true })) as number[]).sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8]);
    const added = { 'attributes.value': { '>': 5 } };
    const third = qb().append('data.core.int.Int.', { tag: 'x', project: 'attributes.value' });
    third.addFilter('x', added);
    added['attributes.value']['>'] = 0;
    expect(((await third.all({ flat: true })) as number[]).sort((a, b) => a - b)).toEqual([6, 7, 8, 9]);
  });

  it('tells a Date from its ISO string, and both select the same rows', async () => {
    const since = new Date(Date.UTC(2024, 0, 6));
    const byDate = await qb()
      .append('data.core.int.Int.', { filters: { ctime: { '>=': since }, label: { like: 'repeat-%' } } })
      .count();
    const byText = await qb()
      .append('data.core.int.Int.', {
        filters: { ctime: { '>=': since.toISOString() }, label: { like: 'repeat-%' } },
      })
      .count();
    expect(byDate).toBe(5);
    expect(byText).toBe(byDate);
  });

  it('follows limit, offset, ordering and distinct changed after the appends', async () => {
    const base = () =>
      qb().append('data.core.int.Int.', {
        tag: 'n',
        filters: { label: { like: 'repeat-%' } },
        project: 'attributes.value',
      });
    const ascending = await base().orderBy({ n: 'id' }).limit(3).all({ flat: true });
    const descending = await base()
      .orderBy({ n: { id: 'desc' } })
      .limit(3)
      .all({ flat: true });
    const skipped = await base().orderBy({ n: 'id' }).limit(3).offset(2).all({ flat: true });
    expect(ascending).toEqual([0, 1, 2]);
    expect(descending).toEqual([9, 8, 7]);
    expect(skipped).toEqual([2, 3, 4]);
    expect(await base().orderBy({ n: 'id' }).limit(3).all({ flat: true })).toEqual(ascending);
  });

  it('filters process_state by value and type, also negated', async () => {
    const states: unknown[] = ['running', 'finished', 1, ['running'], { running: 1 }, '[1]', null];
    const made = await insertNodes(
      storage.backend,
      [...states.map((state) => ({ process_state: state })), {}].map((attributes) => ({
        label: 'states',
        nodeType: 'process.workflow.workchain.WorkChainNode.',
        attributes,
      })),
    );
    const ids = async (filter: unknown): Promise<number[]> =>
      (
        (await qb()
          .append('process.workflow.workchain.WorkChainNode.', {
            filters: { label: 'states', 'attributes.process_state': filter },
            project: 'id',
          })
          .all({ flat: true })) as number[]
      ).sort((a, b) => a - b);
    expect(await ids({ in: ['running', 'waiting'] })).toEqual([made[0]]);
    expect(await ids('finished')).toEqual([made[1]]);
    expect(await ids({ in: ['[1]'] })).toEqual([made[5]]);
    // a negated filter keeps every node whose state is not one of these strings, with no state too
    expect(await ids({ '!in': ['running', 'waiting'] })).toEqual(made.filter((_, i) => i !== 0));
    expect(await ids({ '!==': 'finished' })).toEqual(made.filter((_, i) => i !== 1));
  });

  it('never reads the uncommitted rows of another task’s transaction', async () => {
    const count = () =>
      qb()
        .append('data.core.int.Int.', { filters: { label: 'uncommitted' } })
        .count();
    expect(await count()).toBe(0);
    let inserted!: () => void;
    const insertedNow = new Promise<void>((resolve) => (inserted = resolve));
    let finish!: () => void;
    const finishNow = new Promise<void>((resolve) => (finish = resolve));
    const writer = storage.backend
      .transaction(async () => {
        await insertNodes(storage.backend, [{ label: 'uncommitted', nodeType: 'data.core.int.Int.' }]);
        inserted();
        await finishNow;
        throw new Error('rolled back on purpose');
      })
      .catch((error: unknown) => error);
    await insertedNow;
    const reading = count();
    finish();
    expect(await reading).toBe(0);
    expect(String(await writer)).toMatch(/rolled back on purpose/);
    expect(await count()).toBe(0);
  });
});
