const ROOT_OPTIONS_WITH_VALUE = new Set(['-p', '--profile', '-v', '--verbosity']);

/**
 * The first word of the command line that is not a root option or its value (the command group), and the word after
 * it. Needs nothing but the words: the executable reads it before it loads any command.
 */
export function commandWord(argv: readonly string[]): { word: string | undefined; next: string | undefined } {
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index] ?? '';
    if (token === '--') return { word: argv[index + 1], next: argv[index + 2] };
    if (token.startsWith('-')) {
      if (ROOT_OPTIONS_WITH_VALUE.has(token)) index += 1;
      continue;
    }
    return { word: token, next: argv[index + 1] };
  }
  return { word: undefined, next: undefined };
}

/**
 * The command groups that the bundled `verdi` runs from its CommonJS script through V8's code cache (see
 * scripts/bundle-verdi.ts and utils/code-cache.ts). Not those that import a user's modules (`run`, `shell`, the
 * daemon's workers) or serve files beside the code (`web`): those must share module instances with the bundle's ES
 * modules (see utils/own-modules.ts), so they, `verdi help`, `verdi --help` and unknown words load the ES modules.
 */
export const SCRIPT_GROUPS: ReadonlySet<string> = new Set([
  'archive',
  'calcjob',
  'code',
  'computer',
  'config',
  'data',
  'group',
  'node',
  'plugin',
  'presto',
  'process',
  'profile',
  'quota',
  'status',
  'storage',
  'user',
]);
