import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FilePersister,
  InMemoryPersister,
  PersistenceError,
  type Checkpoint,
  type Persister,
  type Pid,
} from '../src/index.js';
import { ProcessWithCheckpoint } from '../src/testing.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fileSetup(): Promise<{
  persister: Persister;
  corrupt: (pid: Pid, text: string) => Promise<void>;
}> {
  const directory = await mkdtemp(join(tmpdir(), 'plumpy-ts-persister-'));
  dirs.push(directory);
  const persister = new FilePersister({ directory: join(directory, 'checkpoints') });
  return {
    persister,
    corrupt: async (pid, text) => {
      const names = await readdir(join(directory, 'checkpoints'));
      const name = names.find((n) =>
        n.startsWith(
          `${typeof pid === 'number' ? 'n' : 's'}${encodeURIComponent(String(pid)).replace(/\./g, '%2E')}`,
        ),
      );
      await writeFile(join(directory, 'checkpoints', name ?? 'missing'), text);
    },
  };
}

function memorySetup(): Promise<{
  persister: Persister;
  corrupt: (pid: Pid, text: string) => Promise<void>;
}> {
  const persister = new InMemoryPersister();
  return Promise.resolve({
    persister,
    corrupt: (pid, text) => {
      persister.putRaw(pid, text);
      return Promise.resolve();
    },
  });
}

const sort = (list: readonly { pid: Pid; tag: string | null }[]): string[] =>
  list.map((c) => `${String(c.pid)}|${c.tag ?? ''}`).sort();

