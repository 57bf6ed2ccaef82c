import {
  FeatureNotAvailableError,
  SchedulerError,
  SchedulerParsingError,
  ValidationError,
} from '../../errors.js';
import { BashCliScheduler, type JoblistQuery } from '../bash-cli-scheduler.js';
import { quoteForBash } from '../bash-quoting.js';
import { CalcJobSchedulerExitCodes, type SchedulerExitCode } from '../exit-codes.js';
import type { JobInfo } from '../job-info.js';
import { SlurmJobResourceClass } from '../job-resource.js';
import { JobState } from '../job-state.js';
import { jobStateOf, splitJobLine } from './job-lines.js';
import type { JobTemplate } from '../job-template.js';
import { readDetailedJobInfoArgument, type CommandOutput, type DetailedJobInfo } from '../scheduler.js';
import {
  directiveValue,
  nonNegativeMemoryKb,
  positiveWallclockSeconds,
  sanitizeJobName,
} from '../script-values.js';
import { formatSlurmTime, parseIsoLocal, parseSlurmDuration } from '../time-formats.js';

/** squeue's compact state codes (`man squeue`) → job state. */
const SLURM_STATES: Readonly<Record<string, JobState>> = {
  BF: JobState.DONE,
  CA: JobState.DONE,
  CD: JobState.DONE,
  CF: JobState.QUEUED,
  CG: JobState.RUNNING,
  DL: JobState.DONE,
  F: JobState.DONE,
  NF: JobState.DONE,
  OOM: JobState.DONE,
  PD: JobState.QUEUED,
  PR: JobState.DONE,
  R: JobState.RUNNING,
  RD: JobState.QUEUED_HELD,
  RF: JobState.QUEUED,
  RH: JobState.QUEUED,
  RQ: JobState.QUEUED,
  RS: JobState.QUEUED,
  RV: JobState.DONE,
  S: JobState.SUSPENDED,
  SE: JobState.DONE,
  SI: JobState.RUNNING,
  SO: JobState.RUNNING,
  ST: JobState.RUNNING,
  TO: JobState.DONE,
};

/** Long state names of `scontrol`, `sacct` and the jobcomp file → job state. */
const SLURM_LONG_STATES: Readonly<Record<string, JobState>> = {
  BOOT_FAIL: JobState.DONE,
  CANCELLED: JobState.DONE,
  COMPLETED: JobState.DONE,
  CONFIGURING: JobState.QUEUED,
  COMPLETING: JobState.RUNNING,
  DEADLINE: JobState.DONE,
  FAILED: JobState.DONE,
  NODE_FAIL: JobState.DONE,
  OUT_OF_MEMORY: JobState.DONE,
  PENDING: JobState.QUEUED,
  PREEMPTED: JobState.DONE,
  RUNNING: JobState.RUNNING,
  REQUEUED: JobState.QUEUED,
  RESIZING: JobState.RUNNING,
  REVOKED: JobState.DONE,
  SUSPENDED: JobState.SUSPENDED,
  TIMEOUT: JobState.DONE,
};

/** Reasons of a pending job that mean it waits for something other than resources (aiida's list). */
const HELD_REASONS = new Set(['Dependency', 'JobHeldUser', 'JobHeldAdmin', 'BeginTime']);

/** `sbatch` (`Submitted batch job 42`) and `salloc` (`Granted job allocation 42`), with or without a prefix. */
const SUBMITTED = /^(?:.*:\s*)?(?:[Gg]ranted job allocation|[Ss]ubmitted batch job)\s+(\d+)/;

/** The squeue fields aiida reads, in order: format code and name. */
export const SQUEUE_FIELDS = [
  ['%i', 'job_id'],
  ['%t', 'state_raw'],
  ['%r', 'annotation'],
  ['%B', 'executing_host'],
  ['%u', 'username'],
  ['%D', 'number_nodes'],
  ['%C', 'number_cpus'],
  ['%R', 'allocated_machines'],
  ['%P', 'partition'],
  ['%l', 'time_limit'],
  ['%M', 'time_used'],
  ['%S', 'dispatch_time'],
  ['%j', 'job_name'],
  ['%V', 'submission_time'],
] as const;

