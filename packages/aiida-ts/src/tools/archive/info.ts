import type BetterSqlite3 from 'better-sqlite3';
import { canonicalTimestamp } from '../../storage/dialect.js';
import { ArchiveReader } from './archive-reader.js';
import type { ArchiveMetadata } from './format.js';

/** `verdi archive info`: the metadata, and with `detailed` the entity counts and the repository size. */
export interface ArchiveInfo {
  readonly metadata: ArchiveMetadata;
  readonly entities?: Record<string, Record<string, unknown>>;
  readonly repository?: { readonly objects: { readonly count: number } };
}

const MAX_STARTING_SET = 5;

function column(db: BetterSqlite3.Database, query: string): string[] {
  return db.prepare(query).pluck().all().map(String);
}

/**
 * Summarises an archive as aiida-core's `verdi archive info` does: its metadata (the starting set cut to five
 * entries per type unless `detailed`), and with `detailed` the counts of each entity (user emails, computer labels,
 * node and process types, group types) and of repository objects.
 */
export async function getArchiveInfo(
  filepath: string,
  options: { readonly detailed?: boolean } = {},
): Promise<ArchiveInfo> {
  const reader = await ArchiveReader.open(filepath);
  try {
    reader.assertHeadVersion();
    const metadata = structuredClone(reader.metadata);
    const starting = metadata.creation_parameters?.entities_starting_set;
    if (options.detailed !== true && starting !== undefined && starting !== null) {
      for (const [type, values] of Object.entries(starting)) {
        if (values.length > MAX_STARTING_SET)
          starting[type] = [
            ...values.slice(0, MAX_STARTING_SET),
            `... and ${values.length - MAX_STARTING_SET} more (use --detailed to show all)`,
          ];
      }
    }
    if (options.detailed !== true) return { metadata };
    const db = await reader.database();
    const count = (table: string): number =>
      Number(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
    const nodes = count('db_dbnode');
    const range = db.prepare('SELECT min(ctime) AS first, max(ctime) AS last FROM db_dbnode').get() as {
      first: string | null;
      last: string | null;
    };
    const pythonTime = (value: string): string => canonicalTimestamp(value).replace('T', ' ');
    return {
      metadata,
      entities: {
        Users: {
          count: count('db_dbuser'),
          emails: column(db, 'SELECT DISTINCT email FROM db_dbuser ORDER BY email'),
        },
        Computers: {
          count: count('db_dbcomputer'),
          labels: column(db, 'SELECT DISTINCT label FROM db_dbcomputer ORDER BY label'),
        },
        Nodes: {
          count: nodes,
          ...(nodes > 0 && range.first !== null && range.last !== null
            ? { first_created: pythonTime(range.first), last_created: pythonTime(range.last) }
            : {}),
          node_types: column(db, 'SELECT DISTINCT node_type FROM db_dbnode ORDER BY node_type'),
          process_types: column(
            db,
            'SELECT DISTINCT process_type FROM db_dbnode WHERE process_type IS NOT NULL ORDER BY process_type',
          ),
        },
        Groups: {
          count: count('db_dbgroup'),
          type_strings: column(db, 'SELECT DISTINCT type_string FROM db_dbgroup ORDER BY type_string'),
        },
        Comments: { count: count('db_dbcomment') },
        Logs: { count: count('db_dblog') },
        Links: { count: count('db_dblink') },
      },
      repository: { objects: { count: reader.objectKeys().length } },
    };
  } finally {
    await reader.close();
  }
}
