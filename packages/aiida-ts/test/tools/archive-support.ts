import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { parse as parseLossless } from 'lossless-json';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { StorageBackend } from '../../src/storage/backend.js';
import { ArchiveReader } from '../../src/tools/archive/archive-reader.js';
import { selectAllProfileRows } from '../../src/tools/archive/profile-rows.js';

/** aiida-core 2.8 archives and what aiida-core read from them (see the README in that folder). */
export const FIXTURES = '/work/shared/fixtures/aiida-archives';
export const FIXTURE_NAMES = ['calcfunctions', 'workchains', 'data_types', 'calcjob'] as const;
export const LEGACY_NAMES = ['0.4', '0.9', '0.13', 'main_0000', 'main_0001'] as const;

/** A JSON document parsed with every number kept as written (`2.0` stays distinct from `2`). */
export const lossless = (text: string): unknown => parseLossless(text);

/** The expected.json of a fixture, parsed losslessly (floats as written by Python). */
export function readExpected(file: string): Expected {
  return lossless(readFileSync(file, 'utf8')) as Expected;
}

export interface ExpectedNode {
  uuid: string;
  node_type: string;
  process_type: string | null;
  label: string;
  description: string;
  ctime: string;
  mtime: string;
  user_email: string;
  computer_uuid: string | null;
  attributes: Record<string, unknown>;
  extras: Record<string, unknown>;
  repository_metadata: Record<string, unknown>;
  repository_files: { path: string; size: unknown; sha256: string }[];
}

export interface Expected {
  users: { email: string; first_name: string; last_name: string; institution: string }[];
  computers: {
    uuid: string;
    label: string;
    hostname: string;
    description: string;
    transport_type: string;
    scheduler_type: string;
    metadata: Record<string, unknown>;
  }[];
  nodes: ExpectedNode[];
  links: { source: string; target: string; type: string; label: string }[];
  groups: {
    uuid: string;
    label: string;
    type_string: string;
    description: string;
    user_email: string;
    time: string;
    extras: Record<string, unknown>;
    node_uuids: string[];
  }[];
  comments: {
    uuid: string;
    node_uuid: string;
    content: string;
    ctime: string;
    mtime: string;
    user_email: string;
  }[];
  logs: {
    uuid: string;
    node_uuid: string;
    time: string;
    loggername: string;
    levelname: string;
    message: string;
    metadata: Record<string, unknown>;
  }[];
  migrated_content?: Expected | null;
}

/** `2026-11-25 05:48:32.239461` (archive/SQLite text) as the ISO form expected.json uses. */
export const iso = (value: unknown): string =>
  `${String(value)
    .replace(' ', 'T')
    .replace(/\+00(:00)?$/, '')
    .replace(/\.000000$/, '')}+00:00`;

const withoutPrivateExtras = (extras: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(extras).filter(([key]) => !key.startsWith('_aiida_')));

/** Every row of a profile as the archive encodes it (JSON as text), by table. */
export async function dumpProfile(
  storage: StorageBackend,
): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const table of [
    'db_dbuser',
    'db_dbcomputer',
    'db_dbauthinfo',
    'db_dbgroup',
    'db_dbnode',
    'db_dbcomment',
    'db_dblog',
    'db_dbgroup_dbnodes',
    'db_dblink',
  ] as const) {
    out[table] = [];
    for await (const rows of selectAllProfileRows(storage, table, 10_000)) out[table].push(...rows);
  }
  return out;
}

