/** `makedirs` called concurrently for folders sharing missing parents (as jobs uploading at once do). */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalTransport } from '../../src/transports.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'aiida-ts-makedirs-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

it('makes every folder when 40 calls share missing parents', async () => {
  const transport = new LocalTransport();
  await transport.open();
  try {
    const folders = Array.from({ length: 40 }, (_, i) =>
      path.join(root, 'work', `s${i % 3}`, `t${i % 5}`, `job${i}`),
    );
    await Promise.all(folders.map((folder) => transport.makedirs(folder, { ignoreExisting: true })));
    for (const folder of folders) expect(await transport.isdir(folder)).toBe(true);
    expect((await readdir(path.join(root, 'work'))).sort()).toEqual(['s0', 's1', 's2']);
  } finally {
    await transport.close();
  }
});
