import { describe, expect, it } from 'vitest';
import { runGetNode } from 'aiida-ts/engine';
import { NotExistentError } from 'aiida-ts';
import { Int, loadNode, ProcessNode } from 'aiida-ts/orm';
import { InnerWorkChain, OuterWorkChain } from './fixture-workchains.js';
import { BACKENDS, useEngine } from './helpers.js';

// `node.inputs.<label>` and `node.outputs.<label>` on process nodes (aiida-core's NodeLinksManager).
describe.each(BACKENDS)('node.inputs and node.outputs on %s', (_name, open) => {
  useEngine(open);

  it('give the linked nodes by label, with namespaces nested', async () => {
    const { node, result } = await runGetNode(OuterWorkChain, { inner: { x: 1, y: 2 }, iterations: 2 });
    expect(node.isFinishedOk).toBe(true);

    const total = await node.outputs.total;
    expect(total).toBeInstanceOf(Int);
    expect(total.uuid).toBe(result.total.uuid);
    expect((await node.outputs.inner.sum).value).toBe(3);
    expect((await node.inputs.inner.x).value).toBe(1);
    expect((await node.inputs.iterations).value).toBe(2);

    const outputs = await node.outputs;
    expect(Object.keys(outputs).sort()).toEqual(['extra', 'inner', 'total']);
    expect(outputs.inner.doubled?.value).toBe(6);
    const inputs = await node.inputs;
    expect(Object.keys(inputs).sort()).toEqual(['do_extra', 'inner', 'iterations']);
  });

  it('read the links of a node loaded from storage, and name what exists for a wrong label', async () => {
    const { node } = await runGetNode(InnerWorkChain, { x: 2, y: 3 });
    const loaded = await loadNode(node.pk ?? -1);
    expect(loaded).toBeInstanceOf(ProcessNode);
    if (!(loaded instanceof ProcessNode)) return;
    const outputs = await loaded.outputs;
    expect(Object.keys(outputs).sort()).toEqual(['doubled', 'sum']);
    const sum = await loaded.outputs['sum'];
    expect(sum).toBeInstanceOf(Int);

    const missing = loaded.outputs['summ'];
    await expect(missing).rejects.toThrow(NotExistentError);
    await expect(missing).rejects.toThrow(/no output labelled `summ` \(its outputs: doubled, sum\)/);
    await expect(loaded.inputs['x.y']).rejects.toThrow(/no input labelled `x\.y`/);
  });
});
