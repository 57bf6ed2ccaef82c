import { randomUUID } from 'node:crypto';
import { CalcJobNode } from '../../../src/orm/nodes/process/calcjob.js';
import { Node } from '../../../src/orm/nodes/node.js';
import type { StorageBackend } from '../../../src/storage/backend.js';

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

export { SHARED_BACKENDS, type SharedProfile } from '../../storage/shared-profile.js';
