/**
 * A daemon worker SIGKILLed in the middle of a work chain step (after it submitted a child and ran a calcfunction):
 * another worker takes the process over from its last checkpoint, replays the step reusing the child and the
 * calcfunction the lost run made, and finishes it — the provenance graph is the one of an undisturbed run, nothing
 * is duplicated, and no task row is left.
 */
import { describe, expect, it } from 'vitest';
import { loadNode } from '../../src/orm/loaders.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import type { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { linkSummary } from '../engine/helpers.js';
import { Interrupted, LinkedThenLost } from './fixtures.js';
import { hangEnv, useKilledMidStep } from './kill-mid-step.js';

/** Every node reachable from `node` by outgoing links (called processes and their outputs), as type lines. */
async function graphOf(node: ProcessNode): Promise<string[]> {
  const lines: string[] = [];
  const seen = new Set<number>();
  const visit = async (current: ProcessNode, prefix: string): Promise<void> => {
    if (current.pk === null || seen.has(current.pk)) return;
    seen.add(current.pk);
    lines.push(
      `${prefix}${current.processLabel ?? '?'} ${String(current.processState)} ${String(current.exitStatus)}`,
    );
    for (const line of await linkSummary(current, 'incoming')) lines.push(`${prefix}  in ${line}`);
    for (const line of await linkSummary(current, 'outgoing')) lines.push(`${prefix}  out ${line}`);
    const called = await current.base.links.getOutgoing({ linkType: ['call_calc', 'call_work'] });
    const children = called.all().map((link) => link.node as ProcessNode);
    children.sort((a, b) => (a.pk ?? 0) - (b.pk ?? 0));
    for (const child of children) await visit(child, `${prefix}    `);
  };
  await visit(node, '');
  return lines;
}

describe.each(['sqlite', 'psql'] as const)('a daemon worker SIGKILLed mid-step on %s', (backend) => {
  const { shared: sharedOf, killedMidStep } = useKilledMidStep(backend);

  it(
    'is continued by another worker with the provenance of an undisturbed run',
    { timeout: 60_000 },
    async () => {
      await killedMidStep(
        hangEnv,
        (runner) => runner.submit(Interrupted, { x: new Int(3) }),
        async (done, runner, survivor) => {
          expect(done.exitStatus).toBe(0);
          const result = (await done.base.links.getOutgoing({ linkType: 'return' })).getNodeByLabel('result');
          // child: (3 + 1) * 2 = 8; y = 4; 8 + 4 + 1
          expect((result as Int).value).toBe(13);
          expect(survivor.stats().claimed).toBeGreaterThanOrEqual(1);

          // the same work chain, undisturbed, on the surviving worker
          const reference = await runner.submit(Interrupted, { x: new Int(3) });
          await runner.getProcessFuture(reference.pk!);
          const interruptedGraph = await graphOf(await loadNode<ProcessNode>(done.pk!));
          const referenceGraph = await graphOf(await loadNode<ProcessNode>(reference.pk!));
          expect(interruptedGraph).toEqual(referenceGraph);
          // nothing made twice: one TwoSteps child, two addOne calls in the parent
          const calls = (await done.base.links.getOutgoing({ linkType: ['call_calc', 'call_work'] })).all();
          expect(calls.map((link) => link.node.constructor.name).sort()).toEqual([
            'CalcFunctionNode',
            'CalcFunctionNode',
            'WorkChainNode',
          ]);
          const rows = await withAiidaTsTables(sharedOf().storage.executor())
            .selectFrom('aiida_ts_task')
            .selectAll()
            .execute();
          expect(rows).toEqual([]);
        },
      );
    },
  );

  it(
    'does not link an output twice when the lost run linked it after its last checkpoint',
    { timeout: 60_000 },
    async () => {
      await killedMidStep(
        hangEnv,
        (runner) => runner.submit(LinkedThenLost, { x: new Int(4) }),
        async (done) => {
          // one call of addOne (replayed, not repeated) and its result returned once
          expect(await linkSummary(done, 'outgoing')).toEqual([
            'call_calc CALL CalcFunctionNode',
            'return result Int',
          ]);
        },
      );
    },
  );
});
