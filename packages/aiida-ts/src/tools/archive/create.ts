import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { ArchiveExportError, ExportValidationError, LicensingError, ValidationError } from '../../errors.js';
import {
  GraphTraversalRules,
  resolveTraversalRules,
  traverseGraph,
  type TraversalRuleName,
  type TraversalRuleValues,
} from '../../orm/delete.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage } from '../../storage/context.js';
import { coreVersion } from '../../engine/version.js';
import { ARCHIVE_COLUMNS, createArchiveSchema, type ArchiveTable } from './archive-schema.js';
import { ARCHIVE_VERSION_HEAD, DB_FILENAME, localIsoNow, type ArchiveMetadata } from './format.js';
import { chunks, progressTicker, type ArchiveListener } from './progress.js';
import {
  allIds,
  relatedIds,
  selectAllProfileRows,
  selectProfileRows,
  type ArchiveRow,
} from './profile-rows.js';
import { collectRepositoryKeys } from './repository-keys.js';
import { copyInSqlite, type CollectedEntities, type CopiedRelations } from './sqlite-copy.js';
import { writeArchiveZip } from './zip-writer.js';

/** The default number of rows read and written at a time (aiida's `DEFAULT_BATCH_SIZE`). */
export const DEFAULT_BATCH_SIZE = 1000;

/** An entity to start the export from: anything with a pk of the right kind. */
export interface ExportEntities {
  readonly nodes?: Iterable<{ readonly pk: number | null }>;
  readonly groups?: Iterable<{ readonly pk: number | null }>;
  readonly computers?: Iterable<{ readonly pk: number | null }>;
  readonly users?: Iterable<{ readonly pk: number | null }>;
}

/** A licence check: the allowed (or forbidden) licence names, or a predicate on a name. */
export type LicenceRule = readonly string[] | ((licence: string) => boolean);

/** Options of {@link createArchive}. */
export interface CreateArchiveOptions extends ArchiveListener {
  readonly storage?: StorageBackend;
  /** What to export with its provenance; `null` (the default) exports everything in the profile. */
  readonly entities?: ExportEntities | null;
  /** Replace an existing file (default false: `ArchiveExportError`). */
  readonly overwrite?: boolean;
  readonly includeComments?: boolean;
  readonly includeLogs?: boolean;
  readonly includeAuthinfos?: boolean;
  readonly allowedLicenses?: LicenceRule;
  readonly forbiddenLicenses?: LicenceRule;
  /** Drop the `checkpoints` attribute of process nodes (default true: it holds serialised code). */
  readonly stripCheckpoints?: boolean;
  readonly batchSize?: number;
  /** Deflate level 0–9 (0 stores). Default 6. */
  readonly compression?: number;
  /** Work out what would be exported, write nothing. */
  readonly dryRun?: boolean;
  /** The toggleable export traversal rules (`create_backward`, `return_backward`, `input_calc_forward`, …). */
  readonly traversalRules?: TraversalRuleValues;
}

/** Counts of what an archive holds (aiida's `entity_counts`, by aiida's entity names). */
export interface ArchiveEntityCounts {
  readonly user: number;
  readonly computer: number;
  readonly authinfo: number;
  readonly group: number;
  readonly node: number;
  readonly comment: number;
  readonly log: number;
  readonly link: number;
  readonly group_node: number;
}

/** What {@link createArchive} wrote (or, on a dry run, would write). */
export interface CreateArchiveResult {
  readonly filename: string;
  readonly dryRun: boolean;
  readonly counts: ArchiveEntityCounts;
  readonly repositoryObjects: number;
  readonly traversalRules: Record<TraversalRuleName, boolean>;
}

type Collected = CollectedEntities;

function pksOf(items: Iterable<{ readonly pk: number | null }> | undefined, kind: string): number[] {
  const out: number[] = [];
  for (const item of items ?? []) {
    if (item.pk === null) throw new ArchiveExportError(`cannot export an unstored ${kind}`);
    out.push(item.pk);
  }
  return out;
}

