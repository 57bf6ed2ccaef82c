import { sql } from 'kysely';
import { z } from 'zod';
import { CorruptStorageError } from '../../errors.js';
import { DialectName, type SqlDialect } from '../../storage/dialect.js';
import {
  SlotRequestState,
  withAiidaTsTables,
  type AiidaTsKysely,
} from '../../storage/aiida-ts-schema/schema.js';
import type { StorageBackend } from '../../storage/backend.js';
import type { Database } from '../../storage/schema.js';
import type { Kysely } from 'kysely';
import { dbNowMs, dbNowMsText, epochMs } from './db-clock.js';
import { planGrants, type WaitingRequest } from './grant-plan.js';
import { isProcessGone, type ProcessIdentity } from './process-identity.js';

/**
 * The job-slot queue in the aiida-ts tables: every function here runs inside one transaction opened by
 * {@link openSlotTransaction}, which serialises all of them across processes (SQLite: the write lock of
 * `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock taken first, then the database's clock read, so
 * the times written follow the order in which the transactions ran).
 */

/** Key of the PostgreSQL advisory lock of the slot queue (`aiidaslt` in ASCII). */
const SLOT_LOCK_KEY = 0x6169646173_6c74n;

/** Process states after which a holder no longer needs its slots (aiida-core's terminal states). */
const TERMINATED_STATES = new Set(['finished', 'excepted', 'killed']);

/** Bound parameters per `IN (…)` list, well under both databases' limits. */
const CHUNK = 5_000;

const PoolsSchema = z.array(z.string()).min(1);

/** Usage of one pool of job slots. */
export interface SlotUsage {
  readonly pool: string;
  /** Null: no limit. */
  readonly limit: number | null;
  /** Slots granted now. */
  readonly used: number;
  /** Requests waiting for a slot in this pool. */
  readonly waiting: number;
}

/**
 * One transaction on the queue: the handle, the storage (whose `executeRead`/`executeWrite` run the fixed statements
 * of every job in the transaction, prepared once, with no query built per call) and the database's time when it took
 * the lock.
 */
export interface SlotTransaction {
  readonly db: AiidaTsKysely;
  readonly backend: StorageBackend;
  readonly dialect: SqlDialect;
  readonly now: number;
}

/** The coordinator writing: its id in `aiida_ts_owner` and the process it runs in. */
export interface SlotOwner {
  readonly id: string;
  readonly identity: ProcessIdentity;
}

/** A holder's request as stored. */
export interface SlotRequestRow {
  readonly id: number;
  readonly holder: number;
  readonly pools: readonly string[];
  readonly state: SlotRequestState;
  readonly owner: string | null;
  readonly grantedAt: number | null;
}

/** Takes the queue's lock (PostgreSQL; SQLite's transaction already holds the write lock) and reads the time. */
export async function openSlotTransaction(
  trx: Kysely<Database>,
  backend: StorageBackend,
): Promise<SlotTransaction> {
  const dialect = backend.dialect;
  if (dialect.name !== DialectName.POSTGRES) {
    // SQLite's clock is this machine's (`julianday('now')`): no statement needed, the write lock is already held
    return { db: withAiidaTsTables(trx), backend, dialect, now: Date.now() };
  }
  // one round trip: the clock is read per row of the subquery, so after the lock is granted and never before
  const rows = await backend.executeRead<{ now: number | string }>(
    `SELECT ${dbNowMsText(dialect)} AS now FROM (SELECT pg_advisory_xact_lock($1::bigint)::text AS locked) AS lock`,
    [SLOT_LOCK_KEY.toString()],
  );
  return { db: withAiidaTsTables(trx), backend, dialect, now: epochMs(rows[0]!.now) };
}

