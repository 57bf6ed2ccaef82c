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
