import { describe, expect, it } from 'vitest';
import { RepositoryMetadataSchema } from '../../src/repository/file.js';
import { plainRepositoryKeys } from '../../src/tools/archive/repository-keys.js';

const KEY = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('the fast check of repository metadata on import', () => {
  it('gives the keys of the common shapes, all of which the schema accepts', () => {
    const cases: [unknown, string[]][] = [
      [{}, []],
      [{ o: {} }, []],
      [{ o: { 'file.txt': { k: KEY } } }, [KEY]],
      [{ o: { sub: { o: { deep: { k: OTHER }, empty: {} } }, 'a b': { k: KEY } } }, [OTHER, KEY]],
    ];
    for (const [metadata, keys] of cases) {
      expect(RepositoryMetadataSchema.safeParse(metadata).success).toBe(true);
      expect(plainRepositoryKeys(metadata)).toEqual(keys);
    }
  });

  it('leaves everything unusual to the schema (null), including what the schema refuses', () => {
    const cases: unknown[] = [
      null,
      [],
      'text',
      { k: KEY },
      { o: [] },
      { o: { x: { k: KEY, o: {} } } },
      { o: { x: { k: 'not-a-key' } } },
      { o: { x: { k: 7 } } },
      { o: { '': { k: KEY } } },
      { o: { '..': { k: KEY } } },
      { o: { 'a/b': { k: KEY } } },
      { o: { x: { k: KEY, extra: 1 } } },
      { o: {}, extra: 1 },
      JSON.parse(`{"o": {"__proto__": {"k": "${KEY}"}}}`),
    ];
    for (const metadata of cases) expect(plainRepositoryKeys(metadata)).toBeNull();
  });
});
