import { InternalError } from '../errors.js';

/** A class of this package's error root, made from a message and `{ cause }`. */
export type ErrorKind = new (message: string, options?: ErrorOptions) => Error;

/**
 * `value` when it is an Error (what is thrown or rejected nearly always is); otherwise an error of `kind` carrying
 * its text, with the value kept as `cause`. Streams, callbacks and `reject` want an Error, and a failure must keep
 * this package's error root, so a stray string or object never travels on bare.
 */
export function asError(value: unknown, kind: ErrorKind = InternalError, context?: string): Error {
  if (value instanceof Error) return value;
  const text = typeof value === 'string' ? value : safeJson(value);
  return new kind(context === undefined ? text : `${context}: ${text}`, { cause: value });
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
