import { sql } from 'kysely';
import { MultipleObjectsError, NotExistentError, ValidationError } from '../errors.js';
import type { StorageBackend } from '../storage/backend.js';
import { getStorage, type StorageOption } from '../storage/context.js';
import type { DbNodeRow } from '../storage/schema.js';
import { Node } from './nodes/node.js';

/** Options of {@link loadNode}. */
export interface LoadNodeOptions extends StorageOption {
  /** The node must be an instance of one of these classes, else `NotExistentError`. */
  readonly subClasses?: readonly (abstract new (...args: never[]) => Node)[];
}

const UUID_PREFIX = /^[0-9a-f-]+$/i;

/** The hyphenated form of a (possibly dash-less, possibly partial) uuid prefix, lower-cased. */
export function normaliseUuidPrefix(prefix: string): string {
  const hex = prefix.replaceAll('-', '').toLowerCase();
  const groups = [8, 4, 4, 4, 12];
  let out = '';
  let at = 0;
  for (const size of groups) {
    if (at >= hex.length) break;
    if (out !== '') out += '-';
    out += hex.slice(at, at + size);
    at += size;
  }
  if (hex.length > 32) throw new ValidationError(`\`${prefix}\` is longer than a uuid`);
  return out;
}

async function rowsByUuidPrefix(storage: StorageBackend, prefix: string): Promise<DbNodeRow[]> {
  const dashed = normaliseUuidPrefix(prefix);
  // a full uuid (the nodes a checkpoint refers to, read at every claim of a daemon worker): a prepared text, as by pk
  if (dashed.length === 36)
    return storage.executeRead<DbNodeRow>('SELECT * FROM db_dbnode WHERE uuid = $1', [dashed]);
  const pattern = `${dashed}%`;
  return storage
    .executor()
    .selectFrom('db_dbnode')
    .selectAll()
    .where(storage.dialect.uuidText(sql.ref('uuid')), 'like', pattern)
    .limit(2)
    .execute();
}

/** The one row of `rows`; `what` says what was looked for (`pk 5 or a uuid starting with \`5\``). */
function pick(rows: readonly DbNodeRow[], what: string): DbNodeRow {
  if (rows.length === 0) throw new NotExistentError(`no node has ${what}`);
  if (rows.length > 1) throw new MultipleObjectsError(`more than one node has ${what}: give more of it`);
  return rows[0]!;
}

/**
 * Loads a stored node by pk (a number, or a string of digits), full uuid, uuid prefix (with or without dashes)
 * or label. `NotExistentError` when nothing matches (or the node is not of `subClasses`), `MultipleObjectsError`
 * when a prefix or label is ambiguous. The node comes back as the class its type string is registered for.
 */
export async function loadNode<T extends Node = Node>(
  identifier: number | string,
  options: LoadNodeOptions = {},
): Promise<T> {
  const storage = getStorage(options);
  let row: DbNodeRow;
  if (typeof identifier === 'number' || /^\d+$/.test(identifier)) {
    const pk = Number(identifier);
    if (!Number.isInteger(pk)) throw new ValidationError(`a pk must be an integer, got ${identifier}`);
    // a prepared text, not a built query: loading by pk starts most commands (`verdi node show`, `process status`)
    const found = await storage.executeRead<DbNodeRow>('SELECT * FROM db_dbnode WHERE id = $1', [pk]);
    if (found.length === 0 && typeof identifier === 'string' && UUID_PREFIX.test(identifier)) {
      // digits are a pk first, then a uuid prefix: the message says both were tried
      row = pick(
        await rowsByUuidPrefix(storage, identifier),
        `pk ${pk} or a uuid starting with \`${identifier}\``,
      );
    } else {
      row = pick(found, `pk ${pk}`);
    }
  } else if (typeof identifier !== 'string') {
    throw new ValidationError(`a node identifier must be a pk or a string, got ${typeof identifier}`);
  } else if (UUID_PREFIX.test(identifier)) {
    const byUuid = await rowsByUuidPrefix(storage, identifier);
    if (byUuid.length > 0) row = pick(byUuid, `a uuid starting with \`${identifier}\``);
    else
      row = pick(
        await storage
          .executor()
          .selectFrom('db_dbnode')
          .selectAll()
          .where('label', '=', identifier)
          .limit(2)
          .execute(),
        `a uuid starting with \`${identifier}\` or the label \`${identifier}\``,
      );
  } else {
    row = pick(
      await storage
        .executor()
        .selectFrom('db_dbnode')
        .selectAll()
        .where('label', '=', identifier)
        .limit(2)
        .execute(),
      `the label \`${identifier}\``,
    );
  }
  const node = Node.fromRow(storage, row);
  const classes = options.subClasses;
  if (classes !== undefined && !classes.some((cls) => node instanceof cls)) {
    throw new NotExistentError(
      `node<${row.id}> is a ${node.constructor.name}, not one of ${classes.map((c) => c.name).join(', ')}`,
    );
  }
  return node as T;
}

/** Loads a stored node by pk. */
export async function loadNodeByPk<T extends Node = Node>(
  pk: number,
  options: StorageOption = {},
): Promise<T> {
  return loadNode<T>(pk, options);
}
