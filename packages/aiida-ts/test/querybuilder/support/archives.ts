import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import BetterSqlite3 from 'better-sqlite3';
import yauzl from 'yauzl';
import type { StorageBackend } from '../../../src/storage.js';
import { resetSequences } from './backends.js';

/** The real aiida-core 2.8 archives of /work/shared/fixtures (see the README there). */
export const ARCHIVE_DIR = '/work/shared/fixtures/aiida-archives';
export const ARCHIVES = ['calcfunctions', 'workchains', 'data_types', 'calcjob'] as const;
export type ArchiveName = (typeof ARCHIVES)[number];

/** The parts of an archive's `*.expected.json` the tests compare with (written by aiida-core itself). */
export interface ArchiveExpectation {
  readonly node_type_counts: Record<string, number>;
  readonly link_type_counts: Record<string, number>;
  readonly process_type_counts: Record<string, number>;
  readonly nodes: readonly {
    readonly uuid: string;
    readonly node_type: string;
    readonly process_type: string | null;
    readonly label: string;
    readonly ctime: string;
    readonly attributes: Record<string, unknown>;
    readonly extras: Record<string, unknown>;
  }[];
  readonly links: readonly {
    readonly source: string;
    readonly target: string;
    readonly type: string;
    readonly label: string;
  }[];
  readonly groups: readonly {
    readonly uuid: string;
    readonly label: string;
    readonly type_string: string;
    readonly node_uuids: readonly string[];
  }[];
  readonly comments: readonly {
    readonly uuid: string;
    readonly node_uuid: string;
    readonly content: string;
  }[];
  readonly logs: readonly { readonly uuid: string; readonly node_uuid: string; readonly message: string }[];
  readonly computers: readonly {
    readonly uuid: string;
    readonly label: string;
    readonly metadata: Record<string, unknown>;
  }[];
}

export function readExpectation(name: ArchiveName): ArchiveExpectation {
  return JSON.parse(
    readFileSync(path.join(ARCHIVE_DIR, `${name}.expected.json`), 'utf8'),
  ) as ArchiveExpectation;
}

async function extractDatabase(archive: string, folder: string): Promise<string> {
  const target = path.join(folder, 'db.sqlite3');
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(archive, { lazyEntries: true }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== 'db.sqlite3') {
          zip.readEntry();
          return;
        }
        zip.openReadStream(entry, (error, stream) => {
          if (error) return reject(error);
          pipeline(stream, createWriteStream(target)).then(resolve, reject);
        });
      });
      zip.on('end', () => reject(new Error(`no db.sqlite3 in ${archive}`)));
      zip.on('error', reject);
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return target;
}

const JSON_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  db_dbnode: ['attributes', 'extras', 'repository_metadata'],
  db_dbcomputer: ['metadata'],
  db_dbauthinfo: ['metadata', 'auth_params'],
  db_dbgroup: ['extras'],
  db_dblog: ['metadata'],
};
const TIMESTAMP_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  db_dbnode: ['ctime', 'mtime'],
  db_dbgroup: ['time'],
  db_dbcomment: ['ctime', 'mtime'],
  db_dblog: ['time'],
};
const TABLES = [
  'db_dbcomputer',
  'db_dbnode',
  'db_dbgroup',
  'db_dbgroup_dbnodes',
  'db_dblink',
  'db_dbcomment',
  'db_dblog',
] as const;

/**
 * Copies the rows of the given archives into `backend` (either dialect): the archives come from one aiida
 * profile, so node, group, computer, comment and log ids do not collide and are kept; the shared user is
 * inserted once and link ids are assigned afresh.
 */
export async function loadArchives(backend: StorageBackend, names: readonly ArchiveName[]): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'aiida-qb-archive-'));
  try {
    const db = backend.executor();
    const dialect = backend.dialect;
    const userIds = new Map<string, number>();
    for (const name of names) {
      const file = await extractDatabase(path.join(ARCHIVE_DIR, `${name}.aiida`), path.join(folder));
      const source = new BetterSqlite3(file, { readonly: true });
      try {
        const userMap = new Map<number, number>();
        for (const user of source.prepare('select * from db_dbuser').all() as Record<string, unknown>[]) {
          const email = String(user.email);
          let id = userIds.get(email);
          if (id === undefined) {
            const row = await db
              .insertInto('db_dbuser')
              .values({
                email,
                first_name: String(user.first_name),
                last_name: String(user.last_name),
                institution: String(user.institution),
              })
              .returning('id')
              .executeTakeFirstOrThrow();
            id = row.id;
            userIds.set(email, id);
          }
          userMap.set(Number(user.id), id);
        }
        for (const table of TABLES) {
          const rows = source.prepare(`select * from ${table}`).all() as Record<string, unknown>[];
          if (rows.length === 0) continue;
          const encoded = rows.map((row) => {
            const out: Record<string, unknown> = { ...row };
            for (const column of JSON_COLUMNS[table] ?? []) {
              out[column] =
                row[column] === null ? null : dialect.encodeJson(JSON.parse(row[column] as string));
            }
            for (const column of TIMESTAMP_COLUMNS[table] ?? [])
              out[column] = dialect.encodeTimestamp(String(row[column]));
            if ('user_id' in out) out.user_id = userMap.get(Number(row.user_id));
            if (table === 'db_dblink') delete out.id;
            return out;
          });
          await db.insertInto(table).values(encoded).execute();
        }
      } finally {
        source.close();
      }
    }
    await resetSequences(backend);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
