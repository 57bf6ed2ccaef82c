import type { StorageBackend } from '../../src/storage/backend.js';
import { PsqlDosStorage } from '../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { psqlDosConfig, sqliteDosConfig, TEST_USER_EMAIL } from './helpers.js';

/** A profile storage that several OS processes can open: its config, and how to open and remove it. */
export interface SharedProfile {
  readonly entryPoint: 'core.sqlite_dos' | 'core.psql_dos';
  readonly config: unknown;
  open(): Promise<StorageBackend>;
  cleanup(): Promise<void>;
}

/** The backends whose storage several processes can share, each made fresh (a new folder or database). */
export const SHARED_BACKENDS = [
  {
    name: 'core.sqlite_dos',
    async make(): Promise<SharedProfile> {
      const plugin = new SqliteDosStorage();
      const { config, cleanup } = await sqliteDosConfig();
      await plugin.initialise(config);
      return {
        entryPoint: 'core.sqlite_dos',
        config,
        open: () => plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL }),
        cleanup,
      };
    },
  },
  {
    name: 'core.psql_dos',
    async make(): Promise<SharedProfile> {
      const plugin = new PsqlDosStorage({ poolSize: 4 });
      const { config, cleanup } = await psqlDosConfig();
      await plugin.initialise(config);
      return {
        entryPoint: 'core.psql_dos',
        config,
        open: () => plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL }),
        cleanup,
      };
    },
  },
] as const;
