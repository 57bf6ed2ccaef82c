import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptStorageError, LockedProfileError, RepositoryError } from '../../src/errors.js';
import { DiskObjectStoreRepositoryBackend } from '../../src/repository.js';
import type { DiskObjectStoreRepositoryBackendOptions } from '../../src/repository.js';
import { collect, describeRepositoryBackendContract, readAll } from './backend-contract.js';
import { privateContent, sharedContent } from './fixtures/concurrent-worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');
const tsx = join(packageRoot, 'node_modules', '.bin', 'tsx');
const execFileAsync = promisify(execFile);

function sha(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

describeRepositoryBackendContract('DiskObjectStoreRepositoryBackend', {
  create: async () => {
    const parent = await mkdtemp(join(tmpdir(), 'aiida-ts-dos-'));
    const backend = new DiskObjectStoreRepositoryBackend({ folder: join(parent, 'container') });
    await backend.initialise();
    return backend;
  },
  cleanup: async (backend) => {
    const folder = (backend as DiskObjectStoreRepositoryBackend).folder;
    await backend.close();
    await rm(join(folder, '..'), { recursive: true, force: true });
  },
  inMemory: false,
});

describe('DiskObjectStoreRepositoryBackend (container format)', () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'aiida-ts-dos-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  async function container(
    options: Omit<DiskObjectStoreRepositoryBackendOptions, 'folder'> = {},
  ): Promise<DiskObjectStoreRepositoryBackend> {
    const folder = join(await tempDir(), 'container');
    const backend = new DiskObjectStoreRepositoryBackend({ folder, ...options });
    cleanups.push(() => backend.close());
    await backend.initialise();
    return backend;
  }

  function indexRows(folder: string): {
    hashkey: string;
    compressed: number;
    size: number;
    offset: number;
    length: number;
    pack_id: number;
  }[] {
    const db = new Database(join(folder, 'packs.idx'), { readonly: true });
    try {
      return db
        .prepare('SELECT hashkey, compressed, size, "offset", length, pack_id FROM db_object ORDER BY id')
        .all() as never;
    } finally {
      db.close();
    }
  }

  it('creates disk-objectstore’s layout and config', async () => {
    const backend = await container();
    const entries = (await readdir(backend.folder)).sort();
    expect(entries).toEqual(
      expect.arrayContaining(['config.json', 'duplicates', 'loose', 'packs', 'packs.idx', 'sandbox']),
    );
    const config = JSON.parse(await readFile(join(backend.folder, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toEqual({
      container_version: 1,
      loose_prefix_len: 2,
      pack_size_target: 4 * 1024 ** 3,
      hash_type: 'sha256',
      container_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      compression_algorithm: 'zlib+1',
    });
    expect(backend.uuid).toBe(config['container_id']);
    expect(String(backend)).toContain(backend.uuid);
    const db = new Database(join(backend.folder, 'packs.idx'), { readonly: true });
    const columns = db.prepare('PRAGMA table_info(db_object)').all() as { name: string }[];
    const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index'").all() as {
      name: string;
      sql: string;
    }[];
    db.close();
    expect(columns.map((c) => c.name)).toEqual([
      'id',
      'hashkey',
      'compressed',
      'size',
      'offset',
      'length',
      'pack_id',
    ]);
    expect(indexes.map((i) => i.name)).toContain('ix_db_object_hashkey');
  });

  it('writes loose objects to loose/<2 hex>/<62 hex> through the sandbox', async () => {
    const backend = await container();
    const key = await backend.putObjectFromStream(Readable.from([Buffer.from('loose content')]));
    expect(await readFile(join(backend.folder, 'loose', key.slice(0, 2), key.slice(2)), 'utf8')).toBe(
      'loose content',
    );
    expect(await readdir(join(backend.folder, 'sandbox'))).toEqual([]);
    expect(await backend.countObjects()).toEqual({ packed: 0, loose: 1, pack_files: 0 });
  });

  it('honours a flat loose layout (loose_prefix_len 0) and custom settings', async () => {
    const backend = await container({
      loosePrefixLen: 0,
      packSizeTarget: 1000,
      compressionAlgorithm: 'zlib+9',
    });
    const key = await backend.putObjectFromBuffer(Buffer.from('flat'));
    expect(await readFile(join(backend.folder, 'loose', key), 'utf8')).toBe('flat');
    expect(backend.config).toMatchObject({
      loose_prefix_len: 0,
      pack_size_target: 1000,
      compression_algorithm: 'zlib+9',
    });
    expect(await collect(backend.listObjects())).toEqual([key]);
  });

  it('refuses bad settings and use before initialise, naming the problem', async () => {
    expect(
      () => new DiskObjectStoreRepositoryBackend({ folder: '/x', compressionAlgorithm: 'lzma' }),
    ).toThrow(/zlib/);
    expect(() => new DiskObjectStoreRepositoryBackend({ folder: '/x', packSizeTarget: 0 })).toThrow(
      /packSizeTarget/,
    );
    const folder = join(await tempDir(), 'nothing-yet');
    const backend = new DiskObjectStoreRepositoryBackend({ folder });
    expect(backend.uuid).toBeNull();
    expect(await backend.isInitialised()).toBe(false);
    await expect(backend.putObjectFromBuffer(Buffer.from('x'))).rejects.toThrow(
      /not initialised; call initialise/,
    );
    const occupied = await tempDir();
    await writeFile(join(occupied, 'thesis.tex'), 'mine');
    await expect(new DiskObjectStoreRepositoryBackend({ folder: occupied }).initialise()).rejects.toThrow(
      /holds other files \(thesis.tex\)/,
    );
  });

  it('reports a corrupt config.json clearly', async () => {
    const backend = await container();
    await writeFile(
      join(backend.folder, 'config.json'),
      JSON.stringify({ container_version: 1, hash_type: 'md5' }),
    );
    const fresh = new DiskObjectStoreRepositoryBackend({ folder: backend.folder });
    expect(() => fresh.config).toThrow(CorruptStorageError);
    expect(() => fresh.config).toThrow(/hash_type/);
  });

  it('reads a container written by disk-objectstore: loose, packed, compressed and empty objects', async () => {
    const folder = join(await tempDir(), 'dos');
    await cp(join(here, 'fixtures', 'dos-container'), folder, { recursive: true });
    // git keeps no empty folders
    for (const sub of ['duplicates', 'sandbox', 'packs', 'loose'])
      await mkdir(join(folder, sub), { recursive: true });
    const backend = new DiskObjectStoreRepositoryBackend({ folder });
    cleanups.push(() => backend.close());
    expect(await backend.isInitialised()).toBe(true);
    expect(backend.uuid).toBe('a12c48224a0f43a4b62e896d0af1eac0');
    const expected = new Map<string, string>();
    for (let i = 0; i < 6; i++) {
      for (const text of [
        `loose-${i}`.repeat(i + 1),
        `packed-${i}`.repeat(50),
        `compressed-${i}`.repeat(80),
      ]) {
        expected.set(sha(text), text);
      }
    }
    expected.set(sha(''), '');
    expect((await collect(backend.listObjects())).sort()).toEqual([...expected.keys()].sort());
    for (const [key, text] of expected) {
      expect((await backend.getObjectContent(key)).toString()).toBe(text);
      expect((await readAll(await backend.openStream(key))).toString()).toBe(text);
      expect(await backend.getObjectSize(key)).toBe(text.length);
    }
    expect(await backend.countObjects()).toEqual({ packed: 12, loose: 7, pack_files: 3 });
    const rows = indexRows(folder);
    expect(rows.filter((row) => row.compressed === 1)).toHaveLength(6);
    // Full maintenance by us on their container keeps every object.
    await backend.maintain({ live: false, compress: true });
    expect(await backend.countObjects()).toMatchObject({ loose: 0, packed: 19 });
    for (const [key, text] of expected) expect((await backend.getObjectContent(key)).toString()).toBe(text);
  });

  it('adds objects straight to a pack in order, without writing duplicates', async () => {
    const backend = await container();
    const items = ['alpha', 'beta', 'alpha', 'gamma'].map((text) => Buffer.from(text));
    const keys = await backend.addObjectsToPack([
      ...items,
      Readable.from([Buffer.from('be'), Buffer.from('ta')]),
    ]);
    expect(keys).toEqual([...items.map(sha), sha('beta')]);
    const rows = indexRows(backend.folder);
    expect(rows.map((row) => row.hashkey)).toEqual([sha('alpha'), sha('beta'), sha('gamma')]);
    expect(rows.map((row) => [row.offset, row.length, row.pack_id, row.compressed])).toEqual([
      [0, 5, 0, 0],
      [5, 4, 0, 0],
      [9, 5, 0, 0],
    ]);
    // The streamed duplicate was taken back: the pack holds each object once.
    expect((await stat(join(backend.folder, 'packs', '0'))).size).toBe(14);
    expect(await readdir(join(backend.folder, 'packs'))).toEqual(['0']);
    expect((await backend.getObjectContent(sha('gamma'))).toString()).toBe('gamma');
    // Already packed: adding again writes nothing.
    await backend.addObjectsToPack([Buffer.from('alpha')]);
    expect((await stat(join(backend.folder, 'packs', '0'))).size).toBe(14);
  });

  it('compresses packed objects with zlib when asked, and reads them back', async () => {
    const backend = await container();
    const text = 'compress me '.repeat(1000);
    const big = randomBytes(3 * 1024 * 1024);
    const [small, large, streamed] = await backend.addObjectsToPack(
      [Buffer.from(text), big, Readable.from([Buffer.from('stream '.repeat(500))])],
      { compress: true },
    );
    const rows = indexRows(backend.folder);
    expect(rows.every((row) => row.compressed === 1)).toBe(true);
    expect(rows[0]?.length).toBeLessThan(text.length / 10);
    expect((await backend.getObjectContent(small as string)).toString()).toBe(text);
    expect(sha(await readAll(await backend.openStream(large as string)))).toBe(sha(big));
    expect((await backend.getObjectContent(streamed as string)).toString()).toBe('stream '.repeat(500));
    expect(await backend.getObjectSize(large as string)).toBe(big.length);
  });

  it('starts a new pack once a pack reaches pack_size_target', async () => {
    const backend = await container({ packSizeTarget: 1000 });
    const contents = Array.from({ length: 10 }, (_, i) => Buffer.from(`${i}`.repeat(400)));
    const keys = await backend.addObjectsToPack(contents);
    const rows = indexRows(backend.folder);
    expect(new Set(rows.map((row) => row.pack_id))).toEqual(new Set([0, 1, 2, 3]));
    expect((await readdir(join(backend.folder, 'packs'))).sort()).toEqual(['0', '1', '2', '3']);
    for (const [i, key] of keys.entries()) expect(await backend.getObjectContent(key)).toEqual(contents[i]);
    // Loose objects continue in the last pack that is not full.
    await backend.putObjectFromBuffer(Buffer.from('late'));
    await backend.packAllLoose();
    expect(indexRows(backend.folder).at(-1)?.pack_id).toBe(3);
  });

  it('answers hasObjects for many keys at once: loose, packed, repeated, unknown and malformed, in order', async () => {
    const backend = await container();
    const packed = await backend.addObjectsToPack(
      Array.from({ length: 20 }, (_, i) => Buffer.from(`packed ${i}`)),
    );
    const loose = await Promise.all(
      Array.from({ length: 20 }, (_, i) => backend.putObjectFromBuffer(Buffer.from(`loose ${i}`))),
    );
    const unknown = Array.from({ length: 20 }, (_, i) => sha(`unknown ${i}`));
    const keys = [
      ...unknown.slice(0, 10),
      ...packed,
      'not-a-key',
      ...loose,
      packed[0]!,
      ...unknown.slice(10),
      '../x',
    ];
    const expected = keys.map((key) => packed.includes(key) || loose.includes(key));
    expect(await backend.hasObjects(keys)).toEqual(expected);
    // and the same keys one at a time (the synchronous path for a few keys)
    for (const [index, key] of keys.entries()) expect(await backend.hasObject(key)).toBe(expected[index]);
  });

  it('writes objects already stored again into a pack with assumeNew, and reads them back', async () => {
    const backend = await container();
    const contents = Array.from({ length: 5 }, (_, i) => Buffer.from(`object ${i}`));
    const first = await backend.addObjectsToPack(contents);
    const again = await backend.addObjectsToPack(contents, { assumeNew: true });
    expect(again).toEqual(first);
    // the index keeps one row per key (the first), the second copies are unreferenced bytes a repack removes
    expect(
      indexRows(backend.folder)
        .map((row) => row.hashkey)
        .sort(),
    ).toEqual([...first].sort());
    for (const [i, key] of first.entries()) expect(await backend.getObjectContent(key)).toEqual(contents[i]);
  });

  it('packs loose objects (live), removing the loose copies and compressing where it pays', async () => {
    const backend = await container();
    const compressible = Buffer.from('aiida '.repeat(2000));
    const incompressible = randomBytes(4000);
    const large = Buffer.from('large object '.repeat(200_000));
    const keys = await Promise.all(
      [compressible, incompressible, large].map((b) => backend.putObjectFromBuffer(b)),
    );
    const report = await backend.maintain({ live: true, compress: true });
    expect(report.looseObjectsPacked).toBe(3);
    expect(report.actions[0]).toMatch(/^Packing all loose files \(3 files occupying [\d.]+ MB\) \.\.\.$/);
    expect(await backend.countObjects()).toEqual({ packed: 3, loose: 0, pack_files: 1 });
    const byKey = new Map(indexRows(backend.folder).map((row) => [row.hashkey, row]));
    expect(byKey.get(keys[0] as string)?.compressed).toBe(1);
    expect(byKey.get(keys[1] as string)?.compressed).toBe(0);
    expect(byKey.get(keys[2] as string)?.compressed).toBe(1);
    // Compare digests: a deep equality over megabytes of bytes is slow.
    expect(sha(await backend.getObjectContent(keys[2] as string))).toBe(sha(large));
    expect(sha(await backend.getObjectContent(keys[1] as string))).toBe(sha(incompressible));
  });

  it('refuses full-maintenance overrides when live, as aiida does', async () => {
    const backend = await container();
    await expect(backend.maintain({ live: true, repack: true, vacuum: true })).rejects.toThrow(
      'the following overrides were enabled but cannot be if `live=true`: repack, vacuum',
    );
  });

  it('soft-deletes packed objects and reclaims their bytes on repack', async () => {
    const backend = await container();
    const texts = ['first '.repeat(100), 'second '.repeat(100), 'third '.repeat(100)];
    const keys = await backend.addObjectsToPack(texts.map((t) => Buffer.from(t)));
    const before = (await stat(join(backend.folder, 'packs', '0'))).size;
    await backend.deleteObjects([keys[1] as string]);
    expect((await stat(join(backend.folder, 'packs', '0'))).size).toBe(before);
    const dry = await backend.maintain({ live: false, dryRun: true });
    expect(
      dry.actions.some((action) => action.startsWith('Re-packing all pack files (2 files in packs')),
    ).toBe(true);
    expect((await stat(join(backend.folder, 'packs', '0'))).size).toBe(before);
    const report = await backend.maintain({ live: false });
    expect(report.bytesFreed).toBeGreaterThanOrEqual(texts[1]?.length as number);
    expect((await stat(join(backend.folder, 'packs', '0'))).size).toBe(before - (texts[1]?.length as number));
    expect((await backend.getObjectContent(keys[2] as string)).toString()).toBe(texts[2]);
    expect(await backend.hasObject(keys[1] as string)).toBe(false);
    expect(await readdir(join(backend.folder, 'packs'))).toEqual(['0']);
  });

  it('drops a pack whose objects were all deleted', async () => {
    const backend = await container({ packSizeTarget: 10 });
    const keys = await backend.addObjectsToPack([Buffer.from('0123456789ab'), Buffer.from('second pack')]);
    await backend.deleteObjects([keys[0] as string]);
    await backend.repack();
    expect(await readdir(join(backend.folder, 'packs'))).toEqual(['1']);
    expect((await backend.getObjectContent(keys[1] as string)).toString()).toBe('second pack');
  });

  it('cleans loose copies of packed objects, reconciles duplicates, and empties the sandbox when not live', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(Buffer.from('dup'));
    await backend.packAllLoose({ cleanLoosePerPack: false });
    expect(await backend.countObjects()).toMatchObject({ loose: 1, packed: 1 });
    await writeFile(join(backend.folder, 'duplicates', `${key}.${randomUUID().replaceAll('-', '')}`), 'dup');
    await writeFile(join(backend.folder, 'sandbox', 'crashed-writer'), 'half');
    await backend.maintain({ live: true });
    expect(await backend.countObjects()).toMatchObject({ loose: 0, packed: 1 });
    expect(await readdir(join(backend.folder, 'duplicates'))).toEqual([]);
    expect(await readdir(join(backend.folder, 'sandbox'))).toEqual(['crashed-writer']);
    await backend.maintain({ live: false });
    expect(await readdir(join(backend.folder, 'sandbox'))).toEqual([]);
  });

  it('puts a good duplicate in place of a corrupt loose object', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(Buffer.from('precious'));
    const loose = join(backend.folder, 'loose', key.slice(0, 2), key.slice(2));
    await writeFile(loose, 'garbage!');
    await writeFile(
      join(backend.folder, 'duplicates', `${key}.${randomUUID().replaceAll('-', '')}`),
      'precious',
    );
    await backend.cleanStorage();
    expect(await readFile(loose, 'utf8')).toBe('precious');
    expect(await readdir(join(backend.folder, 'duplicates'))).toEqual([]);
  });

  it('refuses to pack a corrupt loose object', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(Buffer.from('original'));
    await writeFile(join(backend.folder, 'loose', key.slice(0, 2), key.slice(2)), 'tampered');
    await expect(backend.packAllLoose()).rejects.toThrow(CorruptStorageError);
    await expect(backend.packAllLoose()).rejects.toThrow(`loose object ${key} is corrupt`);
    expect(await backend.countObjects()).toMatchObject({ packed: 0 });
  });

  it('replaces a truncated loose object when the same content is written again', async () => {
    const backend = await container();
    const key = await backend.putObjectFromBuffer(Buffer.from('complete content'));
    await writeFile(join(backend.folder, 'loose', key.slice(0, 2), key.slice(2)), 'compl');
    await backend.putObjectFromStream(Readable.from([Buffer.from('complete content')]));
    expect((await backend.getObjectContent(key)).toString()).toBe('complete content');
  });

  it('reports a missing pack file as corrupt storage', async () => {
    const backend = await container();
    const [key] = await backend.addObjectsToPack([Buffer.from('vanishing')]);
    await rm(join(backend.folder, 'packs', '0'));
    await expect(backend.getObjectContent(key as string)).rejects.toThrow(
      /pack 0 holding object .* is missing/,
    );
  });

  it('gives aiida’s info dictionary', async () => {
    const backend = await container();
    await backend.addObjectsToPack([Buffer.alloc(2 * 1024 * 1024, 1)]);
    await backend.putObjectFromBuffer(Buffer.alloc(1024 * 1024, 2));
    expect(await backend.getInfo()).toEqual({
      'SHA-hash algorithm': 'sha256',
      'Compression algorithm': 'zlib+1',
      Objects: { packed: 1, loose: 1, pack_files: 1 },
    });
    const detailed = await backend.getInfo({ detailed: true });
    expect(detailed['Size (MB)']).toMatchObject({
      total_size_packed: 2,
      total_size_packed_on_disk: 2,
      total_size_packfiles_on_disk: 2,
      total_size_loose: 1,
    });
  });

  describe('pack locks', () => {
    it('waits for a live packer’s lock and gives up with LockedProfileError', async () => {
      const backend = await container({ lockTimeoutMs: 300 });
      const sleeper = spawn('sleep', ['30']);
      cleanups.push(() => {
        sleeper.kill();
        return Promise.resolve();
      });
      await writeFile(join(backend.folder, 'packs', '0.lock'), String(sleeper.pid));
      const error = await backend.addObjectsToPack([Buffer.from('x')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockedProfileError);
      expect(String(error)).toContain(`by process ${String(sleeper.pid)}`);
    });

    it('takes over the lock of a packer that died', async () => {
      const backend = await container({ lockTimeoutMs: 2000 });
      const { stdout } = await execFileAsync('sh', ['-c', 'echo $$']);
      await writeFile(join(backend.folder, 'packs', '0.lock'), stdout.trim());
      const [key] = await backend.addObjectsToPack([Buffer.from('after crash')]);
      expect((await backend.getObjectContent(key as string)).toString()).toBe('after crash');
      expect(await readdir(join(backend.folder, 'packs'))).toEqual(['0']);
    });

    it('waits for disk-objectstore’s (empty) lock file to go away', async () => {
      const backend = await container({ lockTimeoutMs: 5000 });
      const lock = join(backend.folder, 'packs', '0.lock');
      await writeFile(lock, '');
      const packing = backend.addObjectsToPack([Buffer.from('patient')]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await backend.countObjects()).toMatchObject({ packed: 0 });
      await rm(lock);
      await packing;
      expect(await backend.countObjects()).toMatchObject({ packed: 1 });
    });
  });

  it('stays consistent with writers and live packers in several OS processes', async () => {
    const backend = await container();
    const workers = 3;
    const count = 60;
    const run = (args: string[]): Promise<string> =>
      execFileAsync(tsx, [join(here, 'fixtures', 'concurrent-worker.ts'), ...args], {
        cwd: packageRoot,
        maxBuffer: 16 * 1024 * 1024,
      }).then(({ stdout }) => stdout);
    const outputs = await Promise.all([
      ...Array.from({ length: workers }, (_, worker) =>
        run(['write', backend.folder, String(worker), String(count)]),
      ),
      run(['pack', backend.folder, '4']),
      run(['pack', backend.folder, '4']),
    ]);
    const expected = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      expected.set(sha(sharedContent(i)), sharedContent(i));
      for (let worker = 0; worker < workers; worker++)
        expected.set(sha(privateContent(worker, i)), privateContent(worker, i));
    }
    for (let worker = 0; worker < workers; worker++) {
      const keys = JSON.parse(outputs[worker] as string) as string[];
      expect(keys).toHaveLength(2 * count);
      for (const key of keys) expect(expected.has(key)).toBe(true);
    }
    expect((await collect(backend.listObjects())).sort()).toEqual([...expected.keys()].sort());
    for (const [key, text] of expected) expect((await backend.getObjectContent(key)).toString()).toBe(text);
    expect(await readdir(join(backend.folder, 'sandbox'))).toEqual([]);
    expect((await readdir(join(backend.folder, 'packs'))).filter((name) => name.endsWith('.lock'))).toEqual(
      [],
    );
    await backend.maintain({ live: false });
    expect(await backend.countObjects()).toEqual({ packed: expected.size, loose: 0, pack_files: 1 });
    const rows = indexRows(backend.folder);
    expect(new Set(rows.map((row) => row.hashkey)).size).toBe(rows.length);
    for (const [key, text] of expected) expect((await backend.getObjectContent(key)).toString()).toBe(text);
  }, 90_000);

  it('completes thousands of writes and reads started at once without running out of file descriptors', async () => {
    const backend = await container({ fsync: false });
    const texts = Array.from({ length: 3000 }, (_, i) => `parallel ${i}`);
    const keys = await Promise.all(texts.map((text) => backend.putObjectFromBuffer(Buffer.from(text))));
    const contents = await Promise.all(keys.map((key) => backend.getObjectContent(key)));
    expect(contents.map(String)).toEqual(texts);
  });

  it('rejects an unknown item in addObjectsToPack and leaves the index untouched', async () => {
    const backend = await container();
    await expect(
      backend.addObjectsToPack([Buffer.from('ok'), 42 as unknown as Buffer]),
    ).rejects.toBeInstanceOf(RepositoryError);
    expect(await backend.countObjects()).toMatchObject({ packed: 0 });
    // The pack stays usable afterwards.
    const [key] = await backend.addObjectsToPack([Buffer.from('next')]);
    expect((await backend.getObjectContent(key as string)).toString()).toBe('next');
  });
});
