import { describe, expect, it } from 'vitest';
import { InvalidOperationError, ValidationError } from '../../src/errors.js';
import { Int, LinkType, WorkChainNode, type ProcessNode } from '../../src/orm.js';
import { loadNodesByPk } from '../../src/orm/nodes/node.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { collectProvenance } from '../../src/tools/provenance/collect.js';
import { exportProvJson, provNodeId, type ProvJsonDocument } from '../../src/tools/provenance/prov-json.js';
import { OuterWorkChain } from '../engine/fixture-workchains.js';
import { BACKENDS, useEngine } from '../engine/helpers.js';
import { openSqliteTemp } from '../storage/helpers.js';
import { fixture } from './archive-support.js';
import { processTreeLinks, provJsonSchemaErrors } from './provenance-support.js';

/** Every relation of the document as `source type label target` (pks via the aiida:pk of the records). */
function documentLinks(document: ProvJsonDocument): string[] {
  const pkOf = new Map<string, number>();
  for (const [id, record] of Object.entries({ ...document.entity, ...document.activity })) {
    if (typeof record['aiida:pk'] === 'number') pkOf.set(id, record['aiida:pk']);
  }
  const out: string[] = [];
  const add = (source: unknown, target: unknown, record: Record<string, unknown>): void => {
    out.push(
      `${pkOf.get(String(source))} ${String(record['aiida:link_type'])} ${String(record['prov:role'])} ${pkOf.get(String(target))}`,
    );
  };
  for (const record of Object.values(document.used ?? {}))
    add(record['prov:entity'], record['prov:activity'], record);
  for (const record of Object.values(document.wasGeneratedBy ?? {}))
    add(record['prov:activity'], record['prov:entity'], record);
  for (const record of Object.values(document.wasInformedBy ?? {}))
    add(record['prov:informant'], record['prov:informed'], record);
  return out.sort();
}

describe.each(BACKENDS)(
  'PROV-JSON of an engine-built workchain calling workchains and calcfunctions (%s)',
  (_name, open) => {
    const engine = useEngine(open);

    it('is valid against the published PROV-JSON schema and holds every node and link of the process', async () => {
      const { runner, storage } = engine();
      const { node } = await runner.runGetNode(OuterWorkChain, { inner: { x: 3, y: 4 }, iterations: 2 });
      expect(node.isFinishedOk).toBe(true);
      const document = await exportProvJson(node);
      expect(provJsonSchemaErrors(document)).toEqual([]);
      // the schema does catch what it forbids: an unknown section, a relation without its required ends
      expect(provJsonSchemaErrors({ ...document, wasEndedBy: {} })).not.toEqual([]);
      expect(
        provJsonSchemaErrors({ ...document, used: { '_:u': { 'prov:activity': 'uuid:x' } } }),
      ).not.toEqual([]);

      // every process of the call tree is an activity with start and end times, every data node around it an entity
      const tree: ProcessNode[] = [node, ...(await node.getCalledDescendants())];
      expect(tree.length).toBeGreaterThan(5);
      for (const process of tree) {
        const activity = document.activity?.[provNodeId(process)];
        expect(activity, `${process.constructor.name}<${process.pk}>`).toBeDefined();
        expect(activity?.['prov:startTime']).toBe(process.ctimeIso);
        expect(activity?.['prov:endTime']).toBe(process.mtimeIso);
        expect(activity?.['aiida:process_state']).toBe('finished');
        for (const link of [
          ...(await process.links.getIncoming()).all(),
          ...(await process.links.getOutgoing()).all(),
        ])
          expect(
            document.entity?.[provNodeId(link.node)] ?? document.activity?.[provNodeId(link.node)],
          ).toBeDefined();
      }
      // every link of those processes is a relation carrying its type and label (calls also as wasStartedBy)
      const expected = await processTreeLinks(
        storage,
        tree.map((process) => process.pk!),
      );
      const found = documentLinks(document);
      for (const link of expected) expect(found).toContain(link);
      expect(Object.keys(document.wasStartedBy ?? {})).toHaveLength(
        expected.filter((link) => link.includes(' call_')).length,
      );
      // the owner is an agent; entities are attributed to it and activities associated with it under their class
      const [userId] = Object.keys(document.agent ?? {});
      expect(document.agent?.[userId!]?.['prov:type']).toEqual({
        $: 'prov:Person',
        type: 'prov:QUALIFIED_NAME',
      });
      const attributed = Object.values(document.wasAttributedTo ?? {}).map((record) => record['prov:entity']);
      for (const id of Object.keys(document.entity ?? {}))
        if (id.startsWith('uuid:')) expect(attributed).toContain(id);
      const root = Object.values(document.wasAssociatedWith ?? {}).find(
        (record) => record['prov:activity'] === provNodeId(node),
      );
      expect(root).toMatchObject({ 'prov:agent': userId, 'prov:plan': expect.stringMatching(/^plan:/) });
      const plan = root?.['prov:plan'];
      expect(document.entity?.[typeof plan === 'string' ? plan : '']?.['prov:type']).toEqual({
        $: 'prov:Plan',
        type: 'prov:QUALIFIED_NAME',
      });
      // base values are entity values
      const sum = (await node.links.getOutgoing({ linkType: LinkType.RETURN })).getNodeByLabel('total');
      if (!(sum instanceof Int)) throw new Error('the total is not an Int');
      expect(document.entity?.[provNodeId(sum)]?.['prov:value']).toBe(sum.value);
    });

    it('includes the creator of each input, and refuses a process that is not sealed, or a data node', async () => {
      const { runner } = engine();
      const first = await runner.runGetNode(OuterWorkChain, { inner: { x: 1, y: 1 }, iterations: 1 });
      const total = (await first.node.outputs.total) as Int;
      const second = await runner.runGetNode(OuterWorkChain, { inner: { x: total, y: 2 }, iterations: 1 });
      const graph = await collectProvenance(second.node);
      const creator = (await total.links.getIncoming({ linkType: LinkType.CREATE })).one().node;
      expect(graph.nodes.has(creator.pk!)).toBe(true);
      // the first workflow only returned `total`: its creator is the calcfunction, not the workflow
      expect(graph.nodes.has(first.node.pk!)).toBe(false);

      const running = new WorkChainNode();
      await running.store();
      await running.setProcessState('running');
      await expect(exportProvJson(running)).rejects.toThrow(InvalidOperationError);
      await expect(exportProvJson(running)).rejects.toThrow(
        /WorkChainNode<\d+>.*state running\) is not sealed/,
      );
      await expect(exportProvJson(total.pk!)).rejects.toThrow(ValidationError);
      await expect(exportProvJson(total.pk!)).rejects.toThrow(/is a Int, not a process/);
    });
  },
);

