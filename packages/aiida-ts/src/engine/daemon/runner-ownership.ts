import type { Kysely } from 'kysely';
import type { Communicator } from 'kiwipy-ts';
import type { StorageBackend, WriteStatement } from '../../storage/backend.js';
import { DialectName } from '../../storage/dialect.js';
import type { Database } from '../../storage/schema.js';
import { TaskMode, TaskState, WorkerKind } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { getLogger } from '../logging.js';
import type { EngineProcessInstance } from '../processes/instantiate.js';
import type { ProcessOwnership, ReplayedChild } from '../process-ownership.js';
import type { GuardedWrite, WriteGuard } from '../write-guard.js';
import { ControlState } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { pendingRequests, settleRequests, type ControlRequest } from './control-table.js';
import { DaemonPresence, handOverProcess, joinHandOver, moduleOf } from './hand-over.js';
import { finishTask, insertTask } from './task-table.js';
import { WorkerRegistration, newWorkerId } from './worker-registry.js';

/** How often a runner looks for control requests of its processes (ms). */
const CONTROL_POLL_MS = 250;

/** Options of {@link RunnerOwnership}. */
export interface RunnerOwnershipOptions {
  /** The profile's broker, when the runner has one (submissions then always go to the daemon). */
  readonly broker?: Communicator | undefined;
  /** How long the runner's record stays valid without a heartbeat (ms, default 30 s). */
  readonly ttlMs?: number;
}

/**
 * The lease of a process run by a script's runner (`verdi run`): the row names the runner as owner and is removed
 * with the terminal write. It is never taken over by a worker (a script's process cannot be continued behind its
 * back), so there is no fence; when the runner dies the row stays and says so (`ownershipOf`: orphaned), and
 * `verdi process kill` works on it.
 */
class LocalLease implements WriteGuard {
  readonly #storage: StorageBackend;
  readonly #ended: () => void;

  constructor(storage: StorageBackend, ended: () => void) {
    this.#storage = storage;
    this.#ended = ended;
  }

  transactional(write: GuardedWrite): boolean {
    // SQLite commits the end and the release together cheaply; PostgreSQL would pay round trips for nothing.
    return write.terminal && this.#storage.dialect.name === DialectName.SQLITE;
  }

  before(): Promise<void> {
    return Promise.resolve();
  }

  async after(db: Kysely<Database>, write: GuardedWrite): Promise<void> {
    if (write.terminal) await finishTask(db, this.#storage, write.pk);
  }

  statements(write: GuardedWrite): readonly WriteStatement[] | undefined {
    // nothing to check; the terminal write releases the row (see `after`)
    return write.terminal ? undefined : [];
  }

  committed(write: GuardedWrite): void {
    if (write.terminal) this.#ended();
  }

  inherited(): WriteGuard {
    return NO_GUARD;
  }
}

/** Lets every write through: what a process run inside a step of a script's process uses. */
const NO_GUARD: WriteGuard = {
  transactional: () => false,
  before: () => Promise.resolve(),
  after: () => Promise.resolve(),
  statements: () => [],
  committed: () => undefined,
  inherited: () => NO_GUARD,
};

/**
 * The ownership records of a script's runner (issue 10's "every runner records which OS process runs each
 * process"): the runner registers itself (`aiida_ts_worker`, kind `runner`, host and pid) on its first process and
 * keeps a heartbeat while open; each process it makes gets a `local` row owned by it. A `submit` goes to the daemon
 * when the profile has a broker or a daemon worker is running; otherwise it runs here, leased like the rest.
 */
export class RunnerOwnership implements ProcessOwnership {
  readonly childrenToDaemon = false;
  readonly #storage: StorageBackend;
  readonly #broker: Communicator | undefined;
  readonly #registration: WorkerRegistration;
  readonly #ttlMs: number;
  readonly #presence: DaemonPresence;
  #registered: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #controlTimer: NodeJS.Timeout | undefined;
  readonly #processes = new Map<number, EngineProcessInstance>();
  readonly #applying = new Set<number>();
  /** Broker tasks of submitted processes still being published. */
  readonly #publishing = new Set<Promise<void>>();
  #closed = false;

