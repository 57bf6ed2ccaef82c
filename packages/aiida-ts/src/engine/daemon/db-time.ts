import { sql, type RawBuilder } from 'kysely';
import { DialectName, type SqlDialect } from '../../storage/dialect.js';

/**
 * Now in epoch milliseconds as an SQL expression: the database server's clock on PostgreSQL (every machine sharing
 * the database agrees on it; read when the statement runs), the machine's clock on SQLite (the only machine an SQLite
 * file is shared on). Lease expiries are computed and compared with it, never with a worker's own clock.
 */
export function dbNowMs(dialect: SqlDialect): RawBuilder<number | string> {
  return dialect.name === DialectName.POSTGRES
    ? sql<string>`(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`
    : sql<number>`CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)`;
}

/** An epoch-milliseconds column as the driver returned it (PostgreSQL gives `BIGINT` as a string). */
export function epochMs(raw: number | string | bigint): number {
  return typeof raw === 'number' ? raw : Number(raw);
}

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
