import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { jobResourceSchema, jobResourceToAiidaDict, type JobResource } from './job-resource.js';

/**
 * How several codes of one job run (aiida's `CodeRunMode`): one after the other, or all at once in the
 * background followed by `wait`.
 */
export const CodeRunMode = { SERIAL: 'serial', PARALLEL: 'parallel' } as const;
export type CodeRunMode = (typeof CodeRunMode)[keyof typeof CodeRunMode];
export const codeRunModeSchema = z.enum([CodeRunMode.SERIAL, CodeRunMode.PARALLEL]);

const optionalText = z.string().nullish();
const optionalFlag = z.boolean().nullish();

/** aiida converts numbers with `int(value)`; a numeric string is accepted, anything else is an error. */
const optionalIntegerish = (name: string) =>
  z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const n = typeof value === 'number' ? value : /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n)) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be an integer, it is instead '${String(value)}'`,
        });
        return z.NEVER;
      }
      return n;
    })
    .nullish();

/**
 * How to run one code inside the job (aiida's `JobTemplateCodeInfo`): the words before the executable (an
 * `mpirun` line), the executable and its arguments, and the file names for its standard streams.
 */
export const jobTemplateCodeInfoSchema = z.strictObject({
  /** Unquoted words put before the executable, e.g. `['mpirun', '-np', '4']`. */
  prependCmdlineParams: z.array(z.string()).default([]),
  /** Unquoted executable and arguments; the first is the executable. */
  cmdlineParams: z.array(z.string()).default([]),
  /** Quote with double quotes instead of single: `[prependCmdlineParams and file names, cmdlineParams]`. */
  useDoubleQuotes: z.tuple([z.boolean(), z.boolean()]).default([false, false]),
  /** Wrap arguments and redirections into one double-quoted word (for container engines). */
  wrapCmdlineParams: z.boolean().default(false),
  stdinName: optionalText,
  stdoutName: optionalText,
  stderrName: optionalText,
  /** Send stderr where stdout goes (`2>&1`). */
  joinFiles: z.boolean().default(false),
});
export type JobTemplateCodeInfo = z.output<typeof jobTemplateCodeInfoSchema>;
export type JobTemplateCodeInfoInput = z.input<typeof jobTemplateCodeInfoSchema>;

/**
 * Everything a scheduler needs to write a submission script (aiida's `JobTemplate`), with aiida's field
 * names in camelCase. Fields left out (or `null`) are not written; `codesRunMode` is required.
 */
export const jobTemplateSchema = z.strictObject({
  /** First line; `undefined`/`null` give `#!/bin/bash`, `''` gives an empty first line. */
  shebang: optionalText,
  submitAsHold: optionalFlag,
  rerunnable: optionalFlag,
  /** Exported before the code runs; values are quoted (single quotes unless `environmentVariablesDoubleQuotes`). */
  jobEnvironment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullish(),
  environmentVariablesDoubleQuotes: optionalFlag,
  workingDirectory: optionalText,
  email: optionalText,
  emailOnStarted: optionalFlag,
  emailOnTerminated: optionalFlag,
  jobName: optionalText,
  schedOutputPath: optionalText,
  schedErrorPath: optionalText,
  schedJoinFiles: optionalFlag,
  queueName: optionalText,
  account: optionalText,
  qos: optionalText,
  /** A validated resource, from the scheduler's `createJobResource`. */
  jobResource: jobResourceSchema.nullish(),
  priority: z.union([z.string(), z.number()]).nullish(),
  /** Memory per machine in kB. */
  maxMemoryKb: optionalIntegerish('max_memory_kb'),
  maxWallclockSeconds: optionalIntegerish('max_wallclock_seconds'),
  /** Written verbatim after the scheduler's own directives. */
  customSchedulerCommands: optionalText,
  prependText: optionalText,
  appendText: optionalText,
  importSysEnvironment: optionalFlag,
  codesRunMode: codeRunModeSchema,
  codesInfo: z.array(jobTemplateCodeInfoSchema).default([]),
});
export type JobTemplate = z.output<typeof jobTemplateSchema>;
export type JobTemplateInput = z.input<typeof jobTemplateSchema>;

