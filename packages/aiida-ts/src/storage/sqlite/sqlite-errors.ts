import { IntegrityError } from '../../errors.js';

/** The `code` better-sqlite3 gives an error (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_BUSY`, …), or '' for none. */
export function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * An insert into `table` that broke a constraint (a duplicate uuid, a missing row a foreign key names), as this
 * package reports it: an `IntegrityError` naming the table, with SQLite's error as `cause`; undefined for any other
 * failure.
 */
export function insertConstraintError(table: string, error: unknown): IntegrityError | undefined {
  if (!sqliteCode(error).startsWith('SQLITE_CONSTRAINT')) return undefined;
  return new IntegrityError(`insert into ${table} violates a constraint: ${(error as Error).message}`, {
    cause: error,
  });
}