const sorted = (values: Iterable<number>): number[] => [...new Set(values)].sort((a, b) => a - b);

async function collectAll(
  storage: StorageBackend,
  options: { includeAuthinfos: boolean; includeComments: boolean; includeLogs: boolean },
): Promise<Collected> {
  return {
    nodes: await allIds(storage, 'db_dbnode'),
    groups: await allIds(storage, 'db_dbgroup'),
    computers: await allIds(storage, 'db_dbcomputer'),
    users: await allIds(storage, 'db_dbuser'),
    authinfos: options.includeAuthinfos ? await allIds(storage, 'db_dbauthinfo') : [],
    comments: options.includeComments ? await allIds(storage, 'db_dbcomment') : [],
    logs: options.includeLogs ? await allIds(storage, 'db_dblog') : [],
    groupNodes: 'all',
    everything: true,
  };
}

async function collectRequired(
  storage: StorageBackend,
  entities: ExportEntities,
  rules: Record<TraversalRuleName, boolean>,
  options: { includeAuthinfos: boolean; includeComments: boolean; includeLogs: boolean; batchSize: number },
): Promise<Collected> {
  const size = options.batchSize;
  const groups = sorted(pksOf(entities.groups, 'group'));
  const startNodes = new Set(pksOf(entities.nodes, 'node'));
  const groupNodes: [number, number][] = [];
  for (const batch of chunks(groups, size)) {
    const rows = await storage
      .executor()
      .selectFrom('db_dbgroup_dbnodes')
      .select(['dbgroup_id', 'dbnode_id'])
      .where('dbgroup_id', 'in', batch)
      .orderBy('id')
      .execute();
    for (const row of rows) {
      groupNodes.push([row.dbgroup_id, row.dbnode_id]);
      startNodes.add(row.dbnode_id);
    }
  }
  const nodes = sorted(await traverseGraph(storage, [...startNodes], rules));
  const computers = new Set(pksOf(entities.computers, 'computer'));
  for (const id of await relatedIds(storage, 'db_dbnode', 'dbcomputer_id', 'id', nodes, size))
    computers.add(id);
  const computerList = sorted(computers);
  const authinfos = options.includeAuthinfos
    ? sorted(await relatedIds(storage, 'db_dbauthinfo', 'id', 'dbcomputer_id', computerList, size))
    : [];
  const logs = options.includeLogs
    ? sorted(await relatedIds(storage, 'db_dblog', 'id', 'dbnode_id', nodes, size))
    : [];
  const comments = options.includeComments
    ? sorted(await relatedIds(storage, 'db_dbcomment', 'id', 'dbnode_id', nodes, size))
    : [];
  const users = new Set(pksOf(entities.users, 'user'));
  const add = (ids: Set<number>): void => ids.forEach((id) => users.add(id));
  add(await relatedIds(storage, 'db_dbnode', 'user_id', 'id', nodes, size));
  add(await relatedIds(storage, 'db_dbgroup', 'user_id', 'id', groups, size));
  add(await relatedIds(storage, 'db_dbcomment', 'user_id', 'id', comments, size));
  add(await relatedIds(storage, 'db_dbauthinfo', 'aiidauser_id', 'id', authinfos, size));
  return {
    nodes,
    groups,
    computers: computerList,
    users: sorted(users),
    authinfos,
    comments,
    logs,
    groupNodes,
    everything: false,
  };
}

/**
 * `ExportValidationError` listing the process nodes among `nodes` that are not sealed. With `everything`, `nodes`
 * is every node of the profile and the check is one query over the table instead of one per list of ids.
 */
