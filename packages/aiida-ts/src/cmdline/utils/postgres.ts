import { ConfigurationError } from '../../errors.js';
import { randomBytes } from 'node:crypto';

/** How to reach a PostgreSQL server as a user allowed to create roles and databases. */
export interface PostgresAdmin {
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly password?: string;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Create a login role and a database it owns (as `verdi presto --use-postgres` does), both named
 * `aiida-<profile>`; when either exists already a numeric suffix is added.
 *
 * @returns the `core.psql_dos` connection keys for the new role and database.
 * @throws Error saying why the server could not be reached or the role/database not created.
 */
export async function createPostgresRoleAndDatabase(
  admin: PostgresAdmin,
  profileName: string,
): Promise<{
  database_hostname: string;
  database_port: number;
  database_username: string;
  database_password: string;
  database_name: string;
}> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({
    host: admin.hostname,
    port: admin.port,
    user: admin.username,
    password: admin.password ?? '',
    database: 'postgres',
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new ConfigurationError(
      `failed to connect to the PostgreSQL server at ${admin.hostname}:${admin.port} as \`${admin.username}\`: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    const base = `aiida-${profileName}`;
    let name = base;
    for (let suffix = 1; ; suffix += 1) {
      const roles = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
      const databases = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (roles.rowCount === 0 && databases.rowCount === 0) break;
      name = `${base}-${suffix}`;
    }
    const password = randomBytes(15).toString('hex');
    await client.query(`CREATE ROLE ${quoteIdentifier(name)} LOGIN PASSWORD ${quoteLiteral(password)}`);
    await client.query(
      `CREATE DATABASE ${quoteIdentifier(name)} OWNER ${quoteIdentifier(name)} ENCODING 'UTF8' TEMPLATE template0`,
    );
    return {
      database_hostname: admin.hostname,
      database_port: admin.port,
      database_username: name,
      database_password: password,
      database_name: name,
    };
  } catch (error) {
    throw new ConfigurationError(
      `unable to create the PostgreSQL role and database: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    await client.end();
  }
}