/** Compares a profile's content with a fixture's expected.json, field by field, and the file contents. */
export async function expectProfileHolds(storage: StorageBackend, expected: Expected): Promise<void> {
  const dump = await dumpProfile(storage);
  const users = new Map(dump['db_dbuser']!.map((row) => [row['id'], row]));
  const computers = new Map(dump['db_dbcomputer']!.map((row) => [row['id'], row]));
  const nodesByUuid = new Map(dump['db_dbnode']!.map((row) => [row['uuid'], row]));
  const uuidOf = new Map(dump['db_dbnode']!.map((row) => [row['id'], row['uuid']]));
  for (const user of expected.users) {
    const row = [...users.values()].find((candidate) => candidate['email'] === user.email);
    expect(row, user.email).toMatchObject(user);
  }
  for (const computer of expected.computers) {
    const row = dump['db_dbcomputer']!.find((candidate) => candidate['uuid'] === computer.uuid);
    expect(row, computer.uuid).toBeDefined();
    const { metadata, label: _label, ...rest } = computer;
    expect({ ...row, metadata: lossless(String(row!['metadata'])) }).toMatchObject({ ...rest, metadata });
  }
  expect(nodesByUuid.size).toBeGreaterThanOrEqual(expected.nodes.length);
  for (const node of expected.nodes) {
    const row = nodesByUuid.get(node.uuid);
    expect(row, node.uuid).toBeDefined();
    const computer = row!['dbcomputer_id'] === null ? null : computers.get(row!['dbcomputer_id'])?.['uuid'];
    expect({
      uuid: row!['uuid'],
      node_type: row!['node_type'],
      process_type: row!['process_type'],
      label: row!['label'],
      description: row!['description'],
      ctime: iso(row!['ctime']),
      mtime: iso(row!['mtime']),
      user_email: users.get(row!['user_id'])?.['email'],
      computer_uuid: computer ?? null,
      attributes: lossless(String(row!['attributes'])),
      extras: lossless(String(row!['extras'])),
      repository_metadata: JSON.parse(String(row!['repository_metadata'])) as unknown,
    }).toEqual({
      uuid: node.uuid,
      node_type: node.node_type,
      process_type: node.process_type,
      label: node.label,
      description: node.description,
      ctime: node.ctime,
      mtime: node.mtime,
      user_email: node.user_email,
      computer_uuid: node.computer_uuid,
      attributes: node.attributes,
      extras: withoutPrivateExtras(node.extras),
      repository_metadata: node.repository_metadata,
    });
    const metadata = JSON.parse(String(row!['repository_metadata'])) as Record<string, unknown>;
    for (const file of node.repository_files) {
      let entry: unknown = metadata;
      for (const part of file.path.split('/')) entry = (entry as { o: Record<string, unknown> }).o[part];
      const key = (entry as { k: string }).k;
      const content = await storage.repository.getObjectContent(key);
      expect(createHash('sha256').update(content).digest('hex'), `${node.uuid}/${file.path}`).toBe(
        file.sha256,
      );
    }
  }
  const links = dump['db_dblink']!.map((row) => ({
    source: uuidOf.get(row['input_id']),
    target: uuidOf.get(row['output_id']),
    type: row['type'],
    label: row['label'],
  }));
  for (const link of expected.links) expect(links).toContainEqual(link);
  for (const group of expected.groups) {
    const row = dump['db_dbgroup']!.find((candidate) => candidate['uuid'] === group.uuid);
    expect(row, group.uuid).toBeDefined();
    const members = dump['db_dbgroup_dbnodes']!.filter((m) => m['dbgroup_id'] === row!['id']).map((m) =>
      uuidOf.get(m['dbnode_id']),
    );
    expect({
      uuid: row!['uuid'],
      label: row!['label'],
      type_string: row!['type_string'],
      description: row!['description'],
      user_email: users.get(row!['user_id'])?.['email'],
      time: iso(row!['time']),
      extras: lossless(String(row!['extras'])),
      node_uuids: members.sort(),
    }).toEqual({ ...group, node_uuids: [...group.node_uuids].sort() });
  }
  for (const comment of expected.comments) {
    const row = dump['db_dbcomment']!.find((candidate) => candidate['uuid'] === comment.uuid);
    expect({
      uuid: row?.['uuid'],
      node_uuid: uuidOf.get(row?.['dbnode_id']),
      content: row?.['content'],
      ctime: iso(row?.['ctime']),
      mtime: iso(row?.['mtime']),
      user_email: users.get(row?.['user_id'])?.['email'],
    }).toEqual(comment);
  }
  for (const log of expected.logs) {
    const row = dump['db_dblog']!.find((candidate) => candidate['uuid'] === log.uuid);
    expect({
      uuid: row?.['uuid'],
      node_uuid: uuidOf.get(row?.['dbnode_id']),
      time: iso(row?.['time']),
      loggername: row?.['loggername'],
      levelname: row?.['levelname'],
      message: row?.['message'],
      metadata: lossless(String(row?.['metadata'])),
    }).toEqual(log);
  }
}

