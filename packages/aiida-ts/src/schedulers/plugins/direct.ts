import { SchedulerError, SchedulerParsingError, ValidationError } from '../../errors.js';
import { BashCliScheduler, type JoblistQuery } from '../bash-cli-scheduler.js';
import { quoteIfNeeded } from '../bash-quoting.js';
import type { JobInfo } from '../job-info.js';
import { DirectJobResourceClass, type NodeNumberJobResource } from '../job-resource.js';
import { JobState } from '../job-state.js';
import { LocalTransport } from '../../transports/local-transport.js';
import { jobStateOf } from './job-lines.js';
import { listProcessesLikePs } from './proc-listing.js';
import type { JobTemplate } from '../job-template.js';
import type { CommandOutput } from '../scheduler.js';
import { parsePsTime } from '../time-formats.js';

/** The first letter of `ps`'s STAT column (Linux and macOS man pages) → job state. */
const PS_STATES: Readonly<Record<string, JobState>> = {
  D: JobState.RUNNING,
  I: JobState.RUNNING,
  R: JobState.RUNNING,
  S: JobState.RUNNING,
  T: JobState.SUSPENDED,
  U: JobState.RUNNING,
  W: JobState.RUNNING,
  X: JobState.DONE,
  Z: JobState.DONE,
  // macOS prints `?` for a process whose state it cannot tell.
  '?': JobState.UNDETERMINED,
};

/** Up to this many jobs are listed from `/proc` in the runner (see `DirectScheduler.listJobs`), more with `ps`. */
const PROC_LISTING_MAX_JOBS = 32;

const PS_HEADER = /^\s*PID\s+STAT\s+USER\s+TIME\s*$/;

/**
 * `core.direct`: runs the job script with bash in the background on the computer, no scheduler involved
 * (aiida's `DirectScheduler`). The job id is the process id of that bash; `ps` lists the jobs and a job
 * whose process is gone is done. Killing a job kills its whole process tree.
 */
export class DirectScheduler extends BashCliScheduler {
  readonly entryPoint = 'core.direct';
  readonly jobResourceClass = DirectJobResourceClass;
  protected readonly features = { can_query_by_user: true };

  getSubmitScriptHeader(template: JobTemplate): string {
    const lines: string[] = [];
    if (!template.importSysEnvironment) {
      // aiida writes `env --ignore-environment \` here, which continues onto whatever line follows and so
      // never clears anything; re-running the script once under `env -i` is what the option asks for.
      lines.push(
        '[ -n "${AIIDA_SYS_ENV_IGNORED-}" ] || exec env --ignore-environment AIIDA_SYS_ENV_IGNORED=1 ' +
          'HOME="${HOME-}" USER="${USER-}" LOGNAME="${LOGNAME-}" /bin/bash "$0"',
      );
    }
    if (template.schedOutputPath) lines.push(`exec > ${quoteIfNeeded(template.schedOutputPath)}`);
    if (template.schedJoinFiles) {
      if (template.schedErrorPath) {
        this.logger.info(
          {},
          'sched_join_files is True, but sched_error_path is set; ignoring sched_error_path',
        );
      }
    } else if (template.schedErrorPath) {
      lines.push(`exec 2> ${quoteIfNeeded(template.schedErrorPath)}`);
    } else {
      lines.push('exec 2>&1');
    }
    if (template.maxMemoryKb) {
      this.logger.warn({}, 'Physical memory limiting is not supported by the direct scheduler.');
    }
    if (template.customSchedulerCommands) lines.push(template.customSchedulerCommands);
    const resource = template.jobResource as NodeNumberJobResource | null | undefined;
    if (resource?.kind === 'node-number' && resource.numCoresPerMpiproc) {
      lines.push(`export OMP_NUM_THREADS=${resource.numCoresPerMpiproc}`);
    }
    if (template.rerunnable) {
      this.logger.warn(
        {},
        "The 'rerunnable' option is set to 'True', but has no effect when using the direct scheduler.",
      );
    }
    lines.push('');
    return lines.join('\n');
  }

  getSubmitCommand(submitScript: string): string {
    // Both streams go to /dev/null so the command returns at once instead of waiting for the job.
    return `(bash ${submitScript} > /dev/null 2>&1 & echo $!) &`;
  }

  parseSubmitOutput(output: CommandOutput): string {
    const { retval, stdout, stderr } = output;
    if (retval !== 0) {
      throw new SchedulerError(
        `Error during submission, retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`,
      );
    }
    if (stderr.trim()) this.logger.warn({ stderr }, 'the submit command wrote to stderr');
    const pid = stdout.trim();
    if (!pid)
      throw new SchedulerError(`Unable to get the PID: retval=${retval}; stdout=${stdout}; stderr=${stderr}`);
    if (!/^\d+$/.test(pid))
      throw new SchedulerParsingError(`Unable to read a PID from the submit output '${pid}'`);
    return pid;
  }

