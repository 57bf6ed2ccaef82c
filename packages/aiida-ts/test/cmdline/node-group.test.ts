import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { CalcFunctionNode, Dict, Int, LinkType, Str } from '../../src/orm.js';
import { describeResult, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
const { verdi, configDir } = sandbox;

/** pks of the fixture graph: x -> calc -> result, plus unrelated data. */
const pk = { x: 0, params: 0, calc: 0, result: 0, note: 0 };

beforeAll(async () => {
  const created = await verdi(['presto']);
  expect(created.code, describeResult(created)).toBe(0);
  // Build the provenance graph with the library, in this process, on the profile the CLI uses.
  setConfigDir(configDir);
  await loadProfile();
  try {
    const x = await new Int(3).store();
    const params = new Dict({ a: 1, nested: { b: [1, 2] } });
    params.label = 'params';
    params.description = 'the parameters';
    await params.extras.set('tag', 'hello');
    await params.extras.set('other', 2);
    await params.store();
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    await calc.links.addIncoming(params, LinkType.INPUT_CALC, 'params');
    await calc.store();
    const result = new Int(6);
    await result.links.addIncoming(calc, LinkType.CREATE, 'result');
    await result.store();
    const note = new Str('unrelated');
    note.label = 'note';
    await note.store();
    Object.assign(pk, { x: x.pk!, params: params.pk!, calc: calc.pk!, result: result.pk!, note: note.pk! });
  } finally {
    await unloadProfile();
    setConfigDir(undefined);
  }
});

afterAll(() => sandbox.cleanup());

describe('verdi node', () => {
  it('list: every node with the default projections, filtered by entry point, limited, as JSON', async () => {
    const table = await verdi(['node', 'list']);
    expect(table.code, describeResult(table)).toBe(0);
    expect(table.stdout).toMatch(/^id\s+uuid\s+node_type$/m);
    expect(table.stdout).toContain('data.core.dict.Dict.');
    expect(table.stdout).toContain('process.calculation.calcfunction.CalcFunctionNode.');
    const ints = await verdi(['node', 'list', '-e', 'core.int', '-p', 'id', 'label', '--json']);
    expect(ints.json()).toEqual([
      { id: pk.x, label: '' },
      { id: pk.result, label: '' },
    ]);
    const limited = await verdi(['node', 'list', '-O', 'id', '-D', 'desc', '-l', '2', '-p', 'id', '--json']);
    expect(limited.json()).toEqual([{ id: pk.note }, { id: pk.result }]);
    const raw = await verdi(['node', 'list', '-e', 'core.str', '-p', 'id', 'label', '--raw']);
    expect(raw.stdout.trim()).toBe(`${pk.note}  note`);
    const unknown = await verdi(['node', 'list', '-e', 'core.nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('invalid value for --entry-point');
  });

  it('show: properties and links of the node; unknown nodes are a usage error', async () => {
    // aiida-core's layout: the process label as type, its state, no node type, links without their type.
    const plain = await verdi(['node', 'show', String(pk.calc)]);
    expect(plain.code, describeResult(plain)).toBe(0);
    expect(plain.stdout).toMatch(/^Property +Value\n-+ {2}-+\ntype /);
    expect(plain.stdout).not.toMatch(/node_type|process_type|Link type/);
    expect(plain.stdout).toMatch(/^ctime +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/m);
    expect(plain.stdout).toMatch(new RegExp(`^params +${pk.params} {2}Dict$`, 'm'));
    // More behind --details.
    const result = await verdi(['node', 'show', String(pk.calc), '--details']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(/^type\s+CalcFunctionNode$/m);
    expect(result.stdout).toMatch(new RegExp(`^pk\\s+${pk.calc}$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^params\\s+${pk.params}\\s+Dict\\s+input_calc$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^result\\s+${pk.result}\\s+Int\\s+create$`, 'm'));
    const json = await verdi(['node', 'show', 'params', '--json']);
    expect(json.json()).toMatchObject([
      {
        pk: pk.params,
        type: 'Dict',
        label: 'params',
        description: 'the parameters',
        outgoing: [{ link_label: 'params', pk: pk.calc }],
      },
    ]);
    const missing = await verdi(['node', 'show', '99999']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'invalid value for NODES: no node has pk 99999 or a uuid starting with `99999`',
    );
  });

  it('attributes and extras, all or some keys, as JSON or YAML', async () => {
    const attributes = await verdi(['node', 'attributes', String(pk.params)]);
    expect(attributes.code, describeResult(attributes)).toBe(0);
    expect(attributes.stdout).toContain(`PK: ${pk.params}`);
    expect(attributes.stdout).toContain('"nested": {');
    const json = await verdi(['node', 'attributes', String(pk.params), String(pk.x), '--json']);
    expect(json.json()).toEqual([
      { PK: pk.params, attributes: { a: 1, nested: { b: [1, 2] } } },
      { PK: pk.x, attributes: { value: 3 } },
    ]);
    const extras = await verdi(['node', 'extras', 'params', '-k', 'tag', '-f', 'yaml']);
    expect(extras.stdout).toContain('tag: hello');
    expect(extras.stdout).not.toContain('other');
    const byUuid = await verdi(['node', 'extras', 'params', '-i', 'uuid', '--json']);
    expect(byUuid.json<{ UUID: string }[]>()[0]?.UUID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('label and description: show, and set after confirmation or with --force', async () => {
    const shown = await verdi(['node', 'label', String(pk.params), String(pk.x)]);
    expect(shown.stdout).toMatch(new RegExp(`^\\s*${pk.params}\\s+params$`, 'm'));
    const refused = await verdi(['node', 'label', String(pk.x), '-L', 'input'], { input: 'n\n' });
    expect(refused.code).toBe(1);
    const set = await verdi(['node', 'label', String(pk.x), '-L', 'input'], { input: 'y\n' });
    expect(set.code, describeResult(set)).toBe(0);
    expect(set.stdout).toContain("Success: Set label 'input' for 1 nodes");
    expect((await verdi(['node', 'label', String(pk.x), '--raw'])).stdout.trim()).toBe('input');
    const description = await verdi(['node', 'description', String(pk.x), '-D', 'three', '-f']);
    expect(description.code).toBe(0);
    expect((await verdi(['node', 'description', String(pk.x), '--json'])).json()).toEqual([
      { pk: pk.x, description: 'three' },
    ]);
  });
});

describe('verdi group', () => {
  it('create, add nodes, list and show', async () => {
    const created = await verdi(['group', 'create', 'inputs', '-D', 'the inputs']);
    expect(created.code, describeResult(created)).toBe(0);
    expect(created.stdout).toMatch(/Success: Group created with PK = \d+ and label 'inputs'\./);
    const again = await verdi(['group', 'create', 'inputs']);
    expect(again.stdout).toContain("Group with label 'inputs' already exists");
    const added = await verdi(['group', 'add-nodes', '-G', 'inputs', String(pk.x), 'params']);
    expect(added.code, describeResult(added)).toBe(0);
    const list = await verdi(['group', 'list', '-C', '-d', '--json']);
    expect(list.json()).toMatchObject([
      {
        label: 'inputs',
        type_string: 'core',
        user: 'aiida@localhost',
        description: 'the inputs',
        node_count: 2,
      },
    ]);
    const table = await verdi(['group', 'list', '--count']);
    expect(table.stdout).toMatch(/inputs\s+core\s+aiida@localhost\s+2/);
    const show = await verdi(['group', 'show', 'inputs']);
    expect(show.stdout).toMatch(/Group label\s+inputs/);
    expect(show.stdout).toMatch(new RegExp(`^\\s*${pk.params}\\s+Dict\\s+params`, 'm'));
    expect((await verdi(['group', 'show', 'inputs', '--raw'])).stdout.trim()).toBe(`${pk.x} ${pk.params}`);
    const containing = await verdi(['group', 'list', '--node', String(pk.params), '--json']);
    expect(containing.json()).toHaveLength(1);
    const groups = await verdi(['node', 'show', String(pk.params), '--print-groups']);
    expect(groups.stdout).toMatch(/belongs to the following groups:\n.*\n.*\n\s*\d+\s+inputs\s+core/);
  });

  it('remove nodes after confirmation; relabel; change the description', async () => {
    const removed = await verdi(['group', 'remove-nodes', '-G', 'inputs', String(pk.x)], { input: 'y\n' });
    expect(removed.code, describeResult(removed)).toBe(0);
    expect((await verdi(['group', 'show', 'inputs', '-r'])).stdout.trim()).toBe(String(pk.params));
    const relabel = await verdi(['group', 'relabel', 'inputs', 'parameters']);
    expect(relabel.stdout).toContain('Success: Label changed to parameters');
    await verdi(['group', 'create', 'taken']);
    const clash = await verdi(['group', 'relabel', 'parameters', 'taken']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('Group with the label taken already exists.');
    await verdi(['group', 'description', 'parameters', 'new words']);
    expect((await verdi(['group', 'description', 'parameters'])).stdout.trim()).toBe('new words');
    const missing = await verdi(['group', 'show', 'nothing-here']);
    expect(missing.code).toBe(2);
  });

  it('delete groups, optionally with their nodes', async () => {
    const refused = await verdi(['group', 'delete', 'taken'], { input: 'n\n' });
    expect(refused.code).toBe(1);
    const deleted = await verdi(['group', 'delete', 'taken', '--force']);
    expect(deleted.stdout).toContain('Success: Group<taken> deleted.');
    const dry = await verdi(['group', 'delete', 'parameters', '--delete-nodes', '--dry-run']);
    expect(dry.stdout).toContain('1 group(s) to delete: parameters');
    // Deleting the Dict takes the calculation that used it and the calculation's output with it.
    expect(dry.stdout).toContain(
      `node(s) to delete with them: ${[pk.params, pk.calc, pk.result].sort((a, b) => a - b).join(' ')}`,
    );
    const all = await verdi(['group', 'delete', 'parameters', '--delete-nodes', '-f']);
    expect(all.code, describeResult(all)).toBe(0);
    const left = await verdi(['node', 'list', '-p', 'id', '--json']);
    expect(left.json()).toEqual([{ id: pk.x }, { id: pk.note }]);
    expect((await verdi(['group', 'list', '--json'])).json()).toEqual([]);
  });
});

describe('verdi node delete', () => {
  it('shows what will go, asks, and deletes; --dry-run changes nothing; unknown pks only warn', async () => {
    const dry = await verdi(['node', 'delete', String(pk.x), '99999', '--dry-run']);
    expect(dry.code, describeResult(dry)).toBe(0);
    expect(dry.stderr).toContain('nodes with pk 99999 do not exist: skipped');
    expect(dry.stdout).toContain('1 Node(s) marked for deletion');
    expect(dry.stdout).toMatch(new RegExp(`^\\s*${pk.x}\\s+[0-9a-f-]{36}\\s+Int\\s+input$`, 'm'));
    expect(dry.stdout).toContain('This was a dry run, exiting without deleting anything');
    const refused = await verdi(['node', 'delete', String(pk.x)], { input: 'n\n' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('YOU ARE ABOUT TO DELETE 1 NODES! THIS CANNOT BE UNDONE!');
    expect((await verdi(['node', 'list', '-p', 'id', '--json'])).json()).toHaveLength(2);
    const deleted = await verdi(['node', 'delete', String(pk.x)], { input: 'y\n' });
    expect(deleted.code, describeResult(deleted)).toBe(0);
    expect(deleted.stdout).toContain('Success: Finished deletion.');
    const forced = await verdi(['node', 'delete', 'note', '--force', '--json']);
    expect(forced.json()).toEqual({ pks: [pk.note], deleted: true });
    expect((await verdi(['node', 'list', '--json'])).json()).toEqual([]);
    const nothing = await verdi(['node', 'delete', '99999', '-f']);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toContain('Nothing to delete.');
  });
});
