/**
 * Bundles the `verdi` executable (run by `pnpm build` after tsc): dist/bin/verdi.js, a small CommonJS file, the
 * commands most groups run as one CommonJS script beside it (dist/bin/verdi-commands.cjs), and for the others the ES
 * modules of dist/bundle/ (dist/bundle/verdi-main.js and the chunks it imports on demand, one per command group and
 * shared code), instead of the ~500 files of the compiled tree, kysely and zod that Node would otherwise resolve,
 * read and link one by one (half of a command's start-up).
 *
 * The executable is CommonJS (dist/bin/package.json says so) because Node starts a CommonJS main file without its
 * ES module loader, which costs 10–20 ms of every start; it loads the ES modules only for the groups that need them.
 *
 * aiida-ts's public entry points are entries of the ES module bundle (dist/bundle/aiida-ts.js, aiida-ts-orm.js, …):
 * a script that `verdi run` runs (or a daemon worker loads) imports those, so it shares the module instances — the
 * loaded profile, its storage, the runner — with the command (see src/cmdline/utils/own-modules.ts). A program that
 * imports `aiida-ts` itself uses the compiled tree as before.
 *
 *   tsx scripts/bundle-verdi.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import ts from 'typescript';
import { SCRIPT_GROUPS } from '../src/cmdline/command-word.js';
import { SCRIPT_WRAPPER } from '../src/cmdline/utils/code-cache.js';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
/** The executable and the CommonJS script of the commands: CommonJS files only (see dist/bin/package.json). */
const outdir = join(dist, 'bin');
/** The ES modules, where the package's `"type": "module"` holds. */
const moduleOutdir = join(dist, 'bundle');
/** The CommonJS script of the commands (see below). */
const VERDI_SCRIPT = 'verdi-commands.cjs';
/** The ES module bundle's entry of `runVerdi`, for the command groups that do not run from the script. */
const MODULE_MAIN = 'verdi-main';

/**
 * Packages bundled in: pure JavaScript that commands load (kysely and zod alone are 350 files). The others stay
 * outside: native addons and WebAssembly found beside their files (better-sqlite3, @resvg, ssh2, and hash-wasm,
 * whose BLAKE2b module is read from its file, never imported), packages that start workers from their own files
 * (pino, esbuild, tsx), and ones loaded by only a command or two (fastify, archives). pg is bundled into the CommonJS
 * script only (see {@link PG_PACKAGES}).
 */
const BUNDLED = new Set([
  'plumpy-ts',
  'kiwipy-ts',
  'kysely',
  'zod',
  'commander',
  'lossless-json',
  'picocolors',
  'yaml',
  'p-limit',
  'yocto-queue',
]);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

function externalsBut(bundled: ReadonlySet<string>): Plugin {
  return {
    name: 'aiida-ts-externals',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        return bundled.has(packageName(args.path)) ? undefined : { path: args.path, external: true };
      });
    },
  };
}
const externals = externalsBut(BUNDLED);

/**
 * The `pg` driver with the pure-JavaScript packages it requires, bundled into the CommonJS script only (see
 * {@link pgInScript}): loading them from their ~40 files was a fifth of a command's start-up on a PostgreSQL profile.
 * pg-native (an optional native addon pg requires only when asked for) and pg-cloudflare stay outside.
 */
const PG_PACKAGES = new Set([
  'pg',
  'pg-connection-string',
  'pg-pool',
  'pg-protocol',
  'pg-types',
  'pg-int8',
  'pgpass',
  'postgres-array',
  'postgres-bytea',
  'postgres-date',
  'postgres-interval',
  'split2',
  'xtend',
]);

/** Replaces `before` in the text of the file at `file`, failing the build when the text is not there (once). */
async function patched(file: string, before: string, after: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  if (text.split(before).length !== 2) throw new Error(`${file}: expected ${before} once`);
  return text.replace(before, after);
}

/**
 * In the CommonJS script, `pgDriver()` requires `pg` as esbuild's bundled module (still evaluated on its first call,
 * so a command of an SQLite profile does not run it), and pg's check whether it runs in a Cloudflare Worker is left
 * out: in Node 20, where there is no `navigator`, it builds a `Response`, which loads Node's fetch implementation
 * (~17 ms of every command that opens a PostgreSQL profile) only to learn that it does not.
 */
