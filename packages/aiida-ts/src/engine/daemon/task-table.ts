import { sql, type Kysely, type RawBuilder } from 'kysely';
import { z } from 'zod';
import type { StorageBackend, WriteStatement } from '../../storage/backend.js';
import { DialectName, type SqlDialect } from '../../storage/dialect.js';
import type { Database } from '../../storage/schema.js';
import { TaskMode, TaskState, type AiidaTsTaskTable } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { withAiidaTsTables } from '../../storage/aiida-ts-schema/schema.js';
import { PREPARED_STATEMENT_MARK } from '../../storage/postgres/prepared-statements.js';
import { dbNowMs, dbNowMsText, dbNowValue } from './db-time.js';

/** The process states after which a process has nothing left to run (aiida's terminal states). */
export const TERMINAL_STATES = ['finished', 'excepted', 'killed'] as const;

/** A row of `aiida_ts_task` as the daemon reads it (times as numbers). */
export interface TaskRow {
  readonly pk: number;
  readonly state: TaskState;
  readonly mode: TaskMode;
  readonly owner: string | null;
  readonly epoch: number;
  readonly parentId: number | null;
  readonly waitingFor: readonly number[] | null;
  readonly wakeAt: number | null;
  readonly paused: boolean;
  readonly stepMark: number | null;
  readonly module: string | null;
}

/** What a claim hands to the worker: the process and the fencing token of the new lease. */
export interface Claim {
  readonly pk: number;
  readonly epoch: number;
  readonly module: string | null;
  readonly waitingFor: readonly number[] | null;
  readonly stepMark: number | null;
  /** The process whose step made (and waits for) this one, if any: its end may wake that parent. */
  readonly parentId: number | null;
  /** Control requests for the process were pending when it was claimed (else they need not be read now). */
  readonly requested: boolean;
}

const pkListSchema = z.array(z.number().int());

