import { randomUUID } from 'node:crypto';
import { ModificationNotAllowedError, NotExistentError, ValidationError } from '../../errors.js';
import { validateText } from '../utils/clean.js';
import type { StorageBackend } from '../../storage/backend.js';
import { canonicalTimestamp, nowTimestamp } from '../../storage/dialect.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { DbCommentRow } from '../../storage/schema.js';
import type { NodeRef } from './node-ref.js';
import { User } from './user.js';

/** A user's comment on a stored node (`db_dbcomment`). */
const FROM_ROW = Symbol('aiida-ts.comment.fromRow');

/** What {@link Comment}'s constructor takes. */
export interface CommentInit {
  readonly node: NodeRef;
  readonly content: string;
  /** The author; default: the profile's default user. */
  readonly user?: User;
}

/** A user's comment on a stored node (`db_dbcomment`). */
export class Comment {
  readonly #storage: StorageBackend;
  #pk: number | null = null;
  readonly #uuid: string;
  readonly #nodeId: number;
  #userId: number | null;
  #content: string;
  readonly #ctime: string;
  #mtime: string | null;

  /** A new, unstored comment on a stored node; `ModificationNotAllowedError` for an unstored node. */
  constructor(
    init:
      CommentInit | { readonly [FROM_ROW]: { readonly storage: StorageBackend; readonly row: DbCommentRow } },
  ) {
    if (FROM_ROW in init) {
      const { storage, row } = init[FROM_ROW];
      this.#storage = storage;
      this.#pk = row.id;
      this.#uuid = row.uuid;
      this.#nodeId = row.dbnode_id;
      this.#userId = row.user_id;
      this.#content = row.content;
      this.#ctime = storage.dialect.decodeTimestamp(row.ctime);
      this.#mtime = storage.dialect.decodeTimestamp(row.mtime);
      return;
    }
    if (!init.node.isStored || init.node.storage === undefined) {
      throw new ModificationNotAllowedError('comments can only be added to stored nodes');
    }
    if (typeof init.content !== 'string')
      throw new ValidationError('the content of a comment must be a string');
    validateText(init.content, 'comment content');
    this.#storage = init.node.storage;
    this.#uuid = randomUUID();
    this.#nodeId = init.node.pk!;
    this.#userId = init.user?.pk ?? null;
    this.#content = init.content;
    this.#ctime = nowTimestamp();
    this.#mtime = null;
  }

  /** @internal */
  static fromRow(storage: StorageBackend, row: DbCommentRow): Comment {
    return new Comment({ [FROM_ROW]: { storage, row } });
  }

