import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ExitCode,
  Interruption,
  KillInterruption,
  PauseInterruption,
  ProcessState,
  Waiting,
  type ProcessStateObject,
  type StateData,
  type StateHost,
  type StateJson,
} from 'plumpy-ts';
import { z } from 'zod';
import { StashingError, TransportTaskError, isAiidaError } from '../../../errors.js';
import { isSchedulerExitCode } from '../../../schedulers/exit-codes.js';
import { getLogger } from '../../logging.js';
import { calcJobMonitorResultSchema, monitorStateSchema, type CalcJobMonitorResult } from './monitors.js';
import type { CalcJobTaskHost } from './tasks.js';
import {
  taskKillJob,
  taskMonitorJob,
  taskRetrieveJob,
  taskStashJob,
  taskSubmitJob,
  taskUnstashJob,
  taskUpdateJob,
  taskUploadJob,
} from './tasks.js';

/** Stops a task of a waiting state that was left (a forced kill). */
class WaitingLeft extends Interruption {}

/** The commands a calculation job waits in, one after the other (aiida's `UPLOAD_COMMAND`, …). */
export const CalcJobCommand = {
  UPLOAD: 'upload',
  SUBMIT: 'submit',
  UPDATE: 'update',
  STASH: 'stash',
  RETRIEVE: 'retrieve',
} as const;
export type CalcJobCommand = (typeof CalcJobCommand)[keyof typeof CalcJobCommand];

/** The messages of the waiting states of each command (aiida's). */
const COMMAND_MESSAGES: Readonly<Record<CalcJobCommand, string>> = {
  upload: 'Waiting for calculation folder upload',
  submit: 'Waiting for scheduler submission',
  update: 'Waiting for scheduler update',
  stash: 'Waiting to stash',
  retrieve: 'Waiting to retrieve',
};

/**
 * Where a calculation job is, kept in the data of its waiting state and so in its checkpoint: any runner that loads
 * the checkpoint continues from here. `submit_intent` records (before the scheduler is asked) that a submission may
 * have reached the scheduler, so a continued job looks for that job before submitting again.
 */
export const calcJobWaitingDataSchema = z.object({
  command: z.enum(['upload', 'submit', 'update', 'stash', 'retrieve']),
  monitor_result: calcJobMonitorResultSchema.nullable().optional(),
  monitors: monitorStateSchema.optional(),
  submit_intent: z.boolean().optional(),
});
export type CalcJobWaitingData = z.infer<typeof calcJobWaitingDataSchema>;

/** The data of the waiting state of `command`. */
export function waitingData(
  command: CalcJobCommand,
  extra: Omit<CalcJobWaitingData, 'command'> = {},
): CalcJobWaitingData {
  return { command, ...extra };
}

/** The message of the waiting state of `command`. */
export function waitingMessage(command: CalcJobCommand): string {
  return COMMAND_MESSAGES[command];
}

function plainMonitorResult(
  result: CalcJobMonitorResult | null | undefined,
): CalcJobWaitingData['monitor_result'] {
  if (result === null || result === undefined) return null;
  const { outputs: _outputs, ...rest } = result;
  return rest;
}

/**
 * The `waiting` state of calculation jobs (aiida's `calcjobs.tasks.Waiting`): executing it runs the transport task of
 * its command — upload, submit, update (polling the scheduler and calling monitors), stash, retrieve — and moves to the
 * waiting state of the next command, then to `running` to parse. Each task runs under an `AbortSignal`: a pause or kill
 * stops a transfer or a poll at once. A task that still fails after the backoff's last attempt pauses the job with
 * "Pausing after failed transport task: …" and `play` runs the same command again. A kill (not forced) first cancels
 * the job with the scheduler.
 */
export class CalcJobWaiting extends Waiting {
  readonly info: CalcJobWaitingData;
  #controller: AbortController | undefined;
  #killing: Promise<void> | undefined;

