/**
 * Python's `fnmatch` rules (which aiida's `listdir(pattern)` and `glob` follow), written out because the
 * usual JS glob libraries differ on exactly the cases aiida users hit: `(`, `)`, `{`, `}`, `+`, `@` and
 * `!` are literal here (no extglob, no braces), `[!…]` negates a class, and an unclosed `[` is literal.
 * Matching is case-sensitive (POSIX) and `*` matches any character, `/` included: callers match one
 * path component at a time.
 */
export function fnmatchToRegExp(pattern: string): RegExp {
  let out = '';
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i] as string;
    i += 1;
    if (c === '*') {
      // Runs of stars mean the same as one; collapsing them keeps the regex linear.
      while (pattern[i] === '*') i += 1;
      out += '[\\s\\S]*';
    } else if (c === '?') {
      out += '[\\s\\S]';
    } else if (c === '[') {
      let j = i;
      if (pattern[j] === '!') j += 1;
      if (pattern[j] === ']') j += 1;
      while (j < n && pattern[j] !== ']') j += 1;
      if (j >= n) {
        out += '\\[';
      } else {
        let body = pattern.slice(i, j);
        i = j + 1;
        let negate = false;
        if (body.startsWith('!')) {
          negate = true;
          body = body.slice(1);
        }
        out += `[${negate ? '^' : ''}${escapeClassBody(body)}]`;
      }
    } else {
      out += escapeRegExpChar(c);
    }
  }
  return new RegExp(`^(?:${out})$`, 'u');
}

function escapeClassBody(body: string): string {
  let out = '';
  for (let k = 0; k < body.length; k += 1) {
    const c = body[k] as string;
    // `-` keeps its range meaning except at the edges, where it is literal in both languages.
    if (c === '-' && k > 0 && k < body.length - 1) out += '-';
    else out += /[\\\]^[-]/u.test(c) ? `\\${c}` : c;
  }
  return out;
}

function escapeRegExpChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/u.test(c) ? `\\${c}` : c;
}

/** True when `name` matches the fnmatch `pattern` exactly. */
export function fnmatch(name: string, pattern: string): boolean {
  return fnmatchToRegExp(pattern).test(name);
}

/**
 * The names that match `pattern`, as `glob` sees them: hidden names (leading `.`) only match a pattern that
 * itself starts with `.`.
 */
export function filterNames(names: readonly string[], pattern: string): string[] {
  const re = fnmatchToRegExp(pattern);
  const showHidden = pattern.startsWith('.');
  return names.filter((name) => (showHidden || !name.startsWith('.')) && re.test(name));
}
