import { TaskRejectedError, type Communicator, type Logger, type SubscriberContext } from 'kiwipy-ts';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { getObjectLoader, type ObjectLoader } from './loaders.js';
import { TaskType, pidSchema, processTaskSchema, type Pid } from './messages.js';
import type { Persister } from './persistence.js';
import { defaultLogger } from './logger.js';
import { Process, type LoadContext, type ProcessOptions } from './process.js';

/** Options of {@link ProcessLauncher}. */
export interface ProcessLauncherOptions {
  /** Needed for `continue` tasks and for `persist`: the process checkpoints itself through it. */
  readonly persister?: Persister;
  /** Loads process classes by identifier (default: the global loader). */
  readonly loader?: ObjectLoader;
  /** The communicator given to the processes (default: the one the task came through). */
  readonly communicator?: Communicator;
  readonly logger?: Logger;
  /**
   * Services for processes loaded from checkpoints (plumpy's `load_context`); what it leaves out comes
   * from the launcher (its loader, persister, logger, and the communicator of the task).
   */
  readonly loadContext?: LoadContext;
}

type Task = z.output<typeof processTaskSchema>;

// Only what can cross the wire as JSON: services (communicator, persister, ...) are the launcher's.
const initKwargsSchema = z.strictObject({
  inputs: z.record(z.string(), z.unknown()).optional(),
  pid: pidSchema.optional(),
});
const OUR_TASKS: readonly string[] = Object.values(TaskType);

/**
 * Takes `launch`, `continue` and `create` tasks (plumpy's `ProcessLauncher`) and runs the processes on this
 * event loop. Subscribe it with {@link ProcessLauncher.subscribe}, or pass {@link ProcessLauncher.handle}
 * as a task subscriber. Tasks that are not process tasks are rejected, so that other subscribers get them.
 */
export class ProcessLauncher {
  readonly #persister: Persister | undefined;
  readonly #loader: ObjectLoader;
  readonly #communicator: Communicator | undefined;
  readonly #logger: Logger;
  readonly #loadContext: LoadContext;
  readonly #running = new Set<Promise<void>>();
  readonly #subscriptions: { communicator: Communicator; identifier: string }[] = [];

  constructor(options: ProcessLauncherOptions = {}) {
    this.#persister = options.persister;
    this.#loader = options.loader ?? getObjectLoader();
    this.#communicator = options.communicator;
    this.#logger = options.logger ?? defaultLogger;
    this.#loadContext = options.loadContext ?? {};
  }

  /** Adds this launcher as a task subscriber of `communicator`; returns the subscriber identifier. */
  async subscribe(communicator: Communicator, identifier?: string): Promise<string> {
    const id = await communicator.addTaskSubscriber(
      (task, context) => this.handle(task, context),
      identifier,
    );
    this.#subscriptions.push({ communicator, identifier: id });
    return id;
  }

  /** Handles one task; resolves to its result (a pid, or the process's outputs). */
  handle(task: unknown, context?: SubscriberContext): Promise<unknown> {
    const kind = (task as { task?: unknown } | null)?.task;
    if (typeof kind !== 'string' || !OUR_TASKS.includes(kind)) {
      return Promise.reject(new TaskRejectedError(`not a process task: ${JSON.stringify(kind ?? null)}`));
    }
    const parsed = processTaskSchema.safeParse(task);
    if (!parsed.success) {
      return Promise.reject(
        new ValidationError(
          `the ${kind} task`,
          parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
        ),
      );
    }
    const communicator = this.#communicator ?? context?.communicator;
    return this.#dispatch(parsed.data, communicator);
  }

  async #dispatch(task: Task, communicator: Communicator | undefined): Promise<unknown> {
    switch (task.task) {
      case TaskType.LAUNCH: {
        const process = await this.#make(task.args, communicator);
        return this.#run(process, task.args.nowait);
      }
      case TaskType.CREATE: {
        const process = await this.#make(task.args, communicator);
        const pid = process.pid;
        // The process only exists to be checkpointed; a `continue` task brings it back.
        await process.close();
        return pid;
      }
      case TaskType.CONTINUE: {
        const persister = this.#persister;
        if (persister === undefined)
          throw new TaskRejectedError(`cannot continue process ${String(task.args.pid)}: no persister`);
        const checkpoint = await persister.loadCheckpoint(task.args.pid, task.args.tag ?? null);
        const process = Process.load(checkpoint, {
          loader: this.#loader,
          persister,
          logger: this.#logger,
          ...(communicator === undefined ? {} : { communicator }),
          ...this.#loadContext,
        });
        return this.#run(process, task.args.nowait);
      }
    }
  }

  async #make(
    args: {
      process_class: string;
      persist: boolean;
      init_args?: unknown[] | null | undefined;
      init_kwargs?: Record<string, unknown> | null | undefined;
    },
    communicator: Communicator | undefined,
  ): Promise<Process> {
    if (args.persist && this.#persister === undefined)
      throw new TaskRejectedError('cannot persist the process: no persister');
    if (args.init_args !== undefined && args.init_args !== null && args.init_args.length > 0) {
      throw new ValidationError('the launch task', [
        {
          path: 'args.init_args',
          message: 'positional arguments are not supported: give the process options in init_kwargs',
        },
      ]);
    }
    const cls = this.#loader.loadObject(args.process_class);
    if (typeof cls !== 'function' || !(cls.prototype instanceof Process)) {
      throw new ValidationError('the launch task', [
        { path: 'args.process_class', message: `'${args.process_class}' is not a process class` },
      ]);
    }
    const kwargs = initKwargsSchema.safeParse(args.init_kwargs ?? {});
    if (!kwargs.success) {
      throw new ValidationError(
        'the init_kwargs of the task',
        kwargs.error.issues.map((i) => ({
          path: ['args', 'init_kwargs', ...i.path.map(String)].join('.'),
          message: i.message,
        })),
      );
    }
    const options: ProcessOptions = {
      ...(kwargs.data.inputs === undefined ? {} : { inputs: kwargs.data.inputs }),
      ...(kwargs.data.pid === undefined ? {} : { pid: kwargs.data.pid }),
      loader: this.#loader,
      logger: this.#logger,
      ...(communicator === undefined ? {} : { communicator }),
      ...(args.persist && this.#persister !== undefined ? { persister: this.#persister } : {}),
    };
    const process = new (cls as new (options: ProcessOptions) => Process)(options);
    await process.ready();
    return process;
  }

  async #run(process: Process, nowait: boolean): Promise<unknown> {
    const loop = process.stepUntilTerminated();
    const tracked = loop.catch((error: unknown) =>
      this.#logger.error({ error, pid: process.pid }, 'a launched process failed to run'),
    );
    this.#running.add(tracked);
    void tracked.finally(() => this.#running.delete(tracked));
    if (nowait) {
      await process.ready();
      return process.pid satisfies Pid;
    }
    await loop;
    return await process.future();
  }

  /** The number of processes this launcher is running. */
  get runningCount(): number {
    return this.#running.size;
  }

  /** Resolves when every process this launcher started has terminated. */
  async whenIdle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Removes the launcher's task subscriptions and waits for its processes to end. */
  async close(): Promise<void> {
    for (const { communicator, identifier } of this.#subscriptions.splice(0)) {
      if (!communicator.isClosed()) await communicator.removeTaskSubscriber(identifier);
    }
    await this.whenIdle();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
