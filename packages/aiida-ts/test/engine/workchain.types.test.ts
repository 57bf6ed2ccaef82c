import { describe, expectTypeOf, it } from 'vitest';
import {
  append_,
  assign_,
  nodeType,
  run,
  runGetNode,
  submit,
  WorkChain,
  type InputsOf,
  type ProcessNodeOf,
  type ProcessOutputsOf,
} from 'aiida-ts/engine';
import {
  Bool,
  Int,
  type Linked,
  type LinkedNodes,
  type Node,
  type ProcessNode,
  Str,
  type WorkChainNode,
} from 'aiida-ts/orm';
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
    ).returns.resolves.toEqualTypeOf<ProcessNodeOf<typeof OuterWorkChain>>();
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

/** A work chain written as a user would: context with defaults, children in the context, their outputs by label. */
class Doubler extends WorkChain.define((spec) =>
  spec
    .input('n', { validType: nodeType(Int) })
    .output('total', { validType: nodeType(Int) })
    .context(() => ({ round: 0, children: new Array<ProcessNodeOf<typeof InnerWorkChain>>() }))
    .context<{ best: ProcessNodeOf<typeof InnerWorkChain> }>(),
) {
  static {
    this.outline('start', 'collect');
  }

  async start(): Promise<void> {
    this.ctx.round += 1;
    const child = await this.submit(InnerWorkChain, { x: this.inputs.n, y: this.inputs.n });
    this.toContext({ children: append_(child), best: assign_(child) });
  }

  async collect(): Promise<void> {
    expectTypeOf(this.ctx.round).toEqualTypeOf<number>();
    expectTypeOf(this.ctx.best).toEqualTypeOf<ProcessNodeOf<typeof InnerWorkChain> | undefined>();
    const child = this.ctx.children.at(-1);
    if (child === undefined) return;
    expectTypeOf(child).toMatchTypeOf<WorkChainNode>();
    expectTypeOf(child.outputs.sum).toEqualTypeOf<Linked<Int>>();
    expectTypeOf(await child.outputs.sum).toEqualTypeOf<Int>();
    expectTypeOf(await child.inputs.x).toEqualTypeOf<Int>();
    this.out('total', await child.outputs.sum);
  }

  misspellings(): void {
    const child = this.ctx.children.at(-1);
    if (child === undefined) return;
    // @ts-expect-error: no context field `rounds`
    this.ctx.rounds = 1;
    // @ts-expect-error: `round` holds a number
    this.ctx.round = 'one';
    // @ts-expect-error: no context field `childs` to put the child in
    this.toContext({ childs: append_(child) });
    // @ts-expect-error: `best` takes one node, not a list entry
    this.toContext({ best: append_(child) });
    // @ts-expect-error: InnerWorkChain has no output `summ`
    void child.outputs.summ;
    // @ts-expect-error: InnerWorkChain has no input `z`
    void child.inputs.z;
    // @ts-expect-error: metadata is not linked
    void child.inputs.metadata;
  }
}

describe('process node links types', () => {
  it('type node.inputs and node.outputs from the process class', () => {
    const typed = async (): Promise<void> => {
      const { node } = await runGetNode(OuterWorkChain, { inner: { x: 1, y: 2 } });
      expectTypeOf(await node.outputs.total).toEqualTypeOf<Int>();
      expectTypeOf(await node.outputs.inner.sum).toEqualTypeOf<Int>();
      expectTypeOf(await node.inputs.inner.y).toEqualTypeOf<Int>();
      expectTypeOf(await node.inputs.do_extra).toEqualTypeOf<Bool>();
      // the optional output, when all outputs are read at once
      expectTypeOf((await node.outputs).extra).toEqualTypeOf<Int | undefined>();
      // @ts-expect-error: no output `totl`
      void node.outputs.totl;
      // @ts-expect-error: label_prefix is a non-db input: not linked
      void node.inputs.label_prefix;
      const submitted = await submit(Doubler, { n: 2 });
      expectTypeOf(await submitted.outputs.total).toEqualTypeOf<Int>();
    };
    expectTypeOf(typed).toBeFunction();
  });

  it('leave the links of a node of unknown class open to any label', () => {
    const untyped = async (node: ProcessNode): Promise<void> => {
      expectTypeOf(await node.outputs).toEqualTypeOf<LinkedNodes>();
      expectTypeOf((await node.outputs)['anything']).toEqualTypeOf<Node | LinkedNodes | undefined>();
    };
    expectTypeOf(untyped).toBeFunction();
  });
});
