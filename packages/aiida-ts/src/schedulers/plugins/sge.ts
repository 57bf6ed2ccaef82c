import { XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  FeatureNotAvailableError,
  SchedulerError,
  SchedulerParsingError,
  ValidationError,
} from '../../errors.js';
import { BashCliScheduler, type JoblistQuery } from '../bash-cli-scheduler.js';
import { quoteForBash } from '../bash-quoting.js';
import type { JobInfo } from '../job-info.js';
import { SgeJobResourceClass } from '../job-resource.js';
import { JobState } from '../job-state.js';
import { jobStateOf } from './job-lines.js';
import type { JobTemplate } from '../job-template.js';
import type { CommandOutput, DetailedJobInfo } from '../scheduler.js';
import { directiveValue, positiveWallclockSeconds, sanitizeJobName } from '../script-values.js';
import { formatHms, parseCtime, parseIsoLocal } from '../time-formats.js';

/** Grid Engine's state strings → job state (aiida's map). */
const SGE_STATES: Readonly<Record<string, JobState>> = {
  qw: JobState.QUEUED,
  w: JobState.QUEUED,
  hqw: JobState.QUEUED_HELD,
  hRwq: JobState.QUEUED_HELD,
  r: JobState.RUNNING,
  t: JobState.RUNNING,
  R: JobState.RUNNING,
  Rr: JobState.RUNNING,
  Rt: JobState.RUNNING,
  s: JobState.SUSPENDED,
  st: JobState.SUSPENDED,
  Rs: JobState.SUSPENDED,
  Rts: JobState.SUSPENDED,
  dr: JobState.UNDETERMINED,
  dt: JobState.UNDETERMINED,
  ds: JobState.UNDETERMINED,
  dRr: JobState.UNDETERMINED,
  dRt: JobState.UNDETERMINED,
  dRs: JobState.UNDETERMINED,
  Eqw: JobState.UNDETERMINED,
  Ehqw: JobState.UNDETERMINED,
  EhRqw: JobState.UNDETERMINED,
};

const documentParser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, trimValues: true });
const jobParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });
const JOB_LIST = /<job_list\b[^>]*>[\s\S]*?<\/job_list>/g;

/**
 * `core.sge` (aiida's `SgeScheduler`): Sun/Son of/Univa Grid Engine. `qsub -terse` submits, `qstat -xml`
 * lists a user's jobs (it cannot list by job id), `qdel` kills, `qacct -j` accounts.
 */
export class SgeScheduler extends BashCliScheduler {
  readonly entryPoint = 'core.sge';
  readonly jobResourceClass = SgeJobResourceClass;
  protected readonly features = { can_query_by_user: true };

  getSubmitScriptHeader(template: JobTemplate): string {
    const lines: string[] = [];
    lines.push(
      template.workingDirectory
        ? `#$ -wd ${directiveValue('workingDirectory', template.workingDirectory)}`
        : '#$ -cwd',
    );
    lines.push('#$ -S /bin/bash');
    // aiida writes `-h True`; qsub's option takes no value.
    if (template.submitAsHold) lines.push('#$ -h');
    lines.push(template.rerunnable ? '#$ -r yes' : '#$ -r no');
    if (template.email) lines.push(`#$ -M ${directiveValue('email', template.email)}`);
    let emailEvents = '';
    if (template.emailOnStarted) emailEvents += 'b';
    if (template.emailOnTerminated) emailEvents += 'ea';
    if (emailEvents) {
      lines.push(`#$ -m ${emailEvents}`);
      if (!template.email)
        this.logger.info({}, 'Email triggers set but no email address: SGE mails the job owner');
    } else {
      lines.push('#$ -m n');
    }
    if (template.jobName)
      lines.push(`#$ -N ${sanitizeJobName(template.jobName, { mustStartWithLetter: true })}`);
    if (template.importSysEnvironment) lines.push('#$ -V');
    if (template.schedOutputPath)
      lines.push(`#$ -o ${directiveValue('schedOutputPath', template.schedOutputPath)}`);
    if (template.schedJoinFiles) {
      lines.push('#$ -j y');
      if (template.schedErrorPath) {
        this.logger.info(
          {},
          'sched_join_files is True, but sched_error_path is set in SGE script; ignoring it',
        );
      }
    } else if (template.schedErrorPath) {
      lines.push(`#$ -e ${directiveValue('schedErrorPath', template.schedErrorPath)}`);
    }
    if (template.queueName) lines.push(`#$ -q ${directiveValue('queueName', template.queueName)}`);
    if (template.account) lines.push(`#$ -P ${directiveValue('account', template.account)}`);
    if (template.priority !== null && template.priority !== undefined && template.priority !== '') {
      lines.push(`#$ -p ${directiveValue('priority', template.priority)}`);
    }
    const resource = template.jobResource;
    if (!resource) {
      throw new ValidationError(
        'Job resources (as the tot_num_mpiprocs) are required for the SGE scheduler plugin',
      );
    }
    if (resource.kind !== 'par-env') {
      throw new ValidationError(
        `the SGE scheduler plugin needs parallel-environment resources, not '${resource.kind}'`,
      );
    }
    lines.push(`#$ -pe ${directiveValue('parallelEnv', resource.parallelEnv)} ${resource.totNumMpiprocs}`);
    if (template.maxWallclockSeconds !== null && template.maxWallclockSeconds !== undefined) {
      lines.push(`#$ -l h_rt=${formatHms(positiveWallclockSeconds(template.maxWallclockSeconds))}`);
    }
    if (template.maxMemoryKb) {
      this.logger.warn({}, 'max_memory_kb is not supported by the SGE scheduler plugin; it is ignored');
    }
    if (template.customSchedulerCommands) lines.push(template.customSchedulerCommands);
    return lines.join('\n');
  }

