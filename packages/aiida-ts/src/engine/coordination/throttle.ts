import type { StorageBackend } from '../../storage/backend.js';
import { DialectName } from '../../storage/dialect.js';
import { withAiidaTsTables } from '../../storage/aiida-ts-schema/schema.js';
import { dbNowMsText, epochMs } from './db-clock.js';

/** A use of a throttled key, reserved in the table: when it may happen and the database's time when reserved. */
export interface ThrottleReservation {
  /** Epoch ms of the use (now, or later when the previous use was less than an interval ago). */
  readonly at: number;
  /** Epoch ms of the database's clock when the reservation was made. */
  readonly now: number;
}

/**
 * Reserves the next use of `key`: the later of now and the previous use plus `intervalMs`, written in the same
 * statement that reads the previous use, so concurrent callers of every process queue up one interval apart in the
 * order the database serialised them (first come, first served) and nobody has to poll. One statement, run in
 * autocommit on PostgreSQL (its row lock serialises callers) and in a `BEGIN IMMEDIATE` transaction on SQLite
 * (whose write lock does, with the backend's busy retries).
 */
export async function reserveUse(
  backend: StorageBackend,
  key: string,
  intervalMs: number,
): Promise<ThrottleReservation> {
  // a fixed text per dialect, prepared once (every transport opening reserves its turn)
  const now = dbNowMsText(backend.dialect);
  const later =
    backend.dialect.name === DialectName.POSTGRES
      ? `GREATEST(${now}, aiida_ts_throttle.last_used + $2::bigint)`
      : `max(${now}, aiida_ts_throttle.last_used + $2)`;
  const text = `INSERT INTO aiida_ts_throttle (key, last_used) VALUES ($1, ${now})
    ON CONFLICT (key) DO UPDATE SET last_used = ${later}
    RETURNING last_used AS at, ${now} AS now`;
  const run = async () => {
    const rows = await backend.executeRead<{ at: number | string; now: number | string }>(text, [
      key,
      intervalMs,
    ]);
    const row = rows[0]!;
    return { at: epochMs(row.at), now: epochMs(row.now) };
  };
  return backend.dialect.name === DialectName.POSTGRES ? run() : backend.transaction(run);
}

/**
 * Gives back a reservation that will not be used (its caller gave up while waiting for it), unless someone
 * reserved after it: then it stays, and only costs that caller's turn.
 */
export async function cancelReservation(
  backend: StorageBackend,
  key: string,
  reservation: ThrottleReservation,
  intervalMs: number,
): Promise<void> {
  // a caller only waits when the previous use was exactly one interval before its own
  await withAiidaTsTables(backend.executor())
    .updateTable('aiida_ts_throttle')
    .set({ last_used: reservation.at - intervalMs })
    .where('key', '=', key)
    .where('last_used', '=', reservation.at)
    .execute();
}
