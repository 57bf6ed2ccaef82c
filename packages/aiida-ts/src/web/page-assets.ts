import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The page's script and style, bundled once per server from the sources next to this module. */
interface Bundle {
  readonly js: string;
  readonly css: string;
}

let bundled: Promise<Bundle> | undefined;
let structureBundled: Promise<string> | undefined;

/** Builds one entry of `page/` with esbuild: the TypeScript source when run from the sources, else the compiled file. */
async function build(name: string, format: 'iife' | 'esm'): Promise<string> {
  const esbuild = await import('esbuild');
  const tsEntry = fileURLToPath(new URL(`./page/${name}.ts`, import.meta.url));
  const entry = existsSync(tsEntry) ? tsEntry : fileURLToPath(new URL(`./page/${name}.js`, import.meta.url));
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format,
    target: 'es2022',
    minify: true,
    platform: 'browser',
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/**
 * Bundles the page with esbuild (a dependency of the package) from `page/main`. Everything is served from this
 * server: the page loads nothing from the network.
 */
function bundle(): Promise<Bundle> {
  bundled ??= (async () => {
    const js = await build('main', 'iife');
    const { PAGE_CSS } = await import('./page/style.js');
    return { js, css: PAGE_CSS };
  })();
  return bundled;
}

/**
 * The structure view (`page/structure-viewer`, with three.js) as an ES module of its own, bundled on its first
 * request: most of its size is three.js, which only the view of a StructureData needs.
 */
function structureBundle(): Promise<string> {
  structureBundled ??= build('structure-viewer', 'esm');
  return structureBundled;
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aiida-ts</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="icon" href="data:,">
</head>
<body>
<div id="app"><p class="loading">Loading…</p></div>
<script src="/assets/app.js"></script>
</body>
</html>
`;

/** Serves the page: the HTML shell at `/` (and every page route), the bundled script and style under `/assets`. */
export function registerPage(app: FastifyInstance): void {
  const headers = {
    'Content-Security-Policy':
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'",
    'X-Content-Type-Options': 'nosniff',
  };
  const shell = (_request: unknown, reply: FastifyReply): FastifyReply =>
    reply.headers(headers).type('text/html; charset=utf-8').send(INDEX_HTML);
  app.get('/', shell);
  for (const route of [
    '/processes',
    '/processes/*',
    '/nodes/*',
    '/graph/*',
    '/groups',
    '/groups/*',
    '/search',
  ])
    app.get(route, shell);
  app.get('/assets/app.js', async (_request, reply) =>
    reply
      .headers(headers)
      .type('text/javascript; charset=utf-8')
      .send((await bundle()).js),
  );
  app.get('/assets/structure.js', async (_request, reply) =>
    reply
      .headers(headers)
      .type('text/javascript; charset=utf-8')
      .send(await structureBundle()),
  );
  app.get('/assets/app.css', async (_request, reply) =>
    reply
      .headers(headers)
      .type('text/css; charset=utf-8')
      .send((await bundle()).css),
  );
}
