import type { FastifyRequest } from 'fastify';

/** The prefix of every API route, as aiida-core's REST API (version 4). */
export const API_PREFIX = '/api/v4';

/** aiida-core's response envelope: the payload in `data`, and what was asked. */
export interface Envelope<T> {
  readonly data: T;
  readonly id: string | null;
  readonly method: string;
  readonly path: string;
  readonly query_string: string;
  readonly resource_type: string;
  readonly url: string;
  readonly url_root: string;
}

/** The envelope of `data` for `request`. */
export function envelope<T>(
  request: FastifyRequest,
  resourceType: string,
  data: T,
  id: string | null = null,
): Envelope<T> {
  const root = `${request.protocol}://${request.host}/`;
  const question = request.url.indexOf('?');
  const path = question < 0 ? request.url : request.url.slice(0, question);
  const query = question < 0 ? '' : request.url.slice(question + 1);
  return {
    data,
    id,
    method: request.method,
    path: safeDecode(path),
    query_string: query,
    resource_type: resourceType,
    url: `${root.slice(0, -1)}${safeDecode(request.url)}`,
    url_root: root,
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text;
  }
}

/** The raw query string of a request (what follows `?`, still percent-encoded). */
export function rawQuery(request: FastifyRequest): string {
  const question = request.url.indexOf('?');
  return question < 0 ? '' : request.url.slice(question + 1);
}
