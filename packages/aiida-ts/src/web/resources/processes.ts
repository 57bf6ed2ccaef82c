import { QueryBuilder } from '../../querybuilder/query-builder.js';
import type { WebContext } from '../context.js';
import type { Row } from './listing.js';
import { RESOURCES } from './definitions.js';
import { shapeRow } from './listing.js';

/** One line of a process report (aiida-core's `/processes/<id>/report`). */
export interface ReportEntry {
  readonly id: number;
  readonly time: unknown;
  readonly loggername: string;
  readonly levelname: string;
  readonly message: string;
  readonly process_pk: number;
}

/** The log records of a process and, with `withCalled`, of the processes it called (oldest first). */
export async function processReport(
  context: WebContext,
  pk: number,
  pks: readonly number[] = [pk],
): Promise<ReportEntry[]> {
  const rows = await new QueryBuilder({ backend: context.storage })
    .append('log', {
      tag: 'l',
      filters: { dbnode_id: { in: [...pks] } },
      project: ['id', 'time', 'loggername', 'levelname', 'message', 'dbnode_id'],
    })
    .orderBy({ l: [{ time: 'asc' }, { id: 'asc' }] })
    .limit(10_000)
    .dict();
  return rows.map((result) => {
    const log = result['l'] ?? {};
    return {
      id: Number(log['id']),
      time: log['time'],
      loggername: String(log['loggername']),
      levelname: String(log['levelname']),
      message: String(log['message']),
      process_pk: Number(log['dbnode_id']),
    };
  });
}

/** A process and the processes it called, recursively. */
export interface CallTree {
  readonly process: Row;
  readonly link_label: string | null;
  readonly calls: CallTree[];
}

/** Most processes a call tree shows: a runaway recursion must not take the server down. */
export const MAX_CALL_TREE = 2_000;

/** The call tree under a process (`CALL_CALC`/`CALL_WORK` links), breadth first, at most {@link MAX_CALL_TREE}. */
export async function callTree(
  context: WebContext,
  root: Row,
): Promise<{ tree: CallTree; truncated: boolean }> {
  const tree: CallTree = { process: root, link_label: null, calls: [] };
  const byPk = new Map<number, CallTree>([[Number(root['id']), tree]]);
  let frontier = [Number(root['id'])];
  let truncated = false;
  while (frontier.length > 0 && !truncated) {
    const rows = await new QueryBuilder({ backend: context.storage })
      .append('', { tag: 'caller', filters: { id: { in: frontier } }, project: ['id'] })
      .append('', {
        tag: 'e',
        withIncoming: 'caller',
        edgeTag: 'edge',
        edgeFilters: { type: { in: ['call_calc', 'call_work'] } },
        edgeProject: ['label'],
        project: [...RESOURCES.processes.projection],
      })
      .orderBy({ e: [{ id: 'asc' }] })
      .dict();
    const next: number[] = [];
    for (const result of rows) {
      const row = shapeRow(RESOURCES.processes, result['e'] ?? {});
      const pk = Number(row['id']);
      const parent = byPk.get(Number(result['caller']?.['id']));
      if (parent === undefined || byPk.has(pk)) continue;
      if (byPk.size >= MAX_CALL_TREE) {
        truncated = true;
        break;
      }
      const label = result['edge']?.['label'];
      const child: CallTree = {
        process: row,
        link_label: typeof label === 'string' ? label : '',
        calls: [],
      };
      parent.calls.push(child);
      byPk.set(pk, child);
      next.push(pk);
    }
    frontier = next;
  }
  return { tree, truncated };
}

/** Every pk in a call tree. */
export function treePks(tree: CallTree): number[] {
  return [Number(tree.process['id']), ...tree.calls.flatMap(treePks)];
}
