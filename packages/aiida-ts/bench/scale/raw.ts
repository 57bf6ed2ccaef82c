/**
 * The raw-SQL floor of the scale benchmark: the driver itself (better-sqlite3 prepared statements, or one pg
 * client), with statements cached as any careful program would.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { BuiltProfile } from './build.js';

export interface Raw {
  readonly dialect: 'sqlite' | 'postgres';
  all(text: string, params?: readonly unknown[]): Promise<unknown[][]>;
  /** Streams the rows of `text` (keyset batches on SQLite, a cursor on PostgreSQL) to `onRow`. */
  iterate(text: string, onRow: (row: unknown[]) => void): Promise<void>;
  close(): Promise<void>;
}

export async function openRaw(profile: BuiltProfile): Promise<Raw> {
  if (profile.backend === 'sqlite') {
    const db = new BetterSqlite3(join(String(profile.storage.filepath), 'database.sqlite'), {
      readonly: true,
    });
    const cache = new Map<string, BetterSqlite3.Statement>();
    const prepare = (text: string): BetterSqlite3.Statement => {
      let statement = cache.get(text);
      if (statement === undefined) cache.set(text, (statement = db.prepare(text).raw()));
      return statement;
    };
    return {
      dialect: 'sqlite',
      all: (text, params = []) => Promise.resolve(prepare(text).all(...params) as unknown[][]),
      iterate: (text, onRow) => {
        for (const row of prepare(text).iterate()) onRow(row as unknown[]);
        return Promise.resolve();
      },
      close: () => {
        db.close();
        return Promise.resolve();
      },
    };
  }
  const client = new pg.Client({
    host: '127.0.0.1',
    port: Number(profile.storage.database_port),
    user: String(profile.storage.database_username),
    password: String(profile.storage.database_password),
    database: String(profile.storage.database_name),
  });
  await client.connect();
  let named = 0;
  const names = new Map<string, string>();
  const nameOf = (text: string): string => {
    let name = names.get(text);
    if (name === undefined) names.set(text, (name = `raw_${++named}`));
    return name;
  };
  return {
    dialect: 'postgres',
    all: async (text, params = []) =>
      (await client.query({ name: nameOf(text), text, values: [...params], rowMode: 'array' }))
        .rows as unknown[][],
    iterate: async (text, onRow) => {
      await client.query('begin read only');
      await client.query(`declare raw_cursor no scroll cursor for ${text}`);
      for (;;) {
        const { rows } = await client.query({ text: 'fetch forward 1000 from raw_cursor', rowMode: 'array' });
        for (const row of rows as unknown[][]) onRow(row);
        if (rows.length < 1000) break;
      }
      await client.query('commit');
    },
    close: () => client.end(),
  };
}