async function checkSealed(
  storage: StorageBackend,
  nodes: readonly number[],
  size: number,
  everything: boolean,
): Promise<void> {
  const unsealed: number[] = [];
  const sealed = storage.dialect.jsonExtractBoolean(sql.ref('attributes'), ['sealed']);
  if (everything) {
    const wanted = new Set(nodes);
    const rows = await storage
      .executor()
      .selectFrom('db_dbnode')
      .select(['id'])
      .where('node_type', 'like', 'process.%')
      .where(
        sql<boolean>`coalesce(${sealed}, ${storage.dialect.encodeBool(false)}) = ${storage.dialect.encodeBool(false)}`,
      )
      .orderBy('id')
      .execute();
    // a node stored after the ids were collected is not exported, so it is not checked either
    unsealed.push(...rows.map((row) => row.id).filter((id) => wanted.has(id)));
  }
  for (const batch of everything ? [] : chunks(nodes, size)) {
    const rows = await storage
      .executor()
      .selectFrom('db_dbnode')
      .select(['id'])
      .where('id', 'in', batch)
      .where('node_type', 'like', 'process.%')
      .where(
        sql<boolean>`coalesce(${sealed}, ${storage.dialect.encodeBool(false)}) = ${storage.dialect.encodeBool(false)}`,
      )
      .orderBy('id')
      .execute();
    unsealed.push(...rows.map((row) => row.id));
  }
  if (unsealed.length > 0) {
    throw new ExportValidationError(
      'All ProcessNodes must be sealed before they can be exported. ' +
        `Node(s) with PK(s): ${unsealed.join(', ')} is/are not sealed.`,
    );
  }
}

function licenceCheck(
  rule: LicenceRule | undefined,
  which: 'allowed' | 'forbidden',
): (name: string) => boolean {
  if (rule === undefined) return () => which === 'allowed';
  if (typeof rule === 'function') {
    return (name) => {
      try {
        return rule(name);
      } catch (error) {
        throw new LicensingError(`${which}_licenses function error`, { cause: error });
      }
    };
  }
  return (name) => rule.includes(name);
}

async function checkLicences(
  storage: StorageBackend,
  nodes: readonly number[],
  options: CreateArchiveOptions,
  size: number,
): Promise<void> {
  if (options.allowedLicenses === undefined && options.forbiddenLicenses === undefined) return;
  const allowed = licenceCheck(options.allowedLicenses, 'allowed');
  const forbidden = licenceCheck(options.forbiddenLicenses, 'forbidden');
  const licence = storage.dialect.jsonExtractText(sql.ref('attributes'), ['source', 'license']);
  for (const batch of chunks(nodes, size)) {
    const rows = await sql<{
      id: number;
      licence: string | null;
    }>`SELECT id, ${licence} AS licence FROM db_dbnode WHERE id IN (${sql.join(batch)})`.execute(
      storage.executor(),
    );
    for (const { id, licence: name } of rows.rows) {
      if (name === null) continue;
      if (!allowed(name))
        throw new LicensingError(
          `Node ${id} is licensed under '${name}' license, which is not in the list of allowed licenses`,
        );
      if (forbidden(name))
        throw new LicensingError(
          `Node ${id} is licensed under '${name}' license, which is in the list of forbidden licenses`,
        );
    }
  }
}

/** Rows per INSERT statement into the archive database (bounded by SQLite's 32,766 parameters). */
const ROWS_PER_INSERT = 500;

/**
 * A multi-row insert into the archive database, for one table: rows go in statements of up to
 * {@link ROWS_PER_INSERT} rows (one prepared statement per statement size), not one statement call per row.
 */
function archiveInserter(db: BetterSqlite3.Database, table: ArchiveTable, columns: readonly string[]) {
  const perStatement = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(32_000 / columns.length)));
  const head = `INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES `;
  const placeholder = `(${columns.map(() => '?').join(', ')})`;
  const statements = new Map<number, BetterSqlite3.Statement>();
  const statement = (rows: number): BetterSqlite3.Statement => {
    let prepared = statements.get(rows);
    if (prepared === undefined) {
      prepared = db.prepare(`${head}${Array.from({ length: rows }, () => placeholder).join(', ')}`);
      statements.set(rows, prepared);
    }
    return prepared;
  };
  return (rows: readonly ArchiveRow[]): void => {
    for (let start = 0; start < rows.length; start += perStatement) {
      const end = Math.min(rows.length, start + perStatement);
      const values: (string | number | null)[] = [];
      for (let index = start; index < end; index += 1) {
        const row = rows[index] as ArchiveRow;
        for (const column of columns) values.push(row[column] ?? null);
      }
      statement(end - start).run(values);
    }
  };
}

