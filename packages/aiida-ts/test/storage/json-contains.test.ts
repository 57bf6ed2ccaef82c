import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonContains } from '../../src/storage/sqlite/functions.js';
import { openSqliteDatabase } from '../../src/storage/sqlite/sqlite-backend.js';

// small values so that containment holds often enough to be tested, with the shapes `@>` treats specially:
// scalars inside arrays at and below the top level, objects inside arrays, nested objects
const scalar = fc.oneof(
  fc.constantFrom(0, 1, 2, 1.5),
  fc.constantFrom('a', 'b', ''),
  fc.boolean(),
  fc.constant(null),
);
const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3 }),
  ),
})).value;
/** Pairs where the right side is often a piece of the left, so both outcomes are common. */
const pair = json.chain((left) =>
  fc.tuple(
    fc.constant(left),
    fc.oneof(
      json,
      fc.constant(left),
      Array.isArray(left) && left.length > 0
        ? fc.constantFrom<unknown>(...(left as unknown[]).map((x) => [x]), ...(left as unknown[]))
        : json,
      typeof left === 'object' && left !== null && !Array.isArray(left)
        ? fc.constantFrom(...Object.entries(left).map(([k, v]) => ({ [k]: v })), {})
        : json,
    ),
  ),
);

describe('json_contains (SQLite) agrees with PostgreSQL `@>`', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
  });

  it('on fixed cases, including containment below the top level', async () => {
    const cases: [unknown, unknown, boolean][] = [
      [[1, 2], 1, true],
      [{ a: [1, 2] }, { a: 1 }, false],
      [[[1, 2]], [1], false],
      [[[1, 2]], [[1]], true],
      [{ a: { b: 1 } }, { a: {} }, true],
      [[{ a: 1, b: 2 }], [{ a: 1 }], true],
      ['a', 'a', true],
      [1, 1.0, true],
      [null, [1], false],
      [[1, [2]], [2], false],
    ];
    for (const [left, right, expected] of cases) {
      expect(jsonContains(left, right), `${JSON.stringify(left)} @> ${JSON.stringify(right)}`).toBe(expected);
    }
    const fromPostgres = await postgresContains(
      client,
      cases.map(([left, right]) => [left, right]),
    );
    expect(fromPostgres).toEqual(cases.map(([, , expected]) => expected));
  });

  it('on 500 random pairs, through the SQL function registered on SQLite connections', async () => {
    const pairs = fc.sample(pair, { numRuns: 500, seed: 20240611 });
    const expected = await postgresContains(client, pairs);
    const db = openSqliteDatabase({ filepath: ':memory:' });
    try {
      const statement = db.prepare('SELECT json_contains(?, ?) AS c');
      const ours = pairs.map(
        ([left, right]) =>
          (statement.get(JSON.stringify(left), JSON.stringify(right)) as { c: number }).c === 1,
      );
      const mismatches = pairs
        .map(([left, right], i) => ({ left, right, postgres: expected[i], sqlite: ours[i] }))
        .filter((row) => row.postgres !== row.sqlite);
      expect(mismatches).toEqual([]);
      // both outcomes occur, so the comparison means something
      expect(ours.filter(Boolean).length).toBeGreaterThan(50);
      expect(ours.filter((c) => !c).length).toBeGreaterThan(50);
      // NULL in, NULL out (a missing path), as PostgreSQL
      expect(db.prepare('SELECT json_contains(NULL, ?) AS c').get('[1]')).toEqual({ c: null });
    } finally {
      db.close();
    }
  });
});

async function postgresContains(
  client: pg.Client,
  pairs: readonly (readonly [unknown, unknown])[],
): Promise<boolean[]> {
  const result = await client.query<{ c: boolean }>(
    'SELECT l::jsonb @> r::jsonb AS c FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(l, r, i) ORDER BY i',
    [pairs.map(([left]) => JSON.stringify(left)), pairs.map(([, right]) => JSON.stringify(right))],
  );
  return result.rows.map((row) => row.c);
}
