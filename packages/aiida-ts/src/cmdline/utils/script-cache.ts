import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { userCacheDir } from './code-cache.js';

/**
 * The fast way into a user's script for `verdi run`: the script compiled once by esbuild into an ES module kept in
 * an on-disk cache (keyed by the script's content and path, the transformer's version and where the aiida-ts
 * packages live), with its imports of `aiida-ts`, `plumpy-ts` and `kiwipy-ts` pointing at the very modules `verdi`
 * runs with. Importing that file needs no loader hooks, which in Node 20 start a thread of their own and load tsx
 * into it: most of what `verdi run` of a small script cost beyond `verdi status`.
 *
 * Only a self-contained script takes this way: one whose imports are those packages and Node's built-ins. A script
 * importing its own modules or other packages, with a dynamic `import()` or `require`, using CommonJS globals, or
 * using `import.meta` beyond `url`, `dirname` and `filename`, is run through tsx as before (and that answer is cached
 * too).
 */

/** Bumped when what is written to the cache changes. */
const CACHE_FORMAT = 3;

const OWN_PACKAGES = ['aiida-ts', 'plumpy-ts', 'kiwipy-ts'];

/** What {@link prepareScript} found: a module to import, or that the script needs the loader hooks. */
export type PreparedScript =
  { readonly kind: 'compiled'; readonly url: string } | { readonly kind: 'hooks'; readonly reason: string };

/** The folder of the cache: `scripts` in the user's cache folder of aiida-ts (`~/.cache/aiida-ts`). */
export function scriptCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userCacheDir(env), 'scripts');
}

function isOwnPackage(specifier: string): boolean {
  return OWN_PACKAGES.some((name) => specifier === name || specifier.startsWith(`${name}/`));
}

/** Writes `content` to `file` so that a concurrent reader sees the whole file or none. */
function writeAtomically(file: string, content: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/**
 * The compiled module of `script` from the cache, compiled (and cached) when missing; `hooks` when the script must be
 * run through the loader hooks. `resolveOwn` resolves an `aiida-ts`/`plumpy-ts`/`kiwipy-ts` specifier as `verdi`
 * itself does (`import.meta.resolve` of a module of aiida-ts).
 */
export async function prepareScript(
  script: string,
  resolveOwn: (specifier: string) => string,
  cacheDir: string = scriptCacheDir(),
): Promise<PreparedScript> {
  if (!/\.(?:[cm]?ts|m?js)$/.test(script)) return { kind: 'hooks', reason: 'not a .ts or .js file' };
  const source = readFileSync(script, 'utf8');
  // the version without loading esbuild, which a cached script does not need
  const { version } = createRequire(import.meta.url)('esbuild/package.json') as { version: string };
  const key = createHash('sha256')
    .update(`${CACHE_FORMAT}\0${version}\0${resolveOwn('aiida-ts')}\0${script}\0`)
    .update(source)
    .digest('hex');
  const compiled = path.join(cacheDir, `${key}.mjs`);
  const refused = path.join(cacheDir, `${key}.hooks`);
  if (existsSync(compiled)) return { kind: 'compiled', url: pathToFileURL(compiled).href };
  try {
    return { kind: 'hooks', reason: readFileSync(refused, 'utf8') };
  } catch {
    // not refused yet
  }
  const outcome = await compile(script, source, resolveOwn);
  mkdirSync(cacheDir, { recursive: true });
  if (outcome.kind === 'hooks') {
    writeAtomically(refused, outcome.reason);
    return outcome;
  }
  writeAtomically(compiled, outcome.code);
  return { kind: 'compiled', url: pathToFileURL(compiled).href };
}

async function compile(
  script: string,
  source: string,
  resolveOwn: (specifier: string) => string,
): Promise<{ kind: 'compiled'; code: string } | { kind: 'hooks'; reason: string }> {
  const esbuild = await import('esbuild');
  const foreign: string[] = [];
  const url = pathToFileURL(script).href;
  const result = await esbuild.build({
    stdin: {
      contents: source,
      sourcefile: script,
      resolveDir: path.dirname(script),
      loader: /\.[cm]?ts$/.test(script) ? 'ts' : 'js',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    // process types and labels are made of class and function names: esbuild must not rename them (`_SumOfSquares`)
    keepNames: true,
    logLevel: 'silent',
    define: {
      'import.meta.url': JSON.stringify(url),
      'import.meta.filename': JSON.stringify(script),
      'import.meta.dirname': JSON.stringify(path.dirname(script)),
    },
    plugins: [
      {
        name: 'aiida-ts-script-imports',
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            if (args.kind === 'import-statement' && isBuiltin(args.path))
              return { path: args.path, external: true };
            if (args.kind === 'import-statement' && isOwnPackage(args.path))
              return { path: resolveOwn(args.path), external: true };
            foreign.push(`${args.kind} ${args.path}`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  if (foreign.length > 0) return { kind: 'hooks', reason: `imports ${foreign.join(', ')}` };
  const code = result.outputFiles?.[0]?.text;
  if (code === undefined) return { kind: 'hooks', reason: 'esbuild wrote nothing' };
  // what esbuild could not see statically, `import.meta` fields the defines do not cover, or CommonJS (a `.js`
  // script Node would run as CommonJS must not become an ES module)
  const body = code.replace(/\/\/# sourceMappingURL=.*$/m, '');
  if (/\bimport\s*\(|\brequire\s*\(|\bimport\.meta\b/.test(body))
    return { kind: 'hooks', reason: 'dynamic import, require or import.meta' };
  if (/\b__dirname\b|\b__filename\b|\bmodule\.exports\b|\bexports\./.test(body))
    return { kind: 'hooks', reason: 'CommonJS' };
  return { kind: 'compiled', code };
}
