import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MultipleObjectsError, NotExistentError, QueryError } from '../../src/errors.js';
import {
  AuthInfo,
  CalcFunctionNode,
  CalcJobNode,
  Comment,
  Computer,
  Data,
  Dict,
  Group,
  Int,
  Log,
  Node,
  ProcessNode,
  User,
  WorkChainNode,
} from '../../src/orm.js';
import { QueryBuilder, registerEntityLoader } from '../../src/querybuilder.js';
import { ARCHIVES, loadArchives, readExpectation, type ArchiveExpectation } from './support/archives.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';

// everything aiida-core itself dumped from the four archives, merged (they come from one profile)
const expected = ARCHIVES.map(readExpectation);
const nodes = expected.flatMap((e) => e.nodes);
const links = expected.flatMap((e) => e.links);
const groups = expected.flatMap((e) => e.groups);
const comments = expected.flatMap((e) => e.comments);
const logs = expected.flatMap((e) => e.logs);
const nodeTypeCounts = new Map<string, number>();
for (const e of expected)
  for (const [type, n] of Object.entries(e.node_type_counts))
    nodeTypeCounts.set(type, (nodeTypeCounts.get(type) ?? 0) + n);
const processTypeCounts = new Map<string, number>();
for (const e of expected)
  for (const [type, n] of Object.entries(e.process_type_counts))
    processTypeCounts.set(type, (processTypeCounts.get(type) ?? 0) + n);
const linkTypeCounts = new Map<string, number>();
for (const e of expected)
  for (const [type, n] of Object.entries(e.link_type_counts))
    linkTypeCounts.set(type, (linkTypeCounts.get(type) ?? 0) + n);
const byUuid = new Map(nodes.map((n) => [n.uuid, n]));
const computerNodes = expected.flatMap(
  (e: ArchiveExpectation & { nodes: readonly { computer_uuid?: string | null }[] }) =>
    e.nodes.filter((n) => (n as { computer_uuid?: string | null }).computer_uuid != null).map((n) => n.uuid),
);

/** Every (ancestor, descendant) pair once per provenance path over create/input_calc links, as aiida's CTE. */
function closurePairs(): string[] {
  const children = new Map<string, string[]>();
  for (const l of links) {
    if (l.type !== 'create' && l.type !== 'input_calc') continue;
    children.set(l.source, [...(children.get(l.source) ?? []), l.target]);
  }
  const pairs: string[] = [];
  const walk = (start: string, from: string): void => {
    for (const next of children.get(from) ?? []) {
      pairs.push(`${start}>${next}`);
      walk(start, next);
    }
  };
  for (const n of nodes) walk(n.uuid, n.uuid);
  return pairs.sort();
}

const sorted = <T>(values: readonly T[]): T[] => [...values].sort();

