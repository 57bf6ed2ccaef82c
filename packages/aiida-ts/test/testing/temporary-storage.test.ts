import { describe, expect, it } from 'vitest';
import { NotExistentError } from '../../src/errors.js';
import { Int, loadNode } from '../../src/orm.js';
import { createTemporaryStorage, withTemporaryStorage } from '../../src/testing.js';

describe('aiida-ts/testing', () => {
  it('runs ORM calls against a fresh in-memory storage and closes it afterwards', async () => {
    let seen: { pk: number; value: number } | undefined;
    const storage = await withTemporaryStorage(async (current) => {
      const node = await new Int(42).store();
      const loaded = await loadNode(node.uuid);
      seen = { pk: loaded.pk ?? -1, value: (loaded as Int).value };
      return current;
    });
    expect(seen?.value).toBe(42);
    expect(storage.isClosed).toBe(true);
  });

  it('keeps each temporary storage separate', async () => {
    await using first = await createTemporaryStorage();
    await using second = await createTemporaryStorage();
    const node = await new Int(1).store({ storage: first });
    await expect(loadNode(node.uuid, { storage: second })).rejects.toBeInstanceOf(NotExistentError);
  });

  it('closes the storage when the callback throws', async () => {
    let captured: { isClosed: boolean } | undefined;
    await expect(
      withTemporaryStorage((storage) => {
        captured = storage;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(captured?.isClosed).toBe(true);
  });
});
