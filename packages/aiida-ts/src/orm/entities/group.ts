import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  IntegrityError,
  ModificationNotAllowedError,
  MultipleObjectsError,
  NotExistentError,
  StoringNotAllowedError,
  ValidationError,
} from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { nowTimestamp } from '../../storage/dialect.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { DbGroupRow } from '../../storage/schema.js';
import { Node } from '../nodes/node.js';
import { validateText, type JsonValue } from '../utils/clean.js';
import { isUniqueViolation } from '../utils/db-errors.js';
import { patchedJsonColumn } from '../utils/json-column.js';
import { EntityExtras } from './extras.js';
import { User } from './user.js';

/** What a group constructor takes. */
export interface GroupInit {
  readonly label: string;
  readonly description?: string;
  readonly user?: User;
}

const FROM_ROW = Symbol('aiida-ts.group.fromRow');

const groupClasses = new Map<string, typeof Group>();

/** Registers a group class under its type string (an `aiida.groups` entry point name such as `core.upf`). */
export function registerGroupClass(cls: typeof Group, typeString: string): void {
  groupClasses.set(typeString, cls);
}

/** The class registered for a type string, or undefined. */
export function getGroupClass(typeString: string): typeof Group | undefined {
  return groupClasses.get(typeString);
}

/**
 * A named set of nodes (`db_dbgroup`, members in `db_dbgroup_dbnodes`); `(label, type_string)` is unique.
 * Subclasses (`AutoGroup`, `ImportGroup`, …) have their own type string and come back as themselves from
 * `loadGroup`. Labels with `/` form the group paths of {@link GroupPath}.
 */
export class Group {
  /** The type string of this class (`core` for plain groups). */
  static readonly typeString: string = 'core';

  #storage: StorageBackend | undefined;
  #pk: number | null = null;
  readonly #uuid: string;
  #label: string;
  #typeString: string;
  #description: string;
  readonly #time: string;
  #userId: number | null;
  readonly #extras: Record<string, JsonValue>;
  #extrasManager: EntityExtras | undefined;

  constructor(
    init: GroupInit | { readonly [FROM_ROW]: { readonly storage: StorageBackend; readonly row: DbGroupRow } },
    options: StorageOption = {},
  ) {
    if (FROM_ROW in init) {
      const { storage, row } = init[FROM_ROW];
      this.#storage = storage;
      this.#pk = row.id;
      this.#uuid = row.uuid;
      this.#label = row.label;
      this.#typeString = row.type_string;
      this.#description = row.description;
      this.#time = storage.dialect.decodeTimestamp(row.time);
      this.#userId = row.user_id;
      this.#extras = (storage.dialect.decodeJson(row.extras) ?? {}) as Record<string, JsonValue>;
      return;
    }
    Group.#checkLabel(init.label);
    this.#storage = options.storage;
    this.#uuid = randomUUID();
    this.#label = init.label;
    this.#typeString = new.target.typeString;
    this.#description = validateText(init.description ?? '', 'group description');
    this.#time = nowTimestamp();
    this.#userId = init.user?.pk ?? null;
    this.#extras = {};
  }

