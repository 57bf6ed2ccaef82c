import type { Communicator } from 'kiwipy-ts';
import { ValidationError } from './errors.js';
import { getObjectLoader, type ObjectLoader } from './loaders.js';
import {
  Intent,
  MessageBuilder,
  createContinueBody,
  createCreateBody,
  createLaunchBody,
  statusInfoSchema,
  type Pid,
  type StatusInfo,
} from './messages.js';
import type { ProcessClass } from './process.js';
import type { InputsOf, ProcessOutputsOf } from './spec-types.js';

/** Options of {@link RemoteProcessController.killProcess}. */
export interface KillProcessOptions {
  readonly message?: string | null;
  /** Kill at once, even in the middle of a step. */
  readonly forceKill?: boolean;
}

/** Options of {@link RemoteProcessController.continueProcess}. */
export interface ContinueProcessOptions {
  /** The checkpoint tag to continue from. */
  readonly tag?: string | null;
  /** Resolve with the pid once the process runs, instead of with its outputs when it ends. */
  readonly nowait?: boolean;
  /** Resolve once the task is queued, with no result at all. */
  readonly noReply?: boolean;
}

/** Options of {@link RemoteProcessController.launchProcess}. */
export interface LaunchProcessOptions<I = Readonly<Record<string, unknown>>> {
  /** The inputs of the process (put into `init_kwargs.inputs`). */
  readonly inputs?: I;
  /** Further constructor options, as JSON (`init_kwargs`; e.g. `pid`). */
  readonly initKwargs?: Readonly<Record<string, unknown>>;
  /** Have the launcher checkpoint the process (it must have a persister). */
  readonly persist?: boolean;
  readonly nowait?: boolean;
  readonly noReply?: boolean;
  /** Identifies the class (default: the global loader). */
  readonly loader?: ObjectLoader;
}

/**
 * Controls processes over a communicator (plumpy's `RemoteProcessController`): RPCs to one process by pid,
 * broadcasts to all, and tasks for a {@link ProcessLauncher}. Every method returns a Promise of the remote
 * answer; remote failures arrive as kiwipy-ts errors (`RemoteError`, `UnroutableError`).
 */
export class RemoteProcessController {
  readonly communicator: Communicator;

  constructor(communicator: Communicator) {
    this.communicator = communicator;
  }

  /** The status of a process: `{ctime, paused, process_string, state}`. */
  async getStatus(pid: Pid): Promise<StatusInfo> {
    const reply: unknown = await this.communicator.rpcSend(String(pid), MessageBuilder.status());
    const parsed = statusInfoSchema.safeParse(reply);
    if (!parsed.success) {
      throw new ValidationError(
        `the status reply of process ${String(pid)}`,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    return parsed.data;
  }

  /** Pauses a process; resolves when the pause took effect (true), or false if it had terminated. */
  pauseProcess(pid: Pid, message: string | null = null): Promise<unknown> {
    return Promise.resolve(this.communicator.rpcSend(String(pid), MessageBuilder.pause(message)));
  }

  /** Plays a paused process. */
  playProcess(pid: Pid): Promise<unknown> {
    return Promise.resolve(this.communicator.rpcSend(String(pid), MessageBuilder.play()));
  }

  /** Kills a process; resolves when the kill took effect (true), or false if it had terminated otherwise. */
  killProcess(pid: Pid, options: KillProcessOptions = {}): Promise<unknown> {
    return Promise.resolve(
      this.communicator.rpcSend(
        String(pid),
        MessageBuilder.kill(options.message ?? null, options.forceKill ?? false),
      ),
    );
  }

  /** Asks a launcher to continue a process from its checkpoint. */
  async continueProcess(pid: Pid, options: ContinueProcessOptions = {}): Promise<unknown> {
    const body = createContinueBody(pid, { tag: options.tag ?? null, nowait: options.nowait ?? false });
    if (options.noReply === true) {
      await this.communicator.taskSend(body, { noReply: true });
      return null;
    }
    return await this.communicator.taskSend(body);
  }

  /** Asks a launcher to make and run a process; resolves to its outputs (or its pid with `nowait`). */
  launchProcess<C extends ProcessClass>(
    processClass: C | string,
    options: LaunchProcessOptions<InputsOf<C>> & { readonly nowait: true; readonly noReply?: false },
  ): Promise<Pid>;
  launchProcess<C extends ProcessClass>(
    processClass: C,
    options?: LaunchProcessOptions<InputsOf<C>> & { readonly nowait?: false; readonly noReply?: false },
  ): Promise<ProcessOutputsOf<C>>;
  launchProcess<C extends ProcessClass>(
    processClass: C | string,
    options?: LaunchProcessOptions<InputsOf<C>>,
  ): Promise<unknown>;
  async launchProcess<C extends ProcessClass>(
    processClass: C | string,
    options: LaunchProcessOptions<InputsOf<C>> = {},
  ): Promise<unknown> {
    const body = createLaunchBody(this.#identify(processClass, options.loader), {
      initKwargs: initKwargs(options),
      persist: options.persist ?? false,
      nowait: options.nowait ?? false,
    });
    if (options.noReply === true) {
      await this.communicator.taskSend(body, { noReply: true });
      return null;
    }
    return await this.communicator.taskSend(body);
  }

  /**
   * Makes a process through a launcher (checkpointed), then continues it with a second task (plumpy's
   * `execute_process`): with durable task queues the process runs to its end even if this side goes away.
   */
  async executeProcess<C extends ProcessClass>(
    processClass: C | string,
    options: Omit<LaunchProcessOptions<InputsOf<C>>, 'persist'> = {},
  ): Promise<unknown> {
    const create = createCreateBody(this.#identify(processClass, options.loader), {
      initKwargs: initKwargs(options),
      persist: true,
    });
    const pid: unknown = await this.communicator.taskSend(create);
    if (typeof pid !== 'string' && typeof pid !== 'number')
      throw new ValidationError('the create task reply', [
        { path: '', message: `expected a pid, got ${JSON.stringify(pid)}` },
      ]);
    return this.continueProcess(pid, { nowait: options.nowait ?? false, noReply: options.noReply ?? false });
  }

  /** Pauses every process listening on the communicator. */
  pauseAll(message: string | null = null): Promise<boolean> {
    return this.communicator.broadcastSend(MessageBuilder.pause(message), { subject: Intent.PAUSE });
  }

  /** Plays every process listening on the communicator. */
  playAll(): Promise<boolean> {
    return this.communicator.broadcastSend(null, { subject: Intent.PLAY });
  }

  /** Kills every process listening on the communicator. */
  killAll(message: string | null = null): Promise<boolean> {
    return this.communicator.broadcastSend(MessageBuilder.kill(message), { subject: Intent.KILL });
  }

  #identify(processClass: ProcessClass | string, loader: ObjectLoader | undefined): string {
    return typeof processClass === 'string'
      ? processClass
      : (loader ?? getObjectLoader()).identifyObject(processClass);
  }
}

function initKwargs(options: LaunchProcessOptions<unknown>): Readonly<Record<string, unknown>> | null {
  const kwargs: Record<string, unknown> = { ...(options.initKwargs ?? {}) };
  if (options.inputs !== undefined) kwargs['inputs'] = options.inputs;
  return Object.keys(kwargs).length === 0 ? null : kwargs;
}