/**
 * Exports all or part of a profile to an archive in aiida-core's `core.sqlite_zip` format (version
 * `main_0001`), which aiida-core 2.x imports as it is: `metadata.json` (aiida-core's keys), `db.sqlite3` (aiida-core's
 * schema, the rows with their pks in the profile, JSON columns copied as stored) and `repo/<sha256>` per object.
 *
 * Given `entities`, it follows aiida-core's export rules: the nodes of the groups join the starting nodes, the
 * provenance graph is traversed with the export traversal rules (`traversalRules` toggles), and the computers, users,
 * comments, logs (and, with `includeAuthinfos`, authinfos) of what was found come along. Unsealed process nodes are
 * refused (`ExportValidationError`), as are licences outside `allowedLicenses` or inside `forbiddenLicenses`.
 *
 * The database is built in a temporary folder, the zip is streamed to a temporary file beside `filename` (repository
 * objects one at a time from the profile's repository) and renamed into place at the end, so a failure never leaves
 * a half-written archive and memory stays bounded whatever the size of the export.
 */
export async function createArchive(
  filename: string,
  options: CreateArchiveOptions = {},
): Promise<CreateArchiveResult> {
  const storage = getStorage(options);
  const target = path.resolve(filename);
  const includeComments = options.includeComments ?? true;
  const includeLogs = options.includeLogs ?? true;
  const includeAuthinfos = options.includeAuthinfos ?? false;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const compression = options.compression ?? 6;
  if (!Number.isInteger(compression) || compression < 0 || compression > 9)
    throw new ArchiveExportError('compression must be an integer between 0 and 9');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArchiveExportError('batch size must be a positive integer');
  const existing = await stat(target).catch(() => undefined);
  if (existing !== undefined && !existing.isFile())
    throw new ArchiveExportError(`The output file '${target}' exists as a directory`);
  if (existing !== undefined && options.overwrite !== true)
    throw new ArchiveExportError(`The output file '${target}' already exists`);
  let rules: Record<TraversalRuleName, boolean>;
  try {
    rules = resolveTraversalRules(GraphTraversalRules.EXPORT, options.traversalRules ?? {});
  } catch (error) {
    if (error instanceof ValidationError) throw new ArchiveExportError(error.message, { cause: error });
    throw error;
  }
  const report = options.onReport ?? (() => undefined);
  const entities = options.entities ?? null;

  const collected =
    entities === null
      ? await collectAll(storage, { includeAuthinfos, includeComments, includeLogs })
      : await collectRequired(storage, entities, rules, {
          includeAuthinfos,
          includeComments,
          includeLogs,
          batchSize,
        });
  if (collected.nodes.length > 0) {
    report('Validating Nodes');
    await checkSealed(storage, collected.nodes, batchSize, collected.everything);
    await checkLicences(storage, collected.nodes, options, batchSize);
  }

  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-export-'));
  const temporary = `${target}.${process.pid}.${Date.now()}.partial`;
  try {
    const dbPath = path.join(folder, DB_FILENAME);
    const db = new BetterSqlite3(dbPath);
    let counts: ArchiveEntityCounts;
    let keys: Set<string>;
    try {
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      createArchiveSchema(db);
      ({ counts, keys } = await writeDatabase(storage, db, dbPath, collected, {
        batchSize,
        stripCheckpoints: options.stripCheckpoints ?? true,
        listener: options,
      }));
    } finally {
      db.close();
    }
    const result = {
      filename: target,
      dryRun: options.dryRun === true,
      counts,
      repositoryObjects: keys.size,
      traversalRules: rules,
    };
    if (options.dryRun === true) {
      report('Test Run: Stopping before archive creation');
      return result;
    }
    const metadata: ArchiveMetadata = {
      export_version: ARCHIVE_VERSION_HEAD,
      aiida_version: coreVersion(),
      key_format: 'sha256',
      compression,
      ctime: localIsoNow(),
      creation_parameters: {
        entities_starting_set:
          entities === null ? null : startingSet(entities, await uuidsOf(storage, entities)),
        include_authinfos: includeAuthinfos,
        include_comments: includeComments,
        include_logs: includeLogs,
        graph_traversal_rules: rules,
      },
    };
    await mkdir(path.dirname(target), { recursive: true });
    await writeArchiveZip(
      temporary,
      { metadata, dbPath, keys: [...keys].sort(), repository: storage.repository, compression },
      options,
    );
    await rename(temporary, target);
    report('Archive created successfully');
    return result;
  } finally {
    await rm(temporary, { force: true });
    await rm(folder, { recursive: true, force: true });
  }
}