const pgInScript: Plugin = {
  name: 'aiida-ts-pg-in-script',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/]storage[\\/]postgres[\\/]pg-driver\.js$/ }, async (args) => ({
      contents: await patched(args.path, "createRequire(import.meta.url)('pg')", "require('pg')"),
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => ({
      contents: await patched(args.path, 'if (isCloudflareRuntime()) {', 'if (false) {'),
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * better-sqlite3's JavaScript in verdi's script (so in its code cache, not a dozen files to find and compile in every
 * command that opens an SQLite profile); its native addon stays in its package, found as the package's `bindings`
 * call finds it, from the package's folder (`bindings` would look for it beside the calling file, the script).
 */
const sqliteAddon: Plugin = {
  name: 'aiida-ts-sqlite-addon',
  setup(build) {
    // found at run time, beside the installed package
    build.onResolve({ filter: /^better-sqlite3\/package\.json$/ }, (args) => ({
      path: args.path,
      external: true,
    }));
    build.onLoad({ filter: /[\\/]better-sqlite3[\\/]lib[\\/]database\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const call = "require('bindings')('better_sqlite3.node')";
      if (!text.includes(call)) throw new Error(`${args.path}: expected ${call}`);
      const found = [
        "(() => { const manifest = require.resolve('better-sqlite3/package.json');",
        "return require('node:module').createRequire(manifest)('bindings')({ bindings: 'better_sqlite3.node', module_root: require('node:path').dirname(manifest) }); })()",
      ].join(' ');
      return { contents: text.replace(call, found), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/**
 * Keeps each module's `import.meta.url` its place in the compiled tree: modules find files beside them (the
 * package.json, the web page's sources, `verdi` for the daemon) and resolve packages from there.
 */
function ownLocation(bundleUrl: string, bundleDir: string): Plugin {
  return {
    name: 'aiida-ts-own-location',
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, async (args) => {
        if (!args.path.startsWith(`${dist}/`)) return undefined;
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta')) return { contents: text, loader: 'js' };
        const fromBundle = relative(bundleDir, args.path);
        const url = `new URL(${JSON.stringify(fromBundle)}, ${bundleUrl}).href`;
        // code only: `'import.meta.url'` in quotes is a name (the script cache's esbuild defines)
        const field = (name: string) => new RegExp(`(?<!['"\\w])import\\.meta\\.${name}(?![\\w'"])`, 'g');
        const contents = text
          .replace(field('url'), url)
          .replace(field('dirname'), JSON.stringify(dirname(args.path)))
          .replace(field('filename'), JSON.stringify(args.path));
        return { contents, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

/**
 * zod's error messages in 49 languages other than English: 350 kB of code that every command compiled at start-up
 * (~17 ms of ~50 for zod), because `z.locales` is part of the namespace every schema file imports. In the bundle each
 * one but English (zod's default, which it configures when it loads) is a function that requires zod's CommonJS
 * build of that locale when a script calls it (`z.config(z.locales.de())`), so it returns the same messages.
 */
const zodLocales: Plugin = {
  name: 'aiida-ts-zod-locales',
  setup(build) {
    // left to Node's require at run time (the banner's), not bundled
    build.onResolve({ filter: /^zod\/v4\/locales\/[\w-]+\.cjs$/ }, (args) => ({
      path: args.path,
      external: true,
    }));
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const lines = text.split('\n').filter((line) => line.trim() !== '');
      const contents = lines.map((line) => {
        const match = /^export \{ default as (\w+) \} from "\.\/([\w-]+)\.js";$/.exec(line);
        if (match === null) throw new Error(`${args.path}: unexpected line ${JSON.stringify(line)}`);
        const [, name = '', file = ''] = match;
        // zod's CommonJS locale sets `module.exports` to the locale function itself
        return name === 'en'
          ? line
          : `export const ${name} = (...args) => require(${JSON.stringify(`zod/v4/locales/${file}.cjs`)})(...args);`;
      });
      return { contents: contents.join('\n'), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/**
 * Modules that scripts import and must share with `verdi` (see src/cmdline/utils/own-modules.ts), each an entry of
 * the bundle: the public entry points of aiida-ts, plumpy-ts and kiwipy-ts, and zod (schemas a script builds go
 * into the processes of the engine).
 */
const publicEntries: Record<string, string> = {};
const entryPoints: Record<string, string> = { [MODULE_MAIN]: join(dist, 'cmdline', 'main.js') };
const addEntry = (specifier: string, file: string): void => {
  const name = specifier.replaceAll('/', '-');
  publicEntries[specifier] = name;
  entryPoints[name] = file;
};
for (const [name, folder] of [
  ['aiida-ts', root],
  ['plumpy-ts', dirname(fileURLToPath(import.meta.resolve('plumpy-ts/package.json')))],
  ['kiwipy-ts', dirname(fileURLToPath(import.meta.resolve('kiwipy-ts/package.json')))],
] as const) {
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (target === null || typeof target !== 'object' || !('default' in target)) continue;
    const file = (target as { default: string }).default;
    if (!file.startsWith('./dist/') || !file.endsWith('.js')) continue;
    addEntry(subpath === '.' ? name : `${name}/${subpath.slice(2)}`, join(folder, file));
  }
}
addEntry('zod', fileURLToPath(import.meta.resolve('zod')));

/** What both builds share. */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // process types and labels are class and function names: the bundle must not rename them (`Node2`)
  keepNames: true,
  // the packages of the workspace say `sideEffects: false` for users' bundlers, yet some of their imports are there
  // for what they do (register node classes and plugins)
  ignoreAnnotations: true,
  legalComments: 'none',
  logLevel: 'warning',
} as const;

/**
 * In the CommonJS script, the command groups it does not run (see `SCRIPT_GROUPS`) are a module that says so: they
 * import a user's modules, which must share the ES modules of the bundle.
 */
const onlyScriptGroups: Plugin = {
  name: 'aiida-ts-only-script-groups',
  setup(build) {
    build.onResolve({ filter: /^\.\/commands\/cmd-[\w-]+\.js$/ }, (args) => {
      const name = /cmd-([\w-]+)\.js$/.exec(args.path)?.[1] ?? '';
      return SCRIPT_GROUPS.has(name) ? undefined : { path: name, namespace: 'aiida-ts-not-in-script' };
    });
    build.onLoad({ filter: /.*/, namespace: 'aiida-ts-not-in-script' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`verdi ${args.path} runs from the ES modules, not from this script`)});`,
      loader: 'js',
    }));
  },
};

/** What the CommonJS script calls instead of `import()` (a parameter of its wrapper, see utils/code-cache.ts). */
const IMPORT_FUNCTION = '__aiidaTsImport';

/**
 * Node's modules that Node itself has not loaded when `verdi` starts and that take milliseconds to load (child_process
 * with net and stream, zlib, readline), yet which most commands never call: commander requires child_process for
 * subcommands run as executables (verdi has none), the repository zlib for packed objects, prompts readline.
 */
const LAZY_BUILTINS = new Set([
  'node:child_process',
  'node:net',
  'node:readline',
  'node:stream',
  'node:stream/promises',
  'node:zlib',
]);

/** What the CommonJS script calls instead of `require()` for the modules of {@link LAZY_BUILTINS}. */
const LAZY_REQUIRE_FUNCTION = '__aiidaTsLazyBuiltin';

/**
 * A stand-in for one of Node's modules that loads the module when code first looks at it: reads a property (the
 * script's `(0, import_node_zlib.inflate)(…)`), lists its keys, asks for its prototype. So a module that only names
 * one of {@link LAZY_BUILTINS} at its start costs nothing until it uses it.
 */
const LAZY_REQUIRE_SOURCE = `function ${LAZY_REQUIRE_FUNCTION}(id) {
  let loaded;
  const load = () => (loaded ??= require(id));
  return new Proxy({}, {
    get: (_, key) => load()[key],
    has: (_, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
      // a proxy may not report a property of its (empty) target as non-configurable
      if (descriptor !== undefined) descriptor.configurable = true;
      return descriptor;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
  });
}`;

/**
 * The script's every `import(…)` (of a package left outside, a built-in, a file named at run time) as a call of
 * {@link IMPORT_FUNCTION}, which the executable provides: in Node 20 an `import()` in code that V8 took from a code
 * cache fails (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING: the deserialised script has lost the options that name its
 * importer); and every `require()` of one of {@link LAZY_BUILTINS} as a call of {@link LAZY_REQUIRE_FUNCTION}. Found
 * by the TypeScript parser, so that `import(` or `require(` in a string or a regular expression stays.
 */
function routeCalls(code: string): string {
  const file = ts.createSourceFile('script.cjs', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const replacements: { start: number; word: string; by: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const [argument] = node.arguments;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword)
        replacements.push({ start: node.expression.getStart(file), word: 'import', by: IMPORT_FUNCTION });
      else if (
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'require' &&
        node.arguments.length === 1 &&
        argument !== undefined &&
        ts.isStringLiteral(argument) &&
        LAZY_BUILTINS.has(argument.text)
      )
        replacements.push({
          start: node.expression.getStart(file),
          word: 'require',
          by: LAZY_REQUIRE_FUNCTION,
        });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  replacements.sort((a, b) => a.start - b.start);
  let routed = '';
  let last = 0;
  for (const { start, word, by } of replacements) {
    if (code.slice(start, start + word.length) !== word) throw new Error(`no ${word}() at ${start}`);
    routed += code.slice(last, start) + by;
    last = start + word.length;
  }
  return routed + code.slice(last);
}

rmSync(outdir, { recursive: true, force: true });
rmSync(moduleOutdir, { recursive: true, force: true });

/**
 * The commands of `SCRIPT_GROUPS` as one CommonJS script, which the executable runs through V8's code cache (see
 * src/cmdline/utils/code-cache.ts): compiling the code of the ES modules is a third of a command's start-up, and
 * Node 20 caches no compiled code of its own. No chunks: esbuild turns the `import()` of each group into a function
 * that evaluates its modules on the first call, so a command still runs only its own group's modules.
 */
const script = await build({
  ...common,
  entryPoints: [join(dist, 'cmdline', 'main.js')],
  format: 'cjs',
  // without comments and indentation the script is a third smaller and ASCII only (the comments of the packages are
  // not), which Node reads into a one-byte string: reading, decoding and hashing it is part of every start
  minifyWhitespace: true,
  charset: 'ascii',
  write: false,
  outfile: join(outdir, VERDI_SCRIPT),
  // the place in the compiled tree of each module (see ownLocation) is found from the script's own
  banner: {
    js: `const __aiidaTsBundleUrl = require('node:url').pathToFileURL(__filename).href;\n${LAZY_REQUIRE_SOURCE}`,
  },
  plugins: [
    externalsBut(new Set([...BUNDLED, ...PG_PACKAGES, 'better-sqlite3'])),
    sqliteAddon,
    // before ownLocation, which would otherwise load pg-driver.js as it is
    pgInScript,
    onlyScriptGroups,
    ownLocation('__aiidaTsBundleUrl', outdir),
    zodLocales,
  ],
});
mkdirSync(outdir, { recursive: true });
// written inside the function it runs in, so that the executable compiles the file's text as read (see
// `CachedScriptOptions.wrapped`)
const scriptCode = `${SCRIPT_WRAPPER.head}${routeCalls(script.outputFiles[0]?.text ?? '')}${SCRIPT_WRAPPER.tail}`;
writeFileSync(join(outdir, VERDI_SCRIPT), scriptCode);
const verdiScript = { file: VERDI_SCRIPT, hash: createHash('sha256').update(scriptCode).digest('hex') };

/**
 * The executable: src/cmdline/verdi.ts with what it imports (the command word, the code cache), as CommonJS; its
 * `import('./main.js')` (the groups that run from the ES modules) is the bundle's entry in dist/bundle/.
 */
const launcher = await build({
  ...common,
  entryPoints: [join(dist, 'cmdline', 'verdi.js')],
  format: 'cjs',
  write: false,
  outfile: join(outdir, 'verdi.js'),
  define: { AIIDA_TS_VERDI_SCRIPT: JSON.stringify(verdiScript) },
  banner: { js: "const __aiidaTsBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    {
      name: 'aiida-ts-module-main',
      setup(build) {
        build.onResolve({ filter: /^\.\/main\.js$/ }, () => ({
          path: `../${relative(dist, moduleOutdir)}/${MODULE_MAIN}.js`,
          external: true,
        }));
      },
    },
    externals,
    ownLocation('__aiidaTsBundleUrl', outdir),
  ],
});
const launcherCode = launcher.outputFiles[0]?.text ?? '';
if (!launcherCode.startsWith('#!') || /\brequire\(["']\.\.?\//.test(launcherCode))
  throw new Error('dist/bin/verdi.js: expected a hashbang and no require of a file');
writeFileSync(join(outdir, 'verdi.js'), launcherCode, { mode: 0o755 });
writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

const result = await build({
  ...common,
  entryPoints,
  outdir: moduleOutdir,
  splitting: true,
  format: 'esm',
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  define: {
    AIIDA_TS_BUNDLE_ENTRIES: JSON.stringify(publicEntries),
  },
  // the CommonJS packages bundled in (commander, picocolors) require Node's modules
  banner: {
    js: "import { createRequire as __aiidaTsCreateRequire } from 'node:module';\nconst require = __aiidaTsCreateRequire(import.meta.url);",
  },
  plugins: [externals, ownLocation('import.meta.url', moduleOutdir), zodLocales],
  metafile: process.env['AIIDA_TS_BUNDLE_METAFILE'] !== undefined,
});
if (result.metafile !== undefined)
  writeFileSync(process.env['AIIDA_TS_BUNDLE_METAFILE'] ?? '', JSON.stringify(result.metafile));
