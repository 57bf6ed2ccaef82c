import { sql, type RawBuilder } from 'kysely';
import { CorruptStorageError } from '../../errors.js';
import { DialectName, type SqlDialect } from '../../storage/dialect.js';

/**
 * The current time in epoch milliseconds as an SQL expression: PostgreSQL's `clock_timestamp()` (the database
 * server's clock, which every machine sharing the database agrees on, read when the expression runs rather than
 * when the transaction began), or SQLite's `julianday('now')` (the clock of the machine, which is the only one an
 * SQLite file is shared on; SQLite keeps it fixed for the whole statement).
 */
export function dbNowMs(dialect: SqlDialect): RawBuilder<number | string> {
  return sql.raw<number | string>(dbNowMsText(dialect));
}

/** {@link dbNowMs} as SQL text, for a plain statement (`WriteStatement`). */
export function dbNowMsText(dialect: SqlDialect): string {
  return dialect.name === DialectName.POSTGRES
    ? '(floor(extract(epoch from clock_timestamp()) * 1000))::bigint'
    : "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";
}

/** An epoch-milliseconds value as the driver returned it (PostgreSQL gives `BIGINT` as a string). */
export function epochMs(raw: number | string | bigint): number {
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isFinite(value)) {
    throw new CorruptStorageError(`not a time in epoch milliseconds in an aiida-ts table: ${String(raw)}`);
  }
  return value;
}
