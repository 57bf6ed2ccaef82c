import { z } from 'zod';

/**
 * The response bodies of the API as zod schemas: the OpenAPI document is generated from them
 * (`z.toJSONSchema`), and the tests check responses against them.
 */

const Timestamp = z.string().describe('ISO 8601 time');

export const NodeRow = z
  .object({
    id: z.number().int(),
    uuid: z.string(),
    node_type: z.string(),
    process_type: z.string().nullable(),
    label: z.string(),
    description: z.string(),
    ctime: Timestamp,
    mtime: Timestamp,
    user_id: z.number().int(),
    dbcomputer_id: z.number().int().nullable(),
    full_type: z.string(),
  })
  .catchall(z.unknown());

export const ProcessRow = NodeRow.extend({
  process_state: z.string().nullable(),
  process_status: z.string().nullable(),
  process_label: z.string().nullable(),
  exit_status: z.number().int().nullable(),
  exit_message: z.string().nullable(),
  paused: z.boolean().nullable(),
});

export const LinkedNodeRow = NodeRow.extend({ link_label: z.string(), link_type: z.string() });

export const GroupRow = z.object({
  id: z.number().int(),
  uuid: z.string(),
  label: z.string(),
  type_string: z.string(),
  description: z.string(),
  user_id: z.number().int(),
  time: Timestamp,
});

export const ComputerRow = z.object({
  id: z.number().int(),
  uuid: z.string(),
  label: z.string(),
  hostname: z.string(),
  description: z.string(),
  scheduler_type: z.string(),
  transport_type: z.string(),
});

export const UserRow = z.object({
  id: z.number().int(),
  first_name: z.string(),
  last_name: z.string(),
  institution: z.string(),
});

export const RepoEntry = z.object({ name: z.string(), type: z.enum(['FILE', 'DIRECTORY']) });

export const ReportEntry = z.object({
  id: z.number().int(),
  time: Timestamp,
  loggername: z.string(),
  levelname: z.string(),
  message: z.string(),
  process_pk: z.number().int(),
});

export interface CallTreeShape {
  process: z.infer<typeof ProcessRow>;
  link_label: string | null;
  calls: CallTreeShape[];
}
export const CallTree: z.ZodType<CallTreeShape> = z.lazy(() =>
  z.object({ process: ProcessRow, link_label: z.string().nullable(), calls: z.array(CallTree) }),
);

export const GraphPiece = z.object({
  nodes: z.array(
    ProcessRow.partial().extend({ id: z.number().int(), uuid: z.string(), node_type: z.string() }),
  ),
  links: z.array(
    z.object({ source: z.number().int(), target: z.number().int(), label: z.string(), type: z.string() }),
  ),
  incomplete: z.object({ incoming: z.number().int(), outgoing: z.number().int() }),
});

export const Statistics = z.object({
  total: z.number().int(),
  types: z.record(z.string(), z.number().int()),
  ctime_by_day: z.record(z.string(), z.number().int()),
});

export const ServerInfo = z.object({
  API_major_version: z.string(),
  API_minor_version: z.string(),
  API_revision: z.string(),
  API_prefix: z.string(),
  AiiDA_version: z.string(),
  control: z.boolean().describe('whether pause/play/kill are enabled (a token was set)'),
  broker: z.boolean().describe('whether live events come from the broker'),
});

export const ControlResult = z.object({
  pk: z.number().int(),
  action: z.enum(['pause', 'play', 'kill']),
  state: z.string(),
  result: z.string().nullable(),
});

export const ErrorBody = z.object({
  status: z.number().int(),
  message: z.string(),
  parameter: z.string().nullable(),
  method: z.string(),
  path: z.string(),
});

/** The envelope of aiida-core's REST API around `data`. */
export function Envelope<T extends z.ZodType>(data: T) {
  return z.object({
    data,
    id: z.string().nullable(),
    method: z.string(),
    path: z.string(),
    query_string: z.string(),
    resource_type: z.string(),
    url: z.string(),
    url_root: z.string(),
  });
}

/** A query posted to `/querybuilder`, in aiida-core's layout (checked in full by the QueryBuilder). */
export const PostedQuery = z
  .object({
    path: z.array(z.record(z.string(), z.unknown())).min(1),
    filters: z.record(z.string(), z.unknown()).optional(),
    project: z.record(z.string(), z.unknown()).optional(),
    order_by: z.array(z.unknown()).optional(),
    limit: z.number().int().nullable().optional(),
    offset: z.number().int().nullable().optional(),
  })
  .describe('QueryBuilder.as_dict() layout');
