import { describe, expect, it } from 'vitest';
import {
  calcfunction,
  computeNodeHash,
  HASH_EXTRA_KEY,
  pythonClassPath,
  pythonFloatText,
  workfunction,
} from 'aiida-ts/engine';
import { sql } from 'kysely';
import { Dict, Float, Int, loadNode, Node, StructureData } from 'aiida-ts/orm';
import { nowTimestamp } from '../../src/storage/dialect.js';
import { lastStateChange } from '../../src/cmdline/process/list-query.js';
import { BACKENDS, useEngine } from './helpers.js';

const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);

const twice = workfunction({ inputs: { x: Int }, args: ['x'] }, async function twice({ x }) {
  return add(x, x);
});

describe('nowTimestamp', () => {
  it('has microseconds and never goes backwards', () => {
    const times = Array.from({ length: 50 }, () => nowTimestamp());
    for (const time of times) expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect([...times].sort()).toEqual(times);
    expect(new Set(times).size).toBe(times.length);
    // Real microseconds, not milliseconds padded with zeros (as a JS Date would give).
    expect(times.some((time) => !time.endsWith('000+00:00'))).toBe(true);
  });
});

describe.each(BACKENDS)('what aiida-core finds on disk, on %s', (_name, open) => {
  const engine = useEngine(open);

  it('stores times with microseconds', async () => {
    const nodes = await Promise.all(Array.from({ length: 5 }, (_, i) => new Int(i).store()));
    const ctimes = await Promise.all(nodes.map(async (node) => (await loadNode(node.pk!)).ctimeIso));
    expect(ctimes.some((time) => !/000\+00:00$/.test(String(time)))).toBe(true);
  });

  it('writes the process|state_change settings verdi process list reads', async () => {
    const storage = engine().storage;
    const before = Date.now();
    await twice(new Int(2));
    const calculation = await storage.getGlobalVariable('process|state_change|calculation');
    const work = await storage.getGlobalVariable('process|state_change|work');
    for (const value of [calculation, work]) {
      expect(value).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    }
    const last = await lastStateChange(storage);
    expect(last).not.toBeNull();
    // Written by this run (the high-resolution clock may be up to a second off the wall clock).
    expect(last!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
  });
});

describe.each(BACKENDS)('_aiida_hash on every stored node, on %s', (_name, open) => {
  useEngine(open);

  it('gives store, storeAll and storeMany nodes the hash aiida-core gives them', async () => {
    const single = await new Int(1).store();
    const many = await Node.storeMany([new Int(2), new Int(3)]);
    for (const node of [single, ...many]) {
      const reloaded = await loadNode(node.pk!);
      const stored = reloaded.base.extras.get(HASH_EXTRA_KEY, null);
      expect(stored).toMatch(/^[0-9a-f]{64}$/);
      expect(stored).toBe(await computeNodeHash(reloaded));
    }
  });
});

describe('hashes as aiida-core computes them', () => {
  it("names the base Data class as Python does (`<class 'aiida.orm.nodes.data.data.Data'>`)", () => {
    expect(pythonClassPath('data.Data.')).toBe('aiida.orm.nodes.data.data.Data');
  });
});

describe.each(BACKENDS)('floats written as aiida-core writes them, on %s', (_name, open) => {
  const engine = useEngine(open);

  /** The attributes column as the database holds it (text), which is what aiida-core reads. */
  async function rawAttributes(pk: number): Promise<string> {
    const storage = engine().storage;
    const column =
      storage.dialect.name === 'postgres' ? sql<string>`attributes::text` : sql<string>`attributes`;
    const row = await sql<{ text: string }>`select ${column} as text from db_dbnode where id = ${pk}`.execute(
      storage.executor(),
    );
    return row.rows[0]!.text;
  }

  it('any Float value, integral or not, round-trips as a float', async () => {
    // A spread of values: integral ones (which JS cannot tell from ints), fractions, large and small.
    const values = [0, 2, -7, 1e15, 123456789, 1.5, -0.25, 1e-7, 2.5e20, 0.1 + 0.2];
    for (let i = 0; i < 20; i += 1)
      values.push(Math.round((Math.random() - 0.5) * 1e6) / (i % 2 === 0 ? 1 : 8));
    for (const value of values) {
      // PostgreSQL's jsonb keeps `2.0` but writes `2.5e+20` as `250000000000000000000`, for aiida-core too.
      if (engine().storage.dialect.name === 'postgres' && /e/.test(pythonFloatText(value))) continue;
      const node = await new Float(value).store();
      const raw = JSON.parse(
        (await rawAttributes(node.pk!)).replace(/"value":\s*(-?[\d.eE+-]+)/, '"value":"$1"'),
      ) as { value: string };
      // Python reads a float back: the text has a point or an exponent.
      expect(raw.value, String(value)).toMatch(/[.eE]/);
      expect(Number(raw.value)).toBe(value);
      expect((await loadNode<Float>(node.pk!)).value).toBe(value);
    }
  });

  it("writes a structure's cell, positions, masses and weights as floats", async () => {
    const structure = new StructureData({
      cell: [
        [2, 0, 0],
        [0, 2, 0],
        [0, 0, 2],
      ],
    });
    structure.appendAtom({ symbols: 'Si', position: [0, 0, 0] });
    await structure.store();
    const raw = (await rawAttributes(structure.pk!)).replace(/\s/g, '');
    expect(raw).toContain('[[2.0,0.0,0.0],[0.0,2.0,0.0],[0.0,0.0,2.0]]');
    expect(raw).toMatch(/"position":\[0\.0,0\.0,0\.0\]/);
    expect(raw).toMatch(/"weights":\[1\.0\]/);
  });
});

// PostgreSQL's driver parses jsonb before aiida-ts sees it: its type parser keeps where the text had `1.0`.
describe.each(BACKENDS)('floats aiida-core wrote, kept through aiida-ts, on %s', (_name, open) => {
  const engine = useEngine(open);

  it('hashes and writes again a Dict value 1.0 as a float', async () => {
    const storage = engine().storage;
    const dict = await new Dict({ float: 2.5, int: 1 }).store();
    // As aiida-core writes it: `1.0` for a float that happens to be integral.
    await sql`update db_dbnode set attributes = ${'{"float": 1.0, "int": 1}'} where id = ${dict.pk}`.execute(
      storage.executor(),
    );
    const loaded = await loadNode<Dict>(dict.pk!);
    expect(loaded.attributeFloatPaths).toEqual(['float']);
    const copy = await (await loaded.clone()).store();
    const column =
      storage.dialect.name === 'postgres' ? sql<string>`attributes::text` : sql<string>`attributes`;
    const row = await sql<{
      text: string;
    }>`select ${column} as text from db_dbnode where id = ${copy.pk}`.execute(storage.executor());
    // (jsonb orders keys its own way)
    expect(row.rows[0]!.text.replace(/\s/g, '')).toMatch(/^\{("float":1\.0,"int":1|"int":1,"float":1\.0)\}$/);
    // The hash sees the float too: it differs from that of an int 1.
    const asInt = await new Dict({ float: 1, int: 1 }).store();
    expect(await computeNodeHash(copy)).not.toBe(await computeNodeHash(asInt));
  });
});
