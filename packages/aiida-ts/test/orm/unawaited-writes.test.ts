import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidOperationError, ValidationError } from '../../src/errors.js';
import { Group } from '../../src/orm/entities/group.js';
import { Dict, Int } from '../../src/orm/nodes/data/base.js';
import { loadNode } from '../../src/orm/loaders.js';
import type { StorageBackend, StoragePlugin } from '../../src/storage/backend.js';
import { PsqlDosStorage } from '../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { psqlDosConfig, sqliteDosConfig, TEST_USER_EMAIL } from '../storage/helpers.js';

/** Process warnings of `type` emitted while `fn` runs. */
async function warningsDuring(type: string, fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (warning: Error): void => {
    if (warning.name === type) seen.push(warning.message);
  };
  process.on('warning', listener);
  try {
    await fn();
    // warnings are emitted on the next tick
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

describe('writes on nodes cannot be lost by a forgotten await', () => {
  it('on an unstored node, extras change at once and a bad value throws in the call', () => {
    const node = new Dict({ a: 1 });
    void node.extras.set('color', 'red');
    expect(node.extras.get('color')).toBe('red');
    expect(() => node.extras.set('bad', Number.NaN)).toThrow(ValidationError);
    expect(node.extras.has('bad')).toBe(false);
    void node.extras.delete('color');
    expect(node.extras.keys()).toEqual([]);
    expect(() => node.extras.delete('missing')).toThrow(/extra `missing` does not exist/);
    // real Promises, so that typescript-eslint's no-floating-promises flags a forgotten await
    expectTypeOf(node.extras.set('k', 1)).toEqualTypeOf<Promise<void>>();
    expectTypeOf(node.setLabel('x')).toEqualTypeOf<Promise<void>>();
    expect(node.extras.set('k', 1)).toBeInstanceOf(Promise);
  });

  for (const [name, plugin, config] of [
    ['core.sqlite_dos', new SqliteDosStorage(), sqliteDosConfig],
    ['core.psql_dos', new PsqlDosStorage(), psqlDosConfig],
  ] as [string, StoragePlugin<unknown>, () => Promise<{ config: unknown; cleanup: () => Promise<void> }>][]) {
    it(`on ${name}: unawaited writes on stored nodes and groups are finished before the storage closes, with a warning`, async () => {
      const { config: storageConfig, cleanup } = await config();
      try {
        await plugin.initialise(storageConfig);
        let storage: StorageBackend = await plugin.open(storageConfig, { defaultUserEmail: TEST_USER_EMAIL });
        const node = await new Int(5, { storage }).store();
        const group = await new Group({ label: 'unawaited' }, { storage }).store();
        const warnings = await warningsDuring('UnawaitedWriteWarning', async () => {
          // the script of the report: no await, then the end of the script closes the storage
          void node.extras.set('forgotten', { deep: [1, 2] });
          void node.setDescription('also forgotten');
          void group.extras.set('forgotten', true);
          // readable at once, before the database has it
          expect(node.extras.get('forgotten')).toEqual({ deep: [1, 2] });
          expect(node.description).toBe('also forgotten');
          await storage.close();
        });
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/3 write\(s\) were still running when the storage .* was closed/);
        expect(warnings[0]).toContain(`extras of node<${node.pk}>`);
        expect(warnings[0]).toContain(`extras of group<${group.pk}>`);

        storage = await plugin.open(storageConfig, { defaultUserEmail: TEST_USER_EMAIL });
        try {
          const reloaded = await loadNode(node.pk!, { storage });
          expect(reloaded.extras.get('forgotten')).toEqual({ deep: [1, 2] });
          expect(reloaded.description).toBe('also forgotten');

          // awaited writes leave nothing running: closing says nothing
          await reloaded.extras.set('awaited', 1);
          const quiet = await warningsDuring('UnawaitedWriteWarning', () => storage.close());
          expect(quiet).toEqual([]);
          // a write on a node whose storage is closed fails in the call and changes nothing
          expect(() => reloaded.extras.set('late', 1)).toThrow(InvalidOperationError);
          expect(reloaded.extras.has('late')).toBe(false);
          expect(() => reloaded.setLabel('late')).toThrow(/storage of node<\d+> is closed/);
          expect(reloaded.label).toBe('');
        } finally {
          await storage.close();
        }
      } finally {
        await cleanup();
      }
    });
  }
});
