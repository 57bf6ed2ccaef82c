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
import { LsfJobResourceClass } from '../job-resource.js';
import { JobState } from '../job-state.js';
import { jobEndTexts, jobStateOf, splitJobLine } from './job-lines.js';
import type { JobTemplate } from '../job-template.js';
import type { CommandOutput } from '../scheduler.js';
import {
  directiveValue,
  positiveMemoryKb,
  positiveWallclockSeconds,
  sanitizeJobName,
} from '../script-values.js';
import { parseMonthDayTime } from '../time-formats.js';

/** LSF's `STAT` values → job state (aiida's map). */
const LSF_STATES: Readonly<Record<string, JobState>> = {
  PEND: JobState.QUEUED,
  PROV: JobState.QUEUED,
  PSUSP: JobState.QUEUED_HELD,
  USUSP: JobState.SUSPENDED,
  SSUSP: JobState.SUSPENDED,
  RUN: JobState.RUNNING,
  DONE: JobState.DONE,
  EXIT: JobState.DONE,
  UNKWN: JobState.UNDETERMINED,
  WAIT: JobState.QUEUED,
  ZOMBI: JobState.UNDETERMINED,
};

/** The `bjobs -o` fields aiida reads, in order. */
export const BJOBS_FIELDS = [
  'id',
  'stat',
  'exit_reason',
  'exec_host',
  'user',
  'slots',
  'max_req_proc',
  'exec_host',
  'queue',
  'finish_time',
  'start_time',
  '%complete',
  'submit_time',
  'name',
] as const;
const SEPARATOR = '|';
const NUM_FIELDS = BJOBS_FIELDS.length;

/** LSF copies the job's files to and from `$LSB_OUTDIR` when the cluster uses one. */
const OUTDIR_IN = '\nif [ ! -z "$LSB_OUTDIR" ]\nthen\n  cp -R "$LSB_OUTDIR"/* .\nfi\n';
const OUTDIR_OUT = '\nif [ ! -z "$LSB_OUTDIR" ]\nthen\n   cp -R * "$LSB_OUTDIR"\nfi\n';

/**
 * `core.lsf` (aiida's `LsfScheduler`): IBM Spectrum LSF. `bsub <` submits, `bjobs -o` lists, `bkill` kills,
 * `bjobs -l` accounts.
 */
export class LsfScheduler extends BashCliScheduler {
  readonly entryPoint = 'core.lsf';
  readonly jobResourceClass = LsfJobResourceClass;
  protected readonly features = { can_query_by_user: false };
  /** The year LSF's year-less dates are read in (the current one). */
  protected currentYear(): number {
    return new Date().getFullYear();
  }

  getSubmitScriptHeader(template: JobTemplate): string {
    const lines: string[] = [];
    if (template.submitAsHold) lines.push('#BSUB -H');
    lines.push(template.rerunnable ? '#BSUB -r' : '#BSUB -rn');
    if (template.email) lines.push(`#BSUB -u ${directiveValue('email', template.email)}`);
    if (template.emailOnStarted) lines.push('#BSUB -B');
    if (template.emailOnTerminated) lines.push('#BSUB -N');
    if (template.jobName) lines.push(`#BSUB -J "${sanitizeJobName(template.jobName, { maxLength: 128 })}"`);
    if (!template.importSysEnvironment)
      this.logger.warn({}, 'LSF scheduler cannot ignore the user environment');
    if (template.schedOutputPath)
      lines.push(`#BSUB -o ${directiveValue('schedOutputPath', template.schedOutputPath)}`);
    let errorPath = template.schedErrorPath ?? null;
    if (template.schedJoinFiles) {
      // LSF cannot join the two streams; stderr goes next to stdout instead. (aiida computes this name but
      // then writes the template's error path.)
      errorPath = `${template.schedOutputPath ?? ''}_`;
      this.logger.warn({ errorPath }, `LSF cannot join stdout and stderr; stderr goes to ${errorPath}`);
    }
    if (errorPath) lines.push(`#BSUB -e ${directiveValue('schedErrorPath', errorPath)}`);
    if (template.queueName) lines.push(`#BSUB -q ${directiveValue('queueName', template.queueName)}`);
    if (template.account) lines.push(`#BSUB -G ${directiveValue('account', template.account)}`);
    if (template.priority !== null && template.priority !== undefined && template.priority !== '') {
      lines.push(`#BSUB -sp ${directiveValue('priority', template.priority)}`);
    }
    const resource = template.jobResource;
    if (!resource) {
      throw new ValidationError(
        'Job resources (as the tot_num_mpiprocs) are required for the LSF scheduler plugin',
      );
    }
    if (resource.kind !== 'lsf') {
      throw new ValidationError(`the LSF scheduler plugin needs LSF job resources, not '${resource.kind}'`);
    }
    if (resource.useNumMachines) lines.push(`#BSUB -nnodes ${resource.numMachines}`);
    else lines.push(`#BSUB -n ${resource.totNumMpiprocs}`);
    if (resource.parallelEnv) lines.push(`#BSUB -m "${directiveValue('parallelEnv', resource.parallelEnv)}"`);
    if (template.maxWallclockSeconds !== null && template.maxWallclockSeconds !== undefined) {
      const seconds = positiveWallclockSeconds(template.maxWallclockSeconds);
      // `-W` takes hours:minutes; round the minutes up so the job is never given less than asked.
      const hours = Math.floor(seconds / 3600);
      const minutes = Math.ceil((seconds % 3600) / 60);
      lines.push(`#BSUB -W ${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`);
    }
    if (template.maxMemoryKb) lines.push(`#BSUB -M ${positiveMemoryKb(template.maxMemoryKb)}`);
    if (template.customSchedulerCommands) lines.push(template.customSchedulerCommands);
    lines.push(OUTDIR_IN);
    return lines.join('\n');
  }

