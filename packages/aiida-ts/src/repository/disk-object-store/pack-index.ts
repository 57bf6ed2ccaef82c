import Database from 'better-sqlite3';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { z } from 'zod';
import { CorruptStorageError } from '../../errors.js';

/** Keys looked up per query by {@link PackIndex.hasMany}. */
const HAS_MANY_BATCH = 10_000;

/**
 * The schema disk-objectstore's SQLAlchemy model creates for `packs.idx`. Kept byte-for-byte equivalent so either
 * implementation can open a container the other one created.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS db_object (
	id INTEGER NOT NULL,
	hashkey VARCHAR NOT NULL,
	compressed BOOLEAN NOT NULL,
	size INTEGER NOT NULL,
	"offset" INTEGER NOT NULL,
	length INTEGER NOT NULL,
	pack_id INTEGER NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_db_object_hashkey ON db_object (hashkey);
`;

/** One row of `db_object`: where a packed object's bytes are. */
export const PackedObjectRowSchema = z.object({
  hashkey: z.string(),
  compressed: z.union([z.literal(0), z.literal(1)]).transform((value) => value === 1),
  size: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
  pack_id: z.number().int(),
});
export type PackedObjectRow = z.infer<typeof PackedObjectRowSchema>;

/** A row about to be inserted (`compressed` as disk-objectstore stores it, 0 or 1). */
export interface NewPackedObjectRow {
  readonly hashkey: string;
  readonly compressed: boolean;
  readonly size: number;
  readonly offset: number;
  readonly length: number;
  readonly packId: number;
}

interface RawRow {
  hashkey: string;
  compressed: number;
  size: number;
  offset: number;
  length: number;
  pack_id: number;
}

