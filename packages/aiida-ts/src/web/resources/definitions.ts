import type { FieldSpec } from './filters.js';

/** One listable resource of the API: which entities, which fields it filters and orders on, what a row shows. */
export interface ResourceDefinition {
  /** The name under `/api/v4/` and the key of the list in `data`. */
  readonly name: 'nodes' | 'processes' | 'calcjobs' | 'codes' | 'groups' | 'computers' | 'users';
  /** The QueryBuilder entity type string. */
  readonly entityType: string;
  /** Filters always applied (the node types a sub-resource is about). */
  readonly baseFilters: Record<string, unknown>;
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Projected QueryBuilder fields, in the order a row shows them; the row key is the part after `attributes.`. */
  readonly projection: readonly string[];
  readonly defaultOrder: Record<string, 'asc' | 'desc'>[];
}

const NODE_FIELDS: Record<string, FieldSpec> = {
  id: { type: 'integer', path: 'id' },
  uuid: { type: 'string', path: 'uuid' },
  label: { type: 'string', path: 'label' },
  description: { type: 'string', path: 'description' },
  node_type: { type: 'string', path: 'node_type' },
  process_type: { type: 'string', path: 'process_type' },
  ctime: { type: 'datetime', path: 'ctime' },
  mtime: { type: 'datetime', path: 'mtime' },
  user_id: { type: 'integer', path: 'user_id' },
  dbcomputer_id: { type: 'integer', path: 'dbcomputer_id' },
};

/** The node columns every node resource projects first (node-rows.ts reads exactly these from the table). */
export const NODE_PROJECTION = [
  'id',
  'uuid',
  'node_type',
  'process_type',
  'label',
  'description',
  'ctime',
  'mtime',
  'user_id',
  'dbcomputer_id',
] as const;

const PROCESS_FIELDS: Record<string, FieldSpec> = {
  ...NODE_FIELDS,
  process_state: { type: 'string', path: 'attributes.process_state' },
  process_label: { type: 'string', path: 'attributes.process_label' },
  exit_status: { type: 'integer', path: 'attributes.exit_status' },
  paused: { type: 'boolean', path: 'attributes.paused' },
};

/** The process attributes a process row shows besides the node columns. */
export const PROCESS_ATTRIBUTES = [
  'process_state',
  'process_status',
  'process_label',
  'exit_status',
  'exit_message',
  'paused',
] as const;

const PROCESS_PROJECTION = [...NODE_PROJECTION, ...PROCESS_ATTRIBUTES.map((name) => `attributes.${name}`)];

export const RESOURCES = {
  nodes: {
    name: 'nodes',
    entityType: '',
    baseFilters: {},
    fields: NODE_FIELDS,
    projection: NODE_PROJECTION,
    defaultOrder: [{ id: 'asc' }],
  },
  processes: {
    name: 'processes',
    entityType: '',
    baseFilters: { node_type: { like: 'process.%' } },
    fields: PROCESS_FIELDS,
    projection: PROCESS_PROJECTION,
    defaultOrder: [{ id: 'desc' }],
  },
  calcjobs: {
    name: 'calcjobs',
    entityType: '',
    baseFilters: { node_type: { like: 'process.calculation.calcjob.%' } },
    fields: PROCESS_FIELDS,
    projection: [
      ...PROCESS_PROJECTION,
      'attributes.job_id',
      'attributes.state',
      'attributes.scheduler_state',
    ],
    defaultOrder: [{ id: 'desc' }],
  },
  codes: {
    name: 'codes',
    entityType: '',
    baseFilters: { node_type: { like: 'data.core.code.%' } },
    fields: NODE_FIELDS,
    projection: [...NODE_PROJECTION, 'attributes.input_plugin', 'attributes.filepath_executable'],
    defaultOrder: [{ id: 'asc' }],
  },
  groups: {
    name: 'groups',
    entityType: 'group.core',
    baseFilters: {},
    fields: {
      id: { type: 'integer', path: 'id' },
      uuid: { type: 'string', path: 'uuid' },
      label: { type: 'string', path: 'label' },
      description: { type: 'string', path: 'description' },
      type_string: { type: 'string', path: 'type_string' },
      user_id: { type: 'integer', path: 'user_id' },
      time: { type: 'datetime', path: 'time' },
    },
    projection: ['id', 'uuid', 'label', 'type_string', 'description', 'user_id', 'time'],
    defaultOrder: [{ id: 'asc' }],
  },
  computers: {
    name: 'computers',
    entityType: 'computer',
    baseFilters: {},
    fields: {
      id: { type: 'integer', path: 'id' },
      uuid: { type: 'string', path: 'uuid' },
      label: { type: 'string', path: 'label' },
      name: { type: 'string', path: 'label' },
      hostname: { type: 'string', path: 'hostname' },
      description: { type: 'string', path: 'description' },
      scheduler_type: { type: 'string', path: 'scheduler_type' },
      transport_type: { type: 'string', path: 'transport_type' },
    },
    projection: ['id', 'uuid', 'label', 'hostname', 'description', 'scheduler_type', 'transport_type'],
    defaultOrder: [{ id: 'asc' }],
  },
  users: {
    name: 'users',
    entityType: 'user',
    baseFilters: {},
    // no email: aiida-core keeps it out of the API for privacy
    fields: {
      id: { type: 'integer', path: 'id' },
      first_name: { type: 'string', path: 'first_name' },
      last_name: { type: 'string', path: 'last_name' },
      institution: { type: 'string', path: 'institution' },
    },
    projection: ['id', 'first_name', 'last_name', 'institution'],
    defaultOrder: [{ id: 'asc' }],
  },
} as const satisfies Record<string, ResourceDefinition>;
export type ResourceName = keyof typeof RESOURCES;

/** The key a projected field gets in a row: `attributes.process_state` → `process_state`. */
export function rowKey(field: string): string {
  return field.startsWith('attributes.') ? field.slice('attributes.'.length) : field;
}
