import { sql, type RawBuilder } from 'kysely';
import type { SqlDialect } from '../../storage/dialect.js';
import { dbNowMs, epochMs } from '../coordination/db-clock.js';

// the clock of the coordination tables: the daemon's rows are compared with the same one
export { dbNowMs, dbNowMsText, epochMs } from '../coordination/db-clock.js';

/** A nullable epoch-milliseconds column as a `Date`. */
export function dateOf(raw: number | string | bigint | null): Date | null {
  return raw === null ? null : new Date(epochMs(raw));
}

/** {@link dbNowMs} typed as the number it is written as (a column of epoch milliseconds). */
export function dbNowValue(dialect: SqlDialect): RawBuilder<number> {
  return dbNowMs(dialect) as RawBuilder<number>;
}

/** `dbNow + ms` as a value to write. */
export function dbLaterValue(dialect: SqlDialect, ms: number): RawBuilder<number> {
  return sql<number>`${dbNowMs(dialect)} + ${ms}`;
}
