import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareScript, scriptCacheDir } from '../../src/cmdline/utils/script-cache.js';

describe('the compiled-script cache of verdi run', () => {
  const base = mkdtempSync(join(tmpdir(), 'aiida-ts-script-cache-'));
  const cache = join(base, 'cache');
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const resolveOwn = (specifier: string): string => `file:///own/${specifier}.js`;
  const write = (name: string, text: string): string => {
    const file = join(base, name);
    writeFileSync(file, text);
    return file;
  };

  it('compiles a self-contained script once, with its aiida-ts imports pointing at the running copy', async () => {
    const script = write(
      'self.ts',
      "import { Int } from 'aiida-ts/orm';\nimport { join } from 'node:path';\nconst x: number = 1;\nconsole.log(Int, join('a', 'b'), x, import.meta.url);\n",
    );
    const first = await prepareScript(script, resolveOwn, cache);
    expect(first.kind).toBe('compiled');
    if (first.kind !== 'compiled') return;
    const { readFileSync } = await import('node:fs');
    const code = readFileSync(new URL(first.url), 'utf8');
    expect(code).toContain('"file:///own/aiida-ts/orm.js"');
    expect(code).toContain('"node:path"');
    // import.meta.url is the script's own, not the cache file's
    expect(code).toContain(JSON.stringify(pathToFileURL(script).href));
    expect(code).not.toContain(': number');
    // a second run finds it in the cache; a changed script is compiled anew
    expect(await prepareScript(script, resolveOwn, cache)).toEqual(first);
    write('self.ts', "console.log('changed');\n");
    const changed = await prepareScript(script, resolveOwn, cache);
    expect(changed.kind === 'compiled' && changed.url !== first.url).toBe(true);
  });

  it.each([
    ['its own modules', "import { helper } from './helper.js';\nhelper();\n"],
    ['another package', "import pc from 'picocolors';\nconsole.log(pc);\n"],
    ['a dynamic import', "const os = await import('node:os');\nconsole.log(os);\n"],
    ['require', "const fs = require('node:fs');\nconsole.log(fs);\n"],
    ['CommonJS globals', 'console.log(__dirname);\nmodule.exports = {};\n'],
  ])('leaves a script importing %s to the loader hooks, and remembers that', async (what, text) => {
    const script = write(`uses-${what.replaceAll(' ', '-')}.ts`, text);
    const prepared = await prepareScript(script, resolveOwn, cache);
    expect(prepared.kind).toBe('hooks');
    expect(readdirSync(cache).some((file) => file.endsWith('.hooks'))).toBe(true);
    expect(await prepareScript(script, resolveOwn, cache)).toEqual(prepared);
  });

  it('lives under XDG_CACHE_HOME, else ~/.cache', () => {
    expect(scriptCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'aiida-ts', 'scripts'));
    expect(scriptCacheDir({})).toMatch(/\.cache\/aiida-ts\/scripts$/);
  });
});
