import type { Group as GroupClass } from '../../orm/entities/group.js';
import type { ProcessNode as ProcessNodeClass } from '../../orm/nodes/process/process.js';
import type { QueryBuilder as QueryBuilderClass } from '../../querybuilder/query-builder.js';
import type { StorageBackend } from '../../storage/backend.js';
import { ACTIVE_PROCESS_STATES, queriedFields, type ProcessRow } from './projections.js';

/** The filters of `verdi process list`, as its options give them. */
export interface ProcessListFilters {
  /** `-a/--all`: ignore the process state filter. */
  readonly all?: boolean;
  /** `-S/--process-state`; default: the active states. */
  readonly processStates?: readonly string[];
  /** `-L/--process-label`; `%` and `_` make it a LIKE pattern. */
  readonly processLabel?: string;
  /** `--paused`: only paused processes. */
  readonly paused?: boolean;
  /** `-E/--exit-status`: only finished processes with this exit status. */
  readonly exitStatus?: number;
  /** `-X/--failed`: only finished processes with a non-zero exit status. */
  readonly failed?: boolean;
  /** `-p/--past-days`: only processes created this many days ago or later. */
  readonly pastDays?: number;
  /** `-G/--group`: only members of the group with this pk. */
  readonly groupPk?: number;
}

/** Options of {@link queryProcesses}. */
export interface QueryProcessesOptions extends ProcessListFilters {
  readonly storage: StorageBackend;
  readonly orderBy?: 'id' | 'ctime';
  readonly orderDirection?: 'asc' | 'desc';
  readonly limit?: number;
  /** The time `--past-days` counts back from (now by default). */
  readonly now?: Date;
}

/**
 * The QueryBuilder filters of `verdi process list`, with aiida-core's precedence: `--failed` and `--exit-status`
 * replace the state filter with `finished`; `--all` drops only the default state filter.
 */
export function processListFilters(
  filters: ProcessListFilters,
  now: Date = new Date(),
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const states = filters.processStates ?? ACTIVE_PROCESS_STATES;
  if (filters.all !== true && states.length > 0) out['attributes.process_state'] = { in: [...states] };
  if (filters.processLabel !== undefined) {
    out['attributes.process_label'] = /[%_]/.test(filters.processLabel)
      ? { like: filters.processLabel }
      : filters.processLabel;
  }
  if (filters.paused === true) out['attributes.paused'] = true;
  if (filters.failed === true) {
    out['attributes.process_state'] = { '==': 'finished' };
    out['attributes.exit_status'] = { '>': 0 };
  }
  if (filters.exitStatus !== undefined) {
    out['attributes.process_state'] = { '==': 'finished' };
    out['attributes.exit_status'] = { '==': filters.exitStatus };
  }
  if (filters.pastDays !== undefined)
    out.ctime = { '>': new Date(now.getTime() - filters.pastDays * 86_400_000) };
  return out;
}

let modules:
  | Promise<{
      QueryBuilder: typeof QueryBuilderClass;
      ProcessNode: typeof ProcessNodeClass;
      Group: typeof GroupClass;
    }>
  | undefined;

// loaded on first use (the CLI starts without them), then kept: a query per call costs less than an import per call
function queryModules(): NonNullable<typeof modules> {
  modules ??= Promise.all([
    import('../../querybuilder/query-builder.js'),
    import('../../orm/nodes/process/process.js'),
    import('../../orm/entities/group.js'),
  ]).then(([qb, process, group]) => ({
    QueryBuilder: qb.QueryBuilder,
    ProcessNode: process.ProcessNode,
    Group: group.Group,
  }));
  return modules;
}

/** The process nodes `verdi process list` shows, each as its projected fields (see {@link queriedFields}). */
export async function queryProcesses(options: QueryProcessesOptions): Promise<ProcessRow[]> {
  const { QueryBuilder, ProcessNode, Group } = await queryModules();
  const fields = queriedFields();
  const qb = new QueryBuilder({ backend: options.storage }).append(ProcessNode, {
    tag: 'process',
    filters: processListFilters(options, options.now),
    project: fields,
  });
  if (options.groupPk !== undefined) {
    qb.append(Group, { tag: 'group', filters: { id: options.groupPk }, withNode: 'process' });
  }
  const direction = options.orderDirection ?? 'asc';
  // The pk breaks ties of equal creation times, so the order is the same on every run.
  qb.orderBy({ process: [{ [options.orderBy ?? 'ctime']: direction }, { id: direction }] });
  if (options.limit !== undefined) qb.limit(options.limit);
  const rows = await qb.dict();
  return rows.map((row) => row.process ?? {});
}

/**
 * The latest time a process changed state, from the `process|state_change|work` and `…|calculation` settings the
 * engine writes; null when no process ever did.
 */
export async function lastStateChange(storage: StorageBackend): Promise<Date | null> {
  let latest: Date | null = null;
  for (const kind of ['calculation', 'work']) {
    const value = await storage.getGlobalVariable(`process|state_change|${kind}`);
    if (typeof value !== 'string') continue;
    const time = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
    if (Number.isNaN(time.getTime())) continue;
    if (latest === null || time > latest) latest = time;
  }
  return latest;
}
