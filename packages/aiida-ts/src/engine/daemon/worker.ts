import {
  answerLater,
  LocalCommunicator,
  TaskRejectedError,
  type Communicator,
  type SubscriberContext,
} from 'kiwipy-ts';
import { ClassNotFoundError, Excepted, ProcessState, continueTaskSchema } from 'plumpy-ts';
import { z } from 'zod';
import { LeaseLostError, NotExistentError } from '../../errors.js';
import { User } from '../../orm/entities/user.js';
import { loadNode } from '../../orm/loaders.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../storage/backend.js';
import { withStorage } from '../../storage/context.js';
import {
  ControlState,
  TaskMode,
  TaskState,
  WorkerKind,
} from '../../storage/aiida-ts-schema/daemon-tables.js';
import { ProcessFuture } from '../futures.js';
import { getLogger } from '../logging.js';
import type { EngineProcessClass, EngineProcessInstance } from '../processes/instantiate.js';
import { processClassRegistry } from '../processes/process-type.js';
import type { ProcessOwnership, ReplayedChild } from '../process-ownership.js';
import { Runner } from '../runner.js';
import { pendingRequests, settleRequests, type ControlRequest } from './control-table.js';
import { exceptUnderLease, importProcessModule } from './bad-input.js';
import { continuedPkAnswer, endedAnswer, terminatedAnswer } from './continue-reply.js';
import { handOverProcess, joinHandOver, moduleOf, publishContinue } from './hand-over.js';
import { DaemonLease } from './lease.js';
import { awaitedBy, parkConditionOf, type ParkCondition } from './park.js';
import { StepJournal } from './step-journal.js';
import { StorageControlCommunicator, WorkerCommunicator } from './storage-control-communicator.js';
import { isStorageUnavailable } from '../../storage/unavailable.js';
import { isLeaseLost } from '../write-guard.js';
import {
  claimTask,
  claimTasks,
  lookForTasks,
  countActive,
  finishTask,
  insertTask,
  readTask,
  releaseRowsOf,
  releaseTask,
  wakeSatisfied,
  type Claim,
} from './task-table.js';
import { AdaptiveDelay, WakeableSleep } from './wakeable-sleep.js';
import { WorkerRegistration, deadWorkerIds, forgetDeadWorkers, newWorkerId } from './worker-registry.js';

/** Options of a daemon worker (checked with zod; see `DaemonWorkerOptions` in the API contract). */
export const WorkerSettingsSchema = z.object({
  slots: z.number().int().min(1).default(200),
  workerId: z.string().min(1).optional(),
  leaseTtlMs: z.number().int().min(200).default(30_000),
  stopTimeoutMs: z.number().int().min(0).default(10_000),
  poll: z
    .object({ minMs: z.number().int().min(1).default(5), maxMs: z.number().int().min(1).default(100) })
    .default({ minMs: 5, maxMs: 100 }),
  /** How often dead workers are looked for (ms); defaults to a third of the lease time, at most 1 s. */
  sweepMs: z.number().int().min(10).optional(),
});
export type WorkerSettings = z.input<typeof WorkerSettingsSchema>;

/** What a stopped worker reports. */
export interface WorkerExit {
  readonly workerId: string;
  readonly reason: 'signal' | 'stopped' | 'fatal';
  /** Processes whose lease was given back cleanly. */
  readonly released: readonly number[];
  /** Processes left to the other workers' sweepers (still in a step at the stop bound). */
  readonly abandoned: readonly number[];
  readonly error?: unknown;
}

/** The in-memory view of a worker. */
export interface WorkerStats {
  readonly id: string;
  readonly slots: number;
  /** Processes held now (loaded, running a step or waiting in memory). */
  readonly running: number;
  readonly loaded: readonly number[];
  /** Claims since the start. */
  readonly claimed: number;
  /** Parks since the start. */
  readonly parked: number;
  /** Claims made for a broker delivery (the rest were found by polling the storage). */
  readonly brokerClaims: number;
  /** Control requests being applied (their ids). */
  readonly applying: readonly number[];
  readonly broker: boolean;
}

/** One process this worker holds a lease on. */
interface Held {
  readonly pk: number;
  readonly lease: DaemonLease;
  process: EngineProcessInstance | undefined;
  /** Requests being applied (their ids), settled when their effect shows. */
  readonly applying: Map<number, ControlRequest>;
  inStep: boolean;
  /** The children it was seen waiting for. */
  readonly awaited: Set<number>;
  /** Set when the process must be dropped without another write (lease lost, stop bound, heartbeat lost). */
  dropped: 'lost' | 'stop' | undefined;
  /** Its row is being given back (after a drop). */
  releasing: boolean;
  done: Promise<void>;
}

/** Options of {@link DaemonWorker.start}. */
export interface StartWorkerOptions extends WorkerSettings {
  readonly storage: StorageBackend;
  /** The broker; undefined: storage only. */
  readonly broker?: Communicator | undefined;
}

const log = (): ReturnType<typeof getLogger> => getLogger('aiida');

