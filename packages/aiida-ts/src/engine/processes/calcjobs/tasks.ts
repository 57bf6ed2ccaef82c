import path from 'node:path';
import type { ExitCode } from 'plumpy-ts';
import { Interruption } from 'plumpy-ts';
import {
  FeatureNotAvailableError,
  PreSubmitError,
  StashingError,
  TransportTaskError,
} from '../../../errors.js';
import type { AuthInfo, Computer } from '../../../orm/entities/computer.js';
import { RemoteData } from '../../../orm/nodes/data/remote.js';
import type { RemoteStashData } from '../../../orm/nodes/data/remote-stash.js';
import type { Node } from '../../../orm/nodes/node.js';
import type { NodeWriterSetOptions } from '../node-writer.js';
import { CalcJobAttribute, CalcJobNode, CalcJobState } from '../../../orm/nodes/process/calcjob.js';
import { jobInfoToAiidaDict } from '../../../schedulers/job-info.js';
import { JobState } from '../../../schedulers/job-state.js';
import type { SchedulerExitCode } from '../../../schedulers/exit-codes.js';
import { SchedulerFeature, type Scheduler } from '../../../schedulers/scheduler.js';
import { escapeForBash } from '../../../transports/escaping.js';
import type { Transport } from '../../../transports/transport.js';
import { nowTimestamp } from '../../../storage/dialect.js';
import type { ProcessRunner } from '../process-runner.js';
import type { LinkOutputsOptions } from '../provenance.js';
import type { SetStatusOptions } from '../with-provenance.js';
import { backoffSettings, exponentialBackoffRetry } from './backoff.js';
import type { CalcInfo } from './calc-info.js';
import { UnstashTargetMode } from './calc-info.js';
import { computerPool } from './coordination.js';
import {
  killCalculation,
  remoteWorkBase,
  retrieveCalculation,
  retrieveFilesFromList,
  stashCalculation,
  submitCalculation,
  unstashCalculation,
  uploadCalculation,
} from './execmanager.js';
import { faultPoint } from './faults.js';
import { SandboxFolder, type Folder } from './folder.js';
import type { CalcJobMonitors, CalcJobMonitorResult } from './monitors.js';
import { calcJobServices } from './runner-services.js';

/** What the transport tasks need from the calculation job they run for (implemented by `CalcJob`). */
export interface CalcJobTaskHost {
  readonly node: CalcJobNode;
  readonly pk: number | null;
  readonly runner: ProcessRunner;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly outputs: Readonly<Record<string, unknown>>;
  /** True when the process was continued from a checkpoint (its earlier steps may have left traces). */
  readonly continued: boolean;
  setStatus(status: string | null, options?: SetStatusOptions): void;
  presubmit(folder: Folder): Promise<CalcInfo>;
  outMany(values: Readonly<Record<string, unknown>>): void;
  /** Records an output found already linked to the node (a step repeated after a crash). */
  adoptOutput(label: string, node: Node): void;
  /**
   * Links and stores the outputs emitted so far; `withNextWrite`: stored with the node's next write (the state change
   * the task ends with, whose checkpoint refers to them), in the same transaction.
   */
  linkEmittedOutputs(options?: LinkOutputsOptions): Promise<void>;
  /** The exit code with this label (its message formatted with `params`). */
  getExitCode(label: string, params?: Readonly<Record<string, unknown>>): ExitCode;
  /** The monitors of the job, with the state kept in the checkpoint. */
  monitors(
    state?: Readonly<Record<string, { callTimestamp: number | null; disabled: boolean }>>,
  ): CalcJobMonitors | undefined;
  /** Sets the `state` attribute of the node (aiida's `CalcJobState`). */
  setJobState(state: CalcJobState): void;
  /**
   * Sets updatable attributes of the node, written with its next write (with `withNextWrite`, that write is not
   * hastened: see `NodeWriter.set`).
   */
  setNodeAttributes(values: Readonly<Record<string, unknown>>, options?: NodeWriterSetOptions): void;
  /**
   * An attribute of the node as the writes asked of it so far leave it: a value set for the next write (the working
   * directory the upload made) counts before that write is done.
   */
  nodeAttribute(key: string): unknown;
  /** Runs this database write in the node's next write, in its transaction, without hastening that write. */
  joinNodeWrite(write: () => Promise<unknown>): void;
  /** Writes everything asked of the node so far. */
  flushNode(): Promise<void>;
  /** Writes the checkpoint of the current state now (a write-ahead record). */
  saveCheckpoint(): Promise<void>;
  /** Gives back the job slots of this job. */
  releaseSlots(): Promise<void>;
  /**
   * Gives back the job slots with the node's next write, in its transaction (a slot held a moment longer only makes
   * the cap stricter; a crash before that write continues from a step that releases them again).
   */
  releaseSlotsWithNextWrite(): void;
  /** Says that the job asks for slots (again): a later {@link releaseSlots} has something to give back. */
  markSlotsRequested(): void;
  computer(): Promise<Computer>;
  authInfo(): Promise<AuthInfo>;
}