  getJoblistCommand(query: JoblistQuery): string {
    // `-p` because procps-ng 4 ignores bare process ids once `-x` is given and lists every process.
    const command = 'ps -o pid,stat,user,time';
    if (query.jobs && query.jobs.length > 0) {
      for (const job of query.jobs) {
        if (!/^\d+$/.test(job))
          throw new ValidationError(`invalid process id for the direct scheduler: '${job}'`);
      }
      return `${command} -p ${query.jobs.join(',')}`;
    }
    if (query.user) return `${command} -U ${query.user}`;
    return `${command} -U "$(id -u)"`;
  }

  parseJoblistOutput(output: CommandOutput): JobInfo[] {
    const { retval, stdout, stderr } = output;
    if (stderr.trim()) {
      this.logger.warn({ stderr }, 'ps wrote to stderr');
      if (retval !== 0) {
        throw new SchedulerError(`ps failed with retval=${retval}\nstdout=${stdout}\nstderr=${stderr}`);
      }
    }
    const lines = stdout.split('\n');
    const headerIndex = lines.findIndex((line) => line.trim() !== '');
    // ps always prints its header, also when no process matches (exit status 1), so output without it is
    // broken, not an empty queue: reading it as "no jobs" would mark every job as finished.
    if (headerIndex === -1 || !PS_HEADER.test(lines[headerIndex]!)) {
      throw new SchedulerParsingError(
        `Unexpected output from ps: expected the header 'PID STAT USER TIME', got ${JSON.stringify(stdout.slice(0, 200))}`,
      );
    }
    const jobs: JobInfo[] = [];
    for (let i = headerIndex + 1; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const fields = line.split(/\s+/);
      if (fields.length < 4 || !/^\d+$/.test(fields[0]!)) {
        throw new SchedulerParsingError(`Unexpected output from the scheduler, not a ps line: '${line}'`);
      }
      const [jobId, stat, owner, time] = fields as [string, string, string, string];
      const job: JobInfo = {
        jobId,
        jobState: jobStateOf(PS_STATES, stat.slice(0, 1), jobId, this.logger),
        jobSubstate: stat,
        jobOwner: owner,
      };
      // ps's TIME column is the CPU time the process used (aiida stores it as wallclock time).
      const cpu = parsePsTime(time);
      if (cpu === undefined) this.logger.warn({ jobId, time }, `Error parsing the time for job id ${jobId}`);
      else job.cpuTime = cpu;
      jobs.push(job);
    }
    return jobs;
  }

  /**
   * On the local machine a few jobs are asked for by id: a few files of `/proc` each (see {@link listJobs}) rather
   * than every process of the user.
   */
  override jobListQuery(jobCount: number): 'user' | 'jobs' {
    return process.platform === 'linux' && this.#readsProc(jobCount) ? 'jobs' : 'user';
  }

  /**
   * Whether a query of this many job ids is read from `/proc` here. Only a query by ids: a query by user would read
   * the files of every process of the machine's user in the runner (hundreds of reads on the event loop when the
   * runner is busiest), which `ps` does in a process of its own.
   */
  #readsProc(jobCount: number): boolean {
    return this.#isLocal() && jobCount > 0 && jobCount <= PROC_LISTING_MAX_JOBS;
  }

  #isLocal(): boolean {
    try {
      return this.transport instanceof LocalTransport;
    } catch {
      return false; // no transport set yet
    }
  }

  /**
   * On the local machine, for a few jobs, `ps` is not run: what it would print is read from `/proc` in this process
   * (procps reads the same files), which saves a process per poll; anything that cannot be read exactly that way runs
   * `ps`. So do many jobs: `ps` reads their files in a process of its own, away from the runner's event loop.
   */
  protected override async listJobs(
    command: string,
    query: { readonly jobs?: readonly string[]; readonly user?: string },
  ): Promise<CommandOutput> {
    if (query.jobs !== undefined && this.#readsProc(query.jobs.length)) {
      const listed = listProcessesLikePs(query.jobs);
      if (listed !== undefined) return listed;
    }
    return this.exec(command);
  }

  /** A requested process that `ps` no longer lists has finished. */
  protected override completeJobList(list: JobInfo[], requested: readonly string[] | undefined): JobInfo[] {
    if (!requested) return list;
    const found = new Set(list.map((job) => job.jobId));
    const out = [...list];
    for (const jobId of new Set(requested)) {
      if (!found.has(jobId)) out.push({ jobId, jobState: JobState.DONE });
    }
    return out;
  }

  getKillCommand(jobId: string): string {
    if (!/^\d+$/.test(jobId))
      throw new ValidationError(`invalid process id for the direct scheduler: '${jobId}'`);
    // Stop each generation before listing its children so nothing forks away between listing and
    // killing, then TERM the whole tree and let the stopped processes run to receive it.
    return (
      `pids=${jobId}; all=; while [ -n "$pids" ]; do kill -STOP $pids 2>/dev/null; all="$all $pids"; ` +
      `pids=$(pgrep -P "$(echo $pids | tr ' ' ',')" | tr '\\n' ' '); pids=$(echo $pids); done; ` +
      `kill -TERM ${jobId}; status=$?; kill -TERM $all 2>/dev/null; kill -CONT $all 2>/dev/null; [ $status -eq 0 ]`
    );
  }

  parseKillOutput(output: CommandOutput): boolean {
    return this.checkKillOutput(output);
  }
}
