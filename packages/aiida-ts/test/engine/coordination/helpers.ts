import { randomUUID } from 'node:crypto';
import { CalcJobNode } from '../../../src/orm/nodes/process/calcjob.js';
import { Node } from '../../../src/orm/nodes/node.js';
import type { StorageBackend } from '../../../src/storage/backend.js';
import { PsqlDosStorage } from '../../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../../../src/storage/sqlite/sqlite-dos.js';
import { psqlDosConfig, sqliteDosConfig, TEST_USER_EMAIL } from '../../storage/helpers.js';

/** `n` stored CalcJobNodes in the `waiting` state, to hold job slots (a holder is a process node's pk). */
export async function makeHolders(storage: StorageBackend, n: number): Promise<number[]> {
  const nodes = await Node.storeMany(
    Array.from({ length: n }, () => new CalcJobNode(undefined, { storage, label: 'holder' })),
    { storage },
  );
  const pks = nodes.map((node) => node.pk!);
  await setProcessState(storage, pks, 'waiting');
  return pks;
}

/** Sets the `process_state` attribute of nodes directly (as a runner in another process would). */
export async function setProcessState(
  storage: StorageBackend,
  pks: readonly number[],
  state: string,
): Promise<void> {
  await storage
    .executor()
    .updateTable('db_dbnode')
    .set({ attributes: storage.dialect.encodeJson({ process_state: state }) })
    .where('id', 'in', pks)
    .execute();
}

/** A pool name for a computer that exists only in the test. */
export function computerPoolName(): string {
  return `computer:${randomUUID()}`;
}

/** Polls `condition` until it holds (or a generous deadline passes: then throws naming `what`). */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  what: string,
  deadlineMs = 20_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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
