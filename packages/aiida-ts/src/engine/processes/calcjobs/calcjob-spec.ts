import type { NamespaceDesc, PortDesc, ProcessSpec, SpecTypes } from 'plumpy-ts';
import { isPlainObject } from 'plumpy-ts';
import { z } from 'zod';
import { Computer } from '../../../orm/entities/computer.js';
import { AbstractCode } from '../../../orm/nodes/data/code/abstract.js';
import { Dict } from '../../../orm/nodes/data/base.js';
import { FolderData } from '../../../orm/nodes/data/files.js';
import { RemoteData } from '../../../orm/nodes/data/remote.js';
import { RemoteStashData } from '../../../orm/nodes/data/remote-stash.js';
import { hasMagic } from '../../../transports/escaping.js';
import { nodeType } from '../ports.js';
import { COMPRESS_STASH_MODES, stashModeSchema, StashMode, unstashTargetModeSchema } from './calc-info.js';
import { validateMonitor } from './monitors.js';

const isAbsolute = (value: unknown): boolean => typeof value === 'string' && value.startsWith('/');

/** The `stash` option (aiida's `validate_stash_options`): a message for the first problem, or undefined. */
export function validateStashOptions(options: Readonly<Record<string, unknown>>): string | undefined {
  const targetBase = options['target_base'];
  const sourceList = options['source_list'];
  const stashMode = options['stash_mode'];
  if (typeof targetBase !== 'string' || !isAbsolute(targetBase))
    return `\`metadata.options.stash.target_base\` should be an absolute filepath, got: ${String(targetBase)}`;
  if (!Array.isArray(sourceList) || sourceList.some((src) => typeof src !== 'string' || isAbsolute(src)))
    return `\`metadata.options.stash.source_list\` should be a list or tuple of relative filepaths, got: ${JSON.stringify(sourceList)}`;
  if (!stashModeSchema.safeParse(stashMode).success)
    return `\`metadata.options.stash.stash_mode\` should be a member of aiida.common.datastructures.StashMode, got: ${String(stashMode)}`;
  const dereference = options['dereference'];
  if ((COMPRESS_STASH_MODES as readonly unknown[]).includes(stashMode)) {
    if (typeof dereference !== 'boolean')
      return `\`metadata.options.stash.dereference\` should be a boolean, got: ${String(dereference)}`;
  } else if (dereference !== undefined && dereference !== null) {
    return '`metadata.options.stash.dereference` is only valid for compression stashing modes';
  }
  const failOnMissing = options['fail_on_missing'];
  if (stashMode !== StashMode.SUBMIT_CUSTOM_CODE) {
    if (failOnMissing !== undefined && failOnMissing !== null && typeof failOnMissing !== 'boolean')
      return `\`metadata.options.stash.fail_on_missing\` should be a boolean, got: ${JSON.stringify(failOnMissing)}`;
    if (failOnMissing === true) {
      const pattern = (sourceList as string[]).find((src) => hasMagic(src));
      if (pattern !== undefined)
        return `\`metadata.options.stash.source_list\` cannot contain glob patterns when \`fail_on_missing\` is True, but found pattern: ${pattern}`;
    }
  } else if (failOnMissing !== undefined && failOnMissing !== null) {
    return '`metadata.options.stash.fail_on_missing` is not valid for the `submit_custom_code` stash mode';
  }
  return undefined;
}

/** The `unstash` option (aiida's `validate_unstash_options`). */
export function validateUnstashOptions(options: Readonly<Record<string, unknown>>): string | undefined {
  const sourceList = options['source_list'];
  if (!Array.isArray(sourceList) || sourceList.some((src) => typeof src !== 'string' || isAbsolute(src)))
    return `\`metadata.options.unstash.source_list\` should be a list or tuple of relative filepaths, got: ${JSON.stringify(sourceList)}`;
  const mode = options['unstash_target_mode'];
  if (!unstashTargetModeSchema.safeParse(mode).success)
    return `\`metadata.options.unstash.unstash_target_mode\` should be a member of aiida.common.datastructures.UnstashTargetMode, got: ${String(mode)}`;
  return undefined;
}

