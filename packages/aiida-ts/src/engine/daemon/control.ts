import type { Kysely } from 'kysely';
import type { Communicator } from 'kiwipy-ts';
import { MessageBuilder, parseCheckpointText } from 'plumpy-ts';
import { InvalidOperationError, NotExistentError } from '../../errors.js';
import { loadNode } from '../../orm/loaders.js';
import { ProcessAttribute, ProcessNode } from '../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage } from '../../storage/context.js';
import type { Database } from '../../storage/schema.js';
import {
  ControlState,
  TaskMode,
  TaskState,
  WorkerKind,
} from '../../storage/aiida-ts-schema/daemon-tables.js';
import { ensureAiidaTsSchema } from '../../storage/aiida-ts-schema/schema-state.js';
import { withAiidaTsTables } from '../../storage/aiida-ts-schema/schema.js';
import { getLogger } from '../logging.js';
import {
  ControlIntent,
  insertRequest,
  readRequests,
  settleRequests,
  type ControlRequest,
} from './control-table.js';
import { publishContinue } from './hand-over.js';
import { activeChildren, activeProcesses } from './process-rows.js';
import { finishTask, readTask } from './task-table.js';
import { listWorkers, type WorkerInfo } from './worker-registry.js';

/** Options of {@link requestControl}. */
export interface ControlOptions {
  /** Kill at once, even in the middle of a step (aiida's `force_kill`; a CalcJob's job is then not cancelled). */
  readonly force?: boolean;
  /** The message (the node's `process_status`). */
  readonly message?: string | null;
  readonly storage?: StorageBackend;
  /** A broker to reach running processes at once by RPC; none: their owners pick requests up by polling. */
  readonly communicator?: Communicator | null;
  /** How long an RPC may take before the request is left to the owner's polling (ms, default 5000). */
  readonly rpcTimeoutMs?: number;
}

