import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  Process,
  ProcessSpec,
  type InputsOf,
  type LabelledExitCode,
  type ParsedInputsOf,
  type ProcessOutputsOf,
} from '../src/index.js';

// Statements marked @ts-expect-error sit in functions that are never called: they must not compile, and
// must not run either.

class Add extends Process.define((spec) =>
  spec
    .input('x', { validType: z.number() })
    .input('y', { validType: z.number(), default: 1 })
    .input('label', { validType: z.string(), required: false })
    .input('nested.flag', { validType: z.boolean() })
    .output('sum', { validType: z.number() })
    .output('note', { validType: z.string(), required: false })
    .exitCode(400, 'ERROR_NEGATIVE', 'the sum is negative'),
) {
  override run(): void {
    expectTypeOf(this.inputs.x).toEqualTypeOf<number>();
    // A port with a default is always present once parsed.
    expectTypeOf(this.inputs.y).toEqualTypeOf<number>();
    expectTypeOf(this.inputs.label).toEqualTypeOf<string | undefined>();
    expectTypeOf(this.inputs.nested.flag).toEqualTypeOf<boolean>();
    this.out('sum', this.inputs.x + this.inputs.y);
  }

  typeErrors(): void {
    // @ts-expect-error: there is no such input
    void this.inputs.z;
    // @ts-expect-error: the sum is a number
    this.out('sum', 'three');
    // @ts-expect-error: there is no such output
    this.out('total', 3);
  }
}

