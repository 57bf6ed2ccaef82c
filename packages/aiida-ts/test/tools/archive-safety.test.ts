import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptStorageError, ImportValidationError, UnsafeArchiveError } from '../../src/errors.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { importArchive } from '../../src/tools/archive/import.js';
import { readZip } from '../orm/archive-fixtures.js';
import { sqliteDosConfig, TEST_USER_EMAIL, tempFolder } from '../storage/helpers.js';
import { fixture, snapshot } from './archive-support.js';

/** A zip of `entries` (in order), written by yazl. */
function zipOf(entries: readonly { name: string; content: Buffer; mode?: number }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries)
    zip.addBuffer(entry.content, entry.name, entry.mode === undefined ? {} : { mode: entry.mode });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** Replaces every occurrence of `from` by `to` (same length): renames an entry in both zip headers. */
function patchName(buffer: Buffer, from: string, to: string): Buffer {
  expect(from.length).toBe(to.length);
  const out = Buffer.from(buffer);
  for (let at = out.indexOf(from); at >= 0; at = out.indexOf(from, at + 1)) out.write(to, at, 'latin1');
  return out;
}

/** Sets the uncompressed size the central directory declares for the entry `name`. */
function declareSize(buffer: Buffer, name: string, size: number): Buffer {
  const out = Buffer.from(buffer);
  for (
    let at = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    at >= 0;
    at = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 4)
  ) {
    const length = out.readUInt16LE(at + 28);
    if (out.toString('utf8', at + 46, at + 46 + length) === name) {
      out.writeUInt32LE(size, at + 24);
      return out;
    }
  }
  throw new Error(`no central directory entry ${name}`);
}

describe('hostile archives are refused with a clear error and leave the profile unchanged', () => {
  let storage: Awaited<ReturnType<SqliteDosStorage['open']>>;
  let cleanup: () => Promise<void>;
  let folder: string;
  let removeFolder: () => Promise<void>;
  let entries: { name: string; content: Buffer }[];

  beforeAll(async () => {
    const made = await sqliteDosConfig();
    cleanup = made.cleanup;
    const plugin = new SqliteDosStorage();
    await plugin.initialise(made.config);
    storage = await plugin.open(made.config, { defaultUserEmail: TEST_USER_EMAIL });
    await importArchive(fixture('calcfunctions'), { storage });
    ({ folder, cleanup: removeFolder } = await tempFolder('aiida-ts-hostile-'));
    entries = [...(await readZip(fixture('calcjob'))).entries()].map(([name, content]) => ({
      name,
      content,
    }));
  });
  afterAll(async () => {
    await storage.close();
    await cleanup();
    await removeFolder();
  });

  const cases: readonly [string, () => Promise<Buffer>, new (...args: never[]) => Error, RegExp][] = [
    [
      'a zip-slip entry',
      async () =>
        patchName(
          await zipOf([...entries, { name: 'QQ/evil.txt', content: Buffer.from('x') }]),
          'QQ/evil.txt',
          '../evil.txt',
        ),
      UnsafeArchiveError,
      /refused archive .*\.\.\/evil\.txt/,
    ],
    [
      'an absolute path',
      async () =>
        patchName(
          await zipOf([...entries, { name: 'Qtmp/evil.txt', content: Buffer.from('x') }]),
          'Qtmp/evil.txt',
          '/tmp/evil.txt',
        ),
      UnsafeArchiveError,
      /refused archive .*absolute path/,
    ],
    [
      'a symbolic link',
      () => zipOf([...entries, { name: 'repo/link', content: Buffer.from('/etc/passwd'), mode: 0o120777 }]),
      UnsafeArchiveError,
      /entry `repo\/link` has the type of a symbolic link/,
    ],
    [
      'a truncated zip',
      async () => {
        const whole = await zipOf(entries);
        return whole.subarray(0, Math.floor(whole.length / 2));
      },
      CorruptStorageError,
      /is not a readable zip file/,
    ],
    [
      'an object whose content does not match its key',
      () =>
        zipOf(
          entries.map((entry) =>
            entry.name.startsWith('repo/') && entry.content.length > 10
              ? { name: entry.name, content: Buffer.concat([entry.content, Buffer.from('tampered')]) }
              : entry,
          ),
        ),
      ImportValidationError,
      /has the sha256 [0-9a-f]{64}: the archive is corrupt/,
    ],
    [
      'an entry declaring 2 GB',
      async () => {
        const name = entries.find(
          (entry) => entry.name.startsWith('repo/') && entry.content.length > 100,
        )!.name;
        return declareSize(await zipOf(entries), name, 2 ** 31);
      },
      UnsafeArchiveError,
      /declared size of 2147483648 bytes .* \(a zip bomb\)/,
    ],
  ];

  it.each(cases)('%s', async (what, make, kind, message) => {
    const file = path.join(folder, `${what.replaceAll(' ', '-')}.aiida`);
    await writeFile(file, await make());
    const before = await snapshot(storage);
    const error = await importArchive(file, { storage }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(message);
    expect(await snapshot(storage)).toEqual(before);
  });
});

describe('an import killed with SIGKILL midway', () => {
  it('leaves the profile as it was; the objects it wrote are unreferenced and maintenance removes them', async () => {
    const { config, cleanup } = await sqliteDosConfig();
    const plugin = new SqliteDosStorage();
    await plugin.initialise(config);
    try {
      let storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      await importArchive(fixture('calcfunctions'), { storage });
      const before = await snapshot(storage);
      await storage.close();
      const child = spawn(
        process.execPath,
        [
          '--conditions=source',
          '--import',
          'tsx',
          path.join(import.meta.dirname, 'support', 'import-and-hang.ts'),
          config.filepath,
          fixture('data_types'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, signal) => resolve(signal)),
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('MIDWAY')) resolve();
        });
        child.on('exit', () => reject(new Error(`the import ended before its midpoint: ${stderr}`)));
      });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      storage = await plugin.open(config, { defaultUserEmail: TEST_USER_EMAIL });
      try {
        expect(await snapshot(storage)).toEqual(before);
        const leftovers = await storage.unreferencedObjectKeys();
        expect(leftovers.length).toBeGreaterThan(0);
        await storage.maintain({ live: false });
        expect(await storage.unreferencedObjectKeys()).toEqual([]);
        const again = await importArchive(fixture('data_types'), { storage });
        expect(again.counts.node.new).toBe(16);
      } finally {
        await storage.close();
      }
    } finally {
      await cleanup();
    }
  });
});