interface StartingUuids {
  readonly node: string[];
  readonly group: string[];
  readonly computer: string[];
  readonly user: string[];
}

async function uuidsOf(storage: StorageBackend, entities: ExportEntities): Promise<StartingUuids> {
  const lookup = async (
    table: 'db_dbnode' | 'db_dbgroup' | 'db_dbcomputer',
    pks: number[],
  ): Promise<string[]> => {
    if (pks.length === 0) return [];
    const out: string[] = [];
    for (const batch of chunks(sorted(pks), 1000)) {
      const rows = await sql<{ uuid: string }>`SELECT ${storage.dialect.uuidText(
        sql.ref('uuid'),
      )} AS uuid FROM ${sql.table(table)} WHERE id IN (${sql.join(batch)}) ORDER BY id`.execute(
        storage.executor(),
      );
      out.push(...rows.rows.map((row) => row.uuid));
    }
    return out;
  };
  const userPks = pksOf(entities.users, 'user');
  const emails =
    userPks.length === 0
      ? []
      : (
          await storage
            .executor()
            .selectFrom('db_dbuser')
            .select('email')
            .where('id', 'in', userPks)
            .execute()
        ).map((row) => row.email);
  return {
    node: await lookup('db_dbnode', pksOf(entities.nodes, 'node')),
    group: await lookup('db_dbgroup', pksOf(entities.groups, 'group')),
    computer: await lookup('db_dbcomputer', pksOf(entities.computers, 'computer')),
    user: emails,
  };
}

/** aiida's `entities_starting_set`: uuids (emails for users) by entity name, only the non-empty ones. */
function startingSet(_entities: ExportEntities, uuids: StartingUuids): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of ['user', 'computer', 'group', 'node'] as const)
    if (uuids[name].length > 0) out[name] = uuids[name];
  return out;
}

async function* filtered(
  pages: AsyncIterable<ArchiveRow[]>,
  keep: (row: ArchiveRow) => boolean,
): AsyncIterable<ArchiveRow[]> {
  for await (const rows of pages) yield rows.filter(keep);
}

async function writeDatabase(
  storage: StorageBackend,
  db: BetterSqlite3.Database,
  dbPath: string,
  collected: Collected,
  options: { batchSize: number; stripCheckpoints: boolean; listener: ArchiveListener },
): Promise<{ counts: ArchiveEntityCounts; keys: Set<string> }> {
  const total =
    collected.users.length +
    collected.computers.length +
    collected.authinfos.length +
    collected.groups.length +
    collected.nodes.length +
    collected.comments.length +
    collected.logs.length;
  const progress = progressTicker(options.listener, 'Archiving database', total);
  const relations =
    (await copyInSqlite(storage, dbPath, collected, (rows) => progress.tick(rows))) ??
    (await copyInPages(storage, db, collected, options.batchSize, (rows) => progress.tick(rows)));
  if (options.stripCheckpoints) {
    // in SQLite, so the rest of each attributes text is kept byte for byte (numbers as written)
    db.exec(
      `UPDATE db_dbnode SET attributes = json_remove(attributes, '$.checkpoints') ` +
        `WHERE node_type LIKE 'process.%' AND json_type(attributes, '$.checkpoints') IS NOT NULL`,
    );
  }
  const keys = new Set<string>();
  const metadata = db.prepare('SELECT repository_metadata FROM db_dbnode').pluck();
  for (const text of metadata.iterate() as Iterable<string | null>) {
    if (text !== null) collectRepositoryKeys(JSON.parse(text), keys);
  }
  progress.done();
  return {
    counts: {
      user: collected.users.length,
      computer: collected.computers.length,
      authinfo: collected.authinfos.length,
      group: collected.groups.length,
      node: collected.nodes.length,
      comment: collected.comments.length,
      log: collected.logs.length,
      link: relations.link,
      group_node: relations.group_node,
    },
    keys,
  };
}