function validateMonitors(monitors: Readonly<Record<string, unknown>>): string | undefined {
  for (const [key, node] of Object.entries(monitors)) {
    if (!(node instanceof Dict)) return `\`monitors.${key}\` is invalid: it must be a Dict`;
    try {
      validateMonitor(node.getDict());
    } catch (error) {
      return `\`monitors.${key}\` is invalid: ${(error as Error).message}`;
    }
  }
  return undefined;
}

function validateAdditionalRetrieveList(list: readonly unknown[]): string | undefined {
  if (list.some((value) => typeof value !== 'string' || isAbsolute(value) || value.split('/').includes('..')))
    return `\`additional_retrieve_list\` should only contain relative filepaths but got: ${JSON.stringify(list)}`;
  return undefined;
}

const stringRecord = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/**
 * Adds what every calculation job has (aiida's `CalcJob.define`): the `code`, `monitors` and `remote_folder` inputs,
 * `metadata.dry_run`, `metadata.computer` and every option of `metadata.options`; the outputs `remote_folder`,
 * `remote_stash` and `retrieved`; exit codes 100, 110, 120, 131, 140, 150 and 160.
 */
export function defineCalcJob<S extends SpecTypes>(spec: ProcessSpec<S>): ProcessSpec<CalcJobSpecTypes<S>> {
  // Built untyped and typed once below: the chain of ~45 ports is too deep for the compiler to follow.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const untyped = spec as unknown as ProcessSpec<any>;
  untyped
    .input('code', {
      validType: nodeType(AbstractCode, { serialize: false }),
      required: false,
      help: 'The `Code` to use for this job. This input is required, unless the `remote_folder` input is specified, which means an existing job is being imported and no code will actually be run.',
    })
    .inputNamespace('monitors', {
      validType: nodeType(Dict),
      required: false,
      validator: (value) => validateMonitors(value),
      help: 'Add monitoring functions that can inspect output files while the job is running and decide to prematurely terminate the job.',
    })
    .input('remote_folder', {
      validType: nodeType(RemoteData, { serialize: false }),
      required: false,
      help: 'Remote directory containing the results of an already completed calculation job without AiiDA. The inputs should be passed to the `CalcJob` as normal but instead of launching the actual job, the engine will recreate the input files and then proceed straight to the retrieve step where the files of this `RemoteData` will be retrieved as if it had been actually launched through AiiDA. If a parser is defined in the inputs, the results are parsed and attached as output nodes as usual.',
    })
    .input('metadata.dry_run', {
      validType: z.boolean(),
      default: false,
      help: 'When set to `True` will prepare the calculation job for submission but not actually launch it.',
    })
    .input('metadata.computer', {
      validType: z.instanceof(Computer),
      required: false,
      help: 'When using a "local" code, set the computer on which the calculation should be run.',
    })
    .inputNamespace('metadata.options', { required: false })
    .input('metadata.options.input_filename', {
      validType: z.string(),
      required: false,
      help: 'Filename to which the input for the code that is to be run is written.',
    })
    .input('metadata.options.output_filename', {
      validType: z.string(),
      required: false,
      help: 'Filename to which the content of stdout of the code that is to be run is written.',
    })
    .input('metadata.options.submit_script_filename', {
      validType: z.string(),
      default: '_aiidasubmit.sh',
      help: 'Filename to which the job submission script is written.',
    })
    .input('metadata.options.scheduler_stdout', {
      validType: z.string(),
      default: '_scheduler-stdout.txt',
      help: 'Filename to which the content of stdout of the scheduler is written.',
    })
    .input('metadata.options.scheduler_stderr', {
      validType: z.string(),
      default: '_scheduler-stderr.txt',
      help: 'Filename to which the content of stderr of the scheduler is written.',
    })
    .input('metadata.options.resources', {
      validType: z.record(z.string(), z.unknown()),
      required: true,
      help: 'Set the dictionary of resources to be used by the scheduler plugin, like the number of nodes, cpus etc. This dictionary is scheduler-plugin dependent. Look at the documentation of the scheduler for more details.',
    })
    .input('metadata.options.max_wallclock_seconds', {
      validType: z.number().int(),
      required: false,
      help: 'Set the wallclock in seconds asked to the scheduler',
    })
    .input('metadata.options.custom_scheduler_commands', {
      validType: z.string(),
      default: '',
      help: 'Set a (possibly multiline) string with the commands that the user wants to manually set for the scheduler. The difference of this option with respect to the `prepend_text` is the position in the scheduler submission file where such text is inserted: with this option, the string is inserted before any non-scheduler command',
    })
    .input('metadata.options.queue_name', {
      validType: z.string(),
      required: false,
      help: 'Set the name of the queue on the remote computer',
    })
    .input('metadata.options.rerunnable', {
      validType: z.boolean(),
      required: false,
      help: 'Determines if the calculation can be requeued / rerun.',
    })
    .input('metadata.options.account', {
      validType: z.string(),
      required: false,
      help: 'Set the account to use in for the queue on the remote computer',
    })
    .input('metadata.options.qos', {
      validType: z.string(),
      required: false,
      help: 'Set the quality of service to use in for the queue on the remote computer',
    })
    .input('metadata.options.withmpi', {
      validType: z.boolean(),
      required: false,
      help: 'Set the calculation to use mpi',
    })
    .input('metadata.options.mpirun_extra_params', {
      validType: z.array(z.string()),
      default: (): string[] => [],
      help: 'Set the extra params to pass to the mpirun (or equivalent) command after the one provided in computer.mpirun_command. Example: mpirun -np 8 extra_params[0] extra_params[1] ... exec.x',
    })
    .input('metadata.options.import_sys_environment', {
      validType: z.boolean(),
      default: true,
      help: 'If set to true, the submission script will load the system environment variables',
    })
    .input('metadata.options.environment_variables', {
      validType: stringRecord,
      default: (): Record<string, string> => ({}),
      help: 'Set a dictionary of custom environment variables for this calculation',
    })
    .input('metadata.options.environment_variables_double_quotes', {
      validType: z.boolean(),
      default: false,
      help: 'If set to True, use double quotes instead of single quotes to escape the environment variables specified in ``environment_variables``.',
    })
    .input('metadata.options.priority', {
      validType: z.string(),
      required: false,
      help: 'Set the priority of the job to be queued',
    })
    .input('metadata.options.max_memory_kb', {
      validType: z.number().int(),
      required: false,
      help: 'Set the maximum memory (in KiloBytes) to be asked to the scheduler',
    })
    .input('metadata.options.prepend_text', {
      validType: z.string(),
      default: '',
      help: 'Set the calculation-specific prepend text, which is going to be prepended in the scheduler-job script, just before the code execution',
    })
    .input('metadata.options.append_text', {
      validType: z.string(),
      default: '',
      help: 'Set the calculation-specific append text, which is going to be appended in the scheduler-job script, just after the code execution',
    })
    .input('metadata.options.parser_name', {
      validType: z.string(),
      required: false,
      help: 'Set a string for the output parser. Can be None if no output plugin is available or needed',
    })
    .input('metadata.options.additional_retrieve_list', {
      validType: z.array(z.string()),
      required: false,
      validator: (value) => validateAdditionalRetrieveList(value),
      help: 'List of relative file paths that should be retrieved in addition to what the plugin specifies.',
    })
    .inputNamespace('metadata.options.unstash', {
      required: false,
      populateDefaults: false,
      validator: (value) => (isPlainObject(value) ? validateUnstashOptions(value) : undefined),
      help: 'Optional directives to unstash files after upload.',
    })
    .input('metadata.options.unstash.source_list', {
      validType: z.array(z.string()),
      required: false,
      help: 'Sequence of relative filepaths representing files in the remote directory that should be unstashed.',
    })
    .input('metadata.options.unstash.unstash_target_mode', {
      validType: z.string(),
      required: false,
      help: 'Mode with which to perform the unstashing, should be value of `aiida.common.datastructures.UnstashTargetMode`.',
    })
    .inputNamespace('metadata.options.stash', {
      required: false,
      populateDefaults: false,
      validator: (value) => (isPlainObject(value) ? validateStashOptions(value) : undefined),
      help: 'Optional directives to stash files after the calculation job has completed.',
    })
    .input('metadata.options.stash.target_base', {
      validType: z.string(),
      required: false,
      help: 'The base location to where the files should be stashd. For example, for the `copy` stash mode, this should be an absolute filepath on the remote computer.',
    })
    .input('metadata.options.stash.source_list', {
      validType: z.array(z.string()),
      required: false,
      help: 'Sequence of relative filepaths representing files in the remote directory that should be stashed.',
    })
    .input('metadata.options.stash.stash_mode', {
      validType: z.string(),
      required: false,
      help: 'Mode with which to perform the stashing, should be value of `aiida.common.datastructures.StashMode`.',
    })
    .input('metadata.options.stash.dereference', {
      validType: z.boolean(),
      required: false,
      help: 'Whether to follow symlinks while stashing or not, specific to StashMode.COMPRESS_* enums',
    })
    .input('metadata.options.stash.fail_on_missing', {
      validType: z.boolean(),
      required: false,
      help: 'If True, all files must be specified explicitly (no patterns) and all must exist, otherwise it results in calcjob failure. If False (default), patterns are allowed and missing files are skipped. Only affects copy and compress modes.',
    })
    .output('remote_folder', {
      validType: nodeType(RemoteData, { serialize: false }),
      help: 'Input files necessary to run the process will be stored in this folder node.',
    })
    .output('remote_stash', {
      validType: nodeType(RemoteStashData, { serialize: false }),
      required: false,
      help: 'Contents of the `stash.source_list` option are stored in this remote folder after job completion.',
    })
    .output('retrieved', {
      validType: nodeType(FolderData, { serialize: false }),
      help: 'Files that are retrieved by the daemon will be stored in this node. By default the stdout and stderr of the scheduler will be added, but one can add more by specifying them in `CalcInfo.retrieve_list`.',
    })
    .exitCode(100, 'ERROR_NO_RETRIEVED_FOLDER', 'The process did not have the required `retrieved` output.', {
      invalidatesCache: true,
    })
    .exitCode(110, 'ERROR_SCHEDULER_OUT_OF_MEMORY', 'The job ran out of memory.', { invalidatesCache: true })
    .exitCode(120, 'ERROR_SCHEDULER_OUT_OF_WALLTIME', 'The job ran out of walltime.', {
      invalidatesCache: true,
    })
    .exitCode(131, 'ERROR_SCHEDULER_INVALID_ACCOUNT', 'The specified account is invalid.', {
      invalidatesCache: true,
    })
    .exitCode(140, 'ERROR_SCHEDULER_NODE_FAILURE', 'The node running the job failed.', {
      invalidatesCache: true,
    })
    .exitCode(150, 'STOPPED_BY_MONITOR', '{message}', { invalidatesCache: true })
    .exitCode(160, 'ERROR_STASHING_FAILED', '{message}', { invalidatesCache: true });
  return untyped as ProcessSpec<CalcJobSpecTypes<S>>;
}