  getSubmitCommand(submitScript: string): string {
    return `qsub -terse ${submitScript}`;
  }

  parseSubmitOutput(output: CommandOutput): string {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `Error during submission, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
      );
    }
    if (stderr.trim()) this.logger.warn({ stderr }, 'qsub wrote to stderr');
    // `-terse` prints the id, or `id.first-last:step` for an array job.
    const match = /^(\d+)(?:\.\d+-\d+:\d+)?$/.exec(stdout.trim());
    if (!match)
      throw new SchedulerParsingError(`Cannot read a job id from the qsub output: ${JSON.stringify(stdout)}`);
    return match[1]!;
  }

  getJoblistCommand(query: JoblistQuery): string {
    if (query.jobs && query.jobs.length > 0)
      throw new FeatureNotAvailableError('Cannot query by jobid in SGE');
    return `qstat -ext -urg -xml -u ${query.user ?? "'*'"}`;
  }

  parseJoblistOutput(output: CommandOutput): JobInfo[] {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `Error during joblist retrieval, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
      );
    }
    if (stderr.trim()) this.logger.warn({ stderr }, 'qstat wrote to stderr');
    if (!stdout.trim()) {
      throw new SchedulerParsingError('Error during joblist retrieval, no stdout produced');
    }
    const valid = XMLValidator.validate(stdout);
    if (valid !== true) {
      throw new SchedulerParsingError(
        `Error during joblist retrieval, xml parsing of stdout failed: ${valid.err.msg} (line ${valid.err.line})`,
      );
    }
    const document = documentParser.parse(stdout) as Record<string, unknown>;
    const root = document['job_info'];
    // An empty queue still has both sections; a reply without them is not qstat's job listing.
    if (typeof root !== 'object' || root === null || !('queue_info' in root) || !('job_info' in root)) {
      throw new SchedulerError(
        "Error during xml processing of stdout: there is no 'job_info' or no 'queue_info' element",
      );
    }
    const jobs: JobInfo[] = [];
    for (const match of stdout.matchAll(JOB_LIST)) jobs.push(this.parseJobElement(match[0]));
    return jobs;
  }

  /** One `<job_list>` element of `qstat -xml`. */
  private parseJobElement(xml: string): JobInfo {
    const parsed = jobParser.parse(xml) as { job_list?: Record<string, unknown> };
    const element = parsed.job_list ?? {};
    const text = (tag: string): string | undefined => {
      const value = element[tag];
      return typeof value === 'string' || typeof value === 'number' ? String(value).trim() : undefined;
    };
    const jobId = text('JB_job_number');
    if (!jobId)
      throw new SchedulerParsingError(`Error in sge._parse_joblist_output: no job id is given in ${xml}`);
    const stateText = text('state');
    if (stateText === undefined) this.logger.warn({ jobId }, `No 'job_state' field for job id ${jobId}`);
    const jobState =
      stateText === undefined ? JobState.UNDETERMINED : jobStateOf(SGE_STATES, stateText, jobId, this.logger);
    const job: JobInfo = { jobId, jobState, rawData: xml };
    if (stateText) job.jobSubstate = stateText;
    const owner = text('JB_owner');
    if (owner) job.jobOwner = owner;
    const title = text('JB_name');
    if (title !== undefined) job.title = title;
    const queue = text('queue_name');
    if (queue) job.queueName = queue;
    const project = text('JB_project');
    if (project) job.account = project;
    const submitted = text('JB_submission_time');
    if (submitted) {
      const date = parseIsoLocal(submitted);
      if (date) job.submissionTime = date;
      else this.logger.warn({ jobId, submitted }, `Error parsing 'JB_submission_time' for job id ${jobId}`);
    }
    const started = text('JAT_start_time');
    if (started) {
      const date = parseIsoLocal(started);
      if (date) job.dispatchTime = date;
      else this.logger.warn({ jobId, started }, `Error parsing 'JAT_start_time' for job id ${jobId}`);
    }
    const slots = text('slots');
    if (slots !== undefined && /^\d+$/.test(slots)) job.numMpiprocs = Number(slots);
    return job;
  }

  getKillCommand(jobId: string): string {
    return `qdel ${quoteForBash(jobId)}`;
  }

  parseKillOutput(output: CommandOutput): boolean {
    return this.checkKillOutput(output);
  }

  override getDetailedJobInfoCommand(jobId: string): string {
    return `qacct -j ${quoteForBash(jobId)}`;
  }

  /** `qacct -j`'s record of a finished job (the last one, when the job ran more than once). */
  override parseDetailedJobInfo(jobId: string, detailedJobInfo: DetailedJobInfo): JobInfo {
    const { retval, stdout, stderr } = detailedJobInfo;
    if (retval !== 0) {
      throw new SchedulerParsingError(`qacct knows no job ${jobId} (retval=${retval}): ${stderr.trim()}`);
    }
    const records = stdout.split(/^=+\s*$/m).filter((block) => block.trim() !== '');
    const last = records[records.length - 1];
    if (last === undefined) throw new SchedulerParsingError(`qacct printed nothing for job ${jobId}`);
    const fields: Record<string, string> = {};
    for (const line of last.split('\n')) {
      const m = /^(\S+)\s+(.*?)\s*$/.exec(line);
      if (m) fields[m[1]!] = m[2]!;
    }
    if (fields['jobnumber'] !== jobId) {
      throw new SchedulerParsingError(
        `qacct output is not about job ${jobId}: ${JSON.stringify(last.slice(0, 200))}`,
      );
    }
    const job: JobInfo = { jobId, jobState: JobState.DONE, rawData: fields };
    const leadingInt = (value: string | undefined): number | undefined => {
      const m = value === undefined ? null : /^(-?\d+)/.exec(value);
      return m ? Number(m[1]) : undefined;
    };
    const exitStatus = leadingInt(fields['exit_status']);
    if (exitStatus !== undefined) {
      job.exitStatus = exitStatus;
      // The shell's convention: 128 + N for a job ended by signal N.
      if (exitStatus > 128) job.terminatingSignal = exitStatus - 128;
    }
    const failed = fields['failed'];
    if (failed !== undefined && leadingInt(failed) !== 0) job.annotation = failed.replace(/\s+/g, ' ');
    if (fields['jobname'] !== undefined) job.title = fields['jobname'];
    if (fields['owner'] !== undefined) job.jobOwner = fields['owner'];
    if (fields['qname'] !== undefined) job.queueName = fields['qname'];
    if (fields['project'] !== undefined && fields['project'] !== 'NONE') job.account = fields['project'];
    const slots = leadingInt(fields['slots']);
    if (slots !== undefined) job.numMpiprocs = slots;
    const wallclock = /^(\d+(?:\.\d+)?)/.exec(fields['ru_wallclock'] ?? '');
    if (wallclock) job.wallclockTimeSeconds = Math.round(Number(wallclock[1]));
    const cpu = /^(\d+(?:\.\d+)?)/.exec(fields['cpu'] ?? '');
    if (cpu) job.cpuTime = Math.round(Number(cpu[1]));
    for (const [field, key] of [
      ['submissionTime', 'qsub_time'],
      ['dispatchTime', 'start_time'],
      ['finishTime', 'end_time'],
    ] as const) {
      const date = fields[key] === undefined ? undefined : parseCtime(fields[key]);
      // qacct prints the epoch for a time it does not have.
      if (date && date.getFullYear() > 1970) job[field] = date;
    }
    return job;
  }
}
