/// <reference lib="dom" />

const PREFIX = '/api/v4';
const TOKEN_KEY = 'aiida-ts-web-token';

/** An API error, with the parameter the server named. */
export class ApiError extends Error {
  readonly status: number;
  readonly parameter: string | null;
  constructor(status: number, message: string, parameter: string | null) {
    super(message);
    this.status = status;
    this.parameter = parameter;
  }
}

async function failure(response: Response): Promise<ApiError> {
  let message = response.statusText;
  let parameter: string | null = null;
  try {
    const body = (await response.json()) as { message?: string; parameter?: string | null };
    message = body.message ?? message;
    parameter = body.parameter ?? null;
  } catch {
    // not JSON
  }
  return new ApiError(response.status, message, parameter);
}

/** GETs an API path and returns its `data`. */
export async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${PREFIX}${path}`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw await failure(response);
  return ((await response.json()) as { data: T }).data;
}

/** POSTs JSON to an API path, with the control token when one is set. */
export async function post<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token !== '') headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${PREFIX}${path}`, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw await failure(response);
  return ((await response.json()) as { data: T }).data;
}

/** The URL of a file of a node's repository (`download=false`: shown in the browser). */
export function fileUrl(id: number | string, filename: string, download: boolean): string {
  const quoted = `"${filename.replaceAll('"', '""')}"`;
  return `${PREFIX}/nodes/${id}/repo/contents?filename=${encodeURIComponent(quoted)}${download ? '' : '&download=false'}`;
}

export function getToken(): string {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token: string): void {
  if (token === '') localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

/** A quoted string for the query-string syntax. */
export function quote(text: string): string {
  return encodeURIComponent(`"${text.replaceAll('"', '""')}"`);
}

/** A row of a process as the API lists it. */
export interface ProcessRow {
  id: number;
  uuid: string;
  node_type: string;
  process_type: string | null;
  label: string;
  ctime: string;
  mtime: string;
  process_state: string | null;
  process_status: string | null;
  process_label: string | null;
  exit_status: number | null;
  exit_message: string | null;
  paused: boolean | null;
  owner?: string | null;
  job_id?: string | null;
  [key: string]: unknown;
}

/** A node row, with the link of a links listing. */
export interface NodeRow extends Partial<ProcessRow> {
  id: number;
  uuid: string;
  node_type: string;
  label: string;
  link_label?: string;
  link_type?: string;
}
