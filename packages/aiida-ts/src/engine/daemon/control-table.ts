import type { Kysely } from 'kysely';
import { InternalError } from '../../errors.js';
import { z } from 'zod';
import type { StorageBackend } from '../../storage/backend.js';
import type { Database } from '../../storage/schema.js';
import { ControlState } from '../../storage/aiida-ts-schema/daemon-tables.js';
import { withAiidaTsTables } from '../../storage/aiida-ts-schema/schema.js';
import { PREPARED_STATEMENT_MARK } from '../../storage/postgres/prepared-statements.js';
import { dateOf, dbNowValue, epochMs } from './db-time.js';

/** What a control request asks (aiida's intents). */
export const ControlIntent = { PAUSE: 'pause', PLAY: 'play', KILL: 'kill' } as const;
export type ControlIntent = (typeof ControlIntent)[keyof typeof ControlIntent];
export const controlIntentSchema = z.enum([ControlIntent.PAUSE, ControlIntent.PLAY, ControlIntent.KILL]);

/** A pause, play or kill of one process, recorded in the storage and honoured by whoever runs the process next. */
export interface ControlRequest {
  readonly id: number;
  readonly pk: number;
  readonly intent: ControlIntent;
  readonly message: string | null;
  readonly force: boolean;
  readonly state: ControlState;
  /** What happened (`paused`, `killed`, …) or why it failed (`process<5> has already terminated (finished)`). */
  readonly result: string | null;
  readonly requestedAt: Date;
  readonly doneAt: Date | null;
}

/** A request row, checked: a row with an unknown intent (written by something else) is not a request. */
const rowSchema = z.object({
  id: z.coerce.number().int(),
  process_id: z.coerce.number().int(),
  intent: controlIntentSchema,
  message: z.string().nullable(),
  force: z.coerce.number(),
  state: z.enum([ControlState.PENDING, ControlState.DONE, ControlState.FAILED]),
  result: z.string().nullable(),
  requested_at: z.union([z.number(), z.string()]),
  done_at: z.union([z.number(), z.string()]).nullable(),
});

/** A row as a request, or the reason it is malformed. */
export function requestOf(
  row: unknown,
): { ok: true; request: ControlRequest } | { ok: false; id: number | null; reason: string } {
  const parsed = rowSchema.safeParse(row);
  if (!parsed.success) {
    const id = (row as { id?: unknown } | null)?.id;
    return {
      ok: false,
      id: typeof id === 'number' || typeof id === 'string' ? Number(id) : null,
      reason: `malformed control request: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    };
  }
  const data = parsed.data;
  return {
    ok: true,
    request: {
      id: data.id,
      pk: data.process_id,
      intent: data.intent,
      message: data.message,
      force: data.force === 1,
      state: data.state,
      result: data.result,
      requestedAt: new Date(epochMs(data.requested_at)),
      doneAt: dateOf(data.done_at),
    },
  };
}

/** Records a request; resolves to it. */
export async function insertRequest(
  storage: StorageBackend,
  pk: number,
  intent: ControlIntent,
  options: {
    readonly message: string | null;
    readonly force: boolean;
    readonly state?: ControlState;
    readonly result?: string | null;
  },
): Promise<ControlRequest> {
  const now = dbNowValue(storage.dialect);
  const row = await withAiidaTsTables(storage.executor())
    .insertInto('aiida_ts_control')
    .values({
      process_id: pk,
      intent,
      message: options.message,
      force: options.force ? 1 : 0,
      state: options.state ?? ControlState.PENDING,
      result: options.result ?? null,
      requested_at: now,
      done_at: options.state === undefined || options.state === ControlState.PENDING ? null : now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const parsed = requestOf(row);
  if (!parsed.ok) throw new InternalError(parsed.reason);
  return parsed.request;
}

/** The pending requests of these processes (every pending one when `pks` is undefined), oldest first. */
export async function pendingRequests(
  db: Kysely<Database>,
  pks?: readonly number[],
): Promise<{
  readonly requests: ControlRequest[];
  readonly malformed: { id: number | null; reason: string }[];
}> {
  if (pks !== undefined && pks.length === 0) return { requests: [], malformed: [] };
  let query = withAiidaTsTables(db)
    .selectFrom('aiida_ts_control')
    .selectAll()
    .where('state', '=', ControlState.PENDING)
    .orderBy('id');
  if (pks !== undefined) query = query.where('process_id', 'in', [...pks]);
  // one process (a worker's look when a process ends or is claimed): the same text every time, which PostgreSQL
  // prepares once per connection (the mark is a comment, so SQLite runs it as it is)
  const compiled = query.compile();
  const { rows } = await db.executeQuery(
    pks?.length === 1 ? { ...compiled, sql: `${PREPARED_STATEMENT_MARK}${compiled.sql}` } : compiled,
  );
  const requests: ControlRequest[] = [];
  const malformed: { id: number | null; reason: string }[] = [];
  for (const row of rows) {
    const parsed = requestOf(row);
    if (parsed.ok) requests.push(parsed.request);
    else malformed.push({ id: parsed.id, reason: parsed.reason });
  }
  return { requests, malformed };
}

/** Reads requests by id. */
export async function readRequests(db: Kysely<Database>, ids: readonly number[]): Promise<ControlRequest[]> {
  if (ids.length === 0) return [];
  const rows = await withAiidaTsTables(db)
    .selectFrom('aiida_ts_control')
    .selectAll()
    .where('id', 'in', [...ids])
    .execute();
  return rows.flatMap((row) => {
    const parsed = requestOf(row);
    return parsed.ok ? [parsed.request] : [];
  });
}

/** Settles requests (still pending) with `state` and `result`. */
export async function settleRequests(
  storage: StorageBackend,
  ids: readonly number[],
  state: typeof ControlState.DONE | typeof ControlState.FAILED,
  result: string,
  db: Kysely<Database> = storage.executor(),
): Promise<void> {
  if (ids.length === 0) return;
  await withAiidaTsTables(db)
    .updateTable('aiida_ts_control')
    .set({ state, result, done_at: dbNowValue(storage.dialect) })
    .where('id', 'in', [...ids])
    .where('state', '=', ControlState.PENDING)
    .execute();
}
