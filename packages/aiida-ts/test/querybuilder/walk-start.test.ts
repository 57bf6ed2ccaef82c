import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../src/orm.js';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';
import { insertLinks, insertNodes } from './support/rows.js';

const INT = 'data.core.int.Int.';
const CALC = 'process.calculation.calcfunction.CalcFunctionNode.';

// A walk (withAncestors/withDescendants) from a start vertex whose table nothing else reads starts from the walk
// itself, and from one pinned start id leaves out DISTINCT: these tests check that such statements give the rows
// of the general shape (forced here by ordering by the start vertex, which needs its table).
describe.each(DIALECTS)('walks from a start vertex on %s', (dialect) => {
  let storage: TestStorage;
  const qb = (): QueryBuilder => new QueryBuilder({ backend: storage.backend });
  // d0 -> c1 -> d2, d3 -> c4 -> d5: d5 is reached from d0 along two paths
  let ids: number[] = [];

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    ids = await insertNodes(storage.backend, [
      { nodeType: INT, label: 'walk-start' },
      { nodeType: CALC, label: 'walk-calc' },
      { nodeType: INT, label: 'walk-mid' },
      { nodeType: INT, label: 'walk-mid' },
      { nodeType: CALC, label: 'walk-calc' },
      { nodeType: INT, label: 'walk-end' },
    ]);
    const [d0, c1, d2, d3, c4, d5] = ids as [number, number, number, number, number, number];
    await insertLinks(storage.backend, [
      { input: d0, output: c1, type: 'input_calc', label: 'x' },
      { input: c1, output: d2, type: 'create', label: 'a' },
      { input: c1, output: d3, type: 'create', label: 'b' },
      { input: d2, output: c4, type: 'input_calc', label: 'a' },
      { input: d3, output: c4, type: 'input_calc', label: 'b' },
      { input: c4, output: d5, type: 'create', label: 'result' },
    ]);
  }, 60_000);
  afterAll(async () => storage?.close());

  type Keyword = 'withAncestors' | 'withDescendants';
  const walk = (
    start: string | typeof Node,
    filters: Record<string, unknown>,
    keyword: Keyword,
    options: { general?: boolean; distinct?: boolean; depth?: boolean } = {},
  ): QueryBuilder => {
    const query = qb()
      // projecting the start vertex's id needs its table: the general shape
      .append(start, { tag: 's', filters, ...(options.general === true ? { project: 'id' } : {}) })
      .append(Node, {
        tag: 'r',
        [keyword]: 's',
        project: 'id',
        ...(options.depth === true ? { edgeTag: 'w', edgeProject: 'depth' } : {}),
      });
    if (options.distinct !== false) query.distinct();
    return query;
  };
  const sorted = (rows: unknown[]): string[] => rows.map((row) => JSON.stringify(row)).sort();

  async function expectSameRows(
    start: string | typeof Node,
    filters: Record<string, unknown>,
    keyword: Keyword,
    options: { distinct?: boolean; depth?: boolean } = {},
  ): Promise<unknown[]> {
    const ours = await walk(start, filters, keyword, options).all();
    // the general rows without the start vertex's id: once each with DISTINCT, as many times as joined without
    let general = (await walk(start, filters, keyword, { ...options, general: true }).all()).map((row) =>
      row.slice(1),
    );
    if (options.distinct !== false)
      general = [...new Set(sorted(general))].map((row): unknown[] => JSON.parse(row) as unknown[]);
    expect(sorted(ours)).toEqual(sorted(general));
    expect(await walk(start, filters, keyword, options).count()).toBe(general.length);
    return ours;
  }

  const general = (start: string, filters: Record<string, unknown>): Promise<unknown[]> =>
    expectSameRows(start, filters, 'withAncestors');

  it('starts from the walk and leaves out DISTINCT when one start id is pinned', () => {
    const text = walk(INT, { id: 1 }, 'withAncestors').asSql({ dialect });
    expect(text).not.toContain('"db_dbnode" as "t0"');
    expect(text).not.toMatch(/select distinct/);
    expect(walk(INT, { id: 1 }, 'withAncestors', { general: true }).asSql({ dialect })).toMatch(
      /select distinct/,
    );
    // several possible start vertices: one node may be reached from two, so DISTINCT stays
    expect(walk(INT, { label: 'walk-mid' }, 'withAncestors').asSql({ dialect })).toMatch(/select distinct/);
  });

  it('gives the rows of the general shape from every start node, both ways', async () => {
    for (const id of ids)
      for (const keyword of ['withAncestors', 'withDescendants'] as const)
        await expectSameRows(Node, { id }, keyword);
    expect(sorted(await expectSameRows(Node, { id: ids[0] }, 'withAncestors'))).toEqual(
      sorted(ids.slice(1).map((id) => [id])),
    );
  });

  it('gives no rows from a start id that does not exist', async () => {
    const missing = Math.max(...ids) + 1000;
    expect(await expectSameRows(Node, { id: missing }, 'withAncestors')).toEqual([]);
    expect(await expectSameRows(Node, { id: missing }, 'withDescendants')).toEqual([]);
  });

  it('keeps the type filter of the start vertex', async () => {
    // the calculation c1 is no Int: nothing is walked from it
    expect(await expectSameRows(INT, { id: ids[1] }, 'withAncestors')).toEqual([]);
    expect(await expectSameRows(CALC, { id: ids[1] }, 'withAncestors')).toHaveLength(4);
    expect(await expectSameRows(CALC, { id: ids[4] }, 'withDescendants')).toHaveLength(4);
  });

  it('gives the rows of the general shape from several start nodes, with and without DISTINCT', async () => {
    for (const keyword of ['withAncestors', 'withDescendants'] as const) {
      await expectSameRows(INT, { label: 'walk-mid' }, keyword);
      await expectSameRows(INT, { label: 'walk-mid' }, keyword, { distinct: false });
      await expectSameRows(INT, { label: { like: 'walk-%' } }, keyword, { distinct: false, depth: true });
    }
    // one row per path without DISTINCT: d5 twice from d0
    const paths = await expectSameRows(INT, { id: ids[0] }, 'withAncestors', { distinct: false });
    expect(paths.filter((row) => JSON.stringify(row) === JSON.stringify([ids[5]]))).toHaveLength(2);
  });

  it('streams the same rows in batches', async () => {
    for (const filters of [{ id: ids[0] }, { label: 'walk-mid' }]) {
      const streamed: unknown[] = [];
      for await (const row of walk(INT, filters, 'withAncestors').iterall({ batchSize: 2 }))
        streamed.push(row);
      expect(sorted(streamed)).toEqual(sorted(await general(INT, filters)));
    }
  });
});
