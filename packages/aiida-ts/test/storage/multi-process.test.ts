import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { sqliteDosConfig } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

function runWriter(filepath: string, id: number, count: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsxLoader,
        path.join(here, 'scripts', 'concurrent-writer.ts'),
        filepath,
        String(id),
        String(count),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`writer ${id} exited with ${code}: ${err}`)),
    );
  });
}

describe('core.sqlite_dos shared by several OS processes', () => {
  it('loses no node and no link when writers store concurrently', { timeout: 180_000 }, async () => {
    const plugin = new SqliteDosStorage();
    const { config, cleanup } = await sqliteDosConfig();
    try {
      await plugin.initialise(config);
      const writers = 4;
      const perWriter = 150;
      const outputs = await Promise.all(
        Array.from({ length: writers }, (_, id) => runWriter(config.filepath, id, perWriter)),
      );
      outputs.forEach((out, id) => expect(out).toContain(`writer ${id} done`));

      const storage = await plugin.open(config);
      const d = storage.dialect;
      const rows = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select((eb) => ['label', eb.fn.countAll().as('n')])
        .groupBy('label')
        .execute();
      const counts = Object.fromEntries(rows.map((r) => [r.label, d.decodeInteger(r.n)]));
      const graphs = perWriter / 10;
      for (let id = 0; id < writers; id += 1) {
        expect(counts[`w${id}`]).toBe(perWriter);
        expect(counts[`w${id}-in`]).toBe(graphs);
        expect(counts[`w${id}-calc`]).toBe(graphs);
        expect(counts[`w${id}-out`]).toBe(graphs);
      }
      const links = await storage.executor().selectFrom('db_dblink').select(['type']).execute();
      expect(links.filter((l) => l.type === 'input_calc')).toHaveLength(writers * graphs);
      expect(links.filter((l) => l.type === 'create')).toHaveLength(writers * graphs);
      // every writer's default user is the same row
      expect(await storage.executor().selectFrom('db_dbuser').select('email').execute()).toEqual([
        { email: 'writer@aiida.localhost' },
      ]);
      await storage.close();
    } finally {
      await cleanup();
    }
  });
});
