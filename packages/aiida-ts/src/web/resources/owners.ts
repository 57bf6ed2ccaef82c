import { ownershipOf, type Ownership } from '../../engine/daemon/ownership.js';
import type { WebContext } from '../context.js';
import type { Row } from './listing.js';

const ACTIVE = new Set<unknown>(['created', 'waiting', 'running']);

/**
 * Adds `owner` to active process rows, as `verdi process list -P owner` shows it: `worker <pid>`, `script <pid>`,
 * `(gone)` when that process died, `parked` or `queued` for a daemon process nobody holds; null otherwise.
 */
export async function addOwners(context: WebContext, rows: Row[]): Promise<Row[]> {
  const active = rows.filter((row) => ACTIVE.has(row['process_state'])).map((row) => Number(row['id']));
  const found: Map<number, Ownership> =
    active.length === 0
      ? new Map<number, Ownership>()
      : await ownershipOf(active, { storage: context.storage });
  for (const row of rows) {
    const ownership = found.get(Number(row['id']));
    let cell: string | null = null;
    if (ownership !== undefined) {
      if (ownership.state === 'parked') cell = 'parked';
      else if (ownership.state === 'runnable') cell = 'queued';
      else if (ownership.owner !== null)
        cell = `${ownership.owner.kind === 'daemon' ? 'worker' : 'script'} ${ownership.owner.pid}${ownership.orphaned ? ' (gone)' : ''}`;
      else if (ownership.state === 'running') cell = 'gone';
    }
    row['owner'] = cell;
  }
  return rows;
}
