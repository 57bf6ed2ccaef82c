/**
 * `verdi node graph generate` run as the executable on a `verdi presto` profile holding two archives aiida-core 2.8
 * wrote: a calculation job with its code, inputs and outputs, and a workfunction calling two calcfunctions. What
 * is drawn is checked against the links aiida-core recorded, in the DOT text and in the `--json` summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../tools/archive-support.js';
import {
  componentOf,
  expectExit,
  pkOf,
  profileDatabase,
  readExpectedSummary,
} from './archive-cli-support.js';
import { verdiSandbox, type VerdiResult } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-node-graph-');
/** Runs in the sandbox, where a graph without `-O` is written. */
const verdi = (args: readonly string[]): Promise<VerdiResult> => sandbox.verdi(args, { cwd: sandbox.base });
const out = (name: string): string => join(sandbox.base, name);

const calcjob = readExpectedSummary('calcjob');
const calcfunctions = readExpectedSummary('calcfunctions');
const uuidOf = (expected: typeof calcjob, label: string): string => {
  const node = expected.nodes.find((found) => found.label === label);
  if (node === undefined) throw new Error(`no fixture node labelled ${label}`);
  return node.uuid;
};
/** pks in the profile, by uuid. */
const pk = new Map<string, number>();
const pkOfUuid = (uuid: string): number => {
  const found = pk.get(uuid);
  if (found === undefined) throw new Error(`${uuid} was not imported`);
  return found;
};
const calculation = uuidOf(calcjob, 'fixture-add');
const workfunction = uuidOf(calcfunctions, 'fixture-add_mul');

/** `--json` summary of a graph written to `file` as DOT, and the DOT text. */
async function graph(root: string, file: string, ...options: string[]) {
  const result = await verdi([
    'node',
    'graph',
    'generate',
    root,
    '-f',
    'dot',
    '-O',
    file,
    '--json',
    ...options,
  ]);
  expectExit(result, 0);
  const summary = result.json<{ file: string; nodes: number[]; edges: number }>();
  expect(summary.file).toBe(file);
  return { ...summary, dot: readFileSync(file, 'utf8') };
}

/** The pks of the uuids, sorted as `--json` prints them. */
const pks = (uuids: readonly string[]): number[] => uuids.map(pkOfUuid).sort((a, b) => a - b);
const neighbours = (expected: typeof calcjob, uuid: string, direction: 'in' | 'out'): string[] =>
  expected.links
    .filter((link) => (direction === 'in' ? link.target : link.source) === uuid)
    .map((link) => (direction === 'in' ? link.source : link.target));

beforeAll(async () => {
  expectExit(await verdi(['presto']), 0);
  for (const name of ['calcjob', 'calcfunctions'])
    expectExit(await verdi(['archive', 'import', '--no-import-group', fixture(name)]), 0);
  const database = profileDatabase(sandbox.configDir);
  for (const node of [...calcjob.nodes, ...calcfunctions.nodes]) pk.set(node.uuid, pkOf(database, node.uuid));
}, 60_000);
afterAll(() => sandbox.cleanup());