describe('process types from the spec', () => {
  it('types the constructor inputs', () => {
    expectTypeOf<InputsOf<typeof Add>['x']>().toEqualTypeOf<number>();
    expectTypeOf<InputsOf<typeof Add>['nested']>().toEqualTypeOf<{ readonly flag: boolean }>();
    expectTypeOf<InputsOf<typeof Add>>().toHaveProperty('y');
    new Add({ inputs: { x: 1, nested: { flag: true } } });
    new Add({ inputs: { x: 1, y: 2, label: 'a', nested: { flag: false } } });
    const typeErrors = (): void => {
      // @ts-expect-error: x is required
      new Add({ inputs: { nested: { flag: true } } });
      // @ts-expect-error: inputs are required when a port is
      new Add();
      // @ts-expect-error: x is a number
      new Add({ inputs: { x: '1', nested: { flag: true } } });
    };
    expect(typeof typeErrors).toBe('function');
  });

  it('types the outputs of execute and future', async () => {
    const add = new Add({ inputs: { x: 1, nested: { flag: true } } });
    const outputs = await add.execute();
    expect(outputs).toEqual({ sum: 2 });
    expectTypeOf(outputs.sum).toEqualTypeOf<number>();
    expectTypeOf(outputs.note).toEqualTypeOf<string | undefined>();
    expectTypeOf(add.future()).resolves.toEqualTypeOf<ProcessOutputsOf<typeof Add>>();
    expectTypeOf(add.outputs.sum).toEqualTypeOf<number | undefined>();
  });

  it('makes wiring an output into an input of the wrong type a compile error', async () => {
    class Shout extends Process.define((spec) =>
      spec.input('text', { validType: z.string() }).output('loud', { validType: z.string() }),
    ) {
      override run(): void {
        this.out('loud', this.inputs.text.toUpperCase());
      }
    }
    class Pipeline extends Process.define((spec) =>
      spec.output('sum', { validType: z.number() }).output('loud', { validType: z.string() }),
    ) {
      override async run(): Promise<void> {
        const added = await new Add({ inputs: { x: 1, nested: { flag: true } } }).execute();
        const shouted = await new Shout({ inputs: { text: 'hi' } }).execute();
        this.out('sum', added.sum);
        this.out('loud', shouted.loud);
        const typeErrors = (): void => {
          // @ts-expect-error: a string output into a number input
          new Add({ inputs: { x: shouted.loud, nested: { flag: true } } });
          // @ts-expect-error: a number output into a string output
          this.out('loud', added.sum);
          // @ts-expect-error: a number output into a string input of a launched child
          this.launch(Shout, { inputs: { text: added.sum } });
        };
        void typeErrors;
      }
    }
    expect(await new Pipeline().execute()).toEqual({ sum: 2, loud: 'HI' });
  });

  it('separates the accepted and the parsed types of converting schemas', () => {
    class Parse extends Process.define((spec) =>
      spec.input('n', { validType: z.union([z.number(), z.string().transform(Number)]) }),
    ) {}
    expectTypeOf<InputsOf<typeof Parse>['n']>().toEqualTypeOf<string | number>();
    expectTypeOf<ParsedInputsOf<typeof Parse>['n']>().toEqualTypeOf<number>();
    const parse = new Parse({ inputs: { n: '42' } });
    expectTypeOf(parse.inputs.n).toEqualTypeOf<number>();
    expect(parse.inputs.n).toBe(42);
  });

  it('checks defaults against the schema', () => {
    new ProcessSpec().input('n', { validType: z.number(), default: 1 });
    new ProcessSpec().input('n', { validType: z.number(), default: () => 1 });
    const typeErrors = (): void => {
      // @ts-expect-error: the default must be a number
      new ProcessSpec().input('n', { validType: z.number(), default: 'one' });
    };
    expect(typeof typeErrors).toBe('function');
  });

  it('types dynamic namespaces', async () => {
    class Dynamic extends Process.define((spec) =>
      spec
        .inputNamespace('extra', { validType: z.number() })
        .outputNamespace('parts', { validType: z.string() })
        .output('count', { validType: z.number() }),
    ) {
      override run(): void {
        const extra: number | object | undefined = this.inputs.extra?.['a'];
        void extra;
        this.out('parts.a', 'x');
        this.out('parts.deep.b', 'y');
        this.out('count', 2);
      }
      typeErrors(): void {
        // @ts-expect-error: parts hold strings
        this.out('parts.a', 1);
        // @ts-expect-error: not a dynamic namespace
        this.out('other.a', 'x');
      }
    }
    expect(await new Dynamic({ inputs: { extra: { a: 1, b: { c: 2 } } } }).execute()).toEqual({
      parts: { a: 'x', deep: { b: 'y' } },
      count: 2,
    });
    const typeErrors = (): void => {
      // @ts-expect-error: extra holds numbers
      new Dynamic({ inputs: { extra: { a: 'one' } } });
    };
    void typeErrors;
  });

  it('extends a defined class with more ports', async () => {
    class AddMore extends Add.define((spec) =>
      spec.input('z', { validType: z.number(), default: 0 }).output('product', { validType: z.number() }),
    ) {
      override run(): void {
        super.run();
        expectTypeOf(this.inputs.z).toEqualTypeOf<number>();
        expectTypeOf(this.inputs.x).toEqualTypeOf<number>();
        this.out('product', this.inputs.x * this.inputs.z);
      }
    }
    const outputs = await new AddMore({ inputs: { x: 1, nested: { flag: true } } }).execute();
    expectTypeOf(outputs.product).toEqualTypeOf<number>();
    expectTypeOf(outputs.sum).toEqualTypeOf<number>();
    expect(outputs).toEqual({ sum: 2, product: 0 });
  });

  it('types exposed inputs and outputs, with include and exclude', async () => {
    class Exposing extends Process.define((spec) =>
      spec
        .exposeInputs(Add, { namespace: 'add', exclude: ['label'] })
        .exposeInputs(Add, { namespace: 'only', include: ['x'] })
        .exposeOutputs(Add, { namespace: 'add' }),
    ) {
      override async run(): Promise<void> {
        expectTypeOf(this.inputs.add.x).toEqualTypeOf<number>();
        expectTypeOf(this.inputs.only.x).toEqualTypeOf<number>();
        const outputs = await new Add({ inputs: this.exposedInputs(Add, 'add') }).execute();
        this.out('add.sum', outputs.sum);
      }
      typeErrors(): void {
        // @ts-expect-error: excluded
        void this.inputs.add.label;
        // @ts-expect-error: not included
        void this.inputs.only.y;
        // @ts-expect-error: a string is not a sum
        this.out('add.sum', 'x');
      }
    }
    expect(
      await new Exposing({ inputs: { add: { x: 1, nested: { flag: true } }, only: { x: 2 } } }).execute(),
    ).toEqual({ add: { sum: 2 } });
    const typeErrors = (): void => {
      // @ts-expect-error: add.x is required
      new Exposing({ inputs: { add: { nested: { flag: true } }, only: { x: 2 } } });
    };
    void typeErrors;
  });

  it('types exit codes by label', () => {
    expectTypeOf(Add.exitCodes.ERROR_NEGATIVE).toEqualTypeOf<LabelledExitCode>();
    expect(Add.exitCodes.ERROR_NEGATIVE.status).toBe(400);
    const typeErrors = (): void => {
      // @ts-expect-error: no such exit code
      void Add.exitCodes.ERROR_POSITIVE;
    };
    void typeErrors;
  });
});
