import { register } from 'node:module';
import { bundledOwnModules } from './own-modules.js';

/**
 * Loader hooks (a data: URL module, so that they need no file of their own) that make `aiida-ts`, `plumpy-ts` and
 * `kiwipy-ts` in a script resolve to the very modules `verdi` runs with: the script then shares the loaded profile,
 * its storage and the engine's runner, wherever the script lives. `own` maps aiida-ts's public entry points to the
 * bundle's when `verdi` runs bundled (see `resolveOwnModule`).
 */
function hooksModule(parentUrl: string, own: Readonly<Record<string, string>>): string {
  const code = `
const PACKAGES = ['aiida-ts', 'plumpy-ts', 'kiwipy-ts'];
const PARENT = ${JSON.stringify(parentUrl)};
const OWN = ${JSON.stringify(own)};
export async function resolve(specifier, context, nextResolve) {
  if (Object.hasOwn(OWN, specifier)) return { url: OWN[specifier], format: 'module', shortCircuit: true };
  if (PACKAGES.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
    return nextResolve(specifier, { ...context, parentURL: PARENT });
  }
  const resolved = await nextResolve(specifier, context);
  // Scripts are ES modules (top-level await), also outside a package whose package.json says so.
  if (/\\.tsx?$/.test(resolved.url) && resolved.url.startsWith('file:') && !resolved.url.includes('/node_modules/') && resolved.format !== 'module') {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}`;
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

/**
 * Lets this process import users' scripts and modules (`verdi run`, the daemon's workers loading the modules that
 * define submitted processes): TypeScript through tsx, and `aiida-ts` resolved to the running copy. Resolves to the
 * function that removes tsx again.
 */
export async function registerScriptLoader(): Promise<() => Promise<void>> {
  register(hooksModule(import.meta.url, bundledOwnModules()));
  const tsx = await import('tsx/esm/api');
  return tsx.register();
}
