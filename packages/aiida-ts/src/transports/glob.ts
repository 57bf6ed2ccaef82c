import { hasMagic } from './escaping.js';
import { filterNames } from './fnmatch.js';

/** The three questions `glob` asks of a file system (remote or local). */
export interface GlobFileSystem {
  pathExists(path: string): Promise<boolean>;
  isdir(path: string): Promise<boolean>;
  /** Entry names; throws for a missing or unreadable directory (glob then sees no matches). */
  listdir(path: string): Promise<string[]>;
  /** Directory that relative patterns are relative to. */
  readonly cwd: string;
}

/** Python's `os.path.split`: the head loses trailing slashes unless it is all slashes. */
export function splitPath(path: string): [head: string, tail: string] {
  const cut = path.lastIndexOf('/') + 1;
  let head = path.slice(0, cut);
  const tail = path.slice(cut);
  if (head && !/^\/+$/u.test(head)) head = head.replace(/\/+$/u, '');
  return [head, tail];
}

/** Python's `os.path.join` for two POSIX parts. */
export function joinPath(a: string, b: string): string {
  if (b.startsWith('/')) return b;
  if (a === '' || a.endsWith('/')) return a + b;
  return `${a}/${b}`;
}

/**
 * Paths matching an fnmatch pattern, one path component at a time, as aiida's `Transport.glob`: no error for
 * a missing directory, hidden names only for patterns starting with `.`, the result in listing order.
 */
export async function globPaths(fs: GlobFileSystem, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for await (const p of iglob(fs, pattern)) out.push(p);
  return out;
}

async function* iglob(fs: GlobFileSystem, pattern: string): AsyncGenerator<string> {
  if (!hasMagic(pattern)) {
    if (await fs.pathExists(pattern)) yield pattern;
    return;
  }
  const [dirname, basename] = splitPath(pattern);
  if (!dirname) {
    yield* await globInDir(fs, fs.cwd, basename);
    return;
  }
  const dirs: string[] = [];
  if (hasMagic(dirname)) {
    for await (const d of iglob(fs, dirname)) if (await fs.isdir(d)) dirs.push(d);
  } else if (await fs.isdir(dirname)) {
    dirs.push(dirname);
  }
  for (const dir of dirs) {
    const names = hasMagic(basename)
      ? await globInDir(fs, dir, basename)
      : await literalInDir(fs, dir, basename);
    for (const name of names) yield joinPath(dir, name);
  }
}

async function globInDir(fs: GlobFileSystem, dir: string, pattern: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.listdir(dir || fs.cwd);
  } catch {
    return [];
  }
  return filterNames(names, pattern);
}

async function literalInDir(fs: GlobFileSystem, dir: string, basename: string): Promise<string[]> {
  if (basename === '') return (await fs.isdir(dir)) ? [''] : [];
  return (await fs.pathExists(joinPath(dir, basename))) ? [basename] : [];
}
