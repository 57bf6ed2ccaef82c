import { sql } from 'kysely';
import { MultipleObjectsError, NotExistentError, ValidationError } from '../../../../errors.js';
import type { StorageBackend } from '../../../../storage/backend.js';
import { getStorage, type StorageOption } from '../../../../storage/context.js';
import type { DbNodeRow } from '../../../../storage/schema.js';
import { Computer } from '../../../entities/computer.js';
import { User } from '../../../entities/user.js';
import { Node } from '../../node.js';
import { listNodeClasses } from '../../registry.js';
import { AbstractCode, CODE_HIDDEN_EXTRA } from './abstract.js';
// Registered here so that every code class is known when codes are loaded.
import './installed.js';
import './portable.js';

/** The `node_type` of every registered code class (core and plugin codes). */
export function codeNodeTypes(): string[] {
  return listNodeClasses()
    .filter((info) => info.cls === AbstractCode || info.cls.prototype instanceof AbstractCode)
    .map((info) => info.nodeType);
}

/** Builds the code of a row and attaches its computer, so `fullLabel` works at once. */
async function codeFromRow(
  storage: StorageBackend,
  row: DbNodeRow,
  computers?: Map<number, Computer>,
): Promise<AbstractCode> {
  const code = Node.fromRow(storage, row) as AbstractCode;
  if (row.dbcomputer_id !== null) {
    const computer =
      computers?.get(row.dbcomputer_id) ?? (await Computer.get({ pk: row.dbcomputer_id }, { storage }));
    Node.internalState(code).computer = computer;
  }
  return code;
}

function pick(rows: readonly DbNodeRow[], what: string): DbNodeRow {
  if (rows.length === 0) throw new NotExistentError(`no code found with ${what}`);
  if (rows.length > 1)
    throw new MultipleObjectsError(`multiple codes found with ${what}: use the pk or uuid`);
  return rows[0]!;
}

/** Options of {@link loadCode}. */
export interface LoadCodeOptions extends StorageOption {
  /** The code must be an instance of one of these classes, else `NotExistentError`. */
  readonly subClasses?: readonly (abstract new (...args: never[]) => AbstractCode)[];
}

/**
 * Loads a stored code as aiida's `load_code`: a number or digits is a pk, hex digits with dashes a uuid or a
 * prefix of one, anything else a label, `label@computer` a label on that computer; a trailing `!` forces a
 * label. A pk or uuid reading that finds no code is tried as a label. The code comes back with its computer
 * loaded. `NotExistentError` when no code matches, `MultipleObjectsError` when several do.
 */
export async function loadCode<T extends AbstractCode = AbstractCode>(
  identifier: string | number,
  options: LoadCodeOptions = {},
): Promise<T> {
  const storage = getStorage(options);
  const types = codeNodeTypes();
  const text = String(identifier);
  if (text === '') throw new ValidationError('the identifier of a code cannot be empty');
  const codes = () =>
    storage.executor().selectFrom('db_dbnode').selectAll('db_dbnode').where('node_type', 'in', types);

  const byLabel = async (fullLabel: string): Promise<DbNodeRow> => {
    const at = fullLabel.indexOf('@');
    const label = at < 0 ? fullLabel : fullLabel.slice(0, at);
    const computerLabel = at < 0 ? undefined : fullLabel.slice(at + 1);
    let query = codes().where('db_dbnode.label', '=', label);
    if (computerLabel !== undefined && computerLabel !== '') {
      query = query
        .innerJoin('db_dbcomputer', 'db_dbcomputer.id', 'db_dbnode.dbcomputer_id')
        .where('db_dbcomputer.label', '=', computerLabel);
    }
    return pick(await query.limit(2).execute(), `label \`${fullLabel}\``);
  };

  let row: DbNodeRow | undefined;
  if (text.endsWith('!')) {
    row = await byLabel(text.replace(/!+$/u, ''));
  } else {
    if (/^\d+$/u.test(text)) {
      row = await codes().where('id', '=', Number(text)).executeTakeFirst();
    } else if (/^[0-9a-f-]+$/iu.test(text) && text.replaceAll('-', '').length <= 32) {
      const rows = await codes()
        .where(storage.dialect.uuidText(sql.ref('uuid')), 'like', `${text.toLowerCase()}%`)
        .limit(2)
        .execute();
      if (rows.length > 1)
        throw new MultipleObjectsError(`multiple codes have a uuid starting with \`${text}\``);
      row = rows[0];
    }
    row ??= await byLabel(text);
  }
  const code = await codeFromRow(storage, row);
  const classes = options.subClasses;
  if (classes !== undefined && !classes.some((cls) => code instanceof cls)) {
    throw new NotExistentError(
      `code<${row.id}> is a ${code.constructor.name}, not one of ${classes.map((c) => c.name).join(', ')}`,
    );
  }
  return code as T;
}

/** Options of {@link listCodes}. */
export interface ListCodesOptions extends StorageOption {
  /** Only codes on this computer (portable codes have none and are left out). */
  readonly computer?: Computer;
  /** Include hidden codes. */
  readonly includeHidden?: boolean;
  /** Only the codes of this user (default: the default user); null for every user's. */
  readonly user?: User | null;
  /** Only codes whose default `CalcJob` plugin is this entry point name. */
  readonly defaultCalcJobPlugin?: string;
}

/** The stored codes, ordered by pk, with their computers loaded. */
export async function listCodes(options: ListCodesOptions = {}): Promise<AbstractCode[]> {
  const storage = getStorage(options);
  let query = storage
    .executor()
    .selectFrom('db_dbnode')
    .selectAll()
    .where('node_type', 'in', codeNodeTypes());
  if (options.computer !== undefined) query = query.where('dbcomputer_id', '=', options.computer.pk);
  const user = options.user === undefined ? await User.getDefault({ storage }) : options.user;
  if (user !== null) query = query.where('user_id', '=', user.pk);
  const rows = await query.orderBy('id').execute();
  const computers = new Map((await Computer.all({ storage })).map((computer) => [computer.pk!, computer]));
  const codes: AbstractCode[] = [];
  for (const row of rows) {
    const code = await codeFromRow(storage, row, computers);
    if (options.includeHidden !== true && code.base.extras.get(CODE_HIDDEN_EXTRA, false) === true) continue;
    if (
      options.defaultCalcJobPlugin !== undefined &&
      code.defaultCalcJobPlugin !== options.defaultCalcJobPlugin
    )
      continue;
    codes.push(code);
  }
  return codes;
}
