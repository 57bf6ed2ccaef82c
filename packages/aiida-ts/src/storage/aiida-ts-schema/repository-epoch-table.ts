import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { AiidaTsColumnTypes } from './migrations.js';

/**
 * The DDL of migration `aiida_ts_0003`: the repository epoch's one row (see `repository-epoch.ts`), starting at 0,
 * with the column types `t` of the database's dialect.
 */
export async function createRepositoryEpochTable(db: Kysely<Database>, t: AiidaTsColumnTypes): Promise<void> {
  await sql
    .raw(
      `CREATE TABLE aiida_ts_repository_epoch (
        id ${t.integer} NOT NULL PRIMARY KEY,
        epoch ${t.bigint} NOT NULL
      )`,
    )
    .execute(db);
  await sql`INSERT INTO aiida_ts_repository_epoch (id, epoch) VALUES (1, 0)`.execute(db);
}
