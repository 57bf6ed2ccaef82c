/**
 * Archive export and import of a 10,000-node profile (5,000 SinglefileData with a file each, 5,000 calcfunctions
 * with their source file and an input link), against the floor of moving the same rows with plain SQL
 * (`ATTACH` + `INSERT … SELECT`) and the same file contents with plain reads and writes, measured in the same run.
 * The export runs twice: from loose objects, and from the same objects packed (as after `verdi storage maintain`).
 * Prints the times, the ratios and the peak memory growth (the archive is streamed, so memory must stay far below
 * its size).
 *
 * The floor moves the bytes the way the real work does, into one file: the export reads each object file and
 * appends it to one output file (blocking reads, 1 MiB writes), as the archive is one zip; the import copies that
 * file in one piece, as the import writes the objects into one pack. Creating one file per object (what the floor
 * did first) costs more than either operation does and made both look faster than they are.
 */
import { randomUUID, createHash } from 'node:crypto';
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DiskObjectStoreRepositoryBackend } from '../src/repository.js';
import { SqliteDosStorage } from '../src/storage/sqlite/sqlite-dos.js';
import type { StorageBackend } from '../src/storage/backend.js';
import type { NewDbNode } from '../src/storage/schema.js';
import { createArchive } from '../src/tools/archive/create.js';
import { importArchive } from '../src/tools/archive/import.js';
import { createArchiveSchema } from '../src/tools/archive/archive-schema.js';

/** Half the nodes are data, half calcfunctions; `ARCHIVE_BENCH_NODES` makes it smaller while iterating. */
const NODES = Number(process.env['ARCHIVE_BENCH_NODES'] ?? 10_000);
const DATA = Math.floor(NODES / 2);
const CALCS = NODES - DATA;
const EMAIL = 'bench@aiida.localhost';

async function openStorage(folder: string): Promise<StorageBackend> {
  const plugin = new SqliteDosStorage();
  const config = plugin.parseConfig({ filepath: folder });
  await plugin.initialise(config);
  return plugin.open(config, { defaultUserEmail: EMAIL });
}

async function populate(storage: StorageBackend): Promise<void> {
  const now = storage.dialect.encodeTimestamp(new Date());
  const [user] = await storage.bulkInsert('db_dbuser', [
    { email: EMAIL, first_name: '', last_name: '', institution: '' },
  ]);
  const source = await storage.repository.putObjectFromBuffer(
    Buffer.from('def add(x, y):\n    return x + y\n'),
  );
  const data: NewDbNode[] = [];
  for (let index = 0; index < DATA; index += 1) {
    const key = await storage.repository.putObjectFromBuffer(
      Buffer.from(`file ${index}\n${'x'.repeat(200)}\n`),
    );
    data.push({
      uuid: randomUUID(),
      node_type: 'data.core.singlefile.SinglefileData.',
      process_type: null,
      label: '',
      description: '',
      ctime: now,
      mtime: now,
      attributes: JSON.stringify({ filename: 'file.txt' }),
      extras: JSON.stringify({ _aiida_hash: createHash('sha256').update(key).digest('hex') }),
      repository_metadata: JSON.stringify({ o: { 'file.txt': { k: key } } }),
      dbcomputer_id: null,
      user_id: user!,
    });
  }
  const calcs = Array.from({ length: CALCS }, (_, index) => ({
    uuid: randomUUID(),
    node_type: 'process.calculation.calcfunction.CalcFunctionNode.',
    process_type: 'bench.add',
    label: `add-${index}`,
    description: '',
    ctime: now,
    mtime: now,
    attributes: JSON.stringify({
      sealed: true,
      process_state: 'finished',
      exit_status: 0,
      process_label: 'add',
      value: 2.0,
    }),
    extras: '{}',
    repository_metadata: JSON.stringify({ o: { source_file: { k: source } } }),
    dbcomputer_id: null,
    user_id: user!,
  }));
  await storage.transaction(async () => {
    const dataIds = await storage.bulkInsert('db_dbnode', data);
    const calcIds = await storage.bulkInsert('db_dbnode', calcs);
    await storage.bulkInsert(
      'db_dblink',
      calcIds.map((id, index) => ({
        input_id: dataIds[index]!,
        output_id: id,
        label: 'x',
        type: 'input_calc',
      })),
    );
  });
}

function sampleMemory(): { stop(): number } {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss) - base;
    },
  };
}

/**
 * Wall time, the CPU time of the process (all its threads: zlib and file system work included) and the peak RSS
 * growth of `fn`. On a shared, loaded machine the CPU time is the steadier figure.
 */
async function time<T>(
  fn: () => Promise<T>,
): Promise<{ seconds: number; cpu: number; result: T; memory: number }> {
  const memory = sampleMemory();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const result = await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { seconds, cpu: (used.user + used.system) / 1e6, result, memory: memory.stop() };
}