describe('PROV-JSON of the calculation job aiida-core 2.8 wrote', () => {
  it('has the computer as an agent of the job, the code as its plan, and every node and link', async () => {
    const handle = await openSqliteTemp();
    try {
      await importArchive(fixture('calcjob'), { storage: handle.storage, createGroup: false });
      const rows = await handle.storage
        .executor()
        .selectFrom('db_dbnode')
        .select('id')
        .where('node_type', '=', 'process.calculation.calcjob.CalcJobNode.')
        .execute();
      const [job] = (await loadNodesByPk(
        rows.map((row) => row.id),
        { storage: handle.storage },
      )) as ProcessNode[];
      const document = await exportProvJson(job!);
      expect(provJsonSchemaErrors(document)).toEqual([]);
      const nodeCount = (await handle.storage.executor().selectFrom('db_dbnode').select('id').execute())
        .length;
      expect(Object.keys(document.entity ?? {}).filter((id) => id.startsWith('uuid:'))).toHaveLength(
        nodeCount - 1,
      );
      expect(Object.keys(document.activity ?? {})).toEqual([provNodeId(job!)]);
      expect(documentLinks(document)).toEqual(await processTreeLinks(handle.storage, [job!.pk!]));
      const computer = Object.entries(document.agent ?? {}).find(([, record]) =>
        JSON.stringify(record['prov:type']).includes('aiida:Computer'),
      );
      expect(computer?.[1]['prov:label']).toBe('localhost');
      const code = (await job!.links.getIncoming({ linkType: LinkType.INPUT_CALC })).getNodeByLabel('code');
      expect(Object.values(document.wasAssociatedWith ?? {})).toContainEqual({
        'prov:activity': provNodeId(job!),
        'prov:agent': computer?.[0],
        'prov:plan': provNodeId(code),
        'prov:role': 'computer',
      });
      // repository files are listed on their entities
      const retrieved = (await job!.links.getOutgoing({ linkType: LinkType.CREATE })).getNodeByLabel(
        'retrieved',
      );
      expect(document.entity?.[provNodeId(retrieved)]?.['aiida:repository_files']).toEqual(
        await retrieved.base.repository.listFilePaths(),
      );
      expect(document.activity?.[provNodeId(job!)]?.['aiida:repository_files']).toContain('_aiidasubmit.sh');
    } finally {
      await handle.cleanup();
    }
  });
});
