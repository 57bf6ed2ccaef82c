/**
 * Helpers of the command-line tests of `verdi archive` and `verdi node graph`: what a profile made by `verdi presto`
 * holds (read straight from its SQLite database, not through the code under test) and what a written archive is
 * according to Python's `zipfile`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { STORED_OBJECT_BYTES } from '../../src/tools/archive/zip-writer.js';
import { FIXTURES, fixture } from '../tools/archive-support.js';
import { describeResult, verdiSandbox, type VerdiResult } from './verdi-process.js';

/** The parts of a fixture's `expected.json` these tests compare with. */
export interface ExpectedSummary {
  readonly verdi_archive_version: string;
  readonly verdi_archive_info: string;
  readonly verdi_archive_info_detailed: string;
  readonly nodes: readonly {
    uuid: string;
    label: string;
    node_type: string;
    extras: Record<string, unknown>;
  }[];
  readonly links: readonly { source: string; target: string; type: string; label: string }[];
  readonly groups: readonly { uuid: string; label: string; type_string: string; node_uuids: string[] }[];
  readonly comments: readonly { uuid: string; content: string }[];
  readonly logs: readonly unknown[];
  /** `verdi archive import` of the archive into a new profile, as aiida-core ran it from the fixture folder. */
  readonly reimport: { stdout: string };
}

