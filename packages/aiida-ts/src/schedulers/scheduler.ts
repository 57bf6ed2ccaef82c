import { silentLogger, type Logger } from 'kiwipy-ts';
import { z } from 'zod';
import { FeatureNotAvailableError, SchedulerError, ValidationError } from '../errors.js';
import type { ExecResult, Transport } from '../transports/transport.js';
import { quoteForBash } from './bash-quoting.js';
import type { SchedulerExitCode } from './exit-codes.js';
import type { JobInfo } from './job-info.js';
import {
  preprocessResources,
  type JobResource,
  type JobResourceClass,
  type JobResourceInput,
} from './job-resource.js';
import {
  CodeRunMode,
  parseJobTemplate,
  type JobTemplate,
  type JobTemplateCodeInfo,
  type JobTemplateInput,
} from './job-template.js';

/** The part of a {@link Transport} a scheduler uses: running a command and reading its output. */
export type SchedulerTransport = Pick<Transport, 'execCommandWait'>;

/** A finished command as a scheduler reads it: aiida's `(retval, stdout, stderr)`. */
export type CommandOutput = Pick<ExecResult, 'retval' | 'stdout' | 'stderr'>;

/** Named capabilities of a scheduler plugin (aiida's `Scheduler._features`). */
export const SchedulerFeature = {
  /** `getJobs` can list a user's jobs (then no job ids are passed); otherwise it takes job ids. */
  CAN_QUERY_BY_USER: 'can_query_by_user',
} as const;
export type SchedulerFeature = (typeof SchedulerFeature)[keyof typeof SchedulerFeature];

/**
 * The output of the accounting command run after a job finished (aiida's `detailed_job_info` attribute of
 * a calculation): its exit status and both streams.
 */
export const detailedJobInfoSchema = z.object({
  retval: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
});
export type DetailedJobInfo = z.infer<typeof detailedJobInfoSchema>;

/**
 * What {@link Scheduler.parseOutput} accepts as detailed job info: aiida only needs `stdout` (the other keys
 * may be missing in what older versions stored).
 */
export const parseOutputDetailedJobInfoSchema = z.object({
  retval: z.number().int().optional(),
  stdout: z.string({
    error: 'the `detailed_job_info` does not contain the required key `stdout` as a string.',
  }),
  stderr: z.string().optional(),
});

/** Options of {@link Scheduler.getJobs}. */
export interface GetJobsOptions {
  /** Only these job ids (for schedulers that cannot query by user). */
  readonly jobs?: readonly string[];
  /**
   * Only this user's jobs (for schedulers that can query by user). Passed to the shell unquoted so that
   * `$USER` expands on the computer, as aiida's job manager relies on; it must be a plain user name or
   * `$USER`.
   */
  readonly user?: string;
  /** Return a record keyed by job id instead of a list. */
  readonly asDict?: boolean;
}

/** Options of every scheduler plugin's constructor. */
export interface SchedulerOptions {
  /** An open transport to the computer; may be set later with {@link Scheduler.setTransport}. */
  readonly transport?: SchedulerTransport;
  /** Where warnings about odd scheduler output go (pino's shape); silent by default. */
  readonly logger?: Logger;
  /** Kill a scheduler command that has not finished after this many milliseconds. */
  readonly commandTimeoutMs?: number;
}

/**
 * A job scheduler (aiida's `Scheduler`): writes submission scripts, submits them, lists, kills and accounts
 * for jobs, all through a {@link Transport} to the computer. Every plugin is registered by entry point
 * name (`core.slurm`, …).
 */
