import { SchedulerError, SchedulerParsingError } from '../errors.js';
import { quoteForBash } from './bash-quoting.js';
import type { SchedulerExitCode } from './exit-codes.js';
import type { JobInfo } from './job-info.js';
import {
  BaseScheduler,
  validateJobId,
  validateUser,
  type CommandOutput,
  type GetJobsOptions,
} from './scheduler.js';

/** Options of {@link BashCliScheduler.getJoblistCommand}. */
export interface JoblistQuery {
  /** Validated job ids. */
  readonly jobs?: readonly string[];
  /** The user as one shell word, already quoted (see {@link shellUser}). */
  readonly user?: string;
}

/**
 * A validated user name as one shell word: quoted, except `$USER`, which expands on the computer (aiida's
 * job manager asks for `$USER`) and falls back to `id -un` where the variable is not set (non-login
 * shells of some daemons).
 */
export function shellUser(user: string): string {
  return user === '$USER' || user === '${USER}' ? '"${USER:-$(id -un)}"' : quoteForBash(user);
}

/**
 * A scheduler driven by command-line tools through bash (aiida's `BashCliScheduler`): each plugin says which
 * command submits, lists and kills jobs and how to read what the command prints; this class runs them
 * through the transport. The builders and parsers are public so recorded outputs can be checked directly.
 */
export abstract class BashCliScheduler extends BaseScheduler {
  /** The command that submits `submitScript` (already quoted for bash), run in the job's directory. */
  abstract getSubmitCommand(submitScript: string): string;
  /** The job id from the submit command's output, or an exit code the job should end with. */
  abstract parseSubmitOutput(output: CommandOutput): string | SchedulerExitCode;
  /** The command listing the active jobs (ids and user are already validated). */
  abstract getJoblistCommand(query: JoblistQuery): string;
  /** Every job in the listing; unreadable output fails with `SchedulerParsingError`. */
  abstract parseJoblistOutput(output: CommandOutput): JobInfo[];
  /** The command killing a job (the id is already validated). */
  abstract getKillCommand(jobId: string): string;
  /** Whether the kill command was accepted. */
  abstract parseKillOutput(output: CommandOutput): boolean;

  async submitJob(workdir: string, filename: string): Promise<string | SchedulerExitCode> {
    if (!filename) throw new SchedulerError('submitJob: the submission script name is empty');
    const output = await this.exec(this.getSubmitCommand(quoteForBash(filename)), workdir);
    return this.parseSubmitOutput(output);
  }

  getJobs(options?: GetJobsOptions & { readonly asDict?: false }): Promise<JobInfo[]>;
  getJobs(options: GetJobsOptions & { readonly asDict: true }): Promise<Record<string, JobInfo>>;
  getJobs(options?: GetJobsOptions): Promise<JobInfo[] | Record<string, JobInfo>>;
  async getJobs(options: GetJobsOptions = {}): Promise<JobInfo[] | Record<string, JobInfo>> {
    const jobs = options.jobs?.map(validateJobId);
    const user = options.user === undefined ? undefined : shellUser(validateUser(options.user));
    const command = this.getJoblistCommand({
      ...(jobs ? { jobs } : {}),
      ...(user === undefined ? {} : { user }),
    });
    const output = await this.listJobs(command, {
      ...(jobs ? { jobs } : {}),
      ...(options.user === undefined ? {} : { user: options.user }),
    });
    // Every job-list command says something about jobs it was asked for, even finished ones (a header, a
    // record, or "unknown job" on stderr); silence on both streams is a broken reply, and reading it as an
    // empty list would mark every job done.
    if (jobs && jobs.length > 0 && !output.stdout.trim() && !output.stderr.trim()) {
      throw new SchedulerParsingError(
        `the job list command printed nothing at all for jobs ${jobs.join(', ')} (exit status ${output.retval}): ${command}`,
      );
    }
    const list = this.completeJobList(this.parseJoblistOutput(output), jobs);
    if (!options.asDict) return list;
    const byId: Record<string, JobInfo> = {};
    for (const job of list) byId[job.jobId] = job;
    return byId;
  }

  /**
   * Runs the job-list `command` built for `query` (the validated job ids, the user as asked); a plugin may answer
   * with what the command would print without running it (the direct scheduler on the local machine).
   */
  protected listJobs(
    command: string,
    _query: { readonly jobs?: readonly string[]; readonly user?: string },
  ): Promise<CommandOutput> {
    return this.exec(command);
  }

  /** A hook for plugins that know more about jobs missing from the listing (the direct scheduler). */
  protected completeJobList(list: JobInfo[], _requested: readonly string[] | undefined): JobInfo[] {
    return list;
  }

  async killJob(jobId: string): Promise<boolean> {
    const output = await this.exec(this.getKillCommand(validateJobId(jobId)));
    return this.parseKillOutput(output);
  }

  /** aiida's common kill-output check: success is exit status 0; text on either stream is only logged. */
  protected checkKillOutput(output: CommandOutput): boolean {
    if (output.retval !== 0) {
      this.logger.error({ ...output }, `Error in parseKillOutput: retval=${output.retval}`);
      return false;
    }
    if (output.stderr.trim()) this.logger.warn({ stderr: output.stderr }, 'kill command wrote to stderr');
    if (output.stdout.trim()) this.logger.warn({ stdout: output.stdout }, 'kill command wrote to stdout');
    return true;
  }
}
