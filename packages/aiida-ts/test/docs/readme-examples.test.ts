import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProfile, getConfig, loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { getStorage } from '../../src/storage.js';

// The README's TypeScript examples, run as written so the documentation cannot drift from the code. An example is
// a ```ts block whose first line is `// example: <name>`. Each runs as its own ES module, with `aiida-ts/…`
// imports pointing at this package's sources, on a fresh `core.sqlite_temp` profile loaded as the default one.
// A `console.log` line ending in `// → <text>` must print <text> (up to white space; `…` stands for any text), an
// example prints nothing else, and whatever it throws fails its test.

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readmePath = path.join(packageRoot, 'README.md');

/** The package's public entry points, as its `exports` map names them. */
function entryPoints(): Map<string, string> {
  const manifest = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  const map = new Map<string, string>();
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    const source = (target as { source?: unknown } | null)?.source;
    if (typeof source !== 'string') continue;
    map.set(subpath === '.' ? 'aiida-ts' : `aiida-ts/${subpath.slice(2)}`, path.join(packageRoot, source));
  }
  return map;
}

interface Example {
  readonly name: string;
  readonly code: string;
  /** The README line the block starts on, for messages. */
  readonly line: number;
  readonly expected: readonly string[];
}

const MARKER = /^\/\/ example: ([a-z0-9-]+)$/;
const EXPECTED = /\/\/ → (.*)$/;

/** Every marked ```ts block of a Markdown text. */
function extractExamples(markdown: string): Example[] {
  const lines = markdown.split('\n');
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end += 1;
    const body = lines.slice(start, end);
    i = end;
    const marker = MARKER.exec(body[0]?.trim() ?? '');
    if (marker === null) continue;
    examples.push({
      name: marker[1]!,
      code: body.join('\n'),
      line: start,
      expected: body.flatMap((line) => {
        const match = EXPECTED.exec(line);
        return match === null ? [] : [match[1]!.trimEnd()];
      }),
    });
  }
  return examples;
}

/** The code with `aiida-ts` imports turned into file URLs of the sources. */
function resolveImports(code: string, entries: ReadonlyMap<string, string>): string {
  return code.replace(
    /(from\s+|import\s*\(\s*)'(aiida-ts(?:\/[a-z-]+)?)'/g,
    (whole, lead: string, name: string) => {
      const file = entries.get(name);
      if (file === undefined)
        throw new Error(`the README imports '${name}', which package.json does not export`);
      return `${lead}'${pathToFileURL(file).href}'`;
    },
  );
}

/**
 * Whether a printed line is what the README says, up to white space: `console.log` breaks long values over
 * several lines, the README keeps them on one.
 */
function matches(printed: string, expected: string): boolean {
  const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim();
  const pattern = collapse(expected)
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`, 's').test(collapse(printed));
}

const examples = extractExamples(readFileSync(readmePath, 'utf8'));
const entries = entryPoints();

describe('README examples', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'aiida-ts-readme-'));
    setConfigDir(path.join(dir, '.aiida-ts'));
    await createProfile(getConfig(), {
      name: 'docs',
      storageBackend: 'core.sqlite_temp',
      storageConfig: {},
      user: { email: 'aiida@localhost' },
    });
  });

  beforeEach(async () => {
    // every example starts from an empty storage
    await unloadProfile();
    await loadProfile('docs');
  });

  afterAll(async () => {
    await unloadProfile();
    setConfigDir(undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads marked blocks only, with their expected lines, and compares up to white space and `…`', () => {
    const markdown = [
      '```ts',
      'console.log(1); // → 1',
      '```',
      '```ts',
      '// example: demo',
      'console.log([1, 2]); // → [ 1, 2 ]',
      "console.log('x'); // → x…z",
      '```',
    ].join('\n');
    const [only, ...rest] = extractExamples(markdown);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ name: 'demo', line: 4, expected: ['[ 1, 2 ]', 'x…z'] });
    expect(matches('[\n  1,\n  2\n]', '[ 1, 2 ]')).toBe(true);
    expect(matches('xyyz', 'x…z')).toBe(true);
    expect(matches('x.z', 'x.y')).toBe(false);
    expect(matches('true 6', 'true 5')).toBe(false);
  });

  it('finds the examples, each with a unique name', () => {
    expect(examples.length).toBeGreaterThanOrEqual(20);
    const names = examples.map((example) => example.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(examples.map((example) => [example.name, example] as const))(
    'runs `%s` and prints what it says',
    async (name, example) => {
      const file = path.join(dir, `${name}.ts`);
      writeFileSync(file, resolveImports(example.code, entries));
      const printed: string[] = [];
      const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        printed.push(format(...args));
      });
      try {
        await import(pathToFileURL(file).href);
      } finally {
        spy.mockRestore();
      }
      const where = `README.md line ${example.line}, example '${name}'`;
      expect(printed.length, `${where}: printed ${JSON.stringify(printed)}`).toBe(example.expected.length);
      printed.forEach((line, i) => {
        expect(
          matches(line, example.expected[i]!),
          `${where}: output ${i + 1} was\n  ${line}\nbut the README says\n  ${example.expected[i]}`,
        ).toBe(true);
      });
      // the example used the profile's storage and left it usable
      expect(getStorage().isClosed).toBe(false);
    },
  );
});
