import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { sql, type RawBuilder } from 'kysely';
import { z } from 'zod';
import {
  ArchiveImportError,
  ImportUniquenessError,
  ImportValidationError,
  InternalError,
  isAiidaError,
} from '../../errors.js';
import { User } from '../../orm/entities/user.js';
import { RepositoryMetadataSchema } from '../../repository/file.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage } from '../../storage/context.js';
import { DialectName } from '../../storage/dialect.js';
import { ARCHIVE_JSON_COLUMNS, type ArchiveTable } from './archive-schema.js';
import { ArchiveReader, type ArchiveReaderOptions } from './archive-reader.js';
import { DEFAULT_BATCH_SIZE } from './create.js';
import { OBJECT_KEY } from './format.js';
import { chunks, progressTicker, type ArchiveListener } from './progress.js';
import { collectRepositoryKeys, plainRepositoryKeys } from './repository-keys.js';
import { attachArchive, invalidStagedTimestamps, stageNodes, type AttachedArchive } from './sqlite-import.js';
import { tabulate } from '../process-info/tabulate.js';

/** What to do with the extras of a node the profile already has (aiida's `merge_extras` letters). */
export const MergeExtrasSchema = z.tuple([z.enum(['k', 'n']), z.enum(['c', 'n']), z.enum(['l', 'u', 'd'])]);
export type MergeExtras = z.infer<typeof MergeExtrasSchema>;

/** `verdi archive import -e/--extras-mode-existing` names for the {@link MergeExtras} triples. */
export const EXTRAS_MODE_EXISTING = {
  keep_existing: ['k', 'c', 'l'],
  update_existing: ['k', 'c', 'u'],
  mirror: ['n', 'c', 'u'],
  none: ['k', 'n', 'l'],
} as const satisfies Record<string, MergeExtras>;
export type ExtrasModeExisting = keyof typeof EXTRAS_MODE_EXISTING;

/** How comments already in the profile meet the archive's comments of the same uuid. */
export const MergeCommentsSchema = z.enum(['leave', 'newest', 'overwrite']);
export type MergeComments = z.infer<typeof MergeCommentsSchema>;

const MERGE_EXTRAS_TEXT = [
  { k: '(k)eep', n: 'do (n)ot keep' },
  { c: '(c)reate', n: 'do (n)ot create' },
  { l: '(l)eave existing', u: '(u)pdate with new', d: '(d)elete' },
] as const;

/** Options of {@link importArchive}. */
export interface ImportArchiveOptions extends ArchiveListener, ArchiveReaderOptions {
  readonly storage?: StorageBackend;
  /** Keep the extras of newly imported nodes (except aiida's private `_aiida_*` ones). Default true. */
  readonly importNewExtras?: boolean;
  /** Extras merge for nodes already in the profile. Default `['k', 'n', 'l']` (leave them as they are). */
  readonly mergeExtras?: MergeExtras;
  readonly mergeComments?: MergeComments;
  readonly includeAuthinfos?: boolean;
  /**
   * Put every imported node into a group: `group` when given, else a new `core.import` group labelled with the
   * import time. Default true. No group is made when the archive brings no new node.
   */
  readonly createGroup?: boolean;
  /** A stored group to put the imported nodes in. */
  readonly group?: { readonly pk: number | null; readonly label: string };
  /** Work out and report what would be imported, then roll everything back. */
  readonly dryRun?: boolean;
  readonly batchSize?: number;
  /** Test hook: awaited inside the transaction after the node rows are written, before the links. */
  readonly afterNodes?: () => Promise<void>;
}

/** New and existing entities of an import, by aiida's entity names. */
export interface ImportCounts {
  readonly user: { readonly new: number; readonly existing: number };
  readonly computer: { readonly new: number; readonly existing: number };
  readonly authinfo: { readonly new: number; readonly existing: number };
  readonly node: { readonly new: number; readonly existing: number };
  readonly log: { readonly new: number; readonly existing: number };
  readonly comment: { readonly new: number; readonly existing: number };
  readonly link: { readonly new: number; readonly existing: number };
  readonly group: { readonly new: number; readonly existing: number };
  readonly group_node: { readonly new: number; readonly existing: number };
  readonly repositoryObjects: { readonly new: number; readonly existing: number };
}

/** What {@link importArchive} did. */
export interface ImportArchiveResult {
  readonly dryRun: boolean;
  /** The group the imported nodes were put in, or null. */
  readonly importGroup: { readonly pk: number; readonly label: string } | null;
  readonly counts: ImportCounts;
  /** Archive node pk → profile node pk, for every node of the archive. */
  readonly nodePks: ReadonlyMap<number, number>;
}

/** Internal signal: rolls back the transaction of a dry run. */
class DryRunRollback extends InternalError {}

/** Values looked up in the profile per query (uuids of the archive's entities, emails of its users). */
const LOOKUP_BATCH = 10_000;

/** A uuid (hexadecimal digits of either case in groups of 8-4-4-4-12) as a SQLite GLOB pattern. */
const UUID_GLOB = [8, 4, 4, 4, 12].map((digits) => '[0-9a-fA-F]'.repeat(digits)).join('-');
const DUPLICATE_LABEL_MAX = 100;
const duplicateLabel = (label: string, index: number): string => `${label} (Imported #${index})`;

/** Node type prefixes each link type joins, and which of its ends must be unique (aiida's link rules). */
const LINK_RULES = {
  call_calc: { from: 'process.workflow.', to: 'process.calculation.', unique: ['out_id'] },
  call_work: { from: 'process.workflow.', to: 'process.workflow.', unique: ['out_id'] },
  create: { from: 'process.calculation.', to: 'data.', unique: ['in_id_label', 'out_id'] },
  input_calc: { from: 'data.', to: 'process.calculation.', unique: ['out_id_label'] },
  input_work: { from: 'data.', to: 'process.workflow.', unique: ['out_id_label'] },
  return: { from: 'process.workflow.', to: 'data.', unique: ['in_id_label'] },
} as const;
type LinkTypeName = keyof typeof LINK_RULES;

type Row = Record<string, string | number | null>;

function pages(db: BetterSqlite3.Database, query: string, size: number): Iterable<Row[]> {
  const statement = db.prepare(`${query} WHERE id > ? ORDER BY id LIMIT ${size}`);
  return {
    *[Symbol.iterator]() {
      for (let after = -1; ;) {
        const rows = statement.all(after) as Row[];
        if (rows.length > 0) yield rows;
        if (rows.length < size) return;
        after = Number(rows[rows.length - 1]!['id']);
      }
    },
  };
}

