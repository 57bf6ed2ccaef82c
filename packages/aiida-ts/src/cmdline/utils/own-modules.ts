/**
 * Set (to the bundle's entry names by public subpath) only in the bundled `verdi` (see scripts/bundle-verdi.ts):
 * there every module of aiida-ts lives in the chunks of dist/bundle/, and a script must import those, not the compiled
 * tree beside them.
 */
declare const AIIDA_TS_BUNDLE_ENTRIES: Readonly<Record<string, string>> | undefined;

const BUNDLE_ENTRIES: Readonly<Record<string, string>> | undefined =
  typeof AIIDA_TS_BUNDLE_ENTRIES === 'undefined' ? undefined : AIIDA_TS_BUNDLE_ENTRIES;

/** Whether this code runs from the bundled `verdi` rather than from the compiled (or source) tree. */
export function isBundled(): boolean {
  return BUNDLE_ENTRIES !== undefined;
}

/**
 * The URL of the module that `specifier` (`aiida-ts`, `aiida-ts/orm`, `plumpy-ts`, …) names for code that runs
 * inside this `verdi`: the very module instances `verdi` runs with, so that a script shares the loaded profile, its
 * storage and the engine's runner. From the compiled tree or the sources that is Node's own resolution; from the
 * bundle, aiida-ts's public entry points are the bundle's (plumpy-ts and kiwipy-ts stay outside it).
 */
export function resolveOwnModule(specifier: string): string {
  if (BUNDLE_ENTRIES !== undefined) {
    const entry = BUNDLE_ENTRIES[specifier];
    // `import.meta.url` names this module's place in the compiled tree (dist/cmdline/utils/) also when bundled:
    // the bundle script keeps every module's own `import.meta.url`; the bundle's ES modules are in dist/bundle/
    if (entry !== undefined) return new URL(`../../bundle/${entry}.js`, import.meta.url).href;
  }
  return import.meta.resolve(specifier);
}

/** In the bundled `verdi`, the URL of each public entry point of aiida-ts by its specifier; empty otherwise. */
export function bundledOwnModules(): Record<string, string> {
  if (BUNDLE_ENTRIES === undefined) return {};
  return Object.fromEntries(
    Object.keys(BUNDLE_ENTRIES).map((specifier) => [specifier, resolveOwnModule(specifier)]),
  );
}