describe.each([
  ['InMemoryPersister', memorySetup],
  ['FilePersister', fileSetup],
])('%s (Persister contract)', (_name, setup) => {
  it('saves and loads a checkpoint that recreates the process', async () => {
    const { persister } = await setup();
    const process = new ProcessWithCheckpoint();
    await persister.saveCheckpoint(process);
    const checkpoint = await persister.loadCheckpoint(process.pid);
    expect(checkpoint).toEqual(process.save());
    expect(checkpoint['class_name']).toBe('ProcessWithCheckpoint');
  });

  it('lists checkpoints with and without tags', async () => {
    const { persister } = await setup();
    const a = new ProcessWithCheckpoint();
    const b = new ProcessWithCheckpoint();
    await persister.saveCheckpoint(a);
    await persister.saveCheckpoint(b);
    await persister.saveCheckpoint(a, 'tag_a');
    await persister.saveCheckpoint(b, 'tag_b');
    expect(sort(await persister.getCheckpoints())).toEqual(
      sort([
        { pid: a.pid, tag: null },
        { pid: b.pid, tag: null },
        { pid: a.pid, tag: 'tag_a' },
        { pid: b.pid, tag: 'tag_b' },
      ]),
    );
  });

  it('lists and deletes the checkpoints of one process', async () => {
    const { persister } = await setup();
    const a = new ProcessWithCheckpoint();
    const b = new ProcessWithCheckpoint();
    for (const p of [a, b]) for (const tag of ['1', '2']) await persister.saveCheckpoint(p, tag);
    expect(sort(await persister.getProcessCheckpoints(a.pid))).toEqual(
      sort([
        { pid: a.pid, tag: '1' },
        { pid: a.pid, tag: '2' },
      ]),
    );
    await persister.deleteProcessCheckpoints(a.pid);
    expect(await persister.getProcessCheckpoints(a.pid)).toEqual([]);
    expect(await persister.getProcessCheckpoints(b.pid)).toHaveLength(2);
  });

  it('deletes single checkpoints, and absent ones without error', async () => {
    const { persister } = await setup();
    const a = new ProcessWithCheckpoint();
    const b = new ProcessWithCheckpoint();
    for (const p of [a, b]) for (const tag of ['1', '2']) await persister.saveCheckpoint(p, tag);
    await persister.deleteCheckpoint(a.pid, '2');
    expect(sort(await persister.getCheckpoints())).toEqual(
      sort([
        { pid: a.pid, tag: '1' },
        { pid: b.pid, tag: '1' },
        { pid: b.pid, tag: '2' },
      ]),
    );
    await persister.deleteCheckpoint(b.pid, '1');
    expect(sort(await persister.getCheckpoints())).toEqual(
      sort([
        { pid: a.pid, tag: '1' },
        { pid: b.pid, tag: '2' },
      ]),
    );
    await persister.deleteCheckpoint('nobody');
    await persister.deleteCheckpoint(a.pid, 'never');
  });

  it('keeps pid types and odd characters apart', async () => {
    const { persister } = await setup();
    const source = (pid: Pid, value: number) => ({
      pid,
      save: (): Checkpoint => ({ version: 1, class_name: 'X', pid, value }),
    });
    await persister.saveCheckpoint(source(5, 1));
    await persister.saveCheckpoint(source('5', 2));
    await persister.saveCheckpoint(source('a/b.c', 3), 'x.y');
    expect((await persister.loadCheckpoint(5))['value']).toBe(1);
    expect((await persister.loadCheckpoint('5'))['value']).toBe(2);
    expect((await persister.loadCheckpoint('a/b.c', 'x.y'))['value']).toBe(3);
    expect(sort(await persister.getCheckpoints())).toEqual(['5|', '5|', 'a/b.c|x.y']);
    expect((await persister.getCheckpoints()).map((c) => typeof c.pid).sort()).toEqual([
      'number',
      'string',
      'string',
    ]);
  });

  it('names the pid when there is no checkpoint', async () => {
    const { persister } = await setup();
    await expect(persister.loadCheckpoint('missing-pid')).rejects.toThrow(PersistenceError);
    const error = (await persister
      .loadCheckpoint('missing-pid')
      .catch((e: unknown) => e)) as PersistenceError;
    expect(error.pid).toBe('missing-pid');
    expect(error.message).toContain('missing-pid');
  });

  it('names the pid when a checkpoint is corrupt', async () => {
    const { persister, corrupt } = await setup();
    const process = new ProcessWithCheckpoint();
    await persister.saveCheckpoint(process);
    await corrupt(process.pid, '{"version": 1, "class_name": ');
    const error = (await persister.loadCheckpoint(process.pid).catch((e: unknown) => e)) as PersistenceError;
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.pid).toBe(process.pid);
    await corrupt(process.pid, '[1, 2]');
    await expect(persister.loadCheckpoint(process.pid)).rejects.toThrow('not a JSON object');
  });

  it('refuses a checkpoint that is not JSON', async () => {
    const { persister } = await setup();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await expect(persister.saveCheckpoint({ pid: 'c', save: () => cyclic as Checkpoint })).rejects.toThrow(
      PersistenceError,
    );
  });
});

describe('FilePersister', () => {
  it('writes one file per checkpoint, atomically (no temporary files left)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plumpy-ts-files-'));
    dirs.push(directory);
    const persister = new FilePersister({ directory });
    const process = new ProcessWithCheckpoint();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        persister.saveCheckpoint({ pid: process.pid, save: () => ({ ...process.save(), n: i }) }),
      ),
    );
    await persister.saveCheckpoint(process, 'tag');
    const names = await readdir(directory);
    expect(names.sort()).toEqual([`s${process.pid}.json`, `s${process.pid}.tag.json`].sort());
    const text = await readFile(join(directory, `s${process.pid}.json`), 'utf8');
    expect(() => JSON.parse(text) as unknown).not.toThrow();
  });

  it('lists nothing for a directory that does not exist yet', async () => {
    const persister = new FilePersister({
      directory: join(tmpdir(), `plumpy-ts-none-${Date.now()}`),
      fsync: false,
    });
    expect(await persister.getCheckpoints()).toEqual([]);
  });

  it('reports a directory it cannot write, naming the pid', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plumpy-ts-blocked-'));
    dirs.push(directory);
    await writeFile(join(directory, 'a-file'), 'x');
    const persister = new FilePersister({ directory: join(directory, 'a-file', 'sub') });
    const process = new ProcessWithCheckpoint();
    const error = (await persister.saveCheckpoint(process).catch((e: unknown) => e)) as PersistenceError;
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.pid).toBe(process.pid);
  });
});