export interface Scheduler {
  /** The entry point name of the plugin (`core.slurm`). */
  readonly entryPoint: string;
  /** The resource class jobs of this scheduler are described with. */
  readonly jobResourceClass: JobResourceClass;
  readonly logger: Logger;
  /** The transport set for this scheduler; throws `SchedulerError` when none is set. */
  readonly transport: SchedulerTransport;
  /** Use this (open) transport for every command from now on. */
  setTransport(transport: SchedulerTransport): void;
  /** The value of a feature flag; throws `FeatureNotAvailableError` for a name the plugin does not know. */
  getFeature(name: string): boolean;
  /**
   * How a poll of `jobCount` jobs asks for them: by `user` (one query however many jobs; plugins that can) or by their
   * `jobs` ids (when that costs less, such as `core.direct` reading a few jobs from `/proc` on the local machine).
   */
  jobListQuery(jobCount: number): 'user' | 'jobs';
  /** Validate a resources dictionary into this scheduler's resource (aiida's `create_job_resource`). */
  createJobResource(resources: JobResourceInput): JobResource;
  /** Throw the validation error of {@link Scheduler.createJobResource}, if any. */
  validateResources(resources: JobResourceInput): void;
  /** Fill in the computer's `default_mpiprocs_per_machine` where aiida would (a new object). */
  preprocessResources(
    resources: JobResourceInput,
    defaultMpiprocsPerMachine?: number | null,
  ): Record<string, unknown>;
  /** The submission script for a job template; a bad template fails with a `ValidationError`. */
  getSubmitScript(template: JobTemplateInput): string;
  /**
   * Submit the script `filename` inside `workdir` (an absolute path on the computer). Resolves to the job
   * id, or to an exit code when the scheduler refused the job for a reason retrying cannot fix (an
   * invalid account); fails with `SchedulerError` otherwise.
   */
  submitJob(workdir: string, filename: string): Promise<string | SchedulerExitCode>;
  /**
   * The scheduler's active jobs; a job the scheduler no longer lists is finished. Output the plugin cannot
   * read fails with `SchedulerParsingError`, never with a shorter list.
   */
  getJobs(options?: GetJobsOptions & { readonly asDict?: false }): Promise<JobInfo[]>;
  getJobs(options: GetJobsOptions & { readonly asDict: true }): Promise<Record<string, JobInfo>>;
  getJobs(options?: GetJobsOptions): Promise<JobInfo[] | Record<string, JobInfo>>;
  /** Ask the scheduler to kill a job; true when the scheduler accepted (it may take a while to go). */
  killJob(jobId: string): Promise<boolean>;
  /** Run the accounting command for a (finished) job and return its output unparsed. */
  getDetailedJobInfo(jobId: string): Promise<DetailedJobInfo>;
  /**
   * Read why a finished job failed, from the detailed job info and the job's scheduler stdout/stderr:
   * an exit code (out of memory 110, out of walltime 120, node failure 140) or `undefined` when nothing
   * is known to be wrong. Throws `FeatureNotAvailableError` for plugins without output parsing.
   */
  parseOutput(
    detailedJobInfo?: unknown,
    stdout?: string | null,
    stderr?: string | null,
  ): SchedulerExitCode | undefined;
  /**
   * False when {@link parseOutput} is known to throw `FeatureNotAvailableError` (the engine then reads no scheduler
   * output for it); true or absent: it may parse.
   */
  readonly parsesOutput?: boolean;
  /**
   * Read the detailed job info of a finished job into a {@link JobInfo}: its final state, exit status,
   * terminating signal and times. Throws `FeatureNotAvailableError` when the plugin's accounting output
   * is free text it does not read, `SchedulerParsingError` when the output is not what it expects.
   */
  parseDetailedJobInfo(jobId: string, detailedJobInfo: DetailedJobInfo): JobInfo;
}

/** Environment variable names a script may export (anything else could inject shell code). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What every plugin shares (aiida's `Scheduler` base class): the transport, feature flags, resources, and
 * the layout of the submission script (shebang, header, environment, prepend text, run lines, append
 * text, footer). Plugins write the header and the commands.
 */
export abstract class BaseScheduler implements Scheduler {
  abstract readonly entryPoint: string;
  abstract readonly jobResourceClass: JobResourceClass;
  /** The plugin's feature flags. */
  protected abstract readonly features: Readonly<Record<string, boolean>>;

  readonly logger: Logger;
  protected readonly commandTimeoutMs: number | undefined;
  #transport: SchedulerTransport | undefined;

