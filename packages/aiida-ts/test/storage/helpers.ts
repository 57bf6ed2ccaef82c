import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { wirePlugins } from '../../src/config/plugin-wiring.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import {
  dropPostgresDatabase,
  PsqlDosStorage,
  type PsqlDosConfig,
} from '../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage, type SqliteDosConfig } from '../../src/storage/sqlite/sqlite-dos.js';
import { SqliteTempStorage } from '../../src/storage/sqlite/sqlite-temp.js';

/** A storage made for one test, and how to get rid of it. */
export interface TestStorage {
  readonly storage: StorageBackend;
  cleanup(): Promise<void>;
}

export const TEST_USER_EMAIL = 'tester@aiida.localhost';

/** A fresh temporary folder. */
export async function tempFolder(
  prefix = 'aiida-ts-storage-',
): Promise<{ folder: string; cleanup: () => Promise<void> }> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  return { folder, cleanup: () => rm(folder, { recursive: true, force: true }) };
}

/** A `core.sqlite_dos` config in a new folder (not initialised). */
export async function sqliteDosConfig(): Promise<{ config: SqliteDosConfig; cleanup: () => Promise<void> }> {
  const { folder, cleanup } = await tempFolder();
  return { config: new SqliteDosStorage().parseConfig({ filepath: path.join(folder, 'storage') }), cleanup };
}

/** A `core.psql_dos` config naming a new random database on the local server (not created). */
export async function psqlDosConfig(): Promise<{ config: PsqlDosConfig; cleanup: () => Promise<void> }> {
  const { folder, cleanup } = await tempFolder('aiida-ts-psql-');
  const config = new PsqlDosStorage().parseConfig({
    database_hostname: '127.0.0.1',
    database_port: 5432,
    database_username: 'postgres',
    database_password: '',
    database_name: `aiida_test_${randomBytes(6).toString('hex')}`,
    repository_uri: pathToFileURL(path.join(folder, 'repository')).href,
  });
  return {
    config,
    cleanup: async () => {
      await dropPostgresDatabase(config);
      await cleanup();
    },
  };
}

export async function openSqliteDos(): Promise<TestStorage> {
  wirePlugins(); // as loadProfile does: computers reach the plugin registries, built-in plugins load
  const plugin = new SqliteDosStorage();
  const { config, cleanup } = await sqliteDosConfig();
  await plugin.initialise(config);
  const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await cleanup();
    },
  };
}

export async function openPsqlDos(): Promise<TestStorage> {
  wirePlugins(); // as loadProfile does: computers reach the plugin registries, built-in plugins load
  const plugin = new PsqlDosStorage();
  const { config, cleanup } = await psqlDosConfig();
  await plugin.initialise(config);
  const storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await cleanup();
    },
  };
}

export async function openSqliteTemp(): Promise<TestStorage> {
  wirePlugins(); // as loadProfile does: computers reach the plugin registries, built-in plugins load
  const storage = await new SqliteTempStorage().open({}, { defaultUserEmail: TEST_USER_EMAIL });
  return { storage, cleanup: () => storage.close() };
}

/** Every backend the shared suites run on. */
export const BACKENDS = [
  { name: 'core.sqlite_dos', open: openSqliteDos },
  { name: 'core.psql_dos', open: openPsqlDos },
  { name: 'core.sqlite_temp', open: openSqliteTemp },
] as const;