describe.each(DIALECTS)('QueryBuilder over the fixture archives on %s', (dialect) => {
  let storage: TestStorage;
  const qb = (): QueryBuilder => new QueryBuilder({ backend: storage.backend });

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    await loadArchives(storage.backend, ARCHIVES);
  }, 60_000);
  afterAll(async () => storage?.close());

  it('counts every node type exactly when subclassing is off', async () => {
    expect(await qb().append('').count()).toBe(nodes.length);
    for (const [type, n] of nodeTypeCounts) {
      expect(await qb().append(type, { subclassing: false }).count(), type).toBe(n);
    }
  });

  it('matches node type prefixes with subclassing, as aiida-core does', async () => {
    const countPrefix = (prefix: string): number =>
      nodes.filter((n) => n.node_type.startsWith(prefix)).length;
    const cases: [string, string][] = [
      ['', ''],
      ['data.Data.', 'data.'],
      ['data.core.array.ArrayData.', 'data.core.array.'],
      ['data.core.int.Int.', 'data.core.int.'],
      ['process.ProcessNode.', 'process.'],
      ['process.calculation.CalculationNode.', 'process.calculation.'],
      ['process.workflow.workchain.WorkChainNode.', 'process.workflow.workchain.'],
      ['data.core.code.abstract.AbstractCode.', 'data.core.code.'],
    ];
    for (const [type, prefix] of cases)
      expect(await qb().append(type).count(), type).toBe(countPrefix(prefix));
    // a list of types is OR-ed
    const ints = nodeTypeCounts.get('data.core.int.Int.')!;
    const floats = nodeTypeCounts.get('data.core.float.Float.')!;
    expect(
      await qb().append(['data.core.int.Int.', 'data.core.float.Float.'], { subclassing: false }).count(),
    ).toBe(ints + floats);
    // an ORM-like class with a static nodeType stands for its type
    class Int {
      static readonly nodeType = 'data.core.int.Int.';
    }
    expect(await qb().append(Int).count()).toBe(ints);
  });

  it('filters on process_type for process classes', async () => {
    for (const [type, n] of processTypeCounts) {
      expect(
        await qb()
          .append('process.ProcessNode.', { filters: { process_type: type } })
          .count(),
        type,
      ).toBe(n);
    }
    const ArithmeticAdd = {
      nodeType: 'process.calculation.calcjob.CalcJobNode.',
      processType: 'aiida.calculations:core.arithmetic.add',
    };
    expect(await qb().append(ArithmeticAdd).count()).toBe(1);
    const Other = {
      nodeType: 'process.calculation.calcjob.CalcJobNode.',
      processType: 'aiida.calculations:core.other',
    };
    expect(await qb().append(Other).count()).toBe(0);
    expect(qb().append(ArithmeticAdd).asDict().filters['CalcJobNode_1']).toEqual({
      node_type: { like: 'process.calculation.calcjob.%' },
      process_type: {
        or: [
          { '==': 'aiida.calculations:core.arithmetic.add' },
          { like: 'aiida.calculations:core.arithmetic.add.' },
        ],
      },
    });
  });

  it('joins along links in both directions with edge projections (withIncoming / withOutgoing)', async () => {
    const want = sorted(links.map((l) => `${l.source} ${l.target} ${l.type} ${l.label}`));
    const outputs = await qb()
      .append('', { tag: 'in', project: 'uuid' })
      .append('', { tag: 'out', withIncoming: 'in', project: 'uuid', edgeProject: ['type', 'label'] })
      .all();
    expect(sorted(outputs.map((r) => r.join(' ')))).toEqual(want);
    const inputs = await qb()
      .append('', { tag: 'out', project: 'uuid' })
      .append('', { tag: 'in', withOutgoing: 'out', project: 'uuid', edgeProject: ['type', 'label'] })
      .all();
    expect(
      sorted(
        inputs.map(([o, i, type, label]) => `${String(i)} ${String(o)} ${String(type)} ${String(label)}`),
      ),
    ).toEqual(want);
    for (const [type, n] of linkTypeCounts) {
      expect(
        await qb().append('', { tag: 'a' }).append('', { withIncoming: 'a', edgeFilters: { type } }).count(),
        type,
      ).toBe(n);
    }
    // the default join of two nodes is withIncoming; edge tags default to '<a>--<b>'
    const implicit = qb().append('', { tag: 'a' }).append('', { tag: 'b' });
    expect(implicit.getUsedTags()).toEqual(['a', 'b', 'a--b']);
    expect(await implicit.count()).toBe(links.length);
    expect(await qb().append('', { tag: 'a' }).append('', { direction: -1 }).count()).toBe(links.length);
    // edge filters with an escaped underscore
    const labelled = links.filter((l) => /^inner__/.test(l.label)).length;
    expect(labelled).toBeGreaterThan(0);
    expect(
      await qb()
        .append('', { tag: 'a' })
        .append('', { withIncoming: 'a', edgeFilters: { label: { like: 'inner\\_\\_%' } } })
        .count(),
    ).toBe(labelled);
  });

  it('walks the provenance recursively (withAncestors / withDescendants) over create and input_calc links', async () => {
    const want = closurePairs();
    expect(want.length).toBeGreaterThan(50);
    const down = await qb()
      .append('', { tag: 'a', project: 'uuid' })
      .append('', { withAncestors: 'a', project: 'uuid' })
      .all();
    expect(sorted(down.map(([a, d]) => `${String(a)}>${String(d)}`))).toEqual(want);
    const up = await qb()
      .append('', { tag: 'd', project: 'uuid' })
      .append('', { withDescendants: 'd', project: 'uuid' })
      .all();
    expect(sorted(up.map(([d, a]) => `${String(a)}>${String(d)}`))).toEqual(want);
    // depth and path edge projections; the walk from one start node
    const start = nodes.find(
      (n) => n.node_type === 'data.core.int.Int.' && want.some((p) => p.startsWith(`${n.uuid}>`)),
    )!;
    const rows = await qb()
      .append('', { tag: 'a', filters: { uuid: start.uuid }, project: 'id' })
      .append('', {
        tag: 'd',
        withAncestors: 'a',
        project: ['uuid', 'id'],
        edgeProject: ['depth', 'path', 'ancestor_id', 'descendant_id'],
      })
      .all();
    expect(sorted(rows.map((r) => `${start.uuid}>${String(r[1])}`))).toEqual(
      want.filter((p) => p.startsWith(`${start.uuid}>`)),
    );
    for (const [aId, , dId, depth, path, ancestorId, descendantId] of rows as [
      number,
      string,
      number,
      number,
      number[],
      number,
      number,
    ][]) {
      expect(path[0]).toBe(aId);
      expect(path[path.length - 1]).toBe(dId);
      expect(path.length).toBe(depth + 2);
      expect(ancestorId).toBe(aId);
      expect(descendantId).toBe(dId);
    }
    const direct = rows.filter((r) => r[3] === 0).length;
    expect(
      await qb()
        .append('', { tag: 'a', filters: { uuid: start.uuid } })
        .append('', { withAncestors: 'a', edgeFilters: { depth: 0 } })
        .count(),
    ).toBe(direct);
    expect(
      await qb()
        .append('', { tag: 'a', filters: { uuid: start.uuid } })
        .children()
        .count(),
    ).toBe(rows.length);
  });

  it('joins groups and nodes both ways, and groups to users', async () => {
    for (const group of groups) {
      const members = await qb()
        .append('group.core', { tag: 'g', filters: { label: group.label } })
        .append('', { withGroup: 'g', project: 'uuid' })
        .all({ flat: true });
      expect(sorted(members)).toEqual(sorted(group.node_uuids));
    }
    const structure = groups.find((g) => g.label === 'fixtures/sub')!.node_uuids[0]!;
    const labels = await qb()
      .append('', { tag: 'n', filters: { uuid: structure } })
      .append('group.core', { withNode: 'n', project: 'label' })
      .all({ flat: true });
    expect(sorted(labels)).toEqual(['data-types', 'fixtures/sub']);
    expect(await qb().append('user', { tag: 'u' }).append('group.core', { withUser: 'u' }).count()).toBe(
      groups.length,
    );
    expect(await qb().append('group.core', { tag: 'g' }).append('user', { withGroup: 'g' }).count()).toBe(
      groups.length,
    );
    // distinct: the group once although it has 16 nodes
    const once = await qb()
      .append('group.core', { tag: 'g', filters: { label: 'data-types' }, project: 'id' })
      .append('', { withGroup: 'g' })
      .distinct()
      .all();
    expect(once).toHaveLength(1);
    // group type filters: 'group.core' with subclassing matches every type string, without only 'core'
    expect(qb().append('group.core').asDict().filters['core_1']).toEqual({ type_string: { like: '%' } });
    expect(qb().append('group.core.auto', { subclassing: false }).asDict().filters['auto_1']).toEqual({
      type_string: { '==': 'core.auto' },
    });
    expect(await qb().append('group.core.auto').count()).toBe(0);
  });

  it('joins comments, logs, users and computers with their relationships', async () => {
    const commented = sorted(comments.map((c) => `${c.node_uuid} ${c.content}`));
    const viaNode = await qb()
      .append('', { tag: 'n', project: 'uuid' })
      .append('comment', { withNode: 'n', project: 'content' })
      .all();
    expect(sorted(viaNode.map((r) => r.join(' ')))).toEqual(commented);
    const viaComment = await qb()
      .append('comment', { tag: 'c', project: 'content' })
      .append('', { withComment: 'c', project: 'uuid' })
      .all();
    expect(sorted(viaComment.map(([c, n]) => `${String(n)} ${String(c)}`))).toEqual(commented);
    expect(await qb().append('user', { tag: 'u' }).append('comment', { withUser: 'u' }).count()).toBe(
      comments.length,
    );
    expect(await qb().append('comment', { tag: 'c' }).append('user', { withComment: 'c' }).count()).toBe(
      comments.length,
    );

    const logged = sorted(logs.map((l) => `${l.node_uuid} ${l.message}`));
    const viaLogNode = await qb()
      .append('', { tag: 'n', project: 'uuid' })
      .append('log', { withNode: 'n', project: 'message' })
      .all();
    expect(sorted(viaLogNode.map((r) => r.join(' ')))).toEqual(logged);
    const viaLog = await qb()
      .append('log', { tag: 'l', project: 'message' })
      .append('', { withLog: 'l', project: 'uuid' })
      .all();
    expect(sorted(viaLog.map(([m, n]) => `${String(n)} ${String(m)}`))).toEqual(logged);

    const onComputer = await qb()
      .append('computer', { tag: 'c', filters: { label: 'localhost' } })
      .append('', { withComputer: 'c', project: 'uuid' })
      .all({ flat: true });
    expect(sorted(onComputer)).toEqual(sorted(computerNodes));
    expect(await qb().append('', { tag: 'n' }).append('computer', { withNode: 'n' }).count()).toBe(
      computerNodes.length,
    );
    expect(
      await qb().append('user', { tag: 'u', project: 'email' }).append('', { withUser: 'u' }).count(),
    ).toBe(nodes.length);
    const owners = await qb()
      .append('', { tag: 'n' })
      .append('user', { withNode: 'n', project: 'email' })
      .distinct()
      .all({ flat: true });
    expect(owners).toEqual(['fixtures@aiida.localhost']);
    // outer join: every Int, with its comments where there are any
    const ints = nodeTypeCounts.get('data.core.int.Int.')!;
    const commentedInts = comments.filter(
      (c) => byUuid.get(c.node_uuid)?.node_type === 'data.core.int.Int.',
    ).length;
    const outer = await qb()
      .append('data.core.int.Int.', { tag: 'n', project: 'id' })
      .append('comment', { withNode: 'n', outerjoin: true, project: ['*', 'content'] })
      .all();
    expect(outer.length).toBe(ints);
    expect(outer.filter((r) => r[1] !== null)).toHaveLength(commentedInts);
    expect(outer.filter((r) => r[1] === null).every((r) => r[2] === null)).toBe(true);
  });

  it('projects columns, attributes, extras, entities and every column', async () => {
    const ints = nodes.filter((n) => n.node_type === 'data.core.int.Int.');
    const values = await qb()
      .append('data.core.int.Int.', { project: ['uuid', 'attributes.value', 'extras._aiida_hash', 'ctime'] })
      .all();
    expect(values).toHaveLength(ints.length);
    for (const [uuid, value, hash, ctime] of values) {
      const node = byUuid.get(uuid as string)!;
      expect(value).toEqual(node.attributes.value);
      expect(hash).toEqual(node.extras._aiida_hash);
      expect(ctime).toBeInstanceOf(Date);
      expect((ctime as Date).getTime()).toBe(new Date(node.ctime).getTime());
    }
    const [entity] = (await qb()
      .append('', { filters: { uuid: ints[0]!.uuid }, project: '*' })
      .one()) as [Int];
    expect(entity).toBeInstanceOf(Int);
    expect(entity.uuid).toBe(ints[0]!.uuid);
    expect(entity.nodeType).toBe('data.core.int.Int.');
    expect(entity.value).toBe(ints[0]!.attributes.value);
    expect(entity.ctimeIso).toBe(ints[0]!.ctime);
    const [all] = await qb().append('computer', { tag: 'c', project: '**' }).dict();
    expect(Object.keys(all!.c!).sort()).toEqual([
      'description',
      'hostname',
      'id',
      'label',
      'metadata',
      'scheduler_type',
      'transport_type',
      'uuid',
    ]);
    expect(all!.c!.metadata).toEqual(expected[3]!.computers[0]!.metadata);
    // aliases: pk for id, user for user_id
    const [pk, user] = (await qb()
      .append('', { filters: { uuid: ints[0]!.uuid }, project: ['pk', 'user'] })
      .one()) as [number, number];
    expect(pk).toBe(entity.pk);
    expect(user).toBe(entity.userId);
    // aggregates
    const [[max, min, count]] = (await qb()
      .append('data.core.int.Int.', {
        project: [
          { id: { func: 'max' } },
          { 'attributes.value': { func: 'min', cast: 'i' } },
          { uuid: { func: 'count' } },
        ],
      })
      .all()) as [[number, number, number]];
    expect(count).toBe(ints.length);
    expect(min).toBe(Math.min(...ints.map((n) => n.attributes.value as number)));
    expect(max).toBeGreaterThan(0);
  });

  it('takes ORM classes and gives ORM entities for every kind', async () => {
    const count = (prefix: string): number => nodes.filter((n) => n.node_type.startsWith(prefix)).length;
    expect(await qb().append(Int).count()).toBe(nodeTypeCounts.get('data.core.int.Int.'));
    expect(await qb().append(Dict, { subclassing: false }).count()).toBe(
      nodeTypeCounts.get('data.core.dict.Dict.'),
    );
    expect(await qb().append(Data).count()).toBe(count('data.'));
    expect(await qb().append(Node).count()).toBe(nodes.length);
    expect(await qb().append(Node, { subclassing: false }).count()).toBe(0);
    expect(await qb().append(ProcessNode).count()).toBe(count('process.'));
    expect(await qb().append([CalcJobNode, WorkChainNode]).count()).toBe(
      count('process.calculation.calcjob.') + count('process.workflow.workchain.'),
    );
    // an unregistered subclass stands for its registered ancestor
    class MyInt extends Int {}
    expect(await qb().append(MyInt).count()).toBe(nodeTypeCounts.get('data.core.int.Int.'));

    const calcs = (await qb()
      .append(CalcFunctionNode, { project: '*' })
      .all({ flat: true })) as CalcFunctionNode[];
    expect(calcs).toHaveLength(nodeTypeCounts.get('process.calculation.calcfunction.CalcFunctionNode.')!);
    expect(calcs.every((c) => c instanceof CalcFunctionNode)).toBe(true);
    const [user] = (await qb().append(User, { project: '*' }).one()) as [User];
    expect(user).toBeInstanceOf(User);
    expect(user.email).toBe('fixtures@aiida.localhost');
    const [computer] = (await qb().append(Computer, { project: '*' }).one()) as [Computer];
    expect(computer).toBeInstanceOf(Computer);
    expect(computer.label).toBe('localhost');
    const groupObjects = (await qb().append(Group, { project: '*' }).all({ flat: true })) as Group[];
    expect(groupObjects.map((g) => g.label).sort()).toEqual(groups.map((g) => g.label).sort());
    expect(groupObjects.every((g) => g instanceof Group)).toBe(true);
    const commentObjects = (await qb()
      .append(Comment, { project: ['*', 'content'] })
      .all()) as [Comment, string][];
    expect(commentObjects.every(([c, content]) => c instanceof Comment && c.content === content)).toBe(true);
    const logObjects = (await qb().append(Log, { project: '*' }).all({ flat: true })) as Log[];
    expect(logObjects).toHaveLength(logs.length);
    expect(logObjects.every((l) => l instanceof Log)).toBe(true);
    // joins written with classes, and the class standing for its tag
    const owned = await qb().append(User, { tag: 'u' }).append(Int, { withUser: User }).count();
    expect(owned).toBe(nodeTypeCounts.get('data.core.int.Int.'));
    // links and edges stay rows; an override of the loader applies
    const [link] = (await qb().append('link', { project: '*' }).first()) as [Record<string, unknown>];
    expect(Object.keys(link).sort()).toEqual(['id', 'input_id', 'label', 'output_id', 'type']);
    const restore = registerEntityLoader('user', (_backend, row) => ({ overridden: row.email }));
    try {
      expect(await qb().append(User, { project: '*' }).first({ flat: true })).toEqual({
        overridden: 'fixtures@aiida.localhost',
      });
    } finally {
      restore();
    }
    expect(await qb().append(User, { project: '*' }).first({ flat: true })).toBeInstanceOf(User);
  });

  it('joins auth infos to computers and users (withComputer, withUser, withAuthinfo)', async () => {
    const db = storage.backend.executor();
    const d = storage.backend.dialect;
    const computer = await db.selectFrom('db_dbcomputer').select('id').executeTakeFirstOrThrow();
    const user = await db.selectFrom('db_dbuser').select('id').executeTakeFirstOrThrow();
    await db
      .insertInto('db_dbauthinfo')
      .values({
        aiidauser_id: user.id,
        dbcomputer_id: computer.id,
        metadata: d.encodeJson({}),
        auth_params: d.encodeJson({ safe_interval: 0.5 }),
        enabled: d.encodeBool(true),
      })
      .execute();
    try {
      expect(
        await qb().append('computer', { tag: 'c' }).append('authinfo', { withComputer: 'c' }).count(),
      ).toBe(1);
      expect(await qb().append('user', { tag: 'u' }).append('authinfo', { withUser: 'u' }).count()).toBe(1);
      const [enabled, interval, email] = await qb()
        .append('authinfo', { tag: 'a', project: ['enabled', 'auth_params.safe_interval'] })
        .append('user', { withAuthinfo: 'a', project: 'email' })
        .one();
      expect([enabled, interval, email]).toEqual([true, 0.5, 'fixtures@aiida.localhost']);
      const [info] = (await qb().append('authinfo', { project: '*' }).one()) as [AuthInfo];
      expect(info).toBeInstanceOf(AuthInfo);
      expect(
        await qb()
          .append('authinfo', { filters: { enabled: false } })
          .count(),
      ).toBe(0);
    } finally {
      await db.deleteFrom('db_dbauthinfo').execute();
    }
  });

  it('returns the same rows through all, dict, iterall, iterdict, first and count', async () => {
    const base = (): QueryBuilder =>
      qb()
        .append('data.core.int.Int.', { tag: 'i', project: ['id', 'attributes.value'] })
        .orderBy({ i: [{ id: 'asc' }] });
    const all = await base().all();
    const dict = await base().dict();
    const iterall: unknown[][] = [];
    for await (const row of base().iterall({ batchSize: 4 })) iterall.push(row);
    const iterdict: unknown[] = [];
    for await (const row of base().iterdict({ batchSize: 3 })) iterdict.push(row);
    expect(iterall).toEqual(all);
    expect(dict).toEqual(all.map(([id, value]) => ({ i: { id, 'attributes.value': value } })));
    expect(iterdict).toEqual(dict);
    expect(await base().count()).toBe(all.length);
    expect(await base().first()).toEqual(all[0]);
    expect(await base().all({ flat: true })).toEqual(all.flat());
    expect(await base().all({ batchSize: 5 })).toEqual(all);
    // without ordering, batched reading still yields every row exactly once (keyset pagination)
    const unordered: unknown[] = [];
    for await (const [id] of qb().append('', { project: 'id' }).iterall({ batchSize: 7 })) unordered.push(id);
    expect(new Set(unordered).size).toBe(nodes.length);
    expect(unordered).toHaveLength(nodes.length);
    const joined: string[] = [];
    for await (const row of qb()
      .append('', { tag: 'a', project: 'id' })
      .append('', { withIncoming: 'a', project: 'id' })
      .iterall({ batchSize: 9 })) {
      joined.push(row.join('-'));
    }
    expect(joined).toHaveLength(links.length);
    // limit, offset and flat first
    const window = await base().limit(3).offset(2).all();
    expect(window).toEqual(all.slice(2, 5));
    const windowBatched: unknown[] = [];
    for await (const row of base().limit(5).offset(1).iterall({ batchSize: 2 })) windowBatched.push(row);
    expect(windowBatched).toEqual(all.slice(1, 6));
    expect(
      await base()
        .offset(all.length - 2)
        .count(),
    ).toBe(2);
    expect(
      await qb()
        .append('', { filters: { uuid: nodes[0]!.uuid }, project: 'uuid' })
        .first({ flat: true }),
    ).toBe(nodes[0]!.uuid);
    expect(
      await qb()
        .append('', { filters: { uuid: nodes[0]!.uuid }, project: ['uuid', 'label'] })
        .first({ flat: true }),
    ).toEqual([nodes[0]!.uuid, nodes[0]!.label]);
    expect(
      await qb()
        .append('', { filters: { label: 'no such label' } })
        .first(),
    ).toBeNull();
  });

  it('raises NotExistentError and MultipleObjectsError from one()', async () => {
    await expect(
      qb()
        .append('', { filters: { label: 'no such label' } })
        .one(),
    ).rejects.toBeInstanceOf(NotExistentError);
    await expect(qb().append('data.core.int.Int.').one()).rejects.toBeInstanceOf(MultipleObjectsError);
    const [uuid] = await qb()
      .append('', { filters: { uuid: nodes[3]!.uuid }, project: 'uuid' })
      .one();
    expect(uuid).toBe(nodes[3]!.uuid);
  });

  it('orders by columns and by attributes with a cast, ascending and descending', async () => {
    const ints = nodes.filter((n) => n.node_type === 'data.core.int.Int.');
    const byCtime = await qb()
      .append('', { tag: 'n', project: 'uuid' })
      .orderBy({ n: { ctime: 'desc' } })
      .all({ flat: true });
    expect(byCtime).toEqual(
      [...nodes].sort((a, b) => (a.ctime < b.ctime ? 1 : a.ctime > b.ctime ? -1 : 0)).map((n) => n.uuid),
    );
    const byValue = await qb()
      .append('data.core.int.Int.', { tag: 'n', project: 'attributes.value' })
      .orderBy([{ n: [{ 'attributes.value': { order: 'desc', cast: 'i' } }, 'id'] }])
      .all({ flat: true });
    expect(byValue).toEqual(ints.map((n) => n.attributes.value as number).sort((a, b) => b - a));
    // nullable columns sort NULLs last ascending on both dialects
    const processTypes = await qb()
      .append('', { tag: 'n', project: 'process_type' })
      .orderBy({ n: ['process_type', 'id'] })
      .all({ flat: true });
    expect(processTypes.at(-1)).toBeNull();
    expect(processTypes[0]).not.toBeNull();
  });

  it('filters timestamps with Dates and ISO strings, and uuids in any spelling', async () => {
    const sortedTimes = sorted(nodes.map((n) => n.ctime));
    const middle = sortedTimes[Math.floor(sortedTimes.length / 2)]!;
    // a Date holds milliseconds and stands for its whole millisecond: after it is from the next millisecond on
    const next = new Date(new Date(middle).getTime() + 1).toISOString().replace('Z', '000+00:00');
    const later = nodes.filter((n) => n.ctime >= next).length;
    expect(
      await qb()
        .append('', { filters: { ctime: new Date(middle) } })
        .count(),
    ).toBe(nodes.filter((n) => n.ctime.slice(0, 23) === middle.slice(0, 23)).length);
    expect(
      await qb()
        .append('', { filters: { ctime: { '>': new Date(middle) } } })
        .count(),
    ).toBe(later);
    // microseconds count: the ISO string with them is exact
    expect(
      await qb()
        .append('', { filters: { ctime: { '>': middle } } })
        .count(),
    ).toBe(nodes.filter((n) => n.ctime > middle).length);
    expect(
      await qb()
        .append('', { filters: { ctime: { '<': '2100-01-01' } } })
        .count(),
    ).toBe(nodes.length);
    const [ctime] = (await qb()
      .append('', { filters: { uuid: nodes[0]!.uuid }, project: 'ctime' })
      .one()) as [Date];
    expect(
      await qb()
        .append('', { filters: { ctime: { in: [nodes[0]!.ctime] } } })
        .count(),
    ).toBe(1);
    expect(
      await qb()
        .append('', { filters: { ctime: { '!in': [nodes[0]!.ctime] } } })
        .count(),
    ).toBe(nodes.length - 1);
    expect(ctime.getTime()).toBe(new Date(nodes[0]!.ctime).getTime());
    const uuid = nodes[5]!.uuid;
    expect(
      await qb()
        .append('', { filters: { uuid: uuid.toUpperCase() } })
        .count(),
    ).toBe(1);
    expect(
      await qb()
        .append('', { filters: { uuid: { like: `${uuid.slice(0, 8)}%` } } })
        .count(),
    ).toBe(1);
    expect(
      await qb()
        .append('', { filters: { uuid: { in: [uuid, 'not-a-uuid'] } } })
        .count(),
    ).toBe(1);
    expect(
      await qb()
        .append('', { filters: { uuid: 'not-a-uuid' } })
        .count(),
    ).toBe(0);
    expect(
      await qb()
        .append('', { filters: { uuid: { '!==': 'not-a-uuid' } } })
        .count(),
    ).toBe(nodes.length);
    expect(
      await qb()
        .append('', { filters: { id: { in: Array.from({ length: 5000 }, (_, i) => i) } } })
        .count(),
    ).toBe(nodes.length);
    expect(
      await qb()
        .append('', { filters: { process_type: null } })
        .count(),
    ).toBe(nodes.filter((n) => n.process_type === null).length);
    expect(
      await qb()
        .append('', { filters: { process_type: { '!==': null } } })
        .count(),
    ).toBe(nodes.filter((n) => n.process_type !== null).length);
  });

  it('round-trips through asDict/fromDict with the same results', async () => {
    const original = qb()
      .append('data.core.int.Int.', {
        tag: 'x',
        filters: { 'attributes.value': { '>': 3 } },
        project: ['id'],
      })
      .append('process.calculation.CalculationNode.', {
        tag: 'c',
        withOutgoing: 'x',
        project: ['uuid'],
        edgeProject: 'label',
      })
      .orderBy({ x: 'id' })
      .limit(20);
    const dict = original.asDict();
    expect(dict.path[1]).toEqual({
      entity_type: 'process.calculation.CalculationNode.',
      orm_base: 'node',
      tag: 'c',
      joining_keyword: 'with_outgoing',
      joining_value: 'x',
      edge_tag: 'x--c',
      outerjoin: false,
    });
    const copy = QueryBuilder.fromDict(JSON.parse(JSON.stringify(dict)), { backend: storage.backend });
    expect(copy.asDict()).toEqual(dict);
    expect(await copy.all()).toEqual(await original.all());
    expect(original.clone().asDict()).toEqual(dict);
    // a dictionary written by aiida-core (tests/orm/test_querybuilder/test_as_dict.yml)
    const fromAiida = QueryBuilder.fromDict(
      {
        distinct: false,
        filters: { node_1: { 'extras.tag4': 'appl_pecoal', node_type: { like: '%' } } },
        limit: null,
        offset: null,
        order_by: [],
        path: [
          {
            edge_tag: null,
            entity_type: '',
            joining_keyword: null,
            joining_value: null,
            orm_base: 'node',
            outerjoin: false,
            tag: 'node_1',
          },
        ],
        project: { node_1: [] },
        project_map: {},
      },
      { backend: storage.backend },
    );
    expect(await fromAiida.count()).toBe(0);
    expect(fromAiida.asDict().filters).toEqual({
      node_1: { 'extras.tag4': 'appl_pecoal', node_type: { like: '%' } },
    });
    expect(() => QueryBuilder.fromDict({ path: [{ tag: 'x' }] })).toThrow(QueryError);
  });

  it('queries links on their own (entity type link)', async () => {
    expect(await qb().append('link').count()).toBe(links.length);
    const rows = await qb()
      .append('link', { filters: { type: 'return' }, project: ['type', 'label'] })
      .all();
    expect(rows).toHaveLength(linkTypeCounts.get('return')!);
    expect(() => qb().append('link').append('link')).toThrow(/not a relationship of a link/);
  });

  it('explains its plan and shows its SQL', async () => {
    const query = qb().append('data.core.int.Int.', { filters: { 'attributes.value': 7 } });
    expect(await query.analyzeQuery()).toMatch(dialect === 'postgres' ? /Scan|Index/ : /SCAN|SEARCH/);
    const text = query.asSql();
    expect(text).toContain('db_dbnode');
    expect(text).toContain('-- parameters:');
    expect(query.asSql({ inline: true })).toContain('data.core.int.');
  });
});
