/**
 * Python floats survive both backends: any float attribute — a Float's value, or a value aiida-core wrote into a
 * Dict as `2.0` — reads back as a float from SQLite and from PostgreSQL (whose driver parses jsonb before aiida-ts
 * sees it), is written again as a float, and the node hashes the same on both (property tests, fast-check).
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeNodeHash } from '../../src/engine.js';
import { loadNode } from '../../src/orm/loaders.js';
import { KpointsData } from '../../src/orm/nodes/data/array/kpoints.js';
import { Dict, Float } from '../../src/orm/nodes/data/base.js';

import type { Node } from '../../src/orm/nodes/node.js';
import { jsonWithFloats, pythonFloatText } from '../../src/orm/utils/float-paths.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { openPsqlDos, openSqliteDos, type TestStorage } from './helpers.js';

/** The attributes column as the database holds it (text), which is what aiida-core reads. */
async function rawAttributes(storage: StorageBackend, pk: number): Promise<string> {
  const column =
    storage.dialect.name === 'postgres' ? sql<string>`attributes::text` : sql<string>`attributes`;
  const row = await sql<{ text: string }>`select ${column} as text from db_dbnode where id = ${pk}`.execute(
    storage.executor(),
  );
  return row.rows[0]?.text ?? '';
}

/** What Python's `json.loads` would read: numbers with a point or an exponent are floats. */
function pythonView(text: string): unknown {
  const walk = (value: unknown): unknown => {
    if (isLosslessNumber(value))
      return /[.eE]/.test(value.value) ? { float: Number(value.value) } : Number(value.value);
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item)]));
    return value;
  };
  return walk(parseLossless(text));
}

// PostgreSQL writes a jsonb number ≥ 1e16 without its exponent (`1e+16` → `10000000000000000`): aiida-core too reads
// such a float back from PostgreSQL as an int. Floats below that keep their point on both backends.
const float = fc
  .oneof(
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((n) => n / 8),
  )
  .map((value) => (Object.is(value, -0) ? 0 : value));

/** Dict attributes: nested mappings and lists whose numbers are all Python floats (`[path, value]` leaves). */
const floatTree = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    float,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'x', 'value'), tie('tree'), { maxKeys: 3 }),
  ),
})).tree;

const attributesArb = fc.dictionary(fc.constantFrom('f', 'g', 'nested', 'list'), floatTree, {
  minKeys: 1,
  maxKeys: 3,
});

/** The dotted paths of every number in a tree (all of them are floats here). */
function numberPaths(value: unknown, path: string[] = []): string[] {
  if (typeof value === 'number') return [path.join('.')];
  if (Array.isArray(value))
    return value.flatMap((item, index) => numberPaths(item, [...path, String(index)]));
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([key, item]) => numberPaths(item, [...path, key]));
  return [];
}

