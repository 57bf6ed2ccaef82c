import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { Process, WorkChain, append_, assign_, if_, while_ } from '../src/index.js';

class Square extends Process.define((spec) =>
  spec.input('n', { validType: z.number() }).output('square', { validType: z.number() }),
) {
  override run(): void {
    this.out('square', this.inputs.n ** 2);
  }
}

class Words extends Process.define((spec) => spec.output('words', { validType: z.array(z.string()) })) {
  override run(): void {
    this.out('words', ['a']);
  }
}

class SumOfSquares extends WorkChain.define((spec) =>
  spec
    .input('values', { validType: z.array(z.number()) })
    .context<{ squares: { square: number }[]; index: number; one: { square: number } }>()
    .output('sum', { validType: z.number() }),
) {
  static {
    this.outline('setup', while_('more')('launchNext'), 'total');
    // The untyped DSL functions accept any name (checked when the outline is set).
    this.outline('setup', while_('more')('launchNext'), if_('more')('total'));
    this.outline(({ if_: when, while_: loop }) => [
      'setup',
      loop('more')('launchNext'),
      when('more')('total').else_('total'),
    ]);
    const typeErrors = (): void => {
      // @ts-expect-error: no such step
      this.outline('setup', 'noSuchStep');
      // @ts-expect-error: a step may not be a method of WorkChain
      this.outline('execute');
      this.outline(({ if_: when }) => [
        // @ts-expect-error: the typed DSL checks nested names too
        when('noSuchPredicate')('total'),
      ]);
    };
    void typeErrors;
  }

  setup(): void {
    this.ctx.index = 0;
  }

  more(): boolean {
    return (this.ctx.index ?? 0) < this.inputs.values.length;
  }

  launchNext(): void {
    const index = this.ctx.index ?? 0;
    const n = this.inputs.values[index] ?? 0;
    this.ctx.index = index + 1;
    this.toContext({ squares: append_(this.launch(Square, { inputs: { n } })) });
    this.toContext({ one: this.launch(Square, { inputs: { n } }) });
    this.toContext({ one: assign_(this.launch(Square, { inputs: { n } })) });
  }

  typeErrors(): void {
    // @ts-expect-error: the context declares index as a number
    this.ctx.index = 'zero';
    // @ts-expect-error: no such context entry
    this.ctx.other = 1;
    // @ts-expect-error: Words outputs are not squares
    this.toContext({ one: this.launch(Words) });
    // @ts-expect-error: append needs a list entry
    this.toContext({ one: append_(this.launch(Square, { inputs: { n: 1 } })) });
    // @ts-expect-error: no such context entry
    this.toContext({ missing: this.launch(Square, { inputs: { n: 1 } }) });
    // @ts-expect-error: the child's input is a number
    this.launch(Square, { inputs: { n: 'two' } });
    // @ts-expect-error: the sum is a number
    this.out('sum', 'many');
  }

  total(): void {
    expectTypeOf(this.ctx.squares).toEqualTypeOf<{ square: number }[] | undefined>();
    const sum = (this.ctx.squares ?? []).reduce((total, s) => total + s.square, 0);
    this.out('sum', sum);
  }
}

describe('work chain types', () => {
  it('types inputs, context and outputs of a work chain', async () => {
    const outputs = await new SumOfSquares({ inputs: { values: [1, 2, 3] } }).execute();
    expectTypeOf(outputs.sum).toEqualTypeOf<number>();
    expect(outputs.sum).toBe(14);
    const typeErrors = (): void => {
      // @ts-expect-error: values are numbers
      new SumOfSquares({ inputs: { values: ['1'] } });
    };
    void typeErrors;
  });
});