/** Finds a label not in `taken`: the label itself, else `<label> (Imported #N)`; records it as taken. */
function freeLabel(label: string, taken: Set<string>, what: string): { label: string; relabelled: boolean } {
  if (!taken.has(label)) {
    taken.add(label);
    return { label, relabelled: false };
  }
  for (let index = 0; index < DUPLICATE_LABEL_MAX; index += 1) {
    const candidate = duplicateLabel(label, index);
    if (!taken.has(candidate)) {
      taken.add(candidate);
      return { label: candidate, relabelled: true };
    }
  }
  throw new ImportUniquenessError(`${what} has existing label '${label}' and re-labelling failed`);
}

/**
 * Checks the archive's rows before anything is written: every JSON column holds valid JSON, every uuid is a
 * uuid, every node's `repository_metadata` is a valid tree of valid keys, and every key it names is an entry of
 * the archive. Resolves to the keys the archive's nodes use.
 */
function validateArchive(reader: ArchiveReader, db: BetterSqlite3.Database): Set<string> {
  for (const [table, columns] of Object.entries(ARCHIVE_JSON_COLUMNS) as [ArchiveTable, string[]][]) {
    for (const column of columns) {
      const bad = db
        .prepare(`SELECT id FROM ${table} WHERE ${column} IS NOT NULL AND json_valid(${column}) = 0 LIMIT 5`)
        .all() as { id: number }[];
      if (bad.length > 0)
        throw new ImportValidationError(
          `Archive ${table} row(s) ${bad.map((r) => r.id).join(', ')} hold invalid JSON in \`${column}\``,
        );
    }
  }
  for (const table of ['db_dbnode', 'db_dbcomputer', 'db_dbgroup', 'db_dbcomment', 'db_dblog'] as const) {
    // the UUID pattern as a GLOB, so SQLite checks every row and hands over only a bad one
    const row = db
      .prepare(
        `SELECT id, uuid FROM ${table} WHERE typeof(uuid) <> 'text' OR uuid NOT GLOB '${UUID_GLOB}' ORDER BY id LIMIT 1`,
      )
      .get() as Row | undefined;
    if (row !== undefined)
      throw new ImportValidationError(
        `Archive ${table} row ${row['id']} has an invalid uuid \`${row['uuid']}\``,
      );
  }
  const keys = new Set<string>();
  // many nodes share one metadata text (every calculation of one function names its source): each distinct text is
  // checked once, with the first node that has it
  const distinct = db
    .prepare(
      'SELECT min(id), repository_metadata FROM db_dbnode GROUP BY repository_metadata ORDER BY min(id)',
    )
    .raw()
    .iterate() as Iterable<[number, string | null]>;
  for (const [id, text] of distinct) {
    const metadata: unknown = JSON.parse(text ?? '{}');
    const plain = plainRepositoryKeys(metadata);
    if (plain !== null) {
      for (const key of plain) keys.add(key);
      continue;
    }
    const parsed = RepositoryMetadataSchema.safeParse(metadata);
    if (!parsed.success)
      throw new ImportValidationError(
        `Archive Node ${id} has invalid repository metadata: ${parsed.error.issues
          .map((issue) => `${issue.path.map(String).join('.') || '<root>'}: ${issue.message}`)
          .join('; ')}`,
      );
    // only this row's keys are checked: re-testing the whole set on every row was quadratic
    const own = new Set<string>();
    collectRepositoryKeys(metadata, own);
    for (const key of own) {
      if (keys.has(key)) continue;
      if (!OBJECT_KEY.test(key))
        throw new ImportValidationError(`Archive Node ${id} names an invalid object key \`${key}\``);
      keys.add(key);
    }
  }
  for (const key of keys) {
    if (!reader.hasObject(key))
      throw new ImportValidationError(
        `the archive names the repository object ${key} but has no entry repo/${key}: it is incomplete`,
      );
  }
  return keys;
}

/**
 * The SQL expressions (over the archive's `db_dbnode`) the new node rows take their `extras` and `attributes` from,
 * computed by SQLite as the rows are read so every JSON text keeps its exact spelling: `_aiida_*` extras dropped
 * (and `hidden` on legacy `Code` nodes), or all extras with `importNewExtras: false`; `checkpoints` dropped from
 * process attributes.
 */
function nodeColumnExpressions(
  db: BetterSqlite3.Database,
  importNewExtras: boolean,
): { readonly extras: string; readonly attributes: string } {
  const attributes =
    `CASE WHEN node_type LIKE 'process.%' AND json_type(attributes, '$.checkpoints') IS NOT NULL ` +
    `THEN json_remove(attributes, '$.checkpoints') ELSE attributes END`;
  if (!importNewExtras) return { extras: `'{}'`, attributes };
  const keys = (
    db
      .prepare(
        `SELECT DISTINCT je.key AS key FROM db_dbnode, json_each(coalesce(db_dbnode.extras, '{}')) AS je ` +
          `WHERE je.key LIKE '\\_aiida\\_%' ESCAPE '\\'`,
      )
      .all() as { key: string }[]
  ).map((row) => row.key);
  const paths = keys.map(
    (key) => `'$."${key.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll("'", "''")}"'`,
  );
  const stripped =
    paths.length === 0
      ? `coalesce(extras, '{}')`
      : `json_remove(coalesce(extras, '{}'), ${paths.join(', ')})`;
  return {
    extras: `CASE WHEN node_type LIKE '%code.Code.' THEN json_remove(${stripped}, '$.hidden') ELSE ${stripped} END`,
    attributes,
  };
}

interface Context {
  readonly storage: StorageBackend;
  readonly db: BetterSqlite3.Database;
  /** SQL over the archive's `db_dbnode` for the extras and attributes of new nodes. */
  readonly nodeColumns: { readonly extras: string; readonly attributes: string };
  /** A SQLite profile's connection with the archive attached: new nodes go in with one `INSERT … SELECT`. */
  readonly attached: AttachedArchive | null;
  readonly batchSize: number;
  readonly listener: ArchiveListener;
  readonly report: (message: string) => void;
}

