import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');

/** The modules `entry` loads at import time (value imports only; `import type` and `import()` are not loaded). */
function staticImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.startsWith(SRC)) return;
    const text = readFileSync(file, 'utf8');
    const pattern = /^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gmu;
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1]!;
      if (!specifier.startsWith('.')) {
        seen.add(specifier);
        continue;
      }
      visit(path.resolve(path.dirname(file), specifier).replace(/\.js$/u, '.ts'));
    }
  };
  visit(path.join(SRC, entry));
  return seen;
}

describe('plugin loading', () => {
  it('importing aiida-ts/orm loads neither ssh2 nor the transport and scheduler registries', () => {
    const loaded = staticImports('orm.ts');
    expect(loaded.has(path.join(SRC, 'orm', 'nodes', 'data', 'code', 'installed.ts'))).toBe(true);
    expect(loaded.has('ssh2')).toBe(false);
    expect(loaded.has(path.join(SRC, 'transports', 'registry.ts'))).toBe(false);
    expect(loaded.has(path.join(SRC, 'schedulers', 'registry.ts'))).toBe(false);
    expect(loaded.has(path.join(SRC, 'computers', 'plugin-hooks.ts'))).toBe(false);
  });

  it('the default hooks module reaches both registries', () => {
    const loaded = staticImports('computers/plugin-hooks.ts');
    expect(loaded.has(path.join(SRC, 'transports', 'registry.ts'))).toBe(true);
    expect(loaded.has(path.join(SRC, 'schedulers', 'registry.ts'))).toBe(true);
  });
});