/** The rows of an archive's database by table, keyed for comparison across archives (ids replaced by uuids). */
export async function archiveContent(file: string): Promise<{
  rows: Record<string, unknown[]>;
  objects: Map<string, string>;
}> {
  const reader = await ArchiveReader.open(file);
  try {
    const db: BetterSqlite3.Database = await reader.database();
    const nodeUuid = new Map(
      (db.prepare('SELECT id, uuid FROM db_dbnode').all() as { id: number; uuid: string }[]).map((r) => [
        r.id,
        r.uuid,
      ]),
    );
    const groupUuid = new Map(
      (db.prepare('SELECT id, uuid FROM db_dbgroup').all() as { id: number; uuid: string }[]).map((r) => [
        r.id,
        r.uuid,
      ]),
    );
    const userEmail = new Map(
      (db.prepare('SELECT id, email FROM db_dbuser').all() as { id: number; email: string }[]).map((r) => [
        r.id,
        r.email,
      ]),
    );
    const computerUuid = new Map(
      (db.prepare('SELECT id, uuid FROM db_dbcomputer').all() as { id: number; uuid: string }[]).map((r) => [
        r.id,
        r.uuid,
      ]),
    );
    const json = (value: unknown): unknown => (typeof value === 'string' ? lossless(value) : null);
    const rows: Record<string, unknown[]> = {
      users: db
        .prepare('SELECT email, first_name, last_name, institution FROM db_dbuser ORDER BY email')
        .all(),
      computers: (
        db.prepare('SELECT * FROM db_dbcomputer ORDER BY uuid').all() as Record<string, unknown>[]
      ).map(({ id: _id, metadata, ...rest }) => ({ ...rest, metadata: json(metadata) })),
      nodes: (db.prepare('SELECT * FROM db_dbnode ORDER BY uuid').all() as Record<string, unknown>[]).map(
        ({ id: _id, attributes, extras, repository_metadata, user_id, dbcomputer_id, ...rest }) => ({
          ...rest,
          attributes: json(attributes),
          extras: withoutPrivateExtras((json(extras) ?? {}) as Record<string, unknown>),
          repository_metadata: json(repository_metadata),
          user: userEmail.get(user_id as number),
          computer: dbcomputer_id === null ? null : computerUuid.get(dbcomputer_id as number),
        }),
      ),
      links: (
        db.prepare('SELECT input_id, output_id, label, type FROM db_dblink').all() as Record<string, number>[]
      )
        .map(
          (row) =>
            `${nodeUuid.get(row['input_id']!)} ${row['type']} ${row['label']} ${nodeUuid.get(row['output_id']!)}`,
        )
        .sort(),
      groups: (db.prepare('SELECT * FROM db_dbgroup ORDER BY uuid').all() as Record<string, unknown>[]).map(
        ({ id: _id, extras, user_id, ...rest }) => ({
          ...rest,
          extras: json(extras),
          user: userEmail.get(user_id as number),
        }),
      ),
      members: (
        db.prepare('SELECT dbgroup_id, dbnode_id FROM db_dbgroup_dbnodes').all() as Record<string, number>[]
      )
        .map((row) => `${groupUuid.get(row['dbgroup_id']!)} ${nodeUuid.get(row['dbnode_id']!)}`)
        .sort(),
      comments: (
        db.prepare('SELECT * FROM db_dbcomment ORDER BY uuid').all() as Record<string, unknown>[]
      ).map(({ id: _id, dbnode_id, user_id, ...rest }) => ({
        ...rest,
        node: nodeUuid.get(dbnode_id as number),
        user: userEmail.get(user_id as number),
      })),
      logs: (db.prepare('SELECT * FROM db_dblog ORDER BY uuid').all() as Record<string, unknown>[]).map(
        ({ id: _id, dbnode_id, metadata, ...rest }) => ({
          ...rest,
          node: nodeUuid.get(dbnode_id as number),
          metadata: json(metadata),
        }),
      ),
    };
    const objects = new Map<string, string>();
    for (const key of reader.objectKeys()) {
      const hash = createHash('sha256');
      for await (const chunk of await reader.openObject(key)) hash.update(chunk as Buffer);
      objects.set(key, hash.digest('hex'));
    }
    return { rows, objects };
  } finally {
    await reader.close();
  }
}

/** Row counts of every table and the sorted uuids of every node: what must not change when an import fails. */
export async function snapshot(storage: StorageBackend): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const table of [
    'db_dbuser',
    'db_dbcomputer',
    'db_dbnode',
    'db_dblink',
    'db_dbgroup',
    'db_dbgroup_dbnodes',
    'db_dbcomment',
    'db_dblog',
  ]) {
    const result = await sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(
      storage.executor(),
    );
    out[table] = Number(result.rows[0]!.n);
  }
  return out;
}

export const fixture = (name: string): string => path.join(FIXTURES, `${name}.aiida`);
export const legacyFixture = (version: string): string =>
  path.join(FIXTURES, 'legacy', `export_${version}_simple.aiida`);
