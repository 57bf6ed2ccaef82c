import type { Communicator } from 'kiwipy-ts';
import { loadNode } from '../../../orm/loaders.js';
import { ProcessNode } from '../../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../../storage/backend.js';
import { getStorage } from '../../../storage/context.js';
import {
  ControlState,
  TaskMode,
  TaskState,
  WorkerKind,
} from '../../../storage/aiida-ts-schema/daemon-tables.js';
import { ensureAiidaTsSchema } from '../../../storage/aiida-ts-schema/schema-state.js';
import { withAiidaTsTables } from '../../../storage/aiida-ts-schema/schema.js';
import { pendingRequests, settleRequests } from '../control-table.js';
import { publishContinue } from '../hand-over.js';
import { ownershipOf } from '../ownership.js';
import { activeProcesses, callersOf } from '../process-rows.js';
import { finishTask, insertTask, readTasks, releaseRowsOf } from '../task-table.js';
import { listWorkers } from '../worker-registry.js';

/** One thing `verdi process repair` found (and fixed, unless it was a dry run). */
export interface RepairFinding {
  readonly pk: number;
  readonly kind:
    | 'lost' // active, no record, no caller: nothing will ever continue it
    | 'lost-no-checkpoint' // the same, without a checkpoint to continue from
    | 'orphaned-script' // its script's runner is gone
    | 'orphaned-worker' // its worker is gone and no worker is alive to take it over
    | 'terminated-record' // a record left for a process that has terminated
    | 'stale-request'; // a pending pause/play/kill of a terminated process
  /** What was (or would be) done. */
  readonly action: string;
}

/** Options of {@link repairProcesses}. */
export interface RepairOptions {
  readonly storage?: StorageBackend;
  /** Only report. */
  readonly dryRun?: boolean;
  /** The profile's broker, to announce re-queued processes at once (the workers find them by polling anyway). */
  readonly communicator?: Communicator | null;
}

/**
 * Looks for processes nothing will continue and for leftovers, and fixes them (aiida's `verdi process repair`):
 * - an active process without a record and without a caller (lost: a submission whose record was never written, a
 *   process of an aiida-core daemon): given a runnable daemon record when it has a checkpoint, else reported;
 * - a process of a script whose runner is gone: handed to the daemon when it has a checkpoint;
 * - the running records of dead daemon workers when no worker is alive to take them over: made runnable;
 * - records of terminated processes: removed (their parents woken as the end of a child wakes them);
 * - pending control requests of terminated processes: failed.
 * With the daemon's own sweeps, nothing should be found; this is the safety net and the report.
 */
export async function repairProcesses(options: RepairOptions = {}): Promise<RepairFinding[]> {
  const storage = options.storage ?? getStorage();
  const dryRun = options.dryRun === true;
  if (!dryRun) await ensureAiidaTsSchema(storage);
  const findings: RepairFinding[] = [];
  const communicator = options.communicator ?? undefined;
  const active = await activeProcesses(storage);
  const activePks = new Set(active.map((row) => row.pk));
  const owners = await ownershipOf([...activePks], { storage });
  const workers = await listWorkers(storage);
  const daemonAlive = workers.some((worker) => worker.kind === WorkerKind.DAEMON && worker.alive);
  const callers = await callersOf(storage, [...activePks]);
  const deadDaemonOwners = new Set<string>();

  for (const pk of activePks) {
    const ownership = owners.get(pk);
    if (ownership === undefined) continue;
    if (ownership.state === 'none') {
      if (ownership.owner !== null) continue; // run inside a step of a process that has a record
      const caller = callers.get(pk);
      if (caller !== undefined && activePks.has(caller)) continue; // its caller replays it
      const node = await loadNode(pk, { storage });
      if (!(node instanceof ProcessNode)) continue;
      if (node.checkpoint === null) {
        findings.push({
          pk,
          kind: 'lost-no-checkpoint',
          action: 'left as it is: no checkpoint to continue from (end it with `verdi process kill`)',
        });
        continue;
      }
      findings.push({ pk, kind: 'lost', action: 'queued for the daemon' });
      if (!dryRun) {
        await insertTask(storage, { pk, state: TaskState.RUNNABLE, mode: TaskMode.DAEMON, module: null });
        await publishContinue(communicator, pk);
      }
      continue;
    }
    if (!ownership.orphaned) continue;
    if (ownership.mode === TaskMode.LOCAL) {
      const node = await loadNode(pk, { storage });
      if (!(node instanceof ProcessNode)) continue;
      if (node.checkpoint === null) {
        findings.push({
          pk,
          kind: 'orphaned-script',
          action:
            'left as it is: its script is gone and it has no checkpoint (end it with `verdi process kill`)',
        });
        continue;
      }
      findings.push({ pk, kind: 'orphaned-script', action: 'handed to the daemon (its script is gone)' });
      if (!dryRun) {
        await withAiidaTsTables(storage.executor())
          .updateTable('aiida_ts_task')
          .set((eb) => ({
            state: TaskState.RUNNABLE,
            mode: TaskMode.DAEMON,
            owner: null,
            epoch: eb('epoch', '+', 1),
          }))
          .where('process_id', '=', pk)
          .where('state', '=', TaskState.RUNNING)
          .execute();
        await publishContinue(communicator, pk);
      }
      continue;
    }
    if (ownership.mode === TaskMode.DAEMON && !daemonAlive && ownership.owner !== null) {
      deadDaemonOwners.add(ownership.owner.id);
      findings.push({ pk, kind: 'orphaned-worker', action: 'made runnable for the next worker' });
    }
  }
  if (!dryRun && deadDaemonOwners.size > 0) await releaseRowsOf(storage, [...deadDaemonOwners]);

  // records of processes that are no longer active
  for (const row of await readTasks(storage.executor())) {
    if (activePks.has(row.pk)) continue;
    findings.push({ pk: row.pk, kind: 'terminated-record', action: 'record removed' });
    if (!dryRun) {
      const woken = await storage.transaction((trx) => finishTask(trx, storage, row.pk));
      if (woken !== undefined) await publishContinue(communicator, woken);
    }
  }

  const { requests } = await pendingRequests(storage.executor());
  const stale = requests.filter((request) => !activePks.has(request.pk));
  for (const request of stale)
    findings.push({
      pk: request.pk,
      kind: 'stale-request',
      action: `pending ${request.intent} request failed`,
    });
  if (!dryRun && stale.length > 0)
    await settleRequests(
      storage,
      stale.map((request) => request.id),
      ControlState.FAILED,
      'the process has terminated (verdi process repair)',
    );
  return findings;
}
