import type { StorageBackend } from '../../storage/backend.js';
import { getStorage } from '../../storage/context.js';
import { TaskMode, TaskState, WorkerKind } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { aiidaTsTablesReadable } from '../../storage/aiida-ts-schema/schema-state.js';
import { activeProcesses, callersOf } from './process-rows.js';
import { readTasks, type TaskRow } from './task-table.js';
import { DAEMON_SCHEMA_VERSION, listWorkers, type WorkerInfo } from './worker-registry.js';

/** Who is responsible for a process, as `verdi process list` shows it. */
export interface Ownership {
  readonly pk: number;
  /** `none`: no record (a process of aiida-core, one run inside a step of another, or one `repair` can fix). */
  readonly state: TaskState | 'none';
  readonly mode: TaskMode | null;
  /** The worker or runner holding it (a running record), or, for a process without a record, its root caller's. */
  readonly owner: WorkerInfo | null;
  /**
   * Its owner is gone (a killed worker or script, a lost database): a daemon process is taken over by the next
   * sweep; a script's process stays as it is until `verdi process kill` or `repair`.
   */
  readonly orphaned: boolean;
  readonly epoch: number;
}

/** Options of the ownership queries. */
export interface OwnershipOptions {
  readonly storage?: StorageBackend;
}

/** How far up the callers a process without a record is followed to the record of the process running it. */
const MAX_DEPTH = 32;

/**
 * Who runs each of these processes (default: every active one). A process without a record of its own (run inside a
 * step of another: a calcfunction, a nested run) is judged by the nearest caller that has one.
 */
export async function ownershipOf(
  pks?: readonly number[],
  options: OwnershipOptions = {},
): Promise<Map<number, Ownership>> {
  const storage = options.storage ?? getStorage();
  const wanted = pks ?? (await activeProcesses(storage)).map((row) => row.pk);
  const result = new Map<number, Ownership>();
  if (wanted.length === 0) return result;
  const readable = await aiidaTsTablesReadable(storage, DAEMON_SCHEMA_VERSION);
  const workers = new Map((readable ? await listWorkers(storage) : []).map((worker) => [worker.id, worker]));
  const rows = new Map(
    (readable ? await readTasks(storage.executor(), wanted) : []).map((row) => [row.pk, row]),
  );
  const judge = (row: TaskRow): { owner: WorkerInfo | null; orphaned: boolean } => {
    const owner = row.owner === null ? null : (workers.get(row.owner) ?? null);
    return { owner, orphaned: row.state === TaskState.RUNNING && (owner === null || !owner.alive) };
  };
  // processes without a record: follow their callers up to one that has one
  let pending = wanted.filter((pk) => !rows.has(pk));
  const rootOf = new Map<number, number>(pending.map((pk) => [pk, pk]));
  for (let depth = 0; depth < MAX_DEPTH && pending.length > 0 && readable; depth += 1) {
    const heads = [...new Set(pending.map((pk) => rootOf.get(pk)!))];
    const callers = await callersOf(storage, heads);
    const callerRows = new Map(
      (await readTasks(storage.executor(), [...new Set(callers.values())])).map((row) => [row.pk, row]),
    );
    for (const [pk, row] of callerRows) rows.set(pk, row);
    const next: number[] = [];
    for (const pk of pending) {
      const caller = callers.get(rootOf.get(pk)!);
      if (caller === undefined) continue;
      rootOf.set(pk, caller);
      if (!callerRows.has(caller)) next.push(pk);
    }
    pending = next;
  }
  for (const pk of wanted) {
    const own = rows.get(pk);
    if (own !== undefined) {
      const { owner, orphaned } = judge(own);
      result.set(pk, { pk, state: own.state, mode: own.mode, owner, orphaned, epoch: own.epoch });
      continue;
    }
    const root = rootOf.get(pk);
    const rootRow = root === undefined || root === pk ? undefined : rows.get(root);
    const judged = rootRow === undefined ? { owner: null, orphaned: false } : judge(rootRow);
    result.set(pk, {
      pk,
      state: 'none',
      mode: null,
      owner: judged.owner,
      orphaned: judged.orphaned,
      epoch: 0,
    });
  }
  return result;
}

/** The daemon's load, for the warning of `verdi process list` when worker slots run short. */
export interface SlotUsage {
  /** Live daemon workers. */
  readonly workers: number;
  /** Their slots together. */
  readonly slots: number;
  /** Daemon processes held by live workers now. */
  readonly running: number;
  readonly parked: number;
  readonly runnable: number;
}

/** How the daemon's slots are used now. */
export async function slotUsage(options: OwnershipOptions = {}): Promise<SlotUsage> {
  const storage = options.storage ?? getStorage();
  if (!(await aiidaTsTablesReadable(storage, DAEMON_SCHEMA_VERSION)))
    return { workers: 0, slots: 0, running: 0, parked: 0, runnable: 0 };
  const workers = (await listWorkers(storage, { kind: WorkerKind.DAEMON })).filter((worker) => worker.alive);
  const rows = (await readTasks(storage.executor())).filter((row) => row.mode === TaskMode.DAEMON);
  return {
    workers: workers.length,
    slots: workers.reduce((total, worker) => total + worker.slots, 0),
    running: workers.reduce((total, worker) => total + worker.running, 0),
    parked: rows.filter((row) => row.state === TaskState.PARKED).length,
    runnable: rows.filter((row) => row.state === TaskState.RUNNABLE).length,
  };
}