type Optional<T> = PortDesc<T, T, false, false>;
type Defaulted<T> = PortDesc<T, T, false, true>;
type Required<T> = PortDesc<T, T, true, false>;
type Namespace<P, R extends boolean = false> = NamespaceDesc<P, never, never, R>;

/** The ports of `metadata.options` as the type system sees them. */
export interface CalcJobOptionPorts {
  readonly input_filename: Optional<string>;
  readonly output_filename: Optional<string>;
  readonly submit_script_filename: Defaulted<string>;
  readonly scheduler_stdout: Defaulted<string>;
  readonly scheduler_stderr: Defaulted<string>;
  readonly resources: Required<Record<string, unknown>>;
  readonly max_wallclock_seconds: Optional<number>;
  readonly custom_scheduler_commands: Defaulted<string>;
  readonly queue_name: Optional<string>;
  readonly rerunnable: Optional<boolean>;
  readonly account: Optional<string>;
  readonly qos: Optional<string>;
  readonly withmpi: Optional<boolean>;
  readonly mpirun_extra_params: Defaulted<string[]>;
  readonly import_sys_environment: Defaulted<boolean>;
  readonly environment_variables: Defaulted<Record<string, string | number | boolean>>;
  readonly environment_variables_double_quotes: Defaulted<boolean>;
  readonly priority: Optional<string>;
  readonly max_memory_kb: Optional<number>;
  readonly prepend_text: Defaulted<string>;
  readonly append_text: Defaulted<string>;
  readonly parser_name: Optional<string>;
  readonly additional_retrieve_list: Optional<string[]>;
  readonly unstash: Namespace<{
    readonly source_list: Optional<string[]>;
    readonly unstash_target_mode: Optional<string>;
  }>;
  readonly stash: Namespace<{
    readonly target_base: Optional<string>;
    readonly source_list: Optional<string[]>;
    readonly stash_mode: Optional<string>;
    readonly dereference: Optional<boolean>;
    readonly fail_on_missing: Optional<boolean>;
  }>;
}

