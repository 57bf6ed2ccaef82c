import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageBackend } from '../../storage/backend.js';
import { WorkerKind, type AiidaTsWorkerTable } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { aiidaTsTablesReadable, ensureAiidaTsSchema } from '../../storage/aiida-ts-schema/schema-state.js';
import { withAiidaTsTables } from '../../storage/aiida-ts-schema/schema.js';
import { dbLaterValue, dbNowMs, dbNowValue, epochMs } from './db-time.js';
import { currentHostIdentity, isProcessGone } from './host-identity.js';

/** The aiida-ts schema version that has the daemon's tables. */
export const DAEMON_SCHEMA_VERSION = 'aiida_ts_0002';

/** A worker or runner as `daemon status` and `process list` show it. */
export interface WorkerInfo {
  readonly id: string;
  readonly kind: WorkerKind;
  /** The machine: hostname, boot id and pid namespace joined by `/` (the hostname first). */
  readonly host: string;
  readonly pid: number;
  readonly slots: number;
  /** Processes it holds a running lease on. */
  readonly running: number;
  /** Whether it takes tasks from a broker too. */
  readonly broker: boolean;
  readonly stopping: boolean;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly expiresAt: Date;
  /** Its lease has not expired (by the database's clock) and, when it runs on this machine, its OS process exists. */
  readonly alive: boolean;
}

/** A fresh worker id: `<hostname>:<pid>:<random>`. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** Options of {@link WorkerRegistration}. */
export interface WorkerRegistrationOptions {
  readonly id: string;
  readonly kind: WorkerKind;
  readonly slots: number;
  readonly broker: boolean;
  /** How long the row stays valid without a heartbeat (ms). */
  readonly ttlMs: number;
}

/**
 * The row of this OS process in `aiida_ts_worker`: written on {@link register}, renewed by {@link heartbeat},
 * removed by {@link unregister}. Its expiry decides, for every other worker, whether the leases it holds are still
 * valid.
 */
export class WorkerRegistration {
  readonly id: string;
  readonly kind: WorkerKind;
  readonly #storage: StorageBackend;
  readonly #options: WorkerRegistrationOptions;

  constructor(storage: StorageBackend, options: WorkerRegistrationOptions) {
    this.#storage = storage;
    this.#options = options;
    this.id = options.id;
    this.kind = options.kind;
  }

