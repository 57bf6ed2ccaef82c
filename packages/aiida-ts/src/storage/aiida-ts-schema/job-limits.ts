import { z } from 'zod';
import { NotExistentError, UniquenessError, ValidationError } from '../../errors.js';
import type { StorageBackend } from '../backend.js';
import { aiidaTsTablesReadable, ensureAiidaTsSchema } from './schema-state.js';
import { withAiidaTsTables, type AiidaTsKysely } from './schema.js';

/**
 * The limits on job slots that hold across every process of a profile: a cap on the jobs a computer may have with
 * its scheduler at once (pool `computer:<uuid>`), and named quotas shared by several computers (pool
 * `quota:<name>`). Stored in the aiida-ts tables, never in a computer's `metadata`, so aiida-core sees nothing
 * new. The Coordinator (`aiida-ts/engine`) grants the slots; this module only keeps the configuration.
 */

/** A quota's name: letters, digits and `_ . - + @`, starting with a letter or digit, at most 255 characters. */
export const QuotaNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.+@-]{0,254}$/,
    'a quota name is letters, digits and `_ . - + @`, starting with a letter or digit (at most 255 characters)',
  );

const UuidSchema = z.uuid({ error: 'not a uuid' });

/** A limit on job slots: a positive integer, or null for no limit. */
export const JobLimitSchema = z
  .number({ error: 'the limit must be a number' })
  .int('the limit must be a whole number')
  .positive('the limit must be at least 1')
  .nullable();

/** The pool of a computer's own cap on queued jobs. */
export function computerPool(computerUuid: string): string {
  return `computer:${parseOrThrow(UuidSchema, computerUuid, 'computer uuid')}`;
}

/** The pool of a named quota. */
export function quotaPool(name: string): string {
  return `quota:${parseOrThrow(QuotaNameSchema, name, 'quota name')}`;
}

/** What a pool name means. */
export type PoolRef =
  | { readonly kind: 'computer'; readonly computerUuid: string }
  | { readonly kind: 'quota'; readonly name: string };

/** Reads a pool name (`computer:<uuid>` or `quota:<name>`); `ValidationError` naming what is wrong otherwise. */
export function parsePool(pool: string): PoolRef {
  const colon = pool.indexOf(':');
  const kind = pool.slice(0, colon);
  const rest = pool.slice(colon + 1);
  if (colon > 0 && kind === 'computer') {
    return { kind, computerUuid: parseOrThrow(UuidSchema, rest, `computer uuid of pool \`${pool}\``) };
  }
  if (colon > 0 && kind === 'quota') {
    return { kind, name: parseOrThrow(QuotaNameSchema, rest, `quota name of pool \`${pool}\``) };
  }
  throw new ValidationError(`invalid pool \`${pool}\`: expected \`computer:<uuid>\` or \`quota:<name>\``);
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const reason = result.error.issues.map((issue) => issue.message).join('; ');
  throw new ValidationError(`invalid ${what} \`${String(value)}\`: ${reason}`);
}

/** Checks a limit given from outside (`null` = no limit). */
export function parseJobLimit(limit: unknown): number | null {
  return parseOrThrow(JobLimitSchema, limit, 'limit on queued jobs');
}

/** A pool as configured: its limit and, for a quota, its description and computers. */
export interface PoolConfig {
  readonly pool: string;
  /** Null: no limit. */
  readonly limit: number | null;
  readonly description: string;
  /** For a quota: the uuids of its computers. Empty for a computer pool. */
  readonly computers: readonly string[];
}

async function readable(backend: StorageBackend): Promise<AiidaTsKysely | null> {
  return (await aiidaTsTablesReadable(backend)) ? withAiidaTsTables(backend.executor()) : null;
}

