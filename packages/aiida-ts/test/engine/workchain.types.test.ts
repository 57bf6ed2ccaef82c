import { describe, expectTypeOf, it } from 'vitest';
import { run, runGetNode, submit, type InputsOf, type ProcessOutputsOf } from 'aiida-ts/engine';
import { Bool, Int, type ProcessNode, Str } from 'aiida-ts/orm';
import { InnerWorkChain, OuterWorkChain } from './fixture-workchains.js';

// Compile-time checks of the spec types flowing into launches, builders and processes.

describe('work chain types', () => {
  it('type the inputs and outputs of launches', () => {
    expectTypeOf<InputsOf<typeof InnerWorkChain>>().toMatchTypeOf<{
      readonly x: Int | number | bigint;
      readonly y: Int | number | bigint;
    }>();
    expectTypeOf(() => run(InnerWorkChain, { x: 1, y: new Int(2) })).returns.resolves.toMatchTypeOf<{
      readonly sum: Int;
      readonly doubled?: Int;
    }>();
    expectTypeOf<ProcessOutputsOf<typeof OuterWorkChain>>().toMatchTypeOf<{
      readonly total: Int;
      readonly extra?: Int;
    }>();
    expectTypeOf(() => runGetNode(OuterWorkChain, { inner: { x: 1, y: 2 } })).returns.resolves.toMatchTypeOf<{
      readonly node: ProcessNode;
    }>();
    expectTypeOf(() =>
      submit(OuterWorkChain, { inner: { x: 1, y: 2 }, do_extra: true }),
    ).returns.resolves.toEqualTypeOf<ProcessNode>();
  });

  it('type builders by namespace', () => {
    const builder = OuterWorkChain.getBuilder();
    builder.inner.x = 1;
    builder.iterations = new Int(3);
    builder.metadata.label = 'typed';
    expectTypeOf(builder.processClass).toEqualTypeOf<typeof OuterWorkChain>();
    const wrong = (): void => {
      // @ts-expect-error a Str is not an Int
      builder.inner.x = new Str('1');
      // @ts-expect-error no such port
      builder.inner.z = 1;
      // @ts-expect-error a label is a string
      builder.metadata.label = 1;
      // @ts-expect-error a Bool port
      builder.do_extra = 'yes';
    };
    expectTypeOf(wrong).toBeFunction();
  });

  it('reject wrong inputs at compile time', () => {
    const wrong = (): void => {
      // @ts-expect-error `y` is missing
      void run(InnerWorkChain, { x: 1 });
      // @ts-expect-error a Bool is not an Int
      void run(InnerWorkChain, { x: new Bool(true), y: 1 });
      // @ts-expect-error inner inputs live in the `inner` namespace
      void run(OuterWorkChain, { x: 1, y: 2 });
      // @ts-expect-error `iterations` takes an Int
      void run(OuterWorkChain, { inner: { x: 1, y: 2 }, iterations: 'two' });
    };
    expectTypeOf(wrong).toBeFunction();
  });

  it('type the parsed inputs, context and exit codes inside a work chain', () => {
    type Inputs = InstanceType<typeof OuterWorkChain>['inputs'];
    expectTypeOf<Inputs['iterations']>().toEqualTypeOf<Int>();
    expectTypeOf<Inputs['inner']['x']>().toEqualTypeOf<Int>();
    expectTypeOf(OuterWorkChain.exitCodes.ERROR_INNER_FAILED.status).toEqualTypeOf<number>();
    expectTypeOf(InnerWorkChain.exitCodes.ERROR_MISSING_OUTPUT.status).toEqualTypeOf<number>();
    // @ts-expect-error no such exit code
    expectTypeOf(OuterWorkChain.exitCodes.ERROR_NOPE).toBeObject();
  });
});