  constructor(storage: StorageBackend, options: RunnerOwnershipOptions = {}) {
    this.#storage = storage;
    this.#broker = options.broker;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#registration = new WorkerRegistration(storage, {
      id: newWorkerId(),
      kind: WorkerKind.RUNNER,
      slots: 0,
      broker: options.broker !== undefined,
      ttlMs: this.#ttlMs,
    });
    this.#presence = new DaemonPresence(storage);
  }

  /** The id of the runner's record in `aiida_ts_worker`. */
  get id(): string {
    return this.#registration.id;
  }

  async submitsToDaemon(): Promise<boolean> {
    if (this.#broker !== undefined && !this.#broker.isClosed()) return true;
    return await this.#presence.isRunning();
  }

  #register(): Promise<void> {
    this.#registered ??= this.#registration.register().then(() => {
      this.#timer = setInterval(() => this.#beat(), Math.max(100, Math.floor(this.#ttlMs / 3)));
      // neither a heartbeat nor a look for control requests keeps a script alive
      this.#timer.unref();
      this.#controlTimer = setInterval(() => void this.#pollRequests(), CONTROL_POLL_MS);
      this.#controlTimer.unref();
    });
    return this.#registered;
  }

  #beat(): void {
    this.#registration
      .heartbeat()
      .then((present) => (present || this.#closed ? undefined : this.#registration.register()))
      .catch((error: unknown) =>
        getLogger('aiida').warn({ err: error }, 'the runner could not renew its record'),
      );
  }

  async adopt(process: EngineProcessInstance): Promise<void> {
    const pk = process.node.pk;
    if (pk === null || this.#closed) return;
    await this.#register();
    await insertTask(this.#storage, {
      pk,
      state: TaskState.RUNNING,
      mode: TaskMode.LOCAL,
      owner: this.#registration.id,
      // so that `verdi process repair` can hand it to the daemon if the script dies
      module: moduleOf(process.constructor),
    });
    this.#processes.set(pk, process);
    process.provenance.writer.guard = new LocalLease(this.#storage, () => this.#processes.delete(pk));
  }

  /** Applies the pause, play and kill requests recorded for the processes running here (no broker needed). */
  async #pollRequests(): Promise<void> {
    if (this.#processes.size === 0 || this.#storage.isClosed) return;
    try {
      const { requests } = await pendingRequests(this.#storage.executor(), [...this.#processes.keys()]);
      for (const request of requests) {
        if (this.#applying.has(request.id)) continue;
        this.#applying.add(request.id);
        void this.#apply(request).finally(() => this.#applying.delete(request.id));
      }
    } catch (error) {
      getLogger('aiida').warn({ err: error }, 'the runner could not look for control requests');
    }
  }

  async #apply(request: ControlRequest): Promise<void> {
    const process = this.#processes.get(request.pk);
    if (process === undefined) return;
    const settle = (
      state: typeof ControlState.DONE | typeof ControlState.FAILED,
      result: string,
    ): Promise<void> => settleRequests(this.#storage, [request.id], state, result);
    try {
      if (request.intent === 'play') {
        process.play();
        await settle(ControlState.DONE, 'played');
      } else if (request.intent === 'pause') {
        const outcome = await Promise.resolve(process.pause(request.message));
        await settle(
          outcome === false ? ControlState.FAILED : ControlState.DONE,
          outcome === false ? 'not paused' : 'paused',
        );
      } else {
        await Promise.resolve(process.kill(request.message, { forceKill: request.force }));
        await process.future().catch(() => undefined);
        await process.provenance.writer.flush().catch(() => undefined);
        const killed = process.state === 'killed';
        await settle(
          killed ? ControlState.DONE : ControlState.FAILED,
          killed ? 'killed' : `process<${request.pk}> ${process.state}`,
        );
      }
    } catch (error) {
      await settle(ControlState.FAILED, error instanceof Error ? error.message : String(error)).catch(
        () => undefined,
      );
    }
  }

  handOver(process: EngineProcessInstance, parent: EngineProcessInstance | undefined): Promise<void> {
    return handOverProcess(this.#storage, this.#broker, process, parent);
  }

  async joinHandOver(process: EngineProcessInstance): Promise<() => Promise<void>> {
    const publish = await joinHandOver(this.#storage, this.#broker, process);
    return () => {
      // Not awaited: the committed record is what hands the process over (a worker polling the storage finds it
      // even when the broker loses the task), so `submit` does not wait for the broker's confirm; `close` does.
      const publishing = publish().finally(() => this.#publishing.delete(publishing));
      this.#publishing.add(publishing);
      return Promise.resolve();
    };
  }

  replayChild(): Promise<ReplayedChild | undefined> {
    // a script's steps are never run twice
    return Promise.resolve(undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#publishing);
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#controlTimer !== undefined) clearInterval(this.#controlTimer);
    if (this.#registered === undefined || this.#storage.isClosed) return;
    try {
      await this.#registered;
      await this.#registration.unregister();
    } catch (error) {
      getLogger('aiida').warn({ err: error }, 'the runner could not remove its record');
    }
  }
}
