import { randomUUID } from 'node:crypto';
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { BACKENDS, useEngine } from '../engine/helpers.js';
import { fillProfile, PNG_PIXEL, type FilledProfile } from './web-fixture.js';
import {
  ErrorBody,
  Envelope,
  NodeRow,
  ProcessRow,
  GroupRow,
  ComputerRow,
  UserRow,
  CallTree,
  GraphPiece,
  Statistics,
  ReportEntry,
  RepoEntry,
  LinkedNodeRow,
} from '../../src/web/schemas.js';
import { z } from 'zod';
import { QueryBuilder } from '../../src/querybuilder.js';
import { RESOURCES } from '../../src/web/resources/definitions.js';
import { shapeRow } from '../../src/web/resources/listing.js';
import { GRAPH_ROW, linkedRows, nodeRowsByPk, rowShapeOf } from '../../src/web/resources/node-rows.js';
import { pageIdsQuery } from '../../src/web/resources/page-ids.js';

describe.each(BACKENDS)('the REST API on %s', (_name, open) => {
  const engine = useEngine(open);
  let server: WebServer;
  let filled: FilledProfile;
  beforeAll(async () => {
    filled = await fillProfile();
    server = await createWebServer({ storage: engine().storage, token: 'secret-token', page: false });
  });
  afterAll(async () => {
    await server.close();
    await filled.cleanup();
  });

  const get = async (url: string) => {
    const response = await server.app.inject({ method: 'GET', url });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body,
      json: () => JSON.parse(response.body) as unknown,
    };
  };
  const ok = async <T extends z.ZodType>(
    url: string,
    data: T,
  ): Promise<z.infer<ReturnType<typeof Envelope<T>>>> => {
    const response = await get(url);
    expect(response.status, response.body).toBe(200);
    return Envelope(data).parse(response.json());
  };
  const refused = async (url: string, status: number, parameter: string | null) => {
    const response = await get(url);
    expect(response.status, response.body).toBe(status);
    const body = ErrorBody.parse(response.json());
    expect(body.parameter).toBe(parameter);
    return body;
  };

  it('reads rows straight from the database exactly as the QueryBuilder shapes them', async () => {
    const context = server.context;
    const pks = (
      (await new QueryBuilder({ backend: context.storage })
        .append('', { project: ['id'] })
        .all({ flat: true })) as number[]
    ).sort((a, b) => a - b);
    // JSON: what the client gets (a Date and its ISO string are the same text)
    const sent = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
    for (const name of ['nodes', 'processes', 'calcjobs', 'codes'] as const) {
      const definition = RESOURCES[name];
      const project = [...definition.projection, 'attributes.value'];
      const shape = rowShapeOf(definition, project);
      expect(shape).not.toBeNull();
      if (shape === null) continue;
      const viaQb = await new QueryBuilder({ backend: context.storage })
        .append('', { tag: 'e', filters: { id: { in: pks } }, project })
        .orderBy({ e: [{ id: 'asc' }] })
        .dict();
      expect(sent(await nodeRowsByPk(context, shape, pks))).toEqual(
        sent(viaQb.map((row) => shapeRow(definition, row['e'] ?? {}))),
      );
    }
    // the graph's rows: a data node without the process fields
    const { rows } = await linkedRows(context, filled.outer.pk ?? 0, 'incoming', 100);
    expect(rows.length).toBeGreaterThan(0);
    for (const { row } of rows) {
      const [viaQb] = await new QueryBuilder({ backend: context.storage })
        .append('', { tag: 'e', filters: { id: row['id'] }, project: [...RESOURCES.processes.projection] })
        .dict();
      const expected = shapeRow(RESOURCES.processes, viaQb?.['e'] ?? {});
      if (!String(row['node_type']).startsWith('process.'))
        for (const { key } of GRAPH_ROW.attributes) delete expected[key];
      expect(sent(row)).toEqual(sent(expected));
    }
  });

  it('lists nodes with the envelope, filters, ordering and pagination', async () => {
    const all = await ok('/api/v4/nodes?orderby=-id', z.object({ nodes: z.array(NodeRow) }));
    expect(all).toMatchObject({
      method: 'GET',
      path: '/api/v4/nodes',
      query_string: 'orderby=-id',
      resource_type: 'nodes',
      id: null,
    });
    expect(all.url).toMatch(/^http:\/\/[^/]+\/api\/v4\/nodes\?orderby=-id$/);
    const ids = all.data.nodes.map((node) => node.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const ints = await ok(
      '/api/v4/nodes?node_type="data.core.int.Int."&orderby=id',
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(ints.data.nodes.length).toBeGreaterThan(2);
    expect(ints.data.nodes.every((node) => node.full_type === 'data.core.int.Int.|')).toBe(true);
    const byFullType = await ok(
      '/api/v4/nodes?full_type="data.core.int.Int.|"',
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(byFullType.data.nodes.length).toBe(ints.data.nodes.length);
    const withAttributes = await ok(
      `/api/v4/nodes?id=${filled.x.pk}&attributes=true&attributes_filter=value`,
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(withAttributes.data.nodes[0]?.['attributes.value']).toBe(1);
    const since = await ok(
      '/api/v4/nodes?ctime>=2000-01-01T00:00:00+00:00&id=in=' + filled.x.pk + ',' + filled.notes.pk,
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(since.data.nodes.map((node) => node.id).sort()).toEqual([filled.x.pk, filled.notes.pk].sort());
    const like = await ok(
      '/api/v4/nodes?node_type=like="data.core.singlefile%"',
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(like.data.nodes.map((node) => node.id)).toEqual([filled.notes.pk]);

    const total = all.data.nodes.length;
    const page = await get('/api/v4/nodes/page/2?perpage=3&orderby=id');
    expect(page.status).toBe(200);
    expect(page.headers['x-total-count']).toBe(String(total));
    expect(String(page.headers['link'])).toContain('/api/v4/nodes/page/1?perpage=3&orderby=id>; rel=first');
    expect(String(page.headers['link'])).toContain('rel=next');
    const pageRows = Envelope(z.object({ nodes: z.array(NodeRow) })).parse(page.json()).data.nodes;
    expect(pageRows.map((node) => node.id)).toEqual([...ids].sort((a, b) => a - b).slice(3, 6));
    const limited = await ok(
      '/api/v4/nodes?limit=2&offset=1&orderby=id',
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(limited.data.nodes.map((node) => node.id)).toEqual([...ids].sort((a, b) => a - b).slice(1, 3));
  });

  it('refuses bad parameters with a 400 naming them, and unknown ids with a 404', async () => {
    await refused('/api/v4/nodes?limit=abc', 400, 'limit');
    await refused('/api/v4/nodes?limit=100000', 400, 'limit');
    await refused('/api/v4/nodes?colour="red"', 400, 'colour');
    await refused('/api/v4/nodes?id="one"', 400, 'id');
    await refused('/api/v4/nodes?label=unquoted', 400, 'label');
    await refused('/api/v4/nodes?orderby=-colour', 400, 'orderby');
    await refused('/api/v4/nodes?limit=1&limit=2', 400, 'limit');
    await refused('/api/v4/nodes/page/2?limit=3', 400, 'limit');
    await refused('/api/v4/nodes/page/999', 400, 'page');
    await refused('/api/v4/nodes/page/x', 400, 'page');
    await refused('/api/v4/nodes?perpage=3', 400, 'perpage');
    await refused('/api/v4/nodes?full_type="nobar"', 400, 'full_type');
    await refused('/api/v4/nodes?%E0%A4%A', 400, 'query string');
    await refused('/api/v4/nodes?attributes=maybe', 400, 'attributes');
    await refused('/api/v4/nodes/not-a-uuid!', 400, 'id');
    await refused('/api/v4/nodes/999999', 404, 'id');
    await refused('/api/v4/nodes/ffffffff-ffff', 404, 'id');
    await refused(`/api/v4/processes/${filled.x.pk}`, 404, 'id');
    await refused('/api/v4/groups/424242', 404, 'id');
    await refused('/api/v4/computers/424242', 404, 'id');
    await refused('/api/v4/users/424242', 404, 'id');
    await refused(`/api/v4/nodes/${filled.notes.pk}/repo/contents?filename="missing.txt"`, 404, 'filename');
    await refused(`/api/v4/nodes/${filled.notes.pk}/repo/contents`, 400, 'filename');
    await refused('/api/v4/no-such-thing', 404, null);
    // a NUL byte PostgreSQL cannot hold in text, a number SQLite cannot bind: refused, not a 500
    await refused('/api/v4/nodes?label="a%00b"', 400, 'label');
    await refused('/api/v4/nodes?id=99999999999999999999', 400, 'id');
  });

  it('shows one node, its attributes, extras, comments and links', async () => {
    const uuid = filled.notes.uuid;
    const one = await ok(`/api/v4/nodes/${uuid.slice(0, 8)}`, z.object({ nodes: z.array(NodeRow) }));
    expect(one.id).toBe(uuid.slice(0, 8));
    expect(one.data.nodes[0]).toMatchObject({
      id: filled.notes.pk,
      uuid,
      node_type: 'data.core.singlefile.SinglefileData.',
    });
    const attributes = await ok(
      `/api/v4/nodes/${uuid}/contents/attributes`,
      z.object({ attributes: z.record(z.string(), z.unknown()) }),
    );
    expect(attributes.data.attributes['filename']).toBe('notes.txt');
    const extras = await ok(
      `/api/v4/nodes/${uuid}/contents/extras?extras_filter=project`,
      z.object({ extras: z.record(z.string(), z.unknown()) }),
    );
    expect(extras.data.extras).toEqual({ project: 'web' });
    const comments = await ok(
      `/api/v4/nodes/${uuid}/contents/comments`,
      z.object({ comments: z.array(z.string()) }),
    );
    expect(comments.data.comments).toEqual(['checked by hand']);

    const incoming = await ok(
      `/api/v4/nodes/${filled.outer.uuid}/links/incoming`,
      z.object({ incoming: z.array(LinkedNodeRow) }),
    );
    expect(incoming.data.incoming.map((row) => `${row.link_type} ${row.link_label}`).sort()).toEqual([
      'input_work do_extra',
      'input_work inner__x',
      'input_work inner__y',
      'input_work iterations',
    ]);
    const outgoing = await ok(
      `/api/v4/nodes/${filled.outer.pk}/links/outgoing?node_type=like="process.%"`,
      z.object({ outgoing: z.array(LinkedNodeRow) }),
    );
    expect(outgoing.data.outgoing.length).toBeGreaterThanOrEqual(2);
    expect(outgoing.data.outgoing.every((row) => row.link_type.startsWith('call_'))).toBe(true);
    const tree = await ok(`/api/v4/nodes/${filled.outer.pk}/links/tree?tree_in_limit=2`, GraphPiece);
    expect(tree.data.links.filter((link) => link.target === filled.outer.pk)).toHaveLength(2);
    expect(tree.data.incomplete.incoming).toBe(2);
  });

  it('lists and serves repository files with their content type', async () => {
    const list = await ok(
      `/api/v4/nodes/${filled.folder.pk}/repo/list`,
      z.object({ repo_list: z.array(RepoEntry) }),
    );
    expect(list.data.repo_list).toEqual([
      { name: 'pixel.png', type: 'FILE' },
      { name: 'sub', type: 'DIRECTORY' },
    ]);
    const sub = await ok(
      `/api/v4/nodes/${filled.folder.pk}/repo/list?filename="sub"`,
      z.object({ repo_list: z.array(RepoEntry) }),
    );
    expect(sub.data.repo_list).toEqual([{ name: 'readme.md', type: 'FILE' }]);
    const png = await server.app.inject({
      url: `/api/v4/nodes/${filled.folder.pk}/repo/contents?filename="pixel.png"`,
    });
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.headers['content-disposition']).toBe('attachment; filename="pixel.png"');
    expect(png.rawPayload.equals(PNG_PIXEL)).toBe(true);
    expect(png.headers['content-security-policy']).toContain('sandbox');
    const text = await server.app.inject({
      url: `/api/v4/nodes/${filled.notes.pk}/repo/contents?filename="notes.txt"&download=false`,
    });
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(text.headers['content-disposition']).toMatch(/^inline/);
    expect(text.body).toBe('line 1\nline 2 — ünïcode\n');
    await refused(`/api/v4/nodes/${filled.folder.pk}/repo/list?filename="pixel.png"`, 400, 'filename');
  });

  it('lists processes by state, with their call tree and report', async () => {
    const finished = await ok(
      '/api/v4/processes?process_state="finished"&orderby=id',
      z.object({ processes: z.array(ProcessRow) }),
    );
    expect(finished.data.processes.length).toBeGreaterThanOrEqual(5);
    expect(
      finished.data.processes.every((row) => row.process_state === 'finished' && row.exit_status === 0),
    ).toBe(true);
    const waiting = await ok(
      '/api/v4/processes?process_state=in="waiting","running"',
      z.object({ processes: z.array(ProcessRow) }),
    );
    expect(waiting.data.processes).toEqual([]);
    const byLabel = await ok(
      '/api/v4/processes?process_label="OuterWorkChain"',
      z.object({ processes: z.array(ProcessRow) }),
    );
    expect(byLabel.data.processes.map((row) => row.id)).toEqual([filled.outer.pk]);
    const calls = await ok(
      `/api/v4/processes/${filled.outer.uuid}/calls`,
      z.object({ tree: CallTree, truncated: z.boolean() }),
    );
    expect(calls.data.truncated).toBe(false);
    const labels = calls.data.tree.calls.map((call) => call.link_label);
    expect(labels).toEqual(expect.arrayContaining(['inner_iteration_1', 'inner_iteration_2']));
    expect(
      calls.data.tree.calls.find((call) => call.link_label === 'inner_iteration_1')?.calls.length,
    ).toBeGreaterThan(0);
    const report = await ok(
      `/api/v4/processes/${filled.outer.pk}/report`,
      z.object({ logs: z.array(ReportEntry) }),
    );
    expect(report.data.logs[0]?.message).toMatch(/starting outer workchain$/);
    expect(report.data.logs.at(-1)?.message).toMatch(/done after 2 iterations/);
    const calcjobs = await ok('/api/v4/calcjobs', z.object({ calcjobs: z.array(ProcessRow) }));
    expect(calcjobs.data.calcjobs.map((row) => row.id)).toEqual([filled.calcjob.pk]);
    expect(calcjobs.data.calcjobs[0]).toMatchObject({ process_state: 'finished', exit_status: 0 });
    const inputFiles = await ok(`/api/v4/calcjobs/${filled.calcjob.uuid}/input_files`, z.array(RepoEntry));
    expect(inputFiles.data.map((entry) => entry.name)).toEqual(
      expect.arrayContaining(['_aiidasubmit.sh', 'aiida.in']),
    );
    const outputFiles = await ok(`/api/v4/calcjobs/${filled.calcjob.uuid}/output_files`, z.array(RepoEntry));
    expect(outputFiles.data.map((entry) => entry.name)).toContain('aiida.out');
    const script = await server.app.inject({
      url: `/api/v4/nodes/${filled.calcjob.pk}/repo/contents?filename="_aiidasubmit.sh"`,
    });
    expect(script.headers['content-type']).toBe('text/x-shellscript; charset=utf-8');
    expect(script.body).toMatch(/^#!/);
    await refused(`/api/v4/calcjobs/${filled.outer.pk}/input_files`, 404, 'id');
  });

  it('lists groups with their nodes, computers, users and statistics', async () => {
    const groups = await ok('/api/v4/groups?label="web-group"', z.object({ groups: z.array(GroupRow) }));
    expect(groups.data.groups).toHaveLength(1);
    const members = await ok(
      `/api/v4/groups/${filled.group.uuid}/nodes?orderby=id`,
      z.object({ nodes: z.array(NodeRow) }),
    );
    expect(members.data.nodes.map((node) => node.id)).toEqual(
      [filled.outer.pk, filled.notes.pk, filled.folder.pk].sort((a, b) => Number(a) - Number(b)),
    );
    const computers = await ok(
      '/api/v4/computers?hostname="localhost"',
      z.object({ computers: z.array(ComputerRow) }),
    );
    expect(computers.data.computers.map((computer) => computer.label)).toContain(filled.computer.label);
    const computer = await ok(
      `/api/v4/computers/${filled.computer.uuid}`,
      z.object({ computers: z.array(ComputerRow) }),
    );
    expect(computer.data.computers[0]?.label).toBe(filled.computer.label);
    const users = await ok('/api/v4/users', z.object({ users: z.array(UserRow) }));
    expect(users.data.users.length).toBeGreaterThan(0);
    expect(JSON.stringify(users.data)).not.toContain('@');
    const statistics = await ok('/api/v4/nodes/statistics', Statistics);
    // the folder of the fixture and the CalcJob's retrieved folder
    expect(statistics.data.types['data.core.folder.FolderData.']).toBe(2);
    expect(Object.values(statistics.data.ctime_by_day).reduce((a, b) => a + b, 0)).toBe(
      statistics.data.total,
    );
    const types = await ok(
      '/api/v4/nodes/full_types',
      z.object({ subspaces: z.array(z.unknown()) }).passthrough(),
    );
    expect(JSON.stringify(types.data)).toContain('"full_type":"data.core.int.Int.|"');
    const info = await ok(
      '/api/v4/server',
      z.object({ API_prefix: z.string(), control: z.boolean() }).passthrough(),
    );
    expect(info.data).toMatchObject({ API_prefix: '/api/v4', control: true });
  });

  it('runs posted QueryBuilder dictionaries and refuses hostile ones with a 400', async () => {
    const post = (body: unknown, raw?: string) =>
      server.app.inject({
        method: 'POST',
        url: '/api/v4/querybuilder',
        headers: { 'content-type': 'application/json' },
        payload: raw ?? JSON.stringify(body),
      });
    const query = {
      path: [
        {
          entity_type: 'data.core.int.Int.',
          orm_base: 'node',
          tag: 'x',
          joining_keyword: null,
          joining_value: null,
          edge_tag: null,
          outerjoin: false,
        },
        {
          entity_type: 'process.workflow.workchain.WorkChainNode.',
          orm_base: 'node',
          tag: 'wf',
          joining_keyword: 'with_incoming',
          joining_value: 'x',
          edge_tag: 'x--wf',
          outerjoin: false,
        },
      ],
      filters: { x: { id: filled.x.pk } },
      project: { x: [{ 'attributes.value': {} }], wf: [{ id: {} }, { '*': {} }] },
      order_by: [{ wf: [{ id: { order: 'asc' } }] }],
      limit: null,
      offset: null,
    };
    const response = await post(query);
    expect(response.statusCode, response.body).toBe(200);
    const body = Envelope(z.record(z.string(), z.array(z.record(z.string(), z.unknown())))).parse(
      response.json(),
    );
    expect(body.data['wf']?.map((row) => row['id'])).toContain(filled.outer.pk);
    expect(body.data['wf']?.[0]?.['*']).toMatchObject({ id: expect.any(Number), uuid: expect.any(String) });

    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let depth = 0; depth < 40; depth += 1) cursor = cursor['a'] = {};
    const hostile: unknown[] = [
      { path: [] },
      {
        path: [
          {
            entity_type: 'nope',
            orm_base: 'node',
            tag: 'a',
            joining_keyword: null,
            joining_value: null,
            edge_tag: null,
            outerjoin: false,
          },
        ],
      },
      { ...query, filters: { x: { id: { 'no-such-op': 1 } } } },
      { ...query, filters: { x: { 'attributes.value': { like: 3 } } } },
      { ...query, filters: { x: deep } },
      { ...query, limit: -1 },
      { ...query, project: { ghost: [{ id: {} }] } },
      { ...query, path: Array.from({ length: 30 }, (_, i) => ({ ...query.path[0], tag: `t${i}` })) },
      [1, 2, 3],
      'select * from db_dbnode',
      { ...query, filters: { x: { id: { in: Array.from({ length: 5000 }, (_, i) => i) } } } },
      { ...query, order_by: [{ wf: [{ 'id; drop table db_dbnode': { order: 'asc' } }] }] },
    ];
    for (const body of hostile) {
      const refusedResponse = await post(body);
      expect(
        refusedResponse.statusCode,
        `${JSON.stringify(body).slice(0, 200)} → ${refusedResponse.body}`,
      ).toBe(400);
      ErrorBody.parse(refusedResponse.json());
    }
    expect((await post(undefined, '{"path": [')).statusCode).toBe(400);
    expect((await post(undefined, JSON.stringify({ ...query, pad: 'x'.repeat(100_000) }))).statusCode).toBe(
      413,
    );
    // the table is still there
    expect((await get('/api/v4/nodes?limit=1')).status).toBe(200);
  });

  it('serves an OpenAPI document covering every endpoint', async () => {
    const response = await get('/api/v4/openapi.json');
    expect(response.status).toBe(200);
    const document = z
      .object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) })
      .parse(response.json());
    expect(document.openapi).toBe('3.1.0');
    for (const path of [
      '/api/v4/nodes',
      '/api/v4/nodes/{id}/repo/contents',
      '/api/v4/processes/{id}/pause',
      '/api/v4/querybuilder',
      '/api/v4/nodes/page/{page}',
    ])
      expect(Object.keys(document.paths)).toContain(path);
  });

  // last: it adds processes to the profile the tests above count
  it('pages a list of many processes as the QueryBuilder orders them, on SQLite walking the primary key', async () => {
    const storage = engine().storage;
    const [userId] = await new QueryBuilder({ backend: storage })
      .append('', { project: ['user_id'] })
      .limit(1)
      .all({ flat: true });
    const time = storage.dialect.encodeTimestamp(new Date());
    // most nodes processes, as in a profile of workflows: the process list then walks the primary key
    await storage.bulkInsert(
      'db_dbnode',
      Array.from({ length: 80 }, (_, index) => ({
        uuid: randomUUID(),
        node_type: 'process.workflow.workchain.WorkChainNode.',
        process_type: 'aiida.workflows:web.dense',
        label: `dense-${index}`,
        description: '',
        ctime: time,
        mtime: time,
        attributes: storage.dialect.encodeJson({
          process_state: index % 3 === 0 ? 'finished' : 'excepted',
          process_label: 'Dense',
        }),
        extras: '{}',
        repository_metadata: '{}',
        dbcomputer_id: null,
        user_id: Number(userId),
      })),
    );
    const processes = { node_type: { like: 'process.%' } };
    const finished = { ...processes, 'attributes.process_state': 'finished' };
    const labelled = { ...processes, 'attributes.process_label': 'Dense' };
    const pages = [
      ['orderby=-id&limit=5', processes, 'desc', 5, 0],
      ['orderby=-id&limit=7&offset=3', processes, 'desc', 7, 3],
      ['orderby=id&limit=5&offset=2', processes, 'asc', 5, 2],
      ['orderby=-id&limit=400', processes, 'desc', 400, 0],
      ['orderby=-id&limit=6&offset=60', processes, 'desc', 6, 60],
      ['orderby=-id&limit=4&process_state="finished"', finished, 'desc', 4, 0],
      ['orderby=-id&limit=4&offset=2&process_label="Dense"', labelled, 'desc', 4, 2],
    ] as const;
    for (const [query, filters, order, limit, offset] of pages) {
      const listed = await ok(`/api/v4/processes?${query}`, z.object({ processes: z.array(ProcessRow) }));
      const expected = await new QueryBuilder({ backend: storage })
        .append('', { tag: 'e', filters, project: ['id'] })
        .orderBy({ e: [{ id: order }] })
        .limit(limit)
        .offset(offset)
        .all({ flat: true });
      expect(
        listed.data.processes.map((row) => row.id),
        query,
      ).toEqual(expected.map(Number));
    }
    // the first page of the list reads its ids in order from the primary key: no sort of every process id
    const list = new QueryBuilder({ backend: storage })
      .append('', { tag: 'e', filters: processes, project: ['id'] })
      .orderBy({ e: [{ id: 'desc' }] })
      .limit(5);
    const total = await new QueryBuilder({ backend: storage })
      .append('', { tag: 'e', filters: processes })
      .count();
    const plan = await (
      await pageIdsQuery(server.context, RESOURCES.processes, list, total)
    ).analyzeQuery({
      execute: false,
    });
    if (storage.dialect.name === 'sqlite') {
      expect(plan).toMatch(/USING INTEGER PRIMARY KEY/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });
});
