import {
  formatPythonBool,
  formatProcessState,
  formatRelativeTime,
  formatState,
} from '../../tools/process-info/formatting.js';
import type { Cell } from '../../tools/process-info/tabulate.js';

/**
 * The projections `verdi process list -P` accepts: aiida-core's `CalculationQueryBuilder.valid_projections`.
 * `state` is compound (process state + paused + exit status); the others map to one column or attribute.
 */
export const PROCESS_PROJECTIONS = [
  'pk',
  'uuid',
  'ctime',
  'mtime',
  'state',
  'process_state',
  'process_status',
  'exit_status',
  'exit_message',
  'sealed',
  'process_label',
  'label',
  'description',
  'node_type',
  'paused',
  'process_type',
  'job_state',
  'scheduler_state',
  'job_id',
  'exception',
  'cached',
  'cached_from',
  'owner',
] as const;
export type ProcessProjection = (typeof PROCESS_PROJECTIONS)[number];

/** What `verdi process list` shows without `-P`. */
export const DEFAULT_PROCESS_PROJECTIONS: readonly ProcessProjection[] = [
  'pk',
  'ctime',
  'process_label',
  'state',
  'process_status',
];

/** The process states `verdi process list` shows by default: the active ones. */
export const ACTIVE_PROCESS_STATES = ['created', 'waiting', 'running'] as const;

/** Every process state `-S/--process-state` accepts. */
export const PROCESS_STATE_CHOICES = [
  'created',
  'waiting',
  'running',
  'finished',
  'excepted',
  'killed',
] as const;

const LABELS: Partial<Record<ProcessProjection, string>> = {
  pk: 'PK',
  uuid: 'UUID',
  ctime: 'Created',
  mtime: 'Modified',
  state: 'Process State',
  cached: '\u267b',
};

/** The QueryBuilder field each simple projection reads (`state` reads several; see {@link STATE_FIELDS}). */
export const PROJECTION_FIELDS: Record<Exclude<ProcessProjection, 'state' | 'owner'>, string> = {
  pk: 'id',
  uuid: 'uuid',
  ctime: 'ctime',
  mtime: 'mtime',
  process_state: 'attributes.process_state',
  process_status: 'attributes.process_status',
  exit_status: 'attributes.exit_status',
  exit_message: 'attributes.exit_message',
  sealed: 'attributes.sealed',
  process_label: 'attributes.process_label',
  label: 'label',
  description: 'description',
  node_type: 'node_type',
  paused: 'attributes.paused',
  process_type: 'process_type',
  job_state: 'attributes.state',
  scheduler_state: 'attributes.scheduler_state',
  job_id: 'attributes.job_id',
  exception: 'attributes.exception',
  cached: 'extras._aiida_cached_from',
  cached_from: 'extras._aiida_cached_from',
};

/**
 * The row key `verdi process list` fills, after the query, with who runs the process (a daemon worker or a script,
 * from the daemon's records): not a QueryBuilder field.
 */
export const OWNER_FIELD = 'aiida_ts.owner';

/** The fields the compound `state` projection is made of. */
export const STATE_FIELDS = {
  processState: 'attributes.process_state',
  paused: 'attributes.paused',
  exitStatus: 'attributes.exit_status',
} as const;

/** Every field a `verdi process list` query projects (each once). */
export function queriedFields(): string[] {
  return [...new Set([...Object.values(PROJECTION_FIELDS), ...Object.values(STATE_FIELDS)])];
}

/** The column header of a projection (`PK`, `Created`, `Process label`, …). */
export function projectionLabel(projection: ProcessProjection): string {
  const label = LABELS[projection];
  if (label !== undefined) return label;
  const words = projection.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One queried row: the projected fields by their QueryBuilder name. */
export type ProcessRow = Readonly<Record<string, unknown>>;

const asString = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const asNumber = (value: unknown): number | null => (typeof value === 'number' ? value : null);

/** The text of one cell of `verdi process list`, as aiida-core formats it. */
export function formatProjection(projection: ProcessProjection, row: ProcessRow, now: Date): Cell {
  switch (projection) {
    case 'state':
      return formatState(
        asString(row[STATE_FIELDS.processState]),
        row[STATE_FIELDS.paused] === true,
        asNumber(row[STATE_FIELDS.exitStatus]),
      );
    case 'ctime':
    case 'mtime':
      return formatRelativeTime(row[PROJECTION_FIELDS[projection]] as Date | null, now);
    case 'process_state':
      return formatProcessState(asString(row[PROJECTION_FIELDS.process_state]));
    case 'sealed':
      return formatPythonBool(row[PROJECTION_FIELDS.sealed]);
    case 'cached':
      return row[PROJECTION_FIELDS.cached] ? '\u2714' : '';
    case 'paused': {
      const paused = row[PROJECTION_FIELDS.paused];
      return paused === null || paused === undefined ? null : formatPythonBool(paused);
    }
    case 'owner':
      return toCell(row[OWNER_FIELD]);
    default:
      return toCell(row[PROJECTION_FIELDS[projection]]);
  }
}

/** A queried value as a table cell: primitives as they are, a Date as ISO text, anything else as JSON. */
function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/**
 * The value of one projection for `--json`: raw, machine-readable values (ISO times, lower-case states, booleans);
 * `state` is `{process_state, paused, exit_status}`.
 */
export function jsonProjection(projection: ProcessProjection, row: ProcessRow): unknown {
  switch (projection) {
    case 'state':
      return {
        process_state: asString(row[STATE_FIELDS.processState]),
        paused: row[STATE_FIELDS.paused] === true,
        exit_status: asNumber(row[STATE_FIELDS.exitStatus]),
      };
    case 'ctime':
    case 'mtime': {
      const value = row[PROJECTION_FIELDS[projection]];
      return value instanceof Date ? value.toISOString() : null;
    }
    case 'sealed':
    case 'paused':
      return row[PROJECTION_FIELDS[projection]] === true;
    case 'cached':
      return Boolean(row[PROJECTION_FIELDS.cached]);
    case 'owner':
      return row[OWNER_FIELD] ?? null;
    default:
      return row[PROJECTION_FIELDS[projection]] ?? null;
  }
}
