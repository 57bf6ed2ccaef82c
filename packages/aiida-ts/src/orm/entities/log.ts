import { randomUUID } from 'node:crypto';
import { NotExistentError, ValidationError } from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { DbLogRow } from '../../storage/schema.js';
import type { NodeRef } from './node-ref.js';
import { cleanValue, storableText, type JsonValue } from '../utils/clean.js';
import { nowTimestamp } from '../../storage/dialect.js';

/** Log levels with Python's numbers plus aiida's `REPORT` (23). */
export const LogLevel = {
  DEBUG: 10,
  INFO: 20,
  REPORT: 23,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
} as const;
export type LogLevelName = keyof typeof LogLevel;

/** What {@link Log.create} takes. */
export interface LogInit {
  readonly node: NodeRef;
  readonly message: string;
  readonly levelname?: LogLevelName;
  readonly loggername?: string;
  /** Extra record fields (JSON); values that cannot be stored are dropped rather than failing the log. */
  readonly metadata?: Record<string, unknown>;
  readonly time?: Date | string;
}

function storableMetadata(metadata: Record<string, unknown>): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(metadata)) {
    try {
      out[key] = cleanValue(value);
    } catch {
      // a log record must never fail because of one odd field (aiida-core strips them too)
    }
  }
  return out;
}

/** A log record attached to a node (`db_dblog`), e.g. a process's `report`. Stored when created. */
export class Log {
  readonly pk: number;
  readonly uuid: string;
  readonly time: Date;
  readonly timeIso: string;
  readonly loggername: string;
  readonly levelname: string;
  readonly nodeId: number;
  readonly message: string;
  readonly metadata: Readonly<Record<string, JsonValue>>;

  private constructor(storage: StorageBackend, row: DbLogRow) {
    this.pk = row.id;
    this.uuid = row.uuid;
    this.timeIso = storage.dialect.decodeTimestamp(row.time);
    this.time = new Date(this.timeIso);
    this.loggername = row.loggername;
    this.levelname = row.levelname;
    this.nodeId = row.dbnode_id;
    this.message = row.message;
    this.metadata = (storage.dialect.decodeJson(row.metadata) ?? {}) as Record<string, JsonValue>;
  }

  /** @internal */
  static fromRow(storage: StorageBackend, row: DbLogRow): Log {
    return new Log(storage, row);
  }

  /** The logger name aiida-core uses for a node's records: `aiida.orm.nodes.<type path>`. */
  static loggerNameFor(node: NodeRef): string {
    return node.nodeType === '' ? 'aiida.orm.nodes.Node' : `aiida.orm.nodes.${node.nodeType.slice(0, -1)}`;
  }