  override getSubmitScriptFooter(_template: JobTemplate): string {
    return OUTDIR_OUT;
  }

  getSubmitCommand(submitScript: string): string {
    return `bsub < ${submitScript}`;
  }

  parseSubmitOutput(output: CommandOutput): string {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `Error during submission, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
      );
    }
    if (stderr.trim()) this.logger.warn({ stderr }, 'bsub wrote to stderr');
    const match = /Job <([^>]+)>/.exec(stdout);
    if (!match) throw new SchedulerParsingError(`Cannot parse submission output: \`${stdout}\``);
    return match[1]!;
  }

  getJoblistCommand(query: JoblistQuery): string {
    if (query.user && query.jobs)
      throw new FeatureNotAvailableError('Cannot query by user and job(s) in LSF');
    const command = ['bjobs', '-noheader', `-o '${BJOBS_FIELDS.join(' ')} delimiter="${SEPARATOR}"'`];
    if (query.user) command.push(`-u${query.user}`);
    if (query.jobs && query.jobs.length > 0)
      command.push(query.jobs.map((job) => quoteForBash(job)).join(' '));
    return command.join(' ');
  }

  parseJoblistOutput(output: CommandOutput): JobInfo[] {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `Error during parsing joblist output, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
      );
    }
    const jobs: JobInfo[] = [];
    for (const line of stdout.split('\n')) {
      if (line.trim() === '') continue;
      jobs.push(this.parseBjobsLine(line));
    }
    return jobs;
  }

  /** One line of `bjobs -o` output (the fields of {@link BJOBS_FIELDS}). */
  parseBjobsLine(line: string): JobInfo {
    // The job name is last and may itself contain the separator.
    const fields = splitJobLine(line, SEPARATOR, NUM_FIELDS, NUM_FIELDS - 1, 'bjobs', { trim: true });
    const [
      jobId,
      stat,
      exitReason,
      ,
      user,
      slots,
      maxReqProc,
      execHost,
      queue,
      finish,
      start,
      complete,
      submit,
      name,
    ] = fields;
    if (!/^\d/.test(jobId))
      throw new SchedulerParsingError(`bjobs line has no job id: ${JSON.stringify(line)}`);
    const jobState = jobStateOf(LSF_STATES, stat, jobId, this.logger);
    const job: JobInfo = {
      jobId,
      jobState,
      jobSubstate: stat,
      annotation: exitReason,
      jobOwner: user,
      queueName: queue,
      title: name,
      rawData: fields,
    };
    if (/^\d+$/.test(slots)) job.numMachines = Number(slots);
    else
      this.logger.warn(
        { jobId, slots },
        `The number of allocated nodes is not an integer (${slots}) for job id ${jobId}!`,
      );
    if (/^\d+$/.test(maxReqProc)) job.numMpiprocs = Number(maxReqProc);
    else
      this.logger.warn(
        { jobId, maxReqProc },
        `The number of allocated cores is not an integer (${maxReqProc}) for job id ${jobId}!`,
      );
    const year = this.currentYear();
    if (jobState === JobState.RUNNING) {
      job.allocatedMachinesRaw = execHost;
      const started = parseMonthDayTime(start, year);
      let finishing = parseMonthDayTime(finish, year);
      if (started && finishing) {
        // Dates have no year: a finish before the start is in the next year.
        if (finishing < started) finishing = parseMonthDayTime(finish, started.getFullYear() + 1)!;
        const requested = Math.round((finishing.getTime() - started.getTime()) / 1000);
        job.requestedWallclockTimeSeconds = requested;
        const percent = Number.parseFloat(complete.replace(/\s*L$/, '').replace(/%$/, ''));
        if (Number.isFinite(percent)) job.wallclockTimeSeconds = Math.trunc((requested * percent) / 100);
        else this.logger.warn({ jobId, complete }, `Error parsing the time used for job id ${jobId}`);
      } else {
        this.logger.warn({ jobId, start, finish }, `Error parsing the time limit for job id ${jobId}`);
      }
    }
    const submitted = parseMonthDayTime(submit, year);
    if (submitted) job.submissionTime = submitted;
    else this.logger.warn({ jobId, submit }, `Error parsing submission time for job id ${jobId}`);
    return job;
  }

  getKillCommand(jobId: string): string {
    return `bkill ${quoteForBash(jobId)}`;
  }

  parseKillOutput(output: CommandOutput): boolean {
    if (output.retval === 255) {
      this.logger.error({ ...output }, 'bkill: the job has already finished');
      return false;
    }
    return this.checkKillOutput(output);
  }

  override getDetailedJobInfoCommand(jobId: string): string {
    return `bjobs -l ${quoteForBash(jobId)}`;
  }

  /**
   * LSF's termination reasons in `bjobs -l` or the job's stderr (aiida has no LSF output parsing):
   * `TERM_MEMLIMIT` gives 110, `TERM_RUNLIMIT` 120.
   */
  override parseOutput(
    detailedJobInfo?: unknown,
    _stdout?: string | null,
    stderr?: string | null,
  ): SchedulerExitCode | undefined {
    for (const text of jobEndTexts(detailedJobInfo, stderr)) {
      if (text.includes('TERM_MEMLIMIT')) return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_MEMORY;
      if (text.includes('TERM_RUNLIMIT')) return CalcJobSchedulerExitCodes.ERROR_SCHEDULER_OUT_OF_WALLTIME;
    }
    return undefined;
  }
}
