import { randomUUID } from 'node:crypto';
import type { StorageBackend } from '../../../src/storage.js';

/** A user for nodes inserted by the tests (created once per storage). */
export async function ensureUser(
  backend: StorageBackend,
  email = 'qb-tests@aiida.localhost',
): Promise<number> {
  const db = backend.executor();
  const found = await db.selectFrom('db_dbuser').select('id').where('email', '=', email).executeTakeFirst();
  if (found !== undefined) return found.id;
  const row = await db
    .insertInto('db_dbuser')
    .values({ email, first_name: 'Query', last_name: 'Builder', institution: 'tests' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** What a test node needs; everything else gets a neutral default. */
export interface TestNode {
  readonly nodeType?: string;
  readonly processType?: string | null;
  readonly label?: string;
  readonly description?: string;
  readonly attributes?: Record<string, unknown> | null;
  readonly extras?: Record<string, unknown> | null;
  readonly ctime?: Date | string;
  readonly computerId?: number | null;
  readonly uuid?: string;
}

/** Inserts nodes as rows (the ORM's job in production), returning their ids in order. */
export async function insertNodes(backend: StorageBackend, nodes: readonly TestNode[]): Promise<number[]> {
  if (nodes.length === 0) return [];
  const userId = await ensureUser(backend);
  const d = backend.dialect;
  const now = new Date();
  return backend.bulkInsert(
    'db_dbnode',
    nodes.map((node) => ({
      uuid: node.uuid ?? randomUUID(),
      node_type: node.nodeType ?? 'data.core.dict.Dict.',
      process_type: node.processType ?? null,
      label: node.label ?? '',
      description: node.description ?? '',
      ctime: d.encodeTimestamp(node.ctime ?? now),
      mtime: d.encodeTimestamp(node.ctime ?? now),
      attributes: node.attributes === null ? null : d.encodeJson(node.attributes ?? {}),
      extras: node.extras === null ? null : d.encodeJson(node.extras ?? {}),
      repository_metadata: d.encodeJson({}),
      dbcomputer_id: node.computerId ?? null,
      user_id: userId,
    })),
  );
}

/** Inserts provenance links `input --type/label--> output`. */
export async function insertLinks(
  backend: StorageBackend,
  links: readonly {
    readonly input: number;
    readonly output: number;
    readonly type: string;
    readonly label: string;
  }[],
): Promise<void> {
  if (links.length === 0) return;
  await backend.bulkInsert(
    'db_dblink',
    links.map((l) => ({ input_id: l.input, output_id: l.output, type: l.type, label: l.label })),
  );
}
