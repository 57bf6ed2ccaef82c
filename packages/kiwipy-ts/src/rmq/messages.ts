import { hostname } from 'node:os';
import { z } from 'zod';
import type { BroadcastMessage } from '../communicator.js';
import { CancelledError, DecodeError, RemoteError } from '../errors.js';
import type { Reply } from '../reply.js';
import { toIssues } from '../channels.js';
import { asTuple } from '../codec.js';

/**
 * kiwipy's wire formats. Keys are kiwipy's own (`result`, `exception`, `cancelled`, `pending`, `host`,
 * `correlation_id`), so that a Python worker and a TypeScript sender (or the reverse) understand each other
 * as long as both use the same codec.
 */
export const ResponseKey = {
  RESULT: 'result',
  EXCEPTION: 'exception',
  CANCELLED: 'cancelled',
  PENDING: 'pending',
} as const;
export type ResponseKey = (typeof ResponseKey)[keyof typeof ResponseKey];

const responseKeys = Object.values(ResponseKey);

/** Where a task response came from (kiwipy's `host` entry). */
export interface HostInfo {
  readonly hostname: string;
  readonly pid: number;
}

/** A decoded response: exactly one of kiwipy's four outcomes. */
export type Response =
  | { readonly kind: 'result'; readonly value: unknown }
  | { readonly kind: 'exception'; readonly message: string }
  | { readonly kind: 'cancelled'; readonly message: unknown }
  | { readonly kind: 'pending' };

let cachedHost: HostInfo | undefined;

/** This process's host entry, sent with every task response. */
export function hostInfo(): HostInfo {
  cachedHost ??= { hostname: hostname(), pid: process.pid };
  return cachedHost;
}

export function resultResponse(value: unknown): Record<string, unknown> {
  return { result: value === undefined ? null : value };
}

export function pendingResponse(): Record<string, unknown> {
  return { pending: null };
}

export function cancelledResponse(message: unknown = null): Record<string, unknown> {
  return { cancelled: message };
}

/**
 * An `exception` response. With `detail` `stack` (the default) the text is `Name: message` followed by
 * the stack frames, so a TypeScript receiver recovers both the message and where it was thrown; with
 * `message` it is the error's message alone, exactly what kiwipy sends (`str(exc)`).
 */
export function exceptionResponse(
  error: unknown,
  detail: 'message' | 'stack' = 'stack',
): Record<string, unknown> {
  return { exception: detail === 'stack' ? describeError(error) : errorMessageOf(error) };
}

/** The message of an error alone (Python's `str(exc)`); a remote error keeps its origin's message. */
export function errorMessageOf(error: unknown): string {
  if (error instanceof RemoteError) return error.remoteMessage;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `Name: message` plus, when the error has one, its stack frames on the following lines. */
export function describeError(error: unknown): string {
  if (error instanceof RemoteError) {
    // Forwarding an error that came from further away: keep its origin's text.
    return error.remoteStack ?? error.remoteMessage;
  }
  if (!(error instanceof Error)) return String(error);
  const head = `${error.name}: ${error.message}`;
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
  return frames === '' ? head : `${head}\n${frames}`;
}

/** Splits an `exception` text into the remote message and the remote stack (a JS stack or a Python traceback). */
export function remoteErrorFromText(text: string): RemoteError {
  const frames = /\n\s+at |\nTraceback |\n\s+File "/.exec(text);
  if (frames === null) return new RemoteError(text);
  return new RemoteError(text.slice(0, frames.index), text);
}

/** Checks that `value` is a response dict with exactly one of kiwipy's keys. */
export function parseResponse(value: unknown): Response {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError(`a response must be a mapping, got ${describeType(value)}`);
  }
  // The common case first, without allocating: exactly one key, `result`.
  if (
    Object.hasOwn(value, 'result') &&
    !Object.hasOwn(value, 'exception') &&
    !Object.hasOwn(value, 'pending') &&
    !Object.hasOwn(value, 'cancelled')
  ) {
    return { kind: 'result', value: (value as Record<string, unknown>).result };
  }
  const present = responseKeys.filter((key) => Object.hasOwn(value, key));
  if (present.length !== 1) {
    throw new DecodeError(
      `a response must have exactly one of ${responseKeys.join(', ')}; it has ${present.length === 0 ? 'none' : present.join(', ')}`,
    );
  }
  const record = value as Record<string, unknown>;
  switch (present[0]) {
    case 'result':
      return { kind: 'result', value: record.result };
    case 'exception':
      return {
        kind: 'exception',
        message: typeof record.exception === 'string' ? record.exception : JSON.stringify(record.exception),
      };
    case 'cancelled':
      return { kind: 'cancelled', message: record.cancelled };
    default:
      return { kind: 'pending' };
  }
}