describe('verdi node graph generate', () => {
  it('writes the whole provenance of a calculation job as DOT, the root drawn red', async () => {
    const root = pkOfUuid(calculation);
    const { nodes, edges, dot } = await graph(String(root), out('calcjob.dot'));
    expect(nodes).toEqual(pks(calcjob.nodes.map((node) => node.uuid)));
    expect(edges).toBe(calcjob.links.length);
    expect(dot).toMatch(/^digraph \{/);
    expect(dot).toMatch(
      new RegExp(
        `\\tN${root} \\[label="ArithmeticAddCalculation \\(${calculation.slice(0, 8)}\\)\\n[^\\]]*color=red`,
      ),
    );
    for (const link of calcjob.links)
      expect(dot).toContain(
        `N${pkOfUuid(link.source)} -> N${pkOfUuid(link.target)} [label="${link.type.toUpperCase()}\n${link.label}"`,
      );
  });

  it('renders SVG and PNG', async () => {
    const root = String(pkOfUuid(calculation));
    const svg = out('calcjob.svg');
    expectExit(await verdi(['node', 'graph', 'generate', root, '-f', 'svg', '-O', svg]), 0);
    const svgText = readFileSync(svg, 'utf8');
    expect(svgText).toMatch(/^<\?xml[^]*<svg[^]*<\/svg>\s*$/);
    expect(svgText).toContain(`ArithmeticAddCalculation (${calculation.slice(0, 8)})`);
    const png = out('calcjob.png');
    const result = await verdi(['node', 'graph', 'generate', root, '-f', 'png', '-O', png]);
    expectExit(result, 0);
    expect(result.stdout).toContain(`Success: Output written to \`${png}\``);
    expect(readFileSync(png).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
  });

  it('writes PNG by default, named after the root and the engine, in the working directory', async () => {
    const root = String(pkOfUuid(calculation));
    const result = await verdi(['node', 'graph', 'generate', root]);
    expectExit(result, 0);
    expect(result.stdout).toContain(`Success: Output written to \`${root}.dot.png\``);
    expect(
      readFileSync(out(`${root}.dot.png`))
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
  });

  it('draws several root nodes in one graph, named after all of them', async () => {
    const roots = [pkOfUuid(calculation), pkOfUuid(workfunction)];
    const result = await verdi(['node', 'graph', 'generate', ...roots.map(String), '-f', 'dot', '--json']);
    expectExit(result, 0);
    const summary = result.json<{ file: string; nodes: number[]; edges: number }>();
    expect(summary.file).toBe(`${roots.join('.')}.dot.dot`);
    const single = await Promise.all([
      graph(String(roots[0]), out('first.dot')),
      graph(String(roots[1]), out('second.dot')),
    ]);
    expect(summary.nodes).toEqual([...single[0].nodes, ...single[1].nodes].sort((a, b) => a - b));
    expect(summary.edges).toBe(single[0].edges + single[1].edges);
    const dot = readFileSync(out(summary.file), 'utf8');
    for (const root of roots) expect(dot).toMatch(new RegExp(`\\tN${root} \\[[^\\]]*color=red`));
  });

  it('labels the nodes by --identifier pk, uuid or label', async () => {
    const root = pkOfUuid(workfunction);
    const byPk = await graph(String(root), out('pk.dot'), '--identifier', 'pk');
    expect(byPk.dot).toContain(`N${root} [label="add_mul (${root})`);
    const byUuid = await graph(String(root), out('uuid.dot'), '--identifier', 'uuid');
    expect(byUuid.dot).toContain(`N${root} [label="add_mul (${workfunction.slice(0, 8)})`);
    const byLabel = await graph(String(root), out('label.dot'), '--identifier', 'label');
    expect(byLabel.dot).toContain(`N${root} [label="add_mul (fixture-add_mul)`);
    expect(byLabel.nodes).toEqual(byPk.nodes);
  });

  it('follows only the data or only the logic links with --link-types', async () => {
    const root = String(pkOfUuid(workfunction));
    const all = await graph(root, out('all.dot'));
    const component = componentOf(calcfunctions.links, workfunction);
    const inside = calcfunctions.links.filter((link) => component.includes(link.source));
    expect(all.nodes).toEqual(pks(component));
    // descending from the workfunction, the inputs of the calculations it called are not drawn: its own inputs
    // reach them with input_calc links, which only --process-in adds
    const ownInputs = neighbours(calcfunctions, workfunction, 'in');
    const inputCalc = inside.filter((link) => link.type === 'input_calc' && ownInputs.includes(link.source));
    expect(inputCalc).toHaveLength(3);
    expect(all.edges).toBe(inside.length - inputCalc.length);
    const processIn = await graph(root, out('process-in.dot'), '--process-in');
    expect(processIn.nodes).toEqual(all.nodes);
    expect(processIn.edges).toBe(inside.length);
    // a workfunction has only logic links of its own: its inputs (input_work) and what it returned
    const logic = await graph(root, out('logic.dot'), '--link-types', 'logic');
    const logicLinks = calcfunctions.links.filter(
      (link) =>
        (link.target === workfunction && link.type === 'input_work') ||
        (link.source === workfunction && link.type === 'return'),
    );
    expect(logic.nodes).toEqual(
      pks([
        workfunction,
        ...logicLinks.map((link) => (link.source === workfunction ? link.target : link.source)),
      ]),
    );
    expect(logic.edges).toBe(logicLinks.length);
    expect(logic.dot).not.toContain('CALL_CALC');
    const data = await graph(root, out('data.dot'), '--link-types', 'data');
    expect(data.nodes).toEqual([pkOfUuid(workfunction)]);
    expect(data.edges).toBe(0);
    expect(all.nodes.length).toBeGreaterThan(logic.nodes.length);
  });

  it('stops at --ancestor-depth and --descendant-depth', async () => {
    const root = String(pkOfUuid(calculation));
    const inputs = neighbours(calcjob, calculation, 'in');
    const outputs = neighbours(calcjob, calculation, 'out');
    const down = await graph(root, out('down.dot'), '--ancestor-depth', '0', '--descendant-depth', '1');
    expect(down.nodes).toEqual(pks([calculation, ...outputs]));
    expect(down.edges).toBe(outputs.length);
    const up = await graph(root, out('up.dot'), '-a', '1', '-d', '0');
    expect(up.nodes).toEqual(pks([calculation, ...inputs]));
    expect(up.edges).toBe(inputs.length);
    const alone = await graph(root, out('alone.dot'), '-a', '0', '-d', '0');
    expect(alone.nodes).toEqual([pkOfUuid(calculation)]);
    const invalid = await verdi(['node', 'graph', 'generate', root, '-a', '-1', '-O', out('invalid.dot')]);
    expect(invalid.code).toBe(2);
    expect(existsSync(out('invalid.dot'))).toBe(false);
  });

  it('greys out the classes not given with --highlight-classes, and writes canonical DOT', async () => {
    const root = pkOfUuid(calculation);
    const [highlighted, canon] = await Promise.all([
      graph(String(root), out('highlight.dot'), '--highlight-classes', 'Int'),
      verdi(['node', 'graph', 'generate', String(root), '-f', 'canon', '-O', out('calcjob.canon')]),
    ]);
    const statement = (uuid: string): string =>
      new RegExp(`\\tN${pkOfUuid(uuid)} \\[[^\\]]*\\]`).exec(highlighted.dot)?.[0] ?? '';
    for (const node of calcjob.nodes) {
      expect(statement(node.uuid)).toContain('fillcolor=');
      if (node.uuid === calculation) expect(statement(node.uuid)).toContain('color=red');
      else if (node.node_type === 'data.core.int.Int.')
        expect(statement(node.uuid)).not.toContain('lightgray');
      else expect(statement(node.uuid)).toContain('color=lightgray fillcolor=white');
    }
    expectExit(canon, 0);
    // graphviz's canonical form: laid out, with the bounding box
    expect(readFileSync(out('calcjob.canon'), 'utf8')).toMatch(/^digraph \{\n\tgraph \[bb="[\d. ]+"\];/);
  });

  it('refuses an unknown root node and writes nothing', async () => {
    const result = await verdi(['node', 'graph', 'generate', '999999', '-f', 'dot', '-O', out('none.dot')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid value for ROOT_NODES');
    expect(existsSync(out('none.dot'))).toBe(false);
  });
});
