import { describe, expect, it } from 'vitest';
import { SqliteTempStorage } from '../../src/storage/sqlite/sqlite-temp.js';

/** SQLite's single connection, locked by the backend itself when it is free (see `HeldConnectionDriver`). */
describe('SQLite connection lock', () => {
  const user = (email: string) => ({ email, first_name: '', last_name: '', institution: '' });

  it('makes a query outside the transaction wait for its commit, and the next transaction too', async () => {
    const storage = await new SqliteTempStorage().open();
    try {
      // the first transaction takes the connection through Kysely; those after it lock it directly
      await storage.transaction((trx) => trx.insertInto('db_dbuser').values(user('first@x')).execute());
      const order: string[] = [];
      let reachedInside!: () => void;
      const inside = new Promise<void>((resolve) => (reachedInside = resolve));
      let finish!: () => void;
      const held = new Promise<void>((resolve) => (finish = resolve));
      const writer = storage.transaction(async (trx) => {
        await trx.insertInto('db_dbuser').values(user('held@x')).execute();
        reachedInside();
        await held;
        order.push('writer committed');
      });
      await inside;
      // through Kysely's own connection provider: it must queue behind the open transaction
      const outside = storage
        .executor()
        .selectFrom('db_dbuser')
        .select('email')
        .execute()
        .then((rows) => {
          order.push('outside read');
          return rows.map((r) => r.email);
        });
      const second = storage.transaction(async (trx) => {
        order.push('second began');
        await trx.insertInto('db_dbuser').values(user('second@x')).execute();
      });
      finish();
      await Promise.all([writer, second]);
      // the reader waited for the commit and saw its row, never the uncommitted state
      expect(await outside).toContain('held@x');
      // neither the read nor the second transaction got the connection before the commit
      expect(order[0]).toBe('writer committed');
      expect([...order].sort()).toEqual(['outside read', 'second began', 'writer committed']);
    } finally {
      await storage.close();
    }
  });

  it('frees the connection after a transaction that fails', async () => {
    const storage = await new SqliteTempStorage().open();
    try {
      await storage.transaction((trx) => trx.insertInto('db_dbuser').values(user('a@x')).execute());
      await expect(
        storage.transaction(async (trx) => {
          await trx.insertInto('db_dbuser').values(user('b@x')).execute();
          throw new Error('step failed');
        }),
      ).rejects.toThrow('step failed');
      await storage.transaction((trx) => trx.insertInto('db_dbuser').values(user('c@x')).execute());
      const emails = await storage.executor().selectFrom('db_dbuser').select('email').execute();
      expect(emails.map((r) => r.email).filter((e) => e.endsWith('@x'))).toEqual(['a@x', 'c@x']);
    } finally {
      await storage.close();
    }
  });
});