/** Node types of CalcJobs: killing one in place would leave its scheduler job running. */
const CALCJOB_NODE_TYPE = 'process.calculation.calcjob.';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Asks processes to pause, play or be killed, and resolves at once with one recorded request per process (table
 * `aiida_ts_control`); `'all'` means every active process (for `play`, every paused one). The request is honoured by
 * whoever runs the process next:
 * - a process running in a live worker or runner: at once by RPC over the broker when there is one, else the owner
 *   picks the request up at its next look (a fraction of a second);
 * - a parked or queued daemon process: pause and play are applied in place (the node's `paused` flag and status, and
 *   the checkpoint's); a kill wakes it, so that the next worker loads it and kills it (its children are killed, a
 *   CalcJob's job is cancelled);
 * - a process whose owner is dead (a killed script or worker) or that has no record, when no daemon worker is alive:
 *   applied in place (a kill marks the node killed with the message, seals it, and kills its children the same way;
 *   the lease's epoch moves on, so a late write of the old owner is refused). A CalcJob with no live worker to
 *   cancel its job is left pending.
 * A missing pk, a node that is not a process or a terminated process gets a `failed` request saying why.
 */
export async function requestControl(
  target: number | readonly number[] | 'all',
  intent: ControlIntent,
  options: ControlOptions = {},
): Promise<ControlRequest[]> {
  const storage = options.storage ?? getStorage();
  await ensureAiidaTsSchema(storage);
  const pks =
    target === 'all'
      ? (await activeProcesses(storage, { pausedOnly: intent === ControlIntent.PLAY })).map((row) => row.pk)
      : typeof target === 'number'
        ? [target]
        : [...target];
  const context: RouteContext = {
    storage,
    communicator: options.communicator ?? undefined,
    workers: await listWorkers(storage),
    message: options.message ?? null,
    force: options.force ?? false,
    rpcTimeoutMs: options.rpcTimeoutMs ?? 5_000,
  };
  const requests: ControlRequest[] = [];
  for (const pk of pks) requests.push(await requestOne(context, pk, intent));
  return await readRequests(
    storage.executor(),
    requests.map((request) => request.id),
  );
}

interface RouteContext {
  readonly storage: StorageBackend;
  readonly communicator: Communicator | undefined;
  readonly workers: readonly WorkerInfo[];
  readonly message: string | null;
  readonly force: boolean;
  readonly rpcTimeoutMs: number;
}

async function requestOne(context: RouteContext, pk: number, intent: ControlIntent): Promise<ControlRequest> {
  const { storage } = context;
  const fields = { message: context.message, force: context.force };
  let node: unknown;
  try {
    node = await loadNode(pk, { storage });
  } catch (error) {
    if (!(error instanceof NotExistentError)) throw error;
    return await insertRequest(storage, pk, intent, {
      ...fields,
      state: ControlState.FAILED,
      result: `no process with pk ${pk}`,
    });
  }
  if (!(node instanceof ProcessNode))
    return await insertRequest(storage, pk, intent, {
      ...fields,
      state: ControlState.FAILED,
      result: `node<${pk}> is not a process`,
    });
  if (node.isTerminated) {
    return await insertRequest(storage, pk, intent, {
      ...fields,
      state: ControlState.FAILED,
      result: `process<${pk}> has already terminated (${String(node.processState)})`,
    });
  }
  const request = await insertRequest(storage, pk, intent, fields);
  try {
    await route(context, request, node);
  } catch (error) {
    getLogger('aiida').warn(
      { err: error, pk },
      `the ${intent} request of process<${pk}> is left to its owner`,
    );
  }
  return request;
}

async function route(context: RouteContext, request: ControlRequest, node: ProcessNode): Promise<void> {
  const { storage } = context;
  const pk = request.pk;
  const row = await readTask(storage.executor(), pk);
  const owner =
    row?.owner === null || row === undefined ? undefined : context.workers.find((w) => w.id === row.owner);
  const daemonAlive = context.workers.some((w) => w.kind === WorkerKind.DAEMON && w.alive && !w.stopping);
  if (row?.state === TaskState.RUNNING && owner?.alive === true) {
    await tryRpc(context, request);
    return;
  }
  // Without a record, a process may still run elsewhere (an aiida-core daemon on the same broker): ask it first.
  if (row === undefined && (await tryRpc(context, request))) return;
  const takenOver = row !== undefined && row.state === TaskState.RUNNING;
  if (request.intent === ControlIntent.KILL) {
    const wakeable = row !== undefined && row.mode === TaskMode.DAEMON && daemonAlive;
    if (wakeable) {
      // The next worker loads it and kills it (hooks run: children killed, a CalcJob's job cancelled).
      if (!takenOver) await wake(storage, pk);
      await publishContinue(context.communicator, pk);
      return;
    }
    if (node.nodeType.startsWith(CALCJOB_NODE_TYPE) && node.base.attributes.get('job_id', null) !== null)
      return;
    await killInPlace(context, request, node);
    return;
  }
  if (takenOver && row.mode === TaskMode.DAEMON && daemonAlive) return; // the sweeper hands it to a live worker
  if (request.intent === ControlIntent.PAUSE) await pauseInPlace(context, request, node);
  else await playInPlace(context, request, node);
}

/** Sends the request by RPC to the running process; resolves to whether it answered (the request is then settled). */
async function tryRpc(context: RouteContext, request: ControlRequest): Promise<boolean> {
  const communicator = context.communicator;
  if (communicator === undefined || communicator.isClosed()) return false;
  const message =
    request.intent === ControlIntent.KILL
      ? MessageBuilder.kill(request.message, request.force)
      : request.intent === ControlIntent.PAUSE
        ? MessageBuilder.pause(request.message)
        : MessageBuilder.play(request.message);
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      Promise.resolve(communicator.rpcSend(String(request.pk), message)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new InvalidOperationError('no answer in time')),
          context.rpcTimeoutMs,
        );
      }),
    ]);
    const result =
      answer === false ? `the process did not ${request.intent}` : `${request.intent} done by RPC`;
    await settleRequests(
      context.storage,
      [request.id],
      answer === false ? ControlState.FAILED : ControlState.DONE,
      result,
    );
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Makes a queued or parked daemon process runnable (a kill is applied by the worker that loads it). */
async function wake(storage: StorageBackend, pk: number): Promise<void> {
  await withAiidaTsTables(storage.executor())
    .updateTable('aiida_ts_task')
    .set({ state: TaskState.RUNNABLE, paused: 0 })
    .where('process_id', '=', pk)
    .where('state', 'in', [TaskState.PARKED, TaskState.RUNNABLE])
    .execute();
}

