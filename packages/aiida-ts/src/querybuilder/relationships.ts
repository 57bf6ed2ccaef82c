import type { OrmBase } from './entities.js';

/**
 * How an appended vertex `X` is joined to an earlier vertex `T` of the path (`X with_* T`). Each kind names the
 * SQL it becomes; the table of every relationship aiida-core offers is {@link RELATIONSHIPS}.
 */
export type JoinSpec =
  /** A foreign key on one side: `X.appendedColumn = T.joinedColumn`. */
  | {
      readonly kind: 'column';
      readonly joined: OrmBase;
      readonly appendedColumn: string;
      readonly joinedColumn: string;
    }
  /** Through `db_dblink`: `outputs` makes X an output of T (`with_incoming`), `inputs` an input (`with_outgoing`). */
  | { readonly kind: 'link'; readonly joined: 'node'; readonly direction: 'outputs' | 'inputs' }
  /** Through `db_dbgroup_dbnodes`, from a group to its nodes or from a node to its groups. */
  | { readonly kind: 'group-nodes'; readonly joined: OrmBase; readonly appended: 'node' | 'group' }
  /**
   * A recursive walk over `create` and `input_calc` links (the data provenance, as aiida-core follows it):
   * `descendants` makes X a descendant of T (`with_ancestors`), `ancestors` an ancestor (`with_descendants`).
   */
  | { readonly kind: 'recursive'; readonly joined: 'node'; readonly direction: 'descendants' | 'ancestors' };

/** The relationship keywords, with aiida's snake_case names as they appear in `as_dict()`. */
export type RelationshipKeyword =
  | 'with_incoming'
  | 'with_outgoing'
  | 'with_ancestors'
  | 'with_descendants'
  | 'with_group'
  | 'with_node'
  | 'with_user'
  | 'with_computer'
  | 'with_log'
  | 'with_comment'
  | 'with_authinfo';

const fk = (joined: OrmBase, appendedColumn: string, joinedColumn: string): JoinSpec => ({
  kind: 'column',
  joined,
  appendedColumn,
  joinedColumn,
});

/**
 * Every relationship an appended entity may have with an earlier vertex, keyed by the appended entity's kind
 * and then by aiida's keyword (aiida-core's `EntityRelationships`).
 */
export const RELATIONSHIPS: Readonly<
  Record<OrmBase, Readonly<Partial<Record<RelationshipKeyword, JoinSpec>>>>
> = {
  node: {
    with_incoming: { kind: 'link', joined: 'node', direction: 'outputs' },
    with_outgoing: { kind: 'link', joined: 'node', direction: 'inputs' },
    with_ancestors: { kind: 'recursive', joined: 'node', direction: 'descendants' },
    with_descendants: { kind: 'recursive', joined: 'node', direction: 'ancestors' },
    with_group: { kind: 'group-nodes', joined: 'group', appended: 'node' },
    with_computer: fk('computer', 'dbcomputer_id', 'id'),
    with_user: fk('user', 'user_id', 'id'),
    with_log: fk('log', 'id', 'dbnode_id'),
    with_comment: fk('comment', 'id', 'dbnode_id'),
  },
  group: {
    with_node: { kind: 'group-nodes', joined: 'node', appended: 'group' },
    with_user: fk('user', 'user_id', 'id'),
  },
  computer: {
    with_node: fk('node', 'id', 'dbcomputer_id'),
  },
  user: {
    with_node: fk('node', 'id', 'user_id'),
    with_group: fk('group', 'id', 'user_id'),
    with_comment: fk('comment', 'id', 'user_id'),
    with_authinfo: fk('authinfo', 'id', 'aiidauser_id'),
  },
  authinfo: {
    with_computer: fk('computer', 'dbcomputer_id', 'id'),
    with_user: fk('user', 'aiidauser_id', 'id'),
  },
  comment: {
    with_node: fk('node', 'dbnode_id', 'id'),
    with_user: fk('user', 'user_id', 'id'),
  },
  log: {
    with_node: fk('node', 'dbnode_id', 'id'),
  },
  link: {},
};

/** The keywords valid for an appended entity of kind `base`. */
export function relationshipKeywords(base: OrmBase): RelationshipKeyword[] {
  return Object.keys(RELATIONSHIPS[base]) as RelationshipKeyword[];
}

/** The camelCase option name of a relationship keyword (`with_incoming` → `withIncoming`). */
export function camelKeyword(keyword: string): string {
  return keyword.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The snake_case keyword of a camelCase option name (`withIncoming` → `with_incoming`). */
export function snakeKeyword(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
