import { AuthInfo, Computer } from '../orm/entities/computer.js';
import { Comment } from '../orm/entities/comment.js';
import { Group } from '../orm/entities/group.js';
import { Log } from '../orm/entities/log.js';
import { User } from '../orm/entities/user.js';
import { Node } from '../orm/nodes/node.js';
import type { StorageBackend } from '../storage/backend.js';
import type {
  DbAuthInfoRow,
  DbCommentRow,
  DbComputerRow,
  DbGroupRow,
  DbLogRow,
  DbNodeRow,
  DbUserRow,
} from '../storage/schema.js';
import type { OrmBase } from './entities.js';

/** Builds an entity from its raw row; async for entities that need other rows (an AuthInfo's computer/user). */
export type OrmRowLoader = (storage: StorageBackend, row: Record<string, unknown>) => unknown;

async function loadAuthInfo(storage: StorageBackend, row: Record<string, unknown>): Promise<AuthInfo> {
  const info = row as unknown as DbAuthInfoRow;
  const db = storage.executor();
  const computer = await db
    .selectFrom('db_dbcomputer')
    .selectAll()
    .where('id', '=', info.dbcomputer_id)
    .executeTakeFirstOrThrow();
  const user = await db
    .selectFrom('db_dbuser')
    .selectAll()
    .where('id', '=', info.aiidauser_id)
    .executeTakeFirstOrThrow();
  return AuthInfo.fromRow(storage, info, Computer.fromRow(storage, computer), User.fromRow(storage, user));
}

/**
 * The ORM classes `'*'` projections become: a `Node` of the class its `node_type` is registered for, `User`,
 * `Computer`, `Group` (of its type string's class), `Comment`, `Log`, `AuthInfo`. Links stay plain rows
 * (aiida-core's `LinkQuadruple` fields).
 */
export const ORM_LOADERS: Readonly<Partial<Record<OrmBase, OrmRowLoader>>> = {
  node: (storage, row) => Node.fromRow(storage, row as unknown as DbNodeRow),
  user: (storage, row) => User.fromRow(storage, row as unknown as DbUserRow),
  computer: (storage, row) => Computer.fromRow(storage, row as unknown as DbComputerRow),
  group: (storage, row) => Group.fromRow(storage, row as unknown as DbGroupRow),
  comment: (storage, row) => Comment.fromRow(storage, row as unknown as DbCommentRow),
  log: (storage, row) => Log.fromRow(storage, row as unknown as DbLogRow),
  authinfo: loadAuthInfo,
};