/** `$first, $first+1, …` for a list of `count` values. */
function placeholders(first: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${first + i}`).join(', ');
}

function chunks<T>(values: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < values.length; start += CHUNK) out.push(values.slice(start, start + CHUNK));
  return out;
}

/** The pools of a stored request; the stored text is ours, so bad text means a damaged table. */
export function decodePools(text: string, holder: number): string[] {
  try {
    return PoolsSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new CorruptStorageError(`aiida_ts_slot_request of holder ${holder} has unreadable pools: ${text}`, {
      cause: error,
    });
  }
}

/**
 * Keeps the owner alive for `leaseMs` more (and records it the first time). One statement that needs no lock of the
 * queue: run it in or out of a slot transaction.
 */
export async function heartbeatOwner(
  db: AiidaTsKysely,
  dialect: SqlDialect,
  owner: SlotOwner,
  leaseMs: number,
): Promise<void> {
  const expires = sql<number>`${dbNowMs(dialect)} + ${leaseMs}`;
  await db
    .insertInto('aiida_ts_owner')
    .values({
      id: owner.id,
      host: owner.identity.host,
      pid: owner.identity.pid,
      process_start: owner.identity.start,
      expires_at: expires,
    })
    .onConflict((oc) => oc.column('id').doUpdateSet({ expires_at: expires }))
    .execute();
}

/** The marker row (in `aiida_ts_throttle`) that spaces the sweeps of the queue, whichever process runs them. */
const SWEEP_KEY = 'aiida-ts:slot-queue-sweep';

/**
 * Claims the next sweep of the queue when the last one (by any process) is at least `intervalMs` old: a read,
 * and one conditional write only when due. Resolves to whether this caller sweeps.
 */
export async function claimSweep(
  db: AiidaTsKysely,
  dialect: SqlDialect,
  intervalMs: number,
): Promise<boolean> {
  const { rows } = await sql<{ due: number | boolean }>`SELECT CASE WHEN max(last_used) IS NULL
      OR max(last_used) <= ${dbNowMs(dialect)} - ${intervalMs} THEN 1 ELSE 0 END AS due
    FROM aiida_ts_throttle WHERE key = ${SWEEP_KEY}`.execute(db);
  if (Number(rows[0]?.due ?? 0) !== 1) return false;
  const claimed =
    await sql`INSERT INTO aiida_ts_throttle (key, last_used) VALUES (${SWEEP_KEY}, ${dbNowMs(dialect)})
    ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used
    WHERE aiida_ts_throttle.last_used <= excluded.last_used - ${intervalMs}
    RETURNING last_used`.execute(db);
  return claimed.rows.length > 0;
}

/** Forgets the owner and withdraws its waiting requests (its coordinator closed). */
export async function dropOwner(tx: SlotTransaction, ownerId: string): Promise<void> {
  await tx.db
    .deleteFrom('aiida_ts_slot_request')
    .where('owner', '=', ownerId)
    .where('state', '=', SlotRequestState.WAITING)
    .execute();
  await tx.db.deleteFrom('aiida_ts_owner').where('id', '=', ownerId).execute();
}

/**
 * Drops the owners whose lease ran out or whose process is gone from this machine, with their waiting requests,
 * and waiting requests whose owner is unknown: a dead process never blocks the queue. Granted slots stay (their
 * jobs may still be with the scheduler).
 */
export async function expireDeadOwners(tx: SlotTransaction): Promise<number> {
  const owners = await tx.db.selectFrom('aiida_ts_owner').selectAll().execute();
  const gone = owners
    .filter(
      (owner) =>
        epochMs(owner.expires_at) < tx.now ||
        isProcessGone({ host: owner.host, pid: owner.pid, start: owner.process_start }),
    )
    .map((owner) => owner.id);
  for (const ids of chunks(gone)) await tx.db.deleteFrom('aiida_ts_owner').where('id', 'in', ids).execute();
  const orphans = await tx.db
    .deleteFrom('aiida_ts_slot_request')
    .where('state', '=', SlotRequestState.WAITING)
    .where((eb) =>
      eb.or([
        eb('owner', 'is', null),
        eb('owner', 'not in', eb.selectFrom('aiida_ts_owner').select('aiida_ts_owner.id')),
      ]),
    )
    .executeTakeFirst();
  return Number(orphans.numDeletedRows);
}

/** The request of `holder`, if it has one. */
export async function readRequest(db: AiidaTsKysely, holder: number): Promise<SlotRequestRow | undefined> {
  const row = await db
    .selectFrom('aiida_ts_slot_request')
    .selectAll()
    .where('holder', '=', holder)
    .executeTakeFirst();
  return row === undefined ? undefined : toRequest(row);
}

function toRequest(row: {
  id: number;
  holder: number;
  pools: string;
  state: SlotRequestState;
  owner: string | null;
  granted_at: number | string | null;
}): SlotRequestRow {
  return {
    id: row.id,
    holder: row.holder,
    pools: decodePools(row.pools, row.holder),
    state: row.state,
    owner: row.owner,
    grantedAt: row.granted_at === null ? null : epochMs(row.granted_at),
  };
}

/** The requests of these holders (one query per chunk). */
export async function readRequests(db: AiidaTsKysely, holders: readonly number[]): Promise<SlotRequestRow[]> {
  const out: SlotRequestRow[] = [];
  for (const part of chunks(holders)) {
    const rows = await db
      .selectFrom('aiida_ts_slot_request')
      .selectAll()
      .where('holder', 'in', part)
      .execute();
    out.push(...rows.map(toRequest));
  }
  return out;
}

/**
 * Queues a request of `holder` for `pools`, or finds the one it has: a granted request is returned as it is
 * (idempotent: a restarted process finds its grant), a waiting one is adopted by `owner` and keeps its place.
 * One statement.
 */
export async function enqueueRequest(
  tx: SlotTransaction,
  holder: number,
  pools: readonly string[],
  owner: SlotOwner,
): Promise<SlotRequestRow> {
  const text = JSON.stringify(pools);
  const waiting = SlotRequestState.WAITING;
  const [row] = await tx.backend.executeRead<Parameters<typeof toRequest>[0]>(ENQUEUE, [
    holder,
    text,
    waiting,
    owner.id,
    tx.now,
    waiting,
    owner.id,
    waiting,
    text,
  ]);
  if (row === undefined) throw new CorruptStorageError(`no slot request row came back for holder ${holder}`);
  return toRequest(row);
}

/** Queues a request, or (a waiting one only) gives it to the owner asking now, with the pools asked for now. */
const ENQUEUE = `INSERT INTO aiida_ts_slot_request (holder, pools, state, owner, requested_at, granted_at)
  VALUES ($1, $2, $3, $4, $5, NULL)
  ON CONFLICT (holder) DO UPDATE SET
    owner = CASE WHEN aiida_ts_slot_request.state = $6 THEN $7 ELSE aiida_ts_slot_request.owner END,
    pools = CASE WHEN aiida_ts_slot_request.state = $8 THEN $9 ELSE aiida_ts_slot_request.pools END
  RETURNING id, holder, pools, state, owner, granted_at`;

/** Removes the holder's request and slots; resolves to whether it had any. */
export async function removeHolder(tx: SlotTransaction, holder: number): Promise<boolean> {
  if (tx.dialect.name === DialectName.POSTGRES) {
    // one round trip on the server that has them
    const rows = await tx.backend.executeRead<{ n: number | string }>(REMOVE_HOLDER_PG, [holder, holder]);
    return Number(rows[0]?.n ?? 0) > 0;
  }
  const slots = await tx.backend.executeWrite('DELETE FROM aiida_ts_slot WHERE holder = $1', [holder]);
  const requests = await tx.backend.executeWrite('DELETE FROM aiida_ts_slot_request WHERE holder = $1', [
    holder,
  ]);
  return slots > 0 || requests > 0;
}

const REMOVE_HOLDER_PG = `WITH slots AS (
    DELETE FROM aiida_ts_slot WHERE holder = $1 RETURNING holder
  ), requests AS (
    DELETE FROM aiida_ts_slot_request WHERE holder = $2 RETURNING holder
  ) SELECT (SELECT count(*) FROM slots) + (SELECT count(*) FROM requests) AS n`;

/** The limits of the limited pools among `pools`, with their slots in use: one query per chunk. */
async function limitedPools(
  tx: SlotTransaction,
  pools: readonly string[],
): Promise<{ limits: Map<string, number | null>; used: Map<string, number> }> {
  const limits = new Map<string, number | null>();
  const used = new Map<string, number>();
  for (const part of chunks(pools)) {
    // a fixed text per number of pools (a job asks for one or a few)
    const rows = await tx.backend.executeRead<{
      name: string;
      max_jobs: number | null;
      used: number | string | bigint | null;
    }>(
      `SELECT name, max_jobs,
        (SELECT count(*) FROM aiida_ts_slot WHERE aiida_ts_slot.pool = aiida_ts_pool.name) AS used
      FROM aiida_ts_pool WHERE name IN (${placeholders(1, part.length)}) AND max_jobs IS NOT NULL`,
      part,
    );
    for (const row of rows) {
      limits.set(row.name, row.max_jobs);
      used.set(row.name, tx.dialect.decodeInteger(row.used ?? 0));
    }
  }
  return { limits, used };
}

async function usedIn(
  db: AiidaTsKysely,
  dialect: SqlDialect,
  pools: readonly string[],
): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  for (const part of chunks(pools)) {
    const rows = await db
      .selectFrom('aiida_ts_slot')
      .select((eb) => ['pool', eb.fn.countAll().as('n')])
      .where('pool', 'in', part)
      .groupBy('pool')
      .execute();
    for (const row of rows) used.set(row.pool, dialect.decodeInteger(row.n));
  }
  return used;
}

async function waitingRequests(db: AiidaTsKysely): Promise<WaitingRequest[]> {
  const rows = await db
    .selectFrom('aiida_ts_slot_request')
    .select(['id', 'holder', 'pools'])
    .where('state', '=', SlotRequestState.WAITING)
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ id: row.id, holder: row.holder, pools: decodePools(row.pools, row.holder) }));
}

/** The waiting requests with their owners, oldest first. */
const LIVE_WAITING = `SELECT r.id, r.holder, r.pools, o.id AS "ownerId", o.host, o.pid, o.process_start, o.expires_at
  FROM aiida_ts_slot_request AS r LEFT JOIN aiida_ts_owner AS o ON o.id = r.owner
  WHERE r.state = $1 ORDER BY r.id`;

/**
 * The waiting requests whose process lives, oldest first. Requests of dead processes (lease run out, process gone
 * from this machine, owner unknown) are deleted on the way, so they are never granted nor block anyone: one query
 * (the owners come with the requests) unless there is something to delete.
 */
async function liveWaitingRequests(tx: SlotTransaction): Promise<WaitingRequest[]> {
  const rows = await tx.backend.executeRead<{
    id: number;
    holder: number;
    pools: string;
    ownerId: string | null;
    host: string | null;
    pid: number | null;
    process_start: string | null;
    expires_at: number | string | null;
  }>(LIVE_WAITING, [SlotRequestState.WAITING]);
  const verdicts = new Map<string, boolean>();
  const isDead = (row: (typeof rows)[number]): boolean => {
    if (row.ownerId === null || row.expires_at === null || row.host === null || row.pid === null) return true;
    let dead = verdicts.get(row.ownerId);
    if (dead === undefined) {
      dead =
        epochMs(row.expires_at) < tx.now ||
        isProcessGone({ host: row.host, pid: row.pid, start: row.process_start ?? '' });
      verdicts.set(row.ownerId, dead);
    }
    return dead;
  };
  const live: WaitingRequest[] = [];
  const dead: number[] = [];
  for (const row of rows) {
    if (isDead(row)) dead.push(row.id);
    else live.push({ id: row.id, holder: row.holder, pools: decodePools(row.pools, row.holder) });
  }
  const deadOwners = [...verdicts].filter(([, gone]) => gone).map(([id]) => id);
  for (const part of chunks(dead))
    await tx.db.deleteFrom('aiida_ts_slot_request').where('id', 'in', part).execute();
  for (const part of chunks(deadOwners))
    await tx.db.deleteFrom('aiida_ts_owner').where('id', 'in', part).execute();
  return live;
}

/**
 * Frees the slots in `pools` of holders whose process node is terminated (finished, excepted, killed) or gone:
 * they were never released (the process crashed after its job ended, or the node was deleted). Resolves to the
 * holders reclaimed.
 */
export async function reclaimEndedHolders(tx: SlotTransaction, pools: readonly string[]): Promise<number[]> {
  const holders = new Set<number>();
  for (const part of chunks(pools)) {
    const rows = await tx.db.selectFrom('aiida_ts_slot').select('holder').where('pool', 'in', part).execute();
    for (const row of rows) holders.add(row.holder);
  }
  const ended: number[] = [];
  for (const part of chunks([...holders])) {
    const nodes = await tx.db
      .selectFrom('db_dbnode')
      .select((eb) => ['id', tx.dialect.jsonExtractText(eb.ref('attributes'), ['process_state']).as('state')])
      .where('id', 'in', part)
      .execute();
    const states = new Map(nodes.map((node) => [node.id, node.state]));
    for (const holder of part) {
      const state = states.get(holder);
      if (state === undefined || (state !== null && TERMINATED_STATES.has(state))) ended.push(holder);
    }
  }
  for (const part of chunks(ended)) {
    await tx.db.deleteFrom('aiida_ts_slot').where('holder', 'in', part).execute();
    await tx.db.deleteFrom('aiida_ts_slot_request').where('holder', 'in', part).execute();
  }
  return ended;
}

/**
 * Grants every waiting request of a live process that can be served now, oldest first (see {@link planGrants}).
 * With `reclaim` (the periodic sweep: it costs two more queries), when some request stays blocked by a full pool,
 * first reclaims the slots of ended holders there and plans again. Resolves to the requests granted (with `tx.now` as their
 * grant time).
 */
export async function grantWaiting(
  tx: SlotTransaction,
  options: { readonly reclaim?: boolean } = {},
): Promise<WaitingRequest[]> {
  const waiting = await liveWaitingRequests(tx);
  if (waiting.length === 0) return [];
  const pools = [...new Set(waiting.flatMap((request) => request.pools))];
  let { limits, used } = await limitedPools(tx, pools);
  let plan = planGrants(waiting, limits, used);
  if (options.reclaim === true && plan.granted.length < waiting.length) {
    const full = [...plan.blocked].filter((pool) => (used.get(pool) ?? 0) >= (limits.get(pool) ?? Infinity));
    // reclaimed holders were granted ones: the waiting requests stay as they are, only the usage drops
    if (full.length > 0 && (await reclaimEndedHolders(tx, full)).length > 0) {
      ({ limits, used } = await limitedPools(tx, pools));
      plan = planGrants(waiting, limits, used);
    }
  }
  // two statements per chunk, however many requests are granted (a fixed text per count: mostly one request)
  for (const part of chunks(plan.granted)) {
    await tx.backend.executeWrite(
      `UPDATE aiida_ts_slot_request SET state = $1, granted_at = $2, owner = NULL
        WHERE id IN (${placeholders(3, part.length)})`,
      [SlotRequestState.GRANTED, tx.now, ...part.map((request) => request.id)],
    );
    const slots = part.flatMap((request) => request.pools.map((pool) => [pool, request.holder]));
    await tx.backend.executeWrite(
      `INSERT INTO aiida_ts_slot (pool, holder)
        VALUES ${slots.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')}
        ON CONFLICT (pool, holder) DO NOTHING`,
      slots.flat(),
    );
  }
  return [...plan.granted];
}

/** The usage of each of `pools` (reads only; works in or out of a transaction). */
export async function readUsage(
  db: AiidaTsKysely,
  dialect: SqlDialect,
  pools: readonly string[],
): Promise<SlotUsage[]> {
  const unique = [...new Set(pools)];
  if (unique.length === 0) return [];
  const limits = new Map<string, number | null>();
  for (const part of chunks(unique)) {
    const rows = await db
      .selectFrom('aiida_ts_pool')
      .select(['name', 'max_jobs'])
      .where('name', 'in', part)
      .execute();
    for (const row of rows) limits.set(row.name, row.max_jobs);
  }
  const used = await usedIn(db, dialect, unique);
  const waiting = new Map<string, number>();
  for (const request of await waitingRequests(db)) {
    for (const pool of request.pools) waiting.set(pool, (waiting.get(pool) ?? 0) + 1);
  }
  return pools.map((pool) => ({
    pool,
    limit: limits.get(pool) ?? null,
    used: used.get(pool) ?? 0,
    waiting: waiting.get(pool) ?? 0,
  }));
}
