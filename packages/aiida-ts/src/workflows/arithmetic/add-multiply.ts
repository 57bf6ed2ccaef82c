import { Int } from '../../orm/nodes/data/base.js';
import { calcfunction, workfunction } from '../../engine/processes/functions.js';
import { EntryPointGroup, registerEntryPoint } from '../../plugins/entry-points.js';
import { setProcessType } from './process-types.js';

/** x + y (aiida's `add` calcfunction of `aiida.workflows.arithmetic.add_multiply`). */
export const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);
setProcessType(add, 'aiida.workflows.arithmetic.add_multiply.add');

/** x × y (aiida's `multiply` calcfunction of `aiida.workflows.arithmetic.add_multiply`). */
export const multiply = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function multiply({ x, y }) {
    return new Int(x.value * y.value);
  },
);
setProcessType(multiply, 'aiida.workflows.arithmetic.add_multiply.multiply');

/** Adds two numbers and multiplies the sum with a third (aiida's workfunction `core.arithmetic.add_multiply`). */
export const addMultiply = workfunction(
  { name: 'add_multiply', inputs: { x: Int, y: Int, z: Int }, outputs: Int, args: ['x', 'y', 'z'] },
  async function add_multiply({ x, y, z }) {
    const addition = await add(x, y);
    return await multiply(addition, z);
  },
);
setProcessType(addMultiply, 'aiida.workflows:core.arithmetic.add_multiply');
registerEntryPoint(EntryPointGroup.WORKFLOWS, 'core.arithmetic.add_multiply', { value: addMultiply });