  constructor(options: SchedulerOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.#transport = options.transport;
  }

  get transport(): SchedulerTransport {
    if (this.#transport === undefined) {
      throw new SchedulerError('Use the setTransport function to set the transport for the scheduler first.');
    }
    return this.#transport;
  }

  setTransport(transport: SchedulerTransport): void {
    this.#transport = transport;
  }

  getFeature(name: string): boolean {
    const value = this.features[name];
    if (value === undefined) {
      throw new FeatureNotAvailableError(`Feature ${name} not implemented for this scheduler`);
    }
    return value;
  }

  jobListQuery(_jobCount: number): 'user' | 'jobs' {
    return this.getFeature(SchedulerFeature.CAN_QUERY_BY_USER) ? 'user' : 'jobs';
  }

  createJobResource(resources: JobResourceInput): JobResource {
    return this.jobResourceClass.validate(resources);
  }

  validateResources(resources: JobResourceInput): void {
    this.jobResourceClass.validate(resources);
  }

  preprocessResources(
    resources: JobResourceInput,
    defaultMpiprocsPerMachine?: number | null,
  ): Record<string, unknown> {
    return preprocessResources(this.jobResourceClass, resources, defaultMpiprocsPerMachine);
  }

  getSubmitScript(input: JobTemplateInput): string {
    const template = parseJobTemplate(input);
    const lines: string[] = [];
    // `undefined`/`null` mean "use the default"; an explicit '' is kept as an empty first line.
    lines.push(template.shebang ?? '#!/bin/bash');
    lines.push(this.getSubmitScriptHeader(template), '');
    if (template.jobEnvironment && Object.keys(template.jobEnvironment).length > 0) {
      lines.push(this.getSubmitScriptEnvironment(template), '');
    }
    if (template.prependText) lines.push(template.prependText, '');
    lines.push(this.getRunLine(template.codesInfo, template.codesRunMode), '');
    if (template.appendText) lines.push(template.appendText, '');
    const footer = this.getSubmitScriptFooter(template);
    if (footer) lines.push(footer, '');
    return lines.join('\n');
  }

  /** The scheduler directives of the script, from the template. */
  abstract getSubmitScriptHeader(template: JobTemplate): string;

  /** Lines after the append text; none by default. */
  getSubmitScriptFooter(_template: JobTemplate): string {
    return '';
  }

  /** The `export` block of the job environment, quoted as the template asks. */
  getSubmitScriptEnvironment(template: JobTemplate): string {
    const lines = ['# ENVIRONMENT VARIABLES BEGIN ###'];
    for (const [rawKey, value] of Object.entries(template.jobEnvironment ?? {})) {
      const key = rawKey.trim();
      if (!ENV_NAME.test(key)) {
        throw new ValidationError(`invalid job template: jobEnvironment: '${rawKey}' is not a variable name`);
      }
      lines.push(`export ${key}=${quoteForBash(value, template.environmentVariablesDoubleQuotes ?? false)}`);
    }
    lines.push('# ENVIRONMENT VARIABLES END ###');
    return lines.join('\n');
  }

  /**
   * The lines that run the codes (aiida's `_get_run_line`): `[prepend] executable args [< in] [> out]
   * [2> err | 2>&1]` per code, one after the other, or all in the background followed by `wait`.
   */
  getRunLine(codesInfo: readonly JobTemplateCodeInfo[], runMode: CodeRunMode): string {
    const runLines = codesInfo.map((info) => {
      const [computerDoubleQuotes, codeDoubleQuotes] = info.useDoubleQuotes;
      const prepend = info.prependCmdlineParams
        .map((arg) => quoteForBash(arg, computerDoubleQuotes))
        .join(' ');
      const words = info.cmdlineParams.map((arg) => quoteForBash(arg, codeDoubleQuotes));
      if (info.stdinName) words.push(`< ${quoteForBash(info.stdinName, computerDoubleQuotes)}`);
      if (info.stdoutName) words.push(`> ${quoteForBash(info.stdoutName, computerDoubleQuotes)}`);
      if (info.joinFiles) words.push('2>&1');
      else if (info.stderrName) words.push(`2> ${quoteForBash(info.stderrName, computerDoubleQuotes)}`);
      let command = words.join(' ');
      if (info.wrapCmdlineParams) command = quoteForBash(command, true);
      return `${prepend} ${command}`.trim();
    });
    if (runMode === CodeRunMode.PARALLEL) {
      runLines.push('wait\n');
      return runLines.join(' &\n\n');
    }
    return runLines.join('\n\n');
  }