type MetadataPorts<S extends SpecTypes> = S['inputs']['ports'] extends {
  readonly metadata: NamespaceDesc<infer P>;
}
  ? P
  : object;

type Merge<A, B> = {
  readonly [K in keyof A | keyof B]: K extends keyof B ? B[K] : K extends keyof A ? A[K] : never;
};

/** `S` with what `defineCalcJob` adds, spelled out (see {@link defineCalcJob}). */
export type CalcJobSpecTypes<S extends SpecTypes> = {
  readonly inputs: NamespaceDesc<
    Merge<
      S['inputs']['ports'],
      {
        readonly code: PortDesc<AbstractCode, AbstractCode, false, false>;
        readonly monitors: NamespaceDesc<object, Dict | Readonly<Record<string, unknown>>, Dict, false>;
        readonly remote_folder: PortDesc<RemoteData, RemoteData, false, false>;
        readonly metadata: Namespace<
          Merge<
            MetadataPorts<S>,
            {
              readonly dry_run: Defaulted<boolean>;
              readonly computer: Optional<Computer>;
              readonly options: Namespace<CalcJobOptionPorts>;
            }
          >
        >;
      }
    >,
    S['inputs']['dynIn'],
    S['inputs']['dynOut'],
    S['inputs']['required']
  >;
  readonly outputs: NamespaceDesc<
    Merge<
      S['outputs']['ports'],
      {
        readonly remote_folder: PortDesc<RemoteData, RemoteData, true, false>;
        readonly remote_stash: PortDesc<RemoteStashData, RemoteStashData, false, false>;
        readonly retrieved: PortDesc<FolderData, FolderData, true, false>;
      }
    >,
    S['outputs']['dynIn'],
    S['outputs']['dynOut'],
    S['outputs']['required']
  >;
  readonly context: S['context'];
  readonly exitCodes:
    | S['exitCodes']
    | 'ERROR_NO_RETRIEVED_FOLDER'
    | 'ERROR_SCHEDULER_OUT_OF_MEMORY'
    | 'ERROR_SCHEDULER_OUT_OF_WALLTIME'
    | 'ERROR_SCHEDULER_INVALID_ACCOUNT'
    | 'ERROR_SCHEDULER_NODE_FAILURE'
    | 'STOPPED_BY_MONITOR'
    | 'ERROR_STASHING_FAILED';
};