/** The limit of `pool`, null when it has none. Only reads. */
export async function getPoolLimit(backend: StorageBackend, pool: string): Promise<number | null> {
  parsePool(pool);
  const db = await readable(backend);
  if (db === null) return null;
  const row = await db
    .selectFrom('aiida_ts_pool')
    .select('max_jobs')
    .where('name', '=', pool)
    .executeTakeFirst();
  return row?.max_jobs ?? null;
}

/**
 * Sets the limit of `pool` (null: no limit). A computer pool without a limit is forgotten; a quota is created when
 * missing and keeps existing (with no limit) when its limit is unset.
 */
export async function setPoolLimit(
  backend: StorageBackend,
  pool: string,
  limit: number | null,
): Promise<void> {
  const ref = parsePool(pool);
  const value = parseJobLimit(limit);
  await ensureAiidaTsSchema(backend);
  const now = Date.now();
  await backend.transaction(async (trx) => {
    const db = withAiidaTsTables(trx);
    if (value === null && ref.kind === 'computer') {
      await db.deleteFrom('aiida_ts_pool').where('name', '=', pool).execute();
      return;
    }
    await db
      .insertInto('aiida_ts_pool')
      .values({ name: pool, max_jobs: value, description: '', created_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ max_jobs: value }))
      .execute();
  });
}

/** Options of {@link createQuota}. */
export interface CreateQuotaOptions {
  /** Null or absent: no limit (yet). */
  readonly limit?: number | null;
  readonly description?: string;
  /** Uuids of the computers that count against it. */
  readonly computers?: readonly string[];
}

/** Creates the quota `name`; `UniquenessError` when it exists. */
export async function createQuota(
  backend: StorageBackend,
  name: string,
  options: CreateQuotaOptions = {},
): Promise<void> {
  const pool = quotaPool(name);
  const limit = parseJobLimit(options.limit ?? null);
  const computers = (options.computers ?? []).map((uuid) => parseOrThrow(UuidSchema, uuid, 'computer uuid'));
  await ensureAiidaTsSchema(backend);
  await backend.transaction(async (trx) => {
    const db = withAiidaTsTables(trx);
    const existing = await db
      .selectFrom('aiida_ts_pool')
      .select('name')
      .where('name', '=', pool)
      .executeTakeFirst();
    if (existing !== undefined) throw new UniquenessError(`a quota named \`${name}\` already exists`);
    await db
      .insertInto('aiida_ts_pool')
      .values({ name: pool, max_jobs: limit, description: options.description ?? '', created_at: Date.now() })
      .execute();
    for (const uuid of new Set(computers)) {
      await db.insertInto('aiida_ts_quota_member').values({ quota: pool, computer_uuid: uuid }).execute();
    }
  });
}

/**
 * Runs `fn` in a transaction on the existing quota `name` (its pool); `NotExistentError` when there is no such quota
 * (without creating the tables when there are none).
 */
async function onQuota(
  backend: StorageBackend,
  name: string,
  fn: (db: AiidaTsKysely, pool: string) => Promise<void>,
): Promise<void> {
  const pool = quotaPool(name);
  const missing = () => new NotExistentError(`no quota named \`${name}\``);
  if ((await readable(backend)) === null) throw missing();
  await backend.transaction(async (trx) => {
    const db = withAiidaTsTables(trx);
    const row = await db
      .selectFrom('aiida_ts_pool')
      .select('name')
      .where('name', '=', pool)
      .executeTakeFirst();
    if (row === undefined) throw missing();
    await fn(db, pool);
  });
}

/**
 * Deletes the quota `name` and its memberships; `NotExistentError` when it does not exist. Slots already granted
 * in it stay with their holders until released, but no longer limit anything.
 */
export async function deleteQuota(backend: StorageBackend, name: string): Promise<void> {
  await onQuota(backend, name, async (db, pool) => {
    await db.deleteFrom('aiida_ts_quota_member').where('quota', '=', pool).execute();
    await db.deleteFrom('aiida_ts_pool').where('name', '=', pool).execute();
  });
}

