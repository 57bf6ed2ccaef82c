import { sql } from 'kysely';
import type { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { DialectName } from '../../storage/dialect.js';
import { withAiidaTsTables, type AiidaTsKysely } from '../../storage/aiida-ts-schema/schema.js';
import { dbNowMs, epochMs } from './db-clock.js';

/** The stored state of a shared poll, with the database's time when it was read. */
interface PollState {
  readonly now: number;
  readonly value: string | null;
  readonly polledAt: number | null;
  readonly poller: string | null;
  readonly leaseUntil: number | null;
}

/** What a caller of a shared poll does next. */
export type PollStep =
  | { readonly kind: 'result'; readonly value: string; readonly polledAt: number }
  | { readonly kind: 'poll'; readonly startedAt: number }
  | { readonly kind: 'wait'; readonly ms: number };

/** What a caller accepts as a result: younger than `intervalMs`, from a poll started at `notBefore` or later. */
export interface PollWish {
  readonly intervalMs: number;
  readonly notBefore: number | null;
}

async function readState(db: AiidaTsKysely, backend: StorageBackend, key: string): Promise<PollState> {
  const { rows } = await sql<{
    now: number | string;
    value: string | null;
    polled_at: number | string | null;
    poller: string | null;
    lease_until: number | string | null;
  }>`SELECT ${dbNowMs(backend.dialect)} AS now, p.value, p.polled_at, p.poller, p.lease_until
     FROM (SELECT 1 AS one) AS here LEFT JOIN aiida_ts_poll AS p ON p.key = ${key}`.execute(db);
  const row = rows[0]!;
  return {
    now: epochMs(row.now),
    value: row.value,
    polledAt: row.polled_at === null ? null : epochMs(row.polled_at),
    poller: row.poller,
    leaseUntil: row.lease_until === null ? null : epochMs(row.lease_until),
  };
}

function acceptable(state: PollState, wish: PollWish): { value: string; polledAt: number } | null {
  if (state.value === null || state.polledAt === null) return null;
  if (state.polledAt <= state.now - wish.intervalMs) return null;
  if (wish.notBefore !== null && state.polledAt < wish.notBefore) return null;
  return { value: state.value, polledAt: state.polledAt };
}

function pollerActive(state: PollState): boolean {
  return state.poller !== null && state.leaseUntil !== null && state.leaseUntil > state.now;
}

/**
 * Looks at the poll of `key` without writing: a result to take, or how long to wait while someone polls. Resolves
 * to null when the caller should try {@link claimPoll}.
 */
export async function peekPoll(
  backend: StorageBackend,
  key: string,
  wish: PollWish,
  pollMs: number,
): Promise<PollStep | null> {
  const state = await readState(withAiidaTsTables(backend.executor()), backend, key);
  const result = acceptable(state, wish);
  if (result !== null) return { kind: 'result', ...result };
  if (pollerActive(state)) return { kind: 'wait', ms: Math.min(pollMs, state.leaseUntil! - state.now) };
  return null;
}

/**
 * In one transaction: takes the stored result if acceptable, or waits for a running poll, or — when nobody
 * polls and the key's throttle allows (its last use at least `intervalMs` ago) — records a use of the throttle
 * and a lease for `poller`, and tells the caller to poll.
 */
export async function claimPoll(
  backend: StorageBackend,
  key: string,
  wish: PollWish,
  poller: string,
  leaseMs: number,
  pollMs: number,
): Promise<PollStep> {
  return backend.transaction(async (trx) => {
    const db = withAiidaTsTables(trx);
    // the row exists before it is locked, so concurrent first callers queue on it
    await db
      .insertInto('aiida_ts_poll')
      .values({ key, value: null, polled_at: null, poller: null, poll_started_at: null, lease_until: null })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    if (backend.dialect.name === DialectName.POSTGRES) {
      // concurrent claimers queue on the row (SQLite's write lock already serialises them)
      await db.selectFrom('aiida_ts_poll').select('key').where('key', '=', key).forUpdate().execute();
    }
    const state = await readState(db, backend, key);
    const result = acceptable(state, wish);
    if (result !== null) return { kind: 'result', ...result };
    if (pollerActive(state)) return { kind: 'wait', ms: Math.min(pollMs, state.leaseUntil! - state.now) };
    const throttle = await db
      .selectFrom('aiida_ts_throttle')
      .select('last_used')
      .where('key', '=', key)
      .executeTakeFirst();
    const next = throttle === undefined ? state.now : epochMs(throttle.last_used) + wish.intervalMs;
    if (next > state.now) return { kind: 'wait', ms: next - state.now };
    await db
      .insertInto('aiida_ts_throttle')
      .values({ key, last_used: state.now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ last_used: state.now }))
      .execute();
    await db
      .updateTable('aiida_ts_poll')
      .set({ poller, poll_started_at: state.now, lease_until: state.now + leaseMs })
      .where('key', '=', key)
      .execute();
    return { kind: 'poll', startedAt: state.now };
  });
}

/** Extends the lease of a running poll; resolves to whether `poller` still holds it. */
export async function renewPollLease(
  backend: StorageBackend,
  key: string,
  poller: string,
  leaseMs: number,
): Promise<boolean> {
  const result = await sql`UPDATE aiida_ts_poll SET lease_until = ${dbNowMs(backend.dialect)} + ${leaseMs}
    WHERE key = ${key} AND poller = ${poller}`.execute(backend.executor());
  return (result.numAffectedRows ?? 0n) > 0n;
}

/**
 * Stores a poll's result (unless a result of a later poll is already there) and ends `poller`'s lease. `value` is
 * undefined for a failed poll: then only the lease ends, and the next caller polls once the throttle allows.
 */
export async function finishPoll(
  backend: StorageBackend,
  key: string,
  poller: string,
  startedAt: number,
  value: string | undefined,
): Promise<void> {
  await backend.transaction(async (trx) => {
    const db = withAiidaTsTables(trx);
    if (value !== undefined) {
      await db
        .updateTable('aiida_ts_poll')
        .set({ value, polled_at: startedAt })
        .where('key', '=', key)
        .where((eb) => eb.or([eb('polled_at', 'is', null), eb('polled_at', '<', startedAt)]))
        .execute();
    }
    await db
      .updateTable('aiida_ts_poll')
      .set({ poller: null, poll_started_at: null, lease_until: null })
      .where('key', '=', key)
      .where('poller', '=', poller)
      .execute();
  });
}

/** The JSON text of a poll result; `ValidationError` for a value JSON cannot hold. */
export function encodePollValue(key: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`the result of the shared poll \`${key}\` cannot be stored as JSON`, [], {
      cause: error,
    });
  }
  if (text === undefined) {
    throw new ValidationError(
      `the result of the shared poll \`${key}\` is ${typeof value}, which JSON cannot hold`,
    );
  }
  return text;
}

/** A stored poll result, checked against `schema` when one is given. */
export function decodePollValue<T>(key: string, text: string, schema: z.ZodType<T> | undefined): T {
  const raw: unknown = JSON.parse(text);
  if (schema === undefined) return raw as T;
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    `the stored result of the shared poll \`${key}\` does not match its schema`,
    parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  );
}
