import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { codeCacheDir, SCRIPT_WRAPPER, type CodeCacheState } from '../../src/cmdline/utils/code-cache.js';

const MODULE = pathToFileURL(
  join(import.meta.dirname, '..', '..', 'src', 'cmdline', 'utils', 'code-cache.ts'),
).href;
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface Outcome {
  readonly state: CodeCacheState;
  readonly answer: number;
}

/**
 * Loads `file` through the code cache in a new process (V8 keeps what it compiled for the rest of a process, so a
 * second load in one process would not read the cache), calls the script's lazily compiled function, then saves.
 */
function load(file: string, cacheDir: string | undefined, key = 'k', wrapped = false): Outcome {
  const code = [
    `const { loadCachedScript } = await import(${JSON.stringify(MODULE)});`,
    `const script = loadCachedScript({ file: ${JSON.stringify(file)}, cacheDir: ${JSON.stringify(cacheDir)}, key: ${JSON.stringify(key)}, importModule: (specifier) => import(specifier), wrapped: ${String(wrapped)} });`,
    // the script's import() goes through `importModule`, also in code V8 took from the cache
    "const answer = script.exports.answer() + ((await script.exports.imported()) === 'node:os' ? 0 : 1000);",
    'script.save();',
    'console.log(JSON.stringify({ state: script.state, answer }));',
  ].join('\n');
  const result = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`load failed: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as Outcome;
}

describe("the code cache of verdi's CommonJS script", () => {
  const base = mkdtempSync(join(tmpdir(), 'aiida-ts-code-cache-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  let count = 0;

  const writeScript = (file: string, answer: number): void => {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(
      file,
      [
        "const path = require('node:path');",
        `exports.answer = () => ${answer} + path.basename(__filename).length - 10;`,
        "exports.imported = async () => ((await __aiidaTsImport('node:os')).EOL === '\\n' ? 'node:os' : '?');",
        '',
      ].join('\n'),
    );
  };
  /** A fresh script (whose `answer()` gives `answer`) and cache folder. */
  const setup = (answer: number): { file: string; cacheDir: string } => {
    count += 1;
    const folder = join(base, `case-${count}`);
    writeScript(join(folder, 'script.cjs'), answer);
    return { file: join(folder, 'script.cjs'), cacheDir: join(folder, 'cache') };
  };
  const cacheFiles = (cacheDir: string): string[] => {
    try {
      return readdirSync(cacheDir).map((name) => join(cacheDir, name));
    } catch {
      return [];
    }
  };

  it('compiles without a cache, writes one after the run, and the next process takes it', () => {
    const { file, cacheDir } = setup(42);
    expect(load(file, cacheDir)).toEqual({ state: 'missing', answer: 42 });
    expect(cacheFiles(cacheDir)).toHaveLength(1);
    const [cacheFile = ''] = cacheFiles(cacheDir);
    const written = readFileSync(cacheFile);
    expect(load(file, cacheDir)).toEqual({ state: 'hit', answer: 42 });
    // a hit writes nothing
    expect(readFileSync(cacheFile).equals(written)).toBe(true);
  });

  it('ignores a damaged cache file, runs the script from its source and writes a good one', () => {
    const { file, cacheDir } = setup(7);
    load(file, cacheDir);
    const [cacheFile = ''] = cacheFiles(cacheDir);
    const data = readFileSync(cacheFile);
    const flipped = Buffer.from(data);
    const last = flipped.length - 1;
    flipped[last] = (flipped[last] ?? 0) ^ 0xff;
    for (const content of [
      flipped,
      data.subarray(0, data.length >> 1),
      Buffer.from('not a cache'),
      Buffer.alloc(0),
    ]) {
      writeFileSync(cacheFile, content);
      // each time rewritten whole by the run, then damaged again
      expect(load(file, cacheDir)).toEqual({ state: 'corrupt', answer: 7 });
    }
    expect(load(file, cacheDir)).toEqual({ state: 'hit', answer: 7 });
  });

  it('lets V8 refuse a whole cache file made for another script, and runs the script from its source', () => {
    const { file, cacheDir } = setup(1);
    const other = setup(1000);
    load(file, cacheDir);
    load(other.file, other.cacheDir);
    const [cacheFile = ''] = cacheFiles(cacheDir);
    const [otherFile = ''] = cacheFiles(other.cacheDir);
    copyFileSync(otherFile, cacheFile);
    expect(load(file, cacheDir)).toEqual({ state: 'rejected', answer: 1 });
    expect(load(file, cacheDir)).toEqual({ state: 'hit', answer: 1 });
  });

  it('runs a file that holds its script inside the wrapper function as it is, with the same cache', () => {
    const { file, cacheDir } = setup(11);
    const text = readFileSync(file, 'latin1');
    writeFileSync(file, `${SCRIPT_WRAPPER.head}${text}${SCRIPT_WRAPPER.tail}`);
    expect(load(file, cacheDir, 'k', true)).toEqual({ state: 'missing', answer: 11 });
    expect(load(file, cacheDir, 'k', true)).toEqual({ state: 'hit', answer: 11 });
  });

  it('does not use the cache of a changed script or of another key', () => {
    const { file, cacheDir } = setup(2);
    load(file, cacheDir);
    expect(load(file, cacheDir, 'other').state).toBe('missing');
    // same length, other code
    writeScript(file, 3);
    expect(load(file, cacheDir)).toEqual({ state: 'missing', answer: 3 });
  });

  it('works without a cache folder, and when the cache cannot be written (as a read-only home)', () => {
    const { file, cacheDir } = setup(5);
    expect(load(file, undefined)).toEqual({ state: 'disabled', answer: 5 });
    // a folder that cannot be made: under a file
    expect(load(file, join(file, 'cache'))).toEqual({ state: 'missing', answer: 5 });
    expect(load(file, join(file, 'cache'))).toEqual({ state: 'missing', answer: 5 });
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('lives under XDG_CACHE_HOME (else ~/.cache) and can be turned off', () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe(join('/x/cache', 'aiida-ts', 'code'));
    expect(codeCacheDir({})).toMatch(/[/\\]\.cache[/\\]aiida-ts[/\\]code$/);
    // a relative XDG_CACHE_HOME is ignored, as the XDG specification says
    expect(codeCacheDir({ XDG_CACHE_HOME: 'relative' })).toBe(codeCacheDir({}));
    expect(codeCacheDir({ AIIDA_TS_DISABLE_CODE_CACHE: '1' })).toBeUndefined();
    expect(codeCacheDir({ AIIDA_TS_DISABLE_CODE_CACHE: '0', XDG_CACHE_HOME: '/y' })).toBe(
      join('/y', 'aiida-ts', 'code'),
    );
  });
});
