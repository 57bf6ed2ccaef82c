import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';
import { insertNodes } from './support/rows.js';

// aiida-core's TestJsonFilters: one Dict node per case, each found (or not) by the filter under test
type Case = readonly [data: Record<string, unknown>, filters: Record<string, unknown>, isMatch: boolean];

const CONTAINS_ARRAYS: readonly Case[] = [
  [{ arr: [1, '2', null] }, { 'attributes.arr': { contains: [1] } }, true],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { contains: ['2'] } }, true],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { contains: [null] } }, true],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { contains: [1, null] } }, true],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { contains: [114514] } }, false],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { contains: [] } }, true],
  [{ arr: [] }, { 'attributes.arr': { contains: [] } }, true],
  [
    {
      arr: [
        [1, 0],
        [0, 2],
      ],
    },
    { 'attributes.arr': { contains: [[1, 0]] } },
    true,
  ],
  [{ arr: [[2, 3], [0, 1], []] }, { 'attributes.arr': { contains: [[1, 0]] } }, true],
  [{ arr: [[2, 3], [1]] }, { 'attributes.arr': { contains: [[4]] } }, false],
  [
    {
      arr: [
        [1, 0],
        [0, 2],
      ],
    },
    { 'attributes.arr': { contains: [[3]] } },
    false,
  ],
  [
    {
      arr: [
        [1, 0],
        [0, 2],
      ],
    },
    { 'attributes.arr': { contains: [3] } },
    false,
  ],
  [
    {
      arr: [
        [1, 0],
        [0, 2],
      ],
    },
    { 'attributes.arr': { contains: [[2]] } },
    true,
  ],
  [
    {
      arr: [
        [1, 0],
        [0, 2],
      ],
    },
    { 'attributes.arr': { contains: [2] } },
    false,
  ],
  [{ arr: [[1, 0], [0, 2], 3] }, { 'attributes.arr': { contains: [[3]] } }, false],
  [{ arr: [[1, 0], [0, 2], 3] }, { 'attributes.arr': { contains: [3] } }, true],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { '!contains': [1] } }, false],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { '!contains': [] } }, false],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { '!contains': [114514] } }, true],
  [{ arr: [1, '2', null] }, { 'attributes.arr': { '!contains': [1, 114514] } }, true],
  // a missing key gives NULL: neither contains nor its negation
  [{ arr: [1, '2', null] }, { 'attributes.x': { '!contains': [] } }, false],
  [{ arr: [1, '2', null] }, { 'attributes.x': { contains: [] } }, false],
  // PostgreSQL's @>: an array contains a scalar at the top level, a scalar contains itself
  [{ arr: ['foo', 'bar'] }, { 'attributes.arr': { contains: 'foo' } }, true],
  [{ arr: 'foo' }, { 'attributes.arr': { contains: ['foo'] } }, false],
  [{ arr: 5 }, { 'attributes.arr': { contains: 5.0 } }, true],
];

const DICT = { k1: 1, k2: '2', k3: null };
const CONTAINS_OBJECTS: readonly Case[] = [
  [{ dict: DICT }, { 'attributes.foobar': { '!contains': {} } }, false],
  [{ dict: DICT }, { 'attributes.foobar': { contains: {} } }, false],
  [{ dict: DICT }, { 'attributes.dict': { contains: { k1: 1 } } }, true],
  [{ dict: DICT }, { 'attributes.dict': { contains: { k1: 1, k2: '2' } } }, true],
  [{ dict: DICT }, { 'attributes.dict': { contains: { k3: null } } }, true],
  [{ dict: DICT }, { 'attributes.dict': { contains: {} } }, true],
  [
    { dict: { k1: { k2: { kx: 1, k3: 'secret' }, kxx: null }, kxxx: 'vxxx' } },
    { 'attributes.dict': { contains: { k1: { k2: { k3: 'secret' } } } } },
    true,
  ],
  [
    { dict: { k1: [0, 1, { k2: ['0', { kkk: 'vvv', k3: 'secret' }, '2'] }, 3], kkk: 'vvv' } },
    { 'attributes.dict': { contains: { k1: [{ k2: [{ k3: 'secret' }] }] } } },
    true,
  ],
  [{ dict: DICT }, { 'attributes.dict': { contains: { k1: 1, k: 'v' } } }, false],
  [{ dict: DICT }, { 'attributes.dict': { '!contains': { k1: 1 } } }, false],
  [{ dict: DICT }, { 'attributes.dict': { '!contains': { k1: 1, k: 'v' } } }, true],
  [{ dict: DICT }, { 'attributes.dict': { '!contains': {} } }, false],
  // a nested value must have the same type: an array value does not contain a scalar below the top level
  [{ dict: { a: ['x'] } }, { 'attributes.dict': { contains: { a: 'x' } } }, false],
];

