import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptStorageError } from '../../src/errors.js';
import { SafeZipReader, unsafeEntryReason } from '../../src/tools/archive/zip-reader.js';
import { tempFolder } from '../storage/helpers.js';

/** A zip of `entries` (in order, deflated), written by yazl. */
function zipOf(entries: readonly { name: string; content: Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) zip.addBuffer(entry.content, entry.name);
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** Rewrites the central-directory record of `name`: `field` is the byte offset in the record (16 CRC, 24 size). */
function patchCentral(buffer: Buffer, name: string, field: number, value: number): Buffer {
  const out = Buffer.from(buffer);
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let at = out.indexOf(signature); at >= 0; at = out.indexOf(signature, at + 4)) {
    const length = out.readUInt16LE(at + 28);
    if (out.toString('utf8', at + 46, at + 46 + length) === name) {
      out.writeUInt32LE(value, at + field);
      return out;
    }
  }
  throw new Error(`no central directory entry ${name}`);
}

describe('the zip reader of archives', () => {
  let folder: string;
  let cleanup: () => Promise<void>;
  // several MiB, so reads cross the reader's cached blocks; big random entries stay big when deflated
  const entries = [
    { name: 'big-1', content: randomBytes(1_500_000) },
    ...Array.from({ length: 2000 }, (_, index) => ({
      name: `repo/${String(index).padStart(4, '0')}`,
      content: Buffer.from(`object ${index}\n${'y'.repeat(index % 300)}`),
    })),
    { name: 'huge', content: randomBytes(5 * 1024 * 1024) },
    { name: 'repo/last', content: Buffer.from('the last one') },
  ];

  beforeAll(async () => {
    ({ folder, cleanup } = await tempFolder('aiida-ts-zip-reader-'));
  });
  afterAll(async () => {
    await cleanup();
  });

  it('reads every entry whole or streamed, before and after extracting one, with one file descriptor', async () => {
    const file = path.join(folder, 'many.zip');
    await writeFile(file, await zipOf(entries));
    const zip = await SafeZipReader.open(file);
    try {
      // an extraction streams from the shared descriptor, which must stay open for the reads after it
      await zip.extractTo('big-1', path.join(folder, 'big-1'));
      expect((await readFile(path.join(folder, 'big-1'))).equals(entries[0]!.content)).toBe(true);
      for (const entry of entries.filter((e) => e.name.startsWith('repo/')))
        expect((await zip.readWhole(entry.name)).equals(entry.content)).toBe(true);
      // above the whole-read size: streamed, CRC-checked
      expect((await zip.readBuffer('huge')).equals(entries.at(-2)!.content)).toBe(true);
      const streamed: Buffer[] = [];
      for await (const chunk of await zip.openStream('big-1')) streamed.push(chunk as Buffer);
      expect(Buffer.concat(streamed).equals(entries[0]!.content)).toBe(true);
    } finally {
      zip.close();
    }
  });

  it('refuses an entry whose content fails its CRC-32 or its declared size', async () => {
    const small = [
      { name: 'repo/a', content: Buffer.from('a'.repeat(500)) },
      { name: 'repo/b', content: Buffer.from('b'.repeat(500)) },
    ];
    const whole = await zipOf(small);
    const badCrc = path.join(folder, 'bad-crc.zip');
    await writeFile(badCrc, patchCentral(whole, 'repo/a', 16, 12345));
    const badSize = path.join(folder, 'bad-size.zip');
    await writeFile(badSize, patchCentral(whole, 'repo/b', 24, 400));
    const crcZip = await SafeZipReader.open(badCrc);
    try {
      await expect(crcZip.readWhole('repo/a')).rejects.toThrow(/fails its CRC-32 check/);
      // importers hash objects against their keys and may skip the CRC
      expect((await crcZip.readWhole('repo/a', { checkCrc: false })).equals(small[0]!.content)).toBe(true);
    } finally {
      crcZip.close();
    }
    const sizeZip = await SafeZipReader.open(badSize);
    try {
      const error = await sizeZip.readWhole('repo/b').then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(CorruptStorageError);
      expect((error as Error).message).toMatch(/repo\/b/);
    } finally {
      sizeZip.close();
    }
  });
});

describe('entry names', () => {
  it('accepts plain relative names and refuses every way out of the archive', () => {
    for (const name of [
      'metadata.json',
      'db.sqlite3',
      `repo/${'ab'.repeat(32)}`,
      'a/b.c/d_e-f',
      'dir/',
      '.hidden/x',
    ])
      expect(unsafeEntryReason(name)).toBeNull();
    const refused = {
      '': 'an empty name',
      'a\0b': 'a NUL character',
      'a\\b': 'a backslash (a Windows path)',
      '/etc/passwd': 'an absolute path',
      'C:x': 'a drive letter (an absolute Windows path)',
      '..': 'a `..` component that leaves the archive',
      'repo/../../x': 'a `..` component that leaves the archive',
      'repo//x': 'an empty or `.` component',
      './x': 'an empty or `.` component',
      'repo/./x': 'an empty or `.` component',
    };
    for (const [name, reason] of Object.entries(refused)) expect(unsafeEntryReason(name)).toBe(reason);
  });
});
