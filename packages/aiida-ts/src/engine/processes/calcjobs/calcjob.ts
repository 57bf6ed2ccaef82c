import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  CancellableAction,
  ExitCode,
  Running,
  Wait,
  type Checkpoint,
  type ProcessStateObject,
  type HookResult,
  type JsonValue,
  type StateClasses,
} from 'plumpy-ts';
import {
  InputValidationError,
  InvalidOperationError,
  NotExistentError,
  PluginInternalError,
  ValidationError,
} from '../../../errors.js';
import { Computer, type AuthInfo } from '../../../orm/entities/computer.js';
import { User } from '../../../orm/entities/user.js';
import { AbstractCode } from '../../../orm/nodes/data/code/abstract.js';
import { loadCode } from '../../../orm/nodes/data/code/load-code.js';
import { FolderData } from '../../../orm/nodes/data/files.js';
import type { RemoteData } from '../../../orm/nodes/data/remote.js';
import type { Node } from '../../../orm/nodes/node.js';
import { CalcJobAttribute, CalcJobNode, type CalcJobState } from '../../../orm/nodes/process/calcjob.js';
import { ProcessAttribute, type ProcessNode } from '../../../orm/nodes/process/process.js';
import { isSchedulerExitCode } from '../../../schedulers/exit-codes.js';
import { formatMpirunCommand, type JobTemplateInput } from '../../../schedulers/job-template.js';
import type { Scheduler } from '../../../schedulers/scheduler.js';
import { LocalTransport } from '../../../transports/local-transport.js';
import { EntryPointGroup, entryPointOf, formatEntryPoint } from '../../../plugins/entry-points.js';
import type { Parser } from '../../../parsers/parser.js';
import { ParserFactory } from '../../../parsers/registry.js';
import { getLogger } from '../../logging.js';
import { Process, defaultProcessType } from '../process.js';
import type { LinkOutputsOptions } from '../provenance.js';
import { AFTER_STEP } from '../states.js';
import { calcInfoToAiidaJson, parseCalcInfo, type CalcInfo, type CalcInfoInput } from './calc-info.js';
import { defineCalcJob, type CalcJobOptions } from './calcjob-spec.js';
import { retrieveCalculation, uploadCalculation } from './execmanager.js';
import { Folder, SandboxFolder } from './folder.js';
import { CalcJobMonitors, type MonitorState } from './monitors.js';
import { calcJobServices } from './runner-services.js';
import type { NodeWriterSetOptions } from '../node-writer.js';
import type { CalcJobTaskHost } from './tasks.js';
import { taskKillJob } from './tasks.js';
import { CalcJobCommand, CalcJobWaiting, waitingData, waitingMessage } from './waiting.js';

const CalcJobBase = Process.define((spec) => defineCalcJob(spec));

let calcJobStates: StateClasses | undefined;

/** What a dry run leaves behind (aiida's `node.dry_run_info`): the folder with the job's files and the script name. */
export interface DryRunInfo {
  readonly folder: string;
  readonly script_filename: string;
}

const dryRunInfos = new WeakMap<ProcessNode, DryRunInfo>();

/** Where the dry run of the job of `node` wrote its files, if it was one. */
export function getDryRunInfo(node: ProcessNode): DryRunInfo | undefined {
  return dryRunInfos.get(node);
}

/** The codes among a job's inputs (at any depth). */
function codesIn(values: unknown, into: AbstractCode[] = []): AbstractCode[] {
  if (values instanceof AbstractCode) into.push(values);
  else if (
    values !== null &&
    typeof values === 'object' &&
    !(values instanceof Computer) &&
    !('pk' in values)
  )
    for (const value of Object.values(values)) codesIn(value, into);
  return into;
}