/** Profile ids by uuid (or email) for the given values, chunked. */
async function existingByKey(
  ctx: Context,
  table: 'db_dbnode' | 'db_dbcomputer' | 'db_dbgroup' | 'db_dbcomment' | 'db_dblog' | 'db_dbuser',
  column: 'uuid' | 'email',
  values: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = column === 'uuid' ? ctx.storage.dialect.uuidText(sql.ref(column)) : sql.ref(column);
  const postgres = ctx.storage.dialect.name === 'postgres';
  // one parameter per batch (a JSON list in SQLite, an array in PostgreSQL), not one per value: a statement of
  // thousands of placeholders costs more to build and compile than to run
  for (const batch of chunks(values, LOOKUP_BATCH)) {
    const condition = postgres
      ? sql`${sql.ref(column)} = ANY(${batch}::${sql.raw(column === 'uuid' ? 'uuid' : 'text')}[])`
      : sql`${sql.ref(column)} IN (SELECT value FROM json_each(${JSON.stringify(batch)}))`;
    const result = await sql<{
      id: number;
      key: string;
    }>`SELECT id, ${text} AS key FROM ${sql.table(table)} WHERE ${condition}`.execute(ctx.storage.executor());
    for (const row of result.rows) out.set(String(row.key).toLowerCase(), Number(row.id));
  }
  return out;
}

/**
 * `column IN (ids)` with the ids as one parameter (a JSON list in SQLite, an array in PostgreSQL): a statement of
 * thousands of placeholders costs more to build and compile than to run.
 */
function inIds(ctx: Context, column: string, ids: readonly number[]): RawBuilder<boolean> {
  return ctx.storage.dialect.name === DialectName.POSTGRES
    ? sql<boolean>`${sql.ref(column)} = ANY(${ids}::integer[])`
    : sql<boolean>`${sql.ref(column)} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}

/**
 * Inserts links (all of one `type`) with one statement per batch whose columns travel as one parameter each (a
 * JSON list in SQLite, arrays in PostgreSQL): no placeholder per value, no row objects, no ids read back.
 */
async function insertLinks(
  ctx: Context,
  type: string,
  rows: readonly { input_id: number; output_id: number; label: string }[],
): Promise<void> {
  for (const batch of chunks(rows, LOOKUP_BATCH)) {
    const inputs = batch.map((row) => row.input_id);
    const outputs = batch.map((row) => row.output_id);
    const labels = batch.map((row) => row.label);
    const query =
      ctx.storage.dialect.name === DialectName.POSTGRES
        ? sql`INSERT INTO db_dblink (input_id, output_id, label, type) SELECT i, o, l, ${type} FROM unnest(${inputs}::integer[], ${outputs}::integer[], ${labels}::text[]) AS t(i, o, l)`
        : sql`INSERT INTO db_dblink (input_id, output_id, label, type) SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', ${type} FROM json_each(${JSON.stringify(batch.map((row) => [row.input_id, row.output_id, row.label]))}) ORDER BY key`;
    await query.execute(ctx.storage.executor());
  }
}

/** Puts the nodes `nodes` (profile pks) into the group `group`, as {@link insertLinks} inserts links. */
async function insertMembers(ctx: Context, group: number, nodes: readonly number[]): Promise<void> {
  for (const batch of chunks(nodes, LOOKUP_BATCH)) {
    const query =
      ctx.storage.dialect.name === DialectName.POSTGRES
        ? sql`INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) SELECT ${group}, unnest(${batch}::integer[])`
        : sql`INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) SELECT ${group}, value FROM json_each(${JSON.stringify(batch)}) ORDER BY key`;
    await query.execute(ctx.storage.executor());
  }
}

/** Inserts `rows` (profile encoding) in batches; resolves to the new ids in row order. */
async function insertRows(
  ctx: Context,
  table:
    | 'db_dbuser'
    | 'db_dbcomputer'
    | 'db_dbauthinfo'
    | 'db_dbnode'
    | 'db_dbgroup'
    | 'db_dbgroup_dbnodes'
    | 'db_dblink'
    | 'db_dbcomment'
    | 'db_dblog',
  rows: readonly Record<string, unknown>[],
): Promise<number[]> {
  if (rows.length === 0) return [];
  // the row objects are built to the table's columns; bulkInsert's type is per table
  return ctx.storage.bulkInsert(table, rows);
}

function timestamp(ctx: Context, value: unknown, what: string): string {
  try {
    return ctx.storage.dialect.encodeTimestamp(String(value));
  } catch (error) {
    throw new ImportValidationError(`${what} has an invalid timestamp \`${String(value)}\``, {
      cause: error,
    });
  }
}

async function importUsers(
  ctx: Context,
  counts: Record<string, { new: number; existing: number }>,
): Promise<Map<number, number>> {
  const rows = ctx.db
    .prepare('SELECT id, email, first_name, last_name, institution FROM db_dbuser ORDER BY id')
    .all() as Row[];
  const existing = await existingByKey(
    ctx,
    'db_dbuser',
    'email',
    rows.map((row) => String(row['email']).toLowerCase()),
  );
  const map = new Map<number, number>();
  const fresh = rows.filter((row) => !existing.has(String(row['email']).toLowerCase()));
  if (existing.size > 0) ctx.report(`Skipping ${existing.size} existing User(s)`);
  if (fresh.length > 0) ctx.report(`Adding ${fresh.length} new user(s)`);
  const progress = progressTicker(ctx.listener, 'Adding new user(s)', fresh.length);
  const ids = await insertRows(
    ctx,
    'db_dbuser',
    fresh.map((row) => ({
      email: row['email'],
      first_name: row['first_name'] ?? '',
      last_name: row['last_name'] ?? '',
      institution: row['institution'] ?? '',
    })),
  );
  progress.done();
  fresh.forEach((row, index) => existing.set(String(row['email']).toLowerCase(), ids[index]!));
  for (const row of rows) map.set(Number(row['id']), existing.get(String(row['email']).toLowerCase())!);
  counts['user'] = { new: fresh.length, existing: rows.length - fresh.length };
  return map;
}

async function importComputers(
  ctx: Context,
  counts: Record<string, { new: number; existing: number }>,
): Promise<Map<number, number>> {
  const rows = ctx.db.prepare('SELECT * FROM db_dbcomputer ORDER BY id').all() as Row[];
  const existing = await existingByKey(
    ctx,
    'db_dbcomputer',
    'uuid',
    rows.map((row) => String(row['uuid']).toLowerCase()),
  );
  const fresh = rows.filter((row) => !existing.has(String(row['uuid']).toLowerCase()));
  if (existing.size > 0) ctx.report(`Skipping ${existing.size} existing Computer(s)`);
  if (fresh.length > 0) {
    ctx.report(`Adding ${fresh.length} new computer(s)`);
    const labels = new Set(
      (await ctx.storage.executor().selectFrom('db_dbcomputer').select('label').execute()).map(
        (row) => row.label,
      ),
    );
    let relabelled = 0;
    const progress = progressTicker(ctx.listener, 'Adding new computer(s)', fresh.length);
    const ids = await insertRows(
      ctx,
      'db_dbcomputer',
      fresh.map((row) => {
        const free = freeLabel(String(row['label']), labels, `Archive Computer ${row['id']}`);
        if (free.relabelled) relabelled += 1;
        return {
          uuid: String(row['uuid']).toLowerCase(),
          label: free.label,
          hostname: row['hostname'] ?? '',
          description: row['description'] ?? '',
          scheduler_type: row['scheduler_type'] ?? '',
          transport_type: row['transport_type'] ?? '',
          metadata: row['metadata'] ?? '{}',
        };
      }),
    );
    progress.done();
    fresh.forEach((row, index) => existing.set(String(row['uuid']).toLowerCase(), ids[index]!));
    if (relabelled > 0) ctx.report(`Re-labelled ${relabelled} new Computer(s)`);
  }
  counts['computer'] = { new: fresh.length, existing: rows.length - fresh.length };
  return new Map(rows.map((row) => [Number(row['id']), existing.get(String(row['uuid']).toLowerCase())!]));
}

