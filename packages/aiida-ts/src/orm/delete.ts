import { ValidationError } from '../errors.js';
import type { StorageBackend } from '../storage/backend.js';
import { getStorage, type StorageOption } from '../storage/context.js';
import { LinkType } from './links.js';

/** One rule of graph traversal: follow links of a type in a direction; whether users may switch it. */
export interface GraphTraversalRule {
  readonly linkType: LinkType;
  readonly direction: 'forward' | 'backward';
  readonly toggleable: boolean;
  readonly default: boolean;
}

const rule = (
  linkType: LinkType,
  direction: 'forward' | 'backward',
  toggleable: boolean,
  defaultValue: boolean,
): GraphTraversalRule => ({
  linkType,
  direction,
  toggleable,
  default: defaultValue,
});

/** The names of traversal rules, `<link type>_<direction>`. */
export type TraversalRuleName = `${LinkType}_${'forward' | 'backward'}`;

/** aiida-core's rule sets for deleting and exporting nodes. */
export const GraphTraversalRules = {
  DELETE: {
    input_calc_forward: rule(LinkType.INPUT_CALC, 'forward', false, true),
    input_calc_backward: rule(LinkType.INPUT_CALC, 'backward', false, false),
    create_forward: rule(LinkType.CREATE, 'forward', true, true),
    create_backward: rule(LinkType.CREATE, 'backward', false, true),
    return_forward: rule(LinkType.RETURN, 'forward', false, false),
    return_backward: rule(LinkType.RETURN, 'backward', false, true),
    input_work_forward: rule(LinkType.INPUT_WORK, 'forward', false, true),
    input_work_backward: rule(LinkType.INPUT_WORK, 'backward', false, false),
    call_calc_forward: rule(LinkType.CALL_CALC, 'forward', true, true),
    call_calc_backward: rule(LinkType.CALL_CALC, 'backward', false, true),
    call_work_forward: rule(LinkType.CALL_WORK, 'forward', true, true),
    call_work_backward: rule(LinkType.CALL_WORK, 'backward', false, true),
  },
  EXPORT: {
    input_calc_forward: rule(LinkType.INPUT_CALC, 'forward', true, false),
    input_calc_backward: rule(LinkType.INPUT_CALC, 'backward', false, true),
    create_forward: rule(LinkType.CREATE, 'forward', false, true),
    create_backward: rule(LinkType.CREATE, 'backward', true, true),
    return_forward: rule(LinkType.RETURN, 'forward', false, true),
    return_backward: rule(LinkType.RETURN, 'backward', true, false),
    input_work_forward: rule(LinkType.INPUT_WORK, 'forward', true, false),
    input_work_backward: rule(LinkType.INPUT_WORK, 'backward', false, true),
    call_calc_forward: rule(LinkType.CALL_CALC, 'forward', false, true),
    call_calc_backward: rule(LinkType.CALL_CALC, 'backward', true, true),
    call_work_forward: rule(LinkType.CALL_WORK, 'forward', false, true),
    call_work_backward: rule(LinkType.CALL_WORK, 'backward', true, true),
  },
} as const satisfies Record<string, Record<TraversalRuleName, GraphTraversalRule>>;

/** Values for the toggleable rules; a non-toggleable rule may only be given its default. */
export type TraversalRuleValues = Partial<Record<TraversalRuleName, boolean>>;

/** The effective rules: the defaults of `rules` with `values` applied; `ValidationError` for a locked rule. */
export function resolveTraversalRules(
  rules: Readonly<Record<TraversalRuleName, GraphTraversalRule>>,
  values: TraversalRuleValues = {},
): Record<TraversalRuleName, boolean> {
  const out = {} as Record<TraversalRuleName, boolean>;
  for (const [name, spec] of Object.entries(rules) as [TraversalRuleName, GraphTraversalRule][])
    out[name] = spec.default;
  for (const [name, value] of Object.entries(values) as [TraversalRuleName, boolean | undefined][]) {
    if (value === undefined) continue;
    const spec = rules[name];
    if (spec === undefined) throw new ValidationError(`unknown traversal rule \`${name}\``);
    if (!spec.toggleable && value !== spec.default)
      throw new ValidationError(`traversal rule \`${name}\` is not toggleable`);
    out[name] = value;
  }
  return out;
}

/**
 * The closure of `start` under the rules: every node reached by following, repeatedly, the enabled link types in
 * their direction. Unknown pks are reported through `onMissing` and left out.
 */