/** Settles (or, for `pending`, accepts) `reply` with a response; true when the reply is final. */
export function applyResponse(response: Response, reply: Reply<unknown>): boolean {
  switch (response.kind) {
    case 'pending':
      reply.markAccepted();
      return false;
    case 'result':
      reply.resolve(response.value);
      return true;
    case 'exception':
      reply.reject(remoteErrorFromText(response.message));
      return true;
    case 'cancelled':
      reply.reject(
        new CancelledError(
          `the recipient cancelled the request${response.message == null ? '' : `: ${JSON.stringify(response.message)}`}`,
        ),
      );
      return true;
  }
}

/** The body of a task message: kiwipy's `(task, no_reply)` tuple. */
export const taskBodySchema = z.tuple([z.unknown(), z.boolean()]);

export interface TaskBody {
  readonly task: unknown;
  readonly noReply: boolean;
}

/** kiwipy's task envelope, the tuple `(task, no_reply)`. */
export function encodeTaskBody(task: unknown, noReply: boolean): unknown[] {
  return asTuple([task === undefined ? null : task, noReply]);
}

export function parseTaskBody(value: unknown): TaskBody {
  if (Array.isArray(value) && value.length === 2 && typeof value[1] === 'boolean') {
    return { task: value[0] as unknown, noReply: value[1] };
  }
  const parsed = taskBodySchema.safeParse(value);
  if (!parsed.success) {
    throw new DecodeError(
      `a task body must be a [task, no_reply] pair: ${toIssues(parsed.error)
        .map((i) => `${i.path || '<root>'}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return { task: parsed.data[0], noReply: parsed.data[1] };
}

/** The body of a broadcast message (kiwipy's `BroadcastMessage.create`). */
export const broadcastBodySchema = z.object({
  body: z.unknown(),
  sender: z.unknown(),
  subject: z.string().nullable(),
  correlation_id: z.unknown(),
});

export function encodeBroadcast(message: BroadcastMessage): Record<string, unknown> {
  return {
    body: message.body === undefined ? null : message.body,
    sender: message.sender ?? null,
    subject: message.subject ?? null,
    correlation_id: message.correlationId ?? null,
  };
}

export function parseBroadcast(value: unknown): BroadcastMessage {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    const subject = record.subject;
    if ((subject === null || typeof subject === 'string') && Object.hasOwn(record, 'body')) {
      return {
        body: record.body,
        sender: record.sender ?? null,
        subject,
        correlationId: record.correlation_id ?? null,
      };
    }
  }
  const parsed = broadcastBodySchema.safeParse(value);
  if (!parsed.success) {
    throw new DecodeError(
      `a broadcast must be {body, sender, subject, correlation_id}: ${toIssues(parsed.error)
        .map((i) => `${i.path || '<root>'}: ${i.message}`)
        .join('; ')}`,
    );
  }
  const { body, sender, subject, correlation_id } = parsed.data;
  return { body, sender: sender ?? null, subject, correlationId: correlation_id ?? null };
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