/** Separator between squeue fields; chosen because it does not occur in slurm's own values. */
export const SQUEUE_SEPARATOR = '^^^';
const NUM_FIELDS = SQUEUE_FIELDS.length;
const NAME_INDEX = 12;

/** Split a line of `Key=Value Key=Value …` (scontrol --oneliner, the jobcomp file); values may hold spaces. */
export function parseSlurmKeyValues(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(?:^|\s)([A-Za-z][\w:/]*)=/g;
  const starts: { key: string; keyStart: number; valueStart: number }[] = [];
  for (let m = re.exec(line); m; m = re.exec(line)) {
    starts.push({ key: m[1]!, keyStart: m.index, valueStart: m.index + m[0].length });
  }
  starts.forEach((s, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]!.keyStart : line.length;
    out[s.key] = line.slice(s.valueStart, end).trim();
  });
  return out;
}

type DetailedRecord = { readonly source: 'sacct' | 'key-value'; readonly fields: Record<string, string> };

/**
 * `core.slurm` (aiida's `SlurmScheduler`): `sbatch` submits, `squeue` lists (with the header line, so an
 * empty reply is recognisably broken rather than an empty queue), `scancel` kills. The detailed job info
 * comes from `sacct`, or where accounting is off from `scontrol show job` and then the jobcomp file.
 */
export class SlurmScheduler extends BashCliScheduler {
  readonly entryPoint = 'core.slurm';
  readonly jobResourceClass = SlurmJobResourceClass;
  protected readonly features = { can_query_by_user: false };

  getSubmitScriptHeader(template: JobTemplate): string {
    const lines: string[] = [];
    if (template.submitAsHold) lines.push('#SBATCH -H');
    lines.push(template.rerunnable ? '#SBATCH --requeue' : '#SBATCH --no-requeue');
    if (template.email) lines.push(`#SBATCH --mail-user=${directiveValue('email', template.email)}`);
    if (template.emailOnStarted) lines.push('#SBATCH --mail-type=BEGIN');
    if (template.emailOnTerminated) lines.push('#SBATCH --mail-type=FAIL', '#SBATCH --mail-type=END');
    if (template.jobName) {
      lines.push(`#SBATCH --job-name="${sanitizeJobName(template.jobName, { maxLength: 128 })}"`);
    }
    if (template.importSysEnvironment) lines.push('#SBATCH --get-user-env');
    if (template.schedOutputPath) {
      lines.push(`#SBATCH --output=${directiveValue('schedOutputPath', template.schedOutputPath)}`);
    }
    if (template.schedJoinFiles) {
      if (template.schedErrorPath) {
        this.logger.info(
          {},
          'sched_join_files is True, but sched_error_path is set in SLURM script; ignoring it',
        );
      }
    } else if (template.schedErrorPath) {
      lines.push(`#SBATCH --error=${directiveValue('schedErrorPath', template.schedErrorPath)}`);
    } else {
      // Without it slurm joins stderr into stdout.
      lines.push('#SBATCH --error=slurm-%j.err');
    }
    if (template.queueName)
      lines.push(`#SBATCH --partition=${directiveValue('queueName', template.queueName)}`);
    if (template.account) lines.push(`#SBATCH --account=${directiveValue('account', template.account)}`);
    if (template.qos) lines.push(`#SBATCH --qos=${directiveValue('qos', template.qos)}`);
    if (template.priority !== null && template.priority !== undefined && template.priority !== '') {
      // slurm has no absolute priority for users; `--nice` adjusts it (-10000 highest to 10000 lowest).
      lines.push(`#SBATCH --nice=${directiveValue('priority', template.priority)}`);
    }
    const resource = template.jobResource;
    if (!resource)
      throw new ValidationError(
        'Job resources (as the num_machines) are required for the SLURM scheduler plugin',
      );
    if (resource.kind !== 'node-number') {
      throw new ValidationError(
        `the SLURM scheduler plugin needs node-number job resources, not '${resource.kind}'`,
      );
    }
    lines.push(`#SBATCH --nodes=${resource.numMachines}`);
    if (resource.numMpiprocsPerMachine)
      lines.push(`#SBATCH --ntasks-per-node=${resource.numMpiprocsPerMachine}`);
    if (resource.numCoresPerMpiproc) lines.push(`#SBATCH --cpus-per-task=${resource.numCoresPerMpiproc}`);
    if (template.maxWallclockSeconds !== null && template.maxWallclockSeconds !== undefined) {
      lines.push(`#SBATCH --time=${formatSlurmTime(positiveWallclockSeconds(template.maxWallclockSeconds))}`);
    }
    if (template.maxMemoryKb !== null && template.maxMemoryKb !== undefined) {
      // --mem is per node, in MB; 0 means "all the memory of the node".
      lines.push(`#SBATCH --mem=${Math.floor(nonNegativeMemoryKb(template.maxMemoryKb) / 1024)}`);
    }
    if (template.customSchedulerCommands) lines.push(template.customSchedulerCommands);
    return lines.join('\n');
  }