async function importAuthinfos(
  ctx: Context,
  users: Map<number, number>,
  computers: Map<number, number>,
  counts: Record<string, { new: number; existing: number }>,
): Promise<void> {
  const rows = ctx.db.prepare('SELECT * FROM db_dbauthinfo ORDER BY id').all() as Row[];
  const mapped = rows.map((row) => {
    const user = users.get(Number(row['aiidauser_id']));
    const computer = computers.get(Number(row['dbcomputer_id']));
    if (user === undefined || computer === undefined)
      throw new ImportValidationError(`Archive AuthInfo ${row['id']} has unknown User/Computer`);
    return { row, user, computer };
  });
  const present = new Set<string>();
  for (const batch of chunks(mapped, ctx.batchSize)) {
    const found = await ctx.storage
      .executor()
      .selectFrom('db_dbauthinfo')
      .select(['aiidauser_id', 'dbcomputer_id'])
      .where(
        'aiidauser_id',
        'in',
        batch.map((m) => m.user),
      )
      .where(
        'dbcomputer_id',
        'in',
        batch.map((m) => m.computer),
      )
      .execute();
    for (const row of found) present.add(`${row.aiidauser_id}:${row.dbcomputer_id}`);
  }
  const fresh = mapped.filter((m) => !present.has(`${m.user}:${m.computer}`));
  if (rows.length - fresh.length > 0)
    ctx.report(`Skipping ${rows.length - fresh.length} existing AuthInfo(s)`);
  if (fresh.length > 0) ctx.report(`Adding ${fresh.length} new authinfo(s)`);
  await insertRows(
    ctx,
    'db_dbauthinfo',
    fresh.map(({ row, user, computer }) => ({
      aiidauser_id: user,
      dbcomputer_id: computer,
      metadata: row['metadata'] ?? '{}',
      auth_params: row['auth_params'] ?? '{}',
      enabled: ctx.storage.dialect.encodeBool(Number(row['enabled']) !== 0),
    })),
  );
  counts['authinfo'] = { new: fresh.length, existing: rows.length - fresh.length };
}

/** The merged extras of a node already in the profile (aiida's `_merge_node_extras`). */
function mergeExtras(
  mode: MergeExtras,
  archive: Record<string, unknown>,
  profile: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const set = (key: string, value: unknown): void => {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  };
  const [existingOnly, archiveOnly, collided] = mode;
  for (const [key, value] of Object.entries(profile)) {
    if (Object.hasOwn(archive, key)) {
      if (collided === 'l') set(key, value);
      else if (collided === 'u') set(key, archive[key]);
    } else if (existingOnly === 'k') {
      set(key, value);
    }
  }
  for (const [key, value] of Object.entries(archive)) {
    if (!Object.hasOwn(profile, key) && archiveOnly === 'c') set(key, value);
  }
  return out;
}

