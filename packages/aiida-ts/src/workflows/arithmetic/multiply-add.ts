import { InternalError, NotExistentError } from '../../errors.js';
import { Int } from '../../orm/nodes/data/base.js';
import { AbstractCode } from '../../orm/nodes/data/code/abstract.js';
import type { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import { ToContext } from 'plumpy-ts';
import { calcfunction } from '../../engine/processes/functions.js';
import { nodeType } from '../../engine/processes/ports.js';
import { WorkChain } from '../../engine/processes/workchains/workchain.js';
import { ArithmeticAddCalculation } from '../../calculations/arithmetic/add.js';
import { EntryPointGroup, formatEntryPoint, registerEntryPoint } from '../../plugins/entry-points.js';
import { setProcessType } from './process-types.js';

/** x × y (aiida's `multiply` calcfunction of `aiida.workflows.arithmetic.multiply_add`). */
export const multiply = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function multiply({ x, y }) {
    return new Int(x.value * y.value);
  },
);
setProcessType(multiply, 'aiida.workflows.arithmetic.multiply_add.multiply');

/**
 * Multiplies two numbers with a calcfunction and adds a third with an `ArithmeticAddCalculation` job (aiida's
 * `MultiplyAddWorkChain`, entry point `core.arithmetic.multiply_add`).
 */
export class MultiplyAddWorkChain extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .input('y', { validType: nodeType(Int) })
    .input('z', { validType: nodeType(Int) })
    .input('code', { validType: nodeType(AbstractCode, { serialize: false }) })
    .output('result', { validType: nodeType(Int) })
    .exitCode(400, 'ERROR_NEGATIVE_NUMBER', 'The result is a negative number.')
    .context<{ product: Int; addition: CalcJobNode }>(),
) {
  static {
    this.outline('multiply', 'add', 'validateResult', 'results');
  }

  static override buildProcessType(): string {
    return formatEntryPoint(EntryPointGroup.WORKFLOWS, 'core.arithmetic.multiply_add');
  }

  /** Multiplies two integers. */
  async multiply(): Promise<void> {
    this.ctx.product = await multiply(this.inputs.x, this.inputs.y);
  }

  /** Adds the product and `z` with the `ArithmeticAddCalculation` job. */
  async add(): Promise<ToContext> {
    const product = this.ctx.product;
    if (product === undefined) throw new InternalError('the product is missing: multiply ran before add');
    const future = await this.submit(ArithmeticAddCalculation, {
      x: product,
      y: this.inputs.z,
      code: this.inputs.code,
    });
    this.report(
      `Submitted the \`ArithmeticAddCalculation\`: uuid: ${String(future.uuid)} (pk: ${String(future.pk)}) (aiida.calculations:core.arithmetic.add)`,
    );
    return new ToContext({ addition: future });
  }

  /** The result must not be negative. */
  async validateResult(): Promise<number | undefined> {
    const sum = await this.#sum();
    return sum.value < 0 ? MultiplyAddWorkChain.exitCodes.ERROR_NEGATIVE_NUMBER.status : undefined;
  }

  /** Records the sum as the result. */
  async results(): Promise<void> {
    this.out('result', await this.#sum());
  }

  async #sum(): Promise<Int> {
    const addition = this.ctx.addition;
    if (addition === undefined) throw new InternalError('the addition is missing from the context');
    const links = await addition.base.links.getOutgoing({ linkLabelFilter: 'sum' });
    const sum = links.first()?.node;
    if (!(sum instanceof Int))
      throw new NotExistentError(`the ArithmeticAddCalculation<${String(addition.pk)}> has no sum`);
    return sum;
  }
}
registerEntryPoint(EntryPointGroup.WORKFLOWS, 'core.arithmetic.multiply_add', {
  value: MultiplyAddWorkChain,
});
