import { describe, expect, it } from 'vitest';
import {
  CACHED_FROM_KEY,
  calcfunction,
  disableCaching,
  enableCaching,
  getUseCache,
  HASH_EXTRA_KEY,
  nodeType,
  Process,
  rehashNode,
  VALID_CACHE_KEY,
  workfunction,
} from 'aiida-ts/engine';
import { ConfigurationError, ValidationError } from 'aiida-ts';
import { CalculationNode, Int, type ProcessNode } from 'aiida-ts/orm';
import { BACKENDS, linked, linkSummary, LinkType, useEngine } from './helpers.js';

let executions = 0;
const cachedAdd = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function cachedAdd({ x, y }) {
    executions += 1;
    return new Int(x.value + y.value);
  },
);

const nestedOutputs = calcfunction({ inputs: { x: Int } }, function nestedOutputs({ x }) {
  executions += 1;
  return { nested: { a: new Int(x.value), b: new Int(x.value + 1) } };
});

let workExecutions = 0;
const passThrough = workfunction({ inputs: { x: Int } }, async function passThrough({ x }) {
  workExecutions += 1;
  return cachedAdd(x, 0);
});

/** Fails with an exit code that keeps its node out of the cache. */
class Unreliable extends Process.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .output('y', { validType: nodeType(Int), required: false })
    .exitCode(300, 'ERROR_FLAKY', 'flaky failure', { invalidatesCache: true })
    .exitCode(301, 'ERROR_STABLE', 'stable failure'),
) {
  static runs = 0;

  static override get nodeClass(): typeof CalculationNode {
    return CalculationNode;
  }

  override run(): unknown {
    Unreliable.runs += 1;
    return this.inputs.x.value === 0 ? Unreliable.exitCodes.ERROR_FLAKY : Unreliable.exitCodes.ERROR_STABLE;
  }
}

describe('caching configuration', () => {
  it('is off by default and scoped by enableCaching / disableCaching', async () => {
    expect(getUseCache('caching_test.cachedAdd')).toBe(false);
    expect(enableCaching({}, () => getUseCache('caching_test.cachedAdd'))).toBe(true);
    expect(enableCaching({ identifier: 'caching_test.*' }, () => getUseCache('caching_test.cachedAdd'))).toBe(
      true,
    );
    expect(enableCaching({ identifier: 'caching_test.*' }, () => getUseCache('other.cachedAdd'))).toBe(false);
    const inside = enableCaching({}, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return getUseCache('x.y');
    });
    expect(getUseCache('x.y')).toBe(false);
    expect(await inside).toBe(true);
    expect(enableCaching({}, () => disableCaching({ identifier: 'x.y' }, () => getUseCache('x.y')))).toBe(
      false,
    );
  });

  it('lets the most specific pattern win, and refuses equally specific conflicting ones', () => {
    const add = 'aiida.calculations:core.arithmetic.add';
    expect(
      disableCaching({ identifier: 'aiida.calculations:*' }, () =>
        enableCaching({ identifier: 'aiida.calculations:core.ar*thmetic.add' }, () => getUseCache(add)),
      ),
    ).toBe(true);
    expect(
      enableCaching({ identifier: 'aiida.calculations:*' }, () =>
        disableCaching({ identifier: 'aiida.calculations:core.ar*thmetic.add' }, () => getUseCache(add)),
      ),
    ).toBe(false);
    expect(getUseCache('aiida.calculations:core.arithmetic.ADD')).toBe(false);
    expect(() =>
      enableCaching({ identifier: 'aiida.calculations:core.*' }, () =>
        disableCaching({ identifier: 'aiida.calculations:*.add' }, () =>
          getUseCache('aiida.calculations:core.add'),
        ),
      ),
    ).toThrow(ConfigurationError);
    expect(() => enableCaching({ identifier: 'aiida.calculations:a:b' }, () => undefined)).toThrow(
      ValidationError,
    );
    expect(() => enableCaching({ identifier: 'not.a.class' }, () => undefined)).toThrow(ValidationError);
  });
});