function toRow(raw: RawRow, path: string): PackedObjectRow {
  const parsed = PackedObjectRowSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CorruptStorageError(
      `pack index ${path} has an invalid row for ${raw.hashkey}: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}

/** Options of {@link PackIndex.open}. */
export interface PackIndexOptions {
  /** Create the file and schema when missing (only `initialise` does this). */
  readonly create: boolean;
  /** How long a write waits for another process's write transaction, in ms. */
  readonly busyTimeoutMs: number;
}

/**
 * The SQLite pack index (`packs.idx`): one row per packed object. Opened in WAL mode like disk-objectstore, so any
 * number of readers run beside one writer, across processes. Every statement runs to completion synchronously, and
 * no transaction stays open across an `await`, so one connection serves concurrent async callers safely.
 */
export class PackIndex {
  readonly path: string;
  readonly #db: SqliteDatabase;
  readonly #getRow: Statement<[string], RawRow>;
  readonly #hasKey: Statement<[string], { one: number }>;
  readonly #hasKeys: Statement<[string], string>;
  readonly #insert: Statement<[string, number, number, number, number, number]>;
  readonly #deleteKey: Statement<[string]>;

  private constructor(path: string, db: SqliteDatabase) {
    this.path = path;
    this.#db = db;
    this.#getRow = db.prepare(
      'SELECT hashkey, compressed, size, "offset", length, pack_id FROM db_object WHERE hashkey = ?',
    );
    this.#hasKey = db.prepare('SELECT 1 AS one FROM db_object WHERE hashkey = ?');
    this.#hasKeys = db
      .prepare<[string], string>(
        'SELECT hashkey FROM db_object WHERE hashkey IN (SELECT value FROM json_each(?))',
      )
      .pluck();
    this.#insert = db.prepare(
      'INSERT OR IGNORE INTO db_object (hashkey, compressed, size, "offset", length, pack_id) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#deleteKey = db.prepare('DELETE FROM db_object WHERE hashkey = ?');
  }

  /** Opens (or with `create`, creates) the index at `path`. */
  static open(path: string, options: PackIndexOptions): PackIndex {
    let db: SqliteDatabase;
    try {
      db = new Database(path, { fileMustExist: !options.create, timeout: options.busyTimeoutMs });
    } catch (error) {
      throw new CorruptStorageError(`cannot open the pack index ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      db.pragma('journal_mode = WAL');
      if (options.create) db.exec(SCHEMA);
      const table = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'db_object'")
        .get();
      if (table === undefined) throw new CorruptStorageError(`pack index ${path} has no db_object table`);
    } catch (error) {
      db.close();
      if (error instanceof CorruptStorageError) throw error;
      throw new CorruptStorageError(`cannot read the pack index ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new PackIndex(path, db);
  }

  get(hashkey: string): PackedObjectRow | undefined {
    const raw = this.#getRow.get(hashkey);
    return raw === undefined ? undefined : toRow(raw, this.path);
  }

  has(hashkey: string): boolean {
    return this.#hasKey.get(hashkey) !== undefined;
  }

  /** The keys of `hashkeys` the index holds: one query per 10,000 keys (a JSON list), not one per key. */
  hasMany(hashkeys: readonly string[]): Set<string> {
    const found = new Set<string>();
    for (let start = 0; start < hashkeys.length; start += HAS_MANY_BATCH) {
      const batch = JSON.stringify(hashkeys.slice(start, start + HAS_MANY_BATCH));
      for (const key of this.#hasKeys.iterate(batch)) found.add(key);
    }
    return found;
  }

  /** Inserts rows in one transaction; a key already indexed keeps its row (as disk-objectstore's `OR IGNORE`). */
  insertMany(rows: readonly NewPackedObjectRow[]): void {
    if (rows.length === 0) return;
    this.#db.transaction(() => {
      for (const row of rows) {
        this.#insert.run(row.hashkey, row.compressed ? 1 : 0, row.size, row.offset, row.length, row.packId);
      }
    })();
  }

  deleteMany(hashkeys: readonly string[]): number {
    let deleted = 0;
    this.#db.transaction(() => {
      for (const key of hashkeys) deleted += this.#deleteKey.run(key).changes;
    })();
    return deleted;
  }

  /** Keys in the index, `pageSize` at a time in id order; pages let callers await between them. */
  page(afterId: number, pageSize: number): { id: number; hashkey: string }[] {
    return this.#db
      .prepare<[number, number], { id: number; hashkey: string }>(
        'SELECT id, hashkey FROM db_object WHERE id > ? ORDER BY id LIMIT ?',
      )
      .all(afterId, pageSize);
  }

  /** Rows of one pack ordered by offset (for repacking). */
  rowsOfPack(packId: number): (PackedObjectRow & { id: number })[] {
    return this.#db
      .prepare<[number], RawRow & { id: number }>(
        'SELECT id, hashkey, compressed, size, "offset", length, pack_id FROM db_object WHERE pack_id = ? ORDER BY "offset"',
      )
      .all(packId)
      .map((raw) => ({ ...toRow(raw, this.path), id: raw.id }));
  }

  /** Moves rows to a new pack and offset in one transaction (repacking). */
  relocate(
    moves: readonly { id: number; packId: number; offset: number; length: number; compressed: boolean }[],
  ): void {
    const stmt = this.#db.prepare(
      'UPDATE db_object SET pack_id = ?, "offset" = ?, length = ?, compressed = ? WHERE id = ?',
    );
    this.#db.transaction(() => {
      for (const move of moves)
        stmt.run(move.packId, move.offset, move.length, move.compressed ? 1 : 0, move.id);
    })();
  }

  renamePack(from: number, to: number): void {
    this.#db.prepare('UPDATE db_object SET pack_id = ? WHERE pack_id = ?').run(to, from);
  }

  countInPack(packId: number): number {
    return (
      this.#db
        .prepare<[number], { n: number }>('SELECT count(*) AS n FROM db_object WHERE pack_id = ?')
        .get(packId)?.n ?? 0
    );
  }

  count(): number {
    return this.#db.prepare<[], { n: number }>('SELECT count(*) AS n FROM db_object').get()?.n ?? 0;
  }

  /** Sum of uncompressed sizes and of on-disk lengths of packed objects. */
  totals(): { size: number; length: number } {
    const row = this.#db
      .prepare<[], { size: number; length: number }>(
        'SELECT coalesce(sum(size), 0) AS size, coalesce(sum(length), 0) AS length FROM db_object',
      )
      .get();
    return row ?? { size: 0, length: 0 };
  }

  /** Full rows in id order, `pageSize` at a time (for checks that read every packed object). */
  pageRows(afterId: number, pageSize: number): (PackedObjectRow & { id: number })[] {
    return this.#db
      .prepare<[number, number], RawRow & { id: number }>(
        'SELECT id, hashkey, compressed, size, "offset", length, pack_id FROM db_object WHERE id > ? ORDER BY id LIMIT ?',
      )
      .all(afterId, pageSize)
      .map((raw) => ({ ...toRow(raw, this.path), id: raw.id }));
  }

  /** Each pack the index places objects in: how many, and where the last one ends. */
  packSummaries(): { packId: number; objects: number; end: number }[] {
    return this.#db
      .prepare<[], { packId: number; objects: number; end: number }>(
        'SELECT pack_id AS packId, count(*) AS objects, max("offset" + length) AS "end" FROM db_object GROUP BY pack_id ORDER BY pack_id',
      )
      .all();
  }

  /** Up to `limit` keys of a pack, and of those ending past `size` bytes when given. */
  keysOfPack(packId: number, limit: number, pastEnd?: number): string[] {
    return this.#db
      .prepare<[number, number, number], { hashkey: string }>(
        'SELECT hashkey FROM db_object WHERE pack_id = ? AND "offset" + length > ? ORDER BY "offset" LIMIT ?',
      )
      .all(packId, pastEnd ?? -1, limit)
      .map((row) => row.hashkey);
  }

  /** Objects that start before the previous object of their pack ends. */
  overlaps(limit: number): { hashkey: string; packId: number; offset: number; previousEnd: number }[] {
    return this.#db
      .prepare<[number], { hashkey: string; packId: number; offset: number; previousEnd: number }>(
        `SELECT hashkey, pack_id AS packId, "offset", previous_end AS previousEnd FROM (
           SELECT hashkey, pack_id, "offset",
             max("offset" + length) OVER (PARTITION BY pack_id ORDER BY "offset", id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end
           FROM db_object)
         WHERE previous_end > "offset" LIMIT ?`,
      )
      .all(limit);
  }

  /** SQLite's own check of the index file (`PRAGMA quick_check`): `['ok']` when sound. */
  quickCheck(): string[] {
    const rows = this.#db.pragma('quick_check', { simple: false }) as Record<string, unknown>[];
    return rows.map((row) => String(Object.values(row)[0]));
  }

  vacuum(): void {
    this.#db.exec('VACUUM');
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
