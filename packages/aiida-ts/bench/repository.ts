/**
 * File repository benchmark (plain tsx script): `tsx bench/repository.ts [--objects 100000]`.
 *
 * Each figure is printed beside a baseline doing the same work naively in the same run:
 * - bulk packing of 100,000 small objects (0–1000 random bytes, as disk-objectstore's published benchmark) with
 *   `addObjectsToPack`, against writing them as sharded loose files with `fs.writeFile` + sha256 (the least a
 *   loose write can cost), and against disk-objectstore's published figure (about 21 s on 16 cores);
 * - loose writes per second (`putObjectFromBuffer`, with and without fsync) against the same naive writer;
 * - `packAllLoose` of the loose objects written;
 * - streaming read of a 200 MB object (loose, packed, packed+zlib) against `fs.createReadStream` of a plain file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskObjectStoreRepositoryBackend } from '../src/repository.js';

const DISK_OBJECTSTORE_PUBLISHED_SECONDS = 21;

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** Deterministic pseudo-random objects (xorshift32 over a 1 MiB pool), so every run stores the same content. */
function makeObjects(count: number, maxSize: number, seed: number): Buffer[] {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const pool = Buffer.allocUnsafe(1024 * 1024);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(next(), i);
  return Array.from({ length: count }, () => {
    const size = next() % (maxSize + 1);
    const offset = next() % (pool.length - maxSize);
    return Buffer.from(pool.subarray(offset, offset + size));
  });
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

/**
 * The least a loose write costs: hash, make the shard folder once, write the file (optionally fsync it). With
 * `atomic`, write to a sandbox file first and rename it into place, which is what makes concurrent writers safe.
 */
async function naiveLooseWrite(
  folder: string,
  objects: readonly Buffer[],
  options: { readonly fsync: boolean; readonly atomic: boolean },
): Promise<void> {
  const shards = new Set<string>();
  const sandbox = join(folder, 'sandbox');
  await mkdir(sandbox, { recursive: true });
  for (const object of objects) {
    const key = createHash('sha256').update(object).digest('hex');
    const shard = join(folder, key.slice(0, 2));
    if (!shards.has(shard)) {
      await mkdir(shard, { recursive: true });
      shards.add(shard);
    }
    const target = join(shard, key.slice(2));
    const path = options.atomic ? join(sandbox, randomUUID()) : target;
    if (options.fsync) {
      const handle = await open(path, 'w');
      await handle.writeFile(object);
      await handle.datasync();
      await handle.close();
    } else {
      await writeFile(path, object);
    }
    if (options.atomic) await rename(path, target);
  }
}

async function streamHash(stream: AsyncIterable<unknown>): Promise<string> {
  const hasher = createHash('sha256');
  for await (const chunk of stream) hasher.update(chunk as Buffer);
  return hasher.digest('hex');
}

function line(label: string, value: string, comparison = ''): void {
  console.log(`${label.padEnd(58)} ${value.padStart(14)}   ${comparison}`);
}

async function main(): Promise<void> {
  const count = argument('objects', 100_000);
  const looseCount = argument('loose', 5_000);
  const bigMb = argument('big-mb', 200);
  const root = await mkdtemp(join(tmpdir(), 'aiida-ts-bench-repo-'));
  try {
    console.log(`File repository benchmark (Node ${process.version}, temp folder ${root})\n`);

    // --- 1. bulk packing -------------------------------------------------------------------------------------
    const objects = makeObjects(count, 1000, 42);
    const megabytes = objects.reduce((sum, o) => sum + o.length, 0) / 1024 ** 2;
    const bulk = new DiskObjectStoreRepositoryBackend({ folder: join(root, 'bulk') });
    await bulk.initialise();
    const packed = await timed(() => bulk.addObjectsToPack(objects));
    const naive = await timed(() =>
      naiveLooseWrite(join(root, 'naive-bulk'), objects, { fsync: false, atomic: false }),
    );
    console.log(`1. ${count} objects of 0–1000 bytes (${megabytes.toFixed(1)} MB) written to a pack`);
    line(
      'addObjectsToPack (fsync per pack)',
      `${packed.seconds.toFixed(2)} s`,
      `${(count / packed.seconds).toFixed(0)} objects/s`,
    );
    line(
      'baseline: fs.writeFile per object to sharded folders + sha256',
      `${naive.seconds.toFixed(2)} s`,
      `addObjectsToPack is ${(naive.seconds / packed.seconds).toFixed(1)}x faster`,
    );
    line(
      'disk-objectstore (published: 16 cores, SSD RAID1)',
      `~${DISK_OBJECTSTORE_PUBLISHED_SECONDS} s`,
      `${(DISK_OBJECTSTORE_PUBLISHED_SECONDS / packed.seconds).toFixed(1)}x (different machine)`,
    );
    const compressed = new DiskObjectStoreRepositoryBackend({ folder: join(root, 'bulk-zlib') });
    await compressed.initialise();
    const packedZ = await timed(() => compressed.addObjectsToPack(objects, { compress: true }));
    line(
      'addObjectsToPack with zlib+1 compression',
      `${packedZ.seconds.toFixed(2)} s`,
      `${(count / packedZ.seconds).toFixed(0)} objects/s`,
    );
    const reads = Math.min(count, 20_000);
    const readBack = await timed(async () => {
      for (let i = 0; i < reads; i++) await bulk.getObjectContent(packed.result[i] as string);
    });
    line(
      `getObjectContent of ${reads} packed objects, one by one`,
      `${readBack.seconds.toFixed(2)} s`,
      `${(reads / readBack.seconds).toFixed(0)} objects/s`,
    );
    await bulk.close();
    await compressed.close();
    console.log();

    // --- 2. loose writes ------------------------------------------------------------------------------------
    const small = makeObjects(looseCount, 1000, 7);
    // Warm up the file system paths and the JIT for every writer, so the order of the runs does not decide.
    const warmup = makeObjects(500, 1000, 99);
    const writers = {
      synced: new DiskObjectStoreRepositoryBackend({ folder: join(root, 'loose') }),
      unsynced: new DiskObjectStoreRepositoryBackend({ folder: join(root, 'loose-nosync'), fsync: false }),
      parallel: new DiskObjectStoreRepositoryBackend({ folder: join(root, 'loose-parallel'), fsync: false }),
    };
    for (const writer of Object.values(writers)) {
      await writer.initialise();
      for (const object of warmup) await writer.putObjectFromBuffer(object);
    }
    for (const [name, options] of [
      ['warm-sync', { fsync: true, atomic: true }],
      ['warm', { fsync: false, atomic: false }],
    ] as const) {
      await naiveLooseWrite(join(root, name), warmup, options);
    }
    const synced = await timed(async () => {
      for (const object of small) await writers.synced.putObjectFromBuffer(object);
    });
    const naiveSynced = await timed(() =>
      naiveLooseWrite(join(root, 'naive-loose-sync'), small, { fsync: true, atomic: true }),
    );
    const unsynced = await timed(async () => {
      for (const object of small) await writers.unsynced.putObjectFromBuffer(object);
    });
    const naiveUnsynced = await timed(() =>
      naiveLooseWrite(join(root, 'naive-loose'), small, { fsync: false, atomic: false }),
    );
    const naiveAtomic = await timed(() =>
      naiveLooseWrite(join(root, 'naive-loose-atomic'), small, { fsync: false, atomic: true }),
    );
    const perSecond = (seconds: number): string => `${(looseCount / seconds).toFixed(0)} /s`;
    console.log(`2. ${looseCount} loose writes of 0–1000 bytes, one after another`);
    line(
      'putObjectFromBuffer, fsync (default, as disk-objectstore)',
      perSecond(synced.seconds),
      `baseline sandbox+fsync+rename ${perSecond(naiveSynced.seconds)}, ratio ${(naiveSynced.seconds / synced.seconds).toFixed(2)}`,
    );
    line(
      'putObjectFromBuffer, fsync off',
      perSecond(unsynced.seconds),
      `baseline writeFile ${perSecond(naiveUnsynced.seconds)}, ratio ${(naiveUnsynced.seconds / unsynced.seconds).toFixed(2)}; ` +
        `with sandbox+rename ${perSecond(naiveAtomic.seconds)}, ratio ${(naiveAtomic.seconds / unsynced.seconds).toFixed(2)}`,
    );
    const concurrent = await timed(() =>
      Promise.all(small.map((object) => writers.parallel.putObjectFromBuffer(object))),
    );
    line('putObjectFromBuffer, fsync off, all in flight at once', perSecond(concurrent.seconds));
    console.log();

    // --- 3. packing loose objects ---------------------------------------------------------------------------
    const packLoose = await timed(() => writers.unsynced.packAllLoose());
    console.log('3. packing loose objects');
    line(
      `packAllLoose of ${packLoose.result} loose objects (live-safe)`,
      `${packLoose.seconds.toFixed(2)} s`,
      `${(packLoose.result / packLoose.seconds).toFixed(0)} objects/s`,
    );
    for (const writer of Object.values(writers)) await writer.close();
    console.log();

    // --- 4. reading a large object --------------------------------------------------------------------------
    const size = bigMb * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
    const plainPath = join(root, 'plain.bin');
    const plain = await open(plainPath, 'w');
    for (let written = 0; written < size; written += chunk.length) await plain.write(chunk);
    await plain.close();
    const big = new DiskObjectStoreRepositoryBackend({ folder: join(root, 'big') });
    await big.initialise();
    const looseKey = await big.putObjectFromStream(createReadStream(plainPath));
    const bigPacked = new DiskObjectStoreRepositoryBackend({ folder: join(root, 'big-packed') });
    await bigPacked.initialise();
    const [packedKey] = await bigPacked.addObjectsToPack([createReadStream(plainPath)]);
    const bigZ = new DiskObjectStoreRepositoryBackend({ folder: join(root, 'big-zlib') });
    await bigZ.initialise();
    const [zKey] = await bigZ.addObjectsToPack([createReadStream(plainPath)], { compress: true });
    const baseline = await timed(() =>
      streamHash(createReadStream(plainPath, { highWaterMark: 1024 * 1024 })),
    );
    const readLoose = await timed(async () => streamHash(await big.openStream(looseKey)));
    const readPacked = await timed(async () => streamHash(await bigPacked.openStream(packedKey as string)));
    const readZ = await timed(async () => streamHash(await bigZ.openStream(zKey as string)));
    for (const result of [readLoose, readPacked, readZ]) {
      if (result.result !== baseline.result) throw new Error('read back different content');
    }
    const rate = (seconds: number): string => `${(bigMb / seconds).toFixed(0)} MB/s`;
    console.log(`4. streaming read (+ sha256) of a ${bigMb} MB object`);
    line('baseline: fs.createReadStream of a plain file', rate(baseline.seconds));
    line(
      'openStream, loose',
      rate(readLoose.seconds),
      `ratio ${(baseline.seconds / readLoose.seconds).toFixed(2)}`,
    );
    line(
      'openStream, packed',
      rate(readPacked.seconds),
      `ratio ${(baseline.seconds / readPacked.seconds).toFixed(2)}`,
    );
    line(
      'openStream, packed with zlib',
      rate(readZ.seconds),
      `ratio ${(baseline.seconds / readZ.seconds).toFixed(2)}`,
    );
    await Promise.all([big.close(), bigPacked.close(), bigZ.close()]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
