/**
 * An aiida-ts workflow, run with `verdi run examples/arithmetic-workflow.ts [n]`.
 *
 * `SumOfSquares` loops over 1..n: for each number it runs the nested work chain `Square` (which calls the `multiply`
 * calcfunction) and adds the square to a running total with the `add` calcfunction. Then, if the total is even, it
 * halves it with the `halve` calcfunction, otherwise it reports that there is nothing to do. Every step is recorded in
 * the provenance graph: look at it with `verdi process status <pk>` and `verdi node show <pk>`.
 *
 * The last line printed is the pk of the `SumOfSquares` process.
 */
import {
  append_,
  calcfunction,
  nodeType,
  runGetNode,
  WorkChain,
  type ExitCode,
  type ProcessNodeOf,
} from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';

/** x + y */
const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);

/** x * y */
const multiply = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function multiply({ x, y }) {
    return new Int(x.value * y.value);
  },
);

/** x / 2, for even x */
const halve = calcfunction({ inputs: { x: Int }, outputs: Int, args: ['x'] }, function halve({ x }) {
  return new Int(x.value / 2);
});

/** Squares its input with the `multiply` calcfunction. */
class Square extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int), help: 'the number to square' })
    .output('square', { validType: nodeType(Int), help: 'x * x' }),
) {
  static {
    this.outline('compute');
  }

  async compute(): Promise<void> {
    this.out('square', await multiply(this.inputs.x, this.inputs.x));
  }
}

/** Sums the squares of 1..n, computed by nested `Square` work chains, and halves the sum when it is even. */
class SumOfSquares extends WorkChain.define((spec) =>
  spec
    .input('n', { validType: nodeType(Int), help: 'how many numbers to square' })
    .output('total', { validType: nodeType(Int), help: '1² + 2² + … + n²' })
    .output('halved', {
      validType: nodeType(Int),
      required: false,
      help: 'the total divided by two, when even',
    })
    .exitCode(300, 'ERROR_SQUARE_FAILED', 'the square of {value} could not be computed')
    // the context and its initial values: `this.ctx.current` is a number, `this.ctx.squares` a list of Square nodes
    .context(() => ({ current: 0, total: new Int(0), squares: new Array<ProcessNodeOf<typeof Square>>() })),
) {
  static {
    this.outline(({ while_, if_ }) => [
      'setup',
      while_('hasNext')('squareNext', 'accumulate'),
      if_('isEven')('halveTotal').else_('keepTotal'),
      'results',
    ]);
  }

  setup(): void {
    this.report(`summing the squares of 1..${this.inputs.n.value}`);
  }

  hasNext(): boolean {
    return this.ctx.current < this.inputs.n.value;
  }

  async squareNext(): Promise<void> {
    this.ctx.current += 1;
    const child = await this.submit(Square, {
      x: this.ctx.current,
      metadata: { call_link_label: `square_${this.ctx.current}` },
    });
    this.report(`launched Square<${String(child.pk)}> for ${this.ctx.current}`);
    this.toContext({ squares: append_(child) });
  }

  async accumulate(): Promise<ExitCode | undefined> {
    const child = this.ctx.squares.at(-1);
    if (child === undefined || !child.isFinishedOk)
      return SumOfSquares.exitCodes.ERROR_SQUARE_FAILED.format({ value: this.ctx.current });
    this.ctx.total = await add(this.ctx.total, await child.outputs.square);
    return undefined;
  }

  isEven(): boolean {
    return this.ctx.total.value % 2 === 0;
  }

  async halveTotal(): Promise<void> {
    this.out('halved', await halve(this.ctx.total));
  }

  keepTotal(): void {
    this.report(`the total ${this.ctx.total.value} is odd: nothing to halve`);
  }

  results(): void {
    this.out('total', this.ctx.total);
    this.report(`done: the sum of the squares of 1..${this.inputs.n.value} is ${this.ctx.total.value}`);
  }
}

const n = Number(process.argv[2] ?? 4);
const { node } = await runGetNode(SumOfSquares, { n, metadata: { label: `sum of squares 1..${n}` } });
console.log(
  `SumOfSquares<${String(node.pk)}> ${String(node.processState)} with exit status ${String(node.exitStatus)}`,
);
const { total, halved } = await node.outputs;
console.log(`total: ${total.value}${halved === undefined ? '' : `, halved: ${halved.value}`}`);
console.log(String(node.pk));
