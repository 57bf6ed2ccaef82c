import { timingSafeEqual } from 'node:crypto';
import { requestControl } from '../../engine/daemon/control.js';
import type { ControlRequest } from '../../engine/daemon/control-table.js';
import type { WebContext } from '../context.js';
import { HttpRequestError, HttpStatus } from '../http-error.js';

/** What a process is asked to do from the page. */
export type ControlAction = 'pause' | 'play' | 'kill';

/** The message recorded on the process (its status), as `verdi process` does. */
const MESSAGES: Record<ControlAction, string | null> = {
  kill: 'Killed through `verdi web`',
  pause: 'Paused through `verdi web`',
  play: null,
};

/**
 * Checks the token of a control request: `Authorization: Bearer <token>` or `X-Aiida-Token`. None: 401; a wrong one,
 * or a read-only server: 403. Compared in constant time.
 */
export function checkToken(
  context: WebContext,
  headers: Record<string, string | string[] | undefined>,
): void {
  if (context.token === null)
    throw new HttpRequestError(
      HttpStatus.FORBIDDEN,
      'this server is read-only: it was started without a control token',
      'token',
    );
  const authorization = headers['authorization'];
  const header = headers['x-aiida-token'];
  let given: string | undefined;
  if (typeof authorization === 'string' && authorization.startsWith('Bearer '))
    given = authorization.slice(7).trim();
  else if (typeof header === 'string') given = header.trim();
  if (given === undefined || given === '')
    throw new HttpRequestError(
      HttpStatus.UNAUTHORIZED,
      'pause, play and kill need the token `verdi web` printed at start (header `Authorization: Bearer <token>`)',
      'token',
    );
  const expected = Buffer.from(context.token);
  const actual = Buffer.from(given);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual))
    throw new HttpRequestError(HttpStatus.FORBIDDEN, 'the token is not the one of this server', 'token');
}

/**
 * Asks a process to pause, play or be killed through the same requests as `verdi process pause|play|kill`: at once
 * over the broker when there is one, else left in the storage for whoever runs the process.
 */
export async function controlProcess(
  context: WebContext,
  pk: number,
  action: ControlAction,
): Promise<ControlRequest> {
  const [request] = await requestControl(pk, action, {
    storage: context.storage,
    communicator: context.communicator,
    message: MESSAGES[action],
  });
  if (request === undefined) throw new HttpRequestError(HttpStatus.NOT_FOUND, `no process ${pk}`, 'id');
  return request;
}
