import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotExistentError } from '../../src/errors.js';
import { Computer } from '../../src/orm/entities/computer.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { createQuota, listPools } from '../../src/storage/aiida-ts-schema/job-limits.js';
import { BACKENDS } from '../storage/helpers.js';

describe.each(BACKENDS)('Computer job limits on $name', ({ open }) => {
  let storage: StorageBackend;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ storage, cleanup } = await open());
  });
  afterAll(() => cleanup());

  it('a cap and quotas, kept apart from the metadata aiida-core reads, and gone with the computer', async () => {
    const computer = await new Computer(
      {
        label: 'hpc',
        hostname: 'hpc.example.org',
        transportType: 'core.local',
        schedulerType: 'core.direct',
      },
      { storage },
    ).store();
    const metadata = computer.metadata;
    expect(await computer.getJobLimit()).toBeNull();
    await computer.setJobLimit(10);
    expect(await computer.getJobLimit()).toBe(10);
    await createQuota(storage, 'allocation', { limit: 20 });
    await computer.addToQuota('allocation');
    expect(await computer.getQuotas()).toEqual(['allocation']);
    await expect(computer.addToQuota('unknown')).rejects.toBeInstanceOf(NotExistentError);
    await expect(computer.setJobLimit(-3)).rejects.toThrow(/the limit must be at least 1/);
    expect((await Computer.get({ label: 'hpc' }, { storage })).metadata).toEqual(metadata);

    await Computer.delete(computer.pk!, { storage });
    const pools = await listPools(storage);
    expect(pools.map((pool) => pool.pool)).toEqual(['quota:allocation']);
    expect(pools[0]!.computers).toEqual([]);
  });
});
