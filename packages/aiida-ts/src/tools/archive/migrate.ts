import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import BetterSqlite3 from 'better-sqlite3';
import { isLosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import yazl from 'yazl';
import { CorruptStorageError, StorageMigrationError } from '../../errors.js';
import { coreVersion } from '../../engine/version.js';
import { createArchiveSchema } from './archive-schema.js';
import {
  ARCHIVE_VERSION_HEAD,
  DB_FILENAME,
  FINAL_LEGACY_VERSION,
  LEGACY_DATA_FILENAME,
  LEGACY_VERSIONS,
  localIsoNow,
  META_FILENAME,
  REPO_FOLDER,
  validateArchiveVersions,
} from './format.js';
import { performLegacyMigrations, updateMetadataVersion, type LegacyJson } from './legacy-migrations.js';
import { progressTicker, type ArchiveListener } from './progress.js';
import { SafeZipReader } from './zip-reader.js';

/** Options of {@link migrateArchive}. */
export interface MigrateArchiveOptions extends ArchiveListener {
  /** The version to migrate to (default {@link ARCHIVE_VERSION_HEAD}). */
  readonly version?: string;
  /** Replace an existing output file. */
  readonly force?: boolean;
  /** Deflate level of the new archive, 0–9 (default 6). */
  readonly compression?: number;
}

const writer = (): string => `aiida-ts v${coreVersion()}`;

type Dict = Record<string, unknown>;
const dict = (value: unknown): Dict =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Dict) : {};

/** A timestamp of a legacy `data.json` (`YYYY-MM-DDTHH:MM:SS.ffffff`) as SQLite text, or now when missing. */
function legacyTimestamp(value: unknown): string {
  if (typeof value !== 'string') return nowTimestamp();
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?/.exec(value);
  if (match === null)
    throw new StorageMigrationError(`invalid datetime \`${value}\` in ${LEGACY_DATA_FILENAME}`);
  return `${match[1]} ${match[2]}.${(match[3] ?? '').padEnd(6, '0')}`;
}

function nowTimestamp(): string {
  return new Date().toISOString().replace('T', ' ').replace('Z', '000');
}

const json = (value: unknown, fallback = '{}'): string =>
  value === undefined || value === null ? fallback : (stringifyLossless(value) ?? fallback);
/** A scalar of `data.json` as text (numbers as written). */
function scalar(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isLosslessNumber(value)) return value.toString();
  return JSON.stringify(value);
}
const text = (value: unknown): string => (value === undefined || value === null ? '' : scalar(value));
const nullableText = (value: unknown): string | null =>
  value === undefined || value === null ? null : scalar(value);

/**
 * Migrates an archive to another format version (aiida-core's `verdi archive migrate`): the legacy JSON formats
 * `0.4`–`0.13` through their migrations, then into the SQLite format, then `main_0000` to `main_0001`. Older
 * formats (`0.1`–`0.3`) are refused as aiida-core 2 refuses them. The new archive is written to a temporary file
 * beside `outpath` and renamed into place, streaming repository files from the old zip to the new one.
 */
