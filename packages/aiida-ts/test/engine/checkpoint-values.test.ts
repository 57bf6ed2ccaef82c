import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { calcfunction, nodeType, nonDb, WorkChain } from '../../src/engine.js';
import { Int, Str } from '../../src/orm/nodes/data/base.js';
import { WorkChainNode } from '../../src/orm/nodes/process/process.js';
import { QueryBuilder } from '../../src/querybuilder/query-builder.js';
import { loadNode } from '../../src/orm/loaders.js';
import { BACKENDS, useEngine } from './helpers.js';
import type { JsonValue } from 'plumpy-ts';

/** Puts `globalThis.contextValue` in its context and carries on; with `fail`, reports and throws NUL-laden text. */
class Holder extends WorkChain.define((spec) =>
  spec.input('fail', { validType: nonDb(z.boolean()), default: () => false }).context<{ held: unknown }>(),
) {
  static {
    this.outline('hold', 'next');
  }

  async hold(): Promise<void> {
    this.ctx.held = (globalThis as { contextValue?: unknown }).contextValue;
    await Promise.resolve();
  }

  async next(): Promise<void> {
    if (this.inputs.fail) {
      this.report('a report with a NUL \0 and half a pair \ud800');
      throw new Error('failed on a NUL \0 byte');
    }
    await Promise.resolve();
  }
}

/** Keeps its checkpoint after every step and counts how often its input node is encoded for a checkpoint. */
class Counting extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .input('label', { validType: nonDb(z.string()), default: () => 'plain' })
    .context<{ seen: number }>(),
) {
  static {
    this.outline('first', 'second', 'third');
  }

  /** How often `x` was encoded (raw and parsed inputs) when each step ran, and the checkpoint the step saw. */
  readonly trail: { encoded: number; inputs: JsonValue | undefined }[] = [];
  #encoded = 0;

  protected override encodeValue(value: unknown): JsonValue {
    if (value === this.inputs.x) this.#encoded += 1;
    return super.encodeValue(value);
  }

  #record(): void {
    this.trail.push({ encoded: this.#encoded, inputs: this.save()['INPUTS_PARSED'] });
  }

  async first(): Promise<void> {
    this.#record();
    await Promise.resolve();
  }

  async second(): Promise<void> {
    this.#record();
    await Promise.resolve();
  }

  async third(): Promise<void> {
    this.#record();
    await Promise.resolve();
  }
}

const nulOutput = calcfunction({ inputs: { x: Str }, outputs: Str, args: ['x'] }, function nulOutput({ x }) {
  return new Str(`${x.value}\0`);
});

describe.each(BACKENDS)('values a process cannot record, on %s', (_name, open) => {
  const engine = useEngine(open);

  async function runHolding(value: unknown, fail = false): Promise<WorkChainNode> {
    (globalThis as { contextValue?: unknown }).contextValue = value;
    const outcome = await engine()
      .runner.runGetNode(Holder, { fail })
      .then(
        ({ node }) => node,
        (error: unknown) => error,
      );
    if (!(outcome instanceof Error)) return outcome as WorkChainNode;
    // the launch rejected with the process's failure: its node is the newest work chain node
    const [newest] = await new QueryBuilder()
      .append(WorkChainNode, { tag: 'process', project: ['id'] })
      .orderBy({ process: { id: 'desc' } })
      .limit(1)
      .all();
    return loadNode<WorkChainNode>(Number(newest?.[0]));
  }

  it('a context value a checkpoint cannot hold ends the process excepted, sealed, with the path and the cause', async () => {
    const node = await runHolding(12n);
    expect(node.processState).toBe('excepted');
    expect(node.isSealed).toBe(true);
    expect(node.exception).toContain(
      'cannot save a checkpoint: ctx.held: cannot encode a value of type bigint in a checkpoint',
    );
  });

  it('a context value that refers to itself is named as such, not a stack overflow', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const node = await runHolding(cyclic);
    expect(node.processState).toBe('excepted');
    expect(node.isSealed).toBe(true);
    expect(node.exception).toMatch(
      /ctx\.held\.self\.self.*: values nest deeper than 256 levels \(does the value refer to itself\?\)/,
    );
    expect(node.exception).not.toContain('Maximum call stack');
  });

  it('an error message and a report holding NUL bytes are recorded, escaped, and the node is excepted', async () => {
    const node = await runHolding(null, true);
    expect(node.processState).toBe('excepted');
    expect(node.isSealed).toBe(true);
    expect(node.exception).toContain('failed on a NUL \\u0000 byte');
    const logs = await node.base.logs.all();
    expect(logs.map((log) => log.message)).toContainEqual(
      expect.stringMatching(/\|next\]: a report with a NUL \\u0000 and half a pair \\ud800$/),
    );
  });

  it('the inputs are encoded for the first checkpoint only, and every later checkpoint holds the same inputs', async () => {
    const x = await new Int(4).store();
    const { runner } = engine();
    const process = await runner.instantiate(Counting, { x, label: 'kept' });
    await runner.executeProcess(process);
    expect(process.node.processState).toBe('finished');
    const [first, ...rest] = process.trail;
    // encoded once as given and once as parsed (the node's creation checkpoint), never again
    expect(first?.encoded).toBe(2);
    expect(rest.map((step) => step.encoded)).toEqual([2, 2]);
    expect(first?.inputs).toMatchObject({ x: { '!node': x.uuid }, label: 'kept' });
    for (const step of rest) expect(step.inputs).toEqual(first?.inputs);
  });

  it('an output a storage cannot hold is refused naming the node and the attribute', async () => {
    const error = await nulOutput.run({ x: await new Str('x').store() }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /Str node [0-9a-f-]{36} cannot be stored: attributes\.value: the string contains a NUL character \(U\+0000\) at index 1/,
    );
  });
});
