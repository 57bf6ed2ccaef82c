import type { Logger } from 'kiwipy-ts';
import {
  FeatureNotAvailableError,
  SchedulerError,
  SchedulerParsingError,
  ValidationError,
} from '../../errors.js';
import { BashCliScheduler, type JoblistQuery } from '../bash-cli-scheduler.js';
import { quoteForBash } from '../bash-quoting.js';
import { CalcJobSchedulerExitCodes, type SchedulerExitCode } from '../exit-codes.js';
import type { JobInfo, MachineInfo } from '../job-info.js';
import { PbsJobResourceClass } from '../job-resource.js';
import { JobState } from '../job-state.js';
import { jobEndTexts, jobStateOf } from './job-lines.js';
import type { JobTemplate } from '../job-template.js';
import type { CommandOutput } from '../scheduler.js';
import { directiveValue, sanitizeJobName } from '../script-values.js';
import { parseCtime, parseHms } from '../time-formats.js';

/** The `job_state` letters of PBSPro and Torque → job state (aiida's common map). */
const PBS_STATES: Readonly<Record<string, JobState>> = {
  B: JobState.RUNNING,
  // Exiting: for aiida's purposes still running.
  E: JobState.RUNNING,
  F: JobState.DONE,
  H: JobState.QUEUED_HELD,
  M: JobState.UNDETERMINED,
  Q: JobState.QUEUED,
  R: JobState.RUNNING,
  S: JobState.SUSPENDED,
  T: JobState.QUEUED,
  U: JobState.SUSPENDED,
  W: JobState.QUEUED,
  X: JobState.DONE,
  // Torque's completed state.
  C: JobState.DONE,
};

/** The resource-related values of a template that the PBS flavours write differently. */
export interface PbsResourceRequest {
  readonly numMachines: number;
  readonly numMpiprocsPerMachine: number | null;
  readonly numCoresPerMachine: number | null;
  readonly maxMemoryKb: number | null;
  readonly maxWallclockSeconds: number | null;
}

/** One job of `qstat -f` before interpretation: its id, raw `key = value` lines, and continuation flags. */
interface RawPbsJob {
  readonly id: string;
  readonly lines: string[];
  readonly warningLines: Set<number>;
}

/**
 * Read `exec_host` (`b141/0*16+b142/0*16`, `node/24`, Torque's `r2i4n13/0-23`) into machines: the part after
 * `/` is the job's slot index (a range or list on Torque, counted as that many cpus), `*n` the cpu count.
 */
function parseExecHost(execHost: string): MachineInfo[] {
  return execHost.split('+').map((entry) => {
    const slash = entry.indexOf('/');
    if (slash <= 0) throw new SchedulerParsingError(`no '/' in '${entry}'`);
    const name = entry.slice(0, slash);
    const [slots, cpus, ...rest] = entry.slice(slash + 1).split('*');
    if (slots === undefined || rest.length > 0)
      throw new SchedulerParsingError(`wrong number of pieces in '${entry}'`);
    if (/^\d+$/.test(slots)) {
      if (cpus !== undefined && !/^\d+$/.test(cpus))
        throw new SchedulerParsingError(`bad cpu count in '${entry}'`);
      return { name, jobIndex: Number(slots), numCpus: cpus === undefined ? 1 : Number(cpus) };
    }
    let count = 0;
    for (const part of slots.split(',')) {
      const m = /^(\d+)-(\d+)$/.exec(part) ?? /^(\d+)()$/.exec(part);
      if (!m) throw new SchedulerParsingError(`bad slot list in '${entry}'`);
      count += m[2] === '' ? 1 : Number(m[2]) - Number(m[1]) + 1;
    }
    return { name, jobIndex: Number(/^\d+/.exec(slots)![0]), numCpus: count };
  });
}

/** True for a line of only spaces and tabs, without allocating (qstat -f has tens of thousands of lines). */
function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/** The lower-cased key before `=` with the indentation and padding cut, in one slice. */
function fieldName(line: string, eq: number): string {
  let start = 0;
  while (start < eq && line.charCodeAt(start) <= 32) start++;
  let end = eq;
  while (end > start && line.charCodeAt(end - 1) <= 32) end--;
  return line.slice(start, end).toLowerCase();
}

