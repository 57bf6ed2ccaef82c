import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOperationError } from '../../src/errors.js';
import { Int, LinkType, type Node, type ProcessNode } from '../../src/orm.js';
import { loadNodesByPk } from '../../src/orm/nodes/node.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { SafeZipReader } from '../../src/tools/archive/zip-reader.js';
import { exportRoCrate } from '../../src/tools/provenance/crate-writer.js';
import { RoCrateMetadata, type CrateEntity } from '../../src/tools/provenance/ro-crate.js';
import { OuterWorkChain } from '../engine/fixture-workchains.js';
import { useEngine } from '../engine/helpers.js';
import { openSqliteDos, openSqliteTemp, type TestStorage } from '../storage/helpers.js';
import { fixture } from './archive-support.js';
import {
  crateEntities,
  crateFileReferences,
  crateReferenceErrors,
  crateSchemaErrors,
  roCrateJsErrors,
} from './provenance-support.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-ro-crate-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const ids = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [value]).map((item) => String((item as { '@id': string })['@id']));
const typesOf = (entity: CrateEntity | undefined): string[] =>
  entity === undefined ? [] : typeof entity['@type'] === 'string' ? [entity['@type']] : entity['@type'];

/** The crate entity standing for a data node (`#node-<uuid>` or its folder `nodes/<uuid>/`). */
function dataEntity(entities: Map<string, CrateEntity>, node: Node): CrateEntity | undefined {
  return entities.get(`#node-${node.uuid}`) ?? entities.get(`nodes/${node.uuid}/`);
}

/** Checks that every link of every process of the crate is there: inputs as object, outputs as result, calls. */
async function expectEveryLink(
  entities: Map<string, CrateEntity>,
  processes: readonly ProcessNode[],
): Promise<void> {
  for (const process of processes) {
    const action = entities.get(`#process-${process.uuid}`);
    expect(action, `${process.constructor.name}<${process.pk}>`).toBeDefined();
    expect(action?.['startTime']).toBe(process.ctimeIso);
    expect(action?.['endTime']).toBe(process.mtimeIso);
    const inputs = await process.links.getIncoming({ linkType: [LinkType.INPUT_CALC, LinkType.INPUT_WORK] });
    expect(ids(action?.['object']).sort()).toEqual(
      inputs
        .all()
        .map((link) => dataEntity(entities, link.node)?.['@id'])
        .sort(),
    );
    const outputs = await process.links.getOutgoing({ linkType: [LinkType.CREATE, LinkType.RETURN] });
    expect(ids(action?.['result']).sort()).toEqual(
      [...new Set(outputs.all().map((link) => dataEntity(entities, link.node)?.['@id']))].sort(),
    );
    const tool = entities.get(ids(action?.['instrument'])[0]!);
    for (const called of (
      await process.links.getOutgoing({ linkType: [LinkType.CALL_CALC, LinkType.CALL_WORK] })
    ).all()) {
      const calledTool = ids(entities.get(`#process-${called.node.uuid}`)?.['instrument'])[0];
      expect(ids(tool?.['hasPart'])).toContain(calledTool);
    }
  }
}

