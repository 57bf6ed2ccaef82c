import { sql } from 'kysely';
import {
  IntegrityProblemKind,
  IntegritySeverity,
  type IntegrityCheckOptions,
  type IntegrityProblem,
  type RepositoryIntegrityReport,
} from '../repository/integrity.js';
import { collectObjectKeys, isValidObjectKey } from '../repository/object-key.js';
import { Repository } from '../repository/repository.js';
import type { StorageBackend } from './backend.js';

/** Keys (or rows) listed per problem at most; the message gives the full count. */
const LISTED = 100;
/** Nodes read per page while scanning `repository_metadata`. */
const PAGE = 5000;

/** What `verdi storage integrity` reports: what was checked, and every problem found. */
export interface StorageIntegrityReport {
  /** True when no problem is an error (warnings are allowed). */
  readonly ok: boolean;
  /** Whether every object's content was hashed (false for the quick check of `status`, `info`). */
  readonly hashes: boolean;
  readonly checked: {
    readonly nodes: number;
    readonly nodesWithFiles: number;
    readonly referencedObjects: number;
    readonly objects: RepositoryIntegrityReport['objects'];
  };
  readonly problems: readonly IntegrityProblem[];
}

const { ERROR: error, WARNING: warning } = IntegritySeverity;

/** Tables whose rows carry a uuid that must be unique. */
const UUID_TABLES = ['db_dbnode', 'db_dbgroup', 'db_dbcomputer', 'db_dbcomment', 'db_dblog'] as const;

/**
 * Checks a profile's storage as a whole: the repository (see `RepositoryBackend.checkIntegrity`), the objects nodes
 * refer to (missing ones, and the nodes whose files are corrupt), objects no node refers to, links, group
 * memberships, comments and logs naming nodes or groups that do not exist, and uuids used twice. Reads only; run it
 * with nothing else writing for a report free of in-flight noise (a node being stored can show its objects as
 * unreferenced for a moment).
 */
