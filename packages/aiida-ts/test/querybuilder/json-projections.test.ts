import { describe, expect, it } from 'vitest';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, storageForBlock } from './support/backends.js';
import { insertLinks, insertNodes } from './support/rows.js';

// Several values of one JSON document projected together (read as one JSON array: one call on SQLite, one value for
// PostgreSQL's driver to decode) give
// what each gives projected alone, whatever the value: scalars, escapes, nulls, missing keys, containers, paths.
const KEYS = [
  'text',
  'escaped',
  'integer',
  'float',
  'big',
  'yes',
  'no',
  'nothing',
  'missing',
  'object',
  'list',
  'object.inner',
  'list.1',
  'keyed.0',
  'object.missing',
] as const;

describe.each(DIALECTS)('projecting several JSON values of one document on %s', (dialect) => {
  let ids: number[] = [];
  const backend = storageForBlock(dialect, async (storage) => {
    ids = await insertNodes(storage, [
      {
        label: 'jp-0',
        nodeType: 'data.core.dict.Dict.',
        attributes: {
          text: 'plain',
          escaped: 'a "quoted" \\ line\nnext ✓',
          integer: 42,
          float: 2.5,
          big: 12345678901234,
          yes: true,
          no: false,
          nothing: null,
          object: { inner: [1, { deep: 'x' }] },
          list: ['first', 2.25, null],
          keyed: { '0': 'zero' },
        },
        extras: { note: 'first', rank: 1 },
      },
      {
        label: 'jp-1',
        nodeType: 'data.core.dict.Dict.',
        attributes: { text: 'other', list: [] },
        extras: {},
      },
      { label: 'jp-2', nodeType: 'data.core.dict.Dict.', attributes: null, extras: null },
    ]);
    await insertLinks(storage, [{ input: ids[0]!, output: ids[1]!, type: 'create', label: 'out' }]);
  });
  const qb = (): QueryBuilder => new QueryBuilder({ backend: backend() });

  const alone = async (field: string): Promise<unknown[]> =>
    qb()
      .append('data.core.dict.Dict.', { tag: 'd', filters: { id: { in: ids } }, project: field })
      .orderBy({ d: ['id'] })
      .all({ flat: true });

  it('gives each value as projected alone', async () => {
    const together = await qb()
      .append('data.core.dict.Dict.', {
        tag: 'd',
        filters: { id: { in: ids } },
        project: KEYS.map((key) => `attributes.${key}`),
      })
      .orderBy({ d: ['id'] })
      .all();
    expect(together).toHaveLength(3);
    for (const [index, key] of KEYS.entries()) {
      expect(together.map((row) => row[index])).toEqual(await alone(`attributes.${key}`));
    }
    expect(together[0]).toEqual([
      'plain',
      'a "quoted" \\ line\nnext ✓',
      42,
      2.5,
      12345678901234,
      true,
      false,
      null,
      null,
      { inner: [1, { deep: 'x' }] },
      ['first', 2.25, null],
      [1, { deep: 'x' }],
      2.25,
      'zero',
      null,
    ]);
    // a node without attributes (NULL): every value null
    expect(together[2]).toEqual(KEYS.map(() => null));
  });

  it('keeps columns, entities and values of other documents and other tags in their places', async () => {
    const rows = await qb()
      .append('data.core.dict.Dict.', {
        tag: 'd',
        filters: { id: ids[0]! },
        project: [
          'attributes.text',
          'id',
          'extras.note',
          'attributes.integer',
          'attributes',
          'ctime',
          'extras.rank',
          'label',
        ],
      })
      .append('data.core.dict.Dict.', {
        tag: 'e',
        project: ['attributes.text', 'attributes.list', 'attributes.missing', 'label'],
        edgeTag: 'link',
        edgeProject: ['*', 'label'],
        withIncoming: 'd',
      })
      .dict();
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row!.d!['attributes.text']).toBe('plain');
    expect(row!.d!.id).toBe(ids[0]);
    expect(row!.d!['extras.note']).toBe('first');
    expect(row!.d!['attributes.integer']).toBe(42);
    expect(row!.d!.attributes).toMatchObject({ text: 'plain', keyed: { '0': 'zero' }, nothing: null });
    expect(row!.d!.ctime).toBeInstanceOf(Date);
    expect(row!.d!['extras.rank']).toBe(1);
    expect(row!.d!.label).toBe('jp-0');
    expect(row!.link).toEqual({
      '*': { id: expect.any(Number), input_id: ids[0], output_id: ids[1], type: 'create', label: 'out' },
      label: 'out',
    });
    expect(row!.e).toEqual({
      'attributes.text': 'other',
      'attributes.list': [],
      'attributes.missing': null,
      label: 'jp-1',
    });
  });

  it('gives more values than a function takes arguments (PostgreSQL: 100) in their places', async () => {
    // 110 missing keys, the known ones (past the first 100), 115 missing keys: 240 values of one document
    const absent = (from: number, count: number): string[] =>
      Array.from({ length: count }, (_, i) => `attributes.absent${from + i}`);
    const known = KEYS.map((key) => `attributes.${key}`);
    const fields = [...absent(0, 110), ...known, ...absent(110, 115)];
    const [all] = await qb()
      .append('data.core.dict.Dict.', { filters: { id: ids[0]! }, project: fields })
      .all();
    const [each] = await qb()
      .append('data.core.dict.Dict.', { filters: { id: ids[0]! }, project: known })
      .all();
    expect(each![0]).toBe('plain');
    expect(all).toEqual([...absent(0, 110).map(() => null), ...each!, ...absent(110, 115).map(() => null)]);
  });

  it('gives the same rows in batches and under distinct', async () => {
    const project = ['attributes.text', 'attributes.list', 'extras.note', 'extras.rank'];
    const query = () => qb().append('data.core.dict.Dict.', { filters: { id: { in: ids } }, project });
    const all = await query().all();
    const batched: unknown[][] = [];
    for await (const row of query().iterall({ batchSize: 1 })) batched.push(row);
    const byText = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
    expect([...batched].sort(byText)).toEqual([...all].sort(byText));
    expect((await query().distinct().all()).sort(byText)).toEqual([...all].sort(byText));
  });
});
