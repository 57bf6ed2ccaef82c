import { ValidationError } from '../errors.js';
import { escapeForBash } from '../transports/escaping.js';

/**
 * Quote a value so bash reads it back as one word (aiida's `escape_for_bash`). With `doubleQuotes` the value
 * is wrapped in double quotes instead, so `$VAR` and `$(…)` inside it still expand when the script runs (the
 * `environment_variables_double_quotes` and `use_double_quotes` options); a `"` inside is written `"'"'"`
 * exactly as aiida does. Numbers and booleans are written as their string form.
 */
export function quoteForBash(value: string | number | boolean, doubleQuotes = false): string {
  const text = String(value);
  if (!doubleQuotes) return escapeForBash(text);
  if (text.includes('\0')) throw new ValidationError('a shell argument cannot contain a NUL character');
  return `"${text.replaceAll('"', `"'"'"`)}"`;
}

/** Characters a bash word may hold unquoted without changing its meaning. */
const SAFE_WORD = /^[\w./@%+=:,-]+$/;

/**
 * A word as aiida writes it: bare when bash reads it literally (so ordinary scripts match aiida-core's byte
 * for byte), quoted otherwise (spaces, `$`, quotes, globs — where aiida's bare word would break).
 */
export function quoteIfNeeded(value: string): string {
  return SAFE_WORD.test(value) ? value : quoteForBash(value);
}