/**
 * Copies the collected rows through JavaScript, for any backend: each table read in pages (or by lists of ids)
 * in the archive's encoding and written with multi-row INSERTs.
 */
async function copyInPages(
  storage: StorageBackend,
  db: BetterSqlite3.Database,
  collected: Collected,
  batchSize: number,
  progress: (rows: number) => void,
): Promise<CopiedRelations> {
  const nodeSet = new Set(collected.nodes);
  db.exec('BEGIN');
  const copy = async (table: ArchiveTable, ids: readonly number[]): Promise<void> => {
    if (ids.length === 0) return;
    const insert = archiveInserter(db, table, ARCHIVE_COLUMNS[table]);
    const wanted = new Set(ids);
    // a whole table is read in pages (one short query each) instead of by lists of ids; rows that appeared after
    // the ids were collected are left out, so the archive holds what was counted
    const pages = collected.everything
      ? filtered(selectAllProfileRows(storage, table, batchSize * 10), (row) => wanted.has(Number(row['id'])))
      : selectProfileRows(storage, table, 'id', ids, batchSize);
    for await (const rows of pages) {
      insert(rows);
      progress(rows.length);
    }
  };
  await copy('db_dbuser', collected.users);
  await copy('db_dbcomputer', collected.computers);
  await copy('db_dbauthinfo', collected.authinfos);
  await copy('db_dbgroup', collected.groups);
  await copy('db_dbnode', collected.nodes);
  await copy('db_dbcomment', collected.comments);
  await copy('db_dblog', collected.logs);
  // links: every link of the profile between two exported nodes (the closure under the export rules contains
  // the far end of every link type it follows, so this is the set aiida-core's traversal records)
  const linkColumns = ['input_id', 'output_id', 'label', 'type'];
  const insertLink = archiveInserter(db, 'db_dblink', linkColumns);
  let links = 0;
  const linkRows =
    collected.groupNodes === 'all'
      ? selectAllProfileRows(storage, 'db_dblink', batchSize * 10, ['id', ...linkColumns])
      : selectProfileRows(storage, 'db_dblink', 'input_id', collected.nodes, batchSize, [
          'id',
          ...linkColumns,
        ]);
  for await (const rows of linkRows) {
    const kept = rows.filter(
      (row) => nodeSet.has(Number(row['input_id'])) && nodeSet.has(Number(row['output_id'])),
    );
    insertLink(kept);
    links += kept.length;
  }
  const insertMember = archiveInserter(db, 'db_dbgroup_dbnodes', ['dbgroup_id', 'dbnode_id']);
  let members = 0;
  if (collected.groupNodes === 'all') {
    // only memberships between exported groups and nodes, as the copy in SQLite
    const groupSet = new Set(collected.groups);
    for await (const rows of selectAllProfileRows(storage, 'db_dbgroup_dbnodes', batchSize * 10)) {
      const kept = rows.filter(
        (row) => groupSet.has(Number(row['dbgroup_id'])) && nodeSet.has(Number(row['dbnode_id'])),
      );
      insertMember(kept);
      members += kept.length;
    }
  } else {
    insertMember(collected.groupNodes.map(([group, node]) => ({ dbgroup_id: group, dbnode_id: node })));
    members = collected.groupNodes.length;
  }
  db.exec('COMMIT');
  return { link: links, group_node: members };
}