/** Makes the computer count against the quota (no-op when it does); `NotExistentError` for an unknown quota. */
export async function addComputerToQuota(
  backend: StorageBackend,
  name: string,
  computerUuid: string,
): Promise<void> {
  const uuid = parseOrThrow(UuidSchema, computerUuid, 'computer uuid');
  await onQuota(backend, name, async (db, pool) => {
    await db
      .insertInto('aiida_ts_quota_member')
      .values({ quota: pool, computer_uuid: uuid })
      .onConflict((oc) => oc.columns(['quota', 'computer_uuid']).doNothing())
      .execute();
  });
}

/** Stops the computer counting against the quota; `NotExistentError` for an unknown quota or a non-member. */
export async function removeComputerFromQuota(
  backend: StorageBackend,
  name: string,
  computerUuid: string,
): Promise<void> {
  const uuid = parseOrThrow(UuidSchema, computerUuid, 'computer uuid');
  await onQuota(backend, name, async (db, pool) => {
    const result = await db
      .deleteFrom('aiida_ts_quota_member')
      .where('quota', '=', pool)
      .where('computer_uuid', '=', uuid)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) {
      throw new NotExistentError(`the computer ${uuid} does not count against the quota \`${name}\``);
    }
  });
}

/** The names of the quotas the computer counts against, sorted. Only reads. */
export async function quotasOfComputer(backend: StorageBackend, computerUuid: string): Promise<string[]> {
  const uuid = parseOrThrow(UuidSchema, computerUuid, 'computer uuid');
  if (!(await aiidaTsTablesReadable(backend))) return [];
  // fixed text, prepared once: every job reads its computer's quotas when it submits
  const rows = await backend.executeRead<{ quota: string }>(
    'SELECT quota FROM aiida_ts_quota_member WHERE computer_uuid = $1 ORDER BY quota',
    [uuid],
  );
  return rows.map((row) => row.quota.slice('quota:'.length));
}

/**
 * The pools a job on the computer counts against: its own (`computer:<uuid>`) and those of its quotas. Only reads.
 */
export async function poolsForComputer(backend: StorageBackend, computerUuid: string): Promise<string[]> {
  const quotas = await quotasOfComputer(backend, computerUuid);
  return [computerPool(computerUuid), ...quotas.map((name) => `quota:${name}`)];
}

/** Every configured pool (computer caps and quotas), sorted by name. Only reads. */
export async function listPools(backend: StorageBackend): Promise<PoolConfig[]> {
  const db = await readable(backend);
  if (db === null) return [];
  const pools = await db.selectFrom('aiida_ts_pool').selectAll().orderBy('name').execute();
  const members = await db.selectFrom('aiida_ts_quota_member').selectAll().orderBy('computer_uuid').execute();
  return pools.map((row) => ({
    pool: row.name,
    limit: row.max_jobs,
    description: row.description,
    computers: members.filter((member) => member.quota === row.name).map((member) => member.computer_uuid),
  }));
}

/** The configuration of the quota `name`; `NotExistentError` when it does not exist. Only reads. */
export async function getQuota(backend: StorageBackend, name: string): Promise<PoolConfig> {
  const pool = quotaPool(name);
  const found = (await listPools(backend)).find((config) => config.pool === pool);
  if (found === undefined) throw new NotExistentError(`no quota named \`${name}\``);
  return found;
}

/** Forgets the computer's cap and its quota memberships (when the computer is deleted). */
export async function deleteComputerLimits(backend: StorageBackend, computerUuid: string): Promise<void> {
  if ((await readable(backend)) === null) return;
  const pool = computerPool(computerUuid);
  await backend.transaction(async (trx) => {
    const db = withAiidaTsTables(trx);
    await db.deleteFrom('aiida_ts_pool').where('name', '=', pool).execute();
    await db.deleteFrom('aiida_ts_quota_member').where('computer_uuid', '=', computerUuid).execute();
  });
}
