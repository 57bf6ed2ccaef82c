import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { SqlDialect } from '../dialect.js';
import { readAiidaTsSchemaVersion } from './schema-state.js';
import { withAiidaTsTables } from './schema.js';

/*
 * The repository epoch, `aiida_ts_repository_epoch`: one row (`id` 1) counting the full maintenance runs.
 *
 * Why: a node write that refers to repository objects must never commit after full maintenance deleted one of them.
 * The write checks its objects; full maintenance deletes unreferenced objects in a transaction that locks node
 * writes out. Checked inside the write's own transaction (after its insert, whose lock keeps maintenance out) this
 * costs BEGIN, INSERT and COMMIT: three round trips on PostgreSQL. With the epoch, a writer reads the epoch (once;
 * it is kept), checks its objects, and sends one autocommit statement that inserts and also locks this row
 * `FOR SHARE` where `epoch` still equals what it read. Full maintenance increments the row in its locked
 * transaction before it looks for unreferenced objects. Either the writer's statement locks the row first (then
 * maintenance's increment waits for the writer to commit and sees its node, whose objects are therefore kept), or
 * maintenance has incremented it (then the writer's statement waits for maintenance to end, finds the new epoch and
 * fails as a whole; the writer reads the epoch again, checks its objects again and puts the missing ones back).
 * The row lock, not only maintenance's table lock, decides: a statement that waited for the table lock with an
 * older snapshot still sees the row changed and re-reads it (PostgreSQL's rule for locking reads in READ COMMITTED).
 *
 * Only PostgreSQL writers outside a transaction use it (the first such write of a profile without it creates the
 * aiida-ts tables; migration `aiida_ts_0003` waits for full maintenance in progress, which counted no epoch); SQLite
 * and writes inside a transaction keep checking under their transaction's lock (on SQLite that costs no round trip). Maintenance keeps locking node writes out too, so
 * writers of older aiida-ts versions (which check under their lock) stay safe. Not covered: full maintenance run by
 * an aiida-ts older than `aiida_ts_0003` (it does not increment the epoch) at the same time as a writer of this
 * version on the same PostgreSQL database (full maintenance needs the profile to itself, so only through another
 * configuration folder or host).
 */

/** The aiida-ts schema version that created `aiida_ts_repository_epoch`. */
export const REPOSITORY_EPOCH_VERSION = 'aiida_ts_0003';

/**
 * Inside full maintenance's transaction, after it locked node writes out and before it looks for unreferenced
 * objects: increments the epoch, so that writers which checked their objects before now fail their insert. Does
 * nothing on a profile whose aiida-ts tables predate the epoch (no writer there can rely on it: they read it first).
 */
export async function bumpRepositoryEpoch(trx: Kysely<Database>, dialect: SqlDialect): Promise<void> {
  if (!(await hasRepositoryEpoch(trx, dialect))) return;
  await sql`UPDATE aiida_ts_repository_epoch SET epoch = epoch + 1 WHERE id = 1`.execute(trx);
}

/**
 * The epoch to guard inserts with: null when the profile's aiida-ts tables predate it (or do not exist yet), and the
 * writer must check its objects under its transaction's lock instead. Reads only; outside a transaction.
 */
export async function readRepositoryEpoch(db: Kysely<Database>, dialect: SqlDialect): Promise<string | null> {
  return (await hasRepositoryEpoch(db, dialect)) ? readRepositoryEpochRow(db) : null;
}

/** Whether the profile's aiida-ts tables have the epoch (they are at `aiida_ts_0003` or later). */
async function hasRepositoryEpoch(db: Kysely<Database>, dialect: SqlDialect): Promise<boolean> {
  const version = await readAiidaTsSchemaVersion(db, dialect);
  // versions are `aiida_ts_NNNN`: ordered as strings
  return version !== null && version >= REPOSITORY_EPOCH_VERSION;
}

/** The epoch's row alone, where the table is known to exist (one round trip); null when the row is missing. */
export async function readRepositoryEpochRow(db: Kysely<Database>): Promise<string | null> {
  const row = await withAiidaTsTables(db)
    .selectFrom('aiida_ts_repository_epoch')
    .select('epoch')
    .where('id', '=', 1)
    .executeTakeFirst();
  return row === undefined ? null : String(row.epoch);
}

/** What a statement guarded by {@link repositoryEpochGuard} raises when the epoch changed. */
const EPOCH_CHANGED_MARK = 'aiida-ts:repository-epoch-changed';

/**
 * The guard of a PostgreSQL statement, as a common table expression and a column of its final SELECT: the row
 * locked `FOR SHARE` where the epoch is still `$parameter`, and a cast that fails the whole statement (nothing of it
 * is kept) when there is no such row. The cast depends on the count, so the planner cannot fold it into a failure of
 * every execution.
 */
export function repositoryEpochGuard(parameter: number): {
  readonly expression: string;
  readonly check: string;
} {
  const count = '(SELECT count(*) FROM repository_epoch)';
  return {
    expression: `repository_epoch AS (SELECT epoch FROM aiida_ts_repository_epoch WHERE id = 1 AND epoch = $${parameter}::bigint FOR SHARE)`,
    check: `CASE WHEN ${count} = 0 THEN ('${EPOCH_CHANGED_MARK} ' || ${count})::integer END AS repository_epoch`,
  };
}

/** Whether `error` is a statement of {@link repositoryEpochGuard} refused because the epoch changed. */
export function isRepositoryEpochChange(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === '22P02' &&
    error.message.includes(EPOCH_CHANGED_MARK)
  );
}