describe.each(BACKENDS)('caching on %s', (_name, open) => {
  const engine = useEngine(open);

  it('takes an equivalent finished calculation from the cache: no run, cloned outputs, _aiida_cached_from', async () => {
    const { runner } = engine();
    const first = await runner.runGetNode(cachedAdd, { x: 40, y: 2 });
    const before = executions;
    const second = await enableCaching({ identifier: 'caching_test.cachedAdd' }, () =>
      runner.runGetNode(cachedAdd, { x: 40, y: 2 }),
    );
    expect(executions).toBe(before);
    const node = second.node;
    expect(node.isFinishedOk).toBe(true);
    expect(node.isSealed).toBe(true);
    expect(node.base.extras.get(CACHED_FROM_KEY)).toBe(first.node.uuid);
    expect(node.base.extras.get(HASH_EXTRA_KEY)).toBe(first.node.base.extras.get(HASH_EXTRA_KEY));
    expect((second.result as Int).value).toBe(42);
    const output = await linked(node, 'outgoing', LinkType.CREATE, 'result');
    expect(output.uuid).not.toBe((first.result as Int).uuid);
    expect((second.result as Int).uuid).toBe(output.uuid);
    // Its inputs are the new input nodes, not those of the cache source.
    const input = await linked(node, 'incoming', LinkType.INPUT_CALC, 'x');
    expect(input.uuid).not.toBe((await linked(first.node, 'incoming', LinkType.INPUT_CALC, 'x')).uuid);
    expect(await linkSummary(node, 'incoming')).toEqual(await linkSummary(first.node, 'incoming'));
  });

  it('misses the cache when it is off, for other inputs, with disable_cache and for workfunctions', async () => {
    const { runner } = engine();
    await runner.run(cachedAdd, { x: 1, y: 2 });
    let before = executions;
    await runner.run(cachedAdd, { x: 1, y: 2 });
    expect(executions).toBe(before + 1);
    before = executions;
    await enableCaching({}, () => runner.run(cachedAdd, { x: 1, y: 3000 }));
    expect(executions).toBe(before + 1);
    before = executions;
    const disabled = await enableCaching({}, () =>
      runner.runGetNode(cachedAdd, { x: 1, y: 2, metadata: { disable_cache: true } }),
    );
    expect(executions).toBe(before + 1);
    expect(disabled.node.base.extras.has(CACHED_FROM_KEY)).toBe(false);
    const workBefore = workExecutions;
    await runner.run(passThrough, { x: 5 });
    const cachedWork = await enableCaching({}, () => runner.runGetNode(passThrough, { x: 5 }));
    expect(workExecutions).toBe(workBefore + 2);
    expect(cachedWork.node.base.extras.has(CACHED_FROM_KEY)).toBe(false);
    // ... but the calcfunction inside it was taken from the cache.
    const [inner] = (await cachedWork.node.getCalled()) as [ProcessNode];
    expect(inner.base.extras.has(CACHED_FROM_KEY)).toBe(true);
  });

  it('does not use nodes whose exit code invalidates the cache, nor nodes marked invalid', async () => {
    const { runner } = engine();
    await runner.run(Unreliable, { x: 0 });
    const runs = Unreliable.runs;
    const flaky = await enableCaching({}, () => runner.runGetNode(Unreliable, { x: 0 }));
    expect(Unreliable.runs).toBe(runs + 1);
    expect(flaky.node.exitStatus).toBe(300);
    await runner.run(Unreliable, { x: 1 });
    const stable = await enableCaching({}, () => runner.runGetNode(Unreliable, { x: 1 }));
    expect(Unreliable.runs).toBe(runs + 2);
    expect(stable.node.exitStatus).toBe(301);
    expect(stable.node.base.extras.has(CACHED_FROM_KEY)).toBe(true);

    const source = await runner.runGetNode(cachedAdd, { x: 123, y: 1 });
    await source.node.base.extras.set(VALID_CACHE_KEY, false);
    const before = executions;
    const missed = await enableCaching({}, () => runner.runGetNode(cachedAdd, { x: 123, y: 1 }));
    expect(executions).toBe(before + 1);
    expect(missed.node.base.extras.has(CACHED_FROM_KEY)).toBe(false);
  });

  it('reproduces nested outputs from the cache', async () => {
    const { runner } = engine();
    await runner.run(nestedOutputs, { x: 10 });
    const before = executions;
    const { node, result } = await enableCaching({}, () => runner.runGetNode(nestedOutputs, { x: 10 }));
    expect(executions).toBe(before);
    expect((result as { nested: { a: Int } }).nested.a.value).toBe(10);
    expect(await linkSummary(node, 'outgoing')).toEqual(['create nested__a Int', 'create nested__b Int']);
  });

  it('rehashes a stored node to the same hash', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(cachedAdd, { x: 7, y: 7 });
    const hash = node.base.extras.get(HASH_EXTRA_KEY);
    await node.base.extras.delete(HASH_EXTRA_KEY);
    expect(await rehashNode(node)).toBe(hash);
    expect(node.base.extras.get(HASH_EXTRA_KEY)).toBe(hash);
  });
});
