import { RepositoryPathError } from '../errors.js';

/**
 * Splits a repository path into its names. Paths are relative POSIX paths inside one node's virtual folder:
 * `undefined`, `''` and `'.'` mean the root, `.` parts and one trailing `/` are ignored (as `pathlib.PurePath`),
 * and absolute paths, `..` parts, empty names (`a//b`) and NUL characters are rejected with a
 * `RepositoryPathError` that quotes the path.
 */
export function splitRepositoryPath(path: string | undefined | null): string[] {
  if (path === undefined || path === null) return [];
  if (typeof path !== 'string') {
    throw new RepositoryPathError(`a repository path must be a string, got ${typeof path}`);
  }
  if (path.startsWith('/')) throw new RepositoryPathError(`path \`${path}\` is not a relative path`);
  if (path.includes('\0'))
    throw new RepositoryPathError(`path ${JSON.stringify(path)} contains a NUL character`);
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  if (trimmed === '' || trimmed === '.') return [];
  const parts: string[] = [];
  for (const part of trimmed.split('/')) {
    if (part === '.') continue;
    if (part === '') throw new RepositoryPathError(`path \`${path}\` contains an empty name`);
    if (part === '..') throw new RepositoryPathError(`path \`${path}\` escapes its folder with \`..\``);
    parts.push(part);
  }
  return parts;
}

/** The path of `parts` as aiida prints it: `.` for the root, names joined by `/` otherwise. */
export function joinRepositoryPath(parts: readonly string[]): string {
  return parts.length === 0 ? '.' : parts.join('/');
}

/** `parent/name`, where a parent of `.` (the root) adds nothing. */
export function childPath(parent: string, name: string): string {
  return parent === '.' || parent === '' ? name : `${parent}/${name}`;
}

/** True for a name one directory entry may have: not empty, no `/`, not `.` or `..`, no NUL. */
export function isValidObjectName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
