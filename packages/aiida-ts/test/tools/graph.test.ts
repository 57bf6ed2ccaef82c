import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNodesByPk } from '../../src/orm/nodes/node.js';
import { ProcessNode } from '../../src/orm/nodes/process/process.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { Graph, IGNORE_NODE_STYLE, ORIGIN_NODE_STYLE } from '../../src/tools/visualization/graph.js';
import { renderGraph } from '../../src/tools/visualization/render.js';
import { openSqliteTemp, type TestStorage } from '../storage/helpers.js';
import { fixture } from './archive-support.js';

/** The root processes of a fixture archive imported into a fresh storage (pks in archive order). */
async function roots(storage: TestStorage['storage']): Promise<ProcessNode[]> {
  const rows = await storage.executor().selectFrom('db_dbnode').select('id').orderBy('id').execute();
  const nodes = await loadNodesByPk(
    rows.map((row) => row.id),
    { storage },
  );
  const called = new Set(
    (
      await storage
        .executor()
        .selectFrom('db_dblink')
        .select('output_id')
        .where('type', 'in', ['call_calc', 'call_work'])
        .execute()
    ).map((row) => row.output_id),
  );
  return nodes.filter((node): node is ProcessNode => node instanceof ProcessNode && !called.has(node.pk!));
}

describe.each(['calcjob', 'calcfunctions', 'workchains'])('the provenance graph of %s', (name) => {
  let handle: TestStorage;
  beforeAll(async () => {
    handle = await openSqliteTemp();
    await importArchive(fixture(name), { storage: handle.storage, createGroup: false });
  });
  afterAll(async () => {
    await handle.cleanup();
  });

  it('is drawn as the golden DOT, as `verdi node graph generate` draws it', async () => {
    const graph = new Graph({ storage: handle.storage, nodeIdType: 'uuid' });
    for (const root of await roots(handle.storage)) {
      await graph.recurseAncestors(root, { annotateLinks: 'both' });
      await graph.recurseDescendants(root, { annotateLinks: 'both' });
    }
    await expect(graph.toDot()).toMatchFileSnapshot(`golden/${name}.dot`);
  });

  it('draws every node and link with --process-in and --process-out', async () => {
    const graph = new Graph({ storage: handle.storage });
    for (const root of await roots(handle.storage)) {
      await graph.recurseAncestors(root, { includeProcessOutputs: true });
      await graph.recurseDescendants(root, { includeProcessInputs: true });
    }
    const count = (await handle.storage.executor().selectFrom('db_dbnode').select('id').execute()).length;
    const linkCount = (await handle.storage.executor().selectFrom('db_dblink').select('id').execute()).length;
    expect(graph.nodes.size).toBe(count);
    expect(graph.edges).toHaveLength(linkCount);
  });

  it('renders to SVG and PNG; highlighted classes keep their style and the others are grey', async () => {
    const [root] = await roots(handle.storage);
    const graph = new Graph({ storage: handle.storage });
    await graph.recurseDescendants(root!, { annotateLinks: 'both', highlightClasses: ['Int'] });
    for (const pk of graph.nodes) {
      const style = graph.nodeStyle(pk)!;
      const label = String(style['label']);
      if (pk === root!.pk) expect(style).toMatchObject(ORIGIN_NODE_STYLE);
      else if (label.startsWith('Int ')) expect(style['fillcolor']).toBe('#8cd499ff');
      else expect(style).toMatchObject(IGNORE_NODE_STYLE);
    }
    const svg = (await renderGraph(graph.toDot(), 'svg')).toString('utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('lightgray');
    const png = await renderGraph(graph.toDot(), 'png');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(1000);
  });
});

describe('Graph.addQueryResult', () => {
  it('draws the nodes a query found and the links among them', async () => {
    const handle = await openSqliteTemp();
    try {
      await importArchive(fixture('calcjob'), { storage: handle.storage, createGroup: false });
      const rows = await handle.storage
        .executor()
        .selectFrom('db_dbnode')
        .select('id')
        .where('node_type', 'like', 'data.core.int.%')
        .execute();
      const graph = new Graph({ storage: handle.storage });
      await graph.addQueryResult(rows.map((row) => row.id));
      expect(graph.nodes.size).toBe(3);
      expect(graph.edges).toHaveLength(0);
    } finally {
      await handle.cleanup();
    }
  });
});
