#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { commandWord, SCRIPT_GROUPS } from './command-word.js';
import { codeCacheDir, loadCachedScript, type CachedScript } from './utils/code-cache.js';

/**
 * Set only in the bundled `verdi` (see scripts/bundle-verdi.ts): the file name (in the bundle's folder) of the
 * commands built as one CommonJS script, which runs through V8's code cache, and a hash of its content.
 */
declare const AIIDA_TS_VERDI_SCRIPT: { readonly file: string; readonly hash: string } | undefined;

type RunVerdi = (argv: readonly string[]) => Promise<number>;

function loadScript(argv: readonly string[]): CachedScript | undefined {
  if (typeof AIIDA_TS_VERDI_SCRIPT === 'undefined') return undefined;
  const { word } = commandWord(argv);
  if (word === undefined || !SCRIPT_GROUPS.has(word)) return undefined;
  // `import.meta.url` is this module's place in the compiled tree (dist/cmdline/) also when bundled; the bundle is
  // dist/bin/
  const file = fileURLToPath(new URL(`../bin/${AIIDA_TS_VERDI_SCRIPT.file}`, import.meta.url));
  return loadCachedScript({
    file,
    cacheDir: codeCacheDir(),
    key: `${AIIDA_TS_VERDI_SCRIPT.hash}\0${word}`,
    // from this module, in the script's folder: a package or file resolves as from the script
    importModule: (specifier) => import(specifier),
    wrapped: true,
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const script = loadScript(argv);
  const runVerdi =
    script === undefined
      ? (await import('./main.js')).runVerdi
      : (script.exports as { runVerdi: RunVerdi }).runVerdi;
  const code = await runVerdi(argv);
  script?.save();
  return code;
}

// No top-level `await`: the bundled executable is a CommonJS file (scripts/bundle-verdi.ts), which Node starts
// without its ES module loader. The exit code is set only once stdout and stderr are flushed, then the process ends
// even if a library left a handle open (a connection pool, a timer): a command's work is done when runVerdi resolves.
main(process.argv.slice(2)).then(
  (code) => {
    process.stdout.write('', () => {
      process.stderr.write('', () => process.exit(code));
    });
  },
  (error: unknown) => {
    // what Node does with an error thrown at the top level of a module: print it, exit with 1
    process.exitCode = 1;
    throw error;
  },
);
