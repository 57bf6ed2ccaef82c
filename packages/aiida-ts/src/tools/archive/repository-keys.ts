import { isValidObjectName } from '../../repository/repository-path.js';
import { OBJECT_KEY } from './format.js';

/**
 * Adds every object key of a node's `repository_metadata` (`{o: {name: {k: key} | {o: {…}}}}`) to `keys`. Used on
 * trusted rows (the profile's) and on archive rows alike; anything that is not an entry is skipped here and
 * rejected by the import's own validation.
 */
export function collectRepositoryKeys(metadata: unknown, keys: Set<string>): void {
  if (typeof metadata !== 'object' || metadata === null) return;
  const entry = metadata as { readonly k?: unknown; readonly o?: unknown };
  if (typeof entry.k === 'string') keys.add(entry.k);
  if (typeof entry.o === 'object' && entry.o !== null) {
    for (const child of Object.values(entry.o as Record<string, unknown>)) collectRepositoryKeys(child, keys);
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The entries of a directory `{o: {...}}`, or false when one of them is not plainly valid. */
function plainDirectory(entries: unknown, keys: string[]): boolean {
  if (!isPlainObject(entries)) return false;
  for (const name of Object.keys(entries)) {
    if (name === '__proto__' || !isValidObjectName(name)) return false;
    const entry = entries[name];
    if (!isPlainObject(entry)) return false;
    let fields = 0;
    for (const field in entry) {
      fields += 1;
      if (field === 'k') {
        const key = entry['k'];
        if (typeof key !== 'string' || !OBJECT_KEY.test(key)) return false;
        keys.push(key);
      } else if (field === 'o') {
        if (!plainDirectory(entry['o'], keys)) return false;
      } else {
        return false;
      }
    }
    if (fields > 1) return false;
  }
  return true;
}

/**
 * The object keys of a node's `repository_metadata` when it is plainly valid (the common shape: directories `{o}`
 * and files `{k}` with well-formed sha256 keys and names), else null. A fast check of a strict subset of what
 * `RepositoryMetadataSchema` accepts, for importing many nodes; anything else goes to the schema, which also says
 * what is wrong.
 */
export function plainRepositoryKeys(metadata: unknown): string[] | null {
  if (!isPlainObject(metadata)) return null;
  const keys: string[] = [];
  for (const field in metadata) {
    if (field !== 'o' || !plainDirectory(metadata['o'], keys)) return null;
  }
  return keys;
}
