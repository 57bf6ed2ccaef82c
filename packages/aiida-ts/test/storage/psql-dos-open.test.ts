import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  CorruptStorageError,
  DatabaseUnavailableError,
  IncompatibleStorageSchemaError,
} from '../../src/errors.js';
import { PsqlDosStorage, type PsqlDosConfig } from '../../src/storage/postgres/psql-dos.js';
import { psqlDosConfig } from './helpers.js';

/** Runs `statements` on the profile's database, as another program (aiida-core, psql) would. */
async function runOnDatabase(config: PsqlDosConfig, ...statements: string[]): Promise<unknown[][]> {
  const client = new pg.Client({
    host: config.database_hostname,
    port: config.database_port,
    user: config.database_username,
    password: config.database_password,
    database: config.database_name,
  });
  await client.connect();
  try {
    const results: unknown[][] = [];
    for (const statement of statements) results.push((await client.query(statement)).rows);
    return results;
  } finally {
    await client.end();
  }
}

/** A fresh initialised profile, given to `fn`, dropped afterwards. */
async function withProfile(
  fn: (plugin: PsqlDosStorage, config: PsqlDosConfig) => Promise<void>,
): Promise<void> {
  const plugin = new PsqlDosStorage();
  const { config, cleanup } = await psqlDosConfig();
  try {
    await plugin.initialise(config);
    await fn(plugin, config);
  } finally {
    await cleanup();
  }
}

// the open reads its checks in two round trips: each missing piece must still be refused as it was one at a time
describe('core.psql_dos open checks', () => {
  it.each([
    {
      missing: 'alembic_version',
      statement: 'DROP TABLE alembic_version',
      type: IncompatibleStorageSchemaError,
      message: 'The database has no known version.',
    },
    {
      missing: 'the repository UUID setting',
      statement: "DELETE FROM db_dbsetting WHERE key = 'repository|uuid'",
      type: CorruptStorageError,
      message: 'The database has no repository UUID set.',
    },
    {
      // in the server's words, with the profile
      missing: 'db_dbsetting',
      statement: 'DROP TABLE db_dbsetting',
      type: DatabaseUnavailableError,
      message: / of profile `broken` cannot be used: relation "db_dbsetting" does not exist$/,
    },
  ])('refuses a database without $missing', async ({ statement, type, message }) => {
    await withProfile(async (plugin, config) => {
      await runOnDatabase(config, statement);
      const error = await plugin.open(config, { profileName: 'broken' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    });
  });

  it('creates aiida-ts’s index on open, and again when it was dropped', async () => {
    await withProfile(async (plugin, config) => {
      const index = 'ix_db_dbnode_attributes_process_state_aiida_ts';
      const present = async () =>
        (await runOnDatabase(config, `SELECT indexname FROM pg_indexes WHERE indexname = '${index}'`))[0];
      const openAndClose = async () => {
        const storage = await plugin.open(config);
        try {
          expect(await storage.schemaVersion()).toBe(plugin.versionHead());
        } finally {
          await storage.close();
        }
      };
      await openAndClose();
      expect(await present()).toEqual([{ indexname: index }]);
      await runOnDatabase(config, `DROP INDEX ${index}`);
      expect(await present()).toEqual([]);
      await openAndClose();
      expect(await present()).toEqual([{ indexname: index }]);
    });
  });
});
