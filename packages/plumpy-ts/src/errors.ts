/**
 * Every error plumpy-ts throws or rejects with is a {@link PlumpyError}. Codes are stable strings, so code
 * that receives an error across a package or process boundary can branch on them without `instanceof`.
 */
export const PlumpyErrorCode = {
  PLUMPY: 'PLUMPY',
  KILLED: 'KILLED',
  TRANSITION_FAILED: 'TRANSITION_FAILED',
  VALIDATION: 'VALIDATION',
  PERSISTENCE: 'PERSISTENCE',
  INVALID_STATE: 'INVALID_STATE',
  CLOSED: 'CLOSED',
  MISSING_SUPER_CALL: 'MISSING_SUPER_CALL',
  SPEC: 'SPEC',
  OUTLINE: 'OUTLINE',
  UNKNOWN_INTENT: 'UNKNOWN_INTENT',
  CANCELLED: 'CANCELLED',
  CLASS_NOT_FOUND: 'CLASS_NOT_FOUND',
  EVENT: 'EVENT',
} as const;
export type PlumpyErrorCode = (typeof PlumpyErrorCode)[keyof typeof PlumpyErrorCode];

const brand = Symbol.for('plumpy-ts.PlumpyError');

/** Root of every plumpy-ts error. */
export class PlumpyError extends Error {
  readonly code: PlumpyErrorCode = PlumpyErrorCode.PLUMPY;
  readonly [brand] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True for any plumpy-ts error, also one thrown by another copy of the package. */
export function isPlumpyError(value: unknown): value is PlumpyError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** The result of a process that was killed (plumpy's `KilledError`); the message is the kill message text. */
export class KilledError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.KILLED;
}

/** A state machine was asked for a transition its `ALLOWED` table forbids, or a transition hook failed. */
export class TransitionFailedError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.TRANSITION_FAILED;
  /** The state the machine was in (undefined before the initial state). */
  readonly from: string | undefined;
  /** The state it was asked to enter. */
  readonly to: string;

  constructor(from: string | undefined, to: string, detail?: string, options?: ErrorOptions) {
    super(
      `cannot transition from '${from ?? 'None'}' to '${to}'${detail === undefined ? '' : `: ${detail}`}`,
      options,
    );
    this.from = from;
    this.to = to;
  }
}

/** One failing path of a value checked against ports or a schema. */
export interface ValidationIssue {
  /** Dotted path of the port (`inputs.some.name`), or of the field for other payloads. */
  readonly path: string;
  readonly message: string;
}

/** Values did not match their ports (or a payload its schema); lists every failing path. */
export class ValidationError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.VALIDATION;
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], options?: ErrorOptions) {
    super(`${what} ${issues.length === 1 ? 'is' : 'are'} invalid: ${formatIssues(issues)}`, options);
    this.issues = issues;
  }
}

/** `path: message; path: message`. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path === '' ? '<root>' : i.path}: ${i.message}`).join('; ');
}

/** A checkpoint could not be saved, found or loaded; names the process. */
export class PersistenceError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.PERSISTENCE;
  /** The pid of the process the checkpoint belongs to, when known. */
  readonly pid: string | number | undefined;

  constructor(message: string, pid?: string | number, options?: ErrorOptions) {
    super(pid === undefined ? message : `process ${String(pid)}: ${message}`, options);
    this.pid = pid;
  }
}

/** The operation is not allowed in the current state (e.g. `result()` of a running process). */
export class InvalidStateError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.INVALID_STATE;
}

/** The process is closed (it terminated); it cannot be stepped, executed or given outputs any more. */
export class ClosedError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.CLOSED;
}

/** An override of a lifecycle hook did not call the overridden method (plumpy's `super_check`). */
export class MissingSuperCallError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.MISSING_SUPER_CALL;
}

/** A process specification was used wrongly: a sealed spec changed, a bad port name or default, a bad expose. */
export class SpecError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.SPEC;
}

/** A work chain outline is malformed: an unknown or non-method step, a bad predicate, a misused `if_`. */
export class OutlineError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.OUTLINE;
}

/** A process received a remote message whose intent it does not know. */
export class UnknownIntentError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.UNKNOWN_INTENT;
}

/** A pending pause or kill was cancelled before it took effect (e.g. `play()` after `pause()` in a step). */
export class CancelledError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.CANCELLED;
}

/** An object loader has no class for an identifier. */
export class ClassNotFoundError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.CLASS_NOT_FOUND;
}

/** An event was fired in a state that does not accept it (plumpy's `EventError`), e.g. `resume()` when not waiting. */
export class EventError extends PlumpyError {
  override readonly code: PlumpyErrorCode = PlumpyErrorCode.EVENT;
}