describe('RO-Crate of an engine-built workchain calling workchains and calcfunctions', () => {
  const engine = useEngine(openSqliteDos);

  it('is a valid Provenance Run Crate folder holding every process, node and link', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(OuterWorkChain, { inner: { x: 3, y: 4 }, iterations: 2 });
    const output = path.join(scratch, 'workchain-crate');
    const result = await exportRoCrate(node, { output, license: 'https://spdx.org/licenses/CC-BY-4.0' });
    expect(result.format).toBe('folder');
    const metadata = RoCrateMetadata.parse(
      JSON.parse(await readFile(path.join(output, 'ro-crate-metadata.json'), 'utf8')),
    );
    expect(metadata).toEqual(result.metadata);
    expect(crateSchemaErrors(metadata, 'provenanceRunCrate')).toEqual([]);
    expect(crateReferenceErrors(metadata)).toEqual([]);
    expect(roCrateJsErrors(metadata, await crateFileReferences(output))).toEqual([]);

    // the checks do catch what the profiles forbid
    const broken = (change: (entity: CrateEntity) => CrateEntity): RoCrateMetadata => ({
      ...metadata,
      '@graph': metadata['@graph'].map((entity) => change({ ...entity })),
    });
    const withoutName = broken((entity) =>
      entity['@id'] === './' ? { ...entity, name: undefined } : entity,
    );
    expect(roCrateJsErrors(JSON.parse(JSON.stringify(withoutName)) as RoCrateMetadata)).toContain(
      ' Missing required property: name',
    );
    const withoutInstrument = broken((entity) =>
      entity['@type'] === 'CreateAction' ? { ...entity, instrument: undefined } : entity,
    );
    expect(
      crateSchemaErrors(JSON.parse(JSON.stringify(withoutInstrument)), 'provenanceRunCrate'),
    ).not.toEqual([]);
    expect(crateReferenceErrors(withoutInstrument)).not.toEqual([]);

    const entities = crateEntities(metadata);
    const root = entities.get('./');
    expect(ids(root?.['conformsTo'])).toEqual([
      'https://w3id.org/ro/wfrun/process/0.5',
      'https://w3id.org/ro/wfrun/workflow/0.5',
      'https://w3id.org/ro/wfrun/provenance/0.5',
      'https://w3id.org/workflowhub/workflow-ro-crate/1.0',
    ]);
    expect(ids(root?.['license'])).toEqual(['https://spdx.org/licenses/CC-BY-4.0']);
    const main = entities.get(ids(root?.['mainEntity'])[0]!);
    expect(typesOf(main)).toEqual(['File', 'SoftwareSourceCode', 'ComputationalWorkflow', 'HowTo']);
    const description = JSON.parse(
      await readFile(path.join(output, ...String(main?.['@id']).split('/')), 'utf8'),
    ) as {
      process_type: string;
      calls: unknown[];
    };
    expect(description.process_type).toBe(node.processType);
    expect(description.calls.length).toBeGreaterThan(0);
    // the workflow's parameter slots are the labels it was run with, realized by its inputs and outputs
    const slotNames = (key: 'input' | 'output'): string[] =>
      ids(main?.[key]).map((id) => String(entities.get(id)?.['name']));
    const labels = async (links: Promise<{ all(): { linkLabel: string }[] }>): Promise<string[]> =>
      [...new Set((await links).all().map((link) => link.linkLabel))].sort();
    expect(slotNames('input').sort()).toEqual(
      await labels(node.links.getIncoming({ linkType: LinkType.INPUT_WORK })),
    );
    expect(slotNames('output').sort()).toEqual(
      await labels(node.links.getOutgoing({ linkType: LinkType.RETURN })),
    );
    const x = (await node.links.getIncoming({ linkType: LinkType.INPUT_WORK })).getNodeByLabel('inner__x');
    const xParam = entities.get(ids(dataEntity(entities, x)?.['exampleOfWork'])[0]!);
    expect(xParam).toMatchObject({ '@type': 'FormalParameter', name: 'inner__x', additionalType: 'Integer' });
    // nested workflows are contextual workflows (not files), calcfunctions applications
    const inner = [...entities.values()].find((entity) => entity['name'] === 'InnerWorkChain');
    expect(typesOf(inner)).toEqual(['SoftwareSourceCode', 'ComputationalWorkflow', 'HowTo']);
    expect(typesOf([...entities.values()].find((entity) => entity['name'] === 'add'))).toEqual([
      'SoftwareApplication',
    ]);

    const tree: ProcessNode[] = [node, ...(await node.getCalledDescendants())];
    await expectEveryLink(entities, tree);
    // every call is a step execution (ControlAction) of a step of the caller's class, run by the engine
    const controls = [...entities.values()].filter((entity) => entity['@type'] === 'ControlAction');
    expect(controls).toHaveLength(tree.length - 1);
    for (const called of tree.slice(1)) {
      const control = entities.get(`#control-${called.uuid}`);
      expect(ids(control?.['object'])).toEqual([`#process-${called.uuid}`]);
      const step = entities.get(ids(control?.['instrument'])[0]!);
      expect(ids(step?.['workExample'])).toEqual(
        ids(entities.get(`#process-${called.uuid}`)?.['instrument']),
      );
    }
    const organize = entities.get(`#engine-run-${node.uuid}`);
    expect(organize).toMatchObject({ '@type': 'OrganizeAction', result: { '@id': `#process-${node.uuid}` } });
    expect(ids(organize?.['object']).sort()).toEqual(controls.map((control) => control['@id']).sort());
    expect(ids(root?.['mentions']).sort()).toEqual(
      [...tree.map((process) => `#process-${process.uuid}`), `#engine-run-${node.uuid}`].sort(),
    );
    // base values are property values, owned by the user
    const sum = (await node.links.getOutgoing({ linkType: LinkType.RETURN })).getNodeByLabel('total');
    if (!(sum instanceof Int)) throw new Error('the total is not an Int');
    const sumEntity = dataEntity(entities, sum);
    expect(sumEntity).toMatchObject({ '@type': 'PropertyValue', value: sum.value, identifier: sum.uuid });
    expect(typesOf(entities.get(ids(sumEntity?.['author'])[0]!))).toEqual(['Person']);
  });

  it('refuses to overwrite an existing output, and writes nothing for a process that is not sealed', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(OuterWorkChain, { inner: { x: 1, y: 2 }, iterations: 1 });
    const taken = path.join(scratch, 'taken.zip');
    await writeFile(taken, 'not a crate');
    await expect(exportRoCrate(node, { output: taken })).rejects.toThrow(/taken\.zip already exists/);
    expect(await readFile(taken, 'utf8')).toBe('not a crate');
    const { WorkChainNode } = await import('../../src/orm.js');
    const running = await new WorkChainNode().store();
    await running.setProcessState('waiting');
    const output = path.join(scratch, 'never');
    await expect(exportRoCrate(running, { output })).rejects.toThrow(InvalidOperationError);
    await expect(readFile(path.join(output, 'ro-crate-metadata.json'))).rejects.toThrow(/ENOENT/);
  });
});

