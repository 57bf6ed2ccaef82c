import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { calcfunction, ExitCode, nodeType, nonDb, workfunction, type ProcessFunction } from 'aiida-ts/engine';
import { Bool, type Data, Dict, Float, Int, List, Str } from 'aiida-ts/orm';

// Compile-time checks: every `@ts-expect-error` below must be an error, or `tsc` fails on this file.

const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    expectTypeOf(x).toEqualTypeOf<Int>();
    expectTypeOf(y).toEqualTypeOf<Int>();
    return new Int(x.value + y.value);
  },
);

const concat = calcfunction(
  { name: 'concat', inputs: { a: Str, b: { type: Str, default: '!' } }, outputs: Str },
  ({ a, b }) => {
    expectTypeOf(b).toEqualTypeOf<Str>();
    return new Str(a.value + b.value);
  },
);

const split = calcfunction(
  {
    name: 'split',
    inputs: { x: Int, y: { type: Int, required: false } },
    outputs: { quotient: Int, rest: { type: Int, required: false } },
    args: ['x', 'y'],
  },
  ({ x, y }) => {
    expectTypeOf(y).toEqualTypeOf<Int | undefined>();
    return { quotient: new Int(Math.floor(x.value / (y?.value ?? 1))) };
  },
);

const variadic = calcfunction(
  {
    name: 'variadic',
    inputs: { first: Float },
    args: ['first'],
    variadic: { name: 'rest', type: Float },
    outputs: Float,
  },
  ({ first, rest }) => {
    expectTypeOf(rest).toEqualTypeOf<Float[]>();
    return new Float(rest.reduce((total, item) => total + item.value, first.value));
  },
);

const schemaPorts = calcfunction(
  {
    name: 'schemaPorts',
    inputs: { n: nodeType(Int, Float), tag: nonDb(z.string()) },
    outputs: nodeType(Bool),
  },
  ({ n, tag }) => {
    expectTypeOf(n).toEqualTypeOf<Int | Float>();
    expectTypeOf(tag).toEqualTypeOf<string>();
    return new Bool(n.value > 0);
  },
);

const untyped = calcfunction({ name: 'untyped', inputs: { d: Dict, l: List } }, ({ d, l }) => {
  expectTypeOf(d).toEqualTypeOf<Dict>();
  expectTypeOf(l).toEqualTypeOf<List>();
  return new ExitCode(0);
});

const wf = workfunction(
  { name: 'wf', inputs: { x: Int, y: Int, z: Int }, outputs: Int, args: ['x', 'y', 'z'] },
  async ({ x, y, z }) => {
    const sum = await add(x, y);
    expectTypeOf(sum).toEqualTypeOf<Int>();
    return add(sum, z);
  },
);

describe('process function types', () => {
  it('type positional and keyword calls and their results', () => {
    const positional: (x: Int | number | bigint, y: Int | number | bigint) => Promise<Int> = add;
    expectTypeOf(positional).toBeFunction();
    expectTypeOf(() => add(1, 2)).returns.resolves.toEqualTypeOf<Int>();
    expectTypeOf(() =>
      add.run({ x: 1, y: new Int(2), metadata: { label: 'l' } }),
    ).returns.resolves.toEqualTypeOf<Int>();
    expectTypeOf(() => concat({ a: 'x' })).returns.resolves.toEqualTypeOf<Str>();
    expectTypeOf(() => split(7, 2)).returns.resolves.toEqualTypeOf<{
      readonly quotient: Int;
      readonly rest?: Int;
    }>();
    expectTypeOf(() => variadic(1, 2, 3)).returns.resolves.toEqualTypeOf<Float>();
    expectTypeOf(() => schemaPorts({ n: new Float(1), tag: 't' })).returns.resolves.toEqualTypeOf<Bool>();
    expectTypeOf(() => untyped({ d: { a: 1 }, l: [1] })).returns.resolves.toEqualTypeOf<
      Data | { readonly [key: string]: unknown }
    >();
    expectTypeOf(() => wf(1, 2, 3)).returns.resolves.toEqualTypeOf<Int>();
    expectTypeOf(add).toMatchTypeOf<ProcessFunction>();
  });

  it('reject wrong wiring at compile time', () => {
    const wrongCalls = (): void => {
      // @ts-expect-error a Str is not an Int
      void add(new Str('1'), 2);
      // @ts-expect-error a string is not a raw Int
      void add('1', 2);
      // @ts-expect-error missing positional argument
      void add(1);
      // @ts-expect-error too many positional arguments
      void add(1, 2, 3);
      // @ts-expect-error `a` is required
      void concat({ b: 'x' });
      // @ts-expect-error unknown input
      void concat({ a: 'x', c: 'y' });
      // @ts-expect-error the label must be a string
      void add.run({ x: 1, y: 2, metadata: { label: 3 } });
      // @ts-expect-error a Bool is not an Int
      void split(new Bool(true), 2);
      // @ts-expect-error a Float cannot go where the Int of a result is expected
      void add(null as unknown as Float, 1);
      // @ts-expect-error variadic Floats only
      void variadic(1, 'x');
    };
    expectTypeOf(wrongCalls).toBeFunction();
    const wrongImplementations = (): void => {
      // @ts-expect-error the implementation must return the declared output type
      calcfunction({ name: 'bad', inputs: { x: Int }, outputs: Int }, ({ x }) => new Str(String(x.value)));
      // @ts-expect-error namespaced outputs must be returned as declared
      calcfunction({ name: 'bad2', inputs: { x: Int }, outputs: { a: Int } }, () => ({ a: new Str('') }));
      // @ts-expect-error `args` names declared inputs only
      calcfunction({ name: 'bad3', inputs: { x: Int }, args: ['y'] }, () => undefined);
    };
    expectTypeOf(wrongImplementations).toBeFunction();
  });
});
