import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { jobStateSchema } from './job-state.js';

/** One machine a job runs on (aiida's `MachineInfo`). */
export const machineInfoSchema = z.object({
  name: z.string(),
  numMpiprocs: z.number().int().optional(),
  numCpus: z.number().int().optional(),
  /** PBS's index of the job's first slot on this machine. */
  jobIndex: z.number().int().optional(),
});
export type MachineInfo = z.infer<typeof machineInfoSchema>;

/**
 * What a scheduler reports about one job (aiida's `JobInfo`, whose fields come from DRMAA v2). Only `jobId`
 * and `jobState` are always there; each plugin fills what its scheduler tells. Times are absolute
 * instants; scheduler output without a time zone is read in the local time zone, as aiida does.
 */
export const jobInfoSchema = z.object({
  jobId: z.string(),
  jobState: jobStateSchema,
  title: z.string().optional(),
  /** The job's exit status as the operating system of the execution host reported it. */
  exitStatus: z.number().int().optional(),
  /** The signal that ended the job, when one did. */
  terminatingSignal: z.number().int().optional(),
  /** Why the job is in its state (slurm's reason, a PBS comment, …). */
  annotation: z.string().optional(),
  /** The scheduler's own name for the state (`PD`, `R`, `42`, …). */
  jobSubstate: z.string().optional(),
  allocatedMachines: z.array(machineInfoSchema).optional(),
  /** The scheduler's unparsed node list (`nid0[0099,0156-0157]`) where it is not expanded. */
  allocatedMachinesRaw: z.string().optional(),
  jobOwner: z.string().optional(),
  /** Total number of MPI processes requested. */
  numMpiprocs: z.number().int().optional(),
  /** Total number of cores requested. */
  numCpus: z.number().int().optional(),
  numMachines: z.number().int().optional(),
  queueName: z.string().optional(),
  account: z.string().optional(),
  qos: z.string().optional(),
  wallclockTimeSeconds: z.number().int().optional(),
  /** `null` when the scheduler says the limit is not set. */
  requestedWallclockTimeSeconds: z.number().int().nullable().optional(),
  cpuTime: z.number().int().optional(),
  submissionTime: z.date().optional(),
  dispatchTime: z.date().optional(),
  finishTime: z.date().optional(),
  /** The scheduler's record of the job as parsed, for debugging. */
  rawData: z.unknown().optional(),
});
export type JobInfo = z.infer<typeof jobInfoSchema>;

/** camelCase field → aiida's key in `JobInfo.get_dict()`. */
const AIIDA_KEYS = {
  jobId: 'job_id',
  jobState: 'job_state',
  title: 'title',
  exitStatus: 'exit_status',
  terminatingSignal: 'terminating_signal',
  annotation: 'annotation',
  jobSubstate: 'job_substate',
  allocatedMachines: 'allocated_machines',
  allocatedMachinesRaw: 'allocated_machines_raw',
  jobOwner: 'job_owner',
  numMpiprocs: 'num_mpiprocs',
  numCpus: 'num_cpus',
  numMachines: 'num_machines',
  queueName: 'queue_name',
  account: 'account',
  qos: 'qos',
  wallclockTimeSeconds: 'wallclock_time_seconds',
  requestedWallclockTimeSeconds: 'requested_wallclock_time_seconds',
  cpuTime: 'cpu_time',
  submissionTime: 'submission_time',
  dispatchTime: 'dispatch_time',
  finishTime: 'finish_time',
  rawData: 'raw_data',
} as const satisfies Record<keyof JobInfo, string>;

const DATE_FIELDS = new Set<string>(['submissionTime', 'dispatchTime', 'finishTime']);