export async function traverseGraph(
  storage: StorageBackend,
  start: readonly number[],
  rules: Readonly<Record<TraversalRuleName, boolean>>,
  onMissing?: (pks: number[]) => void,
): Promise<Set<number>> {
  const forward: LinkType[] = [];
  const backward: LinkType[] = [];
  for (const [name, enabled] of Object.entries(rules) as [TraversalRuleName, boolean][]) {
    if (!enabled) continue;
    const [type, direction] = [
      name.slice(0, name.lastIndexOf('_')) as LinkType,
      name.slice(name.lastIndexOf('_') + 1),
    ];
    (direction === 'forward' ? forward : backward).push(type);
  }
  const db = storage.executor();
  const unique = [...new Set(start)];
  const existing = new Set<number>();
  for (let i = 0; i < unique.length; i += 10_000) {
    const rows = await db
      .selectFrom('db_dbnode')
      .select('id')
      .where('id', 'in', unique.slice(i, i + 10_000))
      .execute();
    for (const row of rows) existing.add(row.id);
  }
  const missing = unique.filter((pk) => !existing.has(pk));
  if (missing.length > 0) onMissing?.(missing);

  const visited = new Set(existing);
  let frontier = [...existing];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (let i = 0; i < frontier.length; i += 10_000) {
      const chunk = frontier.slice(i, i + 10_000);
      if (forward.length > 0) {
        const rows = await db
          .selectFrom('db_dblink')
          .select('output_id as id')
          .where('input_id', 'in', chunk)
          .where('type', 'in', forward)
          .execute();
        for (const { id } of rows) {
          if (visited.has(id)) continue;
          visited.add(id);
          next.push(id);
        }
      }
      if (backward.length > 0) {
        const rows = await db
          .selectFrom('db_dblink')
          .select('input_id as id')
          .where('output_id', 'in', chunk)
          .where('type', 'in', backward)
          .execute();
        for (const { id } of rows) {
          if (visited.has(id)) continue;
          visited.add(id);
          next.push(id);
        }
      }
    }
    frontier = next;
  }
  return visited;
}

/** Options of {@link deleteNodes}. */
export interface DeleteNodesOptions extends StorageOption, TraversalRuleValues {
  /**
   * `true` (the default, as aiida-core): only compute what would be deleted. `false`: delete. A function gets
   * the pks first and cancels the deletion by returning true.
   */
  readonly dryRun?: boolean | ((pks: readonly number[]) => boolean | Promise<boolean>);
  /** Called with pks that do not exist (they are skipped). */
  readonly onMissing?: (pks: number[]) => void;
}

/** What {@link deleteNodes} found and did. */
export interface DeleteNodesResult {
  /** Every pk that is (or would be) deleted, sorted. */
  readonly pks: number[];
  readonly deleted: boolean;
}

/**
 * Deletes nodes and everything that must go with them to keep the provenance consistent, following aiida-core's
 * `delete_nodes` rules: deleting data deletes the processes that used or made it, deleting a calculation deletes
 * its outputs and callers, deleting a workflow its callers (and, by default, what it called). Toggle
 * `create_forward`, `call_calc_forward`, `call_work_forward` to keep more. Comments, logs, links and group
 * memberships of deleted nodes go too, in one transaction; repository objects stay until maintenance.
 */
export async function deleteNodes(
  pks: Iterable<number>,
  options: DeleteNodesOptions = {},
): Promise<DeleteNodesResult> {
  const storage = getStorage(options);
  const { dryRun = true, onMissing, storage: _storage, ...values } = options;
  void _storage;
  const rules = resolveTraversalRules(GraphTraversalRules.DELETE, values);
  const set = await traverseGraph(storage, [...pks], rules, onMissing);
  const sorted = [...set].sort((a, b) => a - b);
  if (dryRun === true) return { pks: sorted, deleted: false };
  if (typeof dryRun === 'function' && (await dryRun(sorted))) return { pks: sorted, deleted: false };
  if (sorted.length === 0) return { pks: sorted, deleted: true };
  await storage.transaction(() => storage.deleteNodesAndConnections(sorted));
  return { pks: sorted, deleted: true };
}

/** Deletes every node of the given groups (and what must go with them), as {@link deleteNodes}. */
export async function deleteGroupNodes(
  groupPks: Iterable<number>,
  options: DeleteNodesOptions = {},
): Promise<DeleteNodesResult> {
  const storage = getStorage(options);
  const ids = [...groupPks];
  const rows =
    ids.length === 0
      ? []
      : await storage
          .executor()
          .selectFrom('db_dbgroup_dbnodes')
          .select('dbnode_id')
          .where('dbgroup_id', 'in', ids)
          .execute();
  return deleteNodes(
    rows.map((r) => r.dbnode_id),
    { ...options, storage },
  );
}