/** The parsed `metadata.options` of a calculation job (aiida's `CalcJob.options`). */
export interface CalcJobOptions {
  readonly input_filename?: string;
  readonly output_filename?: string;
  readonly submit_script_filename: string;
  readonly scheduler_stdout: string;
  readonly scheduler_stderr: string;
  readonly resources: Readonly<Record<string, unknown>>;
  readonly max_wallclock_seconds?: number;
  readonly custom_scheduler_commands: string;
  readonly queue_name?: string;
  readonly rerunnable?: boolean;
  readonly account?: string;
  readonly qos?: string;
  readonly withmpi?: boolean;
  readonly mpirun_extra_params: readonly string[];
  readonly import_sys_environment: boolean;
  readonly environment_variables: Readonly<Record<string, string | number | boolean>>;
  readonly environment_variables_double_quotes: boolean;
  readonly priority?: string;
  readonly max_memory_kb?: number;
  readonly prepend_text: string;
  readonly append_text: string;
  readonly parser_name?: string;
  readonly additional_retrieve_list?: readonly string[];
  readonly stash?: {
    readonly target_base: string;
    readonly source_list: readonly string[];
    readonly stash_mode: string;
    readonly dereference?: boolean;
    readonly fail_on_missing?: boolean;
  };
  readonly unstash?: { readonly source_list: readonly string[]; readonly unstash_target_mode: string };
  readonly [option: string]: unknown;
}