/**
 * Takes the record of a process that nobody runs (parked, queued, owned by the dead, or none) for an in-place change,
 * in the current transaction: the epoch moves on, so that its old owner can no longer write. False when a live
 * worker claimed it meanwhile (the request is then left to that worker).
 */
async function takeRecord(db: Kysely<Database>, pk: number, live: ReadonlySet<string>): Promise<boolean> {
  const row = await readTask(db, pk);
  if (row === undefined) return true;
  if (row.state === TaskState.RUNNING && row.owner !== null && live.has(row.owner)) return false;
  const updated = await withAiidaTsTables(db)
    .updateTable('aiida_ts_task')
    .set((eb) => ({ epoch: eb('epoch', '+', 1), owner: null }))
    .where('process_id', '=', pk)
    .where('epoch', '=', row.epoch)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}

function liveOwners(context: RouteContext): Set<string> {
  return new Set(context.workers.filter((w) => w.alive).map((w) => w.id));
}

/** The checkpoint of `node` with `change` applied to its JSON (undefined when it has none or it is unreadable). */
function editedCheckpoint(
  node: ProcessNode,
  change: (checkpoint: Record<string, unknown>) => void,
): string | undefined {
  const text = node.checkpoint;
  if (text === null) return undefined;
  try {
    const checkpoint = { ...parseCheckpointText(text, node.pk ?? 0) } as Record<string, unknown>;
    change(checkpoint);
    return JSON.stringify(checkpoint);
  } catch {
    return undefined;
  }
}

async function pauseInPlace(
  context: RouteContext,
  request: ControlRequest,
  node: ProcessNode,
): Promise<void> {
  const { storage } = context;
  const pk = request.pk;
  await storage.transaction(async (trx) => {
    if (!(await takeRecord(trx, pk, liveOwners(context)))) return;
    await node.refresh();
    if (node.isTerminated || node.paused) {
      await settleRequests(
        storage,
        [request.id],
        ControlState.DONE,
        node.isTerminated ? 'terminated' : 'paused',
        trx,
      );
      return;
    }
    const status = node.processStatus;
    const checkpoint = editedCheckpoint(node, (saved) => {
      saved['paused'] = true;
      saved['pre_paused_status'] = saved['status'] ?? null;
      if (request.message !== null) saved['status'] = request.message;
    });
    const set: Record<string, unknown> = { [ProcessAttribute.PAUSED]: true };
    if (request.message !== null) set[ProcessAttribute.PROCESS_STATUS] = request.message;
    else if (status !== null) set[ProcessAttribute.PROCESS_STATUS] = status;
    if (checkpoint !== undefined) set[ProcessAttribute.CHECKPOINT] = checkpoint;
    await node.updateAttributes(set, []);
    await withAiidaTsTables(trx)
      .updateTable('aiida_ts_task')
      .set({ state: TaskState.PARKED, paused: 1 })
      .where('process_id', '=', pk)
      .execute();
    await settleRequests(storage, [request.id], ControlState.DONE, 'paused', trx);
  });
}

async function playInPlace(context: RouteContext, request: ControlRequest, node: ProcessNode): Promise<void> {
  const { storage } = context;
  const pk = request.pk;
  let runnable = false;
  await storage.transaction(async (trx) => {
    if (!(await takeRecord(trx, pk, liveOwners(context)))) return;
    await node.refresh();
    if (node.isTerminated || !node.paused) {
      await settleRequests(
        storage,
        [request.id],
        ControlState.DONE,
        node.isTerminated ? 'terminated' : 'not paused',
        trx,
      );
      return;
    }
    let previous: unknown = null;
    const checkpoint = editedCheckpoint(node, (saved) => {
      saved['paused'] = false;
      previous = saved['pre_paused_status'] ?? null;
      saved['status'] = previous;
      saved['pre_paused_status'] = null;
    });
    const set: Record<string, unknown> = {};
    const remove: string[] = [ProcessAttribute.PAUSED];
    if (typeof previous === 'string') set[ProcessAttribute.PROCESS_STATUS] = previous;
    else remove.push(ProcessAttribute.PROCESS_STATUS);
    if (checkpoint !== undefined) set[ProcessAttribute.CHECKPOINT] = checkpoint;
    await node.updateAttributes(set, remove);
    const updated = await withAiidaTsTables(trx)
      .updateTable('aiida_ts_task')
      .set({ state: TaskState.RUNNABLE, paused: 0 })
      .where('process_id', '=', pk)
      .where('mode', '=', TaskMode.DAEMON)
      .executeTakeFirst();
    runnable = Number(updated.numUpdatedRows) > 0;
    await settleRequests(storage, [request.id], ControlState.DONE, 'played', trx);
  });
  if (runnable) await publishContinue(context.communicator, pk);
}

