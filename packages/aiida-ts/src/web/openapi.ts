import { z } from 'zod';
import { API_PREFIX } from './envelope.js';
import * as S from './schemas.js';

interface Operation {
  readonly method: 'get' | 'post';
  readonly path: string;
  readonly summary: string;
  readonly data: z.ZodType | null;
  readonly control?: boolean;
  readonly paged?: boolean;
  readonly body?: z.ZodType;
  readonly produces?: string;
}

const list = (key: string, row: z.ZodType) => z.object({ [key]: z.array(row) });

/** Every operation of the API, documented from the schemas of its response. */
export const OPERATIONS: readonly Operation[] = [
  { method: 'get', path: '/server', summary: 'API and aiida-ts versions', data: S.ServerInfo },
  {
    method: 'get',
    path: '/server/endpoints',
    summary: 'The available endpoints',
    data: z.object({ available_endpoints: z.array(z.string()) }),
  },
  {
    method: 'get',
    path: '/nodes',
    summary: 'Nodes, filtered and ordered',
    data: list('nodes', S.NodeRow),
    paged: true,
  },
  { method: 'get', path: '/nodes/statistics', summary: 'Node counts by type and day', data: S.Statistics },
  {
    method: 'get',
    path: '/nodes/full_types',
    summary: 'The node types as a namespace tree',
    data: z.object({}).catchall(z.unknown()),
  },
  {
    method: 'get',
    path: '/nodes/download_formats',
    summary: 'Export formats by node type',
    data: z.record(z.string(), z.array(z.string())),
  },
  {
    method: 'get',
    path: '/nodes/{id}',
    summary: 'One node',
    data: list('nodes', S.ProcessRow.partial().extend(S.NodeRow.shape)),
  },
  {
    method: 'get',
    path: '/nodes/{id}/contents/attributes',
    summary: 'Attributes of a node',
    data: z.object({ attributes: z.record(z.string(), z.unknown()) }),
  },
  {
    method: 'get',
    path: '/nodes/{id}/contents/extras',
    summary: 'Extras of a node',
    data: z.object({ extras: z.record(z.string(), z.unknown()) }),
  },
  {
    method: 'get',
    path: '/nodes/{id}/contents/comments',
    summary: 'Comments on a node',
    data: z.object({ comments: z.array(z.string()) }),
  },
  {
    method: 'get',
    path: '/nodes/{id}/links/incoming',
    summary: 'Nodes linked into a node',
    data: list('incoming', S.LinkedNodeRow),
    paged: true,
  },
  {
    method: 'get',
    path: '/nodes/{id}/links/outgoing',
    summary: 'Nodes linked out of a node',
    data: list('outgoing', S.LinkedNodeRow),
    paged: true,
  },
  { method: 'get', path: '/nodes/{id}/links/tree', summary: 'The graph around a node', data: S.GraphPiece },
  {
    method: 'get',
    path: '/nodes/{id}/repo/list',
    summary: 'A folder of the node repository',
    data: z.object({ repo_list: z.array(S.RepoEntry) }),
  },
  {
    method: 'get',
    path: '/nodes/{id}/repo/contents',
    summary: 'A file of the node repository',
    data: null,
    produces: 'application/octet-stream',
  },
  {
    method: 'get',
    path: '/processes',
    summary: 'Processes (filter on process_state, process_label, exit_status, paused)',
    data: list('processes', S.ProcessRow),
    paged: true,
  },
  { method: 'get', path: '/processes/{id}', summary: 'One process', data: list('processes', S.ProcessRow) },
  {
    method: 'get',
    path: '/processes/{id}/report',
    summary: 'The log of a process',
    data: z.object({ logs: z.array(S.ReportEntry) }),
  },
  {
    method: 'get',
    path: '/processes/{id}/calls',
    summary: 'The call tree under a process',
    data: z.object({ tree: S.CallTree, truncated: z.boolean() }),
  },
  {
    method: 'get',
    path: '/processes/events',
    summary: 'Server-sent events: process state changes',
    data: null,
    produces: 'text/event-stream',
  },
  {
    method: 'post',
    path: '/processes/{id}/pause',
    summary: 'Pause a process (token)',
    data: S.ControlResult,
    control: true,
  },
  {
    method: 'post',
    path: '/processes/{id}/play',
    summary: 'Play a paused process (token)',
    data: S.ControlResult,
    control: true,
  },
  {
    method: 'post',
    path: '/processes/{id}/kill',
    summary: 'Kill a process (token)',
    data: S.ControlResult,
    control: true,
  },
  {
    method: 'get',
    path: '/calcjobs',
    summary: 'CalcJobs',
    data: list('calcjobs', S.ProcessRow),
    paged: true,
  },
  {
    method: 'get',
    path: '/calcjobs/{id}/input_files',
    summary: 'Input files of a CalcJob',
    data: z.array(S.RepoEntry),
  },
  {
    method: 'get',
    path: '/calcjobs/{id}/output_files',
    summary: 'Retrieved files of a CalcJob',
    data: z.array(S.RepoEntry),
  },
  { method: 'get', path: '/codes', summary: 'Codes', data: list('codes', S.NodeRow), paged: true },
  { method: 'get', path: '/groups', summary: 'Groups', data: list('groups', S.GroupRow), paged: true },
  { method: 'get', path: '/groups/{id}', summary: 'One group', data: list('groups', S.GroupRow) },
  {
    method: 'get',
    path: '/groups/{id}/nodes',
    summary: 'The nodes of a group',
    data: list('nodes', S.NodeRow),
    paged: true,
  },
  {
    method: 'get',
    path: '/computers',
    summary: 'Computers',
    data: list('computers', S.ComputerRow),
    paged: true,
  },
  { method: 'get', path: '/computers/{id}', summary: 'One computer', data: list('computers', S.ComputerRow) },
  { method: 'get', path: '/users', summary: 'Users', data: list('users', S.UserRow), paged: true },
  { method: 'get', path: '/users/{id}', summary: 'One user', data: list('users', S.UserRow) },
  {
    method: 'post',
    path: '/querybuilder',
    summary: 'Run a query in the QueryBuilder dictionary layout',
    data: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))),
    body: S.PostedQuery,
  },
];

function jsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { unrepresentable: 'any', io: 'output' });
}

/** The OpenAPI 3.1 document of the API. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { 'application/json': { schema: jsonSchema(S.ErrorBody) } };
  for (const op of OPERATIONS) {
    const parameters: unknown[] = [];
    if (op.path.includes('{id}'))
      parameters.push({
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string' },
        description: 'pk, uuid or uuid prefix',
      });
    const responses: Record<string, unknown> = {
      '200': {
        description: 'OK',
        content:
          op.data === null
            ? { [op.produces ?? 'application/octet-stream']: {} }
            : { 'application/json': { schema: jsonSchema(S.Envelope(op.data)) } },
        ...(op.paged === true
          ? {
              headers: {
                'X-Total-Count': { schema: { type: 'integer' } },
                Link: { schema: { type: 'string' } },
              },
            }
          : {}),
      },
      '400': { description: 'A bad parameter (named in `parameter`)', content: error },
      '404': { description: 'No such entity', content: error },
    };
    if (op.control === true) {
      responses['401'] = { description: 'No token', content: error };
      responses['403'] = { description: 'Wrong token, or a read-only server', content: error };
    }
    paths[`${API_PREFIX}${op.path}`] = {
      ...paths[`${API_PREFIX}${op.path}`],
      [op.method]: {
        summary: op.summary,
        parameters,
        ...(op.control === true ? { security: [{ token: [] }] } : {}),
        ...(op.body === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: jsonSchema(op.body) } },
              },
            }),
        responses,
      },
    };
    if (op.paged === true)
      paths[`${API_PREFIX}${op.path}/page/{page}`] = {
        get: {
          summary: `${op.summary} (one page)`,
          parameters: [
            ...parameters,
            { name: 'page', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
          ],
          responses,
        },
      };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'aiida-ts REST API',
      version,
      description: "aiida-core's REST API (v4) served by `verdi web`",
    },
    paths,
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  };
}