const HAS_KEY: readonly Case[] = [
  [{ dict: DICT }, { 'attributes.dict': { has_key: 'k1' } }, true],
  [{ dict: DICT }, { 'attributes.dict': { has_key: 'k2' } }, true],
  [{ dict: DICT }, { 'attributes.dict': { has_key: 'k3' } }, true],
  [{ dict: DICT }, { 'attributes.dict': { '!has_key': 'k1' } }, false],
  [{ dict: DICT }, { 'attributes.dict': { '!has_key': 'k2' } }, false],
  [{ dict: DICT }, { 'attributes.dict': { '!has_key': 'k3' } }, false],
  [{ dict: DICT }, { 'attributes.dict': { has_key: 'non-exist' } }, false],
  [{ dict: DICT }, { 'attributes.dict': { '!has_key': 'non-exist' } }, true],
  [{ dict: 0xfa15ed1c7 }, { 'attributes.dict': { has_key: 'dict' } }, false],
  [{ dict: 0xfa15ed1c7 }, { 'attributes.dict': { '!has_key': 'dict' } }, true],
  // an array of strings does not "have" its elements as keys (only objects have keys)
  [{ dict: ['k1'] }, { 'attributes.dict': { has_key: 'k1' } }, false],
  // the whole column
  [{ top: 1 }, { attributes: { has_key: 'top' } }, true],
];

const TYPED_DOC = {
  text: 'abcXYZ',
  text2: 'abc_XYZ',
  integer: 1,
  float: 1.1,
  true: true,
  false: false,
  null: null,
  list: [1, 2],
  list2: ['a', 'b'],
  dict: { 'key-1': 1, 'key-none': null },
};