async function killInPlace(context: RouteContext, request: ControlRequest, node: ProcessNode): Promise<void> {
  const { storage } = context;
  const pk = request.pk;
  let killed = false;
  await storage.transaction(async (trx) => {
    if (!(await takeRecord(trx, pk, liveOwners(context)))) return;
    await node.refresh();
    if (node.isTerminated) {
      await settleRequests(
        storage,
        [request.id],
        ControlState.FAILED,
        `process<${pk}> ${String(node.processState)}`,
        trx,
      );
      return;
    }
    const set: Record<string, unknown> = {
      [ProcessAttribute.PROCESS_STATE]: 'killed',
      [ProcessAttribute.SEALED]: true,
    };
    if (request.message !== null) set[ProcessAttribute.PROCESS_STATUS] = request.message;
    await node.updateAttributes(set, [ProcessAttribute.CHECKPOINT, ProcessAttribute.PAUSED]);
    const woken = await finishTask(trx, storage, pk);
    if (woken !== undefined) void publishContinue(context.communicator, woken);
    await settleRequests(storage, [request.id], ControlState.DONE, 'killed', trx);
    killed = true;
  });
  if (!killed) return;
  await context.communicator
    ?.broadcastSend(null, { sender: pk, subject: `state_changed.${String(node.processState)}.killed` })
    .catch(() => undefined);
  // as a killed process does: its children are killed too, with aiida's message
  for (const child of await activeChildren(storage, pk)) {
    try {
      await requestOne({ ...context, message: `Killed by parent<${pk}>` }, child, ControlIntent.KILL);
    } catch (error) {
      getLogger('aiida').warn(
        { err: error, pk: child },
        `could not kill child<${child}>: ${messageOf(error)}`,
      );
    }
  }
}

/** Options of {@link awaitControl}. */
export interface AwaitControlOptions {
  /** How long to wait (ms; default `daemon.timeout`, 2 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly storage?: StorageBackend;
}

/**
 * Waits until each request is settled and its process shows it (paused, no longer paused, terminated), or until the
 * timeout; resolves with the requests done (or failed) and those still pending.
 */
export async function awaitControl(
  requests: readonly ControlRequest[],
  options: AwaitControlOptions = {},
): Promise<{ readonly done: ControlRequest[]; readonly pending: ControlRequest[] }> {
  const storage = options.storage ?? getStorage();
  const deadline = Date.now() + (options.timeoutMs ?? 2_000);
  let delay = 20;
  for (;;) {
    const current = await readRequests(
      storage.executor(),
      requests.map((request) => request.id),
    );
    const done: ControlRequest[] = [];
    const pending: ControlRequest[] = [];
    for (const request of current) ((await shows(storage, request)) ? done : pending).push(request);
    if (pending.length === 0 || Date.now() >= deadline || options.signal?.aborted === true)
      return { done, pending };
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
    delay = Math.min(500, delay * 2);
  }
}

/** Whether a request is over: failed, or done and visible on the node. */
async function shows(storage: StorageBackend, request: ControlRequest): Promise<boolean> {
  if (request.state === ControlState.FAILED) return true;
  if (request.state === ControlState.PENDING && request.intent !== ControlIntent.KILL) return false;
  let node: unknown;
  try {
    node = await loadNode(request.pk, { storage });
  } catch {
    return true;
  }
  if (!(node instanceof ProcessNode) || node.isTerminated) return true;
  if (request.state === ControlState.PENDING) return false;
  if (request.intent === ControlIntent.PAUSE) return node.paused;
  if (request.intent === ControlIntent.PLAY) return !node.paused;
  return false;
}