/** `folder/submit_test/<yyyymmdd>-<nnnnn>` (aiida's `SubmitTestFolder`): a new folder for a dry run. */
async function submitTestFolder(): Promise<Folder> {
  const base = path.resolve('submit_test');
  await mkdir(base, { recursive: true });
  const now = new Date();
  const day = `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
  const taken = new Set(await readdir(base));
  for (let counter = 1; ; counter += 1) {
    const name = `${day}-${String(counter).padStart(5, '0')}`;
    if (taken.has(name)) continue;
    try {
      await mkdir(path.join(base, name));
      return new Folder(path.join(base, name));
    } catch {
      // Taken meanwhile by another dry run: try the next number.
    }
  }
}

/**
 * A calculation job (aiida's `CalcJob`): runs a code on a computer through its scheduler and records the inputs, the
 * files and the parsed outputs. A plugin defines its inputs and outputs like a work chain's
 * (`class Add extends CalcJob.define(spec => spec.input('x', …))`) and writes `prepareForSubmission(folder)`, which
 * writes the input files into `folder` and returns a `CalcInfo`: the codes to run, the files to copy and to retrieve.
 *
 * The engine then waits in the transport tasks upload → submit → update → (stash) → retrieve, and parses the retrieved
 * files with the parser of `metadata.options.parser_name`. Each step is checkpointed, so any runner can continue the
 * job; the job is submitted exactly once, a failed task is retried with exponential backoff and finally pauses the job,
 * and a kill cancels the job with the scheduler. `metadata.dry_run` only writes the files into a local folder;
 * a `remote_folder` input imports a job that ran without aiida.
 */
export class CalcJob extends CalcJobBase implements CalcJobTaskHost {
  static override get stateClasses(): StateClasses {
    calcJobStates ??= { ...Process.stateClasses, waiting: CalcJobWaiting };
    return calcJobStates;
  }

  static override get nodeClass(): typeof CalcJobNode {
    return CalcJobNode;
  }

  /** `aiida.calculations:<entry point>` for a registered plugin, `<module>.<ClassName>` otherwise. */
  static override buildProcessType(): string {
    const entry = entryPointOf(this);
    if (entry !== undefined && entry.group === EntryPointGroup.CALCULATIONS)
      return formatEntryPoint(entry.group, entry.name);
    return defaultProcessType(this);
  }

  /** The base class cannot be run (aiida's `InvalidOperation`). */
  static override isAbstract(): boolean {
    return this === CalcJob;
  }

  /** Bump when the plugin's behaviour changes, so that older jobs are not used as cache for newer ones. */
  static CACHE_VERSION: number | null = null;

  /** The `metadata.options` ports of this class's spec (aiida's `spec_options`). */
  static get specOptions(): ReturnType<ReturnType<typeof CalcJob.spec>['inputs']['getPort']> {
    return this.spec().inputs.getPort('metadata.options');
  }

  /**
   * Sets the computer and the options on the new node (aiida's `_setup_metadata` and `_setup_inputs`): the computer is
   * `metadata.computer` or the code's; each option becomes an attribute; the cache versions of the job and parser.
   */
  static override async setupNode(
    node: ProcessNode,
    inputs: Readonly<Record<string, unknown>> = {},
  ): Promise<void> {
    await super.setupNode(node);
    const metadata = (inputs['metadata'] ?? {}) as { computer?: Computer; options?: Record<string, unknown> };
    const code = inputs['code'];
    let computer: Computer | null = metadata.computer ?? null;
    if (computer === null && code instanceof AbstractCode) computer = await code.getComputer();
    if (computer !== null) {
      if (!computer.isStored) throw new InputValidationError(`the Computer<${computer.label}> is not stored`);
      node.computer = computer;
    }
    for (const [name, value] of Object.entries(metadata.options ?? {}))
      if (value !== undefined) node.base.attributes.set(name, value);
    const versions: Record<string, number> = {};
    if (this.CACHE_VERSION !== null) versions['calc_job'] = this.CACHE_VERSION;
    const parserName = metadata.options?.['parser_name'];
    if (typeof parserName === 'string') {
      try {
        const parser = await ParserFactory(parserName);
        if (parser.CACHE_VERSION !== null) versions['parser'] = parser.CACHE_VERSION;
      } catch {
        // An unknown parser fails the job when it runs, with a message naming it.
      }
    }
    if (Object.keys(versions).length > 0) node.base.attributes.set('cache_version', versions);
  }

  #continued = false;
  /** Whether this job gave back its slots and has not asked for any since (see `releaseSlots`). */
  #slotsReleased = false;
  #monitors: CalcJobMonitors | undefined;
  #authInfo: AuthInfo | undefined;

  /** The job's node. */
  override get node(): CalcJobNode {
    return super.node as CalcJobNode;
  }

  /** True when the process was loaded from a checkpoint. */
  get continued(): boolean {
    return this.#continued;
  }

  /** The options of `metadata.options` as given (with defaults filled in). */
  get options(): CalcJobOptions {
    const metadata = (this.inputs as { metadata?: { options?: CalcJobOptions } }).metadata;
    return metadata?.options ?? ({} as CalcJobOptions);
  }

  /**
   * Writes the input files of the job into `folder` and says what to run (aiida's `prepare_for_submission`).
   * Every plugin implements it.
   */
  prepareForSubmission(folder: Folder): CalcInfoInput | Promise<CalcInfoInput> {
    void folder;
    throw new InvalidOperationError(`${this.constructor.name} does not implement prepareForSubmission`);
  }

  // ---- run ---------------------------------------------------------------------------------------------------

  override async run(): Promise<unknown> {
    const metadata = (this.inputs as { metadata?: { dry_run?: boolean } }).metadata;
    if (metadata?.dry_run === true) {
      await this.#performDryRun();
      return undefined;
    }
    if ((this.inputs as { remote_folder?: RemoteData }).remote_folder !== undefined)
      return this.#performImport();
    await this.#checkBeforeUpload();
    return new Wait(null, { msg: 'Waiting to upload', data: waitingData(CalcJobCommand.UPLOAD) });
  }

  /**
   * What aiida checks when a job is made, checked before anything is uploaded so that the job excepts with a message
   * naming the cause: a computer, the code on it, the resources valid for its scheduler, a known parser.
   */
  async #checkBeforeUpload(): Promise<void> {
    const computer = await this.computer();
    const metadataComputer = (this.inputs as { metadata?: { computer?: Computer } }).metadata?.computer;
    const code = (this.inputs as { code?: AbstractCode }).code;
    if (code !== undefined) {
      const codeComputer = await code.getComputer();
      if (
        codeComputer !== null &&
        metadataComputer !== undefined &&
        codeComputer.uuid !== metadataComputer.uuid
      ) {
        throw new InputValidationError(
          `Computer<${metadataComputer.label}> explicitly defined in \`metadata.computer\` is different from ` +
            `Computer<${codeComputer.label}> which is the computer of Code<${code.pk}> defined as the \`code\` input.`,
        );
      }
      if (!code.canRunOnComputer(computer))
        throw new InputValidationError(
          `The selected code ${String(code.pk)} for calculation ${String(this.pk)} cannot run on computer ${computer.label}`,
        );
    }
    const scheduler = await computer.getScheduler();
    const resources = this.options.resources;
    try {
      scheduler.validateResources(
        scheduler.preprocessResources(resources ?? {}, computer.getDefaultMpiprocsPerMachine()),
      );
    } catch (error) {
      throw new InputValidationError(
        `input \`metadata.options.resources\` is not valid for the \`${scheduler.entryPoint}\` scheduler: ${(error as Error).message}`,
        [],
        { cause: error },
      );
    }
    const parserName = this.options.parser_name;
    if (parserName !== undefined) {
      try {
        await ParserFactory(parserName);
      } catch (error) {
        throw new InputValidationError(`invalid parser specified: ${(error as Error).message}`, [], {
          cause: error,
        });
      }
    }
    const authInfo = await this.authInfo();
    if (!authInfo.enabled)
      throw new InvalidOperationError(`computer ${computer.label} is disabled for ${authInfo.user.email}`);
  }

  async #performDryRun(): Promise<void> {
    const folder = await submitTestFolder();
    const calcInfo = await this.presubmit(folder);
    const transport = new LocalTransport();
    await transport.open();
    try {
      await uploadCalculation(this.node, {
        computer: await this.computer(),
        transport,
        calcInfo,
        folder,
        inputs: this.inputs,
        dryRun: true,
      });
    } finally {
      await transport.close();
    }
    dryRunInfos.set(this.node, {
      folder: folder.abspath,
      script_filename: this.options.submit_script_filename,
    });
  }

  async #performImport(): Promise<ExitCode> {
    const remote = (this.inputs as { remote_folder: RemoteData }).remote_folder;
    const transport = new LocalTransport();
    await transport.open();
    await using folder = new SandboxFolder();
    await using temporary = new SandboxFolder('aiida-ts-retrieved-temporary-');
    try {
      await this.presubmit(folder);
      this.setNodeAttributes({ [CalcJobAttribute.REMOTE_WORKDIR]: remote.getRemotePath() });
      await this.flushNode();
      const retrieved = await retrieveCalculation(
        this.node,
        transport,
        remote.getRemotePath(),
        temporary.abspath,
      );
      if (retrieved !== null) {
        this.outMany({ retrieved });
        await this.linkEmittedOutputs();
      }
    } finally {
      await transport.close();
    }
    this.setJobState('parsing');
    this.setNodeAttributes({ [CalcJobAttribute.IMPORTED]: true });
    return this.parse(temporary.abspath, null);
  }

  // ---- presubmit ---------------------------------------------------------------------------------------------

  /**
   * Prepares the working directory in `folder` (aiida's `presubmit`): checks the codes against the computer, calls
   * `prepareForSubmission`, records the retrieve lists on the node, builds the job template and writes the submit
   * script (and `.aiida/job_tmpl.json`, `.aiida/calcinfo.json`). Resolves to the checked `CalcInfo`.
   */
  async presubmit(folder: Folder): Promise<CalcInfo> {
    const node = this.node;
    const computer = await this.computer();
    const codes = codesIn(this.inputs);
    for (const code of codes) {
      if (!code.canRunOnComputer(computer))
        throw new InputValidationError(
          `The selected code ${String(code.pk)} for calculation ${String(node.pk)} cannot run on computer ${computer.label}`,
        );
      code.validateWorkingDirectory(await folder.listFiles());
    }
    const calcInfo = parseCalcInfo(await this.prepareForSubmission(folder));
    for (const code of codes) code.validateWorkingDirectory(await folder.listFiles());
    const info: CalcInfo = { ...calcInfo, uuid: node.uuid };
    const options = this.options;

    const schedOutputPath = options.scheduler_stdout;
    const joinFiles = options.scheduler_stderr === options.scheduler_stdout;
    const retrieveList = [...info.retrieveList];
    if (!retrieveList.includes(schedOutputPath)) retrieveList.push(schedOutputPath);
    if (!joinFiles && !retrieveList.includes(options.scheduler_stderr))
      retrieveList.push(options.scheduler_stderr);
    retrieveList.push(...(options.additional_retrieve_list ?? []));
    // with the upload's state change (the upload is repeated, presubmit included, until that is written)
    this.setNodeAttributes(
      {
        [CalcJobAttribute.RETRIEVE_LIST]: retrieveList,
        [CalcJobAttribute.RETRIEVE_TEMPORARY_LIST]: info.retrieveTemporaryList,
      },
      { withNextWrite: true },
    );

    if ((this.inputs as { remote_folder?: RemoteData }).remote_folder !== undefined) return info;

    const scheduler = await computer.getScheduler();
    const template = await this.#jobTemplate(computer, scheduler, codes, info, joinFiles);
    await folder.writeFile(options.submit_script_filename, scheduler.getSubmitScript(template));
    const aiidaFolder = await folder.getSubfolder('.aiida', { create: true });
    await aiidaFolder.writeFile('job_tmpl.json', JSON.stringify(jobTemplateToAiidaJson(template)));
    await aiidaFolder.writeFile('calcinfo.json', JSON.stringify(calcInfoToAiidaJson(info)));

    for (const [computerUuid] of [...info.remoteCopyList, ...info.remoteSymlinkList]) {
      try {
        await Computer.get(
          { uuid: computerUuid },
          node.storage === undefined ? {} : { storage: node.storage },
        );
      } catch (error) {
        if (!(error instanceof NotExistentError)) throw error;
        throw new PluginInternalError(
          `[presubmission of calc ${String(node.pk)}] The remote copy requires a computer with UUID=${computerUuid} but no such computer was found in the database`,
          { cause: error },
        );
      }
    }
    return info;
  }

  async #jobTemplate(
    computer: Computer,
    scheduler: Scheduler,
    codes: readonly AbstractCode[],
    info: CalcInfo,
    joinFiles: boolean,
  ): Promise<JobTemplateInput> {
    const options = this.options;
    const node = this.node;
    const texts = (parts: readonly (string | null | undefined)[]): string =>
      parts.filter((part): part is string => typeof part === 'string' && part !== '').join('\n\n');
    const resources = scheduler.preprocessResources(
      options.resources,
      computer.getDefaultMpiprocsPerMachine(),
    );
    const jobResource = scheduler.createJobResource(resources);
    const mpiArgs = formatMpirunCommand(computer.getMpirunCommand(), jobResource);
    const rawOptions = (this.rawInputs?.['metadata'] as { options?: { withmpi?: unknown } } | undefined)
      ?.options;
    const withMpiOption = typeof rawOptions?.withmpi === 'boolean' ? rawOptions.withmpi : null;
    const codesInfo = [];
    for (const codeInfo of info.codesInfo) {
      const code =
        codes.find((candidate) => candidate.uuid === codeInfo.codeUuid) ??
        (await loadCode(codeInfo.codeUuid));
      const defined = [withMpiOption, codeInfo.withmpi ?? null, code.withMpi].filter(
        (value): value is boolean => value !== null,
      );
      if (new Set(defined).size > 1) {
        let error = `Inconsistent requirements as to whether code \`${code.fullLabel}\` should be run with or without MPI.`;
        if (withMpiOption !== null)
          error += `\nThe \`metadata.options.withmpi\` input was set to \`${String(withMpiOption)}\`.`;
        if (codeInfo.withmpi !== null && codeInfo.withmpi !== undefined)
          error += `\nThe plugin require \`${String(codeInfo.withmpi)}\`.`;
        if (code.withMpi !== null)
          error += `\nThe code \`${code.fullLabel}\` required \`${String(code.withMpi)}\`.`;
        throw new ValidationError(error);
      }
      const withMpi = defined[0] ?? false;
      codesInfo.push({
        prependCmdlineParams: withMpi
          ? code.getPrependCmdlineParams(mpiArgs, options.mpirun_extra_params)
          : code.getPrependCmdlineParams(),
        cmdlineParams: code.getExecutableCmdlineParams(codeInfo.cmdlineParams),
        useDoubleQuotes: [computer.getUseDoubleQuotes(), code.useDoubleQuotes] as [boolean, boolean],
        wrapCmdlineParams: code.wrapCmdlineParams,
        stdinName: codeInfo.stdinName ?? null,
        stdoutName: codeInfo.stdoutName ?? null,
        stderrName: codeInfo.stderrName ?? null,
        joinFiles: codeInfo.joinFiles ?? false,
      });
    }
    const maxMemory = options.max_memory_kb ?? computer.getDefaultMemoryPerMachine();
    return {
      submitAsHold: false,
      rerunnable: options.rerunnable ?? false,
      jobName: `aiida-${String(node.pk)}`,
      schedOutputPath: options.scheduler_stdout,
      shebang: computer.getShebang(),
      ...(joinFiles
        ? { schedJoinFiles: true }
        : { schedErrorPath: options.scheduler_stderr, schedJoinFiles: false }),
      prependText: texts([
        computer.getPrependText(),
        ...codes.map((code) => code.prependText),
        info.prependText,
        options.prepend_text,
      ]),
      appendText: texts([
        options.append_text,
        info.appendText,
        ...codes.map((code) => code.appendText),
        computer.getAppendText(),
      ]),
      jobResource,
      codesInfo,
      codesRunMode: info.codesRunMode,
      ...(options.custom_scheduler_commands === ''
        ? {}
        : { customSchedulerCommands: options.custom_scheduler_commands }),
      importSysEnvironment: options.import_sys_environment,
      jobEnvironment: { ...options.environment_variables },
      environmentVariablesDoubleQuotes: options.environment_variables_double_quotes,
      ...(options.queue_name === undefined ? {} : { queueName: options.queue_name }),
      ...(options.account === undefined ? {} : { account: options.account }),
      ...(options.qos === undefined ? {} : { qos: options.qos }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(maxMemory === null || maxMemory === undefined ? {} : { maxMemoryKb: maxMemory }),
      ...(options.max_wallclock_seconds === undefined
        ? {}
        : { maxWallclockSeconds: options.max_wallclock_seconds }),
    };
  }

  // ---- parse -------------------------------------------------------------------------------------------------

  /**
   * Parses the retrieved files (aiida's `CalcJob.parse`): the scheduler's output first (out of memory, walltime, node
   * failure), then the parser of `parser_name`. The parser's exit code wins over the scheduler's; an exit code given by
   * a monitor wins over both. Invalid parser outputs give `ERROR_INVALID_OUTPUT`.
   */
  async parse(retrievedTemporaryFolder: string | null, existingExitCode: ExitCode | null): Promise<ExitCode> {
    try {
      const retrieved =
        (this.outputs as { retrieved?: FolderData }).retrieved ?? (await Parser0.retrieved(this.node));
      if (retrieved === undefined) return this.getExitCode('ERROR_NO_RETRIEVED_FOLDER');
      const schedulerCode = await this.#parseSchedulerOutput(retrieved);
      if (schedulerCode !== undefined && schedulerCode.status > 0) {
        getLogger('aiida').warn(
          { pk: this.pk },
          `scheduler parser returned exit code<${schedulerCode.status}>: ${String(schedulerCode.message)}`,
        );
        this.setNodeAttributes({
          [ProcessAttribute.EXIT_STATUS]: schedulerCode.status,
          [ProcessAttribute.EXIT_MESSAGE]: schedulerCode.message,
        });
      }
      const retrievedCode = await this.#parseRetrievedOutput(retrieved, retrievedTemporaryFolder);
      if (retrievedCode !== undefined && retrievedCode.status > 0)
        getLogger('aiida').warn(
          { pk: this.pk },
          `output parser returned exit code<${retrievedCode.status}>: ${String(retrievedCode.message)}`,
        );
      if (existingExitCode !== null) return existingExitCode;
      return retrievedCode ?? schedulerCode ?? new ExitCode(0);
    } finally {
      if (retrievedTemporaryFolder !== null)
        await rm(retrievedTemporaryFolder, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async #parseSchedulerOutput(retrieved: FolderData): Promise<ExitCode | undefined> {
    const log = getLogger('aiida');
    const computer = await this.node.getComputer();
    if (computer === null) return undefined;
    const scheduler = await computer.getScheduler();
    let detailed: unknown = this.node.getDetailedJobInfo();
    if (detailed === null || detailed === undefined) {
      // Info, as aiida-core: schedulers without an accounting command (core.direct) never have it.
      log.info(
        { pk: this.pk },
        'could not parse scheduler output: the `detailed_job_info` attribute is missing',
      );
      detailed = undefined;
    } else if (
      (detailed as { retval?: number }).retval !== undefined &&
      (detailed as { retval: number }).retval !== 0
    ) {
      log.info(
        { pk: this.pk },
        'could not parse scheduler output: return value of `detailed_job_info` is non-zero',
      );
      detailed = undefined;
    }
    if (scheduler.parsesOutput === false) {
      // known before reading the scheduler's stdout and stderr back from the repository (core.direct: every job)
      log.info(
        { pk: this.pk },
        `\`${scheduler.constructor.name}\` does not implement scheduler output parsing`,
      );
      return undefined;
    }
    const read = async (option: string): Promise<string | null> => {
      const name = this.node.getOption(option);
      if (typeof name !== 'string') return null;
      if (!retrieved.repository.hasObject(name)) {
        log.warn({ pk: this.pk }, `could not parse scheduler output: the \`${name}\` file is missing`);
        return null;
      }
      return retrieved.repository.getObjectContent(name, 'utf8');
    };
    const stdout = await read('scheduler_stdout');
    const stderr = await read('scheduler_stderr');
    let code;
    try {
      code = scheduler.parseOutput(detailed, stdout ?? '', stderr ?? '');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'FEATURE_NOT_AVAILABLE') {
        log.info(
          { pk: this.pk },
          `\`${scheduler.constructor.name}\` does not implement scheduler output parsing`,
        );
        return undefined;
      }
      log.error(
        { pk: this.pk },
        `the \`parse_output\` method of the scheduler excepted: ${(error as Error).message}`,
      );
      return undefined;
    }
    if (code === undefined) return undefined;
    if (!isSchedulerExitCode(code))
      throw new PluginInternalError('`parseOutput` returned neither an exit code nor nothing');
    return this.getExitCode(code.label);
  }

  async #parseRetrievedOutput(
    retrieved: FolderData,
    temporary: string | null,
  ): Promise<ExitCode | undefined> {
    const name = this.node.getOption('parser_name');
    if (typeof name !== 'string') return undefined;
    const cls = await ParserFactory(name);
    const parser: Parser = new cls(this.node, this.constructor as typeof CalcJob);
    const hasTemporary = temporary !== null && (await stat(temporary).catch(() => undefined)) !== undefined;
    const result = await parser.parseRetrieved({
      retrieved,
      ...(hasTemporary ? { retrievedTemporaryFolder: temporary } : {}),
    });
    let code: ExitCode | undefined = result ?? undefined;
    for (const [label, output] of Object.entries(parser.outputs)) {
      try {
        this.outMany({ [label]: output });
      } catch (error) {
        getLogger('aiida').error(
          { pk: this.pk },
          `invalid value ${output.constructor.name} specified with label ${label}: ${(error as Error).message}`,
        );
        code = this.getExitCode('ERROR_INVALID_OUTPUT');
        break;
      }
    }
    if (code !== undefined && !(code instanceof ExitCode))
      throw new PluginInternalError(`\`${cls.name}.parse\` returned neither an \`ExitCode\` nor nothing`);
    return code;
  }

  /** Ends the job with `exitCode` (aiida's `terminate`: a monitor or the scheduler stopped it). */
  terminate(exitCode: ExitCode): ExitCode {
    return exitCode;
  }

  // ---- task host -----------------------------------------------------------------------------------------------

  /** The computer the job runs on. */
  async computer(): Promise<Computer> {
    const computer = await this.node.getComputer();
    if (computer === null)
      throw new InputValidationError('no computer has been specified in `metadata.computer` nor via `code`.');
    return computer;
  }

  /**
   * How the job's user reaches the computer: the AuthInfo of the node's owner (aiida's `CalcJobNode.get_authinfo`).
   * The stored node knows its owner's pk, so this is a read; the default user's get-or-create is a write transaction.
   */
  async authInfo(): Promise<AuthInfo> {
    if (this.#authInfo === undefined) {
      const computer = await this.computer();
      const node = this.node;
      let user: User;
      if (node.isStored) user = await node.getUser();
      else {
        const storage = node.storage;
        user = await User.getDefault(storage === undefined ? {} : { storage });
      }
      this.#authInfo = await computer.getAuthInfo(user);
    }
    return this.#authInfo;
  }

  getExitCode(label: string, params?: Readonly<Record<string, unknown>>): ExitCode {
    const codes = this.spec().exitCodes;
    if (!codes.has(label))
      throw new PluginInternalError(`${this.constructor.name} has no exit code ${label}`);
    const code = codes.get(label);
    return params === undefined ? code : code.format(params);
  }

  monitors(state?: MonitorState): CalcJobMonitors | undefined {
    const given = (this.inputs as { monitors?: Record<string, Node> }).monitors;
    if (given === undefined || Object.keys(given).length === 0) return undefined;
    if (this.#monitors === undefined) {
      const settings: Record<string, unknown> = {};
      for (const [key, node] of Object.entries(given))
        settings[key] = (node as unknown as { getDict(): unknown }).getDict();
      this.#monitors = new CalcJobMonitors(settings, state);
    }
    return this.#monitors;
  }

  setJobState(state: CalcJobState): void {
    this.provenance.writer.set({ [CalcJobAttribute.STATE]: state });
  }

  setNodeAttributes(values: Readonly<Record<string, unknown>>, options?: NodeWriterSetOptions): void {
    this.provenance.writer.set(values, options);
  }

  nodeAttribute(key: string): unknown {
    return this.provenance.writer.pending(key);
  }

  joinNodeWrite(write: () => Promise<unknown>): void {
    this.provenance.writer.join(write);
  }

  flushNode(): Promise<void> {
    return this.provenance.writer.flush();
  }

  async saveCheckpoint(): Promise<void> {
    const persister = this.persister;
    if (persister === undefined || this.pid === undefined) return;
    // A write of the node may be under way (the state entered before, written a moment later): its outputs are
    // stored once it ends, and only then can this checkpoint refer to them.
    await this.provenance.writer.settled();
    await persister.saveCheckpoint({ pid: this.pid, save: () => this.save() });
    await this.flushNode();
  }

  async releaseSlots(): Promise<void> {
    // Once given back, nothing is held until the job asks again: the release at the end of the process (which
    // covers a job killed or failed with its slots) is then a transaction with nothing to delete, and is skipped.
    if (this.pk === null || this.#slotsReleased) return;
    await calcJobServices(this.runner).coordinator.releaseSlots(this.pk);
    this.#slotsReleased = true;
  }

  releaseSlotsWithNextWrite(): void {
    if (this.pk === null || this.#slotsReleased) return;
    const pk = this.pk;
    // marked now: the end of the process then releases nothing more (a failed write leaves the slots to the sweep,
    // which reclaims those of ended holders)
    this.#slotsReleased = true;
    this.provenance.writer.join(() => calcJobServices(this.runner).coordinator.releaseSlots(pk));
  }

  markSlotsRequested(): void {
    this.#slotsReleased = false;
  }

  adoptOutput(label: string, node: Node): void {
    this.provenance.linkedOutputs.add(label);
    this.outMany({ [label]: node });
  }

  /**
   * The outputs of the last step (`parse`, or `terminate`; the process ends with it) are stored with the write of the
   * end, in its transaction: no checkpoint refers to them, and a crash before that write parses again from the
   * checkpoint of the step, as one between the two writes did.
   */
  override async [AFTER_STEP](): Promise<void> {
    const state = this.hasTerminated() ? undefined : this.stateObject;
    const last = state instanceof Running && (state.runFn === 'parse' || state.runFn === 'terminate');
    await this.provenance.linkOutputs(this.spec(), this.outputs, { withNextWrite: last });
  }

  async linkEmittedOutputs(options?: LinkOutputsOptions): Promise<void> {
    if (options === undefined) await this[AFTER_STEP]();
    else await this.provenance.linkOutputs(this.spec(), this.outputs, options);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------------

  /**
   * Two states are written with the write that follows them (a moment later) instead of one of their own, because a
   * reload from the checkpoint before them does the same again at no cost:
   *  - the first `running` state (`run`: checks the inputs and asks to wait for the upload);
   *  - the wait to submit: the submit step's first write (the intent, before the scheduler is asked, with the slot
   *    request) carries it and the `remote_folder` the upload made; a reload from the wait to upload uploads again
   *    into the same working directory (as after a crash during the upload) and has not asked the scheduler yet;
   *  - the wait to retrieve of a job without monitors: the retrieve's own write (which stores `retrieved` and enters
   *    `parsing`) carries it; a reload from the step before polls again and finds the job done, or finds the stash
   *    linked. With monitors, a reload would call them again: that state is written at once.
   */
  static override writesOnEntering(state: ProcessStateObject): boolean {
    if (state instanceof Running) return state.runFn !== 'run';
    if (state instanceof CalcJobWaiting && state.command === CalcJobCommand.SUBMIT) return false;
    if (
      state instanceof CalcJobWaiting &&
      state.command === CalcJobCommand.RETRIEVE &&
      state.info.monitors === undefined &&
      (state.info.monitor_result ?? null) === null
    )
      return false;
    return true;
  }

  protected override loadInstanceState(saved: Checkpoint): void {
    super.loadInstanceState(saved);
    this.#continued = true;
  }

  protected override saveInstanceState(out: Record<string, JsonValue>): void {
    super.saveInstanceState(out);
  }

  /** An explicit exit code is recorded as it is, also when required outputs are missing (aiida's `on_finish`). */
  protected override onFinish(result: unknown, successful: boolean): HookResult {
    const hook = super.onFinish(result, successful);
    if (!successful && result instanceof ExitCode) {
      this.provenance.writer.set({ [ProcessAttribute.EXIT_STATUS]: result.status });
      if (result.message === null) this.provenance.writer.remove(ProcessAttribute.EXIT_MESSAGE);
      else this.provenance.writer.set({ [ProcessAttribute.EXIT_MESSAGE]: result.message });
    }
    return hook;
  }

  /** The job's `state` attribute goes (aiida's `on_terminated`); a status of a step left behind is cleared; slots go. */
  protected override onTerminated(): HookResult {
    this.provenance.writer.remove(CalcJobAttribute.STATE);
    if (this.state !== 'killed') this.provenance.writer.remove(ProcessAttribute.PROCESS_STATUS);
    const released = this.releaseSlots().catch((error: unknown) =>
      getLogger('aiida').warn({ err: error, pk: this.pk }, 'could not release the job slots'),
    );
    const hook = super.onTerminated();
    return Promise.all([hook, released]);
  }

  /**
   * Kills the job (aiida's `CalcJob.kill`): unless `forceKill`, the job is cancelled with the scheduler first. While a
   * transport task runs the waiting state does that; a paused job is cancelled here before it is killed. The working
   * directory is kept.
   */
  override kill(
    message: string | null = null,
    options: { readonly forceKill?: boolean } = {},
  ): boolean | CancellableAction {
    const state = this.hasTerminated() ? undefined : this.stateObject;
    if (
      options.forceKill === true ||
      !(state instanceof CalcJobWaiting) ||
      state.busy ||
      this.node.getJobId() === null
    )
      return super.kill(message, options);
    const action = new CancellableAction<unknown>((ok) => {
      if (ok !== true) return false;
      return super.kill(message, options);
    }, this);
    taskKillJob(this, new AbortController().signal).then(
      () => action.run(true),
      (error: unknown) => {
        this.report(`While cancelling the scheduler job an error was raised: ${(error as Error).message}`);
        action.run(false);
      },
    );
    return action;
  }
}

/** Reads the `retrieved` output of a node (a job parsed after a reload). */
const Parser0 = {
  async retrieved(node: CalcJobNode): Promise<FolderData | undefined> {
    const found = await node.getRetrievedNode();
    return found instanceof FolderData ? found : undefined;
  },
};

function jobTemplateToAiidaJson(template: JobTemplateInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    out[snake] = value;
  }
  return out;
}

export { waitingMessage };
export type { CalcInfo };
