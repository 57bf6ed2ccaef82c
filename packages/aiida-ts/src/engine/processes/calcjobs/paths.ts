import path from 'node:path';
import { ValidationError } from '../../../errors.js';

/**
 * Checks that `value` is a relative POSIX path that stays inside the folder it is resolved against: not absolute, no
 * `..` part, no NUL byte, not empty (unless `allowDot`, which also accepts `.` and `''` for "the folder itself").
 * Returns the normalised path (`./a//b` → `a/b`, `.` for the folder itself).
 *
 * @throws ValidationError naming `what` and the offending value.
 */
export function safeRelativePath(value: unknown, what: string, options: { allowDot?: boolean } = {}): string {
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string, got ${typeof value}`);
  if (value.includes('\0'))
    throw new ValidationError(`${what} contains a NUL byte: ${JSON.stringify(value)}`);
  if (value === '' || value === '.' || value === './') {
    if (options.allowDot === true) return '.';
    throw new ValidationError(`${what} must name a file or folder, got ${JSON.stringify(value)}`);
  }
  if (path.posix.isAbsolute(value)) {
    throw new ValidationError(
      `${what} must be a relative path inside the working directory, got \`${value}\``,
    );
  }
  if (value.split('/').includes('..')) {
    throw new ValidationError(`${what} must not leave the working directory (\`..\`), got \`${value}\``);
  }
  const normalised = path.posix.normalize(value).replace(/\/+$/, '');
  return normalised === '' ? '.' : normalised;
}

/** Joins safe relative parts onto an absolute base, refusing anything that would end outside of it. */
export function joinInside(base: string, relative: string, what: string): string {
  const safe = safeRelativePath(relative, what, { allowDot: true });
  return safe === '.' ? base : path.posix.join(base, safe);
}
