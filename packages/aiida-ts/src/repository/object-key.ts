import { createHash, hash } from 'node:crypto';
import { FileNotFoundError, RepositoryError } from '../errors.js';
import { asError } from '../utils/as-error.js';

/** A sha256 key: 64 lower-case hex characters, the only key format both backends use. */
export const SHA256_KEY_PATTERN = /^[0-9a-f]{64}$/;

/** The sha256 key of empty content. */
export const EMPTY_OBJECT_KEY = createHash('sha256').digest('hex');

/** True when `key` can name an object at all (checked before any key reaches a file path). */
export function isValidObjectKey(key: unknown): key is string {
  return typeof key === 'string' && SHA256_KEY_PATTERN.test(key);
}

/**
 * Adds to `keys` the object keys a node's `repository_metadata` (aiida's `{o: {name: {k: key} | {o: {…}}}}`)
 * refers to; anything else in the value is ignored.
 */
export function collectObjectKeys(metadata: unknown, keys: Set<string> = new Set()): Set<string> {
  if (typeof metadata !== 'object' || metadata === null) return keys;
  const entry = metadata as { k?: unknown; o?: unknown };
  if (typeof entry.k === 'string') keys.add(entry.k);
  if (typeof entry.o === 'object' && entry.o !== null) {
    for (const child of Object.values(entry.o)) collectObjectKeys(child, keys);
  }
  return keys;
}

/** Throws a `RepositoryError` naming the key when it is not a sha256 hex digest. */
export function assertValidObjectKey(key: unknown): asserts key is string {
  if (!isValidObjectKey(key)) {
    throw new RepositoryError(
      `invalid object key ${JSON.stringify(key)}: expected 64 lower-case hex characters (sha256)`,
    );
  }
}

/** The error every backend raises for a key it does not hold. */
export function objectNotFound(key: string): FileNotFoundError {
  return new FileNotFoundError(`object with key \`${key}\` does not exist.`);
}

/**
 * The sha256 hex digest of a buffer. One-shot `crypto.hash` (Node >= 20.12): no Hash object per call, about six
 * times cheaper than `createHash` for the small objects an archive holds by thousands.
 */
export function sha256Hex(content: Uint8Array): string {
  return hash('sha256', content, 'hex');
}

/** Chunks of a byte source as Buffers; rejects text chunks, which would be hashed in an unknown encoding. */
export async function* byteChunks(source: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    if (Buffer.isBuffer(chunk)) {
      yield chunk;
    } else if (chunk instanceof Uint8Array) {
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } else {
      throw new RepositoryError(
        `the stream yielded a ${typeof chunk === 'string' ? 'string' : typeof chunk} chunk; a repository object must be written from a byte stream`,
      );
    }
  }
}

/** An async iterator over items already in memory (a snapshot: later changes to the source are not seen). */
export function asyncIterableOf<T>(items: Iterable<T>): AsyncIterableIterator<T> {
  const iterator = [...items][Symbol.iterator]();
  return {
    next: () => Promise.resolve(iterator.next()),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Runs `fn` and turns its result or exception into a promise (a promise it returns is handed back as it is). */
export function settle<T>(fn: () => T | PromiseLike<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(asError(error, RepositoryError));
  }
}
