import { describe, expect, it } from 'vitest';
import {
  calcfunction,
  computeNodeHash,
  HASH_EXTRA_KEY,
  pythonClassPath,
  workfunction,
} from 'aiida-ts/engine';
import { Int, loadNode, Node } from 'aiida-ts/orm';
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
