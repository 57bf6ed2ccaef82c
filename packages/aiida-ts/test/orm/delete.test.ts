import { beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import type { Node } from '../../src/orm.js';
import {
  CalcFunctionNode,
  deleteGroupNodes,
  deleteNodes,
  Group,
  Int,
  LinkType,
  WorkflowNode,
} from '../../src/orm.js';
import { BACKENDS } from '../storage/helpers.js';
import { useStorage } from './setup.js';

interface Graph {
  di: Int;
  wn2: WorkflowNode;
  wn1: WorkflowNode;
  cn1: CalcFunctionNode;
  dm: Int;
  cn2: CalcFunctionNode;
  do: Int;
}

/**
 * aiida-core's deletion test graph: input `di` into the top workflow `wn2`, which calls `wn1` (which calls `cn1`
 * creating `dm`, returned by `wn1`) and `cn2` (taking `dm`, creating `do`, returned by `wn2`).
 */
async function buildGraph(): Promise<Graph> {
  const di = await new Int(1, { label: 'di' }).store();
  const wn2 = new WorkflowNode(undefined, { label: 'wn2' });
  await wn2.links.addIncoming(di, LinkType.INPUT_WORK, 'inp');
  await wn2.store();
  const wn1 = new WorkflowNode(undefined, { label: 'wn1' });
  await wn1.links.addIncoming(di, LinkType.INPUT_WORK, 'inp');
  await wn1.links.addIncoming(wn2, LinkType.CALL_WORK, 'sub');
  await wn1.store();
  const cn1 = new CalcFunctionNode(undefined, { label: 'cn1' });
  await cn1.links.addIncoming(di, LinkType.INPUT_CALC, 'inp');
  await cn1.links.addIncoming(wn1, LinkType.CALL_CALC, 'call');
  await cn1.store();
  const dm = new Int(2, { label: 'dm' });
  await dm.links.addIncoming(cn1, LinkType.CREATE, 'result');
  await dm.store();
  await dm.links.addIncoming(wn1, LinkType.RETURN, 'result');
  const cn2 = new CalcFunctionNode(undefined, { label: 'cn2' });
  await cn2.links.addIncoming(dm, LinkType.INPUT_CALC, 'inp');
  await cn2.links.addIncoming(wn2, LinkType.CALL_CALC, 'call');
  await cn2.store();
  const out = new Int(3, { label: 'do' });
  await out.links.addIncoming(cn2, LinkType.CREATE, 'result');
  await out.store();
  await out.links.addIncoming(wn2, LinkType.RETURN, 'result');
  return { di, wn2, wn1, cn1, dm, cn2, do: out };
}

function labels(graph: Graph, pks: readonly number[]): string[] {
  return (Object.entries(graph) as [string, Node][])
    .filter(([, node]) => pks.includes(node.pk!))
    .map(([name]) => name)
    .sort();
}

describe.each(BACKENDS)('deleteNodes on $name', ({ open }) => {
  const storage = useStorage(open);
  let graph: Graph;

  beforeEach(async () => {
    graph = await buildGraph();
  });

  it('is a dry run by default and deletes nothing', async () => {
    const result = await deleteNodes([graph.wn1.pk!]);
    expect(result.deleted).toBe(false);
    expect(labels(graph, result.pks)).toEqual(['cn1', 'cn2', 'dm', 'do', 'wn1', 'wn2']);
    const still = await storage()
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('id', 'in', result.pks)
      .execute();
    expect(still).toHaveLength(6);
  });

  it.each([['wn1'], ['wn2'], ['cn1'], ['cn2'], ['dm'], ['do']] as const)(
    'with the default rules, deleting %s takes the whole top workflow and keeps the input',
    async (target) => {
      const result = await deleteNodes([graph[target].pk!], { dryRun: false });
      expect(result.deleted).toBe(true);
      expect(labels(graph, result.pks)).toEqual(['cn1', 'cn2', 'dm', 'do', 'wn1', 'wn2']);
      const left = await storage()
        .executor()
        .selectFrom('db_dbnode')
        .select('id')
        .where(
          'id',
          'in',
          Object.values(graph).map((n: Node) => n.pk!),
        )
        .execute();
      expect(left.map((r) => r.id)).toEqual([graph.di.pk]);
    },
  );

  it('deleting the input deletes everything downstream', async () => {
    const result = await deleteNodes([graph.di.pk!]);
    expect(labels(graph, result.pks)).toEqual(['cn1', 'cn2', 'di', 'dm', 'do', 'wn1', 'wn2']);
  });

  it('create_forward=false keeps created data', async () => {
    const result = await deleteNodes([graph.cn1.pk!], { create_forward: false });
    expect(labels(graph, result.pks)).toEqual(['cn1', 'cn2', 'wn1', 'wn2']);
  });

  it('call_calc_forward=false keeps calculations the workflows called', async () => {
    const result = await deleteNodes([graph.wn1.pk!], { call_calc_forward: false });
    expect(labels(graph, result.pks)).toEqual(['wn1', 'wn2']);
    const fromCalc = await deleteNodes([graph.cn1.pk!], { call_calc_forward: false });
    // the targeted calculation still takes its outputs, which take the processes using them
    expect(labels(graph, fromCalc.pks)).toEqual(['cn1', 'cn2', 'dm', 'do', 'wn1', 'wn2']);
  });

  it('call_work_forward=false keeps sub-workflows of a deleted caller', async () => {
    const result = await deleteNodes([graph.wn2.pk!], { call_work_forward: false });
    expect(labels(graph, result.pks)).toEqual(['cn2', 'do', 'wn2']);
  });

  it('refuses to switch a rule that is not toggleable', async () => {
    await expect(deleteNodes([graph.wn1.pk!], { input_calc_forward: false })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('asks a callback first and skips unknown pks', async () => {
    const seen: number[][] = [];
    const missing: number[][] = [];
    const cancelled = await deleteNodes([graph.do.pk!, 987_654_321], {
      dryRun: (pks) => {
        seen.push([...pks]);
        return true;
      },
      onMissing: (pks) => missing.push(pks),
    });
    expect(cancelled.deleted).toBe(false);
    expect(seen).toHaveLength(1);
    expect(missing).toEqual([[987_654_321]]);
    const none = await deleteNodes([987_654_321], { dryRun: false });
    expect(none).toEqual({ pks: [], deleted: true });
    const done = await deleteNodes([graph.do.pk!], { dryRun: () => false });
    expect(done.deleted).toBe(true);
  });

  it('removes comments, logs and group memberships of deleted nodes', async () => {
    const group = await new Group({ label: `del-${Date.now()}-${Math.random()}` }).store();
    await group.addNodes([graph.di, graph.do]);
    await graph.do.comments.add('gone soon');
    await graph.wn2.logs.report('gone soon');
    await deleteNodes([graph.wn2.pk!], { dryRun: false });
    expect((await group.nodes()).map((n) => n.uuid)).toEqual([graph.di.uuid]);
    const comments = await storage()
      .executor()
      .selectFrom('db_dbcomment')
      .select('id')
      .where('dbnode_id', '=', graph.do.pk!)
      .execute();
    expect(comments).toEqual([]);
    const logs = await storage()
      .executor()
      .selectFrom('db_dblog')
      .select('id')
      .where('dbnode_id', '=', graph.wn2.pk!)
      .execute();
    expect(logs).toEqual([]);
  });

  it('deletes the nodes of groups', async () => {
    const group = await new Group({ label: `grp-${Date.now()}-${Math.random()}` }).store();
    await group.addNodes(graph.dm);
    const dry = await deleteGroupNodes([group.pk!]);
    expect(dry.deleted).toBe(false);
    const result = await deleteGroupNodes([group.pk!], { dryRun: false });
    expect(labels(graph, result.pks)).toEqual(['cn1', 'cn2', 'dm', 'do', 'wn1', 'wn2']);
    expect(await group.count()).toBe(0);
  });
});
