import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, startPrivatePostgres, type PrivatePostgres } from '../src/index.js';

let pg: PrivatePostgres;

beforeAll(async () => {
  pg = await startPrivatePostgres({ settings: { max_connections: 20 } });
});

afterAll(async () => {
  await pg?.dispose();
});

describe('a private PostgreSQL cluster', () => {
  it('runs on its own port with the settings asked for, and creates databases', async () => {
    expect(pg.port).not.toBe(5432);
    expect((await pg.psql('SHOW max_connections')).trim()).toBe('20');
    const database = await pg.createDatabase();
    expect((await pg.psql('SELECT current_database()', database)).trim()).toBe(database);
  });

  it('keeps its data across a stop and a crash, on the same port', async () => {
    const database = await pg.createDatabase();
    await pg.psql('CREATE TABLE kept (value int); INSERT INTO kept VALUES (42)', database);
    const first = pg.pid!;
    await pg.stop();
    expect(isAlive(first)).toBe(false);
    expect(pg.pid).toBeUndefined();
    await pg.start();
    expect((await pg.psql('SELECT value FROM kept', database)).trim()).toBe('42');
    const second = pg.pid!;
    await pg.crash();
    expect(isAlive(second)).toBe(false);
    await pg.start();
    expect((await pg.psql('SELECT value FROM kept', database)).trim()).toBe('42');
    expect(await pg.log()).toMatch(/database system was interrupted|not properly shut down/u);
  });
});