/** The entries of a zip file, name to content (read with the archive code's checked zip reader). */
async function readZip(file: string): Promise<Map<string, Buffer>> {
  const zip = await SafeZipReader.open(file);
  try {
    const out = new Map<string, Buffer>();
    for (const name of zip.names()) out.set(name, await zip.readBuffer(name));
    return out;
  } finally {
    zip.close();
  }
}

describe.each([
  ['calcfunctions', 'process.workflow.workfunction.WorkFunctionNode.', 'provenanceRunCrate'],
  ['calcjob', 'process.calculation.calcjob.CalcJobNode.', 'processRunCrate'],
] as const)('RO-Crate zip of the %s archive aiida-core 2.8 wrote', (name, nodeType, profile) => {
  let handle: TestStorage;
  beforeAll(async () => {
    handle = await openSqliteTemp();
    await importArchive(fixture(name), { storage: handle.storage, createGroup: false });
  });
  afterAll(async () => {
    await handle.cleanup();
  });

  it('is valid and holds every repository file of every node, byte for byte', async () => {
    const rows = await handle.storage
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('node_type', '=', nodeType)
      .orderBy('id')
      .execute();
    const [root] = (await loadNodesByPk([rows[0]!.id], { storage: handle.storage })) as ProcessNode[];
    const output = path.join(scratch, `${name}.zip`);
    const result = await exportRoCrate(root!, { output });
    expect(result.format).toBe('zip');
    const entries = await readZip(output);
    const metadata = RoCrateMetadata.parse(
      JSON.parse(entries.get('ro-crate-metadata.json')!.toString('utf8')),
    );
    expect(crateSchemaErrors(metadata, profile)).toEqual([]);
    expect(crateReferenceErrors(metadata)).toEqual([]);
    const references = Object.fromEntries(
      [...entries.keys()]
        .filter((entry) => entry !== 'ro-crate-metadata.json')
        .flatMap((entry) => {
          const parts = entry.split('/');
          return parts.map((_part, index) => {
            const isDir = index < parts.length - 1;
            const id =
              parts
                .slice(0, index + 1)
                .map(encodeURIComponent)
                .join('/') + (isDir ? '/' : '');
            return [id, { exists: true, isDir }] as const;
          });
        }),
    );
    expect(roCrateJsErrors(metadata, references)).toEqual([]);

    const entities = crateEntities(metadata);
    const allRows = await handle.storage
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .orderBy('id')
      .execute();
    const nodes = await loadNodesByPk(
      allRows.map((row) => row.id),
      { storage: handle.storage },
    );
    const crateNodes = nodes.filter(
      (node) => entities.has(`#process-${node.uuid}`) || dataEntity(entities, node) !== undefined,
    );
    let fileCount = 0;
    for (const node of crateNodes) {
      const base = entities.has(`#process-${node.uuid}`) ? 'processes' : 'nodes';
      for (const file of await node.base.repository.listFilePaths()) {
        fileCount += 1;
        const entry = entries.get(`${base}/${node.uuid}/${file}`);
        expect(entry, `${base}/${node.uuid}/${file}`).toBeDefined();
        expect(entry?.equals(await node.base.repository.getObjectContent(file))).toBe(true);
        expect(
          entities.get(`${base}/${node.uuid}/${file.split('/').map(encodeURIComponent).join('/')}`),
        ).toMatchObject({
          '@type': 'File',
          contentSize: String(entry?.length),
          sha256: createHash('sha256')
            .update(entry ?? '')
            .digest('hex'),
        });
      }
    }
    expect(fileCount).toBeGreaterThan(0);
    await expectEveryLink(
      entities,
      crateNodes.filter((node): node is ProcessNode => entities.has(`#process-${node.uuid}`)),
    );
    if (name === 'calcjob') {
      // the code is a software application the job used; the job's own files are about the job
      const code = (await root!.links.getIncoming({ linkType: LinkType.INPUT_CALC })).getNodeByLabel('code');
      expect(typesOf(dataEntity(entities, code))).toEqual(['SoftwareApplication']);
      expect(entities.get(`processes/${root!.uuid}/`)?.['about']).toEqual({
        '@id': `#process-${root!.uuid}`,
      });
    }
  });
});

