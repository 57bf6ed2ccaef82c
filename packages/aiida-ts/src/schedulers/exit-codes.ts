/**
 * An exit code a scheduler hands to the calculation job: the same triple as aiida's `ExitCode`
 * (`status`, `message`, `invalidates_cache`) plus the label it has in `CalcJob.exit_codes`.
 */
export interface SchedulerExitCode {
  readonly status: number;
  readonly label: string;
  readonly message: string;
  readonly invalidatesCache: boolean;
}

/**
 * The exit codes of aiida's `CalcJob` spec that schedulers return, with aiida's numbers, labels and
 * messages. Returned by {@link Scheduler.parseOutput} and by `submitJob` when a submission is refused
 * for a reason the job cannot recover from.
 */
export const CalcJobSchedulerExitCodes = {
  ERROR_SCHEDULER_OUT_OF_MEMORY: {
    status: 110,
    label: 'ERROR_SCHEDULER_OUT_OF_MEMORY',
    message: 'The job ran out of memory.',
    invalidatesCache: true,
  },
  ERROR_SCHEDULER_OUT_OF_WALLTIME: {
    status: 120,
    label: 'ERROR_SCHEDULER_OUT_OF_WALLTIME',
    message: 'The job ran out of walltime.',
    invalidatesCache: true,
  },
  ERROR_SCHEDULER_INVALID_ACCOUNT: {
    status: 131,
    label: 'ERROR_SCHEDULER_INVALID_ACCOUNT',
    message: 'The specified account is invalid.',
    invalidatesCache: true,
  },
  ERROR_SCHEDULER_NODE_FAILURE: {
    status: 140,
    label: 'ERROR_SCHEDULER_NODE_FAILURE',
    message: 'The node running the job failed.',
    invalidatesCache: true,
  },
} as const satisfies Record<string, SchedulerExitCode>;
export type CalcJobSchedulerExitCodeLabel = keyof typeof CalcJobSchedulerExitCodes;

/** True when a value returned by `submitJob` is an exit code rather than a job id. */
export function isSchedulerExitCode(value: unknown): value is SchedulerExitCode {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SchedulerExitCode).status === 'number' &&
    typeof (value as SchedulerExitCode).label === 'string'
  );
}
