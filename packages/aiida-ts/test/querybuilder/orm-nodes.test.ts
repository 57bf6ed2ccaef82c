import { describe, expect, it } from 'vitest';
import {
  Bool,
  CalculationNode,
  Comment,
  Data,
  Dict,
  Float,
  Group,
  Int,
  LinkType,
  Node,
  Str,
} from '../../src/orm.js';
import { QueryBuilder } from '../../src/querybuilder.js';
import { useStorage } from '../orm/setup.js';
import { BACKENDS } from '../storage/helpers.js';

// aiida-core's tests/orm/test_querybuilder.py behaviours, with nodes made and stored by the ORM, on every
// storage plugin (core.sqlite_dos, core.psql_dos, core.sqlite_temp). The QueryBuilder uses the default storage.
describe.each(BACKENDS)('QueryBuilder over ORM nodes on $name', ({ open }) => {
  useStorage(open);
  const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

  it('compares numeric attributes across ints and floats, never booleans or strings', async () => {
    const label = unique('num');
    const nodes = [new Int(1), new Float(1.0), new Float(1.5), new Bool(true), new Str('1'), new Int(2)];
    for (const node of nodes) {
      await node.setLabel(label);
      await node.store();
    }
    const count = (filter: Record<string, unknown>): Promise<number> =>
      new QueryBuilder().append(Data, { filters: { label, 'attributes.value': filter } }).count();
    expect(await count({ '==': 1.0 })).toBe(2);
    expect(await count({ '==': 1 })).toBe(2);
    expect(await count({ '==': true })).toBe(1);
    expect(await count({ '==': '1' })).toBe(1);
    expect(await count({ '>': 1 })).toBe(2);
    expect(await count({ '>=': 1 })).toBe(4);
    expect(await count({ '<': 2 })).toBe(3);
    expect(await count({ '<=': 2 })).toBe(4);
    expect(await count({ of_type: 'number' })).toBe(4);
    // subclassing: Data finds them all, Int only the ints, Node without subclassing none
    expect(await new QueryBuilder().append(Data, { filters: { label } }).count()).toBe(6);
    expect(await new QueryBuilder().append(Int, { filters: { label } }).count()).toBe(2);
    expect(await new QueryBuilder().append(Node, { filters: { label }, subclassing: false }).count()).toBe(0);
    expect(await new QueryBuilder().append([Int, Float], { filters: { label } }).count()).toBe(4);
  });

  it('returns the stored nodes themselves from *', async () => {
    const dict = await new Dict({ a: { b: [1, 2] } }).store();
    const [loaded] = (await new QueryBuilder()
      .append(Dict, { filters: { id: dict.pk! }, project: '*' })
      .one()) as [Dict];
    expect(loaded).toBeInstanceOf(Dict);
    expect(loaded.equals(dict)).toBe(true);
    expect(loaded.getDict()).toEqual({ a: { b: [1, 2] } });
    const rows = await new QueryBuilder()
      .append(Dict, { filters: { id: dict.pk! }, project: ['*', 'id', 'attributes.a.b.1'] })
      .dict();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.Dict_1!.id).toBe(dict.pk);
    expect(rows[0]!.Dict_1!['attributes.a.b.1']).toBe(2);
    expect(rows[0]!.Dict_1!['*']).toBeInstanceOf(Dict);
  });

  it('joins calculations and their inputs and outputs; len(all) equals count (test_len_results)', async () => {
    const parent = new CalculationNode();
    const input = await new Int(3).store();
    await parent.links.addIncoming(input, LinkType.INPUT_CALC, 'x');
    await parent.store();
    for (let i = 0; i < 5; i++) {
      const output = new Data();
      await output.links.addIncoming(parent, LinkType.CREATE, `link_${i}`);
      await output.store();
    }
    for (const projection of ['id', '*']) {
      const qb = new QueryBuilder()
        .append(CalculationNode, { filters: { id: parent.pk! }, tag: 'parent', project: projection })
        .append(Data, { withIncoming: 'parent' });
      expect((await qb.all()).length).toBe(await qb.count());
      expect(await qb.count()).toBe(5);
    }
    const labels = await new QueryBuilder()
      .append(CalculationNode, { filters: { id: parent.pk! }, tag: 'c' })
      .append(Data, { withIncoming: 'c', edgeProject: 'label', edgeFilters: { label: { like: 'link\\_%' } } })
      .all({ flat: true });
    expect([...labels].sort()).toEqual(['link_0', 'link_1', 'link_2', 'link_3', 'link_4']);
    const [inputValue] = await new QueryBuilder()
      .append(CalculationNode, { filters: { id: parent.pk! }, tag: 'c' })
      .inputs({ project: 'attributes.value' })
      .one();
    expect(inputValue).toBe(3);
    // descendants: the calculation and its five outputs, of which five are Data; their ancestors: the input for
    // the calculation, the calculation and the input for each output (1 + 5 × 2 rows)
    expect(
      await new QueryBuilder()
        .append(Int, { tag: 'i', filters: { id: input.pk! } })
        .children()
        .count(),
    ).toBe(6);
    expect(
      await new QueryBuilder()
        .append(Int, { tag: 'i', filters: { id: input.pk! } })
        .children({ cls: Data })
        .count(),
    ).toBe(5);
    expect(
      await new QueryBuilder()
        .append(Data, { tag: 'o', filters: { id: { in: [input.pk!] } } })
        .children()
        .parents()
        .count(),
    ).toBe(11);
    expect(
      await new QueryBuilder()
        .append(Data, { tag: 'd', filters: { id: input.pk! } })
        .outputs()
        .count(),
    ).toBe(1);
  });

  it('finds group members, comments and users of stored nodes', async () => {
    const group = await new Group({ label: unique('group') }).store();
    const members = [await new Int(7).store(), await new Int(8).store()];
    await group.addNodes(members);
    await members[0]!.comments.add('a comment');
    const ids = await new QueryBuilder()
      .append(Group, { tag: 'g', filters: { label: group.label } })
      .append(Int, { withGroup: 'g', project: 'id' })
      .all({ flat: true });
    expect([...ids].sort()).toEqual(members.map((m) => m.pk).sort());
    expect(
      await new QueryBuilder()
        .append(Int, { tag: 'n', filters: { id: members[0]!.pk! } })
        .append(Group, { withNode: 'n', project: 'label' })
        .all({ flat: true }),
    ).toEqual([group.label]);
    const [comment] = (await new QueryBuilder()
      .append(Int, { tag: 'n', filters: { id: members[0]!.pk! } })
      .append(Comment, { withNode: 'n', project: '*' })
      .one()) as [Comment];
    expect(comment.content).toBe('a comment');
    // distinct: the group once although it has two members
    expect(
      await new QueryBuilder()
        .append(Group, { tag: 'g', filters: { label: group.label }, project: 'id' })
        .append(Int, { withGroup: 'g' })
        .distinct()
        .count(),
    ).toBe(1);
  });

  it('filters ctime with the Date and the ISO string the ORM gives, and orders by it', async () => {
    const label = unique('time');
    const stored: Int[] = [];
    for (let i = 0; i < 6; i++) {
      const node = new Int(i);
      await node.setLabel(label);
      stored.push(await node.store());
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const first = stored[0]!;
    expect(await new QueryBuilder().append(Int, { filters: { ctime: { in: [first.ctime] } } }).count()).toBe(
      1,
    );
    expect(await new QueryBuilder().append(Int, { filters: { ctime: first.ctimeIso } }).count()).toBe(1);
    expect(
      await new QueryBuilder().append(Int, { filters: { label, ctime: { '!in': [first.ctime] } } }).count(),
    ).toBe(5);
    const qb = new QueryBuilder().append(Int, { tag: 'n', filters: { label }, project: 'attributes.value' });
    expect(await qb.orderBy({ n: { ctime: 'desc' } }).all({ flat: true })).toEqual([5, 4, 3, 2, 1, 0]);
    expect(
      await qb
        .orderBy({ n: { ctime: { order: 'asc' } } })
        .offset(2)
        .limit(3)
        .all({ flat: true }),
    ).toEqual([2, 3, 4]);
    const [ctime] = (await new QueryBuilder()
      .append(Int, { filters: { id: first.pk! }, project: 'ctime' })
      .one()) as [Date];
    expect(ctime.getTime()).toBe(first.ctime.getTime());
  });

  it('lets nodes be stored while iterating, visiting each original node once (test_iterall_with_store)', async () => {
    const label = unique('iter');
    for (let i = 0; i < 10; i++) {
      const node = new Int(i);
      await node.setLabel(label);
      await node.store();
    }
    const clones: number[] = [];
    for await (const [node] of new QueryBuilder()
      .append(Int, { filters: { label }, project: '*' })
      .iterall({ batchSize: 2 })) {
      const clone = new Int((node as Int).value);
      await clone.setLabel(label);
      await clone.store();
      clones.push(clone.value);
    }
    expect(clones.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await new QueryBuilder().append(Int, { filters: { label } }).count()).toBe(20);
  });
});