/** The longest wait between two reads of a process node whose end a `continue` task's sender waits for (s). */
const REPLY_POLL_SECONDS = 1;
/**
 * How long a broker task that finds every slot taken waits for one to free before it is handed back. Handed back at
 * once, the broker delivers it again at once: with a backlog larger than the slots the worker and the broker spin on
 * those deliveries. A wait far below RabbitMQ's consumer_timeout (30 min by default): the delivery is not acked.
 */
const SLOT_WAIT_MS = 5_000;

/** What the sender of a `continue` task asked to be answered: the pk (`nowait`) or the outputs at the end. */
type ContinueAnswer = 'pk' | 'outputs';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A daemon worker: claims runnable processes from the storage (and from the broker when there is one), runs them
 * under a lease (every write fenced by its epoch), parks those that wait (children, pause, a timer) so that they hold
 * no slot, wakes nothing itself (the ends of children and the sweepers do), and takes over the processes of dead
 * workers. At most `slots` processes are held at once.
 */
export class DaemonWorker implements AsyncDisposable {
  readonly id: string;
  readonly runner: Runner;
  readonly storage: StorageBackend;
  readonly broker: Communicator | undefined;
  readonly #settings: z.output<typeof WorkerSettingsSchema>;
  readonly #registration: WorkerRegistration;
  readonly #held = new Map<number, Held>();
  readonly #journals = new Map<number, StepJournal>();
  /** Processes of aiida-core whose tasks this worker handed back (logged once each). */
  readonly #handedBack = new Set<number>();
  readonly #sleep = new WakeableSleep();
  readonly #delay: AdaptiveDelay;
  #stopping = false;
  #stopForced = false;
  #stopRequested: ((force: boolean) => void) | undefined;
  #loop: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #lastBeat = Date.now();
  /**
   * The node of a process whose broker task is being claimed, read while the claim is made: reading it is harmless
   * without the lease, and the claimed process needs it next (one round trip less before its first step).
   */
  readonly #prefetched = new Map<number, Promise<unknown>>();
  /** Broker tasks waiting for a free slot (see SLOT_WAIT_MS): each is woken by a slot freed, or all at the stop. */
  readonly #slotWaiters = new Set<() => void>();
  /** The runnable rows the last look at the task table found (with a broker: see #claimUndelivered). */
  #lookedAt: ReadonlySet<number> = new Set();
  #claimed = 0;
  #parked = 0;
  #brokerClaims = 0;
  #failingLooks = 0;
  #sweeps = 0;
  #subscription: string | undefined;
  #exit: Promise<WorkerExit> | undefined;
  #released: number[] = [];
  #abandoned: number[] = [];
  #fatal: unknown;
  #resolveReady!: () => void;
  #resolveStopped!: (exit: WorkerExit) => void;
  readonly #stopped = new Promise<WorkerExit>((resolve) => {
    this.#resolveStopped = resolve;
  });
  readonly ready: Promise<void>;

  private constructor(options: StartWorkerOptions) {
    const settings = WorkerSettingsSchema.parse(options);
    this.#settings = settings;
    this.id = settings.workerId ?? newWorkerId();
    this.storage = options.storage;
    this.broker = options.broker;
    this.#delay = new AdaptiveDelay(settings.poll.minMs, settings.poll.maxMs);
    this.#registration = new WorkerRegistration(this.storage, {
      id: this.id,
      kind: WorkerKind.DAEMON,
      slots: settings.slots,
      broker: this.broker !== undefined,
      ttlMs: settings.leaseTtlMs,
    });
    this.runner = new Runner({
      storage: this.storage,
      // control messages to processes out of reach become requests in the storage
      communicator: new StorageControlCommunicator(
        this.broker === undefined ? new LocalCommunicator() : new WorkerCommunicator(this.broker),
        this.storage,
        { ownsInner: true },
      ),
      ownsCommunicator: true,
      handleSignals: false,
      pollInterval: settings.poll.maxMs / 1000,
      ownership: this.#ownership(),
    });
    this.ready = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
  }

  /** Registers a worker and starts claiming; resolves once it is ready. */
  static async start(options: StartWorkerOptions): Promise<DaemonWorker> {
    const worker = new DaemonWorker(options);
    await worker.#start();
    return worker;
  }

  #ownership(): ProcessOwnership {
    return {
      childrenToDaemon: true,
      submitsToDaemon: () => Promise.resolve(true),
      adopt: () => Promise.resolve(),
      handOver: async (process, parent) => {
        await handOverProcess(this.storage, this.broker, process, parent);
        this.#lookNow();
      },
      joinHandOver: async (process) => {
        const publish = await joinHandOver(this.storage, this.broker, process);
        return async () => {
          await publish();
          this.#lookNow();
        };
      },
      replayChild: (parent, processClass, label, options) =>
        this.#replayChild(parent, processClass, label, options),
      close: () => Promise.resolve(),
    };
  }

  async #start(): Promise<void> {
    await this.#registration.register();
    // Every node a worker stores is stored inside a lease-guarded transaction, where the default user's pk is not
    // cached (a user created there could be rolled back): read once out here, it is cached for the worker's life,
    // and each node no longer costs a savepoint and a user lookup (three statements) inside its transaction.
    // (A profile without a default user fails where a node is stored, as before.)
    await User.getDefaultId(this.storage).catch(() => undefined);
    const ttl = this.#settings.leaseTtlMs;
    const sweepMs = this.#settings.sweepMs ?? Math.min(1_000, Math.floor(ttl / 3));
    this.#timers.push(setInterval(() => void this.#heartbeat(), Math.max(50, Math.floor(ttl / 3))));
    this.#timers.push(setInterval(() => void this.#sweep(), sweepMs));
    if (this.broker !== undefined) {
      this.#subscription = await this.broker.addTaskSubscriber((task, context) =>
        this.#onTask(task, context),
      );
    }
    this.#loop = this.#run();
    log().info(
      { workerId: this.id },
      `daemon worker ${this.id} ready: ${this.#settings.slots} slots, broker ${this.broker === undefined ? 'none' : 'yes'}`,
    );
    this.#resolveReady();
  }

  /** The in-memory view of this worker. */
  stats(): WorkerStats {
    return {
      id: this.id,
      slots: this.#settings.slots,
      running: this.#held.size,
      loaded: [...this.#held.keys()],
      claimed: this.#claimed,
      parked: this.#parked,
      brokerClaims: this.#brokerClaims,
      applying: [...this.#held.values()].flatMap((held) => [...held.applying.keys()]),
      broker: this.broker !== undefined,
    };
  }

  get #free(): number {
    return this.#settings.slots - this.#held.size;
  }

  // ---- main loop ---------------------------------------------------------------------------------------------

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let busy = false;
      try {
        busy = await this.#tick();
        if (this.#failingLooks > 0)
          log().warn(
            { workerId: this.id },
            `daemon worker: the task table answers again (${this.#failingLooks} looks failed)`,
          );
        this.#failingLooks = 0;
      } catch (error) {
        // said once per outage, not at every look
        if (this.#failingLooks === 0)
          log().warn({ err: error, workerId: this.id }, 'daemon worker: a look at the task table failed');
        this.#failingLooks += 1;
      }
      if (this.#stopping) break;
      if (this.broker !== undefined) {
        // the broker brings the work (see #lookNow): the table is a safety net, looked at every poll.maxMs
        await this.#sleep.wait(this.#settings.poll.maxMs);
        continue;
      }
      if (busy) this.#delay.reset();
      await this.#sleep.wait(busy ? 0 : this.#delay.next());
    }
  }

  /** Claims what fits and applies control requests; resolves to whether anything happened. */
  async #tick(): Promise<boolean> {
    let busy = false;
    const free = this.#free;
    if (free > 0) {
      const limit = Math.min(free, 64);
      const held = [...this.#held.keys()];
      const claims =
        this.broker === undefined
          ? await claimTasks(this.storage, this.id, limit, held)
          : await this.#claimUndelivered(limit, held);
      for (const claim of claims) this.#take(claim);
      busy = claims.length > 0;
    }
    if (this.#held.size > 0) busy = (await this.#pollRequests()) || busy;
    return busy;
  }

  /**
   * With a broker: claims the rows that the previous look (a poll period ago) found runnable already — the broker had
   * its chance to deliver them: their task was lost, or they were made runnable where no broker was — and the rows
   * due by a timer (no task is published for those). A row just made runnable is left to its broker delivery.
   */
  async #claimUndelivered(limit: number, held: readonly number[]): Promise<Claim[]> {
    const claimable = await lookForTasks(this.storage, limit, held);
    const due = claimable.filter((row) => row.timer || this.#lookedAt.has(row.pk)).map((row) => row.pk);
    this.#lookedAt = new Set(claimable.map((row) => row.pk));
    return await claimTasks(this.storage, this.id, limit, held, due);
  }

  #take(claim: Claim): void {
    this.#claimed += 1;
    const held: Held = {
      pk: claim.pk,
      lease: new DaemonLease(
        this.storage,
        claim.pk,
        this.id,
        claim.epoch,
        {
          onLost: () => this.#lost(held),
          refuseWrite: () => {
            const state = held.process?.stateObject;
            return state instanceof Excepted && isStorageUnavailable(state.error)
              ? 'the database could not be reached during its step: it is continued from its checkpoint'
              : undefined;
          },
          onFinished: (_lease, woken) => {
            if (woken !== undefined) {
              this.#lookNow();
              void publishContinue(this.broker, woken);
            }
          },
        },
        { parentless: claim.parentId === null },
      ),
      process: undefined,
      applying: new Map(),
      awaited: new Set(claim.waitingFor ?? []),
      inStep: false,
      dropped: undefined,
      releasing: false,
      done: Promise.resolve(),
    };
    this.#held.set(claim.pk, held);
    held.done = withStorage(this.storage, () => this.#drive(held, claim))
      .catch((error: unknown) => {
        const unreachable = held.lease.abandoned || isStorageUnavailable(error);
        if (unreachable)
          log().warn(
            { err: error, pk: claim.pk, workerId: this.id },
            `process<${claim.pk}>: the database could not be reached during its step; it is continued from its checkpoint`,
          );
        if (unreachable || isLeaseLost(error) || held.dropped !== undefined) {
          held.dropped ??= 'lost';
          this.#drop(held);
        } else
          log().error(
            { err: error, pk: claim.pk, workerId: this.id },
            `daemon worker: process<${claim.pk}> failed to run`,
          );
      })
      .finally(() => {
        // the futures its children were awaited with are of no use once the process is not here any more
        this.runner.cancelProcessFutures([...held.awaited]);
        if (this.#held.get(claim.pk) === held) this.#held.delete(claim.pk);
        this.#journals.delete(claim.pk);
        this.#lookNow();
        // one waiting broker task (if any) takes the slot: waking them all would only send the rest back to wait
        const waiter = this.#slotWaiters.values().next();
        if (waiter.done !== true) waiter.value();
      });
  }

  /**
   * Looks at the task table at once (a slot freed, a row made runnable here). With a broker, what becomes runnable
   * is published too and delivered to one worker: a look here as well would race that delivery (a claim won here, and
   * a claim, a row read and a node read for nothing on the worker the broker chose, for nearly every task once
   * several workers run), so with a broker the table is looked at on the clock only, as a safety net.
   */
  #lookNow(): void {
    if (this.broker === undefined) this.#sleep.poke();
  }

  #lost(held: Held): void {
    if (held.dropped !== undefined) {
      log().warn(
        { pk: held.pk, workerId: this.id },
        `a late write of process<${held.pk}> was refused: its lease is another worker's`,
      );
      return;
    }
    held.dropped = 'lost';
    held.lease.giveUp();
    log().warn(
      { pk: held.pk, workerId: this.id },
      `lease of process<${held.pk}> lost: abandoned (it is taken over by another worker)`,
    );
  }

  /**
   * Forgets a dropped process here without writing anything to its node, and gives its row back (runnable) if this
   * worker still holds the lease — a step cut off from the database, a heartbeat lost past the lease time — as soon
   * as the database answers: any worker then continues it from its last checkpoint, replaying the step. When the
   * lease is another worker's already, the release changes nothing.
   */
  #drop(held: Held): void {
    held.lease.giveUp();
    const process = held.process;
    if (process !== undefined) {
      held.process = undefined;
      this.runner.unload(process);
      void process.close().catch(() => undefined);
    }
    if (held.dropped !== 'stop' && !held.releasing) {
      held.releasing = true;
      void this.#releaseWhenReachable(held);
    }
  }

  async #releaseWhenReachable(held: Held): Promise<void> {
    let delay = 100;
    while (!this.#stopping && !this.storage.isClosed) {
      try {
        await this.#release(held, { state: TaskState.RUNNABLE });
        return;
      } catch (failure) {
        if (!isStorageUnavailable(failure)) {
          log().warn(
            { err: failure, pk: held.pk, workerId: this.id },
            `could not give process<${held.pk}> back`,
          );
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(2_000, delay * 2);
    }
  }

  // ---- one process ---------------------------------------------------------------------------------------------

  async #drive(held: Held, claim: Claim): Promise<void> {
    const { pk } = claim;
    // the node is read beside the pending requests (both only read): a round trip less before the step
    const nodeRead = this.#prefetched.get(pk) ?? this.#readNode(pk);
    this.#prefetched.delete(pk);
    // read only when the claim saw some pending (a round trip less before the first step of nearly every claim)
    const { requests } = claim.requested
      ? await pendingRequests(this.storage.executor(), [pk])
      : { requests: [] };
    // Woken for children: when some are still running (a wake-up of an earlier child), park again without loading.
    if (claim.waitingFor !== null && requests.length === 0) {
      if ((await countActive(this.storage.executor(), this.storage, claim.waitingFor)) > 0) {
        await this.#release(held, { state: TaskState.PARKED, waitingFor: claim.waitingFor });
        return;
      }
    }
    const node = await this.#nodeOf(held, nodeRead);
    if (node === undefined) return;
    const process = await this.#load(held, node, claim);
    if (process === undefined) return;
    held.process = process;
    process.provenance.writer.guard = held.lease;
    log().debug({ pk, workerId: this.id }, `claimed process<${pk}> (epoch ${claim.epoch})`);
    await process.ready();
    for (const request of requests) this.#apply(held, request);
    await this.#step(held, process);
  }

  /** The node `pk` (a rejected promise for any failure but its absence, which gives undefined). */
  #readNode(pk: number): Promise<unknown> {
    const read = loadNode(pk, { storage: this.storage }).catch((error: unknown) => {
      if (error instanceof NotExistentError) return undefined;
      throw error;
    });
    // awaited by #nodeOf; a prefetch for a claim that failed is dropped, its failure with it
    read.catch(() => undefined);
    return read;
  }

  /** The process node of a claimed row; undefined (row removed) when it is missing or has terminated. */
  async #nodeOf(held: Held, read: Promise<unknown>): Promise<ProcessNode | undefined> {
    const pk = held.pk;
    const node = await read;
    if (!(node instanceof ProcessNode) || node.isTerminated) {
      if (!(node instanceof ProcessNode))
        log().warn({ pk, workerId: this.id }, `process<${pk}> does not exist: its task is dropped`);
      await this.storage.transaction(async (trx) => {
        await held.lease.check(false);
        const woken = await finishTask(trx, this.storage, pk);
        if (woken !== undefined) void publishContinue(this.broker, woken);
      });
      return undefined;
    }
    return node;
  }

  /** Loads the process from its checkpoint; a class that cannot be found or a corrupt checkpoint excepts it. */
  async #load(held: Held, node: ProcessNode, claim: Claim): Promise<EngineProcessInstance | undefined> {
    const pk = held.pk;
    const attempt = (): Promise<EngineProcessInstance> => this.runner.loadProcess(pk, { node });
    let failure: unknown;
    try {
      return await this.#withJournal(held, claim, attempt);
    } catch (error) {
      failure = error;
    }
    // the checkpoint loader wraps the missing class in a PersistenceError
    const classMissing =
      failure instanceof ClassNotFoundError ||
      (failure instanceof Error && failure.cause instanceof ClassNotFoundError);
    if (classMissing && claim.module !== null) {
      try {
        await importProcessModule(claim.module);
        return await this.#withJournal(held, claim, attempt);
      } catch (error) {
        failure = error;
      }
    }
    if (failure instanceof LeaseLostError) throw failure;
    log().error(
      { err: failure, pk, workerId: this.id },
      `process<${pk}> cannot be continued: marking it excepted (${messageOf(failure)})`,
    );
    await exceptUnderLease(this.storage, held.lease, node, failure);
    return undefined;
  }

  /** Runs `load` with the journal of the children the interrupted step made in place (a takeover). */
  async #withJournal(
    held: Held,
    claim: Claim,
    load: () => Promise<EngineProcessInstance>,
  ): Promise<EngineProcessInstance> {
    if (claim.stepMark !== null && claim.epoch > 1) {
      const journal = await StepJournal.read(this.storage, held.pk, claim.stepMark);
      if (journal.size > 0) this.#journals.set(held.pk, journal);
    }
    return await load();
  }

  async #replayChild(
    parent: EngineProcessInstance,
    processClass: EngineProcessClass,
    label: string,
    options: { readonly submitted: boolean },
  ): Promise<ReplayedChild | undefined> {
    const pk = parent.node.pk;
    const journal = pk === null ? undefined : this.#journals.get(pk);
    if (journal === undefined) return undefined;
    const child = await journal.take(processClass.buildProcessType(), label);
    if (
      child !== undefined &&
      options.submitted &&
      (await readTask(this.storage.executor(), child.pk)) === undefined &&
      (await this.#checkpointed(child.pk))
    ) {
      // the step was lost between making the child and handing it over: hand it over now, under the parent's lease
      await this.storage.transaction(async (trx) => {
        await parent.provenance.writer.guard?.before(trx, {
          pk: pk ?? 0,
          terminal: false,
          checkpoint: false,
        });
        const state = (await countActive(trx, this.storage, [child.pk])) > 0 ? TaskState.RUNNABLE : undefined;
        if (state !== undefined)
          await insertTask(this.storage, {
            pk: child.pk,
            state,
            mode: TaskMode.DAEMON,
            parentId: pk,
            module: moduleOf(processClass),
          });
      });
      this.#lookNow();
      void publishContinue(this.broker, child.pk);
    }
    if (child !== undefined)
      log().info({ pk, child: child.pk }, `process<${String(pk)}>: replayed step reuses child<${child.pk}>`);
    return child;
  }

  /**
   * Whether process `pk` has a checkpoint to be continued from (a child the lost step stored and did not checkpoint
   * has none: the replayed step makes its process for the stored node and hands it over itself).
   */
  async #checkpointed(pk: number): Promise<boolean> {
    const node = await loadNode(pk, { storage: this.storage });
    return node instanceof ProcessNode && node.checkpoint !== null;
  }

  async #step(held: Held, process: EngineProcessInstance): Promise<void> {
    while (!process.hasTerminated()) {
      if (held.dropped !== undefined) return this.#drop(held);
      const park = await parkConditionOf(process, this.storage);
      for (const pk of awaitedBy(process)) held.awaited.add(pk);
      if (park !== undefined) return await this.#park(held, process, park);
      if (this.#stopping) return await this.#unloadAtStop(held, process);
      held.inStep = true;
      try {
        await process.step();
      } finally {
        held.inStep = false;
      }
    }
    await process.provenance.writer.flush().catch((error: unknown) => {
      if (!isLeaseLost(error)) throw error;
    });
    // Ended excepted only because the database went away (its end writes were refused, see refuseWrite): the
    // failure is not the process's; like a lease given up, it is continued from its checkpoint.
    const ended = process.stateObject;
    if (held.lease.abandoned || (ended instanceof Excepted && isStorageUnavailable(ended.error))) {
      log().warn(
        { pk: held.pk, workerId: this.id },
        `process<${held.pk}>: the database could not be reached during its step; it is continued from its checkpoint`,
      );
      held.dropped ??= 'lost';
      return this.#drop(held);
    }
    // The lease was lost during the step (or given up at a missed heartbeat): whatever the process ended in here is not
    // recorded (the fence refused it); it is continued from its checkpoint by the next claim.
    if (held.lease.lost || held.dropped !== undefined || isLeaseLost(process.exception())) {
      held.dropped ??= 'lost';
      return this.#drop(held);
    }
    await this.#settleApplying(held, process);
    log().debug({ pk: held.pk, workerId: this.id }, `process<${held.pk}> ended ${process.state}`);
  }

  /** Unloads a waiting process: its row is parked (or runnable when what it waits for is over meanwhile). */
  async #park(held: Held, process: EngineProcessInstance, park: ParkCondition): Promise<void> {
    await process.provenance.writer.flush();
    if (held.lease.lost) return this.#drop(held);
    if (park.waitingFor !== null) this.runner.cancelProcessFutures(park.waitingFor);
    this.runner.unload(process);
    await process.close();
    const state = await this.#release(held, {
      state: TaskState.PARKED,
      waitingFor: park.waitingFor,
      wakeAt: park.wakeAt,
      paused: park.paused,
    });
    this.#parked += 1;
    if (park.paused) await this.#settleKind(held, 'pause', 'paused');
    log().debug(
      { pk: held.pk, workerId: this.id },
      `parked process<${held.pk}>: ${park.paused ? 'paused' : park.waitingFor !== null ? `waiting for ${park.waitingFor.join(', ')}` : 'until a timer'}${state === TaskState.RUNNABLE ? ' (runnable again at once)' : ''}`,
    );
  }

  /** Gives the lease back; resolves to the state the row is left in. */
  async #release(held: Held, options: Parameters<typeof releaseTask>[5]): Promise<TaskState> {
    const result = await this.storage.transaction((trx) =>
      releaseTask(trx, this.storage, held.pk, this.id, held.lease.epoch, options),
    );
    if (!result.held) {
      this.#lost(held);
      return result.state;
    }
    this.#released.push(held.pk);
    if (result.state === TaskState.RUNNABLE) {
      this.#lookNow();
      void publishContinue(this.broker, held.pk);
    }
    return result.state;
  }

  // ---- control requests ------------------------------------------------------------------------------------

  async #pollRequests(): Promise<boolean> {
    const { requests, malformed } = await pendingRequests(this.storage.executor(), [...this.#held.keys()]);
    for (const bad of malformed) {
      log().error({ workerId: this.id }, bad.reason);
      if (bad.id !== null) await settleRequests(this.storage, [bad.id], ControlState.FAILED, bad.reason);
    }
    let applied = false;
    for (const request of requests) {
      const held = this.#held.get(request.pk);
      if (held?.process === undefined || held.applying.has(request.id)) continue;
      this.#apply(held, request);
      applied = true;
    }
    return applied || malformed.length > 0;
  }

  /** Acts on a request for a process held here; it is settled once its effect shows. */
  #apply(held: Held, request: ControlRequest): void {
    const process = held.process;
    if (process === undefined) return;
    held.applying.set(request.id, request);
    if (process.hasTerminated()) return;
    switch (request.intent) {
      case 'pause':
        void Promise.resolve(process.pause(request.message)).catch(() => undefined);
        break;
      case 'play':
        process.play();
        void this.#settleKind(held, 'play', 'played');
        break;
      case 'kill':
        void Promise.resolve(process.kill(request.message, { forceKill: request.force })).catch(
          () => undefined,
        );
        break;
    }
  }

  async #settleKind(held: Held, intent: ControlRequest['intent'], result: string): Promise<void> {
    const ids = [...held.applying.values()].filter((request) => request.intent === intent).map((r) => r.id);
    for (const id of ids) held.applying.delete(id);
    await settleRequests(this.storage, ids, ControlState.DONE, result);
  }

  /** After the end: kills are done (or failed, when the process ended otherwise); the rest failed. */
  async #settleApplying(held: Held, process: EngineProcessInstance): Promise<void> {
    const { requests } = await pendingRequests(this.storage.executor(), [held.pk]);
    const state = process.state;
    const kills = requests.filter((request) => request.intent === 'kill').map((request) => request.id);
    const others = requests.filter((request) => request.intent !== 'kill').map((request) => request.id);
    if (state === ProcessState.KILLED) await settleRequests(this.storage, kills, ControlState.DONE, 'killed');
    else await settleRequests(this.storage, kills, ControlState.FAILED, `process<${held.pk}> ${state}`);
    await settleRequests(
      this.storage,
      others,
      ControlState.FAILED,
      `process<${held.pk}> has terminated (${state})`,
    );
    held.applying.clear();
  }

  // ---- broker ------------------------------------------------------------------------------------------------

  /**
   * A `continue` task from the broker: the row is claimed and the delivery acknowledged at once (the storage holds
   * the lease, so the broker's consumer_timeout never matters). A task for a process this worker cannot take now
   * (no free slot) is handed back; one without a row is taken over when the process is an aiida-ts one, handed back
   * when its class is unknown here (an aiida-core process), dropped when the process is gone or over. A sender that
   * asked for a reply gets aiida-core's (see continue-reply.ts).
   */
  async #onTask(task: unknown, context: SubscriberContext): Promise<unknown> {
    const parsed = continueTaskSchema.safeParse(task);
    if (!parsed.success) throw new TaskRejectedError('not a continue task of aiida-ts');
    await this.#awaitFreeSlot();
    if (this.#stopping || this.#free <= 0) throw new TaskRejectedError('no free slot');
    const pk = Number(parsed.data.args.pid);
    if (!Number.isInteger(pk)) return false;
    const wanted: ContinueAnswer | undefined =
      context.noReply === true ? undefined : parsed.data.args.nowait ? 'pk' : 'outputs';
    if (this.#held.has(pk)) return this.#answer(pk, wanted, false);
    this.#prefetched.set(pk, this.#readNode(pk));
    let claim: Claim | undefined;
    try {
      claim = await claimTask(this.storage, this.id, pk);
    } finally {
      if (claim === undefined) this.#prefetched.delete(pk);
    }
    // claimed here meanwhile (a look at the table found it): no row to read
    if (claim === undefined && this.#held.has(pk)) return this.#answer(pk, wanted, false);
    if (claim === undefined && (await readTask(this.storage.executor(), pk)) === undefined) {
      const adopted = await this.#adoptUnrecorded(pk);
      if (adopted === 'reject') {
        // A process of aiida-core (a Python class) on a shared broker: never marked excepted here, the task
        // goes back to the queue for an aiida-core worker (issue 11). Said once per process, not per redelivery.
        if (!this.#handedBack.has(pk)) {
          this.#handedBack.add(pk);
          log().warn(
            { pk, workerId: this.id },
            `process<${pk}> is not an aiida-ts process (a Python class?): its task is handed back to the broker for an aiida-core daemon worker`,
          );
        }
        throw new TaskRejectedError(`process<${pk}> is not an aiida-ts process`);
      }
      if (adopted === 'adopted') claim = await claimTask(this.storage, this.id, pk);
    }
    if (claim === undefined) return this.#answer(pk, wanted, false);
    this.#brokerClaims += 1;
    this.#take(claim);
    return this.#answer(pk, wanted, true);
  }

  /** Until a slot is free, the worker stops, or SLOT_WAIT_MS have passed (whichever first). */
  async #awaitFreeSlot(): Promise<void> {
    const deadline = Date.now() + SLOT_WAIT_MS;
    while (!this.#stopping && this.#free <= 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#slotWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, deadline - Date.now());
        this.#slotWaiters.add(wake);
      });
    }
  }

  /**
   * The reply to a `continue` task, as aiida-core's `ProcessLauncher` gives it: `false` for a process that does not
   * exist; the outputs (a plain mapping) or the failure of one that had already terminated; otherwise the pk as a
   * YAML document (`nowait`), or, once the process ends wherever it runs, its outputs as a YAML document or its
   * failure. The task is acknowledged before that end (the lease, not the delivery, holds the process). Without a
   * reply wanted, whether this worker took the process.
   */
  async #answer(pk: number, wanted: ContinueAnswer | undefined, claimed: boolean): Promise<unknown> {
    if (wanted === undefined) return claimed;
    if (!claimed) {
      let node: unknown;
      try {
        node = await loadNode(pk, { storage: this.storage });
      } catch (error) {
        if (error instanceof NotExistentError) return false;
        throw error;
      }
      if (!(node instanceof ProcessNode)) return false;
      if (node.isTerminated) return terminatedAnswer(node);
    }
    if (wanted === 'pk') return continuedPkAnswer(pk);
    // Its end is seen here when it runs here to the end (held.done), else in the storage: an excepted process is not
    // broadcast (as in aiida-core), so the node is read at least every second while the sender waits.
    const ended = new ProcessFuture(pk, {
      storage: this.storage,
      communicator: this.broker,
      pollInterval: Math.min(this.runner.pollInterval, REPLY_POLL_SECONDS),
      whenLocal: this.#held.get(pk)?.done,
    });
    return answerLater(ended.then(endedAnswer));
  }

  /** A broker task for a process without a row: recorded as runnable when it is an aiida-ts process. */
  async #adoptUnrecorded(pk: number): Promise<'adopted' | 'reject' | 'drop'> {
    let node: unknown;
    try {
      node = await loadNode(pk, { storage: this.storage });
    } catch (error) {
      if (error instanceof NotExistentError) return 'drop';
      throw error;
    }
    if (!(node instanceof ProcessNode) || node.isTerminated) return 'drop';
    const type = node.processType;
    if (type === null || processClassRegistry.find(type) === undefined) return 'reject';
    await insertTask(this.storage, {
      pk,
      state: TaskState.RUNNABLE,
      mode: TaskMode.DAEMON,
    });
    return 'adopted';
  }

  // ---- liveness ----------------------------------------------------------------------------------------------

  async #heartbeat(): Promise<void> {
    if (this.#exit !== undefined && !this.#stopping) return;
    try {
      const present = await this.#registration.heartbeat();
      if (!present) {
        // Judged dead while cut off: every lease is gone. Drop the processes and come back as a new worker.
        log().warn(
          { workerId: this.id },
          `daemon worker ${this.id} was presumed dead: its processes are dropped`,
        );
        this.#dropAll();
        if (!this.#stopping) await this.#registration.register();
      }
      this.#lastBeat = Date.now();
    } catch (error) {
      log().warn({ err: error, workerId: this.id }, 'daemon worker: heartbeat failed');
      // Past the lease time the leases may belong to others: stop acting on them (no writes would pass anyway).
      if (Date.now() - this.#lastBeat > this.#settings.leaseTtlMs) this.#dropAll();
    }
  }

  #dropAll(): void {
    for (const held of this.#held.values()) {
      if (held.dropped === undefined) held.dropped = 'lost';
      // nothing more is written for it, not even by the step still running (its lease may be another's by now)
      held.lease.giveUp();
      if (!held.inStep) this.#drop(held);
    }
  }

  async #sweep(): Promise<void> {
    if (this.#stopping) return;
    this.#sweeps += 1;
    try {
      const dead = await deadWorkerIds(this.storage);
      const others = dead.daemon.filter((id) => id !== this.id);
      const released = await releaseRowsOf(this.storage, others);
      for (const pk of released) {
        log().warn({ pk, workerId: this.id }, `sweeper: process<${pk}> of a dead worker is runnable again`);
        void publishContinue(this.broker, pk);
      }
      if (released.length > 0) this.#lookNow();
      await forgetDeadWorkers(this.storage, [...others, ...dead.runner]);
      if (this.#sweeps % 5 === 0) {
        const woken = await wakeSatisfied(this.storage);
        for (const pk of woken) void publishContinue(this.broker, pk);
        if (woken.length > 0) this.#lookNow();
      }
    } catch (error) {
      log().warn({ err: error, workerId: this.id }, 'daemon worker: the sweep failed');
    }
  }

  // ---- stop --------------------------------------------------------------------------------------------------

  async #unloadAtStop(held: Held, process: EngineProcessInstance): Promise<void> {
    await process.provenance.writer.flush();
    if (held.lease.lost) return this.#drop(held);
    this.runner.unload(process);
    await process.close();
    await this.#release(held, { state: TaskState.RUNNABLE });
  }

  /**
   * Stops the worker: no more claims; processes between steps are unloaded and their leases given back; those in a
   * step finish it first, up to the stop bound (or at once with `force`), after which they are left to the other
   * workers (this worker's record is removed, so they are taken over at once). Never waits longer than the bound.
   */
  stop(
    options: { readonly force?: boolean; readonly reason?: WorkerExit['reason'] } = {},
  ): Promise<WorkerExit> {
    if (options.force === true) {
      this.#stopForced = true;
      this.#stopRequested?.(true);
    }
    this.#exit ??= this.#stop(options.reason ?? 'stopped').then((exit) => {
      this.#resolveStopped(exit);
      return exit;
    });
    return this.#exit;
  }

  async #stop(reason: WorkerExit['reason']): Promise<WorkerExit> {
    this.#stopping = true;
    this.#sleep.poke();
    for (const wake of [...this.#slotWaiters]) wake();
    log().info({ workerId: this.id }, `daemon worker ${this.id} stopping: ${this.#held.size} processes held`);
    await this.#registration.markStopping().catch(() => undefined);
    if (this.broker !== undefined && this.#subscription !== undefined && !this.broker.isClosed())
      await this.broker.removeTaskSubscriber(this.#subscription).catch(() => undefined);
    await this.#loop;
    const all = Promise.all([...this.#held.values()].map((held) => held.done));
    const forced = new Promise<boolean>((resolve) => {
      this.#stopRequested = resolve;
      if (this.#stopForced) resolve(true);
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#settings.stopTimeoutMs);
    });
    const late = await Promise.race([all.then(() => false), forced, bound]);
    clearTimeout(timer);
    if (late) {
      for (const held of this.#held.values()) {
        held.dropped = 'stop';
        this.#abandoned.push(held.pk);
        this.#drop(held);
      }
    }
    for (const handle of this.#timers) clearInterval(handle);
    this.#timers = [];
    await this.#registration.unregister().catch((error: unknown) => {
      log().warn({ err: error, workerId: this.id }, 'daemon worker: could not remove its record');
    });
    if (!late) await this.runner.close().catch(() => undefined);
    const exit: WorkerExit = {
      workerId: this.id,
      reason: this.#fatal === undefined ? reason : 'fatal',
      released: [...new Set(this.#released)].filter((pk) => !this.#abandoned.includes(pk)),
      abandoned: this.#abandoned,
      ...(this.#fatal === undefined ? {} : { error: this.#fatal }),
    };
    log().info(
      { workerId: this.id },
      `daemon worker ${this.id} stopped: released [${exit.released.join(', ')}], abandoned [${exit.abandoned.join(', ')}]`,
    );
    return exit;
  }

  /** Resolves when the worker has stopped (by {@link stop}, a signal or an abort). */
  get done(): Promise<WorkerExit> {
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
