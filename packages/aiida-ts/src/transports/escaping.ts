import { ValidationError } from '../errors.js';
/**
 * Quote a string so that bash reads it back as exactly one word with exactly these characters (aiida's
 * `escape_for_bash`): wrap it in single quotes, and write each `'` inside as `'"'"'`. Nothing inside
 * single quotes is special to bash (`$`, backticks, `;`, `\`, newlines), so no other character needs care.
 * NUL cannot be passed to a command at all, so it is refused.
 */
export function escapeForBash(value: string): string {
  if (value.includes('\0')) {
    throw new ValidationError('a shell argument cannot contain a NUL character');
  }
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** True when a string holds a glob character of aiida's `has_magic` (`*`, `?` or `[`). */
export function hasMagic(value: string): boolean {
  return /[*?[]/.test(value);
}