/** aiida's serialised date: `{date: 'YYYY-MM-DDTHH:MM:SS.ffffff', timezone: 'UTC' | null | <zone name>}`. */
export const aiidaDateSchema = z.object({ date: z.string(), timezone: z.string().nullable() });
export type AiidaDate = z.infer<typeof aiidaDateSchema>;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** A date as aiida serialises an aware datetime: in UTC, with microseconds. */
export function dateToAiida(date: Date): AiidaDate {
  const text =
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}` +
    `.${pad(date.getUTCMilliseconds(), 3)}000`;
  return { date: text, timezone: 'UTC' };
}

/** Milliseconds to add to a UTC instant to get the wall time of `timeZone` at that instant. */
function zoneOffset(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

/** Read aiida's serialised date: naive dates are local time, `UTC` is UTC, other names are IANA zones. */
export function dateFromAiida(value: AiidaDate): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(value.date);
  if (!match) throw new ValidationError(`invalid serialised date '${value.date}'`);
  const [y, mo, d, h, mi, s] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Math.floor(Number((match[7] ?? '0').padEnd(6, '0')) / 1000);
  if (value.timezone === null) return new Date(y, mo - 1, d, h, mi, s, ms);
  const wallAsUtc = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (value.timezone === 'UTC') return new Date(wallAsUtc);
  try {
    // Two passes so a wall time next to a DST change lands on the offset in force at that instant.
    let instant = wallAsUtc - zoneOffset(wallAsUtc, value.timezone);
    instant = wallAsUtc - zoneOffset(instant, value.timezone);
    return new Date(instant);
  } catch (error) {
    throw new ValidationError(`unknown time zone '${value.timezone}' in serialised date`, [], {
      cause: error,
    });
  }
}

/**
 * The job info as aiida's `JobInfo.get_dict()`: aiida's keys, the state as its string, dates as
 * `{date, timezone}`; only the fields that are set. JSON-serialisable.
 */
export function jobInfoToAiidaDict(info: JobInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(AIIDA_KEYS)) {
    const value = (info as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (DATE_FIELDS.has(field)) out[key] = dateToAiida(value as Date);
    else if (field === 'allocatedMachines') {
      out[key] = (value as MachineInfo[]).map((m) => ({
        name: m.name,
        ...(m.numMpiprocs === undefined ? {} : { num_mpiprocs: m.numMpiprocs }),
        ...(m.numCpus === undefined ? {} : { num_cpus: m.numCpus }),
        ...(m.jobIndex === undefined ? {} : { job_index: m.jobIndex }),
      }));
    } else out[key] = value;
  }
  return out;
}

const aiidaMachineSchema = z.object({
  name: z.string(),
  num_mpiprocs: z.number().int().nullish(),
  num_cpus: z.number().int().nullish(),
  job_index: z.number().int().nullish(),
});

/** Schema of aiida's `JobInfo` dictionary (keys it does not know are ignored, as extra attributes). */
export const aiidaJobInfoDictSchema = z.object({
  job_id: z.string(),
  job_state: jobStateSchema,
  title: z.string().nullish(),
  exit_status: z.number().int().nullish(),
  terminating_signal: z.number().int().nullish(),
  annotation: z.string().nullish(),
  job_substate: z.union([z.string(), z.number()]).nullish(),
  allocated_machines: z.array(aiidaMachineSchema).nullish(),
  allocated_machines_raw: z.string().nullish(),
  job_owner: z.string().nullish(),
  num_mpiprocs: z.number().int().nullish(),
  num_cpus: z.number().int().nullish(),
  num_machines: z.number().int().nullish(),
  queue_name: z.string().nullish(),
  account: z.string().nullish(),
  qos: z.string().nullish(),
  wallclock_time_seconds: z.number().int().nullish(),
  requested_wallclock_time_seconds: z.number().int().nullish(),
  cpu_time: z.number().int().nullish(),
  submission_time: aiidaDateSchema.nullish(),
  dispatch_time: aiidaDateSchema.nullish(),
  finish_time: aiidaDateSchema.nullish(),
  raw_data: z.unknown().optional(),
});

/** Read aiida's `JobInfo` dictionary back (the inverse of {@link jobInfoToAiidaDict}). */
export function jobInfoFromAiidaDict(data: unknown): JobInfo {
  const result = aiidaJobInfoDictSchema.safeParse(data);
  if (!result.success) {
    throw new ValidationError(
      'invalid serialised JobInfo',
      result.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
  const d = result.data;
  const info: JobInfo = { jobId: d.job_id, jobState: d.job_state };
  for (const [field, key] of Object.entries(AIIDA_KEYS)) {
    if (field === 'jobId' || field === 'jobState') continue;
    const value = (d as Record<string, unknown>)[key];
    if (value === undefined) continue;
    // aiida keeps `requested_wallclock_time_seconds: None` meaning "not set"; other Nones mean absent.
    if (value === null && field !== 'requestedWallclockTimeSeconds') continue;
    const target = info as Record<string, unknown>;
    if (DATE_FIELDS.has(field)) target[field] = dateFromAiida(value as AiidaDate);
    else if (field === 'jobSubstate') target[field] = typeof value === 'number' ? value.toString() : value;
    else if (field === 'allocatedMachines') {
      target[field] = (value as z.infer<typeof aiidaMachineSchema>[]).map((m) => ({
        name: m.name,
        ...(m.num_mpiprocs == null ? {} : { numMpiprocs: m.num_mpiprocs }),
        ...(m.num_cpus == null ? {} : { numCpus: m.num_cpus }),
        ...(m.job_index == null ? {} : { jobIndex: m.job_index }),
      }));
    } else target[field] = value;
  }
  return info;
}

/** aiida's `JobInfo.serialize()`: the dictionary as a JSON string. */
export function serializeJobInfo(info: JobInfo): string {
  return JSON.stringify(jobInfoToAiidaDict(info));
}

/** aiida's `JobInfo.load_from_serialized()`. */
export function loadJobInfo(serialized: string): JobInfo {
  let data: unknown;
  try {
    data = JSON.parse(serialized);
  } catch (error) {
    throw new ValidationError('serialised JobInfo is not valid JSON', [], { cause: error });
  }
  return jobInfoFromAiidaDict(data);
}