/** The keys of every object the profile's nodes name, and their loose-object paths in the container. */
function objectKeys(db: BetterSqlite3.Database): string[] {
  const keys = new Set<string>();
  for (const { r } of db.prepare('SELECT repository_metadata AS r FROM db_dbnode').all() as { r: string }[]) {
    for (const match of r.matchAll(/"k":\s*"([0-9a-f]{64})"/g)) keys.add(match[1]!);
  }
  return [...keys];
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'aiida-bench-archive-'));
  try {
    const source = await openStorage(path.join(root, 'source'));
    await populate(source);
    const sourceDb = path.join(root, 'source', 'database.sqlite');
    const looseSource = path.join(root, 'source', 'container', 'loose');
    const archive = path.join(root, 'export.aiida');
    const floorObjects = path.join(root, 'floor-export-objects');

    const exported = await time(() => createArchive(archive, { storage: source, entities: null }));
    const archiveBytes = (await stat(archive)).size;

    // floor of export: the same rows with ATTACH + INSERT … SELECT into a new database, the files appended to one
    const floorExport = await time(() => {
      const db = new BetterSqlite3(path.join(root, 'floor-export.sqlite3'));
      db.pragma('journal_mode = OFF');
      createArchiveSchema(db);
      db.prepare('ATTACH DATABASE ? AS src').run(sourceDb);
      db.transaction(() => {
        for (const table of ['db_dbuser', 'db_dbnode', 'db_dblink'])
          db.exec(`INSERT INTO main.${table} SELECT * FROM src.${table}`);
      })();
      const keys = objectKeys(db);
      db.close();
      const out = openSync(floorObjects, 'w');
      let pending: Buffer[] = [];
      let size = 0;
      for (const key of keys) {
        const content = readFileSync(path.join(looseSource, key.slice(0, 2), key.slice(2)));
        pending.push(content);
        size += content.length;
        if (size < 2 ** 20) continue;
        writeSync(out, Buffer.concat(pending, size));
        pending = [];
        size = 0;
      }
      writeSync(out, Buffer.concat(pending, size));
      closeSync(out);
      return Promise.resolve();
    });

    // the same export once the objects are packed (as after `verdi storage maintain`), against the same floor
    if (!(source.repository instanceof DiskObjectStoreRepositoryBackend))
      throw new Error('the bench profile is a disk-objectstore container');
    await source.repository.packAllLoose();
    const exportedPacked = await time(() =>
      createArchive(path.join(root, 'export-packed.aiida'), { storage: source, entities: null }),
    );
    await source.close();

    const target = await openStorage(path.join(root, 'target'));
    const imported = await time(() => importArchive(archive, { storage: target }));
    await target.close();

    // floor of import: the rows of the archive database inserted with plain SQL, the objects copied in one piece
    const floorImport = await time(() => {
      const profile = new BetterSqlite3(path.join(root, 'floor-import.sqlite3'));
      profile.pragma('journal_mode = WAL');
      createArchiveSchema(profile);
      profile.prepare('ATTACH DATABASE ? AS arc').run(path.join(root, 'floor-export.sqlite3'));
      profile.transaction(() => {
        for (const table of ['db_dbuser', 'db_dbnode', 'db_dblink'])
          profile.exec(`INSERT INTO main.${table} SELECT * FROM arc.${table}`);
      })();
      profile.close();
      copyFileSync(floorObjects, path.join(root, 'floor-import-pack'));
      return Promise.resolve();
    });

    const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `profile: ${DATA + CALCS} nodes, ${CALCS} links, ${DATA + 1} repository objects; archive ${mb(archiveBytes)}`,
    );
    const line = (
      what: string,
      run: { seconds: number; cpu: number; memory: number },
      floor: { seconds: number; cpu: number },
      targets: string,
    ): string =>
      `${what}  ${run.seconds.toFixed(3)} s (floor ${floor.seconds.toFixed(3)} s, ratio ` +
      `${(run.seconds / floor.seconds).toFixed(2)}x; ${targets}) cpu ${run.cpu.toFixed(3)} s (floor ` +
      `${floor.cpu.toFixed(3)} s, ratio ${(run.cpu / floor.cpu).toFixed(2)}x) peak RSS growth ${mb(run.memory)}`;
    console.log(line('export', exported, floorExport, 'target <= 0.3 s, aiida-core 1.8 s'));
    console.log(line('export (packed)', exportedPacked, floorExport, 'objects read from packs'));
    console.log(line('import', imported, floorImport, 'target <= 0.5 s, aiida-core 5.5 s'));
    if (imported.result.counts.node.new !== DATA + CALCS)
      throw new Error('the import did not bring every node');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