// aiida-core's test_json_filters: TYPED_DOC plus {text2: 'abcxXYZ'} stored, `matches` of the two found
const TYPED: readonly (readonly [Record<string, unknown>, number])[] = [
  [{ 'attributes.text': { of_type: 'string' } }, 1],
  [{ 'attributes.integer': { of_type: 'number' } }, 1],
  [{ 'attributes.float': { of_type: 'number' } }, 1],
  [{ 'attributes.true': { of_type: 'boolean' } }, 1],
  [{ 'attributes.false': { of_type: 'boolean' } }, 1],
  [{ 'attributes.null': { of_type: 'null' } }, 2],
  [{ 'attributes.list': { of_type: 'array' } }, 1],
  [{ 'attributes.dict': { of_type: 'object' } }, 1],
  [{ 'attributes.text': { '==': 'abcXYZ' } }, 1],
  [{ 'attributes.integer': { '==': 1 } }, 1],
  [{ 'attributes.float': { '==': 1.1 } }, 1],
  [{ 'attributes.true': { '==': true } }, 1],
  [{ 'attributes.false': { '==': false } }, 1],
  [{ 'attributes.list': { '==': [1, 2] } }, 1],
  [{ 'attributes.list2': { '==': ['a', 'b'] } }, 1],
  [{ 'attributes.dict': { '==': { 'key-1': 1, 'key-none': null } } }, 1],
  [{ 'attributes.dict': { '==': { 'key-none': null, 'key-1': 1.0 } } }, 1],
  [{ 'attributes.text': { '==': 'lmn' } }, 0],
  [{ 'attributes.integer': { '==': 2 } }, 0],
  [{ 'attributes.float': { '==': 2.2 } }, 0],
  [{ 'attributes.true': { '==': false } }, 0],
  [{ 'attributes.false': { '==': true } }, 0],
  [{ 'attributes.list': { '==': [1, 3] } }, 0],
  [{ 'attributes.list': { '==': [1, 2, 3] } }, 0],
  [{ 'attributes.dict': { '==': { 'key-1': 1 } } }, 0],
  [{ 'attributes.text': { like: 'abcXYZ' } }, 1],
  [{ 'attributes.text': { like: 'abcxyz' } }, 0],
  [{ 'attributes.text': { ilike: 'abcxyz' } }, 1],
  [{ 'attributes.text': { like: 'abc%' } }, 1],
  [{ 'attributes.text': { like: 'abc_YZ' } }, 1],
  [{ 'attributes.text2': { like: 'abc\\_XYZ' } }, 1],
  [{ 'attributes.text2': { like: 'abc_XYZ' } }, 2],
  [{ 'attributes.float': { '<': 1 } }, 0],
  [{ 'attributes.float': { '<': 2 } }, 1],
  [{ 'attributes.float': { '>': 2 } }, 0],
  [{ 'attributes.float': { '>': 0 } }, 1],
  [{ 'attributes.integer': { '<': 1 } }, 0],
  [{ 'attributes.integer': { '<': 2 } }, 1],
  [{ 'attributes.integer': { '>': 2 } }, 0],
  [{ 'attributes.integer': { '>': 0 } }, 1],
  [{ 'attributes.float': { '<': 0.99 } }, 0],
  [{ 'attributes.float': { '<': 2.01 } }, 1],
  [{ 'attributes.float': { '>': 2.01 } }, 0],
  [{ 'attributes.float': { '>': 0.01 } }, 1],
  [{ 'attributes.integer': { '<': 0.99 } }, 0],
  [{ 'attributes.integer': { '<': 2.01 } }, 1],
  [{ 'attributes.integer': { '>': 2.01 } }, 0],
  [{ 'attributes.integer': { '>': 0.01 } }, 1],
  [{ 'attributes.integer': { '>=': 1 } }, 1],
  [{ 'attributes.integer': { '=>': 1 } }, 1],
  [{ 'attributes.integer': { '<=': 0.5 } }, 0],
  [{ 'attributes.list': { of_length: 0 } }, 0],
  [{ 'attributes.list': { of_length: 2 } }, 1],
  [{ 'attributes.list': { longer: 3 } }, 0],
  [{ 'attributes.list': { longer: 1 } }, 1],
  [{ 'attributes.list': { shorter: 1 } }, 0],
  [{ 'attributes.list': { shorter: 3 } }, 1],
  [{ 'attributes.text': { of_length: 6 } }, 0],
  [{ 'attributes.text': { in: ['x', 'y', 'z'] } }, 0],
  [{ 'attributes.text': { in: ['x', 'y', 'abcXYZ'] } }, 1],
  [{ 'attributes.integer': { in: [5, 6, 7] } }, 0],
  [{ 'attributes.integer': { in: [1, 2, 3] } }, 1],
  [{ 'attributes.true': { in: [true] } }, 1],
  [{ 'attributes.integer': { '!in': [5, 6, 7] } }, 2],
  // type-aware: a number never equals a string or a boolean, and the other way round
  [{ 'attributes.integer': { '==': '1' } }, 0],
  [{ 'attributes.integer': { '==': true } }, 0],
  [{ 'attributes.true': { '==': 1 } }, 0],
  [{ 'attributes.text': { '>': 1 } }, 0],
  [{ 'attributes.list.0': { '==': 1 } }, 1],
  [{ 'attributes.list.1': { '==': 2 } }, 1],
  [{ 'attributes.dict.key-1': { '==': 1 } }, 1],
  [{ 'attributes.dict.key-none': { of_type: 'null' } }, 2],
  [{ 'attributes.null': { '==': null } }, 1],
  // negations of comparisons hold where the key is missing (aiida-core's CASE … ELSE false)
  [{ 'attributes.integer': { '!==': 1 } }, 1],
  [{ 'attributes.text': { '!like': 'abc%' } }, 1],
  // per-field and/or
  [{ 'attributes.integer': { or: [{ '==': 7 }, { '<': 2 }] } }, 1],
  [{ 'attributes.integer': { and: [{ '>': 0 }, { '<': 1 }] } }, 0],
  [{ or: [{ 'attributes.text': 'abcXYZ' }, { 'attributes.text2': 'abcxXYZ' }] }, 2],
  [{ '!or': [{ 'attributes.text': 'abcXYZ' }] }, 1],
  [{ and: [{ 'attributes.integer': 1 }, { 'attributes.text': 'nope' }] }, 0],
  [{ or: [{}, {}] }, 2],
  [{}, 2],
];