/** Validate a job template; a bad one fails with a `ValidationError` listing every wrong field. */
export function parseJobTemplate(template: JobTemplateInput): JobTemplate {
  const result = jobTemplateSchema.safeParse(template);
  if (result.success) return result.data;
  throw new ValidationError(
    'invalid job template',
    result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
  );
}

/**
 * Fill the placeholders of a computer's `mpirun_command` (`['mpirun', '-np', '{tot_num_mpiprocs}']`) from a
 * job resource, as aiida's `CalcJob.presubmit` does with `str.format`: `{tot_num_mpiprocs}` and every key of
 * the resource (`{num_machines}`, `{num_mpiprocs_per_machine}`, …); `{{` and `}}` are literal braces.
 */
export function formatMpirunCommand(mpirunCommand: readonly string[], jobResource: JobResource): string[] {
  const values: Record<string, unknown> = {
    ...jobResourceToAiidaDict(jobResource),
    tot_num_mpiprocs: jobResource.totNumMpiprocs,
  };
  return mpirunCommand.map((arg) =>
    arg.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (match, key: string | undefined) => {
      if (match === '{{') return '{';
      if (match === '}}') return '}';
      if (key === undefined || !(key in values)) {
        throw new ValidationError(
          `the mpirun command '${mpirunCommand.join(' ')}' has the unknown placeholder '${match}'; known: ` +
            Object.keys(values)
              .map((k) => `{${k}}`)
              .join(', '),
        );
      }
      return String(values[key]);
    }),
  );
}

/** Options of {@link buildJobTemplateCodeInfo}. */
export interface BuildCodeInfoOptions {
  /** Run the code through the computer's mpirun command. */
  readonly withmpi: boolean;
  /** The computer's mpirun command with placeholders (needed when `withmpi`). */
  readonly mpirunCommand?: readonly string[];
  /** Extra words after the mpirun command (`metadata.options.mpirun_extra_params`). */
  readonly mpirunExtraParams?: readonly string[];
  /** The job's validated resource, to fill the mpirun placeholders. */
  readonly jobResource: JobResource;
  /** Words before the executable that are not MPI (a container engine command, say). */
  readonly prependCmdlineParams?: readonly string[];
  readonly executable: string;
  readonly cmdlineParams?: readonly string[];
  readonly stdinName?: string | null;
  readonly stdoutName?: string | null;
  readonly stderrName?: string | null;
  readonly joinFiles?: boolean;
  /** `[computer.use_double_quotes, code.use_double_quotes]`. */
  readonly useDoubleQuotes?: readonly [boolean, boolean];
  readonly wrapCmdlineParams?: boolean;
}

/**
 * Build the code info of one code the way aiida's `CalcJob.presubmit` does: with MPI, the formatted mpirun
 * command and its extra parameters come first, then any other prefix, then the executable and its arguments.
 */
export function buildJobTemplateCodeInfo(options: BuildCodeInfoOptions): JobTemplateCodeInfo {
  const prepend: string[] = [];
  if (options.withmpi) {
    if (!options.mpirunCommand || options.mpirunCommand.length === 0) {
      throw new ValidationError('withmpi is set but the computer has no mpirun command');
    }
    prepend.push(...formatMpirunCommand(options.mpirunCommand, options.jobResource));
    prepend.push(...(options.mpirunExtraParams ?? []));
  }
  prepend.push(...(options.prependCmdlineParams ?? []));
  return jobTemplateCodeInfoSchema.parse({
    prependCmdlineParams: prepend,
    cmdlineParams: [options.executable, ...(options.cmdlineParams ?? [])],
    useDoubleQuotes: options.useDoubleQuotes ? [...options.useDoubleQuotes] : [false, false],
    wrapCmdlineParams: options.wrapCmdlineParams ?? false,
    stdinName: options.stdinName ?? null,
    stdoutName: options.stdoutName ?? null,
    stderrName: options.stderrName ?? null,
    joinFiles: options.joinFiles ?? false,
  });
}
