import { ValidationError } from '../errors.js';

/** The link types of the provenance graph, with aiida-core's values (the `db_dblink.type` column). */
export const LinkType = {
  CREATE: 'create',
  RETURN: 'return',
  INPUT_CALC: 'input_calc',
  INPUT_WORK: 'input_work',
  CALL_CALC: 'call_calc',
  CALL_WORK: 'call_work',
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

const LINK_TYPES = new Set<string>(Object.values(LinkType));

/** True when `value` is one of the {@link LinkType} values. */
export function isLinkType(value: unknown): value is LinkType {
  return typeof value === 'string' && LINK_TYPES.has(value);
}

/**
 * How many links of one type a node may have on one side:
 * - `unique`: one link of the type, whatever its label;
 * - `unique_pair`: labels unique among links of the type;
 * - `unique_triple`: (other node, type, label) unique.
 */
export type LinkDegree = 'unique' | 'unique_pair' | 'unique_triple';

/** The class families a link can join, checked with the node classes' `nodeFamily`. */
export type NodeFamily = 'data' | 'calculation' | 'workflow';

/** Source/target family and out/in degree of every link type (aiida-core's `validate_link` table). */
export const LINK_RULES = {
  call_calc: { source: 'workflow', target: 'calculation', outdegree: 'unique_triple', indegree: 'unique' },
  call_work: { source: 'workflow', target: 'workflow', outdegree: 'unique_triple', indegree: 'unique' },
  create: { source: 'calculation', target: 'data', outdegree: 'unique_pair', indegree: 'unique' },
  input_calc: { source: 'data', target: 'calculation', outdegree: 'unique_triple', indegree: 'unique_pair' },
  input_work: { source: 'data', target: 'workflow', outdegree: 'unique_triple', indegree: 'unique_pair' },
  return: { source: 'workflow', target: 'data', outdegree: 'unique_pair', indegree: 'unique_triple' },
} as const satisfies Record<
  LinkType,
  { source: NodeFamily; target: NodeFamily; outdegree: LinkDegree; indegree: LinkDegree }
>;

/** The separator that flattens port namespaces into link labels (`inner__sum`). */
export const PORT_NAMESPACE_SEPARATOR = '__';

/**
 * Throws a `ValidationError` naming the label unless it is a valid link label: letters, digits and underscores,
 * not starting or ending with an underscore, not starting with a digit (a valid identifier).
 */
export function validateLinkLabel(label: unknown): asserts label is string {
  if (typeof label !== 'string') {
    throw new ValidationError(
      `invalid link label \`${String(label)}\`: should be string type but is ${typeof label}`,
    );
  }
  if (label.length === 0) invalidLinkLabel(label, 'cannot be empty');
  if (label.endsWith('_')) invalidLinkLabel(label, 'cannot end with an underscore');
  if (label.startsWith('_')) invalidLinkLabel(label, 'cannot start with an underscore');
  if (/[^A-Za-z0-9_]/.test(label))
    invalidLinkLabel(label, 'only alphanumeric characters and underscores are allowed');
  if (/^[0-9]/.test(label)) invalidLinkLabel(label, 'is not a valid identifier (starts with a digit)');
}

function invalidLinkLabel(label: string, reason: string): never {
  throw new ValidationError(`invalid link label \`${label}\`: ${reason}`);
}
