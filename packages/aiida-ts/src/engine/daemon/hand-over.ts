import { pathToFileURL } from 'node:url';
import type { Communicator } from 'kiwipy-ts';
import { createContinueBody } from 'plumpy-ts';
import type { StorageBackend } from '../../storage/backend.js';
import { TaskMode, TaskState, WorkerKind } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { ensureAiidaTsSchema } from '../../storage/aiida-ts-schema/schema-state.js';
import { getLogger } from '../logging.js';
import type { EngineProcessInstance } from '../processes/instantiate.js';
import { definitionOf } from '../processes/process.js';
import { insertTask, insertTaskStatement, type InsertTaskOptions } from './task-table.js';
import { listWorkers } from './worker-registry.js';

/** The file URL of the module that defines a process class, for a worker that has to import it. */
export function moduleOf(processClass: object): string | null {
  const file = definitionOf(processClass)?.file;
  if (file === undefined) return null;
  return file.startsWith('file:') ? file : pathToFileURL(file).href;
}

/** Tells a broker that process `pk` may be run: aiida-core's `continue` task, fire and forget. */
export async function publishContinue(communicator: Communicator | undefined, pk: number): Promise<void> {
  if (communicator === undefined || communicator.isClosed()) return;
  try {
    await communicator.taskSend(createContinueBody(pk, { nowait: false }), { noReply: true });
  } catch (error) {
    // The storage holds the record: a worker finds it by polling even when the broker lost the message.
    getLogger('aiida').warn({ err: error, pk }, `could not publish the continue task of process<${pk}>`);
  }
}

/** The runnable record of a process made for the daemon (`parentPk`: the process whose step made it). */
function runnableRecord(
  process: EngineProcessInstance,
  pk: number,
  parentPk: number | null,
): InsertTaskOptions {
  return {
    pk,
    state: TaskState.RUNNABLE,
    mode: TaskMode.DAEMON,
    parentId: parentPk,
    module: moduleOf(process.constructor),
  };
}

/**
 * Writes the runnable record of a made, checkpointed process — under the lease of `parent` when given (in the same
 * transaction: a parent that lost its lease cannot hand over children) — then publishes it on the broker.
 */
export async function handOverProcess(
  storage: StorageBackend,
  communicator: Communicator | undefined,
  process: EngineProcessInstance,
  parent: EngineProcessInstance | undefined,
): Promise<void> {
  const pk = process.node.pk;
  if (pk === null) return;
  await ensureAiidaTsSchema(storage);
  const guard = parent?.provenance.writer.guard;
  const parentPk = parent?.node.pk ?? null;
  const record = runnableRecord(process, pk, parentPk);
  if (guard !== undefined && parentPk !== null)
    await storage.transaction(async (trx) => {
      await guard.before(trx, { pk: parentPk, terminal: false, checkpoint: false });
      await insertTask(storage, record);
    });
  // one statement, nothing to fence: no transaction around it (two round trips less per submission on PostgreSQL)
  else await insertTask(storage, record);
  await publishContinue(communicator, pk);
}

/**
 * Hands a made process without a parent to the daemon with its first checkpoint: its runnable record joins the
 * write of its node that carries the checkpoint (one statement on PostgreSQL, one transaction on SQLite), so that
 * the record and the checkpoint it names commit together. Call it before that write (`writer.flush()`); it resolves
 * to the publishing on the broker, to do once the write has committed.
 */
export async function joinHandOver(
  storage: StorageBackend,
  communicator: Communicator | undefined,
  process: EngineProcessInstance,
): Promise<() => Promise<void>> {
  const pk = process.node.pk;
  if (pk === null) return () => Promise.resolve();
  await ensureAiidaTsSchema(storage);
  process.provenance.writer.joinStatement(
    insertTaskStatement(storage.dialect, runnableRecord(process, pk, null)),
  );
  return () => publishContinue(communicator, pk);
}

/**
 * Whether a live daemon worker is registered on the profile (a top-level `submit` then goes to the daemon), asked
 * of the storage at most once per `cacheMs`.
 */
export class DaemonPresence {
  readonly #storage: StorageBackend;
  readonly #cacheMs: number;
  #checked = 0;
  #present: Promise<boolean> | undefined;

  constructor(storage: StorageBackend, cacheMs = 1_000) {
    this.#storage = storage;
    this.#cacheMs = cacheMs;
  }

  isRunning(): Promise<boolean> {
    const now = Date.now();
    if (this.#present === undefined || now - this.#checked > this.#cacheMs) {
      this.#checked = now;
      this.#present = listWorkers(this.#storage, { kind: WorkerKind.DAEMON }).then(
        (workers) => workers.some((worker) => worker.alive && !worker.stopping),
        () => false,
      );
    }
    return this.#present;
  }
}