describe.each(DIALECTS)('JSON filters on %s', (dialect) => {
  let storage: TestStorage;
  const cases: (readonly [string, Case])[] = [];

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    const all = [
      ...CONTAINS_ARRAYS.map((c, i) => [`arr-${i}`, c] as const),
      ...CONTAINS_OBJECTS.map((c, i) => [`obj-${i}`, c] as const),
      ...HAS_KEY.map((c, i) => [`key-${i}`, c] as const),
    ];
    cases.push(...all);
    await insertNodes(storage.backend, [
      ...all.map(([label, [data]]) => ({ label, attributes: data })),
      { label: 'typed', attributes: TYPED_DOC },
      { label: 'typed', attributes: { text2: 'abcxXYZ' } },
      { label: 'typed-int', nodeType: 'data.core.int.Int.', attributes: { value: 1 } },
    ]);
  }, 60_000);
  afterAll(async () => storage?.close());

  const count = (label: string, filters: Record<string, unknown>): Promise<number> =>
    new QueryBuilder({ backend: storage.backend })
      .append('data.core.dict.Dict.', { filters: { ...filters, label } })
      .count();

  it.each(CONTAINS_ARRAYS.map((c, i) => [i, JSON.stringify(c[1]), c] as const))(
    'contains on arrays #%i %s',
    async (i, _name, [, filters, isMatch]) => {
      expect(await count(`arr-${i}`, filters)).toBe(isMatch ? 1 : 0);
    },
  );

  it.each(CONTAINS_OBJECTS.map((c, i) => [i, JSON.stringify(c[1]), c] as const))(
    'contains on objects #%i %s',
    async (i, _name, [, filters, isMatch]) => {
      expect(await count(`obj-${i}`, filters)).toBe(isMatch ? 1 : 0);
    },
  );

  it.each(HAS_KEY.map((c, i) => [i, JSON.stringify(c[1]), c] as const))(
    'has_key #%i %s',
    async (i, _name, [, filters, isMatch]) => {
      expect(await count(`key-${i}`, filters)).toBe(isMatch ? 1 : 0);
    },
  );

  it.each(TYPED.map(([filters, matches]) => [JSON.stringify(filters), filters, matches] as const))(
    'typed %s',
    async (_name, filters, matches) => {
      expect(await count('typed', filters)).toBe(matches);
    },
  );

  it('applies `like` to columns with wildcards and escapes (test_column_filters)', async () => {
    await insertNodes(storage.backend, [
      { label: 'abc_XYZ', attributes: { text2: 'abc_XYZ' } },
      { label: 'abcxXYZ', attributes: { text2: 'abcxXYZ' } },
    ]);
    const labelCount = (filter: Record<string, unknown>): Promise<number> =>
      new QueryBuilder({ backend: storage.backend })
        .append('data.core.dict.Dict.', { filters: { label: filter, 'attributes.text2': { like: 'abc%' } } })
        .count();
    expect(await labelCount({ like: 'abc_XYZ' })).toBe(2);
    expect(await labelCount({ like: 'abc\\_XYZ' })).toBe(1);
    expect(await labelCount({ like: 'abcxXYZ' })).toBe(1);
    expect(await labelCount({ like: 'abc%XYZ' })).toBe(2);
    expect(await labelCount({ like: 'ABC%' })).toBe(0);
    expect(await labelCount({ ilike: 'ABC%' })).toBe(2);
    expect(await labelCount({ like: '*' })).toBe(0);
  });

  it.each([
    ['text', 't'],
    ['integer', 'i'],
    ['float', 'f'],
  ] as const)('orders by the JSON value %s cast to %s (test_json_order_by)', async (key, cast) => {
    const label = `order-${key}`;
    const [b, a, c] = await insertNodes(storage.backend, [
      { label, attributes: { text: 'b', integer: 2, float: 2.2 } },
      { label, attributes: { text: 'a', integer: 1, float: 1.1 } },
      { label, attributes: { text: 'c', integer: 3, float: 3.3 } },
    ]);
    const qb = new QueryBuilder({ backend: storage.backend })
      .append('data.core.dict.Dict.', { tag: 'dict', project: ['id'], filters: { label } })
      .orderBy({ dict: { [`attributes.${key}`]: { order: 'asc', cast } } });
    expect(await qb.all({ flat: true })).toEqual([a, b, c]);
    qb.orderBy({ dict: [{ [`attributes.${key}`]: { order: 'desc', cast } }] });
    expect(await qb.all({ flat: true })).toEqual([c, b, a]);
  });

  it('projects JSON values with their JSON types, and casts', async () => {
    const qb = new QueryBuilder({ backend: storage.backend }).append('data.core.dict.Dict.', {
      filters: { label: 'typed', 'attributes.integer': 1 },
      project: [
        'attributes.text',
        'attributes.integer',
        'attributes.float',
        'attributes.true',
        'attributes.null',
        'attributes.list',
        'attributes.dict',
        'attributes.missing',
        'attributes.list.1',
        { 'attributes.float': { cast: 't' } },
        { 'attributes.true': { cast: 't' } },
        { 'attributes.float': { cast: 'i' } },
        { 'attributes.true': { cast: 'b' } },
        { 'attributes.text': { cast: 'f' } },
      ].map((p) => p) as never,
    });
    // the same key twice for one tag is refused, so split projections over two queries
    await expect(qb.all()).rejects.toThrow(/projected more than once/);
    const plain = await new QueryBuilder({ backend: storage.backend })
      .append('data.core.dict.Dict.', {
        filters: { label: 'typed', 'attributes.integer': 1 },
        project: [
          'attributes.text',
          'attributes.integer',
          'attributes.float',
          'attributes.true',
          'attributes.null',
          'attributes.list',
          'attributes.dict',
          'attributes.missing',
          'attributes.list.1',
        ],
      })
      .one();
    expect(plain).toEqual(['abcXYZ', 1, 1.1, true, null, [1, 2], { 'key-1': 1, 'key-none': null }, null, 2]);
    const cast = await new QueryBuilder({ backend: storage.backend })
      .append('data.core.dict.Dict.', {
        filters: { label: 'typed', 'attributes.integer': 1 },
        project: [
          { 'attributes.float': { cast: 't' } },
          { 'attributes.true': { cast: 'b' } },
          { 'attributes.integer': { cast: 'f' } },
          { 'attributes.text': { cast: 'i' } },
          { extras: { cast: 'j' } },
        ],
      })
      .one();
    expect(cast).toEqual(['1.1', true, 1, null, {}]);
  });
});
