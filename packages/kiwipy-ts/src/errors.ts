/**
 * Every error kiwipy-ts throws or rejects with is a {@link KiwiError}. Codes are stable strings, so code
 * that receives an error across a package or process boundary can branch on them without `instanceof`.
 */
export const KiwiErrorCode = {
  KIWI: 'KIWI',
  REMOTE: 'REMOTE',
  DELIVERY_FAILED: 'DELIVERY_FAILED',
  UNROUTABLE: 'UNROUTABLE',
  TASK_REJECTED: 'TASK_REJECTED',
  DUPLICATE_SUBSCRIBER_IDENTIFIER: 'DUPLICATE_SUBSCRIBER_IDENTIFIER',
  UNKNOWN_SUBSCRIBER: 'UNKNOWN_SUBSCRIBER',
  COMMUNICATOR_CLOSED: 'COMMUNICATOR_CLOSED',
  TIMEOUT: 'TIMEOUT',
  QUEUE_EMPTY: 'QUEUE_EMPTY',
  CANCELLED: 'CANCELLED',
  CONNECTION_LOST: 'CONNECTION_LOST',
  DECODE: 'DECODE',
  VALIDATION: 'VALIDATION',
  INVALID_STATE: 'INVALID_STATE',
} as const;
export type KiwiErrorCode = (typeof KiwiErrorCode)[keyof typeof KiwiErrorCode];

const brand = Symbol.for('kiwipy-ts.KiwiError');

/** Root of every kiwipy-ts error. */
export class KiwiError extends Error {
  readonly code: KiwiErrorCode = KiwiErrorCode.KIWI;
  readonly [brand] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True for any kiwipy-ts error, also one thrown by another copy of the package. */
export function isKiwiError(value: unknown): value is KiwiError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** A subscriber on the other side threw: carries the remote message and, where sent, its stack. */
export class RemoteError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.REMOTE;
  /** The message of the error raised by the remote subscriber. */
  readonly remoteMessage: string;
  /** The remote stack trace, when the remote side sent one. */
  readonly remoteStack: string | undefined;

  constructor(remoteMessage: string, remoteStack?: string, options?: ErrorOptions) {
    super(`remote subscriber failed: ${remoteMessage}`, options);
    this.remoteMessage = remoteMessage;
    this.remoteStack = remoteStack;
  }
}

/** A message could not be delivered. */
export class DeliveryFailedError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.DELIVERY_FAILED;
}

/** Nobody is bound to receive the message: no RPC subscriber with that identifier, no task queue. */
export class UnroutableError extends DeliveryFailedError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.UNROUTABLE;
}

/**
 * Thrown by a task subscriber that will not take a task, so that the next subscriber gets it; rejected to
 * the sender when the broker refuses the task.
 */
export class TaskRejectedError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.TASK_REJECTED;
}

/** A subscriber was added with an identifier that is already in use. */
export class DuplicateSubscriberIdentifierError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.DUPLICATE_SUBSCRIBER_IDENTIFIER;
}

/** A subscriber was removed with an identifier that was never added (kiwipy raises `ValueError`). */
export class UnknownSubscriberError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.UNKNOWN_SUBSCRIBER;
}

/** The communicator was closed; pending requests reject with this, and later calls throw it. */
export class CommunicatorClosedError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.COMMUNICATOR_CLOSED;
}

/** An operation did not complete in the time allowed. */
export class TimeoutError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.TIMEOUT;
}

/** A pull from a task queue found no task in the time allowed. */
export class QueueEmptyError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.QUEUE_EMPTY;
}

/** The remote side cancelled the request (kiwipy's `cancelled` response). */
export class CancelledError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.CANCELLED;
}

/** The connection to the broker was lost and could not be restored in the time allowed. */
export class ConnectionLostError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.CONNECTION_LOST;
}

/** An object was used in a way its state does not allow, e.g. a task processed twice (kiwipy's `InvalidStateError`). */
export class InvalidStateError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.INVALID_STATE;
}

/** A message body could not be decoded by the codec. */
export class DecodeError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.DECODE;
}

/** One failing path of a payload checked against a schema. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** A payload did not match its channel's schema; lists every failing path. */
export class ValidationError extends KiwiError {
  override readonly code: KiwiErrorCode = KiwiErrorCode.VALIDATION;
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], options?: ErrorOptions) {
    super(
      `${what} is invalid: ${issues.map((i) => `${i.path || '<root>'}: ${i.message}`).join('; ')}`,
      options,
    );
    this.issues = issues;
  }
}