export async function migrateArchive(
  inpath: string,
  outpath: string,
  options: MigrateArchiveOptions = {},
): Promise<void> {
  const target = options.version ?? ARCHIVE_VERSION_HEAD;
  const compression = options.compression ?? 6;
  const report = options.onReport ?? (() => undefined);
  const source = path.resolve(inpath);
  const destination = path.resolve(outpath);
  const existing = await stat(destination).catch(() => undefined);
  if (existing !== undefined && !existing.isFile())
    throw new StorageMigrationError('Existing output path is not a file');
  if (existing !== undefined && options.force !== true && source !== destination)
    throw new StorageMigrationError('Output path already exists and force=False');
  const zip = await SafeZipReader.open(source);
  try {
    if (!zip.has(META_FILENAME))
      throw new CorruptStorageError(`Could not find metadata file in \`${source}\``);
    const metadata = parseLossless((await zip.readBuffer(META_FILENAME)).toString('utf8')) as LegacyJson;
    if (typeof metadata !== 'object' || metadata === null)
      throw new CorruptStorageError('Metadata is not a dictionary');
    if (!('export_version' in metadata)) throw new CorruptStorageError('No export_version found in metadata');
    let current = String(metadata['export_version']);
    validateArchiveVersions(current, target);
    if (current === target) {
      if (source !== destination) await copyFile(source, destination);
      return;
    }
    if (
      target !== ARCHIVE_VERSION_HEAD &&
      !(LEGACY_VERSIONS as readonly string[]).concat(FINAL_LEGACY_VERSION).includes(target)
    )
      throw new StorageMigrationError(
        `aiida-ts migrates archives to a legacy version or to ${ARCHIVE_VERSION_HEAD} only, not to '${target}'`,
      );
    metadata['mtime'] = localIsoNow();
    metadata['compression'] = compression;
    const work = await mkdtemp(path.join(tmpdir(), 'aiida-migrate-'));
    const temporary = `${destination}.${process.pid}.${Date.now()}.partial`;
    try {
      let data: LegacyJson | undefined;
      const isLegacy =
        current === FINAL_LEGACY_VERSION || (LEGACY_VERSIONS as readonly string[]).includes(current);
      if (isLegacy && current !== FINAL_LEGACY_VERSION) {
        report('Legacy migrations required from zip format');
        report('Extracting data.json ...');
        data = await readLegacyData(zip);
        const legacyTarget = target === ARCHIVE_VERSION_HEAD ? FINAL_LEGACY_VERSION : target;
        const steps = progressTicker(options, 'Performing migrations', 1);
        current = performLegacyMigrations(current, legacyTarget, metadata, data, writer(), report);
        steps.done();
      }
      if (current === target) {
        await writeLegacyZip(zip, temporary, metadata, data ?? (await readLegacyData(zip)), compression);
      } else if (current === FINAL_LEGACY_VERSION) {
        report(`legacy '${FINAL_LEGACY_VERSION}' -> 'main_0000' conversion required`);
        if (data === undefined) {
          report('Extracting data.json ...');
          data = await readLegacyData(zip);
        }
        const dbPath = path.join(work, DB_FILENAME);
        report('Initialising new archive...');
        const objects = await hashLegacyRepository(zip, options);
        report(`Unique repository files written: ${objects.sources.size}`);
        report('Converting DB to SQLite');
        legacyJsonToSqlite(dbPath, data, objects.nodeFiles, report);
        delete metadata['unique_identifiers'];
        delete metadata['all_fields_info'];
        metadata['creation_parameters'] = metadata['export_parameters'] ?? {};
        delete metadata['export_parameters'];
        metadata['key_format'] = 'sha256';
        updateMetadataVersion(metadata, 'main_0000', writer());
        report('Performing SQLite migrations:');
        report('- main_0000 -> main_0000a');
        report('- main_0000a -> main_0000b');
        report('- main_0000b -> main_0001');
        updateMetadataVersion(metadata, ARCHIVE_VERSION_HEAD, writer());
        report('Finalising the migration ...');
        await writeMainZip(
          temporary,
          metadata,
          dbPath,
          [...objects.sources].map(([key, entry]) => [`${REPO_FOLDER}/${key}`, entry]),
          zip,
          compression,
          options,
        );
      } else {
        // main_0000 … main_0000b: bring the SQLite schema to main_0001 (nulls replaced, columns NOT NULL)
        if (!zip.has(DB_FILENAME))
          throw new CorruptStorageError(`database could not be read: no ${DB_FILENAME}`);
        const oldDb = path.join(work, 'old.sqlite3');
        await zip.extractTo(DB_FILENAME, oldDb);
        const dbPath = path.join(work, DB_FILENAME);
        report('Performing SQLite migrations:');
        const versions = ['main_0000', 'main_0000a', 'main_0000b', 'main_0001'];
        for (let index = versions.indexOf(current); index >= 0 && index < versions.length - 1; index += 1)
          report(`- ${versions[index]} -> ${versions[index + 1]}`);
        migrateMainDatabase(oldDb, dbPath);
        updateMetadataVersion(metadata, ARCHIVE_VERSION_HEAD, writer());
        const repo = [...zip.files()]
          .filter((entry) => entry.name.startsWith(`${REPO_FOLDER}/`))
          .map((entry) => [entry.name, entry.name] as [string, string]);
        report('Finalising the migration ...');
        await writeMainZip(temporary, metadata, dbPath, repo, zip, compression, options);
      }
      await rename(temporary, destination);
    } finally {
      await rm(temporary, { force: true });
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    zip.close();
  }
}

async function readLegacyData(zip: SafeZipReader): Promise<LegacyJson> {
  if (!zip.has(LEGACY_DATA_FILENAME))
    throw new CorruptStorageError(`the legacy archive has no ${LEGACY_DATA_FILENAME}`);
  const parsed = parseLossless((await zip.readBuffer(LEGACY_DATA_FILENAME, 2 ** 31 - 1)).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new CorruptStorageError(`${LEGACY_DATA_FILENAME} is not a dictionary`);
  return parsed as LegacyJson;
}

/**
 * Hashes the files of the legacy per-node folders (`nodes/<uuid[0:2]>/<uuid[2:4]>/<uuid[4:]>/(path|raw_input)/…`):
 * the files and directories of each node, and one source entry per distinct content.
 */
async function hashLegacyRepository(
  zip: SafeZipReader,
  listener: ArchiveListener,
): Promise<{ nodeFiles: Map<string, [string, string | null][]>; sources: Map<string, string> }> {
  const nodeFiles = new Map<string, [string, string | null][]>();
  const sources = new Map<string, string>();
  const names = zip.names();
  const progress = progressTicker(listener, 'Converting repo', names.length);
  for (const name of names) {
    progress.tick();
    const parts = name.replace(/\/$/, '').split('/');
    if (parts.length < 6 || parts[0] !== 'nodes' || (parts[4] !== 'raw_input' && parts[4] !== 'path'))
      continue;
    const uuid = parts.slice(1, 4).join('');
    const relative = parts.slice(5).join('/');
    let key: string | null = null;
    if (!name.endsWith('/')) {
      const hash = createHash('sha256');
      for await (const chunk of await zip.openStream(name)) hash.update(chunk as Buffer);
      key = hash.digest('hex');
      if (!sources.has(key)) sources.set(key, name);
    }
    const files = nodeFiles.get(uuid) ?? [];
    files.push([relative, key]);
    nodeFiles.set(uuid, files);
  }
  progress.done();
  return { nodeFiles, sources };
}

type TreeEntry = { o: Record<string, TreeEntry> } | { k: string };

/** aiida's serialised repository tree of a node's `(path, key or null for a directory)` list. */
function repositoryMetadata(files: readonly [string, string | null][]): Dict {
  const root: { o: Record<string, TreeEntry> } = { o: {} };
  const directory = (parts: readonly string[]): { o: Record<string, TreeEntry> } => {
    let current = root;
    for (const part of parts) {
      let next = current.o[part];
      if (next === undefined || !('o' in next)) {
        next = { o: {} };
        current.o[part] = next;
      }
      current = next;
    }
    return current;
  };
  for (const [relative, key] of files) {
    const parts = relative.split('/');
    if (key === null) directory(parts);
    else directory(parts.slice(0, -1)).o[parts[parts.length - 1]!] = { k: key };
  }
  const serialise = (entry: TreeEntry): Dict => {
    if ('k' in entry) return { k: entry.k };
    const names = Object.keys(entry.o);
    if (names.length === 0) return {};
    return { o: Object.fromEntries(names.map((name) => [name, serialise(entry.o[name]!)])) };
  };
  return serialise(root);
}

const FIELD_RENAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Node: { dbcomputer: 'dbcomputer_id', user: 'user_id' },
  Group: { user: 'user_id' },
  Computer: {},
  Log: { dbnode: 'dbnode_id' },
  Comment: { dbnode: 'dbnode_id', user: 'user_id' },
  User: {},
};

/**
 * Writes the legacy JSON database into a new SQLite database of the `main_0001` schema, replacing the NULLs the
 * later migrations replace (aiida's `main_0000a`) and dropping the group members that are not in the archive.
 */
function legacyJsonToSqlite(
  dbPath: string,
  data: LegacyJson,
  nodeFiles: Map<string, [string, string | null][]>,
  report: (message: string) => void,
): void {
  const db = new BetterSqlite3(dbPath);
  try {
    db.pragma('journal_mode = OFF');
    createArchiveSchema(db);
    const exportData = dict(data['export_data']);
    const entities = (name: string): [string, Dict][] =>
      Object.entries(dict(exportData[name])).map(([pk, fields]) => {
        const renames = FIELD_RENAMES[name] ?? {};
        const row: Dict = {};
        for (const [key, value] of Object.entries(dict(fields))) row[renames[key] ?? key] = value;
        return [pk, row];
      });
    db.transaction(() => {
      const insertUser = db.prepare(
        'INSERT INTO db_dbuser (id, email, first_name, last_name, institution) VALUES (?, ?, ?, ?, ?)',
      );
      for (const [pk, row] of entities('User'))
        insertUser.run(
          Number(pk),
          text(row['email']),
          text(row['first_name']),
          text(row['last_name']),
          text(row['institution']),
        );
      const insertComputer = db.prepare(
        'INSERT INTO db_dbcomputer (id, uuid, label, hostname, description, scheduler_type, transport_type, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const [pk, row] of entities('Computer'))
        insertComputer.run(
          Number(pk),
          text(row['uuid']),
          text(row['label']),
          text(row['hostname']),
          text(row['description']),
          text(row['scheduler_type']),
          text(row['transport_type']),
          json(row['metadata']),
        );
      const insertGroup = db.prepare(
        'INSERT INTO db_dbgroup (id, uuid, label, type_string, time, description, extras, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const [pk, row] of entities('Group'))
        insertGroup.run(
          Number(pk),
          text(row['uuid']),
          text(row['label']),
          row['type_string'] === undefined || row['type_string'] === null ? 'core' : text(row['type_string']),
          legacyTimestamp(row['time']),
          text(row['description']),
          json(row['extras']),
          Number(row['user_id']),
        );
      const attributes = dict(data['node_attributes']);
      const extras = dict(data['node_extras']);
      const insertNode = db.prepare(
        'INSERT INTO db_dbnode (id, uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras, repository_metadata, dbcomputer_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const [pk, row] of entities('Node')) {
        if (!(pk in attributes))
          throw new CorruptStorageError(`Unable to find attributes info for Node with Pk=${pk}`);
        if (!(pk in extras))
          throw new CorruptStorageError(`Unable to find extra info for Node with Pk=${pk}`);
        const uuid = text(row['uuid']);
        const files = nodeFiles.get(uuid);
        insertNode.run(
          Number(pk),
          uuid,
          text(row['node_type']),
          nullableText(row['process_type']),
          text(row['label']),
          text(row['description']),
          legacyTimestamp(row['ctime']),
          legacyTimestamp(row['mtime']),
          json(attributes[pk], 'null'),
          json(extras[pk], 'null'),
          JSON.stringify(files === undefined ? {} : repositoryMetadata(files)),
          row['dbcomputer_id'] === undefined || row['dbcomputer_id'] === null
            ? null
            : Number(row['dbcomputer_id']),
          Number(row['user_id']),
        );
      }
      const insertLog = db.prepare(
        'INSERT INTO db_dblog (id, uuid, time, loggername, levelname, dbnode_id, message, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const [pk, row] of entities('Log'))
        insertLog.run(
          Number(pk),
          text(row['uuid']),
          legacyTimestamp(row['time']),
          text(row['loggername']),
          text(row['levelname']),
          Number(row['dbnode_id']),
          text(row['message']),
          json(row['metadata']),
        );
      const insertComment = db.prepare(
        'INSERT INTO db_dbcomment (id, uuid, dbnode_id, ctime, mtime, user_id, content) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const [pk, row] of entities('Comment')) {
        if (
          row['dbnode_id'] === null ||
          row['dbnode_id'] === undefined ||
          row['user_id'] === null ||
          row['user_id'] === undefined
        )
          continue;
        insertComment.run(
          Number(pk),
          text(row['uuid']),
          Number(row['dbnode_id']),
          legacyTimestamp(row['ctime']),
          legacyTimestamp(row['mtime']),
          Number(row['user_id']),
          text(row['content']),
        );
      }
      const nodeIds = new Map(
        (db.prepare('SELECT uuid, id FROM db_dbnode').all() as { uuid: string; id: number }[]).map((r) => [
          r.uuid,
          r.id,
        ]),
      );
      const insertLink = db.prepare(
        'INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (?, ?, ?, ?)',
      );
      for (const link of Array.isArray(data['links_uuid']) ? data['links_uuid'] : []) {
        const fields = dict(link);
        const input = nodeIds.get(text(fields['input']));
        const output = nodeIds.get(text(fields['output']));
        if (input === undefined)
          throw new StorageMigrationError(
            `Database contains link with unknown input node: ${JSON.stringify(stringifyLossless(fields))}`,
          );
        if (output === undefined)
          throw new StorageMigrationError(
            `Database contains link with unknown output node: ${JSON.stringify(stringifyLossless(fields))}`,
          );
        insertLink.run(input, output, text(fields['label']), text(fields['type']));
      }
      const groupIds = new Map(
        (db.prepare('SELECT uuid, id FROM db_dbgroup').all() as { uuid: string; id: number }[]).map((r) => [
          r.uuid,
          r.id,
        ]),
      );
      const insertMember = db.prepare('INSERT INTO db_dbgroup_dbnodes (dbnode_id, dbgroup_id) VALUES (?, ?)');
      const dropped: string[] = [];
      for (const [groupUuid, members] of Object.entries(dict(data['groups_uuid']))) {
        const group = groupIds.get(groupUuid);
        if (group === undefined) continue;
        for (const member of Array.isArray(members) ? members : []) {
          const node = nodeIds.get(text(member));
          if (node === undefined) dropped.push(`${groupUuid}: ${text(member)}`);
          else insertMember.run(node, group);
        }
      }
      if (dropped.length > 0) report(`Dropped unknown nodes in groups: ${dropped.join(', ')}`);
    })();
    const violations = db.pragma('foreign_key_check') as unknown[];
    if (violations.length > 0)
      throw new StorageMigrationError(`Database integrity error: ${JSON.stringify(violations.slice(0, 5))}`);
  } finally {
    db.close();
  }
}

/** Copies a `main_0000`…`main_0000b` database into the `main_0001` schema, with aiida's `main_0000a` defaults. */
function migrateMainDatabase(oldPath: string, newPath: string): void {
  const db = new BetterSqlite3(newPath);
  try {
    db.pragma('journal_mode = OFF');
    createArchiveSchema(db);
    db.prepare('ATTACH DATABASE ? AS old').run(oldPath);
    const now = `'${nowTimestamp()}'`;
    db.transaction(() => {
      db.exec(`INSERT INTO db_dbuser (id, email, first_name, last_name, institution)
        SELECT id, email, coalesce(first_name, ''), coalesce(last_name, ''), coalesce(institution, '') FROM old.db_dbuser`);
      db.exec(`INSERT INTO db_dbcomputer (id, uuid, label, hostname, description, scheduler_type, transport_type, metadata)
        SELECT id, uuid, label, coalesce(hostname, ''), coalesce(description, ''), coalesce(scheduler_type, ''),
          coalesce(transport_type, ''), coalesce(metadata, '{}') FROM old.db_dbcomputer`);
      db.exec(`INSERT INTO db_dbauthinfo (id, aiidauser_id, dbcomputer_id, metadata, auth_params, enabled)
        SELECT id, aiidauser_id, dbcomputer_id, coalesce(metadata, '{}'), coalesce(auth_params, '{}'), coalesce(enabled, 1)
        FROM old.db_dbauthinfo WHERE aiidauser_id IS NOT NULL AND dbcomputer_id IS NOT NULL`);
      db.exec(`INSERT INTO db_dbgroup (id, uuid, label, type_string, time, description, extras, user_id)
        SELECT id, uuid, label, coalesce(type_string, 'core'), coalesce(time, ${now}), coalesce(description, ''),
          coalesce(extras, '{}'), user_id FROM old.db_dbgroup`);
      db.exec(`INSERT INTO db_dbnode (id, uuid, node_type, process_type, label, description, ctime, mtime, attributes,
          extras, repository_metadata, dbcomputer_id, user_id)
        SELECT id, uuid, node_type, process_type, coalesce(label, ''), coalesce(description, ''), coalesce(ctime, ${now}),
          coalesce(mtime, ${now}), attributes, extras, coalesce(repository_metadata, '{}'), dbcomputer_id, user_id
        FROM old.db_dbnode`);
      db.exec(`INSERT INTO db_dbcomment (id, uuid, dbnode_id, ctime, mtime, user_id, content)
        SELECT id, uuid, dbnode_id, coalesce(ctime, ${now}), coalesce(mtime, ${now}), user_id, coalesce(content, '')
        FROM old.db_dbcomment WHERE dbnode_id IS NOT NULL AND user_id IS NOT NULL`);
      db.exec(`INSERT INTO db_dblog (id, uuid, time, loggername, levelname, dbnode_id, message, metadata)
        SELECT id, uuid, coalesce(time, ${now}), coalesce(loggername, ''), coalesce(levelname, ''), dbnode_id,
          coalesce(message, ''), coalesce(metadata, '{}') FROM old.db_dblog`);
      db.exec(`INSERT INTO db_dbgroup_dbnodes (id, dbnode_id, dbgroup_id)
        SELECT id, dbnode_id, dbgroup_id FROM old.db_dbgroup_dbnodes`);
      db.exec(`INSERT INTO db_dblink (id, input_id, output_id, label, type)
        SELECT id, input_id, output_id, label, type FROM old.db_dblink`);
    })();
    db.exec('DETACH DATABASE old');
  } finally {
    db.close();
  }
}

/** Writes a `main_*` archive: metadata and database first, then the repository entries copied from `source`. */
async function writeMainZip(
  file: string,
  metadata: LegacyJson,
  dbPath: string,
  repo: readonly (readonly [string, string])[],
  source: SafeZipReader,
  compression: number,
  listener: ArchiveListener,
): Promise<void> {
  const zip = new yazl.ZipFile();
  const output = createWriteStream(file, { flags: 'wx' });
  const failed = new Promise<never>((_resolve, reject) => {
    zip.on('error', reject);
    output.on('error', reject);
  });
  zip.outputStream.pipe(output);
  zip.addBuffer(Buffer.from(stringifyLossless(metadata) ?? '{}'), META_FILENAME, { compress: false });
  zip.addFile(dbPath, DB_FILENAME, { compressionLevel: compression });
  const progress = progressTicker(listener, 'Copying repository files', repo.length);
  for (const [name, from] of repo) {
    zip.addReadStreamLazy(name, { compressionLevel: compression }, (callback) => {
      source.openStream(from).then(
        (stream) => {
          stream.once('end', () => progress.tick());
          callback(null, stream);
        },
        (error: unknown) => callback(error, undefined as never),
      );
    });
  }
  zip.end();
  await Promise.race([finished(output), failed]);
  progress.done();
}

/** Writes a legacy archive at a newer legacy version: every entry copied, `metadata.json` and `data.json` replaced. */
async function writeLegacyZip(
  source: SafeZipReader,
  file: string,
  metadata: LegacyJson,
  data: LegacyJson,
  compression: number,
): Promise<void> {
  const zip = new yazl.ZipFile();
  const output = createWriteStream(file, { flags: 'wx' });
  const failed = new Promise<never>((_resolve, reject) => {
    zip.on('error', reject);
    output.on('error', reject);
  });
  zip.outputStream.pipe(output);
  zip.addBuffer(Buffer.from(stringifyLossless(metadata) ?? '{}'), META_FILENAME, {
    compressionLevel: compression,
  });
  zip.addBuffer(Buffer.from(stringifyLossless(data) ?? '{}'), LEGACY_DATA_FILENAME, {
    compressionLevel: compression,
  });
  for (const name of source.names()) {
    if (name === META_FILENAME || name === LEGACY_DATA_FILENAME) continue;
    if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else
      zip.addReadStreamLazy(name, { compressionLevel: compression }, (callback) => {
        source.openStream(name).then(
          (stream) => callback(null, stream),
          (error: unknown) => callback(error, undefined as never),
        );
      });
  }
  zip.end();
  await Promise.race([finished(output), failed]);
}
