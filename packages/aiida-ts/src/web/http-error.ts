import { AiidaError } from '../errors.js';

/** HTTP status codes the web API answers errors with. */
export const HttpStatus = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  SERVICE_UNAVAILABLE: 503,
} as const;
export type HttpStatus = (typeof HttpStatus)[keyof typeof HttpStatus];

/**
 * A request the web API refuses: the status to answer with, and the query parameter (or path segment) at fault, so
 * that a client sees which part of its URL was wrong.
 */
export class HttpRequestError extends AiidaError {
  readonly status: HttpStatus;
  readonly parameter: string | null;

  constructor(status: HttpStatus, message: string, parameter: string | null = null, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.parameter = parameter;
  }
}

/** A 400 naming the parameter at fault. */
export function badParameter(parameter: string, message: string, cause?: unknown): HttpRequestError {
  return new HttpRequestError(
    HttpStatus.BAD_REQUEST,
    `invalid value for \`${parameter}\`: ${message}`,
    parameter,
    cause === undefined ? undefined : { cause },
  );
}
