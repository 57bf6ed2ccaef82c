/**
 * The built packages load as users load them: every public entry point of kiwipy-ts, plumpy-ts and aiida-ts,
 * imported by a plain `node` (no `source` condition, no tsx) from `dist/`. The tests import the sources, which
 * another compiler builds; a module that tsc compiles into one that fails at load time (a class used by its own
 * static block before tsc's alias of it is assigned, say) would pass every other test and break every user.
 * `pnpm test` builds first; run `pnpm build` before this file alone.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const packagesRoot = path.join(import.meta.dirname, '..', '..', '..');

/** The `import` specifiers of a package's public entry points, from its `exports` map. */
function entryPoints(name: string): string[] {
  const manifest = JSON.parse(readFileSync(path.join(packagesRoot, name, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  return Object.entries(manifest.exports)
    .filter(([subpath, target]) => !subpath.includes('*') && typeof target === 'object' && target !== null)
    .map(([subpath]) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`));
}

describe.each(['kiwipy-ts', 'plumpy-ts', 'aiida-ts'])('the built %s', (name) => {
  it('loads every public entry point with plain node', async () => {
    expect(existsSync(path.join(packagesRoot, name, 'dist')), `${name}/dist is missing: run pnpm build`).toBe(
      true,
    );
    const specifiers = entryPoints(name);
    expect(specifiers.length).toBeGreaterThan(0);
    const script = `for (const s of ${JSON.stringify(specifiers)}) await import(s);`;
    // from aiida-ts, which depends on the other two: all three resolve as a user's project resolves them
    const run = promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.join(packagesRoot, 'aiida-ts'),
    });
    await expect(run).resolves.toBeDefined();
  });
});