export async function checkStorageIntegrity(
  storage: StorageBackend,
  options: IntegrityCheckOptions = {},
): Promise<StorageIntegrityReport> {
  const hashes = options.hashes !== false;
  const repository = await storage.repository.checkIntegrity({ hashes });
  const problems: IntegrityProblem[] = [...repository.problems];
  const corruptKeys = new Set(
    repository.problems
      .filter((problem) => problem.kind === IntegrityProblemKind.CORRUPT_OBJECT)
      .flatMap((problem) => problem.keys ?? []),
  );
  const db = storage.executor();
  const dialect = storage.dialect;

  // --- nodes and the objects they refer to --------------------------------------------------------------------
  const referenced = new Set<string>();
  const missing = new Map<string, number[]>();
  const corruptUsers = new Map<string, number[]>();
  let nodes = 0;
  let nodesWithFiles = 0;
  const empty = dialect.encodeJson({});
  const countRow = await db
    .selectFrom('db_dbnode')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  nodes = dialect.decodeInteger(countRow.n);
  for (let after = 0; ;) {
    const rows = await db
      .selectFrom('db_dbnode')
      .select(['id', 'repository_metadata'])
      .where('id', '>', after)
      .where('repository_metadata', '!=', empty)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    const pageKeys = new Map<string, number[]>();
    for (const row of rows) {
      const metadata = dialect.decodeJson(row.repository_metadata);
      try {
        Repository.fromSerialized(storage.repository, metadata);
      } catch (reason) {
        problems.push({
          kind: IntegrityProblemKind.INVALID_REPOSITORY_METADATA,
          severity: error,
          message: `node ${row.id} has a repository_metadata that is no file hierarchy: ${(reason as Error).message}`,
          nodes: [row.id],
        });
        continue;
      }
      const keys = collectObjectKeys(metadata);
      if (keys.size > 0) nodesWithFiles += 1;
      for (const key of keys) {
        if (!isValidObjectKey(key)) {
          problems.push({
            kind: IntegrityProblemKind.INVALID_REPOSITORY_METADATA,
            severity: error,
            message: `node ${row.id} refers to ${JSON.stringify(key)}, which is no sha256 key`,
            nodes: [row.id],
          });
          continue;
        }
        referenced.add(key);
        pageKeys.set(key, [...(pageKeys.get(key) ?? []), row.id]);
        if (corruptKeys.has(key)) corruptUsers.set(key, [...(corruptUsers.get(key) ?? []), row.id]);
      }
    }
    const keys = [...pageKeys.keys()];
    const present = await storage.repository.hasObjects(keys);
    keys.forEach((key, index) => {
      if (present[index] === true) return;
      missing.set(key, [...(missing.get(key) ?? []), ...(pageKeys.get(key) ?? [])]);
    });
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]?.id ?? after;
  }
  for (const [key, users] of missing) {
    problems.push({
      kind: IntegrityProblemKind.MISSING_OBJECT,
      severity: error,
      message: `object ${key} is missing: node(s) ${users.join(', ')} refer to it`,
      keys: [key],
      nodes: users,
    });
  }
  // the nodes behind each corrupt object, so that the user knows what is affected
  for (const problem of problems) {
    if (problem.kind !== IntegrityProblemKind.CORRUPT_OBJECT) continue;
    const users = (problem.keys ?? []).flatMap((key) => corruptUsers.get(key) ?? []);
    if (users.length > 0) {
      Object.assign(problem, {
        nodes: users,
        message: `${problem.message}; node(s) ${users.join(', ')} refer to it`,
      });
    }
  }

  const unreferenced: string[] = [];
  for await (const key of storage.repository.listObjects()) if (!referenced.has(key)) unreferenced.push(key);
  if (unreferenced.length > 0) {
    problems.push({
      kind: IntegrityProblemKind.UNREFERENCED_OBJECT,
      severity: warning,
      message: `${unreferenced.length} object(s) are referred to by no node; \`verdi storage maintain --full\` deletes them`,
      keys: unreferenced.slice(0, LISTED),
    });
  }

  // --- references between rows ---------------------------------------------------------------------------------
  const danglingLinks = await db
    .selectFrom('db_dblink as l')
    .leftJoin('db_dbnode as i', 'i.id', 'l.input_id')
    .leftJoin('db_dbnode as o', 'o.id', 'l.output_id')
    .select(['l.id', 'l.input_id', 'l.output_id', 'l.label', 'l.type'])
    .where((eb) => eb.or([eb('i.id', 'is', null), eb('o.id', 'is', null)]))
    .orderBy('l.id')
    .limit(LISTED)
    .execute();
  for (const link of danglingLinks) {
    problems.push({
      kind: IntegrityProblemKind.DANGLING_REFERENCE,
      severity: error,
      message: `link ${link.id} (${link.type} \`${link.label}\`) goes from node ${link.input_id} to node ${link.output_id}, and one of them does not exist`,
      location: `db_dblink.id=${link.id}`,
    });
  }
  const memberships = await db
    .selectFrom('db_dbgroup_dbnodes as m')
    .leftJoin('db_dbnode as n', 'n.id', 'm.dbnode_id')
    .leftJoin('db_dbgroup as g', 'g.id', 'm.dbgroup_id')
    .select(['m.id', 'm.dbnode_id', 'm.dbgroup_id'])
    .where((eb) => eb.or([eb('n.id', 'is', null), eb('g.id', 'is', null)]))
    .orderBy('m.id')
    .limit(LISTED)
    .execute();
  for (const row of memberships) {
    problems.push({
      kind: IntegrityProblemKind.DANGLING_REFERENCE,
      severity: error,
      message: `group membership ${row.id} puts node ${row.dbnode_id} in group ${row.dbgroup_id}, and one of them does not exist`,
      location: `db_dbgroup_dbnodes.id=${row.id}`,
    });
  }
  const orphans = async (table: 'db_dbcomment' | 'db_dblog', what: string): Promise<void> => {
    const { rows } = await sql<{ id: number; dbnode_id: number }>`
      SELECT r.id, r.dbnode_id FROM ${sql.table(table)} r LEFT JOIN db_dbnode n ON n.id = r.dbnode_id
      WHERE n.id IS NULL ORDER BY r.id LIMIT ${LISTED}`.execute(db);
    for (const row of rows) {
      problems.push({
        kind: IntegrityProblemKind.DANGLING_REFERENCE,
        severity: error,
        message: `${what} ${row.id} belongs to node ${row.dbnode_id}, which does not exist`,
        location: `${table}.id=${row.id}`,
      });
    }
  };
  await orphans('db_dbcomment', 'comment');
  await orphans('db_dblog', 'log');
  for (const table of UUID_TABLES) {
    const rows = await db
      .selectFrom(table)
      .select([dialect.uuidText(sql.ref('uuid')).as('uuid'), (eb) => eb.fn.countAll().as('n')])
      .groupBy('uuid')
      .having((eb) => eb.fn.countAll(), '>', 1)
      .limit(LISTED)
      .execute();
    for (const row of rows) {
      const ids = await db
        .selectFrom(table)
        .select('id')
        .where(dialect.uuidText(sql.ref('uuid')), '=', row.uuid)
        .orderBy('id')
        .execute();
      problems.push({
        kind: IntegrityProblemKind.DUPLICATE_UUID,
        severity: error,
        message: `uuid ${row.uuid} is used by ${dialect.decodeInteger(row.n)} rows of ${table}: ids ${ids.map((r) => r.id).join(', ')}`,
        location: table,
        ...(table === 'db_dbnode' ? { nodes: ids.map((r) => r.id) } : {}),
      });
    }
  }

  return {
    ok: problems.every((problem) => problem.severity !== error),
    hashes,
    checked: { nodes, nodesWithFiles, referencedObjects: referenced.size, objects: repository.objects },
    problems,
  };
}
