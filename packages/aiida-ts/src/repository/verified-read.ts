import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { CorruptObjectError, isAiidaError, RepositoryError } from '../errors.js';
import { asError } from '../utils/as-error.js';
import { sha256Hex } from './object-key.js';

/** Where an object was read from, for the message of a {@link CorruptObjectError}. */
export type ObjectLocation = string;

function corrupt(key: string, where: ObjectLocation, detail: string, cause?: unknown): CorruptObjectError {
  return new CorruptObjectError(
    `object ${key} is corrupt (${where}): ${detail}; restore it from a backup (\`verdi storage backup\`) or ` +
      'find the nodes using it with `verdi storage integrity`',
    key,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The error for content that could not be decoded at all (a compressed object whose zlib stream is damaged), or
 * `error` itself when it is no decoding error.
 */
export function decodingError(error: unknown, key: string, where: ObjectLocation): Error {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return corrupt(key, where, `its compressed data cannot be inflated (${(error as Error).message})`, error);
  }
  return asError(error, RepositoryError);
}

/** Returns `content` when it hashes to `key`; throws {@link CorruptObjectError} naming the key and place if not. */
export function verifyContent(key: string, content: Buffer, where: ObjectLocation): Buffer {
  const actual = sha256Hex(content);
  if (actual !== key) {
    throw corrupt(key, where, `its ${content.length} bytes hash to ${actual}`);
  }
  return content;
}

/**
 * `source` passed through unchanged while it is hashed; when it ends with content that does not hash to `key`, the
 * returned stream fails with {@link CorruptObjectError} instead of ending, so a reader never takes corrupt content
 * for a complete object. Errors of `source` fail it too (a damaged zlib stream as {@link CorruptObjectError});
 * destroying it destroys `source`.
 */
export function verifyingStream(source: Readable, key: string, where: ObjectLocation): Readable {
  const hasher = createHash('sha256');
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hasher.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      const actual = hasher.digest('hex');
      callback(actual === key ? null : corrupt(key, where, `its ${bytes} bytes hash to ${actual}`));
    },
  });
  source.on('error', (error) => {
    check.destroy(isAiidaError(error) ? error : decodingError(error, key, where));
  });
  // a reader that stops early releases the file handle under the source
  check.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  return source.pipe(check);
}
