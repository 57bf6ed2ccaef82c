import { sql } from 'kysely';
import { loadNode } from '../../orm/loaders.js';
import { QueryBuilder } from '../../querybuilder/query-builder.js';
import { NotExistentError } from '../../errors.js';
import type { WebContext } from '../context.js';
import { badParameter, HttpRequestError, HttpStatus } from '../http-error.js';
import type { ParsedQuery } from '../query-string.js';
import { listKey, stringKey } from '../query-string.js';
import { RESOURCES } from './definitions.js';
import { listResource, shapeRow, type Listing, type Row } from './listing.js';
import { linkCount, linkedRows } from './node-rows.js';

/** One node's row, with the process fields when it is a process. */
export async function nodeRow(context: WebContext, pk: number): Promise<Row> {
  const definition = RESOURCES.processes;
  const [result] = await new QueryBuilder({ backend: context.storage })
    .append('', { tag: 'e', filters: { id: pk }, project: [...definition.projection, 'attributes.job_id'] })
    .dict();
  if (result === undefined) throw new HttpRequestError(HttpStatus.NOT_FOUND, `no node with pk ${pk}`, 'id');
  const row = shapeRow(definition, result['e'] ?? {});
  if (typeof row['node_type'] === 'string' && !row['node_type'].startsWith('process.'))
    for (const key of [
      'process_state',
      'process_status',
      'process_label',
      'exit_status',
      'exit_message',
      'paused',
      'job_id',
    ])
      delete row[key];
  return row;
}

/** A node's attributes or extras, all or the keys `attributes_filter`/`extras_filter` names. */
export async function nodeContents(
  context: WebContext,
  pk: number,
  which: 'attributes' | 'extras',
  query: ParsedQuery,
): Promise<Record<string, unknown>> {
  const value = await new QueryBuilder({ backend: context.storage })
    .append('', { tag: 'e', filters: { id: pk }, project: [which] })
    .first({ flat: true });
  const all = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const keys = listKey(query, which === 'attributes' ? 'attributes_filter' : 'extras_filter');
  if (keys === undefined) return all;
  return Object.fromEntries(keys.map((key) => [key, all[key] ?? null]));
}

/** The comments on a node (their text, oldest first), as aiida-core's `/contents/comments`. */
export async function nodeComments(context: WebContext, pk: number): Promise<string[]> {
  const rows = await new QueryBuilder({ backend: context.storage })
    .append('', { tag: 'n', filters: { id: pk } })
    .append('comment', { tag: 'c', withNode: 'n', project: ['content'] })
    .orderBy({ c: [{ ctime: 'asc' }] })
    .all({ flat: true });
  return rows.map(String);
}

/** The nodes linked into (`incoming`) or out of (`outgoing`) a node, with `link_label` and `link_type`. */
export function nodeLinks(
  context: WebContext,
  pk: number,
  direction: 'incoming' | 'outgoing',
  query: ParsedQuery,
  page: number | null,
): Promise<Listing> {
  // the nodes' fields, and the state of those that are processes (for the page's inputs and outputs tables)
  const definition = { ...RESOURCES.nodes, projection: RESOURCES.processes.projection };
  return listResource(context, definition, query, page, {
    prefix: (qb) => qb.append('', { tag: 'target', filters: { id: pk } }),
    appendOptions: direction === 'incoming' ? { withOutgoing: 'target' } : { withIncoming: 'target' },
    edgeProject: ['label', 'type'],
  });
}

/** A piece of the provenance graph around one node: the node, some of its inputs and outputs, and the links. */
export interface GraphPiece {
  readonly nodes: Row[];
  readonly links: { source: number; target: number; label: string; type: string }[];
}

/**
 * The neighbourhood of a node for the graph view: up to `inLimit` inputs and `outLimit` outputs, by pk, and how many
 * more there are. Two statements when both sides fit their limit (the links are counted only when one does not).
 */
export async function nodeTree(
  context: WebContext,
  pk: number,
  inLimit: number,
  outLimit: number,
): Promise<GraphPiece & { incomplete: { incoming: number; outgoing: number } }> {
  const center = await nodeRow(context, pk);
  const nodes = new Map<number, Row>([[pk, center]]);
  const links: GraphPiece['links'] = [];
  const incomplete = { incoming: 0, outgoing: 0 };
  for (const direction of ['incoming', 'outgoing'] as const) {
    const limit = direction === 'incoming' ? inLimit : outLimit;
    const { rows, more } = await linkedRows(context, pk, direction, limit);
    for (const { row, label, type } of rows) {
      const id = row['id'] as number;
      nodes.set(id, row);
      links.push({
        source: direction === 'incoming' ? id : pk,
        target: direction === 'incoming' ? pk : id,
        label,
        type,
      });
    }
    if (more) incomplete[direction] = (await linkCount(context, pk, direction)) - rows.length;
  }
  return { nodes: [...nodes.values()], links, incomplete };
}

/** The pk of a CalcJob's `retrieved` folder, or null before the job is retrieved. */
export async function retrievedFolder(context: WebContext, pk: number): Promise<number | null> {
  const found = await new QueryBuilder({ backend: context.storage })
    .append('', { tag: 'job', filters: { id: pk } })
    .append('', { tag: 'e', withIncoming: 'job', edgeFilters: { label: 'retrieved' }, project: ['id'] })
    .first({ flat: true });
  return typeof found === 'number' ? found : null;
}

/** One entry of a repository listing, as aiida-core's `repo/list`. */
export interface RepoEntry {
  readonly name: string;
  readonly type: 'FILE' | 'DIRECTORY';
}

async function repositoryOf(context: WebContext, pk: number) {
  const node = await loadNode(pk, { storage: context.storage });
  return node.base.repository;
}

