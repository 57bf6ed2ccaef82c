import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeNodeHash, HASH_EXTRA_KEY, pythonClassPath } from 'aiida-ts/engine';
import { HashFloat, type Hashable } from 'aiida-ts/repository';
import { loadNode } from 'aiida-ts/orm';
import {
  FIXTURES,
  openArchive,
  readExpected,
  type ArchiveStorage,
  type ExpectedArchive,
} from '../orm/archive-fixtures.js';

/**
 * The attributes of every node of an expected file with Python's floats kept as floats: JSON parsed in JS loses
 * `3.0` versus `3`, which the hash tells apart. The file is written by Python's json module, so floats always have a
 * `.` or an exponent.
 */
async function attributesWithFloats(name: string): Promise<Map<string, Hashable>> {
  const text = await readFile(path.join(FIXTURES, `${name}.expected.json`), 'utf8');
  const marked = text.replace(
    /(?<=[:[,]\s*)(-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+))(?=\s*[,\]}])/g,
    (number: string) => (number.includes('.') || /e/i.test(number) ? `{"$float":"${number}"}` : number),
  );
  const parsed = JSON.parse(marked, (_key, value: unknown) =>
    typeof value === 'object' && value !== null && '$float' in value
      ? new HashFloat(Number((value as { $float: string }).$float))
      : value,
  ) as { nodes: { uuid: string; attributes: Hashable }[] };
  return new Map(parsed.nodes.map((node) => [node.uuid, node.attributes]));
}

function hasIntegralFloat(value: Hashable): boolean {
  if (value instanceof HashFloat) return Number.isInteger(value.value);
  if (Array.isArray(value)) return value.some((item) => hasIntegralFloat(item as Hashable));
  if (typeof value === 'object' && value !== null)
    return Object.values(value).some((item) => hasIntegralFloat(item as Hashable));
  return false;
}

describe('pythonClassPath', () => {
  it('names aiida-core classes as str(node.__class__) does', () => {
    expect(pythonClassPath('data.core.int.Int.')).toBe('aiida.orm.nodes.data.int.Int');
    expect(pythonClassPath('data.core.array.ArrayData.')).toBe('aiida.orm.nodes.data.array.array.ArrayData');
    expect(pythonClassPath('data.core.array.kpoints.KpointsData.')).toBe(
      'aiida.orm.nodes.data.array.kpoints.KpointsData',
    );
    expect(pythonClassPath('process.workflow.workchain.WorkChainNode.')).toBe(
      'aiida.orm.nodes.process.workflow.workchain.WorkChainNode',
    );
  });
});

describe.each(['calcfunctions', 'workchains', 'data_types'])('node hashes of the %s archive', (name) => {
  let archive: ArchiveStorage;
  let expected: ExpectedArchive;
  let floats: Map<string, Hashable>;
  beforeAll(async () => {
    floats = await attributesWithFloats(name);
    archive = await openArchive(name);
    expected = await readExpected(name);
  });
  afterAll(async () => {
    await archive.cleanup();
  });

  it('reproduces aiida-core _aiida_hash of every data node and every process-function / workchain node', async () => {
    let compared = 0;
    let withIntegralFloats = 0;
    for (const entry of expected.nodes) {
      const stored = entry.extras[HASH_EXTRA_KEY];
      if (typeof stored !== 'string') continue;
      const node = await loadNode(entry.uuid, { storage: archive.storage });
      // Integral floats (`3.0`, in Dict, List, JsonableData, structures, …) are kept from the stored text.
      if (hasIntegralFloat(floats.get(entry.uuid))) withIntegralFloats += 1;
      expect(await computeNodeHash(node), `${entry.node_type} ${entry.uuid}`).toBe(stored);
      compared += 1;
    }
    expect(compared).toBe(expected.nodes.filter((n) => typeof n.extras[HASH_EXTRA_KEY] === 'string').length);
    expect(compared).toBeGreaterThan(10);
    expect(withIntegralFloats).toBeGreaterThanOrEqual(name === 'data_types' ? 6 : 0);
  });
});