  get pk(): number | null {
    return this.#pk;
  }
  get uuid(): string {
    return this.#uuid;
  }
  get nodeId(): number {
    return this.#nodeId;
  }
  get userId(): number | null {
    return this.#userId;
  }
  get content(): string {
    return this.#content;
  }
  get ctime(): Date {
    return new Date(this.#ctime);
  }
  get mtime(): Date | null {
    return this.#mtime === null ? null : new Date(this.#mtime);
  }
  /** Creation and modification times as stored: ISO 8601 with microseconds. */
  get ctimeIso(): string {
    return this.#ctime;
  }
  get mtimeIso(): string | null {
    return this.#mtime;
  }
  get isStored(): boolean {
    return this.#pk !== null;
  }

  async getUser(): Promise<User> {
    return this.#userId === null
      ? User.getDefault({ storage: this.#storage })
      : User.getByPk(this.#userId, { storage: this.#storage });
  }

  async store(): Promise<this> {
    if (this.isStored) return this;
    const userId = this.#userId ?? (await User.getDefaultId(this.#storage));
    const dialect = this.#storage.dialect;
    const now = dialect.encodeTimestamp(nowTimestamp());
    const row = await this.#storage
      .executor()
      .insertInto('db_dbcomment')
      .values({
        uuid: this.uuid,
        dbnode_id: this.#nodeId,
        user_id: userId,
        content: this.#content,
        ctime: dialect.encodeTimestamp(this.#ctime),
        mtime: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    this.#pk = row.id;
    this.#userId = userId;
    this.#mtime = canonicalTimestamp(now);
    return this;
  }

  /** Changes the text (and the modification time). */
  async setContent(content: string): Promise<void> {
    if (typeof content !== 'string') throw new ValidationError('the content of a comment must be a string');
    validateText(content, 'comment content');
    this.#content = content;
    if (this.#pk === null) return;
    const now = this.#storage.dialect.encodeTimestamp(nowTimestamp());
    await this.#storage
      .executor()
      .updateTable('db_dbcomment')
      .set({ content, mtime: now })
      .where('id', '=', this.#pk)
      .execute();
    this.#mtime = canonicalTimestamp(now);
  }

  static async get(pk: number, options: StorageOption = {}): Promise<Comment> {
    const storage = getStorage(options);
    const row = await storage
      .executor()
      .selectFrom('db_dbcomment')
      .selectAll()
      .where('id', '=', pk)
      .executeTakeFirst();
    if (row === undefined) throw new NotExistentError(`Comment with id '${pk}' not found`);
    return Comment.fromRow(storage, row);
  }

  /** The comments of a node, oldest first. */
  static async forNode(node: NodeRef): Promise<Comment[]> {
    if (!node.isStored || node.storage === undefined) return [];
    const storage = node.storage;
    const rows = await storage
      .executor()
      .selectFrom('db_dbcomment')
      .selectAll()
      .where('dbnode_id', '=', node.pk!)
      .orderBy('ctime')
      .orderBy('id')
      .execute();
    return rows.map((row) => Comment.fromRow(storage, row));
  }

  static async delete(pk: number, options: StorageOption = {}): Promise<void> {
    const storage = getStorage(options);
    const result = await storage
      .executor()
      .deleteFrom('db_dbcomment')
      .where('id', '=', pk)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new NotExistentError(`Comment with id '${pk}' not found`);
  }

  /**
   * Deletes the comments matching every given filter and returns their ids; refuses an empty filter (which would
   * delete everything: use {@link deleteAll}).
   */
  static async deleteMany(
    filters: { readonly ids?: readonly number[]; readonly nodeId?: number; readonly userId?: number },
    options: StorageOption = {},
  ): Promise<number[]> {
    if (filters.ids === undefined && filters.nodeId === undefined && filters.userId === undefined) {
      throw new ValidationError('filters must not be empty: use deleteAll() to delete every comment');
    }
    const storage = getStorage(options);
    return storage.transaction(async (trx) => {
      let query = trx.selectFrom('db_dbcomment').select('id');
      if (filters.ids !== undefined)
        query =
          filters.ids.length === 0 ? query.where('id', '=', -1) : query.where('id', 'in', [...filters.ids]);
      if (filters.nodeId !== undefined) query = query.where('dbnode_id', '=', filters.nodeId);
      if (filters.userId !== undefined) query = query.where('user_id', '=', filters.userId);
      const ids = (await query.execute()).map((r) => r.id);
      if (ids.length > 0) await trx.deleteFrom('db_dbcomment').where('id', 'in', ids).execute();
      return ids;
    });
  }

  static async deleteAll(options: StorageOption = {}): Promise<void> {
    await getStorage(options).executor().deleteFrom('db_dbcomment').execute();
  }
}

/** The comments of one node (`node.base.comments`). */
export class NodeComments {
  readonly #node: NodeRef;

  constructor(node: NodeRef) {
    this.#node = node;
  }

  /** Adds and stores a comment by `user` (default user); `ModificationNotAllowedError` on an unstored node. */
  async add(content: string, user?: User): Promise<Comment> {
    return new Comment({ node: this.#node, content, ...(user === undefined ? {} : { user }) }).store();
  }

  /** The comment `pk` of this node; `NotExistentError` otherwise. */
  async get(pk: number): Promise<Comment> {
    const comment = await Comment.get(pk, { storage: this.#node.storage! });
    if (comment.nodeId !== this.#node.pk)
      throw new NotExistentError(`Comment with id '${pk}' not found on node<${String(this.#node.pk)}>`);
    return comment;
  }

  /** Every comment, oldest first. */
  async all(): Promise<Comment[]> {
    return Comment.forNode(this.#node);
  }

  async update(pk: number, content: string): Promise<Comment> {
    const comment = await this.get(pk);
    await comment.setContent(content);
    return comment;
  }

  async remove(pk: number): Promise<void> {
    await this.get(pk);
    await Comment.delete(pk, { storage: this.#node.storage! });
  }
}