async function importNodes(
  ctx: Context,
  users: Map<number, number>,
  computers: Map<number, number>,
  mode: MergeExtras,
  counts: Record<string, { new: number; existing: number }>,
): Promise<{ map: Map<number, number>; fresh: Set<number> }> {
  ctx.report('Collecting Node(s) ...');
  const all = ctx.db.prepare('SELECT id, uuid FROM db_dbnode ORDER BY id').all() as {
    id: number;
    uuid: string;
  }[];
  const existing = await existingByKey(
    ctx,
    'db_dbnode',
    'uuid',
    all.map((row) => row.uuid.toLowerCase()),
  );
  const map = new Map<number, number>();
  const fresh = new Set<number>();
  for (const row of all) {
    const pk = existing.get(row.uuid.toLowerCase());
    if (pk === undefined) fresh.add(row.id);
    else map.set(row.id, pk);
  }
  if (existing.size > 0) {
    if (mode.join('') === 'knl') {
      ctx.report(`Skipping ${existing.size} existing Node(s)`);
    } else {
      ctx.report(
        `${mode.join('') === 'ncu' ? 'Replacing' : 'Merging'} ${existing.size} existing Node extras`,
      );
      const progress = progressTicker(ctx.listener, 'Merging extras', existing.size);
      const archiveIds = [...map.keys()];
      for (const batch of chunks(archiveIds, ctx.batchSize)) {
        const archiveRows = ctx.db
          .prepare(`SELECT id, extras FROM db_dbnode WHERE id IN (${batch.map(() => '?').join(', ')})`)
          .all(...batch) as Row[];
        const profileIds = batch.map((id) => map.get(id)!);
        const profileRows = await ctx.storage
          .executor()
          .selectFrom('db_dbnode')
          .select(['id', 'extras'])
          .where('id', 'in', profileIds)
          .execute();
        const profileExtras = new Map(
          profileRows.map((row) => [row.id, ctx.storage.dialect.decodeJson(row.extras)]),
        );
        for (const row of archiveRows) {
          const target = map.get(Number(row['id']))!;
          const theirs = JSON.parse(String(row['extras'] ?? '{}')) as Record<string, unknown>;
          const ours = (profileExtras.get(target) ?? {}) as Record<string, unknown>;
          const merged = mode.join('') === 'ncu' ? theirs : mergeExtras(mode, theirs, ours);
          await ctx.storage
            .executor()
            .updateTable('db_dbnode')
            .set({ extras: ctx.storage.dialect.encodeJson(merged) })
            .where('id', '=', target)
            .execute();
        }
        progress.tick(batch.length);
      }
      progress.done();
    }
  }
  if (fresh.size > 0 && ctx.attached !== null) {
    ctx.report(`Adding ${fresh.size} new node(s)`);
    const progress = progressTicker(ctx.listener, 'Adding new node(s)', fresh.size);
    // the checks of the paged insert below, in its order; the staged rows are what gets inserted
    const references = ctx.db
      .prepare('SELECT id, user_id, dbcomputer_id FROM db_dbnode ORDER BY id')
      .raw()
      .iterate() as Iterable<[number, number | null, number | null]>;
    for (const [id, user, computer] of references) {
      if (!fresh.has(id)) continue;
      if (!users.has(Number(user)))
        throw new ImportValidationError(`Archive Node ${id} has unknown User: ${user}`);
      if (computer !== null && !computers.has(Number(computer)))
        throw new ImportValidationError(`Archive Node ${id} has unknown Computer: ${computer}`);
    }
    for (const bad of invalidStagedTimestamps(ctx.db)) {
      if (fresh.has(bad.id))
        throw new ImportValidationError(
          `Archive Node ${bad.id} has an invalid timestamp \`${String(bad.value)}\``,
        );
    }
    for (const [archive, profile] of await ctx.attached.insertNodes(fresh, users, computers))
      map.set(archive, profile);
    progress.tick(fresh.size);
    progress.done();
  } else if (fresh.size > 0) {
    ctx.report(`Adding ${fresh.size} new node(s)`);
    const progress = progressTicker(ctx.listener, 'Adding new node(s)', fresh.size);
    const query =
      `SELECT id, uuid, node_type, process_type, label, description, ctime, mtime, ` +
      `${ctx.nodeColumns.attributes} AS attributes, ${ctx.nodeColumns.extras} AS extras, ` +
      'repository_metadata, dbcomputer_id, user_id FROM db_dbnode';
    for (const rows of pages(ctx.db, query, ctx.batchSize)) {
      const batch = rows.filter((row) => fresh.has(Number(row['id'])));
      const values = batch.map((row) => {
        const user = users.get(Number(row['user_id']));
        if (user === undefined)
          throw new ImportValidationError(`Archive Node ${row['id']} has unknown User: ${row['user_id']}`);
        let computer: number | null = null;
        if (row['dbcomputer_id'] !== null) {
          const mapped = computers.get(Number(row['dbcomputer_id']));
          if (mapped === undefined)
            throw new ImportValidationError(
              `Archive Node ${row['id']} has unknown Computer: ${row['dbcomputer_id']}`,
            );
          computer = mapped;
        }
        return {
          uuid: String(row['uuid']).toLowerCase(),
          node_type: row['node_type'],
          process_type: row['process_type'],
          label: row['label'] ?? '',
          description: row['description'] ?? '',
          ctime: timestamp(ctx, row['ctime'], `Archive Node ${row['id']}`),
          mtime: timestamp(ctx, row['mtime'], `Archive Node ${row['id']}`),
          attributes: row['attributes'],
          extras: row['extras'],
          repository_metadata: row['repository_metadata'] ?? '{}',
          dbcomputer_id: computer,
          user_id: user,
        };
      });
      const ids = await insertRows(ctx, 'db_dbnode', values);
      batch.forEach((row, index) => map.set(Number(row['id']), ids[index]!));
      progress.tick(batch.length);
    }
    progress.done();
  }
  counts['node'] = { new: fresh.size, existing: all.length - fresh.size };
  return { map, fresh };
}

async function importLogs(
  ctx: Context,
  nodes: Map<number, number>,
  counts: Record<string, { new: number; existing: number }>,
): Promise<void> {
  const all = ctx.db.prepare('SELECT id, uuid FROM db_dblog ORDER BY id').all() as {
    id: number;
    uuid: string;
  }[];
  const existing = await existingByKey(
    ctx,
    'db_dblog',
    'uuid',
    all.map((row) => row.uuid.toLowerCase()),
  );
  const freshCount = all.length - existing.size;
  if (existing.size > 0) ctx.report(`Skipping ${existing.size} existing Log(s)`);
  if (freshCount > 0) {
    ctx.report(`Adding ${freshCount} new log(s)`);
    for (const rows of pages(ctx.db, 'SELECT * FROM db_dblog', ctx.batchSize)) {
      const values = rows
        .filter((row) => !existing.has(String(row['uuid']).toLowerCase()))
        .map((row) => {
          const node = nodes.get(Number(row['dbnode_id']));
          if (node === undefined)
            throw new ImportValidationError(`Archive Log ${row['id']} has unknown Node: ${row['dbnode_id']}`);
          return {
            uuid: String(row['uuid']).toLowerCase(),
            time: timestamp(ctx, row['time'], `Archive Log ${row['id']}`),
            loggername: row['loggername'] ?? '',
            levelname: row['levelname'] ?? '',
            dbnode_id: node,
            message: row['message'] ?? '',
            metadata: row['metadata'] ?? '{}',
          };
        });
      await insertRows(ctx, 'db_dblog', values);
    }
  }
  counts['log'] = { new: freshCount, existing: existing.size };
}

async function importComments(
  ctx: Context,
  users: Map<number, number>,
  nodes: Map<number, number>,
  mode: MergeComments,
  counts: Record<string, { new: number; existing: number }>,
): Promise<void> {
  const all = ctx.db.prepare('SELECT id, uuid FROM db_dbcomment ORDER BY id').all() as {
    id: number;
    uuid: string;
  }[];
  const existing = await existingByKey(
    ctx,
    'db_dbcomment',
    'uuid',
    all.map((row) => row.uuid.toLowerCase()),
  );
  if (existing.size > 0) {
    if (mode === 'leave') {
      ctx.report(`Skipping ${existing.size} existing Comment(s)`);
    } else {
      ctx.report(`${mode === 'overwrite' ? 'Overwriting' : 'Updating'} ${existing.size} existing Comment(s)`);
      for (const row of ctx.db
        .prepare('SELECT id, uuid, mtime, content FROM db_dbcomment')
        .iterate() as Iterable<Row>) {
        const target = existing.get(String(row['uuid']).toLowerCase());
        if (target === undefined) continue;
        const mtime = timestamp(ctx, row['mtime'], `Archive Comment ${row['id']}`);
        if (mode === 'newest') {
          const current = await ctx.storage
            .executor()
            .selectFrom('db_dbcomment')
            .select('mtime')
            .where('id', '=', target)
            .executeTakeFirstOrThrow();
          const ours = ctx.storage.dialect.decodeTimestamp(current.mtime);
          const theirs = ctx.storage.dialect.decodeTimestamp(mtime);
          if (!(ours < theirs)) continue;
        }
        await ctx.storage
          .executor()
          .updateTable('db_dbcomment')
          .set({ mtime, content: String(row['content'] ?? '') })
          .where('id', '=', target)
          .execute();
      }
    }
  }
  const freshCount = all.length - existing.size;
  if (freshCount > 0) {
    ctx.report(`Adding ${freshCount} new comment(s)`);
    for (const rows of pages(ctx.db, 'SELECT * FROM db_dbcomment', ctx.batchSize)) {
      const values = rows
        .filter((row) => !existing.has(String(row['uuid']).toLowerCase()))
        .map((row) => {
          const user = users.get(Number(row['user_id']));
          if (user === undefined)
            throw new ImportValidationError(
              `Archive Comment ${row['id']} has unknown User: ${row['user_id']}`,
            );
          const node = nodes.get(Number(row['dbnode_id']));
          if (node === undefined)
            throw new ImportValidationError(
              `Archive Comment ${row['id']} has unknown Node: ${row['dbnode_id']}`,
            );
          return {
            uuid: String(row['uuid']).toLowerCase(),
            dbnode_id: node,
            ctime: timestamp(ctx, row['ctime'], `Archive Comment ${row['id']}`),
            mtime: timestamp(ctx, row['mtime'], `Archive Comment ${row['id']}`),
            user_id: user,
            content: row['content'] ?? '',
          };
        });
      await insertRows(ctx, 'db_dbcomment', values);
    }
  }
  counts['comment'] = { new: freshCount, existing: existing.size };
}

