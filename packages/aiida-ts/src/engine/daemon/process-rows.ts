import { sql } from 'kysely';
import type { StorageBackend } from '../../storage/backend.js';

/** The process states of a process that has not terminated (aiida's "active" processes). */
export const ACTIVE_STATES = ['created', 'waiting', 'running'] as const;

/** What the daemon needs to know of a process node, read in one query. */
export interface ProcessRow {
  readonly pk: number;
  readonly nodeType: string;
  readonly processType: string | null;
  readonly state: string | null;
  readonly paused: boolean;
}

/** The active process nodes (created, waiting or running), oldest first; `pausedOnly` keeps the paused ones. */
export async function activeProcesses(
  storage: StorageBackend,
  options: { readonly pausedOnly?: boolean; readonly pks?: readonly number[] } = {},
): Promise<ProcessRow[]> {
  if (options.pks !== undefined && options.pks.length === 0) return [];
  const dialect = storage.dialect;
  const state = dialect.jsonExtractText(sql.ref('attributes'), ['process_state']);
  const paused = dialect.jsonExtractBoolean(sql.ref('attributes'), ['paused']);
  let query = storage
    .executor()
    .selectFrom('db_dbnode')
    .select(['id', 'node_type', 'process_type'])
    .select([state.as('state'), paused.as('paused')])
    .where('node_type', 'like', 'process.%')
    .where(state, 'in', [...ACTIVE_STATES])
    .orderBy('id');
  if (options.pks !== undefined) query = query.where('id', 'in', [...options.pks]);
  const rows = await query.execute();
  return rows
    .map((row) => ({
      pk: Number(row.id),
      nodeType: row.node_type,
      processType: row.process_type ?? null,
      state: row.state ?? null,
      paused: row.paused === true || row.paused === 1,
    }))
    .filter((row) => options.pausedOnly !== true || row.paused);
}

/** The caller of each of these processes (its `call_calc`/`call_work` link), by pk. */
export async function callersOf(
  storage: StorageBackend,
  pks: readonly number[],
): Promise<Map<number, number>> {
  const callers = new Map<number, number>();
  if (pks.length === 0) return callers;
  const rows = await storage
    .executor()
    .selectFrom('db_dblink')
    .select(['input_id', 'output_id'])
    .where('output_id', 'in', [...pks])
    .where('type', 'in', ['call_calc', 'call_work'])
    .execute();
  for (const row of rows) callers.set(Number(row.output_id), Number(row.input_id));
  return callers;
}

/** The active processes these ones called (their children still running), by caller. */
export async function activeChildren(storage: StorageBackend, pk: number): Promise<number[]> {
  const rows = await storage
    .executor()
    .selectFrom('db_dblink')
    .select('output_id')
    .where('input_id', '=', pk)
    .where('type', 'in', ['call_calc', 'call_work'])
    .execute();
  const children = rows.map((row) => Number(row.output_id));
  return (await activeProcesses(storage, { pks: children })).map((row) => row.pk);
}
