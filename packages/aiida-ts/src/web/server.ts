import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Communicator } from 'kiwipy-ts';
import { isAiidaError, MultipleObjectsError, NotExistentError } from '../errors.js';
import { coreVersion } from '../engine/version.js';
import type { StorageBackend } from '../storage/backend.js';
import type { WebContext } from './context.js';
import { API_PREFIX, envelope, rawQuery } from './envelope.js';
import { ProcessEventHub } from './events.js';
import { badParameter, HttpRequestError, HttpStatus } from './http-error.js';
import { OPERATIONS, openApiDocument } from './openapi.js';
import { registerPage } from './page-assets.js';
import { booleanKey, integerKey, parseQueryString, type ParsedQuery } from './query-string.js';
import { checkToken, controlProcess, type ControlAction } from './resources/control.js';
import { RESOURCES, type ResourceDefinition } from './resources/definitions.js';
import { listResource, type Listing, type Row } from './resources/listing.js';
import { resolveIdentifier } from './resources/lookup.js';
import { addOwners } from './resources/owners.js';
import {
  fullTypes,
  nodeComments,
  nodeContents,
  nodeLinks,
  nodeRow,
  nodeStatistics,
  nodeTree,
  repoContents,
  repoList,
  retrievedFolder,
} from './resources/nodes.js';
import { callTree, processReport, treePks } from './resources/processes.js';
import { runPostedQuery } from './resources/querybuilder-endpoint.js';

/** Options of {@link createWebServer}. */
export interface WebServerOptions {
  readonly storage: StorageBackend;
  /** The broker of the profile, for control at once and live events from broadcasts. */
  readonly communicator?: Communicator | null;
  /**
   * The token control requests must carry: a string, `'generate'` (a random one, default) or null (read-only).
   */
  readonly token?: string | null;
  /** How often the storage is read for live events (ms); see {@link ProcessEventHub}. */
  readonly pollIntervalMs?: number;
  /** Serve the page as well as the API (default true). */
  readonly page?: boolean;
}

/** A running or ready web server. */
export interface WebServer extends AsyncDisposable {
  readonly app: FastifyInstance;
  readonly context: WebContext;
  /** Starts listening; resolves with the address (`http://127.0.0.1:5000`). */
  listen(options: { readonly host?: string; readonly port?: number }): Promise<string>;
  close(): Promise<void>;
}

/** Largest request body: a QueryBuilder dictionary is small. */
const BODY_LIMIT = 64 * 1024;

/** A response known at once, as the promise fastify awaits from a handler. */
function sendNow<T>(value: T): Promise<T> {
  return Promise.resolve(value);
}

function pageOf(params: unknown): number | null {
  const text = (params as { page?: string }).page;
  if (text === undefined) return null;
  if (!/^\d{1,9}$/.test(text)) throw badParameter('page', `\`${text}\` is not a page number`);
  return Number(text);
}

function idOf(params: unknown): string {
  const id = (params as { id?: string }).id;
  if (id === undefined || id === '') throw badParameter('id', 'missing');
  return id;
}

function pagingHeaders(request: FastifyRequest, reply: FastifyReply, listing: Listing): void {
  void reply.header('X-Total-Count', String(listing.total));
  if (listing.page === null) return;
  const base = `${request.protocol}://${request.host}${request.url.split('?')[0]?.replace(/\/page\/\d+\/?$/, '') ?? ''}/page/`;
  const query = rawQuery(request);
  const link = (n: number, rel: string) => `<${base}${n}${query === '' ? '' : `?${query}`}>; rel=${rel}`;
  const { number, last } = listing.page;
  const links = [link(1, 'first')];
  if (number > 1) links.push(link(number - 1, 'prev'));
  if (number < last) links.push(link(number + 1, 'next'));
  links.push(link(last, 'last'));
  void reply.header('Link', links.join(', '));
}

/**
 * The web server of `verdi web`: aiida-core's REST API under `/api/v4` (read-only, but for pause/play/kill with the
 * token), server-sent process events, the OpenAPI document and the page. Not listening until {@link WebServer.listen}.
 */
