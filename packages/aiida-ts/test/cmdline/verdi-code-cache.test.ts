/**
 * The built `verdi` runs its command groups from a CommonJS script through V8's code cache (src/cmdline/verdi.ts):
 * whatever became of the cache (none, a good one, a damaged one, one it cannot write), a command prints the same.
 * Runs dist/bin/verdi.js, the executable users run: `pnpm test` builds first; run `pnpm build` before this file alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const VERDI = join(import.meta.dirname, '..', '..', 'dist', 'bin', 'verdi.js');

describe('the built verdi with its code cache', () => {
  const base = mkdtempSync(join(tmpdir(), 'aiida-ts-verdi-code-cache-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const cacheHome = join(base, 'cache');
  const codeDir = join(cacheHome, 'aiida-ts', 'code');

  const verdi = (args: readonly string[], env: Record<string, string> = {}): string => {
    const result = spawnSync(process.execPath, [VERDI, ...args], {
      cwd: base,
      encoding: 'utf8',
      env: {
        ...process.env,
        AIIDA_TS_PATH: base,
        AIIDA_TS_PRESTO_BROKER: 'none',
        XDG_CACHE_HOME: cacheHome,
        NO_COLOR: '1',
        ...env,
      },
    });
    return `exit ${String(result.status)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
  };
  const notAFolder = join(base, 'not-a-folder');
  writeFileSync(notAFolder, '');
  const cacheFiles = (): string[] => readdirSync(codeDir).map((name) => join(codeDir, name));

  it('prints the same without a cache, with it, with a damaged one and when it cannot write one', () => {
    expect(existsSync(VERDI), `${VERDI} is missing: run pnpm build`).toBe(true);
    expect(verdi(['presto', '--no-broker'])).toMatch(/^exit 0\n/);
    const commands = [
      ['process', 'list', '-a'],
      ['user', 'list'],
    ];
    for (const args of commands) {
      const first = verdi(args);
      expect(first).toMatch(/^exit 0\n/);
      // each command group its own cache file, written by its first run
      const written = cacheFiles();
      expect(written.length).toBeGreaterThan(0);
      expect(verdi(args)).toBe(first);
      expect(cacheFiles()).toEqual(written);
      for (const file of written) {
        const data = readFileSync(file);
        const last = data.length - 1;
        data[last] = (data[last] ?? 0) ^ 0xff;
        writeFileSync(file, data);
      }
      expect(verdi(args)).toBe(first);
      for (const file of written) writeFileSync(file, 'not a cache');
      expect(verdi(args)).toBe(first);
      // XDG_CACHE_HOME a file: no folder can be made there (as in a read-only home)
      expect(verdi(args, { XDG_CACHE_HOME: notAFolder })).toBe(first);
      expect(verdi(args, { AIIDA_TS_DISABLE_CODE_CACHE: '1' })).toBe(first);
    }
  });
});