  constructor(host: StateHost, data: StateData['waiting']) {
    super(host, data);
    const parsed = calcJobWaitingDataSchema.safeParse(data.data);
    // A plain `Wait` of `run` names the command as a string (aiida's `data=UPLOAD_COMMAND`).
    this.info = parsed.success
      ? parsed.data
      : { command: z.enum(['upload', 'submit', 'update', 'stash', 'retrieve']).parse(data.data) };
  }

  /** The command this state runs. */
  get command(): CalcJobCommand {
    return this.info.command;
  }

  /** Whether a transport task of this state runs now. */
  get busy(): boolean {
    return this.#controller !== undefined;
  }

  /** The cancellation of the scheduler job started by a kill, while it runs. */
  get killing(): Promise<void> | undefined {
    return this.#killing;
  }

  get #process(): CalcJobTaskHost {
    return this.host.process as CalcJobTaskHost;
  }

  override interrupt(reason: Interruption): void {
    super.interrupt(reason);
    this.#controller?.abort(reason);
  }

  override exit(): void {
    super.exit();
    // A forced kill leaves the state while a task runs: stop the task.
    this.#controller?.abort(new WaitingLeft('the waiting state was left'));
  }

  #next(command: CalcJobCommand, extra: Omit<CalcJobWaitingData, 'command'> = {}): ProcessStateObject {
    const data = waitingData(command, {
      ...(this.info.monitors === undefined ? {} : { monitors: this.info.monitors }),
      ...extra,
    });
    return this.host.createState(ProcessState.WAITING, {
      doneCallback: null,
      msg: waitingMessage(command),
      data,
    });
  }

  #running(step: 'parse' | 'terminate', ...args: unknown[]): ProcessStateObject {
    return this.host.createState(ProcessState.RUNNING, { runFn: step, args });
  }

  override async execute(): Promise<ProcessStateObject> {
    const process = this.#process;
    const controller = new AbortController();
    this.#controller = controller;
    // The status of a task in progress rides on the task's own writes or the state change that ends it: a quick job
    // is then written once per step (its state and checkpoint), and a slow task's status still shows a moment later.
    process.setStatus(`Waiting for transport task: ${this.command}`, { lazy: true });
    try {
      const next = await this.#run(controller.signal);
      process.setStatus(null, { lazy: true });
      return next;
    } catch (error) {
      if (error instanceof TransportTaskError) {
        throw new PauseInterruption(`Pausing after failed transport task: ${error.message}`);
      }
      if (error instanceof StashingError) {
        return this.#running(
          'terminate',
          process.getExitCode('ERROR_STASHING_FAILED', { message: error.message }),
        );
      }
      if (error instanceof KillInterruption) {
        if (!error.forceKill) await this.#cancelSchedulerJob();
        throw error;
      }
      if (error instanceof Interruption) {
        if (!(error instanceof WaitingLeft))
          process.setStatus(`Transport task ${this.command} was interrupted`);
        throw error;
      }
      throw error;
    } finally {
      this.#controller = undefined;
    }
  }

  /** Cancels the job with the scheduler (a kill that is not forced); a failure is thrown as a pause. */
  async #cancelSchedulerJob(): Promise<void> {
    const process = this.#process;
    this.#killing = taskKillJob(process, new AbortController().signal);
    try {
      await this.#killing;
    } catch (error) {
      if (error instanceof TransportTaskError)
        throw new PauseInterruption(`Pausing after failed transport task: ${error.message}`);
      throw error;
    } finally {
      this.#killing = undefined;
    }
  }

  async #run(signal: AbortSignal): Promise<ProcessStateObject> {
    const process = this.#process;
    const node = process.node;
    switch (this.command) {
      case CalcJobCommand.UPLOAD: {
        const skipSubmit = await taskUploadJob(process, signal);
        const unstash = node.getOption('unstash');
        if (
          unstash !== null &&
          unstash !== undefined &&
          node.processType === 'aiida.calculations:core.unstash'
        )
          await taskUnstashJob(process, signal);
        return skipSubmit
          ? this.#next(CalcJobCommand.STASH, { monitor_result: this.info.monitor_result ?? null })
          : this.#next(CalcJobCommand.SUBMIT);
      }
      case CalcJobCommand.SUBMIT: {
        const result = await taskSubmitJob(process, this.info, signal);
        if (isSchedulerExitCode(result)) {
          // The scheduler refused the job for good (an invalid account): it ends with the scheduler's exit code.
          await process.releaseSlots();
          return this.#running('terminate', process.getExitCode(result.label) ?? new ExitCode(result.status));
        }
        return this.#next(CalcJobCommand.UPDATE);
      }
      case CalcJobCommand.UPDATE: {
        const monitors = process.monitors(this.info.monitors);
        let monitorResult: CalcJobMonitorResult | null =
          (this.info.monitor_result as CalcJobMonitorResult | null | undefined) ?? null;
        let done = false;
        while (!done) {
          const state = node.getSchedulerState();
          process.setStatus(
            `Monitoring scheduler: job state ${state === null ? 'UNKNOWN' : state.toUpperCase()}`,
            { lazy: true },
          );
          done = await taskUpdateJob(process, signal);
          if (monitors !== undefined && monitorResult?.action !== 'disable-all') {
            const result = await taskMonitorJob(process, monitors, signal);
            if (result !== null) {
              if (result.outputs !== undefined) {
                process.outMany(result.outputs);
                await process.linkEmittedOutputs();
              }
              if (result.action === 'disable-self' && result.key !== null) monitors.disable(result.key);
              monitorResult = result;
              if (result.action === 'kill') {
                await taskKillJob(process, signal);
                done = true;
              }
              if (!result.retrieve) {
                await process.releaseSlots();
                return this.#running(
                  'terminate',
                  process.getExitCode('STOPPED_BY_MONITOR', { message: result.message ?? '' }),
                );
              }
            }
          }
          if (monitors !== undefined) this.info.monitors = monitors.state;
        }
        process.releaseSlotsWithNextWrite();
        const plain = plainMonitorResult(monitorResult);
        // Without a `stash` option the stash step does nothing: go straight to retrieving (one state change and
        // checkpoint less per job), as the stash step would.
        const stash = node.getOption('stash');
        if (stash === null || stash === undefined)
          return this.#next(CalcJobCommand.RETRIEVE, { monitor_result: plain });
        return this.#next(CalcJobCommand.STASH, { monitor_result: plain });
      }
      case CalcJobCommand.STASH: {
        const stash = node.getOption('stash');
        if (stash !== null && stash !== undefined) await taskStashJob(process, signal);
        return this.#next(CalcJobCommand.RETRIEVE, { monitor_result: this.info.monitor_result ?? null });
      }
      case CalcJobCommand.RETRIEVE: {
        // A folder for the temporary retrieve list only when it names something: most jobs have none, and the parser
        // is then given no folder (as after a restart that lost it).
        const temporary =
          (node.getRetrieveTemporaryList() ?? []).length > 0
            ? await mkdtemp(path.join(tmpdir(), 'aiida-ts-retrieved-temporary-'))
            : null;
        await taskRetrieveJob(process, temporary, signal);
        const monitor = this.info.monitor_result ?? null;
        if (monitor === null) return this.#running('parse', temporary, null);
        const stopped = process.getExitCode('STOPPED_BY_MONITOR', { message: monitor.message ?? '' });
        if (!monitor.parse) return this.#running('terminate', stopped);
        if (monitor.overrideExitCode) return this.#running('parse', temporary, stopped);
        return this.#running('parse', temporary, null);
      }
    }
  }

  override toJSON(): StateJson {
    const json = super.toJSON();
    return { ...json, data: this.host.encode(this.info) };
  }

  static override fromJSON(host: StateHost, json: StateJson): CalcJobWaiting {
    const base = Waiting.fromJSON(host, json);
    return new CalcJobWaiting(host, { doneCallback: base.doneCallback, msg: base.msg, data: base.data });
  }
}

/** Logs a failure of a background step that cannot be reported anywhere else. */
export function logTaskFailure(error: unknown, pk: number | null, what: string): void {
  getLogger('aiida').error(
    { err: error, pk, aiida: isAiidaError(error) },
    `${what} of CalcJob<${String(pk)}> failed: ${(error as Error).message}`,
  );
}