async function importLinks(
  ctx: Context,
  nodes: Map<number, number>,
  fresh: ReadonlySet<number>,
  counts: Record<string, { new: number; existing: number }>,
): Promise<void> {
  let added = 0;
  let skipped = 0;
  // links already in the profile can only touch nodes that were there before this import
  const old = [...nodes.entries()].filter(([archive]) => !fresh.has(archive)).map(([, profile]) => profile);
  const statement = ctx.db.prepare(
    'SELECT l.id, l.input_id, l.output_id, l.label, i.node_type AS in_type, o.node_type AS out_type FROM db_dblink l ' +
      'LEFT JOIN db_dbnode i ON i.id = l.input_id LEFT JOIN db_dbnode o ON o.id = l.output_id WHERE l.type = ? ORDER BY l.id',
  );
  const unknown = ctx.db
    .prepare(
      `SELECT DISTINCT type FROM db_dblink WHERE type NOT IN (${Object.keys(LINK_RULES)
        .map((t) => `'${t}'`)
        .join(', ')})`,
    )
    .all() as { type: string }[];
  if (unknown.length > 0)
    throw new ImportValidationError(
      `Archive has links of unknown type(s): ${unknown.map((u) => u.type).join(', ')}`,
    );
  for (const [type, rule] of Object.entries(LINK_RULES) as [
    LinkTypeName,
    (typeof LINK_RULES)[LinkTypeName],
  ][]) {
    const total = (
      ctx.db.prepare('SELECT count(*) AS n FROM db_dblink WHERE type = ?').get(type) as { n: number }
    ).n;
    if (total === 0) continue;
    ctx.report(`Gathering existing '${type}' Link(s)`);
    const existing = new Set<string>();
    const inLabel = new Set<string>();
    const outId = new Set<number>();
    const outLabel = new Set<string>();
    const remember = (input: number, output: number, label: string): void => {
      existing.add(`${input}\u0000${output}\u0000${label}`);
      inLabel.add(`${input}\u0000${label}`);
      outId.add(output);
      outLabel.add(`${output}\u0000${label}`);
    };
    for (const batch of chunks(old, LOOKUP_BATCH)) {
      const rows = await sql<{
        input_id: number;
        output_id: number;
        label: string;
      }>`SELECT input_id, output_id, label FROM db_dblink WHERE type = ${type} AND (${inIds(ctx, 'input_id', batch)} OR ${inIds(ctx, 'output_id', batch)})`.execute(
        ctx.storage.executor(),
      );
      for (const row of rows.rows) remember(Number(row.input_id), Number(row.output_id), row.label);
    }
    const unique: readonly string[] = rule.unique;
    const progress = progressTicker(ctx.listener, `Processing '${type}' Link(s)`, total);
    let pending: { input_id: number; output_id: number; label: string; type: string }[] = [];
    let newCount = 0;
    let existingCount = 0;
    for (const row of statement.iterate(type) as Iterable<Row>) {
      progress.tick();
      const input = nodes.get(Number(row['input_id']));
      if (input === undefined)
        throw new ImportValidationError(
          `Archive Link ${row['id']} has unknown input Node: ${row['input_id']}`,
        );
      const output = nodes.get(Number(row['output_id']));
      if (output === undefined)
        throw new ImportValidationError(
          `Archive Link ${row['id']} has unknown output Node: ${row['output_id']}`,
        );
      const label = String(row['label']);
      if (existing.has(`${input}\u0000${output}\u0000${label}`)) {
        existingCount += 1;
        continue;
      }
      if (input === output) throw new ImportValidationError(`Cannot add a link to oneself: ${input}`);
      if (!String(row['in_type']).startsWith(rule.from))
        throw new ImportValidationError(
          `Cannot add a '${type}' link from ${String(row['in_type'])} (link ${row['id']})`,
        );
      if (!String(row['out_type']).startsWith(rule.to))
        throw new ImportValidationError(
          `Cannot add a '${type}' link to ${String(row['out_type'])} (link ${row['id']})`,
        );
      if (unique.includes('in_id_label') && inLabel.has(`${input}\u0000${label}`))
        throw new ImportUniquenessError(
          `Node ${input} already has an outgoing '${type}' link with label '${label}'`,
        );
      if (unique.includes('out_id') && outId.has(output))
        throw new ImportUniquenessError(`Node ${output} already has an incoming '${type}' link`);
      if (unique.includes('out_id_label') && outLabel.has(`${output}\u0000${label}`))
        throw new ImportUniquenessError(
          `Node ${output} already has an incoming '${type}' link with label '${label}'`,
        );
      remember(input, output, label);
      pending.push({ input_id: input, output_id: output, label, type });
      newCount += 1;
      if (pending.length >= ctx.batchSize * 10) {
        await insertLinks(ctx, type, pending);
        pending = [];
      }
    }
    await insertLinks(ctx, type, pending);
    progress.done();
    if (existingCount > 0) ctx.report(`Skipped ${existingCount} existing '${type}' Link(s)`);
    if (newCount > 0) ctx.report(`Added ${newCount} new '${type}' Link(s)`);
    added += newCount;
    skipped += existingCount;
  }
  counts['link'] = { new: added, existing: skipped };
}