/** The pks of a `waiting_for` column; null for NULL or unreadable JSON (then the process is simply loaded). */
export function parsePkList(text: string | null): number[] | null {
  if (text === null) return null;
  try {
    const parsed = pkListSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function num(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** A raw row as a {@link TaskRow}. */
export function taskRowOf(row: {
  process_id: number | string;
  state: string;
  mode: string;
  owner: string | null;
  epoch: number | string;
  parent_id: number | string | null;
  waiting_for: string | null;
  wake_at: number | string | null;
  paused: number | string;
  step_mark: number | string | null;
  module: string | null;
}): TaskRow {
  return {
    pk: Number(row.process_id),
    state: row.state as TaskState,
    mode: row.mode as TaskMode,
    owner: row.owner,
    epoch: Number(row.epoch),
    parentId: num(row.parent_id),
    waitingFor: parsePkList(row.waiting_for),
    wakeAt: num(row.wake_at),
    paused: Number(row.paused) === 1,
    stepMark: num(row.step_mark),
    module: row.module,
  };
}

function tables(db: Kysely<Database>): ReturnType<typeof withAiidaTsTables> {
  return withAiidaTsTables(db);
}

/** Options of {@link insertTask}. */
export interface InsertTaskOptions {
  readonly pk: number;
  readonly state: TaskState;
  readonly mode: TaskMode;
  /** The lease holder of a `running` row. */
  readonly owner?: string | null;
  readonly parentId?: number | null;
  readonly module?: string | null;
}

/**
 * The statement {@link insertTask} runs, to run it with other writes (a submitted process's row goes in the same
 * write as its checkpoint: one commit, and the row never names a process that cannot be loaded yet).
 */
export function insertTaskStatement(dialect: SqlDialect, options: InsertTaskOptions): WriteStatement {
  const running = options.state === TaskState.RUNNING;
  const now = dbNowMsText(dialect);
  const columns = [
    'process_id',
    'state',
    'mode',
    'owner',
    'epoch',
    'parent_id',
    'waiting_for',
    'wake_at',
    'paused',
    'step_mark',
    'module',
    'enqueued_at',
    'claimed_at',
  ] satisfies (keyof AiidaTsTaskTable)[];
  const values = [
    '$1',
    '$2',
    '$3',
    '$4',
    '$5',
    '$6',
    'NULL',
    'NULL',
    '0',
    'NULL',
    '$7',
    now,
    running ? now : 'NULL',
  ];
  return {
    text:
      `INSERT INTO aiida_ts_task (${columns.join(', ')}) VALUES (${values.join(', ')}) ` +
      // an existing row is made runnable again (a process submitted once more, e.g. by `repair`) unless it is running
      'ON CONFLICT (process_id) DO UPDATE SET ' +
      "state = CASE WHEN aiida_ts_task.state = 'running' THEN aiida_ts_task.state ELSE excluded.state END, " +
      'mode = excluded.mode, module = COALESCE(excluded.module, aiida_ts_task.module), ' +
      'parent_id = COALESCE(excluded.parent_id, aiida_ts_task.parent_id)',
    parameters: [
      options.pk,
      options.state,
      options.mode,
      options.owner ?? null,
      running ? 1 : 0,
      options.parentId ?? null,
      options.module ?? null,
    ],
  };
}

/**
 * Writes the row of a process (in the current transaction, if any): a new row, or an existing one made `runnable`
 * again (a process submitted once more, e.g. by `repair`) unless it is running.
 */
export async function insertTask(storage: StorageBackend, options: InsertTaskOptions): Promise<void> {
  const { text, parameters } = insertTaskStatement(storage.dialect, options);
  await storage.executeWrite(text, parameters);
}

/** The row of process `pk`, if any. */
export async function readTask(db: Kysely<Database>, pk: number): Promise<TaskRow | undefined> {
  const row = await tables(db)
    .selectFrom('aiida_ts_task')
    .selectAll()
    .where('process_id', '=', pk)
    .executeTakeFirst();
  return row === undefined ? undefined : taskRowOf(row);
}

/** The rows of these processes (all rows when `pks` is undefined). */
export async function readTasks(db: Kysely<Database>, pks?: readonly number[]): Promise<TaskRow[]> {
  if (pks !== undefined && pks.length === 0) return [];
  let query = tables(db).selectFrom('aiida_ts_task').selectAll();
  if (pks !== undefined) query = query.where('process_id', 'in', [...pks]);
  return (await query.execute()).map(taskRowOf);
}

/** What may be claimed: runnable daemon rows, and parked ones whose timer has run out. */
function claimableCondition(now: ReturnType<typeof dbNowValue>): ReturnType<typeof sql> {
  return sql`mode = ${TaskMode.DAEMON} AND (state = ${TaskState.RUNNABLE} OR (state = ${TaskState.PARKED} AND paused = 0 AND wake_at IS NOT NULL AND wake_at <= ${now}))`;
}

interface ClaimedRaw {
  process_id: number | string;
  epoch: number | string;
  module: string | null;
  waiting_for: string | null;
  step_mark: number | string | null;
  parent_id: number | string | null;
  requested: boolean | number | string;
}

function claimOf(row: ClaimedRaw): Claim {
  return {
    pk: Number(row.process_id),
    epoch: Number(row.epoch),
    module: row.module,
    waitingFor: parsePkList(row.waiting_for),
    stepMark: num(row.step_mark),
    parentId: num(row.parent_id),
    requested: row.requested === true || Number(row.requested) === 1,
  };
}

/** What a claim returns: the row's fields a worker needs, and whether control requests are pending for it. */
const CLAIM_RETURNING = sql`RETURNING process_id, epoch, module, waiting_for, step_mark, parent_id,
  EXISTS (SELECT 1 FROM aiida_ts_control c WHERE c.process_id = aiida_ts_task.process_id AND c.state = 'pending') AS requested`;

/** The condition leaving out the processes a worker still holds in memory (none: no condition). */
function notHeld(held: readonly number[]): RawBuilder<unknown> {
  return held.length === 0 ? sql`` : sql`AND process_id NOT IN (${sql.join([...held])})`;
}

/**
 * Claims up to `limit` claimable rows for worker `owner`, oldest process first: each becomes `running` with a new
 * epoch, in one statement (PostgreSQL skips rows other workers are claiming at the same moment). The processes in
 * `held` are skipped: the worker still has them in memory (a step whose lease was lost has not returned yet), and
 * takes them again only once it has let them go. `among` limits the claim to those processes (see
 * {@link lookForTasks}).
 */
export async function claimTasks(
  storage: StorageBackend,
  owner: string,
  limit: number,
  held: readonly number[] = [],
  among?: readonly number[],
): Promise<Claim[]> {
  if (limit <= 0 || among?.length === 0) return [];
  const now = dbNowValue(storage.dialect);
  const skip = notHeld(held);
  const only = among === undefined ? sql`` : sql`AND process_id IN (${sql.join([...among])})`;
  // An idle look only reads: the write (a lock on SQLite's whole database) is taken when there is something to claim,
  // so that idle workers polling the storage do not hold up the writes of everyone else. (Rows just looked at need
  // no second look.)
  if (among === undefined) {
    const any = await sql<{ one: number }>`
      SELECT 1 AS one FROM aiida_ts_task WHERE ${claimableCondition(now)} ${skip} LIMIT 1`.execute(
      storage.executor(),
    );
    if (any.rows.length === 0) return [];
  }
  const lock = storage.dialect.name === DialectName.POSTGRES ? sql`FOR UPDATE SKIP LOCKED` : sql``;
  const result = await sql<ClaimedRaw>`
    UPDATE aiida_ts_task
    SET state = ${TaskState.RUNNING}, owner = ${owner}, epoch = epoch + 1, claimed_at = ${now}, wake_at = NULL
    WHERE process_id IN (
      SELECT process_id FROM aiida_ts_task WHERE ${claimableCondition(now)} ${skip} ${only}
      ORDER BY process_id LIMIT ${limit} ${lock}
    ) AND ${claimableCondition(now)}
    ${CLAIM_RETURNING}`.execute(storage.executor());
  return result.rows.map(claimOf).sort((a, b) => a.pk - b.pk);
}

/** A claimable row seen by {@link lookForTasks}. */
export interface ClaimableRow {
  readonly pk: number;
  /** A parked row due by its timer (nobody publishes its wake-up), rather than a runnable one. */
  readonly timer: boolean;
}

/** The claimable rows (up to `limit`, in the order {@link claimTasks} takes them), without claiming any. */
export async function lookForTasks(
  storage: StorageBackend,
  limit: number,
  held: readonly number[] = [],
): Promise<ClaimableRow[]> {
  const now = dbNowValue(storage.dialect);
  const skip = notHeld(held);
  const result = await sql<{ process_id: number | string; state: string }>`
    SELECT process_id, state FROM aiida_ts_task WHERE ${claimableCondition(now)} ${skip}
    ORDER BY process_id LIMIT ${limit}`.execute(storage.executor());
  return result.rows.map((row) => ({
    pk: Number(row.process_id),
    timer: row.state === TaskState.PARKED,
  }));
}

/** Claims the row of process `pk` if it is claimable (a broker delivery names it); undefined otherwise. */
export async function claimTask(
  storage: StorageBackend,
  owner: string,
  pk: number,
): Promise<Claim | undefined> {
  const now = dbNowValue(storage.dialect);
  // the same text at every delivery: PostgreSQL prepares it once per connection (see PREPARED_STATEMENT_MARK)
  const mark = sql.raw(storage.dialect.name === DialectName.POSTGRES ? PREPARED_STATEMENT_MARK : '');
  const result = await sql<ClaimedRaw>`${mark}UPDATE aiida_ts_task
    SET state = ${TaskState.RUNNING}, owner = ${owner}, epoch = epoch + 1, claimed_at = ${now}, wake_at = NULL
    WHERE process_id = ${pk} AND ${claimableCondition(now)}
    ${CLAIM_RETURNING}`.execute(storage.executor());
  const row = result.rows[0];
  return row === undefined ? undefined : claimOf(row);
}

/** How a held lease is given back. */
export interface ReleaseOptions {
  /** `runnable` (another worker may take it now) or `parked` (it waits; see the other fields). */
  readonly state: typeof TaskState.RUNNABLE | typeof TaskState.PARKED;
  readonly waitingFor?: readonly number[] | null;
  readonly wakeAt?: number | null;
  readonly paused?: boolean;
}

/**
 * Gives back the lease of `owner` (at `epoch`) on process `pk`. Resolves to false when the lease was not held any
 * more (nothing changed). A process parked on children that have all terminated meanwhile is made runnable at once
 * instead (the row is updated first, so that a child ending concurrently either sees it parked and wakes it, or has
 * committed its end before the children are counted).
 */
export async function releaseTask(
  db: Kysely<Database>,
  storage: StorageBackend,
  pk: number,
  owner: string,
  epoch: number,
  options: ReleaseOptions,
): Promise<{ readonly held: boolean; readonly state: TaskState }> {
  const waiting = options.waitingFor ?? null;
  const updated = await tables(db)
    .updateTable('aiida_ts_task')
    .set({
      state: options.state,
      owner: null,
      waiting_for: waiting === null ? null : JSON.stringify(waiting),
      wake_at: options.wakeAt ?? null,
      paused: options.paused === true ? 1 : 0,
      enqueued_at: dbNowValue(storage.dialect),
    })
    .where('process_id', '=', pk)
    .where('owner', '=', owner)
    .where('epoch', '=', epoch)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) return { held: false, state: options.state };
  if (options.state === TaskState.PARKED && options.paused !== true && waiting !== null) {
    if ((await countActive(db, storage, waiting)) === 0) {
      await tables(db)
        .updateTable('aiida_ts_task')
        .set({ state: TaskState.RUNNABLE })
        .where('process_id', '=', pk)
        .where('state', '=', TaskState.PARKED)
        .execute();
      return { held: true, state: TaskState.RUNNABLE };
    }
  }
  return { held: true, state: options.state };
}

/** The `process_state` attribute of `db_dbnode` rows, as text. */
export function processStateColumn(
  storage: StorageBackend,
): ReturnType<StorageBackend['dialect']['jsonExtractText']> {
  return storage.dialect.jsonExtractText(sql.ref('attributes'), ['process_state']);
}

/** How many of these process nodes are not terminated (a missing node counts as terminated). */
export async function countActive(
  db: Kysely<Database>,
  storage: StorageBackend,
  pks: readonly number[],
): Promise<number> {
  if (pks.length === 0) return 0;
  const state = processStateColumn(storage);
  const row = await db
    .selectFrom('db_dbnode')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('id', 'in', [...pks])
    .where((eb) => eb.or([eb(state, 'is', null), eb(state, 'not in', [...TERMINAL_STATES])]))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Goes with the write of the terminal state of process `pk` (same transaction): deletes its row and wakes its
 * parent when the parent is parked (not paused) and every process it waits for has now terminated. The parent's row
 * is locked first on PostgreSQL, so that two children ending at once cannot both miss that the other one ended.
 * Resolves to the pk of the parent woken, if any.
 */
export async function finishTask(
  db: Kysely<Database>,
  storage: StorageBackend,
  pk: number,
): Promise<number | undefined> {
  // The row goes first, telling its parent (one statement instead of a read and a delete): whether the parent is
  // woken is decided from the children's node states, which this order does not change.
  const own = await tables(db)
    .deleteFrom('aiida_ts_task')
    .where('process_id', '=', pk)
    .returning('parent_id')
    .executeTakeFirst();
  let woken: number | undefined;
  const parentId = own?.parent_id ?? null;
  if (parentId !== null) {
    const lock = storage.dialect.name === DialectName.POSTGRES ? sql`FOR UPDATE` : sql``;
    const parent = (
      await sql<{ state: string; paused: number | string; waiting_for: string | null }>`
        SELECT state, paused, waiting_for FROM aiida_ts_task WHERE process_id = ${parentId} ${lock}`.execute(
        db,
      )
    ).rows[0];
    if (parent !== undefined && parent.state === TaskState.PARKED && Number(parent.paused) === 0) {
      const others = (parsePkList(parent.waiting_for) ?? []).filter((other) => other !== pk);
      if ((await countActive(db, storage, others)) === 0) {
        await tables(db)
          .updateTable('aiida_ts_task')
          .set({ state: TaskState.RUNNABLE, enqueued_at: dbNowValue(storage.dialect) })
          .where('process_id', '=', parentId)
          .where('state', '=', TaskState.PARKED)
          .execute();
        woken = Number(parentId);
      }
    }
  }
  return woken;
}

/**
 * Makes the `running` daemon rows of these (dead) workers runnable again, keeping their epoch (the next claim
 * raises it, which fences the dead owner off). Resolves to the pks released.
 */
export async function releaseRowsOf(storage: StorageBackend, owners: readonly string[]): Promise<number[]> {
  if (owners.length === 0) return [];
  const result = await sql<{ process_id: number | string }>`
    UPDATE aiida_ts_task SET state = ${TaskState.RUNNABLE}, owner = NULL, enqueued_at = ${dbNowMs(storage.dialect)}
    WHERE mode = ${TaskMode.DAEMON} AND state = ${TaskState.RUNNING} AND owner IN (${sql.join([...owners])})
    RETURNING process_id`.execute(storage.executor());
  return result.rows.map((row) => Number(row.process_id));
}

/**
 * The safety net of wake-ups: parked rows (not paused) whose awaited processes have all terminated are made
 * runnable (a wake-up can be missed when a child ended while its parent was being parked on another connection).
 * Looks at up to `limit` rows, oldest first. Resolves to the pks woken.
 */
export async function wakeSatisfied(storage: StorageBackend, limit = 500): Promise<number[]> {
  const db = storage.executor();
  const parked = await tables(db)
    .selectFrom('aiida_ts_task')
    .select(['process_id', 'waiting_for'])
    .where('state', '=', TaskState.PARKED)
    .where('paused', '=', 0)
    .where('waiting_for', 'is not', null)
    .orderBy('process_id')
    .limit(limit)
    .execute();
  const woken: number[] = [];
  for (const row of parked) {
    const waiting = parsePkList(row.waiting_for);
    if (waiting !== null && (await countActive(db, storage, waiting)) > 0) continue;
    const updated = await tables(db)
      .updateTable('aiida_ts_task')
      .set({ state: TaskState.RUNNABLE, enqueued_at: dbNowValue(storage.dialect) })
      .where('process_id', '=', row.process_id)
      .where('state', '=', TaskState.PARKED)
      .where('paused', '=', 0)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) woken.push(Number(row.process_id));
  }
  return woken;
}

/** The pks of the rows in a state, oldest first (at most `limit`). */
export async function pksInState(storage: StorageBackend, state: TaskState, limit = 1000): Promise<number[]> {
  const rows = await tables(storage.executor())
    .selectFrom('aiida_ts_task')
    .select('process_id')
    .where('state', '=', state)
    .where('mode', '=', TaskMode.DAEMON)
    .orderBy('process_id')
    .limit(limit)
    .execute();
  return rows.map((row) => Number(row.process_id));
}
