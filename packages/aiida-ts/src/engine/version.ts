import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * The version of aiida-ts, recorded on every process node as `version.core` (as aiida-core records its own). Read
 * once from the package's `package.json`, which sits two folders above both `src/engine/` and `dist/engine/`.
 */
export function coreVersion(): string {
  if (cached === undefined) {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    cached = (JSON.parse(text) as { version: string }).version;
  }
  return cached;
}
