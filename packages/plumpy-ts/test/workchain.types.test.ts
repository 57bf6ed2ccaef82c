import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { Process, WorkChain, append_, assign_, if_, loadProcess, while_ } from '../src/index.js';

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

/** A context declared with defaults: its fields are always there, typed from the values. */
class Counter extends WorkChain.define((spec) =>
  spec
    .input('upTo', { validType: z.number() })
    .context(() => ({ count: 0, seen: new Array<number>() }))
    .context<{ last: { square: number } }>()
    .output('count', { validType: z.number() })
    .output('seen', { validType: z.array(z.number()) }),
) {
  static {
    this.outline(({ while_: loop }) => [loop('more')('countOne'), 'results']);
  }

  more(): boolean {
    return this.ctx.count < this.inputs.upTo;
  }

  countOne(): void {
    this.ctx.count += 1;
    this.ctx.seen.push(this.ctx.count);
    this.toContext({ last: this.launch(Square, { inputs: { n: this.ctx.count } }) });
  }

  results(): void {
    expectTypeOf(this.ctx.count).toEqualTypeOf<number>();
    expectTypeOf(this.ctx.seen).toEqualTypeOf<number[]>();
    expectTypeOf(this.ctx.last).toEqualTypeOf<{ square: number } | undefined>();
    this.out('count', this.ctx.count);
    this.out('seen', this.ctx.seen);
  }

  typeErrors(): void {
    // @ts-expect-error: a misspelt context field
    this.ctx.cuont = 1;
    // @ts-expect-error: count was declared as a number by its default
    this.ctx.count = 'one';
    // @ts-expect-error: a misspelt toContext key
    this.toContext({ lsat: this.launch(Square, { inputs: { n: 1 } }) });
  }
}

/** A subclass adds to its parent's context. */
class CounterWithNote extends Counter.define((spec) => spec.context(() => ({ note: 'counted' }))) {
  override results(): void {
    expectTypeOf(this.ctx.note).toEqualTypeOf<string>();
    expectTypeOf(this.ctx.count).toEqualTypeOf<number>();
    super.results();
  }
}

describe('context defaults', () => {
  it('start every work chain with fresh default values', async () => {
    const first = await new Counter({ inputs: { upTo: 3 } }).execute();
    const second = await new Counter({ inputs: { upTo: 2 } }).execute();
    expect(first).toEqual({ count: 3, seen: [1, 2, 3] });
    expect(second).toEqual({ count: 2, seen: [1, 2] });
    expect(await new CounterWithNote({ inputs: { upTo: 1 } }).execute()).toEqual({ count: 1, seen: [1] });
  });

  it('make the context at its first use, so a work chain checkpointed before it starts gets the defaults too', async () => {
    const created = new Counter({ inputs: { upTo: 2 } });
    const checkpoint = created.save();
    expect(checkpoint['CONTEXT']).toBeUndefined();
    const loaded = loadProcess(checkpoint);
    expect(await loaded.execute()).toEqual({ count: 2, seen: [1, 2] });
  });
});