  /** Writes the row (again, when a sweeper removed it while this process was cut off). */
  async register(): Promise<void> {
    const storage = this.#storage;
    await ensureAiidaTsSchema(storage);
    const identity = currentHostIdentity();
    const now = dbNowValue(storage.dialect);
    const expires = dbLaterValue(storage.dialect, this.#options.ttlMs);
    const row = {
      id: this.id,
      kind: this.kind,
      host: identity.host,
      pid: identity.pid,
      start: identity.start,
      slots: this.#options.slots,
      broker: this.#options.broker ? 1 : 0,
      stopping: 0,
      started_at: now,
      heartbeat_at: now,
      expires_at: expires,
    } satisfies Record<keyof AiidaTsWorkerTable, unknown>;
    await withAiidaTsTables(storage.executor())
      .insertInto('aiida_ts_worker')
      .values(row)
      .onConflict((conflict) =>
        conflict
          .column('id')
          .doUpdateSet({ heartbeat_at: row.heartbeat_at, expires_at: row.expires_at, stopping: 0 }),
      )
      .execute();
  }

  /**
   * Renews the row's expiry. Resolves to false when the row is gone (a sweeper judged this process dead while it
   * could not reach the database): its leases are then lost and it must register again.
   */
  async heartbeat(): Promise<boolean> {
    const storage = this.#storage;
    const now = dbNowValue(storage.dialect);
    const updated = await withAiidaTsTables(storage.executor())
      .updateTable('aiida_ts_worker')
      .set({
        heartbeat_at: now,
        expires_at: dbLaterValue(storage.dialect, this.#options.ttlMs),
      })
      .where('id', '=', this.id)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }

  /** Marks the worker as stopping (no more claims); shown by `daemon status`. */
  async markStopping(): Promise<void> {
    await withAiidaTsTables(this.#storage.executor())
      .updateTable('aiida_ts_worker')
      .set({ stopping: 1 })
      .where('id', '=', this.id)
      .execute();
  }

  /** Removes the row: the processes still leased to it are taken over at once by the other workers. */
  async unregister(): Promise<void> {
    await withAiidaTsTables(this.#storage.executor())
      .deleteFrom('aiida_ts_worker')
      .where('id', '=', this.id)
      .execute();
  }
}

/** Options of {@link listWorkers}. */
export interface ListWorkersOptions {
  readonly kind?: WorkerKind;
}

/**
 * Every registered worker and runner with its liveness and the number of processes it holds. Reads only: a profile
 * without the daemon's tables has none.
 */
export async function listWorkers(
  storage: StorageBackend,
  options: ListWorkersOptions = {},
): Promise<WorkerInfo[]> {
  if (!(await aiidaTsTablesReadable(storage, DAEMON_SCHEMA_VERSION))) return [];
  const db = withAiidaTsTables(storage.executor());
  let query = db
    .selectFrom('aiida_ts_worker as w')
    .selectAll('w')
    .select((eb) => [
      dbNowMs(storage.dialect).as('now'),
      eb
        .selectFrom('aiida_ts_task as t')
        .select((inner) => inner.fn.countAll<number | string>().as('n'))
        .whereRef('t.owner', '=', 'w.id')
        .where('t.state', '=', 'running')
        .as('running'),
    ])
    .orderBy('w.started_at');
  if (options.kind !== undefined) query = query.where('w.kind', '=', options.kind);
  const rows = await query.execute();
  return rows.map((row) => {
    const expiresAt = epochMs(row.expires_at);
    const gone = isProcessGone({ host: row.host, pid: Number(row.pid), start: row.start });
    // A runner (a script) on this machine whose process exists is alive even when a long synchronous stretch delayed
    // its heartbeat; a daemon worker's lease is decided by its expiry alone (it may be cut off from the database).
    const local = row.kind === WorkerKind.RUNNER && row.host === currentHostIdentity().host;
    return {
      id: row.id,
      kind: row.kind,
      host: row.host,
      pid: Number(row.pid),
      slots: Number(row.slots),
      running: Number(row.running ?? 0),
      broker: Number(row.broker) === 1,
      stopping: Number(row.stopping) === 1,
      startedAt: new Date(epochMs(row.started_at)),
      heartbeatAt: new Date(epochMs(row.heartbeat_at)),
      expiresAt: new Date(expiresAt),
      alive: !gone && (local || expiresAt > epochMs(row.now)),
    };
  });
}

/**
 * The ids of the workers and runners that are dead: their row expired by the database's clock, or they ran on this
 * machine and their OS process is gone (then at once, without waiting for the expiry).
 */
export async function deadWorkerIds(
  storage: StorageBackend,
): Promise<{ readonly daemon: string[]; readonly runner: string[] }> {
  const dead = { daemon: [] as string[], runner: [] as string[] };
  for (const worker of await listWorkers(storage)) {
    if (worker.alive) continue;
    (worker.kind === WorkerKind.DAEMON ? dead.daemon : dead.runner).push(worker.id);
  }
  return dead;
}

/** Removes the rows of dead workers that no longer own any task row. */
export async function forgetDeadWorkers(storage: StorageBackend, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const db = withAiidaTsTables(storage.executor());
  const removed = await db
    .deleteFrom('aiida_ts_worker')
    .where('id', 'in', [...ids])
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('aiida_ts_task')
            .select('process_id')
            .whereRef('aiida_ts_task.owner', '=', 'aiida_ts_worker.id'),
        ),
      ),
    )
    .returning('id')
    .execute();
  return removed.map((row) => row.id);
}