/** A recovered job that ran but whose id could not be found: it is treated as finished. */
const UNKNOWN_JOB = Symbol('unknown job');

/**
 * Runs `fn` with exponential backoff (the profile's `transport.task_*` options); an interruption or an error `noRetry`
 * accepts is thrown at once; the last failure becomes a {@link TransportTaskError} naming the task.
 */
async function withBackoff<T>(
  what: string,
  signal: AbortSignal,
  fn: () => Promise<T>,
  noRetry: (error: unknown) => boolean = () => false,
): Promise<T> {
  const settings = backoffSettings();
  try {
    return await exponentialBackoffRetry(fn, {
      ...settings,
      signal,
      what,
      noRetry: (error) => error instanceof Interruption || noRetry(error),
    });
  } catch (error) {
    if (error instanceof Interruption || signal.aborted || noRetry(error)) throw error;
    throw new TransportTaskError(
      `${what} failed ${settings.maxAttempts} times consecutively: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Runs `fn` with a shared transport of the job's computer, released afterwards. */
async function withTransport<T>(
  host: CalcJobTaskHost,
  signal: AbortSignal,
  fn: (transport: Transport) => Promise<T>,
): Promise<T> {
  const authInfo = await host.authInfo();
  return calcJobServices(host.runner).transports.withTransport(authInfo, fn, { signal });
}

/** An output of the node already stored by an earlier run of the same step (checked after a reload only). */
async function linkedOutput(host: CalcJobTaskHost, label: string): Promise<Node | undefined> {
  const present = host.outputs[label];
  if (present !== undefined) return present as Node;
  if (!host.continued) return undefined;
  const links = await host.node.base.links.getOutgoing({ linkType: 'create', linkLabelFilter: label });
  const found = links.first()?.node;
  if (found !== undefined) host.adoptOutput(label, found);
  return found;
}

/**
 * The job's working directory. Read through the host, not from the node: the upload sets it with the node's next
 * write, and the steps that follow at once (unstash, submit) need it before that write is done.
 */
function workdirOf(host: CalcJobTaskHost): string {
  const workdir = host.nodeAttribute(CalcJobAttribute.REMOTE_WORKDIR);
  if (typeof workdir !== 'string')
    throw new TransportTaskError(`CalcJob<${String(host.node.pk)}> has no remote working directory`);
  return workdir;
}

/**
 * Uploads the job (aiida's `task_upload_job`): presubmit in a sandbox, then the working directory is created and
 * filled; emits `remote_folder`. A failure of `presubmit` (the plugin's `prepareForSubmission` included) is not
 * retried: the job excepts. Resolves to whether the plugin asked to skip the submission.
 */
export async function taskUploadJob(host: CalcJobTaskHost, signal: AbortSignal): Promise<boolean> {
  const node = host.node;
  if (
    node.getState() === CalcJobState.UNSTASHING ||
    (await linkedOutput(host, 'remote_folder')) !== undefined
  ) {
    // Uploaded before an interruption: only whether to submit is needed, which presubmit says without a transfer.
    await using folder = new SandboxFolder();
    const info = await host.presubmit(folder);
    host.setJobState(CalcJobState.UNSTASHING);
    return info.skipSubmit;
  }
  const computer = await host.computer();
  const skipSubmit = await withBackoff(
    'upload_calculation',
    signal,
    () =>
      withTransport(host, signal, async (transport) => {
        await using folder = new SandboxFolder();
        let calcInfo: CalcInfo;
        try {
          calcInfo = await host.presubmit(folder);
        } catch (error) {
          throw new PreSubmitError(`exception occurred in presubmit call: ${(error as Error).message}`, {
            cause: error,
          });
        }
        faultPoint('upload:presubmit');
        const remote = await uploadCalculation(node, {
          computer,
          transport,
          calcInfo,
          folder,
          inputs: host.inputs,
          signal,
          // Written with the upload's state change (or a moment later): a repeated upload finds the same directory.
          setRemoteWorkdir: (workdir) => {
            host.setNodeAttributes({ remote_workdir: workdir }, { withNextWrite: true });
            return Promise.resolve();
          },
          // The file hierarchy too: the objects are in the object store, and a repeated upload finds the node's
          // repository empty and stores them again (by content key: the same objects).
          persistRepository: (save) => host.joinNodeWrite(save),
        });
        if (remote !== null) host.outMany({ remote_folder: remote });
        return calcInfo.skipSubmit;
      }),
    (error) => error instanceof PreSubmitError,
  );
  // `remote_folder` is stored with the state change to the next step: a crash before that write repeats the upload,
  // which is safe (the same working directory, every file written again, the repository kept), and one after it finds
  // `remote_folder` linked.
  await host.linkEmittedOutputs({ withNextWrite: true });
  host.setJobState(CalcJobState.UNSTASHING);
  return skipSubmit;
}

/** The job of this calculation that an interrupted submission may have left with the scheduler. */
async function findSubmittedJob(
  host: CalcJobTaskHost,
  scheduler: Scheduler,
  transport: Transport,
): Promise<string | typeof UNKNOWN_JOB | undefined> {
  const node = host.node;
  const title = `aiida-${String(node.pk)}`;
  const jobs = await scheduler.getJobs(
    scheduler.getFeature(SchedulerFeature.CAN_QUERY_BY_USER) ? { user: '$USER' } : {},
  );
  const listed = jobs.find((job) => job.title === title);
  if (listed !== undefined) return listed.jobId;
  const workdir = workdirOf(host);
  if (scheduler.entryPoint === 'core.direct') {
    // The direct scheduler's jobs have no name: a job is the bash running the script in the working directory.
    const probe =
      `for p in /proc/[0-9]*; do [ "$(readlink "$p/cwd" 2>/dev/null)" = ${escapeForBash(workdir)} ] && ` +
      `[ "$(cat "$p/comm" 2>/dev/null)" = bash ] && echo "\${p#/proc/} $(cut -d' ' -f4 "$p/stat")"; done; true`;
    const { stdout } = await transport.execCommandWait(probe);
    const rows = stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((row) => row.length === 2 && /^\d+$/.test(row[0]!));
    const pids = new Set(rows.map((row) => row[0]!));
    const root = rows.find((row) => !pids.has(row[1]!));
    if (root !== undefined) return root[0];
  }
  const stdoutName = node.getOption('scheduler_stdout');
  if (typeof stdoutName === 'string' && (await transport.pathExists(path.posix.join(workdir, stdoutName))))
    return UNKNOWN_JOB;
  return undefined;
}

/**
 * Holds a slot of each pool of the job's computer (its cap and quotas), waiting for one when all are in use. A request
 * written already with the submit intent (see {@link taskSubmitJob}) keeps its place in the queue: asking again is
 * idempotent.
 */
async function acquireSlots(
  host: CalcJobTaskHost,
  pools: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  const pk = host.pk;
  if (pk === null) return;
  const computer = await host.computer();
  const { coordinator } = calcJobServices(host.runner);
  host.markSlotsRequested();
  let waited = false;
  await coordinator.acquireSlots(pk, pools, {
    signal,
    onWait: (usage) => {
      const full = usage.find((pool) => pool.limit !== null && pool.used >= pool.limit) ?? usage[0];
      if (full === undefined) return;
      waited = true;
      const where =
        full.pool === computerPool(computer.uuid) ? computer.label : full.pool.replace(/^quota:/, 'quota ');
      host.setStatus(
        `Waiting for a free slot on ${where}: ${full.used} of ${String(full.limit ?? '∞')} in use`,
      );
    },
  });
  if (waited) host.setStatus('Waiting for transport task: submit');
}

/**
 * Submits the job (aiida's `task_submit_job`), exactly once: the intent is recorded in the checkpoint before the
 * scheduler is asked, and a job continued after an interruption that may have reached the scheduler looks for its job
 * (named `aiida-<pk>`) before submitting. Holds a slot of the computer's cap first. Resolves to the job id, or to the
 * exit code of a submission the scheduler refused for good.
 */
export async function taskSubmitJob(
  host: CalcJobTaskHost,
  info: { submit_intent?: boolean | undefined },
  signal: AbortSignal,
): Promise<string | SchedulerExitCode | null> {
  const node = host.node;
  const existing = node.getJobId();
  if (node.getState() === CalcJobState.WITHSCHEDULER) return existing;
  if (existing !== null) {
    host.setJobState(CalcJobState.WITHSCHEDULER);
    return existing;
  }
  const computer = await host.computer();
  const pools =
    host.pk === null ? [] : await calcJobServices(host.runner).coordinator.poolsForComputer(computer.uuid);
  // Whether an earlier attempt (or a runner before a crash) may have reached the scheduler: then look before submitting.
  let mayHaveSubmitted = info.submit_intent === true;
  if (!mayHaveSubmitted && host.pk !== null) {
    // The intent and the slot request are written in one transaction: the request is granted in it when the pools
    // allow (every limit checked there, as a waiting request would be), so a job that does not wait costs no
    // transaction of its own for its slots. One that must wait has recorded an intent without submitting: after a
    // restart it looks for a job first and finds none, which is safe.
    const pk = host.pk;
    let granted = false;
    host.markSlotsRequested();
    host.joinNodeWrite(async () => {
      granted = (await calcJobServices(host.runner).coordinator.tryAcquireSlots(pk, pools)) !== null;
    });
    info.submit_intent = true;
    await host.saveCheckpoint();
    // (without a persister the checkpoint is not written: the node's write is then made here)
    await host.flushNode();
    if (!granted) await acquireSlots(host, pools, signal);
  } else await acquireSlots(host, pools, signal);
  const result = await withBackoff('submit_calculation', signal, () =>
    withTransport(host, signal, async (transport) => {
      const scheduler = await computer.getScheduler({ transport });
      if (mayHaveSubmitted) {
        const found = await findSubmittedJob(host, scheduler, transport);
        if (found === UNKNOWN_JOB) return null;
        if (found !== undefined) {
          host.setNodeAttributes({ job_id: found });
          return found;
        }
      }
      if (info.submit_intent !== true) {
        info.submit_intent = true;
        await host.saveCheckpoint();
      }
      // a later attempt (this one failed after asking the scheduler) looks for the job first
      mayHaveSubmitted = true;
      const submitted = await submitCalculation(
        node,
        scheduler,
        workdirOf(host),
        calcJobServices(host.runner).submissions,
      );
      faultPoint('submit:scheduler');
      // The id is written with the state change that ends the submission, in the same write as its checkpoint; a
      // runner that dies before that write finds the job by the intent recorded above. A kill reads it after a flush.
      if (typeof submitted === 'string') host.setNodeAttributes({ job_id: submitted });
      return submitted;
    }),
  );
  if (typeof result === 'string' || result === null) host.setJobState(CalcJobState.WITHSCHEDULER);
  return result;
}

/**
 * Asks the scheduler for the job's state (aiida's `task_update_job`) through the runner's job manager (one poll per
 * computer and interval for every job); resolves to whether the job is done. A job the scheduler no longer lists is
 * done; output the scheduler plugin cannot read fails the poll, which is retried, and never counts as done.
 */
export async function taskUpdateJob(host: CalcJobTaskHost, signal: AbortSignal): Promise<boolean> {
  const node = host.node;
  const state = node.getState();
  if (state === CalcJobState.RETRIEVING || state === CalcJobState.STASHING) return true;
  const jobId = node.getJobId();
  const setSchedulerState = (jobState: string): void => {
    if (node.getSchedulerState() === jobState) return;
    host.setNodeAttributes({
      scheduler_state: jobState,
      scheduler_lastchecktime: nowTimestamp(),
    });
  };
  if (jobId === null) {
    // A job recovered after an interruption whose id is not known: it ran, and is treated as finished.
    setSchedulerState(JobState.DONE);
    host.setJobState(CalcJobState.STASHING);
    return true;
  }
  const authInfo = await host.authInfo();
  const { jobManager } = calcJobServices(host.runner);
  const done = await withBackoff('update_calculation', signal, async () => {
    const info = await jobManager.requestJobInfoUpdate(authInfo, jobId, signal);
    if (info === null) {
      setSchedulerState(JobState.DONE);
      return true;
    }
    const { rawData: _raw, ...rest } = info;
    host.setNodeAttributes({ last_job_info: jobInfoToAiidaDict(rest) });
    setSchedulerState(info.jobState);
    return info.jobState === JobState.DONE;
  });
  if (done) host.setJobState(CalcJobState.STASHING);
  faultPoint(done ? 'update:done' : 'update:poll');
  return done;
}

/** Calls the job's monitors with a transport (aiida's `task_monitor_job`). */
export async function taskMonitorJob(
  host: CalcJobTaskHost,
  monitors: CalcJobMonitors,
  signal: AbortSignal,
): Promise<CalcJobMonitorResult | null> {
  const state = host.node.getState();
  if (state === CalcJobState.RETRIEVING || state === CalcJobState.STASHING) return null;
  return withBackoff('monitor_calculation', signal, () =>
    withTransport(host, signal, (transport) => monitors.process(host.node, transport)),
  );
}

/** Cancels the job with the scheduler (aiida's `task_kill_job`); nothing to do before it was submitted. */
export async function taskKillJob(host: CalcJobTaskHost, signal: AbortSignal): Promise<void> {
  const node = host.node;
  // A job id (and state) the submission set waits for the write of its state change: make it the node's first.
  await host.flushNode();
  const state = node.getState();
  if (state === CalcJobState.UPLOADING || state === CalcJobState.SUBMITTING || node.getJobId() === null)
    return;
  const computer = await host.computer();
  await withBackoff('kill_calculation', signal, () =>
    withTransport(host, signal, async (transport) => {
      await killCalculation(node, await computer.getScheduler({ transport }));
    }),
  );
  host.setNodeAttributes({
    scheduler_state: JobState.DONE,
    scheduler_lastchecktime: nowTimestamp(),
  });
  await host.releaseSlots();
  await host.flushNode();
}

/** The remote folder the job stashes from, and the uuid naming the stash (`core.stash` stashes its input). */
function stashSource(host: CalcJobTaskHost): { sourceBasepath: string; uuid: string; isStash: boolean } {
  const source = host.inputs['source_node'];
  if (host.node.processType === 'aiida.calculations:core.stash' && source instanceof RemoteData)
    return { sourceBasepath: source.getRemotePath(), uuid: source.uuid, isStash: true };
  return { sourceBasepath: workdirOf(host), uuid: host.node.uuid, isStash: false };
}

/**
 * Stashes the files named by the `stash` option (aiida's `task_stash_job`); emits `remote_stash`. A failed copy is a
 * `StashingError` (not retried): the job fails with `ERROR_STASHING_FAILED`.
 */
export async function taskStashJob(host: CalcJobTaskHost, signal: AbortSignal): Promise<void> {
  const node = host.node;
  if (node.getState() === CalcJobState.RETRIEVING) return;
  const stash = node.getOption('stash') as Parameters<typeof stashCalculation>[0]['stash'];
  const computer = await host.computer();
  if ((await linkedOutput(host, 'remote_stash')) === undefined) {
    await withBackoff(
      'stash_calculation',
      signal,
      () =>
        withTransport(host, signal, async (transport) => {
          const { sourceBasepath, uuid, isStash } = stashSource(host);
          const created = await stashCalculation({
            computer,
            transport,
            sourceBasepath,
            uuid,
            stash,
            isStashCalculation: isStash,
            archiveRoot: await remoteWorkBase(computer, transport),
          });
          if (created !== null) host.outMany({ remote_stash: created });
        }),
      (error) => error instanceof StashingError,
    );
    await host.linkEmittedOutputs();
  }
  host.setJobState(CalcJobState.RETRIEVING);
}

/** Where the files of a stash came from: the working directory of the job (or folder) that was stashed. */
async function originalPlace(source: RemoteStashData): Promise<string | undefined> {
  let current: Node = source;
  for (let depth = 0; depth < 10; depth += 1) {
    const incoming = await current.base.links.getIncoming();
    const link = incoming.all()[0];
    if (link === undefined) return undefined;
    const parent = link.node;
    if (parent instanceof RemoteData) return parent.getRemotePath();
    if (parent instanceof CalcJobNode && parent.processType !== 'aiida.calculations:core.stash')
      return parent.getRemoteWorkdir() ?? undefined;
    current = parent;
  }
  return undefined;
}

/** Puts stashed files back (aiida's `task_unstash_job`, for `core.unstash` jobs). */
export async function taskUnstashJob(host: CalcJobTaskHost, signal: AbortSignal): Promise<void> {
  const node = host.node;
  if (node.getState() === CalcJobState.SUBMITTING) return;
  const options = node.getOption('unstash') as { source_list: string[]; unstash_target_mode: string };
  const source = host.inputs['source_node'] as RemoteStashData;
  await withBackoff('unstash_calculation', signal, () =>
    withTransport(host, signal, async (transport) => {
      const target =
        options.unstash_target_mode === UnstashTargetMode.ORIGINAL_PLACE
          ? await originalPlace(source)
          : workdirOf(host);
      if (target === undefined) {
        throw new StashingError(
          'the stash node is not connected to any calculation job: the original place of its files is unknown',
        );
      }
      await unstashCalculation({
        transport,
        source,
        targetBasepath: target,
        sourceList: options.source_list,
      });
    }),
  );
  host.setJobState(CalcJobState.SUBMITTING);
}

/**
 * Retrieves the job's files (aiida's `task_retrieve_job`): the scheduler's accounting first (`detailed_job_info`,
 * null when the scheduler has none), then the retrieve list into the `retrieved` output and the temporary retrieve
 * list into `temporaryFolder`. Repeating it after an interruption is safe.
 */
export async function taskRetrieveJob(
  host: CalcJobTaskHost,
  temporaryFolder: string,
  signal: AbortSignal,
): Promise<void> {
  const node = host.node;
  if (node.getState() === CalcJobState.PARSING) return;
  const computer = await host.computer();
  const already = await linkedOutput(host, 'retrieved');
  await withBackoff('retrieve_calculation', signal, () =>
    withTransport(host, signal, async (transport) => {
      const scheduler = await computer.getScheduler({ transport });
      const jobId = node.getJobId();
      if (jobId !== null && node.getDetailedJobInfo() === null) {
        try {
          host.setNodeAttributes({ detailed_job_info: await scheduler.getDetailedJobInfo(jobId) });
        } catch (error) {
          if (!(error instanceof FeatureNotAvailableError)) throw error;
          host.setNodeAttributes({ detailed_job_info: null });
        }
      }
      const workdir = workdirOf(host);
      if (already !== undefined) {
        // Only the temporary files are missing (they are not stored).
        const list = node.getRetrieveTemporaryList() ?? [];
        if (list.length > 0) {
          await retrieveFilesFromList(transport, workdir, temporaryFolder, list, signal);
        }
        return;
      }
      // A process that was never interrupted knows its outputs: only a continued one may find one linked already.
      const retrieved = await retrieveCalculation(node, transport, workdir, temporaryFolder, signal, {
        mayBeRetrieved: host.continued,
      });
      if (retrieved !== null) host.outMany({ retrieved });
    }),
  );
  // `retrieved` is stored with the state change to parsing, in one transaction: a crash before it retrieves again
  // (safe: nothing was linked), one after it parses.
  await host.linkEmittedOutputs({ withNextWrite: true });
  host.setJobState(CalcJobState.PARSING);
}
