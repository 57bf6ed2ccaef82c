/**
 * Caching identifier patterns (`caching.enabled_for`, `caching.disabled_for`): an entry-point string such as
 * `aiida.calculations:core.arithmetic.add`, or a dotted qualified name, either possibly holding `*` wildcards.
 */

/** Separator between an entry-point group and the entry-point name. */
export const ENTRY_POINT_STRING_SEPARATOR = ':';

/** AiiDA's entry-point groups, the only valid left-hand sides of an entry-point string. */
export const ENTRY_POINT_GROUPS = [
  'aiida.brokers',
  'aiida.calculations',
  'aiida.calculations.importers',
  'aiida.calculations.monitors',
  'aiida.cmdline.computer.configure',
  'aiida.cmdline.data',
  'aiida.cmdline.data.structure.import',
  'aiida.data',
  'aiida.groups',
  'aiida.node',
  'aiida.orm',
  'aiida.parsers',
  'aiida.schedulers',
  'aiida.storage',
  'aiida.tools.calculations',
  'aiida.tools.data.orbitals',
  'aiida.tools.dbexporters',
  'aiida.tools.dbimporters',
  'aiida.tools.workflows',
  'aiida.transports',
  'aiida.workflows',
] as const;

// Words that cannot name a JavaScript binding, so a qualified name holding one can never resolve.
const RESERVED_WORDS = new Set([
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'yield',
]);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when `value` matches `pattern` in full, where each `*` in the pattern stands for any run of characters. */
export function matchWildcard(value: string, pattern: string): boolean {
  const source = pattern.split('*').map(escapeRegExp).join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}

/**
 * Check that a caching identifier pattern can match at least one well-formed identifier.
 *
 * @returns `undefined` when valid, else a message saying what is wrong (the caller wraps it in its own error).
 */
export function checkIdentifierPattern(pattern: string): string | undefined {
  const prefix = `invalid identifier pattern \`${pattern}\`: `;
  if (pattern === '') return `${prefix}it is empty`;
  const separators = pattern.split(ENTRY_POINT_STRING_SEPARATOR).length - 1;
  if (separators > 1) {
    return `${prefix}it can contain at most one entry point string separator \`${ENTRY_POINT_STRING_SEPARATOR}\``;
  }
  if (separators === 1) {
    const [group = ''] = pattern.split(ENTRY_POINT_STRING_SEPARATOR);
    if (!ENTRY_POINT_GROUPS.some((name) => matchWildcard(name, group))) {
      return `${prefix}group name pattern \`${group}\` does not match any of the AiiDA entry point group names`;
    }
    return undefined;
  }
  // A wildcard may swallow the separator, as in `aiida.calc*`.
  if (pattern.includes('*')) {
    const head = pattern.slice(0, pattern.indexOf('*'));
    if (ENTRY_POINT_GROUPS.some((name) => name.startsWith(head))) return undefined;
  }
  for (const part of pattern.split('.')) {
    if (part.includes('*')) {
      if (!IDENTIFIER.test(part.replaceAll('*', 'a'))) {
        return `${prefix}identifier part \`${part}\` can not match a qualified name`;
      }
    } else if (!IDENTIFIER.test(part)) {
      return `${prefix}\`${part}\` is not a valid identifier`;
    } else if (RESERVED_WORDS.has(part)) {
      return `${prefix}\`${part}\` is a reserved word`;
    }
  }
  return undefined;
}