  /** Stores a record for a stored node. `ValidationError` for an unstored node or non-object metadata. */
  static async create(init: LogInit): Promise<Log> {
    const { node } = init;
    if (!node.isStored || node.storage === undefined)
      throw new ValidationError('logs can only be attached to stored nodes');
    if (
      init.metadata !== undefined &&
      (typeof init.metadata !== 'object' || init.metadata === null || Array.isArray(init.metadata))
    ) {
      throw new ValidationError('the metadata of a log must be an object');
    }
    const storage = node.storage;
    const dialect = storage.dialect;
    const levelname = init.levelname ?? 'REPORT';
    if (!Object.hasOwn(LogLevel, levelname))
      throw new ValidationError(`unknown log level \`${String(levelname)}\``);
    const row = await storage
      .executor()
      .insertInto('db_dblog')
      .values({
        uuid: randomUUID(),
        time: dialect.encodeTimestamp(init.time ?? nowTimestamp()),
        loggername: init.loggername ?? Log.loggerNameFor(node),
        levelname,
        dbnode_id: node.pk!,
        // what a process reports must never fail its record: a NUL or lone surrogate is kept as a visible escape
        message: storableText(String(init.message)),
        metadata: dialect.encodeJson(storableMetadata(init.metadata ?? {})),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return new Log(storage, row);
  }

  static async get(pk: number, options: StorageOption = {}): Promise<Log> {
    const storage = getStorage(options);
    const row = await storage
      .executor()
      .selectFrom('db_dblog')
      .selectAll()
      .where('id', '=', pk)
      .executeTakeFirst();
    if (row === undefined) throw new NotExistentError(`Log with id '${pk}' not found`);
    return new Log(storage, row);
  }

  /** Records of a node (all nodes when `nodeId` is omitted), by time then id. */
  static async find(
    filter: { readonly nodeId?: number; readonly order?: 'asc' | 'desc'; readonly limit?: number } = {},
    options: StorageOption = {},
  ): Promise<Log[]> {
    const storage = getStorage(options);
    let query = storage.executor().selectFrom('db_dblog').selectAll();
    if (filter.nodeId !== undefined) query = query.where('dbnode_id', '=', filter.nodeId);
    query = query.orderBy('time', filter.order ?? 'asc').orderBy('id', filter.order ?? 'asc');
    if (filter.limit !== undefined) query = query.limit(filter.limit);
    return (await query.execute()).map((row) => new Log(storage, row));
  }

  static async delete(pk: number, options: StorageOption = {}): Promise<void> {
    const storage = getStorage(options);
    const result = await storage.executor().deleteFrom('db_dblog').where('id', '=', pk).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new NotExistentError(`Log with id '${pk}' not found`);
  }

  /** Deletes the records matching every given filter; refuses an empty filter. Returns the deleted ids. */
  static async deleteMany(
    filters: { readonly ids?: readonly number[]; readonly nodeId?: number },
    options: StorageOption = {},
  ): Promise<number[]> {
    if (filters.ids === undefined && filters.nodeId === undefined) {
      throw new ValidationError('filters must not be empty: use deleteAll() to delete every log');
    }
    const storage = getStorage(options);
    return storage.transaction(async (trx) => {
      let query = trx.selectFrom('db_dblog').select('id');
      if (filters.ids !== undefined)
        query =
          filters.ids.length === 0 ? query.where('id', '=', -1) : query.where('id', 'in', [...filters.ids]);
      if (filters.nodeId !== undefined) query = query.where('dbnode_id', '=', filters.nodeId);
      const ids = (await query.execute()).map((r) => r.id);
      if (ids.length > 0) await trx.deleteFrom('db_dblog').where('id', 'in', ids).execute();
      return ids;
    });
  }

  static async deleteAll(options: StorageOption = {}): Promise<void> {
    await getStorage(options).executor().deleteFrom('db_dblog').execute();
  }
}

/** The log of one node (`node.base.logs`): records at or above `minimumLevel` are stored. */
export class NodeLogs {
  readonly #node: NodeRef;
  /** Records below this level are dropped (aiida's `logging.db_loglevel`, REPORT by default). */
  minimumLevel: LogLevelName = 'REPORT';

  constructor(node: NodeRef) {
    this.#node = node;
  }

  /**
   * Stores a record when the node is stored and the level is high enough; resolves to it, or to null when
   * dropped (an unstored node keeps no log, as in aiida-core).
   */
  async log(
    levelname: LogLevelName,
    message: string,
    metadata: Record<string, unknown> = {},
  ): Promise<Log | null> {
    if (!this.#node.isStored || LogLevel[levelname] < LogLevel[this.minimumLevel]) return null;
    return Log.create({
      node: this.#node,
      message,
      levelname,
      metadata: { ...metadata, levelname, levelno: LogLevel[levelname] },
    });
  }

  report(message: string, metadata: Record<string, unknown> = {}): Promise<Log | null> {
    return this.log('REPORT', message, metadata);
  }
  info(message: string): Promise<Log | null> {
    return this.log('INFO', message);
  }
  warning(message: string): Promise<Log | null> {
    return this.log('WARNING', message);
  }
  error(message: string): Promise<Log | null> {
    return this.log('ERROR', message);
  }

  /** Every record of the node, oldest first. */
  async all(): Promise<Log[]> {
    if (!this.#node.isStored) return [];
    return Log.find({ nodeId: this.#node.pk! }, { storage: this.#node.storage! });
  }

  /** How many records the node has (one count, no record read: `verdi node show` says how many). */
  async count(): Promise<number> {
    if (!this.#node.isStored) return 0;
    const storage = this.#node.storage!;
    const [row] = await storage.executeRead<{ n: unknown }>(
      'SELECT count(*) AS n FROM db_dblog WHERE dbnode_id = $1',
      [this.#node.pk],
    );
    return row === undefined ? 0 : storage.dialect.decodeInteger(row.n);
  }
}
