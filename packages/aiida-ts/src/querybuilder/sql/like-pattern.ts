import { QueryError } from '../../errors.js';

/**
 * Translates an SQL LIKE pattern (`%`, `_`, backslash escapes as in aiida-core and PostgreSQL) into an SQLite
 * GLOB pattern. GLOB is case sensitive on every SQLite connection (LIKE is not, unless a pragma was set on that
 * connection) and a literal prefix still uses the column's index, so `like` gives the same rows as PostgreSQL's.
 */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '\\') {
      const next = pattern[i + 1];
      if (next === undefined)
        throw new QueryError(`LIKE pattern '${pattern}' must not end with the escape character '\\'`);
      out += globLiteral(next);
      i++;
    } else if (char === '%') {
      out += '*';
    } else if (char === '_') {
      out += '?';
    } else {
      out += globLiteral(char);
    }
  }
  return out;
}

function globLiteral(char: string): string {
  return char === '*' || char === '?' || char === '[' ? `[${char}]` : char;
}

/** Checks a LIKE pattern PostgreSQL would reject, so both dialects fail the same way. */
export function checkLikePattern(pattern: string): void {
  let escaped = false;
  for (const char of pattern) escaped = !escaped && char === '\\';
  if (escaped) throw new QueryError(`LIKE pattern '${pattern}' must not end with the escape character '\\'`);
}

/** Lower-cases ASCII letters only, as SQLite's `lower()` does, so both sides of an SQLite `ilike` agree. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