/** The value after `=` without its leading padding. */
function fieldValue(line: string, eq: number): string {
  let start = eq + 1;
  while (start < line.length && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  return line.slice(start);
}

function text(raw: Record<string, string | string[]>, key: string): string | undefined {
  const value = raw[key];
  return typeof value === 'string' ? value : undefined;
}

function integer(
  raw: Record<string, string | string[]>,
  key: string,
  jobId: string,
  logger: Logger,
): number | undefined {
  const value = text(raw, key);
  if (value === undefined) return undefined;
  if (!/^\s*-?\d+\s*$/.test(value)) {
    logger.warn({ jobId, key, value }, `'${key}' is not an integer (${value}) for job id ${jobId}!`);
    return undefined;
  }
  return Number(value);
}

function duration(
  raw: Record<string, string | string[]>,
  key: string,
  jobId: string,
  logger: Logger,
): number | undefined {
  const value = text(raw, key);
  if (value === undefined) return undefined;
  const seconds = parseHms(value);
  if (seconds === undefined) logger.warn({ jobId, key, value }, `Error parsing '${key}' for job id ${jobId}`);
  return seconds;
}

function date(
  raw: Record<string, string | string[]>,
  key: string,
  jobId: string,
  logger: Logger,
): Date | undefined {
  const value = text(raw, key);
  if (value === undefined) return undefined;
  const parsed = parseCtime(value);
  if (parsed === undefined) logger.warn({ jobId, key, value }, `Error parsing '${key}' for job id ${jobId}`);
  return parsed;
}

/**
 * What PBSPro and Torque share (aiida's `PbsBaseClass`): `qsub`, `qstat -f`, `qdel`, `tracejob -v`, and the
 * `#PBS` header; the flavours differ in how they ask for nodes, cores, memory and walltime.
 */
export abstract class PbsBaseScheduler extends BashCliScheduler {
  readonly jobResourceClass = PbsJobResourceClass;
  protected readonly features = { can_query_by_user: false };

  /** The `#PBS -l` lines of this flavour. */
  protected abstract getResourceLines(request: PbsResourceRequest): string[];

  getSubmitScriptHeader(template: JobTemplate): string {
    const lines: string[] = [];
    if (template.submitAsHold) lines.push('#PBS -h');
    lines.push(template.rerunnable ? '#PBS -r y' : '#PBS -r n');
    if (template.email) lines.push(`#PBS -M ${directiveValue('email', template.email)}`);
    let emailEvents = '';
    if (template.emailOnStarted) emailEvents += 'b';
    if (template.emailOnTerminated) emailEvents += 'ea';
    if (emailEvents) {
      lines.push(`#PBS -m ${emailEvents}`);
      if (!template.email) {
        this.logger.info({}, 'Email triggers set but no email address: PBS mails the job owner');
      }
    } else {
      lines.push('#PBS -m n');
    }
    if (template.jobName) lines.push(`#PBS -N ${sanitizeJobName(template.jobName, { maxLength: 15 })}`);
    if (template.importSysEnvironment) lines.push('#PBS -V');
    if (template.schedOutputPath)
      lines.push(`#PBS -o ${directiveValue('schedOutputPath', template.schedOutputPath)}`);
    if (template.schedJoinFiles) {
      lines.push('#PBS -j oe');
      if (template.schedErrorPath) {
        this.logger.info(
          {},
          'sched_join_files is True, but sched_error_path is set in PBS script; ignoring it',
        );
      }
    } else if (template.schedErrorPath) {
      lines.push(`#PBS -e ${directiveValue('schedErrorPath', template.schedErrorPath)}`);
    }
    if (template.queueName) lines.push(`#PBS -q ${directiveValue('queueName', template.queueName)}`);
    if (template.account) lines.push(`#PBS -A ${directiveValue('account', template.account)}`);
    if (template.priority !== null && template.priority !== undefined && template.priority !== '') {
      lines.push(`#PBS -p ${directiveValue('priority', template.priority)}`);
    }
    const resource = template.jobResource;
    if (!resource) {
      throw new ValidationError(
        'Job resources (as the num_machines) are required for the PBSPro scheduler plugin',
      );
    }
    if (resource.kind !== 'node-number') {
      throw new ValidationError(
        `the PBS scheduler plugins need node-number job resources, not '${resource.kind}'`,
      );
    }
    lines.push(
      ...this.getResourceLines({
        numMachines: resource.numMachines,
        numMpiprocsPerMachine: resource.numMpiprocsPerMachine,
        numCoresPerMachine: resource.numCoresPerMachine,
        maxMemoryKb: template.maxMemoryKb ?? null,
        maxWallclockSeconds: template.maxWallclockSeconds ?? null,
      }),
    );
    if (template.customSchedulerCommands) lines.push(template.customSchedulerCommands);
    // PBS starts jobs in the home directory.
    lines.push('cd "$PBS_O_WORKDIR"', '');
    return lines.join('\n');
  }

  getSubmitCommand(submitScript: string): string {
    return `qsub ${submitScript}`;
  }

  parseSubmitOutput(output: CommandOutput): string {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `Error during submission, retval=${retval}; stdout=${stdout}; stderr=${stderr}`,
      );
    }
    if (stderr.trim()) this.logger.warn({ stderr }, 'qsub wrote to stderr');
    const jobId = stdout.trim();
    if (!/^[A-Za-z0-9_.@[\]-]+$/.test(jobId)) {
      throw new SchedulerParsingError(`Cannot read a job id from the qsub output: ${JSON.stringify(stdout)}`);
    }
    return jobId;
  }

  getJoblistCommand(query: JoblistQuery): string {
    if (query.user && query.jobs)
      throw new FeatureNotAvailableError('Cannot query by user and job(s) in PBS');
    const command = ['qstat', '-f'];
    if (query.user) command.push(`-u${query.user}`);
    if (query.jobs && query.jobs.length > 0)
      command.push(query.jobs.map((job) => quoteForBash(job)).join(' '));
    return command.join(' ');
  }

  parseJoblistOutput(output: CommandOutput): JobInfo[] {
    const { retval, stdout, stderr } = output;
    // qstat complains about jobs it no longer knows; those are finished jobs, not errors.
    const filteredStderr = stderr
      .split('\n')
      .filter((line) => !line.includes('Unknown Job Id') && !line.includes('Job has finished'))
      .join('\n');
    if (filteredStderr.trim()) {
      this.logger.warn({ stderr: filteredStderr }, 'qstat wrote to stderr');
      if (retval !== 0) {
        throw new SchedulerError(
          `Error during qstat parsing, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
        );
      }
    } else if (retval !== 0 && !stderr.trim()) {
      throw new SchedulerError(`qstat failed without a message, retval=${retval}\nstdout=${stdout}`);
    }
    return this.readRawJobs(stdout).map((raw) => this.interpretJob(raw));
  }

  /**
   * Group `qstat -f` lines by job. A value continues on the next line when that line starts with a TAB
   * (joined as is); a space-indented line without `=`, or a line without indentation, is folded in with
   * a newline and the field is flagged (`warning_fields_with_newlines`), as aiida does.
   */
  private readRawJobs(stdout: string): RawPbsJob[] {
    const jobs: RawPbsJob[] = [];
    let current: RawPbsJob | undefined;
    const lines = stdout.split('\n');
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n]!;
      if (line.startsWith('Job Id:')) {
        current = { id: line.slice(7).trim(), lines: [], warningLines: new Set() };
        jobs.push(current);
        continue;
      }
      if (isBlank(line)) continue;
      if (current === undefined) {
        throw new SchedulerParsingError(
          `qstat -f output does not start with 'Job Id:': line ${n + 1} is ${JSON.stringify(line)}`,
        );
      }
      const last = current.lines.length - 1;
      const first = line.charCodeAt(0);
      if (first === 32 /* space */) {
        if (line.includes('=') || last < 0) current.lines.push(line);
        else {
          current.lines[last] += `\n${line}`;
          current.warningLines.add(last);
        }
      } else if (first === 9 /* tab */) {
        if (last < 0) {
          throw new SchedulerParsingError(
            `Line ${n + 1} is the first line of the job, but it starts with a TAB! (${line})`,
          );
        }
        current.lines[last] += line.slice(1);
      } else {
        if (last < 0) {
          throw new SchedulerParsingError(
            `Line ${n + 1} of qstat -f is not indented: ${JSON.stringify(line)}`,
          );
        }
        current.lines[last] += `\n${line}`;
        current.warningLines.add(last);
      }
    }
    return jobs;
  }

  private interpretJob(rawJob: RawPbsJob): JobInfo {
    const jobId = rawJob.id;
    if (!jobId) throw new SchedulerParsingError("qstat -f has a 'Job Id:' line without an id");
    const raw: Record<string, string | string[]> = {};
    for (const line of rawJob.lines) {
      const eq = line.indexOf('=');
      if (eq < 0)
        throw new SchedulerParsingError(`There are lines without equals sign: ${JSON.stringify(line)}`);
      raw[fieldName(line, eq)] = fieldValue(line, eq);
    }
    if (rawJob.warningLines.size > 0) {
      raw['warning_fields_with_newlines'] = [...rawJob.warningLines].map((index) => {
        const line = rawJob.lines[index]!;
        return fieldName(line, line.indexOf('='));
      });
    }
    const { logger } = this;
    const stateLetter = text(raw, 'job_state');
    const jobState =
      stateLetter === undefined
        ? JobState.UNDETERMINED
        : jobStateOf(PBS_STATES, stateLetter.trim(), jobId, logger);
    const job: JobInfo = { jobId, jobState, rawData: raw };
    const title = text(raw, 'job_name');
    if (title !== undefined) job.title = title;
    const comment = text(raw, 'comment');
    if (comment !== undefined) job.annotation = comment;
    const substate = text(raw, 'substate');
    if (substate !== undefined) job.jobSubstate = substate;
    const owner = text(raw, 'job_owner');
    if (owner !== undefined) job.jobOwner = owner.split('@')[0]!;
    const queue = text(raw, 'queue');
    if (queue !== undefined) job.queueName = queue;
    const account = text(raw, 'account_name');
    if (account !== undefined) job.account = account;
    const numCpus = integer(raw, 'resource_list.ncpus', jobId, logger);
    if (numCpus !== undefined) job.numCpus = numCpus;
    const numMpiprocs = integer(raw, 'resource_list.mpiprocs', jobId, logger);
    if (numMpiprocs !== undefined) job.numMpiprocs = numMpiprocs;
    const numMachines = integer(raw, 'resource_list.nodect', jobId, logger);
    if (numMachines !== undefined) job.numMachines = numMachines;
    const execHost = text(raw, 'exec_host');
    if (execHost !== undefined) {
      try {
        job.allocatedMachines = parseExecHost(execHost);
      } catch (error) {
        logger.debug({ jobId, execHost, error }, 'Problem parsing the node names');
      }
    }
    if (job.allocatedMachines && job.numMachines !== undefined) {
      const names = new Set(job.allocatedMachines.map((m) => m.name));
      if (names.size !== job.numMachines) {
        logger.error(
          { jobId },
          `The length of the list of allocated nodes (${names.size}) is different from the expected number of nodes (${job.numMachines})!`,
        );
      }
    }
    const requested = duration(raw, 'resource_list.walltime', jobId, logger);
    if (requested !== undefined) job.requestedWallclockTimeSeconds = requested;
    const wallclock = duration(raw, 'resources_used.walltime', jobId, logger);
    if (wallclock !== undefined) job.wallclockTimeSeconds = wallclock;
    const cpuTime = duration(raw, 'resources_used.cput', jobId, logger);
    if (cpuTime !== undefined) job.cpuTime = cpuTime;
    const submitted = date(raw, 'ctime', jobId, logger);
    if (submitted !== undefined) job.submissionTime = submitted;
    // PBSPro says `stime`, Torque `start_time`.
    const dispatched = date(raw, 'stime', jobId, logger) ?? date(raw, 'start_time', jobId, logger);
    if (dispatched !== undefined) job.dispatchTime = dispatched;
    const finished = date(raw, 'obittime', jobId, logger) ?? date(raw, 'comp_time', jobId, logger);
    if (finished !== undefined) job.finishTime = finished;
    const exitStatus = integer(raw, 'exit_status', jobId, logger);
    if (exitStatus !== undefined) {
      job.exitStatus = exitStatus;
      // PBS reports a job killed by signal N as 256 + N.
      if (exitStatus > 256) job.terminatingSignal = exitStatus - 256;
    }
    return job;
  }

  getKillCommand(jobId: string): string {
    return `qdel ${quoteForBash(jobId)}`;
  }

  parseKillOutput(output: CommandOutput): boolean {
    return this.checkKillOutput(output);
  }

  override getDetailedJobInfoCommand(jobId: string): string {
    return `tracejob -v ${quoteForBash(jobId)}`;
  }

  /**
   * PBS's job-killed messages in the job's stderr or in `tracejob` (aiida has no PBS output parsing):
   * `PBS: job killed: walltime … exceeded limit …` gives 120, a memory limit (`mem`, `vmem`, `pmem`) 110.
   */
  override parseOutput(
    detailedJobInfo?: unknown,
    _stdout?: string | null,
    stderr?: string | null,
  ): SchedulerExitCode | undefined {
    for (const text of jobEndTexts(detailedJobInfo, stderr)) {
      if (/job killed: walltime \d+ exceeded limit/i.test(text)) {
        return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME;
      }
      if (/job killed: (?:p?v?mem)\b[^\n]*exceeded limit/i.test(text)) {
        return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY;
      }
    }
    return undefined;
  }
}