/** The entries of a node's repository folder (`filename` names a sub-folder; the top by default). */
export async function repoList(context: WebContext, pk: number, query: ParsedQuery): Promise<RepoEntry[]> {
  const folder = stringKey(query, 'filename');
  const repository = await repositoryOf(context, pk);
  try {
    return repository
      .listObjects(folder === undefined || folder === '' ? undefined : folder)
      .map((file) => ({ name: file.name, type: file.fileType === 'directory' ? 'DIRECTORY' : 'FILE' }));
  } catch (error) {
    throw badParameter(
      'filename',
      `\`${folder ?? ''}\` is not a folder of the repository of node ${pk}`,
      error,
    );
  }
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  txt: 'text/plain; charset=utf-8',
  in: 'text/plain; charset=utf-8',
  out: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  sh: 'text/x-shellscript; charset=utf-8',
  py: 'text/x-python; charset=utf-8',
  json: 'application/json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  xml: 'application/xml',
  csv: 'text/csv; charset=utf-8',
  html: 'text/plain; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  npy: 'application/octet-stream',
  cif: 'chemical/x-cif',
  xyz: 'chemical/x-xyz',
};

/** The content type a file is served with: by extension, else text when it decodes as UTF-8, else binary. */
export function contentTypeOf(filename: string, content: Buffer): string {
  const extension = filename.includes('.') ? (filename.split('.').pop() ?? '').toLowerCase() : '';
  const known = CONTENT_TYPES[extension];
  if (known !== undefined) return known;
  const head = content.subarray(0, 4096);
  if (head.includes(0)) return 'application/octet-stream';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.length === content.length ? head : content);
    return 'text/plain; charset=utf-8';
  } catch {
    return 'application/octet-stream';
  }
}

/** A file of a node's repository, its content type and name, as aiida-core's `repo/contents?filename=`. */
export async function repoContents(
  context: WebContext,
  pk: number,
  query: ParsedQuery,
): Promise<{ content: Buffer; contentType: string; filename: string }> {
  const filename = stringKey(query, 'filename');
  if (filename === undefined || filename === '')
    throw badParameter('filename', 'required: the path of the file');
  const repository = await repositoryOf(context, pk);
  let content: Buffer;
  try {
    content = await repository.getObjectContent(filename);
  } catch (error) {
    throw new HttpRequestError(
      HttpStatus.NOT_FOUND,
      `no file \`${filename}\` in the repository of node ${pk}`,
      'filename',
      { cause: error },
    );
  }
  const base = filename.split('/').pop() ?? filename;
  return { content, contentType: contentTypeOf(base, content), filename: base };
}

/** aiida-core's `/nodes/statistics`: the number of nodes, by type and by day of creation. */
export async function nodeStatistics(
  context: WebContext,
  userId: number | null,
): Promise<{ total: number; types: Record<string, number>; ctime_by_day: Record<string, number> }> {
  const db = context.storage.executor();
  const day =
    context.storage.dialect.name === 'postgres'
      ? sql<string>`to_char(ctime at time zone 'UTC', 'YYYY-MM-DD')`
      : sql<string>`substr(ctime, 1, 10)`;
  let types = db
    .selectFrom('db_dbnode')
    .select(['node_type', sql<number>`count(*)`.as('count')])
    .groupBy('node_type');
  let days = db
    .selectFrom('db_dbnode')
    .select([day.as('day'), sql<number>`count(*)`.as('count')])
    .groupBy(day);
  if (userId !== null) {
    types = types.where('user_id', '=', userId);
    days = days.where('user_id', '=', userId);
  }
  const typeRows = await types.execute();
  const dayRows = await days.execute();
  const byType = Object.fromEntries(typeRows.map((row) => [row.node_type, Number(row.count)]));
  return {
    total: Object.values(byType).reduce((sum, count) => sum + count, 0),
    types: byType,
    ctime_by_day: Object.fromEntries(dayRows.map((row) => [String(row.day), Number(row.count)])),
  };
}

/** One level of aiida-core's `/nodes/full_types` tree. */
export interface FullTypeNamespace {
  readonly label: string;
  readonly path: string;
  /** `<node_type>|<process_type>` with `%` wildcards for a namespace, exact for a leaf. */
  full_type: string;
  readonly subspaces: FullTypeNamespace[];
}

/** The node types in the storage as a tree of namespaces (`data` → `data.core` → …), leaves with their full type. */
export async function fullTypes(context: WebContext): Promise<FullTypeNamespace> {
  const rows = await context.storage
    .executor()
    .selectFrom('db_dbnode')
    .select(['node_type', 'process_type'])
    .distinct()
    .execute();
  const root: FullTypeNamespace = { label: 'node', path: 'node', full_type: '%|%', subspaces: [] };
  for (const row of rows) {
    const parts = row.node_type.split('.').filter((part) => part !== '');
    let level = root;
    let path = '';
    for (const part of parts) {
      path = path === '' ? part : `${path}.${part}`;
      let next = level.subspaces.find((space) => space.label === part);
      if (next === undefined) {
        next = { label: part, path, full_type: `${path}.%|%`, subspaces: [] };
        level.subspaces.push(next);
      }
      level = next;
    }
    const processType = row.process_type ?? '';
    if (processType === '' && level.subspaces.length === 0) level.full_type = `${row.node_type}|`;
    else if (processType !== '')
      level.subspaces.push({
        label: processType,
        path: `${path}|${processType}`,
        full_type: `${row.node_type}|${processType}`,
        subspaces: [],
      });
  }
  return root;
}

/** Throws the 404 of a missing node for ORM loads of a pk that vanished between lookup and load. */
export function isMissing(error: unknown): boolean {
  return error instanceof NotExistentError;
}