  /** Run a command on the computer through the transport. */
  protected exec(command: string, workdir?: string): Promise<CommandOutput> {
    return this.transport.execCommandWait(command, {
      ...(workdir === undefined ? {} : { workdir }),
      ...(this.commandTimeoutMs === undefined ? {} : { timeoutMs: this.commandTimeoutMs }),
    });
  }

  abstract submitJob(workdir: string, filename: string): Promise<string | SchedulerExitCode>;
  abstract getJobs(options?: GetJobsOptions & { readonly asDict?: false }): Promise<JobInfo[]>;
  abstract getJobs(options: GetJobsOptions & { readonly asDict: true }): Promise<Record<string, JobInfo>>;
  abstract getJobs(options?: GetJobsOptions): Promise<JobInfo[] | Record<string, JobInfo>>;
  abstract killJob(jobId: string): Promise<boolean>;

  /** The accounting command for a job; plugins without one throw `FeatureNotAvailableError`. */
  getDetailedJobInfoCommand(_jobId: string): string {
    throw new FeatureNotAvailableError(`Cannot get detailed job info for \`${this.entryPoint}\``);
  }

  async getDetailedJobInfo(jobId: string): Promise<DetailedJobInfo> {
    const command = this.getDetailedJobInfoCommand(validateJobId(jobId));
    const { retval, stdout, stderr } = await this.exec(command);
    return { retval, stdout, stderr };
  }

  parseOutput(
    _detailedJobInfo?: unknown,
    _stdout?: string | null,
    _stderr?: string | null,
  ): SchedulerExitCode | undefined {
    throw new FeatureNotAvailableError(`output parsing is not available for \`${this.entryPoint}\``);
  }

  /** True when the plugin overrides {@link parseOutput}. */
  get parsesOutput(): boolean {
    return this.parseOutput !== BaseScheduler.prototype.parseOutput;
  }

  parseDetailedJobInfo(_jobId: string, _detailedJobInfo: DetailedJobInfo): JobInfo {
    throw new FeatureNotAvailableError(
      `reading the detailed job info is not available for \`${this.entryPoint}\``,
    );
  }
}

/**
 * A job id as schedulers print them (`123`, `68350.mycluster`, `123[4]`, `1234.5`); anything else is refused
 * before it reaches a shell.
 */
export function validateJobId(jobId: string): string {
  if (typeof jobId !== 'string' || !/^[A-Za-z0-9_.@[\]-]+$/.test(jobId)) {
    throw new ValidationError(`invalid job id ${JSON.stringify(jobId)}`);
  }
  return jobId;
}

/** A user name for a job listing: a plain name, or `$USER` to be expanded by the computer's shell. */
export function validateUser(user: string): string {
  if (typeof user !== 'string' || !/^(\$USER|\$\{USER\}|[A-Za-z0-9_][A-Za-z0-9_.@-]*|\*)$/.test(user)) {
    throw new ValidationError(`invalid user name ${JSON.stringify(user)}`);
  }
  return user;
}

/**
 * Parse the `detailed_job_info` argument of `parseOutput` as aiida does (only `stdout` is required); a value
 * of the wrong shape fails with a `ValidationError`.
 */
export function readDetailedJobInfoArgument(
  value: unknown,
): z.infer<typeof parseOutputDetailedJobInfoSchema> {
  const result = parseOutputDetailedJobInfoSchema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(
      'invalid detailed_job_info',
      result.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
  return result.data;
}
