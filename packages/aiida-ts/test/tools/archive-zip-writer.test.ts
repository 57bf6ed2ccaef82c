import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveExportError } from '../../src/errors.js';
import { ZipFileWriter } from '../../src/tools/archive/zip-file-writer.js';
import { SafeZipReader } from '../../src/tools/archive/zip-reader.js';
import { tempFolder } from '../storage/helpers.js';
import { localHeaderNames, pythonEntries, sha256 } from './zip-checks.js';

/** A stream whose first read fails with `message`. */
function failingStream(message: string): Readable {
  return new Readable({
    read() {
      this.destroy(new Error(message));
    },
  });
}

describe('the zip writer of archives', () => {
  let folder: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ folder, cleanup } = await tempFolder('aiida-ts-zip-writer-'));
  });
  afterAll(async () => {
    await cleanup();
  });

  it('writes stored, streamed-stored and deflated entries that Python, our reader and a local-header walk agree on', async () => {
    const file = path.join(folder, 'mixed.zip');
    const entries: { name: string; content: Buffer; level: number | null }[] = [
      { name: 'metadata.json', content: Buffer.from('{"export_version":"main_0001"}'), level: null },
      // several MiB of half-random bytes: the deflated output spans writes, so the header is patched in the file
      {
        name: 'db.sqlite3',
        content: Buffer.concat([randomBytes(3 * 2 ** 20), Buffer.alloc(2 ** 20)]),
        level: 6,
      },
      { name: 'repo/empty', content: Buffer.alloc(0), level: null },
      { name: 'repo/stored-stream', content: randomBytes(100_000), level: 0 },
      // chunks of a MiB or more go to the file as they are, past the output buffer
      { name: 'repo/stored-large-chunks', content: randomBytes(3 * 2 ** 20), level: 0 },
      { name: 'repo/deflated-small', content: Buffer.from('tiny'), level: 9 },
      { name: 'repo/ünïcode', content: Buffer.from('named in UTF-8'), level: null },
    ];
    const zip = await ZipFileWriter.create(file);
    for (const entry of entries) {
      if (entry.level === null) zip.addBuffer(entry.name, entry.content);
      else {
        // in pieces, as a file stream gives them
        const pieces = [entry.content.subarray(0, 1000), entry.content.subarray(1000)];
        await zip.addStream(entry.name, Readable.from(pieces), {
          level: entry.level,
          size: entry.content.length,
        });
      }
    }
    await zip.close();

    expect(pythonEntries(file)).toEqual(
      entries.map((entry) => [
        entry.name,
        entry.level === null || entry.level === 0 ? 0 : 8,
        sha256(entry.content),
      ]),
    );
    const reader = await SafeZipReader.open(file);
    try {
      expect(reader.names()).toEqual(entries.map((entry) => entry.name));
      for (const entry of entries)
        expect((await reader.readBuffer(entry.name)).equals(entry.content)).toBe(true);
    } finally {
      reader.close();
    }
    expect(localHeaderNames(await readFile(file))).toEqual(entries.map((entry) => entry.name));
  });

  it('writes stored entries added while a streamed one is being written after it, in the order added', async () => {
    const file = path.join(folder, 'overlap.zip');
    const big = randomBytes(2 * 2 ** 20);
    const zip = await ZipFileWriter.create(file);
    zip.addBuffer('metadata.json', Buffer.from('{}'));
    const streamed = zip.addStream('db.sqlite3', Readable.from([big]), { level: 6, size: big.length });
    const small = Array.from({ length: 500 }, (_, index) => ({
      name: `repo/${index}`,
      content: Buffer.from(`object ${index}`),
    }));
    for (const entry of small) zip.addBuffer(entry.name, entry.content);
    // one streamed entry at a time: a second one is refused until the first is drained
    await expect(
      zip.addStream('repo/second', Readable.from([Buffer.from('x')]), { level: 6, size: 1 }),
    ).rejects.toThrow(ArchiveExportError);
    await streamed;
    await zip.drain();
    await zip.addStream('repo/second', Readable.from([Buffer.from('x')]), { level: 6, size: 1 });
    await zip.close();

    const expected = [
      ['metadata.json', sha256(Buffer.from('{}'))],
      ['db.sqlite3', sha256(big)],
      ...small.map((entry) => [entry.name, sha256(entry.content)]),
      ['repo/second', sha256(Buffer.from('x'))],
    ];
    expect(pythonEntries(file).map(([name, , hash]) => [name, hash])).toEqual(expected);
    expect(localHeaderNames(await readFile(file))).toEqual(expected.map(([name]) => name));
  });

  it('reports the failure of a streamed entry at the next drain, with entries held back behind it', async () => {
    const file = path.join(folder, 'overlap-failing.zip');
    const zip = await ZipFileWriter.create(file);
    const failing = failingStream('database gone');
    const streamed = zip.addStream('db.sqlite3', failing, { level: 6, size: 10 });
    zip.addBuffer('repo/held', Buffer.from('held back'));
    await expect(zip.drain()).rejects.toThrow('database gone');
    await expect(streamed).rejects.toThrow('database gone');
    await zip.abort();
    await rm(file);
  });

  it('writes ZIP64 end records for more than 65,535 entries, read by Python and by our reader', async () => {
    const file = path.join(folder, 'many.zip');
    const count = 70_000;
    const zip = await ZipFileWriter.create(file);
    for (let index = 0; index < count; index += 1) {
      zip.addBuffer(`repo/${index}`, Buffer.from(String(index)));
      if (zip.backlog) await zip.drain();
    }
    await zip.close();

    const python = pythonEntries(file);
    expect(python).toHaveLength(count);
    expect(python[count - 1]).toEqual([`repo/${count - 1}`, 0, sha256(Buffer.from(String(count - 1)))]);
    const reader = await SafeZipReader.open(file);
    try {
      expect(reader.names()).toHaveLength(count);
      expect((await reader.readBuffer('repo/69999')).toString()).toBe('69999');
    } finally {
      reader.close();
    }
  });

  it('refuses a streamed entry whose length is not the one announced, and leaves the file to be removed', async () => {
    const file = path.join(folder, 'changed.zip');
    const zip = await ZipFileWriter.create(file);
    const error = await zip
      .addStream('repo/changed', Readable.from([Buffer.from('longer than announced')]), { level: 6, size: 3 })
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toBeInstanceOf(ArchiveExportError);
    expect(String(error)).toContain('repo/changed');
    await zip.abort();
    await rm(file);
  });

  it('passes on the failure of a stream it reads from', async () => {
    const file = path.join(folder, 'failing.zip');
    const zip = await ZipFileWriter.create(file);
    const failing = failingStream('disk gone');
    await expect(zip.addStream('repo/failing', failing, { level: 6, size: 10 })).rejects.toThrow('disk gone');
    await zip.abort();
    await rm(file);
  });
});
