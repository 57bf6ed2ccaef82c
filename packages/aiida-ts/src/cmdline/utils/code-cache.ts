import { isAscii } from 'node:buffer';
import { createHash, hash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

/**
 * A CommonJS script run through V8's code cache: the compiled functions of an earlier run, kept on disk, instead of
 * compiling the script's code anew in every process (Node 20 has no compile cache of its own; an ES module cannot be
 * given one). `verdi` loads its commands this way (see the executable, src/cmdline/verdi.ts).
 *
 * The cache is only ever a shortcut: a file that is missing, unreadable, damaged (its checksum), written for another
 * script, Node or V8 flags (its name is a hash of those; V8 also refuses data that does not match) is ignored and the
 * script compiled from its source, exactly as without a cache. A new file is written whole under a temporary name
 * and renamed, so a concurrent `verdi` reads the old file, the new one or none; a cache that cannot be written (a
 * read-only home) leaves it at that.
 */

/** Bumped when the layout of a cache file changes. */
const FORMAT = 1;

const MAGIC = Buffer.from(`aiida-ts code cache ${FORMAT}\n`);
const DIGEST = 'sha1';
const DIGEST_LENGTH = 20;

/** Cache files not rewritten for this long are deleted when another one is written (old builds, old Node). */
const STALE_MS = 14 * 24 * 3600 * 1000;

/** What became of the cache when the script was loaded. */
export type CodeCacheState =
  /** used: V8 took the compiled code */
  | 'hit'
  /** no file (or it could not be read) */
  | 'missing'
  /** a file whose checksum does not match its data */
  | 'corrupt'
  /** a whole file that V8 refused (another V8, other flags, another source) */
  | 'rejected'
  /** no cache folder (or the script could not be looked at): compiled from its source and nothing is written */
  | 'disabled';

/**
 * The function a script's code runs in, as Node wraps a CommonJS module's, with one more parameter (see
 * `CachedScriptOptions.importModule`). A script file may hold it already (`CachedScriptOptions.wrapped`).
 */
export const SCRIPT_WRAPPER = {
  head: '(function (exports, require, module, __filename, __dirname, __aiidaTsImport) {',
  tail: '\n})',
} as const;

/** Options of {@link loadCachedScript}. */
export interface CachedScriptOptions {
  /** The CommonJS script: run with `exports`, `require`, `module`, `__filename` and `__dirname` as Node would. */
  readonly file: string;
  /** Where cache files are kept; `undefined`: no cache (see {@link codeCacheDir}). */
  readonly cacheDir: string | undefined;
  /**
   * What else the compiled code depends on, in the file's name (besides the script's size and time, and Node's
   * version, platform and flags): a hash of the script's content known beforehand, and which part of the script will
   * run (a cache holds the functions that ran, so each command keeps its own).
   */
  readonly key: string;
  /**
   * What the script calls instead of `import()` (as `__aiidaTsImport`): in Node 20 an `import()` in code taken from a
   * code cache fails, so the bundle's script imports through its caller, an ES module (`(s) => import(s)`).
   */
  readonly importModule: (specifier: string) => Promise<unknown>;
  /**
   * The file holds the script already inside {@link SCRIPT_WRAPPER} (as the bundle writes verdi's), so its text is
   * compiled as read, not first copied into a wrapped string (3 MB for verdi's). Default false.
   */
  readonly wrapped?: boolean;
}

/** A script loaded by {@link loadCachedScript}. */
export interface CachedScript {
  /** The script's `module.exports`. */
  readonly exports: unknown;
  readonly state: CodeCacheState;
  /**
   * Writes the cache file when there was none that V8 took, with the functions compiled so far (call it once the work
   * is done, so that those compiled on demand are in it too). Never throws.
   */
  save(): void;
}

/** aiida-ts's folder of caches: `$XDG_CACHE_HOME/aiida-ts`, by default (or when that is not absolute) `~/.cache/aiida-ts`. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CACHE_HOME'] ?? '';
  return path.join(path.isAbsolute(base) ? base : path.join(homedir(), '.cache'), 'aiida-ts');
}

/**
 * The folder of the code cache, `code` in {@link userCacheDir}; none when `AIIDA_TS_DISABLE_CODE_CACHE` is set (to
 * anything but `0`) or there is no home folder.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const disabled = env['AIIDA_TS_DISABLE_CODE_CACHE'] ?? '';
  if (disabled !== '' && disabled !== '0') return undefined;
  try {
    return path.join(userCacheDir(env), 'code');
  } catch {
    // no home folder to be found (a user without a passwd entry): no cache, as when it is turned off
    return undefined;
  }
}

function cacheFileOf(options: CachedScriptOptions, cacheDir: string): string | undefined {
  let stats: { size: number; mtimeMs: number; ino: number };
  try {
    stats = statSync(options.file);
  } catch {
    // replaced while we read it: compile this once without a cache
    return undefined;
  }
  const { size, mtimeMs, ino } = stats;
  const name = createHash('sha256')
    .update(
      [
        FORMAT,
        options.key,
        options.file,
        size,
        mtimeMs,
        ino,
        process.version,
        process.platform,
        process.arch,
        process.execArgv.join(' '),
        process.env['NODE_OPTIONS'] ?? '',
      ].join('\0'),
    )
    .digest('hex')
    .slice(0, 40);
  return path.join(cacheDir, `${name}.v8`);
}

function readCache(file: string): Buffer | 'missing' | 'corrupt' {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return 'missing';
  }
  const header = MAGIC.length + DIGEST_LENGTH;
  if (data.length <= header || !data.subarray(0, MAGIC.length).equals(MAGIC)) return 'corrupt';
  const payload = data.subarray(header);
  const digest = hash(DIGEST, payload, 'buffer');
  return digest.equals(data.subarray(MAGIC.length, header)) ? payload : 'corrupt';
}

function writeCache(file: string, payload: Buffer): void {
  const directory = path.dirname(file);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(directory, { recursive: true });
    writeFileSync(temporary, Buffer.concat([MAGIC, hash(DIGEST, payload, 'buffer'), payload]));
    renameSync(temporary, file);
  } catch {
    // read-only or full: the next run compiles again, as it would without a cache
    rmSync(temporary, { force: true });
    return;
  }
  removeStale(directory, file);
}

function removeStale(directory: string, keep: string): void {
  const now = Date.now();
  for (const name of readdirSync(directory)) {
    const file = path.join(directory, name);
    if (file === keep) continue;
    try {
      if (now - statSync(file).mtimeMs > STALE_MS) rmSync(file, { force: true });
    } catch {
      // removed by another process
    }
  }
}

/**
 * Runs the CommonJS script `options.file` in this context with the compiled code cached for it, and gives its
 * exports. Errors of the script itself (and a missing script) are thrown; anything wrong with the cache only makes
 * the script compile from its source.
 */
export function loadCachedScript(options: CachedScriptOptions): CachedScript {
  const { file } = options;
  const bytes = readFileSync(file);
  // an ASCII script (the bundled one is) decoded as Latin-1: the same string, without UTF-8's decoding
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const cacheFile = options.cacheDir === undefined ? undefined : cacheFileOf(options, options.cacheDir);
  const cached = cacheFile === undefined ? 'missing' : readCache(cacheFile);
  const code = options.wrapped === true ? source : `${SCRIPT_WRAPPER.head}${source}${SCRIPT_WRAPPER.tail}`;
  const script = new vm.Script(code, {
    filename: file,
    ...(typeof cached === 'string' ? {} : { cachedData: cached }),
  });
  const state: CodeCacheState =
    cacheFile === undefined
      ? 'disabled'
      : typeof cached === 'string'
        ? cached
        : script.cachedDataRejected === true
          ? 'rejected'
          : 'hit';
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(
    module.exports,
    module.exports,
    createRequire(file),
    module,
    file,
    path.dirname(file),
    options.importModule,
  );
  let saved = false;
  return {
    exports: module.exports,
    state,
    save(): void {
      if (saved || cacheFile === undefined || state === 'hit') return;
      saved = true;
      try {
        writeCache(cacheFile, script.createCachedData());
      } catch {
        // the cache is a shortcut only
      }
    },
  };
}
