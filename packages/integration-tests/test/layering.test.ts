import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const packagesDir = join(import.meta.dirname, '..', '..');
/** Lower layers first: a package may import only those before it. */
const layers = ['kiwipy-ts', 'plumpy-ts', 'aiida-ts'] as const;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts)$/.test(entry)) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g))
    specs.push(match[1]!);
  return specs;
}

describe('package layering', () => {
  for (const [index, pkg] of layers.entries()) {
    const higher = layers.slice(index + 1);
    it(`${pkg} never imports a higher layer (${higher.join(', ') || 'none'}) or another package's internals`, () => {
      const offenders: string[] = [];
      for (const file of sourceFiles(join(packagesDir, pkg, 'src'))) {
        for (const spec of importsOf(file)) {
          const target = layers.find((l) => spec === l || spec.startsWith(`${l}/`));
          if (target === undefined || target === pkg) continue;
          const where = relative(packagesDir, file);
          if (higher.includes(target)) offenders.push(`${where} imports ${spec} (a higher layer)`);
          if (spec.includes('/internal') || spec.includes('/src/') || spec.includes('/dist/')) {
            offenders.push(`${where} deep-imports ${spec}`);
          }
        }
      }
      expect(offenders).toEqual([]);
    });
  }

  it('never reaches into a sibling package by relative path', () => {
    const offenders: string[] = [];
    for (const pkg of layers) {
      for (const file of sourceFiles(join(packagesDir, pkg, 'src'))) {
        for (const spec of importsOf(file)) {
          if (spec.startsWith('.') && layers.some((l) => l !== pkg && spec.includes(`/${l}/`))) {
            offenders.push(`${relative(packagesDir, file)} imports ${spec}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('package manifests', () => {
  for (const pkg of layers) {
    it(`${pkg} is an ESM-only package with an exports map that hides internals`, () => {
      const manifest = JSON.parse(readFileSync(join(packagesDir, pkg, 'package.json'), 'utf8')) as {
        type?: string;
        sideEffects?: boolean;
        exports?: Record<string, unknown>;
        dependencies?: Record<string, string>;
        scripts?: Record<string, string>;
      };
      expect(manifest.type).toBe('module');
      expect(manifest.sideEffects).toBe(false);
      expect(manifest.exports?.['./internal/*']).toBeNull();
      for (const [key, target] of Object.entries(manifest.exports ?? {})) {
        if (key === './internal/*' || key === './package.json') continue;
        expect(target, key).toMatchObject({
          types: expect.stringMatching(/\.d\.ts$/),
          default: expect.stringMatching(/\.js$/),
        });
      }
      expect(manifest.scripts).toHaveProperty('test');
      expect(manifest.scripts).toHaveProperty('bench');
      const index = layers.indexOf(pkg);
      for (const dep of Object.keys(manifest.dependencies ?? {})) {
        const layer = layers.indexOf(dep as (typeof layers)[number]);
        if (layer !== -1) expect(layer, `${pkg} depends on ${dep}`).toBeLessThan(index);
      }
    });
  }
});
