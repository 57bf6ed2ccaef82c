import { AiidaError, AiidaErrorCode } from '../errors.js';

/**
 * Exit codes of `verdi`, as AiiDA's `ExitCode` plus the usage-error code click uses (2). Scripts can rely on them.
 */
export const ExitCode = {
  SUCCESS: 0,
  /** The command failed; the message says why. */
  CRITICAL: 1,
  /** The command line was wrong: unknown command or option, missing or invalid argument. */
  USAGE_ERROR: 2,
  /** The command is deprecated and refused to run. */
  DEPRECATED: 80,
  /** An unexpected error (a bug): the message and, with `-v debug`, the stack are printed. */
  UNKNOWN: 99,
  /** `verdi daemon status`: the daemon of a profile is not running (as aiida-core's). */
  DAEMON_NOT_RUNNING: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by command code to end `verdi` with an exit code after its message was printed. */
export class CliExit extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.EXIT;
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message = `exit ${exitCode}`) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Thrown for a wrong command line found after parsing (a bad combination of options, a missing value). */
export class UsageError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.USAGE;
  readonly hint: string | undefined;

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.hint = hint;
  }
}
