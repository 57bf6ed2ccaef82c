import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type RawBuilder,
} from 'kysely';
import type { DialectName } from '../../storage/dialect.js';

// Kysely instances that only compile (their driver never connects), so SQL can be shown without a database
const compilers: Record<DialectName, Kysely<unknown>> = {
  sqlite: new Kysely<unknown>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  }),
  postgres: new Kysely<unknown>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  }),
};

/** The SQL text and parameters of a statement in `dialect`. */
export function compileSql(
  query: RawBuilder<unknown>,
  dialect: DialectName,
): { sql: string; parameters: readonly unknown[] } {
  const compiled = query.compile(compilers[dialect]);
  return { sql: compiled.sql, parameters: compiled.parameters };
}

/** A value written as an SQL literal, for display only. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (Array.isArray(value))
    return `'{${value.map((v) => (typeof v === 'string' ? `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : String(v))).join(',')}}'`;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The statement as text for reading: with its parameter list, or (`inline`) with the values written in place of
 * the placeholders. Inlined text is for humans only; queries always run with bound parameters.
 */
export function renderSql(query: RawBuilder<unknown>, dialect: DialectName, inline: boolean): string {
  const { sql, parameters } = compileSql(query, dialect);
  if (!inline) return `${sql}\n-- parameters: ${JSON.stringify(parameters)}`;
  if (dialect === 'postgres')
    return sql.replace(/\$(\d+)/g, (_m, n: string) => literal(parameters[Number(n) - 1]));
  let index = 0;
  // the statement's own string literals never hold '?': every value of ours is a parameter
  return sql.replace(/\?/g, () => literal(parameters[index++]));
}