describe('RO-Crate of the failed workchain of the workchains archive aiida-core 2.8 wrote', () => {
  it('marks the failed runs failed, with their exit message, and is valid all the same', async () => {
    const handle = await openSqliteTemp();
    try {
      await importArchive(fixture('workchains'), { storage: handle.storage, createGroup: false });
      const rows = await handle.storage
        .executor()
        .selectFrom('db_dbnode')
        .select('id')
        .where('node_type', '=', 'process.workflow.workchain.WorkChainNode.')
        .execute();
      const workchains = (await loadNodesByPk(
        rows.map((row) => row.id),
        { storage: handle.storage },
      )) as ProcessNode[];
      const failed = workchains.find((node) => node.exitStatus === 410);
      expect(failed).toBeDefined();
      const output = path.join(scratch, 'failed-crate');
      const { metadata } = await exportRoCrate(failed!, { output });
      expect(crateSchemaErrors(metadata, 'provenanceRunCrate')).toEqual([]);
      expect(crateReferenceErrors(metadata)).toEqual([]);
      expect(roCrateJsErrors(metadata, await crateFileReferences(output))).toEqual([]);
      const entities = crateEntities(metadata);
      expect(entities.get(`#process-${failed!.uuid}`)).toMatchObject({
        actionStatus: { '@id': 'http://schema.org/FailedActionStatus' },
        error: 'the inner workchain failed with exit status 400',
      });
      const inner = (await failed!.getCalled()).find((node) => node.exitStatus === 400);
      expect(entities.get(`#process-${inner!.uuid}`)?.['actionStatus']).toEqual({
        '@id': 'http://schema.org/FailedActionStatus',
      });
      expect(entities.get(`#control-${inner!.uuid}`)?.['actionStatus']).toEqual({
        '@id': 'http://schema.org/FailedActionStatus',
      });
      await expectEveryLink(entities, [failed!, ...(await failed!.getCalledDescendants())]);
    } finally {
      await handle.cleanup();
    }
  });
});
