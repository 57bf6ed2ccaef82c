import { describe, expect, it } from 'vitest';
import { calcfunction, Runner, workfunction } from '../../src/engine.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import { useStorage } from '../orm/setup.js';
import { openSqliteDos } from '../storage/helpers.js';

const add = calcfunction({ inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] }, function add({ x, y }) {
  return new Int(x.value + y.value);
});
const mul = calcfunction({ inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] }, function mul({ x, y }) {
  return new Int(x.value * y.value);
});
const addMul = workfunction(
  { name: 'add_mul', inputs: { x: Int, y: Int, z: Int }, outputs: Int, args: ['x', 'y', 'z'] },
  async ({ x, y, z }) => mul(await add(x, y), z),
);

describe('smoke', () => {
  const storage = useStorage(openSqliteDos);
  it('runs addMul', async () => {
    const runner = new Runner({ storage: storage() });
    const { result, node } = await runner.runGetNode(addMul, { x: 3, y: 4, z: 5 });
    expect((result as Int).value).toBe(35);
    expect(node.processState).toBe('finished');
    const called = await node.getCalled();
    expect(called.map((c) => c.processLabel).sort()).toEqual(['add', 'mul']);
    await runner.close();
  });
});
