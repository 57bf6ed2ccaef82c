/**
 * `verdi archive create` run as the executable on a `verdi presto` profile holding three archives aiida-core 2.8
 * wrote. Each archive written is read back with Python's `zipfile` and `sqlite3` (readers independent of ours), and
 * the `--all` one is imported into a second, fresh profile that must then hold the same nodes, links and groups.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  componentOf,
  expectExit,
  pkOf,
  profileContents,
  pythonZip,
  readExpectedSummary,
  twoProfiles,
} from './archive-cli-support.js';

/** `presto` holds the fixtures; `second` is the profile the `--all` archive is imported into. */
const { sandbox, verdi, out, database, setup, cleanup } = twoProfiles('aiida-ts-verdi-archive-create-', [
  'calcfunctions',
  'workchains',
  'data_types',
]);

const calcfunctions = readExpectedSummary('calcfunctions');
const workchains = readExpectedSummary('workchains');
const dataTypes = readExpectedSummary('data_types');
const uuidOf = (labelled: string): string => {
  const node = [...calcfunctions.nodes, ...workchains.nodes].find((found) => found.label === labelled);
  if (node === undefined) throw new Error(`no fixture node labelled ${labelled}`);
  return node.uuid;
};
const addMul = uuidOf('fixture-add_mul');
/** The Int the workfunction returned (a `create` output of its second calcfunction). */
const addMulResult = calcfunctions.links.find(
  (link) => link.source === addMul && link.type === 'return',
)?.target;

beforeAll(setup, 60_000);
afterAll(cleanup);

describe('verdi archive create', () => {
  it('--all writes the whole profile, which a fresh profile then imports identically', async () => {
    const file = out('all.aiida');
    const result = await verdi(['archive', 'create', file, '--all']);
    expectExit(result, 0);
    expect(result.stdout).toContain(`Success: wrote the export archive file to ${file}`);
    const source = profileContents(database());
    const zip = pythonZip(file);
    expect(zip.names).toEqual(['db.sqlite3', 'metadata.json']);
    expect(zip.metadata.export_version).toBe('main_0001');
    expect(zip.metadata.compression).toBe(6);
    expect(zip.compressTypes).toEqual([8]);
    expect(zip.metadataCompressType).toBe(0);
    expect(zip.db.nodes).toEqual(source.nodes);
    expect(zip.db.links).toBe(source.links.length);
    expect(zip.db.groups).toEqual(source.groups.map((group) => group.label).sort());
    expect(zip.db.logs).toBe(workchains.logs.length);
    expect(zip.db.comments).toBe(workchains.comments.length + dataTypes.comments.length);

    const imported = await sandbox.verdi(['-p', 'second', 'archive', 'import', file]);
    expectExit(imported, 0);
    const target = profileContents(database('second'));
    expect(target.nodes).toEqual(source.nodes);
    expect(target.links).toEqual(source.links);
    expect(target.comments).toBe(source.comments);
    expect(target.logs).toBe(source.logs);
    expect(target.users).toEqual(source.users);
    // the groups of the source, and the import group holding every node
    expect(target.groups.filter((group) => group.type !== 'core.import')).toEqual(source.groups);
    expect(target.groups.filter((group) => group.type === 'core.import')).toEqual([
      { label: expect.stringMatching(/^\d{8}-\d{6}$/) as string, type: 'core.import', nodes: source.nodes },
    ]);
  });

  it('-N writes a node and its provenance by the traversal rules, which the toggles change', async () => {
    const workfunction = out('add-mul.aiida');
    expectExit(await verdi(['archive', 'create', workfunction, '-N', String(pkOf(database(), addMul))]), 0);
    const zip = pythonZip(workfunction);
    expect(zip.db.nodes).toEqual(componentOf(calcfunctions.links, addMul));
    expect(zip.db.nodes).toHaveLength(8);
    expect(zip.metadata.creation_parameters.entities_starting_set).toEqual({ node: [addMul] });
    expect(zip.db.groups).toEqual([]);

    if (addMulResult === undefined) throw new Error('the workfunction returned nothing');
    const result = String(pkOf(database(), addMulResult));
    // from its output, by default the calculation that created it and so the whole workfunction
    const withProvenance = out('result.aiida');
    expectExit(await verdi(['archive', 'create', withProvenance, '-N', result]), 0);
    expect(pythonZip(withProvenance).db.nodes).toEqual(componentOf(calcfunctions.links, addMul));
    const alone = out('result-alone.aiida');
    expectExit(await verdi(['archive', 'create', alone, '-N', result, '--no-create-backward']), 0);
    const aloneZip = pythonZip(alone);
    expect(aloneZip.db.nodes).toEqual([addMulResult]);
    expect(aloneZip.metadata.creation_parameters.graph_traversal_rules['create_backward']).toBe(false);

    // an input of the first calcfunction: alone by default, with --input-calc-forward the calculations it fed
    const input = calcfunctions.links.find((link) => link.type === 'input_calc')?.source ?? '';
    const inputPk = String(pkOf(database(), input));
    const [inputAlone, inputForward] = [out('input.aiida'), out('input-forward.aiida')];
    expectExit(await verdi(['archive', 'create', inputAlone, '-N', inputPk]), 0);
    expectExit(await verdi(['archive', 'create', inputForward, '-N', inputPk, '--input-calc-forward']), 0);
    expect(pythonZip(inputAlone).db.nodes).toEqual([input]);
    const forward = pythonZip(inputForward);
    expect(forward.db.nodes).toEqual(componentOf(calcfunctions.links, input));
    expect(forward.metadata.creation_parameters.graph_traversal_rules['input_calc_forward']).toBe(true);
  });

  it('-G writes the group and its nodes', async () => {
    const file = out('group.aiida');
    const group = dataTypes.groups.find((found) => found.label === 'data-types');
    if (group === undefined) throw new Error('no data-types group in the fixture');
    expectExit(await verdi(['archive', 'create', file, '-G', 'data-types']), 0);
    const zip = pythonZip(file);
    expect(zip.db.groups).toEqual(['data-types']);
    expect(zip.db.nodes).toEqual([...group.node_uuids].sort());
    expect(zip.repoObjects).toBeGreaterThan(0);
    expect(zip.metadata.creation_parameters.entities_starting_set).toEqual({ group: [group.uuid] });
  });

  it('--dry-run counts what it would write and writes nothing', async () => {
    const file = out('dry-run.aiida');
    const result = await verdi(['archive', 'create', file, '-G', 'data-types', '--dry-run']);
    expectExit(result, 0);
    // as aiida-core's tabulate prints the counts: rules above and below, numbers aligned right
    const group = dataTypes.groups.find((found) => found.label === 'data-types');
    expect(result.stdout).toContain(
      [
        'Report: Archive would be created with:',
        '----------------  --',
        'users              1',
        'groups             1',
        `nodes             ${group?.node_uuids.length ?? 0}`,
        `comments           ${dataTypes.comments.length}`,
        `group_nodes       ${group?.node_uuids.length ?? 0}`,
      ].join('\n'),
    );
    expect(result.stdout).toMatch(/^Repository Files +\d+\n-{16} {2}-{2}\n/m);
    expect(existsSync(file)).toBe(false);
  });
});