export function createWebServer(options: WebServerOptions): Promise<WebServer> {
  const token =
    options.token === undefined || options.token === 'generate'
      ? randomBytes(18).toString('base64url')
      : options.token;
  const context: WebContext = { storage: options.storage, token, communicator: options.communicator ?? null };
  const hub = new ProcessEventHub(
    context,
    options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs },
  );
  const app = Fastify({ bodyLimit: BODY_LIMIT, logger: false, routerOptions: { maxParamLength: 200 } });

  app.setErrorHandler((error: unknown, request, reply) => {
    let status = 500;
    let message = 'internal server error';
    let parameter: string | null = null;
    if (error instanceof HttpRequestError) {
      status = error.status;
      message = error.message;
      parameter = error.parameter;
    } else if (error instanceof NotExistentError) {
      status = 404;
      message = error.message;
      parameter = 'id';
    } else if (error instanceof MultipleObjectsError) {
      status = 400;
      message = error.message;
      parameter = 'id';
    } else if (isAiidaError(error)) {
      // a QueryError or ValidationError: what the client asked for is wrong
      status = 400;
      message = error.message;
      parameter = 'query';
    } else if (
      typeof error === 'object' &&
      error !== null &&
      'statusCode' in error &&
      typeof error.statusCode === 'number' &&
      error.statusCode < 500
    ) {
      status = error.statusCode;
      message = error instanceof Error ? error.message : 'bad request';
      parameter = 'body';
    } else {
      request.log.error(error);
    }
    void reply
      .status(status)
      .send({ status, message, parameter, method: request.method, path: request.url.split('?')[0] ?? '' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      status: 404,
      message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
      parameter: null,
      method: request.method,
      path: request.url.split('?')[0] ?? '',
    });
  });

  const streams = new Set<ServerResponse>();
  const parse = (request: FastifyRequest): ParsedQuery => parseQueryString(rawQuery(request));

  const paged = (
    path: string,
    handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ): void => {
    app.get(`${API_PREFIX}${path}`, handler);
    app.get(`${API_PREFIX}${path}/page/:page`, handler);
  };

  const listRoute = (definition: ResourceDefinition): void => {
    paged(`/${definition.name}`, async (request, reply) => {
      const listing = await listResource(context, definition, parse(request), pageOf(request.params));
      if (definition.name === 'processes' || definition.name === 'calcjobs')
        await addOwners(context, listing.rows);
      pagingHeaders(request, reply, listing);
      return envelope(request, definition.name, { [definition.name]: listing.rows });
    });
  };
  for (const name of ['nodes', 'processes', 'calcjobs', 'codes', 'groups', 'computers', 'users'] as const)
    listRoute(RESOURCES[name]);

  const lookup = (definition: ResourceDefinition, id: string, what: string): Promise<number> =>
    resolveIdentifier(context, definition.entityType, id, definition.baseFilters, what);

  const oneRoute = (definition: ResourceDefinition, what: string): void => {
    app.get(`${API_PREFIX}/${definition.name}/:id`, async (request) => {
      const id = idOf(request.params);
      parse(request);
      const pk = await lookup(definition, id, what);
      const row: Row =
        definition.entityType === ''
          ? await nodeRow(context, pk)
          : ((await listResource(context, definition, parseQueryString(`id=${pk}`), null)).rows[0] ?? {});
      return envelope(request, definition.name, { [definition.name]: [row] }, id);
    });
  };
  oneRoute(RESOURCES.nodes, 'node');
  oneRoute(RESOURCES.processes, 'process');
  oneRoute(RESOURCES.calcjobs, 'calcjob');
  oneRoute(RESOURCES.codes, 'code');
  oneRoute(RESOURCES.groups, 'group');
  oneRoute(RESOURCES.computers, 'computer');
  oneRoute(RESOURCES.users, 'user');

  // ---- server ----
  const endpoints = (): string[] => OPERATIONS.map((op) => `${API_PREFIX}${op.path}`);
  app.get(API_PREFIX, (request) =>
    sendNow(envelope(request, 'server', { available_endpoints: endpoints() })),
  );
  app.get(`${API_PREFIX}/server/endpoints`, (request) =>
    sendNow(envelope(request, 'server', { available_endpoints: endpoints() })),
  );
  app.get(`${API_PREFIX}/server`, (request) =>
    sendNow(
      envelope(request, 'server', {
        API_major_version: '4',
        API_minor_version: '0',
        API_revision: '0',
        API_prefix: API_PREFIX,
        AiiDA_version: coreVersion(),
        control: context.token !== null,
        broker: context.communicator !== null,
      }),
    ),
  );
  app.get(`${API_PREFIX}/openapi.json`, () => sendNow(openApiDocument(coreVersion())));

  // ---- nodes ----
  app.get(`${API_PREFIX}/nodes/statistics`, async (request) => {
    const query = parse(request);
    const user = query.filters.find((field) => field.key === 'user');
    if (query.filters.some((field) => field.key !== 'user'))
      throw badParameter(query.filters[0]?.key ?? 'query', 'statistics filter only on `user`');
    if (user !== undefined && typeof user.value !== 'number') throw badParameter('user', 'a user pk');
    return envelope(
      request,
      'nodes',
      await nodeStatistics(context, typeof user?.value === 'number' ? user.value : null),
    );
  });
  app.get(`${API_PREFIX}/nodes/full_types`, async (request) =>
    envelope(request, 'nodes', await fullTypes(context)),
  );
  app.get(`${API_PREFIX}/nodes/download_formats`, (request) => sendNow(envelope(request, 'nodes', {})));
  const node = (request: FastifyRequest): Promise<number> =>
    lookup(RESOURCES.nodes, idOf(request.params), 'node');
  for (const which of ['attributes', 'extras'] as const)
    app.get(`${API_PREFIX}/nodes/:id/contents/${which}`, async (request) =>
      envelope(
        request,
        'nodes',
        { [which]: await nodeContents(context, await node(request), which, parse(request)) },
        idOf(request.params),
      ),
    );
  app.get(`${API_PREFIX}/nodes/:id/contents/comments`, async (request) =>
    envelope(
      request,
      'nodes',
      { comments: await nodeComments(context, await node(request)) },
      idOf(request.params),
    ),
  );
  for (const direction of ['incoming', 'outgoing'] as const)
    for (const folder of ['links', 'contents'])
      paged(`/nodes/:id/${folder}/${direction}`, async (request, reply) => {
        const pk = await node(request);
        const listing = await nodeLinks(context, pk, direction, parse(request), pageOf(request.params));
        pagingHeaders(request, reply, listing);
        return envelope(request, 'nodes', { [direction]: listing.rows }, idOf(request.params));
      });
  app.get(`${API_PREFIX}/nodes/:id/links/tree`, async (request) => {
    const query = parse(request);
    const inLimit = integerKey(query, 'tree_in_limit', { min: 0, max: 1000 }) ?? 50;
    const outLimit = integerKey(query, 'tree_out_limit', { min: 0, max: 1000 }) ?? 50;
    return envelope(
      request,
      'nodes',
      await nodeTree(context, await node(request), inLimit, outLimit),
      idOf(request.params),
    );
  });
  app.get(`${API_PREFIX}/nodes/:id/repo/list`, async (request) =>
    envelope(
      request,
      'nodes',
      { repo_list: await repoList(context, await node(request), parse(request)) },
      idOf(request.params),
    ),
  );
  app.get(`${API_PREFIX}/nodes/:id/repo/contents`, async (request, reply) => {
    const query = parse(request);
    const file = await repoContents(context, await node(request), query);
    const inline = booleanKey(query, 'download') === false;
    const safeName = file.filename.replace(/[^\w.-]/g, '_');
    return (
      reply
        .header('Content-Type', file.contentType)
        .header('Content-Disposition', `${inline ? 'inline' : 'attachment'}; filename="${safeName}"`)
        .header('X-Content-Type-Options', 'nosniff')
        // a stored file is data, not part of the page: an SVG or HTML file opened on its own runs no script here
        .header(
          'Content-Security-Policy',
          "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox",
        )
        .send(file.content)
    );
  });

  // ---- processes ----
  const processPk = (request: FastifyRequest): Promise<number> =>
    lookup(RESOURCES.processes, idOf(request.params), 'process');
  app.get(`${API_PREFIX}/processes/:id/report`, async (request) => {
    const pk = await processPk(request);
    return envelope(request, 'processes', { logs: await processReport(context, pk) }, idOf(request.params));
  });
  app.get(`${API_PREFIX}/processes/:id/calls`, async (request) => {
    const pk = await processPk(request);
    return envelope(
      request,
      'processes',
      await callTree(context, await nodeRow(context, pk)),
      idOf(request.params),
    );
  });
  app.get(`${API_PREFIX}/processes/:id/full_report`, async (request) => {
    const pk = await processPk(request);
    const { tree } = await callTree(context, await nodeRow(context, pk));
    return envelope(
      request,
      'processes',
      { logs: await processReport(context, pk, treePks(tree)) },
      idOf(request.params),
    );
  });
  for (const action of ['pause', 'play', 'kill'] as const satisfies readonly ControlAction[])
    app.post(`${API_PREFIX}/processes/:id/${action}`, async (request) => {
      checkToken(context, request.headers);
      const pk = await processPk(request);
      const result = await controlProcess(context, pk, action);
      return envelope(
        request,
        'processes',
        { pk, action, state: result.state, result: result.result },
        idOf(request.params),
      );
    });
  app.get(`${API_PREFIX}/processes/events`, (request, reply) => {
    parse(request);
    reply.hijack();
    const raw = reply.raw;
    streams.add(raw);
    raw.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    let id = 0;
    const { stop, ready } = hub.subscribe((event) => {
      id += 1;
      raw.write(`id: ${id}\nevent: process\ndata: ${JSON.stringify(event)}\n\n`);
    });
    // `hello` once the broadcasts are subscribed to: a client that saw it misses no later change
    void ready.then(() =>
      raw.write(
        `retry: 2000\nevent: hello\ndata: ${JSON.stringify({ broker: context.communicator !== null })}\n\n`,
      ),
    );
    // a comment now and then keeps proxies and the browser from closing an idle stream
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    request.raw.on('close', () => {
      streams.delete(raw);
      clearInterval(heartbeat);
      stop();
    });
  });

  // ---- calcjobs ----
  const calcjob = (request: FastifyRequest): Promise<number> =>
    lookup(RESOURCES.calcjobs, idOf(request.params), 'calcjob');
  app.get(`${API_PREFIX}/calcjobs/:id/input_files`, async (request) =>
    envelope(
      request,
      'calcjobs',
      await repoList(context, await calcjob(request), parse(request)),
      idOf(request.params),
    ),
  );
  app.get(`${API_PREFIX}/calcjobs/:id/output_files`, async (request) => {
    const pk = await calcjob(request);
    const folder = await retrievedFolder(context, pk);
    const files = folder === null ? [] : await repoList(context, folder, parse(request));
    return envelope(request, 'calcjobs', files, idOf(request.params));
  });

  // ---- groups ----
  paged('/groups/:id/nodes', async (request, reply) => {
    const pk = await lookup(RESOURCES.groups, idOf(request.params), 'group');
    const listing = await listResource(context, RESOURCES.nodes, parse(request), pageOf(request.params), {
      prefix: (qb) => qb.append('group.core', { tag: 'group', filters: { id: pk } }),
      appendOptions: { withGroup: 'group' },
    });
    pagingHeaders(request, reply, listing);
    return envelope(request, 'groups', { nodes: listing.rows }, idOf(request.params));
  });

  // ---- querybuilder ----
  app.post(`${API_PREFIX}/querybuilder`, async (request) => {
    const { data } = await runPostedQuery(context, request.body);
    return envelope(request, 'querybuilder', data);
  });
  app.get(`${API_PREFIX}/querybuilder`, () => {
    throw new HttpRequestError(
      HttpStatus.BAD_REQUEST,
      'POST a query in the QueryBuilder dictionary layout',
      'method',
    );
  });

  if (options.page !== false) registerPage(app);

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    hub.close();
    // event streams never end by themselves: end them, or closing would wait for every open page
    for (const stream of streams) stream.end();
    await app.close();
  };
  return Promise.resolve({
    app,
    context,
    async listen(listenOptions) {
      return app.listen({ host: listenOptions.host ?? '127.0.0.1', port: listenOptions.port ?? 5000 });
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
