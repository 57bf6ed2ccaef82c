import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';

/**
 * Python's `zipfile` (what aiida-core opens archives with) checks every entry's CRC-32 (`testzip`) and prints, per
 * entry, its name, compression method and the sha256 of its content, as JSON.
 */
const PYTHON_CHECK = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    print(json.dumps([[i.filename, i.compress_type, hashlib.sha256(z.read(i)).hexdigest()] for i in z.infolist()]))
`;

export function pythonEntries(file: string): [string, number, string][] {
  return JSON.parse(
    execFileSync('python3', ['-c', PYTHON_CHECK, file], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 }),
  ) as [string, number, string][];
}

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * The entry names met by walking the local headers from the front, using the sizes each header declares (as a
 * reader that does not read the central directory does): they must be every entry, in the order written.
 */
export function localHeaderNames(zip: Buffer): string[] {
  const names: string[] = [];
  let at = 0;
  while (zip.readUInt32LE(at) === 0x04034b50) {
    const nameLength = zip.readUInt16LE(at + 26);
    const extraLength = zip.readUInt16LE(at + 28);
    let compressed = zip.readUInt32LE(at + 18);
    if (compressed === 0xffffffff) {
      // the ZIP64 extra holds the uncompressed size, then the compressed one
      compressed = Number(zip.readBigUInt64LE(at + 30 + nameLength + 4 + 8));
    }
    names.push(zip.toString('utf8', at + 30, at + 30 + nameLength));
    at += 30 + nameLength + extraLength + compressed;
  }
  return names;
}