async function importGroups(
  ctx: Context,
  users: Map<number, number>,
  nodes: Map<number, number>,
  counts: Record<string, { new: number; existing: number }>,
): Promise<Set<string>> {
  const all = ctx.db.prepare('SELECT * FROM db_dbgroup ORDER BY id').all() as Row[];
  const existing = await existingByKey(
    ctx,
    'db_dbgroup',
    'uuid',
    all.map((row) => String(row['uuid']).toLowerCase()),
  );
  const labels = new Set(
    (await ctx.storage.executor().selectFrom('db_dbgroup').select('label').execute()).map((row) => row.label),
  );
  const fresh = all.filter((row) => !existing.has(String(row['uuid']).toLowerCase()));
  if (existing.size > 0) ctx.report(`Skipping ${existing.size} existing Group(s)`);
  let members = 0;
  if (fresh.length > 0) {
    ctx.report(`Adding ${fresh.length} new group(s)`);
    let relabelled = 0;
    const ids = await insertRows(
      ctx,
      'db_dbgroup',
      fresh.map((row) => {
        const user = users.get(Number(row['user_id']));
        if (user === undefined)
          throw new ImportValidationError(`Archive Group ${row['id']} has unknown User: ${row['user_id']}`);
        const free = freeLabel(String(row['label']), labels, `Archive Group ${row['id']}`);
        if (free.relabelled) relabelled += 1;
        return {
          uuid: String(row['uuid']).toLowerCase(),
          label: free.label,
          type_string: row['type_string'] ?? 'core',
          time: timestamp(ctx, row['time'], `Archive Group ${row['id']}`),
          description: row['description'] ?? '',
          extras: row['extras'] ?? '{}',
          user_id: user,
        };
      }),
    );
    if (relabelled > 0) ctx.report(`Re-labelled ${relabelled} new Group(s)`);
    const groupIds = new Map(fresh.map((row, index) => [Number(row['id']), ids[index]!]));
    const memberRows = ctx.db
      .prepare(`SELECT dbgroup_id, dbnode_id FROM db_dbgroup_dbnodes ORDER BY id`)
      .all() as { dbgroup_id: number; dbnode_id: number }[];
    const values = memberRows
      .filter((row) => groupIds.has(row.dbgroup_id))
      .map((row) => {
        const node = nodes.get(row.dbnode_id);
        if (node === undefined)
          throw new ImportValidationError(
            `Archive Group ${row.dbgroup_id} has unknown Node: ${row.dbnode_id}`,
          );
        return { dbgroup_id: groupIds.get(row.dbgroup_id)!, dbnode_id: node };
      });
    if (values.length > 0) ctx.report(`Adding ${values.length} Node(s) to new Group(s)`);
    for (const batch of chunks(values, ctx.batchSize * 10))
      await insertRows(ctx, 'db_dbgroup_dbnodes', batch);
    members = values.length;
  }
  counts['group'] = { new: fresh.length, existing: all.length - fresh.length };
  counts['group_node'] = { new: members, existing: 0 };
  return labels;
}