  static #checkLabel(label: unknown): asserts label is string {
    if (typeof label !== 'string' || label.trim() === '')
      throw new ValidationError('a group needs a non-empty label');
    validateText(label, 'group label');
  }

  /** @internal A stored group as the class of its type string (plain `Group` for unknown types). */
  static fromRow(storage: StorageBackend, row: DbGroupRow): Group {
    const cls = groupClasses.get(row.type_string) ?? Group;
    return new cls({ [FROM_ROW]: { storage, row } });
  }

  get pk(): number | null {
    return this.#pk;
  }
  get uuid(): string {
    return this.#uuid;
  }
  get label(): string {
    return this.#label;
  }
  get typeString(): string {
    return this.#typeString;
  }
  get description(): string {
    return this.#description;
  }
  get time(): Date {
    return new Date(this.#time);
  }
  /** Creation time as stored: ISO 8601 with microseconds. */
  get timeIso(): string {
    return this.#time;
  }
  get userId(): number | null {
    return this.#userId;
  }
  get isStored(): boolean {
    return this.#pk !== null;
  }
  get storage(): StorageBackend | undefined {
    return this.#storage;
  }
  /** Whether the group was made by a user (type `core`), not by AiiDA. */
  get isUserDefined(): boolean {
    return this.#typeString === 'core';
  }

  /** The group's extras, mutable at any time. */
  get extras(): EntityExtras {
    this.#extrasManager ??= new EntityExtras({
      isStored: () => this.isStored,
      values: () => this.#extras,
      persist: ({ set, remove, reset }) => {
        const storage = this.#storage!;
        return storage.trackWrite(`extras of group<${String(this.#pk)}>`, async () => {
          await storage
            .executor()
            .updateTable('db_dbgroup')
            .set({
              extras:
                reset === undefined
                  ? patchedJsonColumn(storage, 'extras', set, remove)
                  : storage.dialect.encodeJson(reset),
            })
            .where('id', '=', this.#pk!)
            .execute();
        });
      },
    });
    return this.#extrasManager;
  }

  async getUser(): Promise<User> {
    const storage = this.#storage ?? getStorage();
    return this.#userId === null ? User.getDefault({ storage }) : User.getByPk(this.#userId, { storage });
  }

  /** Renames the group (saved when stored); `IntegrityError` when the label is taken for this type. */
  async setLabel(label: string): Promise<void> {
    Group.#checkLabel(label);
    if (this.#pk !== null) {
      try {
        await this.#storage!.executor()
          .updateTable('db_dbgroup')
          .set({ label })
          .where('id', '=', this.#pk)
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new IntegrityError(
            `a group labelled \`${label}\` of type \`${this.#typeString}\` already exists`,
            { cause: error },
          );
        }
        throw error;
      }
    }
    this.#label = label;
  }

  async setDescription(description: string): Promise<void> {
    validateText(description, 'group description');
    if (this.#pk !== null) {
      await this.#storage!.executor()
        .updateTable('db_dbgroup')
        .set({ description })
        .where('id', '=', this.#pk)
        .execute();
    }
    this.#description = description;
  }

  /** Stores the group; `IntegrityError` when its label is taken for its type. */
  async store(options: StorageOption = {}): Promise<this> {
    if (this.isStored) return this;
    const cls = this.constructor as typeof Group;
    if (groupClasses.get(cls.typeString) !== cls) {
      throw new StoringNotAllowedError(
        `class \`${cls.name}\` has no registered group type string and cannot be stored`,
      );
    }
    const storage = this.#storage ?? getStorage(options);
    const userId = this.#userId ?? (await User.getDefaultId(storage));
    try {
      const row = await storage
        .executor()
        .insertInto('db_dbgroup')
        .values({
          uuid: this.#uuid,
          label: this.#label,
          type_string: this.#typeString,
          time: storage.dialect.encodeTimestamp(this.#time),
          description: this.#description,
          extras: storage.dialect.encodeJson(this.#extras),
          user_id: userId,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      this.#pk = row.id;
      this.#storage = storage;
      this.#userId = userId;
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new IntegrityError(
          `a group labelled \`${this.#label}\` of type \`${this.#typeString}\` already exists`,
          { cause: error },
        );
      }
      throw error;
    }
    return this;
  }

  #stored(action: string): { storage: StorageBackend; pk: number } {
    if (this.#pk === null || this.#storage === undefined) {
      throw new ModificationNotAllowedError(`cannot ${action} an unstored group: store it first`);
    }
    return { storage: this.#storage, pk: this.#pk };
  }

  #memberIds(nodes: Node | readonly Node[], storage: StorageBackend): number[] {
    const list = nodes instanceof Node ? [nodes] : nodes;
    return list.map((node) => {
      if (!(node instanceof Node)) throw new ValidationError('only nodes can be added to a group');
      if (!node.isStored)
        throw new ValidationError(`node ${node.uuid} is not stored: only stored nodes can be group members`);
      if (node.storage !== storage)
        throw new ValidationError('the node belongs to another storage than the group');
      return node.pk!;
    });
  }

  /** Adds stored nodes (one or many); members already in the group are skipped. */
  async addNodes(nodes: Node | readonly Node[]): Promise<void> {
    const { storage, pk } = this.#stored('add nodes to');
    const ids = [...new Set(this.#memberIds(nodes, storage))];
    if (ids.length === 0) return;
    await storage.transaction(async (trx) => {
      for (let start = 0; start < ids.length; start += 500) {
        await trx
          .insertInto('db_dbgroup_dbnodes')
          .values(ids.slice(start, start + 500).map((id) => ({ dbgroup_id: pk, dbnode_id: id })))
          .onConflict((oc) => oc.columns(['dbgroup_id', 'dbnode_id']).doNothing())
          .execute();
      }
    });
  }

  /** Removes nodes; nodes that are not members are ignored. */
  async removeNodes(nodes: Node | readonly Node[]): Promise<void> {
    const { storage, pk } = this.#stored('remove nodes from');
    const ids = this.#memberIds(nodes, storage);
    for (let start = 0; start < ids.length; start += 10_000) {
      await storage
        .executor()
        .deleteFrom('db_dbgroup_dbnodes')
        .where('dbgroup_id', '=', pk)
        .where('dbnode_id', 'in', ids.slice(start, start + 10_000))
        .execute();
    }
  }

  /** Removes every member. */
  async clear(): Promise<void> {
    const { storage, pk } = this.#stored('clear');
    await storage.executor().deleteFrom('db_dbgroup_dbnodes').where('dbgroup_id', '=', pk).execute();
  }

  async count(): Promise<number> {
    if (this.#pk === null) return 0;
    const row = await this.#storage!.executor()
      .selectFrom('db_dbgroup_dbnodes')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('dbgroup_id', '=', this.#pk)
      .executeTakeFirstOrThrow();
    return this.#storage!.dialect.decodeInteger(row.n);
  }

  async isEmpty(): Promise<boolean> {
    return (await this.count()) === 0;
  }

  /** The members, by pk (with `limit`/`offset` for paging). */
  async nodes(options: { readonly limit?: number; readonly offset?: number } = {}): Promise<Node[]> {
    if (this.#pk === null) return [];
    const storage = this.#storage!;
    let query = storage
      .executor()
      .selectFrom('db_dbnode')
      .innerJoin('db_dbgroup_dbnodes', 'db_dbgroup_dbnodes.dbnode_id', 'db_dbnode.id')
      .selectAll('db_dbnode')
      .where('db_dbgroup_dbnodes.dbgroup_id', '=', this.#pk)
      .orderBy('db_dbnode.id');
    if (options.limit !== undefined) query = query.limit(options.limit);
    if (options.offset !== undefined)
      query = (options.limit === undefined ? query.limit(-1) : query).offset(options.offset);
    return (await query.execute()).map((row) => Node.fromRow(storage, row));
  }

  /** The stored group with this label (of this class's type unless `typeString` is given), pk or uuid. */
  static async get(
    identifier:
      | { readonly label: string; readonly typeString?: string }
      | { readonly pk: number }
      | { readonly uuid: string },
    options: StorageOption = {},
  ): Promise<Group> {
    const storage = getStorage(options);
    let query = storage.executor().selectFrom('db_dbgroup').selectAll();
    if ('label' in identifier) {
      query = query
        .where('label', '=', identifier.label)
        .where('type_string', '=', identifier.typeString ?? this.typeString);
    } else if ('pk' in identifier) {
      query = query.where('id', '=', identifier.pk);
    } else {
      query = query.where('uuid', '=', identifier.uuid);
    }
    const rows = await query.limit(2).execute();
    if (rows.length === 0) throw new NotExistentError(`no group found with ${JSON.stringify(identifier)}`);
    if (rows.length > 1)
      throw new MultipleObjectsError(`more than one group found with ${JSON.stringify(identifier)}`);
    return Group.fromRow(storage, rows[0]!);
  }

  /** The stored group of this class with `label`, stored now when missing. */
  static async getOrCreate<T extends Group>(
    this: (new (init: GroupInit, options?: StorageOption) => T) & typeof Group,
    init: GroupInit,
    options: StorageOption = {},
  ): Promise<{ group: T; created: boolean }> {
    const storage = getStorage(options);
    return storage.transaction(async () => {
      try {
        return { group: (await this.get({ label: init.label }, { storage })) as T, created: false };
      } catch (error) {
        if (!(error instanceof NotExistentError)) throw error;
        return { group: await new this(init, { storage }).store(), created: true };
      }
    });
  }

  /** Every stored group, of one type string or of all (`typeString: null`), by pk. */
  static async all(
    filter: { readonly typeString?: string | null } = {},
    options: StorageOption = {},
  ): Promise<Group[]> {
    const storage = getStorage(options);
    let query = storage.executor().selectFrom('db_dbgroup').selectAll().orderBy('id');
    const typeString = filter.typeString === undefined ? this.typeString : filter.typeString;
    if (typeString !== null) query = query.where('type_string', '=', typeString);
    return (await query.execute()).map((row) => Group.fromRow(storage, row));
  }

  /** Deletes a group and its memberships (the nodes stay); `NotExistentError` when there is none. */
  static async delete(pk: number, options: StorageOption = {}): Promise<void> {
    const storage = getStorage(options);
    await storage.transaction(async (trx) => {
      await trx.deleteFrom('db_dbgroup_dbnodes').where('dbgroup_id', '=', pk).execute();
      const result = await trx.deleteFrom('db_dbgroup').where('id', '=', pk).executeTakeFirst();
      if (result.numDeletedRows === 0n) throw new NotExistentError(`Group with id '${pk}' not found`);
    });
  }

  /** Labels of stored groups of a type that start with `prefix` (for group paths and auto-group labels). */
  static async labelsStartingWith(
    prefix: string,
    typeString: string,
    options: StorageOption = {},
  ): Promise<string[]> {
    const storage = getStorage(options);
    const escaped = prefix.replaceAll('\\', '\\\\').replaceAll('%', '\\%').replaceAll('_', '\\_');
    const rows = await storage
      .executor()
      .selectFrom('db_dbgroup')
      .select('label')
      .where('type_string', '=', typeString)
      .where(sql<boolean>`label like ${`${escaped}%`} escape '\\'`)
      .execute();
    return rows.map((r) => r.label);
  }

  toString(): string {
    return `"${this.#label}" [type ${this.#typeString}], of user ${String(this.#userId)}`;
  }
}
registerGroupClass(Group, 'core');

/** A group made by `verdi run` for the nodes it creates (`core.auto`). */
export class AutoGroup extends Group {
  static override readonly typeString: string = 'core.auto';
}
registerGroupClass(AutoGroup, 'core.auto');

/** The group an archive import puts the imported nodes in (`core.import`). */
export class ImportGroup extends Group {
  static override readonly typeString: string = 'core.import';
}
registerGroupClass(ImportGroup, 'core.import');

/** A family of pseudopotentials (`core.upf`), kept so old profiles load as themselves. */
export class UpfFamily extends Group {
  static override readonly typeString: string = 'core.upf';
}
registerGroupClass(UpfFamily, 'core.upf');

/** Loads a stored group by pk (number or digits), uuid (or uuid prefix) or label. */
export async function loadGroup(identifier: number | string, options: StorageOption = {}): Promise<Group> {
  const storage = getStorage(options);
  if (typeof identifier === 'number' || /^\d+$/.test(identifier))
    return Group.get({ pk: Number(identifier) }, { storage });
  const executor = storage.executor();
  if (/^[0-9a-f-]{8,}$/i.test(identifier)) {
    const rows = await executor
      .selectFrom('db_dbgroup')
      .selectAll()
      .where(storage.dialect.uuidText(sql.ref('uuid')), 'like', `${identifier.toLowerCase()}%`)
      .limit(2)
      .execute();
    if (rows.length === 1) return Group.fromRow(storage, rows[0]!);
    if (rows.length > 1)
      throw new MultipleObjectsError(`more than one group has a uuid starting with \`${identifier}\``);
  }
  const rows = await executor
    .selectFrom('db_dbgroup')
    .selectAll()
    .where('label', '=', identifier)
    .limit(2)
    .execute();
  if (rows.length === 0)
    throw new NotExistentError(`no group found with label, uuid or pk \`${identifier}\``);
  if (rows.length > 1)
    throw new MultipleObjectsError(`more than one group is labelled \`${identifier}\`: use the pk or uuid`);
  return Group.fromRow(storage, rows[0]!);
}