export function readExpectedSummary(name: string): ExpectedSummary {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.expected.json`), 'utf8')) as ExpectedSummary;
}

/** Fails with the whole output of the run unless it exited with `code`. */
export function expectExit(result: VerdiResult, code: number): void {
  expect(result.code, describeResult(result)).toBe(code);
}

/** The SQLite database file of a `core.sqlite_dos` profile in the configuration folder `configDir`. */
export function profileDatabase(configDir: string, profile = 'presto'): string {
  const config = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as {
    profiles: Record<string, { storage: { config: { filepath: string } } }>;
  };
  const entry = config.profiles[profile];
  if (entry === undefined) throw new Error(`no profile ${profile} in ${configDir}`);
  return join(entry.storage.config.filepath, 'database.sqlite');
}

/** What a profile holds, for comparisons before and after a command. */
export interface ProfileContents {
  readonly nodes: string[];
  readonly links: string[];
  readonly groups: { label: string; type: string; nodes: string[] }[];
  readonly users: string[];
  readonly computers: string[];
  readonly comments: number;
  readonly logs: number;
  readonly authinfos: number;
}

/** Reads a profile's database read-only (sorted, so two reads compare equal when nothing changed). */
export function profileContents(database: string): ProfileContents {
  const db = new Database(database, { readonly: true, fileMustExist: true });
  try {
    const column = (sql: string): string[] =>
      (db.prepare(sql).raw().all() as [string][]).map(([value]) => value).sort();
    const groups = db.prepare('SELECT id, label, type_string FROM db_dbgroup ORDER BY label').all() as {
      id: number;
      label: string;
      type_string: string;
    }[];
    const members = db.prepare(
      'SELECT n.uuid FROM db_dbgroup_dbnodes g JOIN db_dbnode n ON n.id = g.dbnode_id WHERE g.dbgroup_id = ?',
    );
    return {
      nodes: column('SELECT uuid FROM db_dbnode'),
      links: column(
        `SELECT i.uuid || ' ' || l.type || ' ' || l.label || ' ' || o.uuid FROM db_dblink l
         JOIN db_dbnode i ON i.id = l.input_id JOIN db_dbnode o ON o.id = l.output_id`,
      ),
      groups: groups.map((group) => ({
        label: group.label,
        type: group.type_string,
        nodes: (members.raw().all(group.id) as [string][]).map(([uuid]) => uuid).sort(),
      })),
      users: column('SELECT email FROM db_dbuser'),
      computers: column('SELECT uuid FROM db_dbcomputer'),
      comments: (db.prepare('SELECT count(*) AS n FROM db_dbcomment').get() as { n: number }).n,
      logs: (db.prepare('SELECT count(*) AS n FROM db_dblog').get() as { n: number }).n,
      authinfos: (db.prepare('SELECT count(*) AS n FROM db_dbauthinfo').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

/** A zip file as Python's `zipfile` reads it, after `testzip()` checked every entry's CRC. */
export interface PythonZip {
  /** The entries outside `repo/`, sorted. */
  readonly names: string[];
  /** How many `repo/` objects it holds. */
  readonly repoObjects: number;
  /**
   * The compression methods (0 stored, 8 deflated) of the entries but `metadata.json` and the objects under
   * `STORED_OBJECT_BYTES`, which are always stored (deflating them would gain nothing).
   */
  readonly compressTypes: number[];
  /** aiida-core always stores `metadata.json`, whatever the compression level. */
  readonly metadataCompressType: number;
  /** What its `db.sqlite3` holds, read with Python's `sqlite3`. */
  readonly db: {
    nodes: string[];
    groups: string[];
    links: number;
    logs: number;
    comments: number;
    authinfos: number;
  };
  readonly metadata: {
    export_version: string;
    compression: number;
    creation_parameters: {
      entities_starting_set: Record<string, string[]> | null;
      include_logs: boolean;
      include_comments: boolean;
      graph_traversal_rules: Record<string, boolean>;
    };
  };
}

const PYTHON_ZIP = `
import json, sqlite3, sys, tempfile, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
with tempfile.TemporaryDirectory() as folder:
    db = sqlite3.connect(z.extract("db.sqlite3", folder))
    column = lambda sql: sorted(row[0] for row in db.execute(sql))
    count = lambda table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    tables = {"nodes": column("SELECT uuid FROM db_dbnode"), "groups": column("SELECT label FROM db_dbgroup"),
              "links": count("db_dblink"), "logs": count("db_dblog"), "comments": count("db_dbcomment"),
              "authinfos": count("db_dbauthinfo")}
    db.close()
print(json.dumps({
  "db": tables,
  "names": sorted(n for n in z.namelist() if not n.startswith("repo/")),
  "repoObjects": sum(1 for n in z.namelist() if n.startswith("repo/") and not n.endswith("/")),
  "compressTypes": sorted({i.compress_type for i in z.infolist()
                           if not i.is_dir() and i.filename != "metadata.json" and i.file_size >= int(sys.argv[2])}),
  "metadataCompressType": z.getinfo("metadata.json").compress_type,
  "metadata": json.loads(z.read("metadata.json")),
}))
`;

/** Reads `file` with Python's `zipfile` (an independent zip reader), which must find every CRC right. */
export function pythonZip(file: string): PythonZip {
  return JSON.parse(
    execFileSync('python3', ['-c', PYTHON_ZIP, file, String(STORED_OBJECT_BYTES)], { encoding: 'utf8' }),
  ) as PythonZip;
}

/** The pk in the profile's database of the node with `uuid`. */
export function pkOf(database: string, uuid: string): number {
  const db = new Database(database, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT id FROM db_dbnode WHERE uuid = ?').get(uuid) as { id: number } | undefined;
    if (row === undefined) throw new Error(`no node ${uuid} in ${database}`);
    return row.id;
  } finally {
    db.close();
  }
}

/** The uuids linked to `start` in either direction, transitively (its connected component), `start` included. */
export function componentOf(links: readonly { source: string; target: string }[], start: string): string[] {
  const seen = new Set([start]);
  for (let grew = true; grew;) {
    grew = false;
    for (const { source, target } of links)
      if (seen.has(source) !== seen.has(target)) {
        seen.add(source);
        seen.add(target);
        grew = true;
      }
  }
  return [...seen].sort();
}

/**
 * A sandbox with two `verdi presto` profiles, `presto` holding the fixture archives `fixtures` (imported without an
 * import group) and an empty `second`, for tests that write archives from the one and import them into the other.
 * `setup` is for `beforeAll`, `cleanup` for `afterAll`.
 */
export function twoProfiles(prefix: string, fixtures: readonly string[]) {
  const sandbox = verdiSandbox(prefix);
  /** `verdi` on the profile `presto`. */
  const verdi = (args: readonly string[]): Promise<VerdiResult> => sandbox.verdi(['-p', 'presto', ...args]);
  return {
    sandbox,
    verdi,
    /** A path in the sandbox. */
    out: (name: string): string => join(sandbox.base, name),
    database: (profile = 'presto'): string => profileDatabase(sandbox.configDir, profile),
    async setup(): Promise<void> {
      expectExit(await sandbox.verdi(['presto']), 0);
      expectExit(await sandbox.verdi(['presto', '--profile-name', 'second']), 0);
      for (const name of fixtures)
        expectExit(await verdi(['archive', 'import', '--no-import-group', fixture(name)]), 0);
    },
    cleanup: (): void => sandbox.cleanup(),
  };
}