/** `YYYYMMDD-HHMMSS` in local time: the label of an automatic import group. */
function importGroupLabel(date: Date = new Date()): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`
  );
}

async function makeImportGroup(
  ctx: Context,
  group: ImportArchiveOptions['group'],
  labels: Set<string>,
  nodes: Map<number, number>,
): Promise<{ pk: number; label: string }> {
  let pk: number;
  let label: string;
  let members = new Set<number>();
  if (group === undefined) {
    label = freeLabel(importGroupLabel(), labels, 'New import Group').label;
    const user = await User.getDefaultId(ctx.storage);
    [pk] = (await insertRows(ctx, 'db_dbgroup', [
      {
        uuid: randomUUID(),
        label,
        type_string: 'core.import',
        time: ctx.storage.dialect.encodeTimestamp(new Date()),
        description: 'Group generated by archive import',
        extras: '{}',
        user_id: user,
      },
    ])) as [number];
    ctx.report(`Created new import Group: PK=${pk}, label=${label}`);
  } else {
    if (group.pk === null) throw new ArchiveImportError('the import group must be stored');
    pk = group.pk;
    label = group.label;
    ctx.report(`Using existing import Group: PK=${pk}, label=${label}`);
    const rows = await ctx.storage
      .executor()
      .selectFrom('db_dbgroup_dbnodes')
      .select('dbnode_id')
      .where('dbgroup_id', '=', pk)
      .execute();
    members = new Set(rows.map((row) => row.dbnode_id));
  }
  const values = [...new Set(nodes.values())].filter((node) => !members.has(node));
  const progress = progressTicker(ctx.listener, 'Adding all Node(s) to the import Group', values.length);
  for (const batch of chunks(values, ctx.batchSize * 10)) {
    await insertMembers(ctx, pk, batch);
    progress.tick(batch.length);
  }
  progress.done();
  return { pk, label };
}

/**
 * Writes the repository objects the profile lacks, streamed from the archive one at a time, each checked against
 * its key (the sha256 of its content) as it is stored. Runs before any row is written: a failure later leaves only
 * objects no node refers to, which `verdi storage maintain --full` removes.
 */
async function addObjects(ctx: Context, reader: ArchiveReader, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const progress = progressTicker(ctx.listener, 'Adding archive files to repository', keys.length);
  const packer = (ctx.storage.repository as Partial<PackingRepository>).addObjectsToPack;
  if (typeof packer === 'function') {
    // disk-objectstore: straight into a pack (one file, one fsync) instead of one loose file per object
    async function* sources(): AsyncIterable<Uint8Array | AsyncIterable<unknown>> {
      for (const key of keys) {
        yield (await reader.readSmallObject(key)) ?? (await reader.openObject(key));
        progress.tick();
      }
    }
    // the keys are those the profile lacked a moment ago: no lookup in the pack index per object
    const stored = await packer.call(ctx.storage.repository, sources(), { assumeNew: true });
    stored.forEach((actual, index) => {
      if (actual !== keys[index])
        throw new ImportValidationError(
          `repository object repo/${keys[index]} of the archive has the sha256 ${actual}: the archive is corrupt ` +
            '(nothing was imported)',
        );
    });
    progress.done();
    return;
  }
  for (const key of keys) {
    const small = await reader.readSmallObject(key);
    const stored =
      small === null
        ? await ctx.storage.repository.putObjectFromStream(await reader.openObject(key))
        : await ctx.storage.repository.putObjectFromBuffer(small);
    if (stored !== key)
      throw new ImportValidationError(
        `repository object repo/${key} of the archive has the sha256 ${stored}: the archive is corrupt ` +
          '(nothing was imported)',
      );
    progress.tick();
  }
  progress.done();
}

/** A repository that can write many objects straight into a pack (the disk-objectstore backend). */
interface PackingRepository {
  addObjectsToPack(
    items: AsyncIterable<Uint8Array | AsyncIterable<unknown>>,
    options: { readonly assumeNew?: boolean },
  ): Promise<string[]>;
}

/** The keys of `keys` the profile's repository lacks. */
async function missingObjects(storage: StorageBackend, keys: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const batch of chunks(keys, 10_000)) {
    const present = await storage.repository.hasObjects(batch);
    batch.forEach((key, index) => {
      if (present[index] !== true) missing.push(key);
    });
  }
  return missing;
}

/**
 * Imports an archive (aiida-core's `core.sqlite_zip` format at `main_0001`; migrate older ones first with
 * {@link migrateArchive}) into a profile, merging by uuid as aiida-core does: users by email, computers, nodes,
 * groups, logs and comments by uuid (a computer or group whose label is taken becomes `<label> (Imported #N)`),
 * links by their ends and label. New nodes lose their `_aiida_*` extras and their checkpoints; existing nodes get
 * their extras merged by `mergeExtras`, existing comments by `mergeComments`.
 *
 * Safe and all or nothing: the zip is checked entry by entry before anything is read ({@link SafeZipReader}),
 * every row and every object key is validated, the missing repository objects are written first (each checked
 * against its sha256), and then every row is written in one transaction, so the profile is unchanged when
 * anything fails, including when the process is killed (the objects written before then are referenced by no node,
 * and `verdi storage maintain --full` removes them). Importing the same archive again changes nothing.
 */
export async function importArchive(
  filepath: string,
  options: ImportArchiveOptions = {},
): Promise<ImportArchiveResult> {
  const storage = getStorage(options);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArchiveImportError('batch size must be a positive integer');
  const mergeExtrasMode = MergeExtrasSchema.safeParse(options.mergeExtras ?? ['k', 'n', 'l']);
  if (!mergeExtrasMode.success)
    throw new ArchiveImportError(
      `invalid mergeExtras ${JSON.stringify(options.mergeExtras)}: expected [k|n, c|n, l|u|d]`,
    );
  const mergeComments = MergeCommentsSchema.safeParse(options.mergeComments ?? 'leave');
  if (!mergeComments.success)
    throw new ArchiveImportError(
      `invalid mergeComments ${JSON.stringify(options.mergeComments)}: expected leave|newest|overwrite`,
    );
  const report = options.onReport ?? (() => undefined);
  const importNewExtras = options.importNewExtras ?? true;
  const reader = await ArchiveReader.open(filepath, options);
  try {
    reader.assertHeadVersion();
    const mode = mergeExtrasMode.data;
    const parameters: readonly [string, string][] = [
      ['Archive', path.basename(filepath)],
      ['New Node Extras', importNewExtras ? 'keep' : 'strip'],
      ['Merge Node Extras (in database)', MERGE_EXTRAS_TEXT[0][mode[0]]],
      ['Merge Node Extras (in archive)', MERGE_EXTRAS_TEXT[1][mode[1]]],
      ['Merge Node Extras (in both)', MERGE_EXTRAS_TEXT[2][mode[2]]],
      ['Merge Comments', mergeComments.data],
      ['Computer Authinfos', options.includeAuthinfos === true ? 'include' : 'exclude'],
    ];
    // the table as aiida-core prints it (tabulate's simple format), with a blank line after it
    report(`${tabulate(parameters, { headers: ['Parameters', ''] })}\n`);
    if (options.dryRun === true) report('Test run: nothing will be added to the profile');
    const db = await reader.database();
    const keys = validateArchive(reader, db);
    const nodeColumns = nodeColumnExpressions(db, importNewExtras);
    // a SQLite profile takes the new nodes from the archive's database with one INSERT … SELECT: their rows are
    // converted to the profile's encoding here, while the archive's connection may still write its file
    const direct = storage.dialect.name === DialectName.SQLITE && !storage.inTransaction();
    if (direct) stageNodes(db, storage.dialect, nodeColumns);
    const base: Context = { storage, db, nodeColumns, attached: null, batchSize, listener: options, report };

    report('Checking keys against repository ...');
    const allKeys = [...keys].sort();
    const missing = await missingObjects(storage, allKeys);
    if (allKeys.length - missing.length > 0)
      report(`Skipping ${allKeys.length - missing.length} existing repository files`);
    if (missing.length > 0) report(`Adding ${missing.length} new repository files`);
    if (options.dryRun !== true) await addObjects(base, reader, missing);

    const counts: Record<string, { new: number; existing: number }> = {};
    let importGroup: { pk: number; label: string } | null = null;
    let nodePks = new Map<number, number>();
    const attached = direct ? await attachArchive(storage, db.name) : null;
    const ctx: Context = { ...base, attached };
    try {
      await storage.transaction(async () => {
        const users = await importUsers(ctx, counts);
        const computers = await importComputers(ctx, counts);
        if (options.includeAuthinfos === true) await importAuthinfos(ctx, users, computers, counts);
        else counts['authinfo'] = { new: 0, existing: 0 };
        const nodes = await importNodes(ctx, users, computers, mode, counts);
        nodePks = nodes.map;
        await options.afterNodes?.();
        await importLogs(ctx, nodes.map, counts);
        await importComments(ctx, users, nodes.map, mergeComments.data, counts);
        await importLinks(ctx, nodes.map, nodes.fresh, counts);
        const labels = await importGroups(ctx, users, nodes.map, counts);
        importGroup = null;
        if (options.createGroup !== false && nodes.map.size > 0) {
          if (nodes.fresh.size > 0 || options.group !== undefined)
            importGroup = await makeImportGroup(ctx, options.group, labels, nodes.map);
          else report('Nothing new to import: no import group created');
        }
        if (options.dryRun === true) throw new DryRunRollback('dry run: nothing is imported');
        report('Committing transaction to database...');
      });
    } catch (error) {
      if (!(error instanceof DryRunRollback)) throw error;
    } finally {
      await attached?.detach();
    }
    counts['repositoryObjects'] = { new: missing.length, existing: allKeys.length - missing.length };
    return {
      dryRun: options.dryRun === true,
      importGroup: options.dryRun === true ? null : importGroup,
      counts: counts as unknown as ImportCounts,
      nodePks,
    };
  } catch (error) {
    if (isAiidaError(error)) throw error;
    throw new ArchiveImportError(`importing \`${filepath}\` failed: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await reader.close();
  }
}
