import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';
import { and, evaluate, getPath, not, or, type Json, type Tri } from './support/reference.js';
import { insertNodes } from './support/rows.js';

// Random documents and random filters: both dialects must give exactly the rows the plain-JS model of the
// semantics gives (so they agree with each other). Keys include ones PostgreSQL reads as array indices.
const KEYS = ['a', 'b', '0', '1', '-1', ' 1', 'x y', "q'", 'k"z', '$k', 'é'];
const STRINGS = ['', 'a', 'A', 'ab', 'aB', 'b', 'a_b', 'a%b', 'abc', 'é', '✓', '1', 'true', 'null'];
const key = fc.constantFrom(...KEYS);
const str = fc.constantFrom(...STRINGS);
const num = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, -1.5, 2.25, 1e10, 1.0));
const scalar: fc.Arbitrary<Json> = fc.oneof(num, str, fc.boolean(), fc.constant(null));
const { json } = fc.letrec<{ json: Json }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(key, tie('json'), { maxKeys: 3 }),
  ),
}));
const doc = fc.dictionary(key, json, { maxKeys: 4 });

const PATTERNS = ['a%', '%b', 'a_b', 'a\\_b', 'a\\%b', '%', '_', 'A%', 'é', '✓%', '%1%'];
const condition = fc.oneof(
  fc.record({ op: fc.constantFrom('==', '>', '<', '>=', '<='), value: fc.oneof(num, str, fc.boolean()) }),
  fc.record({ op: fc.constant('=='), value: fc.oneof(fc.constant(null), json) }),
  fc.record({ op: fc.constantFrom('like', 'ilike'), value: fc.constantFrom(...PATTERNS) }),
  fc.record({
    op: fc.constant('in'),
    value: fc.oneof(
      fc.array(num, { minLength: 1, maxLength: 3 }),
      fc.array(str, { minLength: 1, maxLength: 3 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 2 }),
    ),
  }),
  fc.record({ op: fc.constant('contains'), value: json }),
  fc.record({ op: fc.constant('has_key'), value: key }),
  fc.record({ op: fc.constantFrom('of_length', 'longer', 'shorter'), value: fc.integer({ min: 0, max: 3 }) }),
  fc.record({
    op: fc.constant('of_type'),
    value: fc.constantFrom('object', 'array', 'string', 'number', 'boolean', 'null'),
  }),
);
const clause = fc.record({
  path: fc.array(key, { minLength: 1, maxLength: 2 }),
  negated: fc.boolean(),
  condition,
});
const filter = fc.record({
  combine: fc.constantFrom('and', 'or'),
  clauses: fc.array(clause, { minLength: 1, maxLength: 3 }),
});

type Filter = typeof filter extends fc.Arbitrary<infer T> ? T : never;

function toSpec(f: Filter): Record<string, unknown> {
  const parts = f.clauses.map((c) => ({
    [`attributes.${c.path.join('.')}`]: { [`${c.negated ? '!' : ''}${c.condition.op}`]: c.condition.value },
  }));
  return { [f.combine]: parts };
}

function expectedMatch(document: Json, f: Filter): boolean {
  const values: Tri[] = f.clauses.map((c) => {
    const result = evaluate(c.condition.op, getPath(document, c.path), c.condition.value);
    return c.negated ? not(result) : result;
  });
  return (f.combine === 'and' ? and(values) : or(values)) === true;
}

const DOCS = fc.sample(doc, { numRuns: 60, seed: 4242 });
const FILTERS = fc.sample(filter, { numRuns: 300, seed: 777 });

describe.each(DIALECTS)('random JSON filters on %s agree with the reference semantics', (dialect) => {
  let storage: TestStorage;
  let ids: number[];

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    ids = await insertNodes(
      storage.backend,
      DOCS.map((attributes) => ({ label: 'prop', attributes })),
    );
  }, 60_000);
  afterAll(async () => storage?.close());

  it('matches the model for 300 random filters over 60 random documents', async () => {
    for (const f of FILTERS) {
      const spec = toSpec(f);
      const want = ids.filter((_, i) => expectedMatch(DOCS[i]!, f));
      const got = await new QueryBuilder({ backend: storage.backend })
        .append('data.core.dict.Dict.', { tag: 'd', filters: { ...spec, label: 'prop' }, project: 'id' })
        .orderBy({ d: 'id' })
        .all({ flat: true });
      expect(got, JSON.stringify(spec)).toEqual(want);
    }
  });

  it('projects every path as the model reads it', async () => {
    const paths = fc.sample(fc.array(key, { minLength: 1, maxLength: 2 }), { numRuns: 40, seed: 99 });
    for (const path of paths) {
      const got = await new QueryBuilder({ backend: storage.backend })
        .append('data.core.dict.Dict.', {
          tag: 'd',
          filters: { label: 'prop' },
          project: `attributes.${path.join('.')}`,
        })
        .orderBy({ d: 'id' })
        .all({ flat: true });
      expect(got, path.join('.')).toEqual(DOCS.map((d) => getPath(d, path) ?? null));
    }
  });
});
