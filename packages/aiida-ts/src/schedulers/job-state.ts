import { z } from 'zod';

/**
 * The states a scheduler job can be in, with aiida's exact strings (`JobState` in
 * `aiida.schedulers.datastructures`). There is no failed state: every finished job is `done`, whether it
 * succeeded or not; the exit status says the rest.
 */
export const JobState = {
  UNDETERMINED: 'undetermined',
  QUEUED: 'queued',
  QUEUED_HELD: 'queued held',
  RUNNING: 'running',
  SUSPENDED: 'suspended',
  DONE: 'done',
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

/** Schema of a {@link JobState} string as it is stored (`'queued held'`, …). */
export const jobStateSchema = z.enum([
  JobState.UNDETERMINED,
  JobState.QUEUED,
  JobState.QUEUED_HELD,
  JobState.RUNNING,
  JobState.SUSPENDED,
  JobState.DONE,
]);