  getSubmitCommand(submitScript: string): string {
    return `sbatch ${submitScript}`;
  }

  parseSubmitOutput(output: CommandOutput): string | SchedulerExitCode {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      this.logger.error({ retval, stdout, stderr }, 'sbatch failed');
      if (stderr.includes('Invalid account'))
        return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_INVALID_ACCOUNT;
      throw new SchedulerError(
        `Error during submission, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
      );
    }
    if (stderr.trim()) this.logger.warn({ stderr }, 'sbatch wrote to stderr');
    for (const line of stdout.split('\n')) {
      const match = SUBMITTED.exec(line.trim());
      if (match) return match[1]!;
    }
    throw new SchedulerParsingError(
      `Error during submission, could not retrieve the jobID from sbatch output: ${JSON.stringify(stdout)}`,
    );
  }

  getJoblistCommand(query: JoblistQuery): string {
    if (query.user && query.jobs)
      throw new FeatureNotAvailableError('Cannot query by user and job(s) in SLURM');
    // SLURM_TIME_FORMAT=standard gives ISO times whatever the site configured; the header line stays so
    // that an empty reply can be told apart from an empty queue.
    const format = SQUEUE_FIELDS.map(([code]) => code).join(SQUEUE_SEPARATOR);
    const command = [`SLURM_TIME_FORMAT='standard'`, 'squeue', `-o '${format}'`];
    if (query.user) command.push(`-u${query.user}`);
    if (query.jobs && query.jobs.length > 0) {
      // squeue exits non-zero when asked for one job it no longer knows, but not for a list (even of one
      // id twice); listing a single id twice keeps the exit status meaningful (aiida-core #4326).
      const ids = query.jobs.length === 1 ? [query.jobs[0]!, query.jobs[0]!] : [...query.jobs];
      command.push(`--jobs=${ids.join(',')}`);
    }
    return command.join(' ');
  }

  parseJoblistOutput(output: CommandOutput): JobInfo[] {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `squeue returned exit code ${retval} (_parse_joblist_output function)\n` +
          `stdout='${stdout.trim()}'\nstderr='${stderr.trim()}'`,
      );
    }
    if (stderr.trim()) {
      this.logger.warn({ stderr: stderr.trim() }, 'squeue returned exit code 0 but non-empty stderr');
    }
    const lines = stdout.split('\n');
    let i = 0;
    while (i < lines.length && lines[i]!.trim() === '') i++;
    const header = lines[i];
    if (header === undefined || !header.startsWith(`JOBID${SQUEUE_SEPARATOR}`)) {
      throw new SchedulerParsingError(
        `squeue output does not start with its header line: ${JSON.stringify(stdout.slice(0, 200))}`,
      );
    }
    const jobs: JobInfo[] = [];
    for (i++; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      jobs.push(this.parseSqueueLine(line));
    }
    return jobs;
  }

  /** One line of squeue output (the fields of {@link SQUEUE_FIELDS}). */
  parseSqueueLine(line: string): JobInfo {
    // Only the job name is free text: the separators it contained are put back.
    const fields = splitJobLine(line, SQUEUE_SEPARATOR, NUM_FIELDS, NAME_INDEX, 'squeue');
    const [
      jobId,
      stateRaw,
      annotation,
      ,
      username,
      nodes,
      cpus,
      machines,
      partition,
      limit,
      used,
      dispatch,
      name,
      submit,
    ] = fields;
    if (!/^\d/.test(jobId))
      throw new SchedulerParsingError(`squeue line has no job id: ${JSON.stringify(line)}`);
    const listed = jobStateOf(SLURM_STATES, stateRaw, jobId, this.logger);
    // slurm has no held state: a pending job waiting on a dependency, a hold or a begin time is held.
    const jobState =
      listed === JobState.QUEUED && HELD_REASONS.has(annotation) ? JobState.QUEUED_HELD : listed;
    const job: JobInfo = {
      jobId,
      jobState,
      jobSubstate: stateRaw,
      annotation,
      jobOwner: username,
      queueName: partition,
      title: name,
      rawData: fields,
    };
    const numMachines = Number(nodes);
    if (Number.isInteger(numMachines) && nodes !== '') job.numMachines = numMachines;
    else
      this.logger.warn(
        { jobId, nodes },
        `The number of allocated nodes is not an integer (${nodes}) for job id ${jobId}!`,
      );
    const numCpus = Number(cpus);
    if (Number.isInteger(numCpus) && cpus !== '') job.numMpiprocs = numCpus;
    else
      this.logger.warn(
        { jobId, cpus },
        `The number of allocated cores is not an integer (${cpus}) for job id ${jobId}!`,
      );
    const requested = parseSlurmDuration(limit);
    if (requested === undefined)
      this.logger.warn({ jobId, limit }, `Error parsing the time limit for job id ${jobId}`);
    else job.requestedWallclockTimeSeconds = requested;
    if (jobState === JobState.RUNNING) {
      job.allocatedMachinesRaw = machines;
      const elapsed = parseSlurmDuration(used);
      if (elapsed === undefined || elapsed === null) {
        this.logger.warn({ jobId, used }, `Error parsing time_used for job id ${jobId}`);
      } else job.wallclockTimeSeconds = elapsed;
      const started = parseIsoLocal(dispatch);
      if (started) job.dispatchTime = started;
      else this.logger.warn({ jobId, dispatch }, `Error parsing dispatch_time for job id ${jobId}`);
    }
    const submitted = parseIsoLocal(submit);
    if (submitted) job.submissionTime = submitted;
    else this.logger.warn({ jobId, submit }, `Error parsing submission_time for job id ${jobId}`);
    return job;
  }

  getKillCommand(jobId: string): string {
    return `scancel ${quoteForBash(jobId)}`;
  }

  parseKillOutput(output: CommandOutput): boolean {
    return this.checkKillOutput(output);
  }

  /**
   * `sacct` as aiida runs it (every field, `|`-separated); where accounting is disabled, or does not know the
   * job, `scontrol show job --oneliner` (slurm keeps finished jobs for `MinJobAge`, 300 s by default); then
   * the job's line in the jobcomp file, when the cluster writes one that is readable here.
   */
  override getDetailedJobInfoCommand(jobId: string): string {
    const id = quoteForBash(jobId);
    const sacct = `sacct --format=$(sacct --helpformat | tr -s '\\n' ' ' | tr ' ' ',') --parsable --jobs=${id}`;
    return (
      `{ out=$(${sacct} 2>/dev/null) && [ "$(printf '%s\\n' "$out" | grep -c .)" -ge 2 ] && printf '%s\\n' "$out"; } ` +
      `|| scontrol show job --oneliner ${id} 2>/dev/null ` +
      `|| { f=$(scontrol show config 2>/dev/null | sed -n 's/^JobCompLoc *= *//p'); ` +
      `[ -r "$f" ] && awk -v p=${quoteForBash(`JobId=${jobId} `)} 'index($0, p) == 1' "$f" | tail -n 1 | grep .; }`
    );
  }

  /** The job's accounting record from any of the three sources of {@link getDetailedJobInfoCommand}. */
  private readDetailedRecord(jobId: string | undefined, stdout: string): DetailedRecord {
    const lines = stdout.split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) throw new ValidationError('the `detailed_job_info.stdout` is empty.');
    if (lines[0]!.startsWith('JobId=')) {
      const wanted =
        jobId === undefined ? undefined : lines.filter((l) => l.startsWith(`JobId=${jobId} `)).pop();
      return { source: 'key-value', fields: parseSlurmKeyValues(wanted ?? lines[lines.length - 1]!) };
    }
    if (lines.length < 2)
      throw new ValidationError('the `detailed_job_info.stdout` contained less than two lines.');
    const header = lines[0]!.split('|');
    // The first record is the allocation itself; further lines are its steps (batch, extern, …).
    const rows = lines.slice(1).map((line) => line.split('|'));
    const jobIdColumn = header.indexOf('JobID');
    const row =
      (jobId !== undefined && jobIdColumn >= 0 ? rows.find((r) => r[jobIdColumn] === jobId) : undefined) ??
      rows[0]!;
    if (row.length !== header.length) {
      throw new ValidationError(
        `first and second line in \`detailed_job_info.stdout\` differ in length: ${header.length} vs ${row.length}`,
      );
    }
    const fields: Record<string, string> = {};
    header.forEach((key, index) => {
      if (key) fields[key] = row[index]!;
    });
    return { source: 'sacct', fields };
  }

  /**
   * aiida's slurm output parsing: the job's final state `OUT_OF_MEMORY`, `TIMEOUT` or `NODE_FAIL` gives exit
   * code 110, 120 or 140; otherwise slurm's messages in the job's stderr ("exceeded memory limit",
   * "oom-kill", "cancelled at … due to time limit") are looked for on every line.
   */
  override parseOutput(
    detailedJobInfo?: unknown,
    _stdout?: string | null,
    stderr?: string | null,
  ): SchedulerExitCode | undefined {
    if (detailedJobInfo !== undefined && detailedJobInfo !== null) {
      const info = readDetailedJobInfoArgument(detailedJobInfo);
      const record = this.readDetailedRecord(undefined, info.stdout);
      const rawState = record.source === 'sacct' ? record.fields['State'] : record.fields['JobState'];
      const state = rawState?.split(/\s+/)[0];
      if (state === 'OUT_OF_MEMORY') return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY;
      if (state === 'TIMEOUT') return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME;
      if (state === 'NODE_FAIL') return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_NODE_FAILURE;
    }
    if (stderr !== undefined && stderr !== null) {
      if (typeof stderr !== 'string') throw new ValidationError('parseOutput: stderr must be a string');
      const text = stderr.toLowerCase();
      if (/exceeded.*memory limit|oom-kill event/.test(text)) {
        return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY;
      }
      if (/cancelled at.*due to time limit/.test(text)) {
        return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME;
      }
    }
    return undefined;
  }

  override parseDetailedJobInfo(jobId: string, detailedJobInfo: DetailedJobInfo): JobInfo {
    let record: DetailedRecord;
    try {
      record = this.readDetailedRecord(jobId, detailedJobInfo.stdout);
    } catch (error) {
      throw new SchedulerParsingError(
        `cannot read the detailed job info of job ${jobId} (retval=${detailedJobInfo.retval}, ` +
          `stderr=${JSON.stringify(detailedJobInfo.stderr.trim())})`,
        { cause: error },
      );
    }
    const f = record.fields;
    const pick = (...keys: string[]): string | undefined => {
      for (const key of keys) {
        const value = f[key];
        if (
          value !== undefined &&
          value !== '' &&
          value !== '(null)' &&
          value !== 'Unknown' &&
          value !== 'None'
        ) {
          return value;
        }
      }
      return undefined;
    };
    const foundId = pick('JobId', 'JobID');
    if (foundId !== undefined && foundId !== jobId) {
      throw new SchedulerParsingError(`the detailed job info is about job ${foundId}, not ${jobId}`);
    }
    const rawState = pick('JobState', 'State')?.split(/\s+/)[0];
    if (rawState === undefined) {
      throw new SchedulerParsingError(
        `the detailed job info of job ${jobId} has no state: ${JSON.stringify(f)}`,
      );
    }
    const job: JobInfo = {
      jobId,
      jobState: SLURM_LONG_STATES[rawState] ?? JobState.UNDETERMINED,
      jobSubstate: rawState,
      rawData: f,
    };
    const exitCode = pick('ExitCode');
    if (exitCode !== undefined) {
      const m = /^(\d+):(\d+)$/.exec(exitCode);
      if (!m) throw new SchedulerParsingError(`job ${jobId} has an unreadable ExitCode '${exitCode}'`);
      job.exitStatus = Number(m[1]);
      if (Number(m[2]) !== 0) job.terminatingSignal = Number(m[2]);
    }
    const title = pick('JobName', 'Name');
    if (title !== undefined) job.title = title;
    const owner = pick('User', 'UserId');
    if (owner !== undefined) job.jobOwner = owner.replace(/\(\d+\)$/, '');
    const annotation = pick('Reason');
    if (annotation !== undefined) job.annotation = annotation;
    const queue = pick('Partition');
    if (queue !== undefined) job.queueName = queue;
    const account = pick('Account');
    if (account !== undefined) job.account = account;
    const qos = pick('QOS');
    if (qos !== undefined) job.qos = qos;
    const nodeList = pick('NodeList');
    if (nodeList !== undefined) job.allocatedMachinesRaw = nodeList;
    const integer = (value: string | undefined): number | undefined =>
      value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
    const machines = integer(pick('NumNodes', 'NodeCnt', 'NNodes'));
    if (machines !== undefined) job.numMachines = machines;
    const cpus = integer(pick('NumCPUs', 'ProcCnt', 'NCPUS', 'AllocCPUS'));
    if (cpus !== undefined) job.numCpus = cpus;
    const limit = pick('TimeLimit', 'Timelimit');
    if (limit !== undefined) {
      const seconds = parseSlurmDuration(limit);
      if (seconds !== undefined) job.requestedWallclockTimeSeconds = seconds;
    }
    const dates = [
      ['submissionTime', pick('SubmitTime', 'Submit')],
      ['dispatchTime', pick('StartTime', 'Start')],
      ['finishTime', pick('EndTime', 'End')],
    ] as const;
    for (const [field, text] of dates) {
      const date = text === undefined ? undefined : parseIsoLocal(text);
      if (date) job[field] = date;
    }
    const elapsed = pick('RunTime', 'Elapsed');
    const elapsedSeconds = elapsed === undefined ? undefined : parseSlurmDuration(elapsed);
    if (elapsedSeconds !== undefined && elapsedSeconds !== null) job.wallclockTimeSeconds = elapsedSeconds;
    else if (job.dispatchTime && job.finishTime) {
      job.wallclockTimeSeconds = Math.round((job.finishTime.getTime() - job.dispatchTime.getTime()) / 1000);
    }
    return job;
  }
}