describe('float attributes through SQLite and PostgreSQL', () => {
  const backends: TestStorage[] = [];

  beforeAll(async () => {
    backends.push(await openSqliteDos(), await openPsqlDos());
  });
  afterAll(async () => {
    for (const backend of backends.splice(0)) await backend.cleanup();
  });

  /** Stores `make()` on each backend, reads it back fresh from the database, returns both reads. */
  async function onEach<N extends Node>(
    make: (storage: StorageBackend) => N,
    afterStore: (storage: StorageBackend, node: N) => Promise<void> = () => Promise.resolve(),
  ): Promise<{ storage: StorageBackend; stored: N; loaded: N }[]> {
    const out: { storage: StorageBackend; stored: N; loaded: N }[] = [];
    for (const { storage } of backends) {
      const stored = make(storage);
      await stored.store();
      await afterStore(storage, stored);
      out.push({ storage, stored, loaded: await loadNode<N>(stored.pk!, { storage }) });
    }
    return out;
  }

  it('a Float of any value is written and read back as a float, hashing the same everywhere', async () => {
    await fc.assert(
      fc.asyncProperty(float, async (value) => {
        const reads = await onEach((storage) => new Float(value, { storage }));
        const hashes = new Set<string>();
        for (const { storage, stored, loaded } of reads) {
          expect(pythonView(await rawAttributes(storage, stored.pk!))).toEqual({ value: { float: value } });
          expect(loaded.value).toBe(value);
          hashes.add(await computeNodeHash(stored));
          hashes.add(await computeNodeHash(loaded));
        }
        expect([...hashes]).toHaveLength(1);
      }),
      { numRuns: 25 },
    );
  });

  it('floats aiida-core wrote into a Dict (`2.0`) stay floats when read, hashed and written again', async () => {
    await fc.assert(
      fc.asyncProperty(attributesArb, async (attributes) => {
        const paths = numberPaths(attributes);
        // what aiida-core writes: Python's json.dumps, every float with its point
        const written = jsonWithFloats(attributes as Record<string, never>, paths);
        const reads = await onEach(
          (storage) => new Dict({ placeholder: true }, { storage }),
          (storage, node) =>
            sql`update db_dbnode set attributes = ${written} where id = ${node.pk!}`
              .execute(storage.executor())
              .then(() => undefined),
        );
        const hashes = new Set<string>();
        for (const { storage, loaded } of reads) {
          expect([...loaded.attributeFloatPaths].sort()).toEqual(
            paths.filter((path) => Number.isInteger(pathValue(attributes, path))).sort(),
          );
          // written again (a clone is stored from the attributes in memory) exactly as aiida-core wrote them
          const copy = await (await loaded.clone()).store();
          expect(pythonView(await rawAttributes(storage, copy.pk!))).toEqual(pythonView(written));
          hashes.add(await computeNodeHash(loaded));
          hashes.add(await computeNodeHash(copy));
        }
        // the same on both backends, and not the hash of the same numbers read as ints
        expect([...hashes]).toHaveLength(1);
      }),
      { numRuns: 25 },
    );
  });

  it("writes an ArrayData's float metadata (KpointsData cell and offset) as floats on both backends", async () => {
    const reads = await onEach((storage) => {
      const kpoints = new KpointsData(undefined, { storage });
      kpoints.setCell([
        [2, 0, 0],
        [0, 2, 0],
        [0, 0, 2],
      ]);
      kpoints.setKpointsMesh([2, 2, 2], [0, 0, 0]);
      return kpoints;
    });
    const hashes = new Set<string>();
    for (const { storage, stored, loaded } of reads) {
      expect(pythonView(await rawAttributes(storage, stored.pk!))).toMatchObject({
        cell: [
          [{ float: 2 }, { float: 0 }, { float: 0 }],
          [{ float: 0 }, { float: 2 }, { float: 0 }],
          [{ float: 0 }, { float: 0 }, { float: 2 }],
        ],
        mesh: [2, 2, 2],
        offset: [{ float: 0 }, { float: 0 }, { float: 0 }],
      });
      hashes.add(await computeNodeHash(stored));
      hashes.add(await computeNodeHash(loaded));
    }
    expect([...hashes]).toHaveLength(1);
  });

  it('hashes an integral float apart from the int of the same value', async () => {
    const written = `{"x": ${pythonFloatText(2, 'repr')}}`;
    const reads = await onEach(
      (storage) => new Dict({ x: 1 }, { storage }),
      (storage, node) =>
        sql`update db_dbnode set attributes = ${written} where id = ${node.pk!}`
          .execute(storage.executor())
          .then(() => undefined),
    );
    for (const { storage, loaded } of reads) {
      const asInt = await new Dict({ x: 2 }, { storage }).store();
      expect(await computeNodeHash(loaded)).not.toBe(await computeNodeHash(asInt));
    }
  });
});

function pathValue(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) current = (current as Record<string, unknown>)[part];
  return current;
}
